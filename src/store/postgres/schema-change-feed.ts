import {
  AGENT_COLUMNS,
  INTENT_COLUMNS,
  LEDGER_AGENT_COLUMNS,
  LEDGER_USAGE_COLUMNS,
  TASK_COLUMNS,
} from '../feed-columns.ts';

/**
 * PostgreSQL schema version 10: the in-memory model's change feed (SQLite's step 9, schema-revision.ts, redone for
 * many writers). SQLite stamps rows with a counter under its single writer; here several controllers and API replicas
 * write at once, and a counter value taken inside a transaction can commit after a higher one a reader already
 * passed. So each task, agent, intent and ledger row is stamped instead with the id of the transaction that last wrote
 * it (`pg_current_xact_id()`, a 64-bit xid8 that never wraps), by a trigger in that transaction itself: no write from
 * any process, through any repo method, can change a row without restamping it. The reader (change-repo.ts) turns
 * these ids into a safe watermark with its snapshot's xmin.
 *
 * The column and its indexes keep SQLite's names (`rev`, `<table>_by_rev`); SQLite's `revision` counter has no
 * counterpart. BEFORE triggers set the column on the row being written, so a stamp costs no second write. As on
 * SQLite, an update that changes no column the model reads (a task's output tail, its command) is not stamped, and
 * neither is one that sets every column to the value it had. Rows written before this version keep the stamp 0: the
 * model reads them in its first load, and nothing can change them without stamping them anew.
 */

function stamped(table: string, columns: string): string {
  const names = columns.split(',').map((c) => c.trim());
  const row = (alias: string): string => `(${names.map((c) => `${alias}.${c}`).join(', ')})`;
  return `
ALTER TABLE ${table} ADD COLUMN rev xid8 NOT NULL DEFAULT '0';
CREATE INDEX ${table}_by_rev ON ${table} (rev);
CREATE TRIGGER ${table}_rev_on_insert BEFORE INSERT ON ${table}
  FOR EACH ROW EXECUTE FUNCTION spillway_stamp_rev();
CREATE TRIGGER ${table}_rev_on_update BEFORE UPDATE OF ${names.join(', ')} ON ${table}
  FOR EACH ROW WHEN (${row('OLD')} IS DISTINCT FROM ${row('NEW')}) EXECUTE FUNCTION spillway_stamp_rev();
`;
}

export const PG_SCHEMA_CHANGE_FEED = `
CREATE FUNCTION spillway_stamp_rev() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- The top-level transaction's id, also inside a savepoint: the reader's watermark compares top-level ids.
  NEW.rev := pg_current_xact_id();
  RETURN NEW;
END
$$;
${stamped('tasks', TASK_COLUMNS)}
${stamped('agents', AGENT_COLUMNS)}
${stamped('intents', INTENT_COLUMNS)}
${stamped('ledger_agents', LEDGER_AGENT_COLUMNS)}
${stamped('ledger_usage', LEDGER_USAGE_COLUMNS)}
`;
