/**
 * Schema version 9: revisions, so the controller's in-memory model (src/model/) reads only what changed since its
 * last pass, whichever process wrote it (the Kubernetes resourceVersion idea): tasks, agents and intents, and the
 * ledger's agent and usage intervals (the budgets' input).
 *
 * One counter row holds the store's revision. Triggers stamp every inserted or changed task, agent and intent row with
 * the next revision, in the writing transaction itself: a write from any process, through any repo method, cannot
 * change a row without stamping it, and no code has to remember to. SQLite has one writer at a time and a reader sees
 * whole transactions, so a reader that saw revision N has seen every row stamped N or lower. Writes to a task's
 * payload alone (its output tail) do not stamp it: the model holds headers only. Recursive triggers are off, and the
 * stamping UPDATE names no column the update triggers watch, so a stamp never stamps again.
 */
const TASK_COLUMNS = `state, agent_id, team, project, job, cpu_millis, memory_mib, gpus, net_mbps, priority, revocable,
  constraints, attempts, created_at_ms, pending_since_ms, started_at_ms, finished_at_ms, exit_code, reason`;
const AGENT_COLUMNS = `name, location, cpu_millis, memory_mib, gpus, net_mbps, labels, lifecycle, price_per_hour_micros,
  state, instance_id, provider_id, intent_id, registered_at_ms, last_heartbeat_ms, idle_since_ms, reason, isolation`;
const INTENT_COLUMNS = `kind, provider_id, offering, count, owners, reason, state, instance_ids, created_at_ms,
  updated_at_ms, attempts, error, boot_script`;
const LEDGER_AGENT_COLUMNS = `agent_id, name, location, provider, provider_id, instance_id, instance_type, lifecycle,
  price_per_hour_micros, cpu_millis, memory_mib, gpus, net_mbps, intent_id, owners, start_ms, end_ms`;
const LEDGER_USAGE_COLUMNS = `task_id, agent_id, team, project, job, share, start_ms, end_ms, cpu_seconds,
  peak_memory_bytes`;

function stamped(table: string, columns: string): string {
  const stamp = `UPDATE revision SET rev = rev + 1 WHERE id = 1;
  UPDATE ${table} SET rev = (SELECT rev FROM revision WHERE id = 1) WHERE rowid = NEW.rowid;`;
  // An update that sets a column to the value it had (placing a task clears its agent's idle mark, set or not)
  // changes nothing a reader could see, and is not stamped.
  const changed = columns
    .split(',')
    .map((c) => `OLD.${c.trim()} IS NOT NEW.${c.trim()}`)
    .join(' OR ');
  return `
ALTER TABLE ${table} ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
CREATE INDEX ${table}_by_rev ON ${table} (rev);
CREATE TRIGGER ${table}_rev_on_insert AFTER INSERT ON ${table} BEGIN
  ${stamp}
END;
CREATE TRIGGER ${table}_rev_on_update AFTER UPDATE OF ${columns} ON ${table} WHEN ${changed} BEGIN
  ${stamp}
END;
`;
}

export const SCHEMA_REVISION = `
CREATE TABLE revision (id INTEGER PRIMARY KEY CHECK (id = 1), rev INTEGER NOT NULL);
INSERT INTO revision (id, rev) VALUES (1, 0);
${stamped('tasks', TASK_COLUMNS)}
${stamped('agents', AGENT_COLUMNS)}
${stamped('intents', INTENT_COLUMNS)}
${stamped('ledger_agents', LEDGER_AGENT_COLUMNS)}
${stamped('ledger_usage', LEDGER_USAGE_COLUMNS)}
`;
