/**
 * Schema version 7: web console sign-in (issue 18). A sign-in code is made by a token (`spillway console`), is used at
 * most once and expires within minutes; a session is what opening the code's link (or pasting a token) starts, and acts
 * with that token's role and scope until it expires, is signed out, or the token is revoked. Both are kept by the
 * SHA-256 of their secret, never the secret. Recent decisions are listed newest first, hence the intents index.
 */
export const SCHEMA_CONSOLE = `
CREATE TABLE console_codes (
  code_hash TEXT PRIMARY KEY,
  token_id TEXT NOT NULL REFERENCES tokens (id),
  created_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER NOT NULL,
  used_at_ms INTEGER
);
CREATE INDEX console_codes_by_expiry ON console_codes (expires_at_ms);
CREATE TABLE console_sessions (
  session_hash TEXT PRIMARY KEY,
  token_id TEXT NOT NULL REFERENCES tokens (id),
  created_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER NOT NULL
);
CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at_ms);
CREATE INDEX intents_by_created ON intents (created_at_ms);
`;
