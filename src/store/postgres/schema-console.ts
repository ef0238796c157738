/**
 * PostgreSQL schema version 9: web console sign-in and the listings the console reads, as SQLite's steps 7 (console
 * codes and sessions, recent decisions by creation time) and 8 (tasks by state in listing order). A code and a
 * session are kept by the SHA-256 of their secret, never the secret.
 */
export const PG_SCHEMA_CONSOLE = `
CREATE TABLE console_codes (
  code_hash TEXT PRIMARY KEY,
  token_id TEXT NOT NULL REFERENCES tokens (id),
  created_at_ms BIGINT NOT NULL,
  expires_at_ms BIGINT NOT NULL,
  used_at_ms BIGINT
);
CREATE INDEX console_codes_by_expiry ON console_codes (expires_at_ms);
CREATE TABLE console_sessions (
  session_hash TEXT PRIMARY KEY,
  token_id TEXT NOT NULL REFERENCES tokens (id),
  created_at_ms BIGINT NOT NULL,
  expires_at_ms BIGINT NOT NULL
);
CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at_ms);
CREATE INDEX intents_by_created ON intents (created_at_ms DESC, seq DESC);
CREATE INDEX tasks_by_state_created ON tasks (state, created_at_ms DESC, seq DESC);
`;
