/**
 * PostgreSQL schema version 8: record order. SQLite's listings break ties, and page agents, by `rowid`, the order rows
 * were written in; PostgreSQL tables have no such column, so the tables listed that way get an identity column `seq`
 * with the same meaning (rows written before this version are numbered in an arbitrary order, once).
 */
export const PG_SCHEMA_RECORD_ORDER = `
ALTER TABLE tasks ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX tasks_by_seq ON tasks (seq);
CREATE INDEX tasks_by_created_seq ON tasks (created_at_ms DESC, seq DESC);
CREATE INDEX tasks_pending_order ON tasks (priority DESC, pending_since_ms, seq) WHERE state = 'pending';
ALTER TABLE agents ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX agents_by_seq ON agents (seq);
ALTER TABLE intents ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX intents_by_seq ON intents (seq);
ALTER TABLE ledger_agents ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX ledger_agents_by_seq ON ledger_agents (seq);
ALTER TABLE tokens ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX tokens_by_seq ON tokens (seq);
`;
