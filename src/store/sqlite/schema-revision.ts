import {
  AGENT_COLUMNS,
  INTENT_COLUMNS,
  LEDGER_AGENT_COLUMNS,
  LEDGER_USAGE_COLUMNS,
  TASK_COLUMNS,
} from '../feed-columns.ts';

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
