/**
 * PostgreSQL schema versions 3 to 6, each the same change as SQLite's step of that number (the files named in each
 * comment say why each exists). Kept in one file because each is a few lines of DDL.
 */

/** Version 3, as src/store/sqlite/schema-registration.ts. */
export const PG_SCHEMA_REGISTRATION = `
CREATE TABLE registration_bounds (
  token_id TEXT PRIMARY KEY REFERENCES tokens(id),
  max_agents INTEGER CHECK (max_agents IS NULL OR max_agents > 0),
  site TEXT,
  expires_at_ms BIGINT
);
CREATE TABLE registrations (
  agent_id TEXT PRIMARY KEY,
  registration_token_id TEXT NOT NULL REFERENCES tokens(id),
  at_ms BIGINT NOT NULL
);
CREATE INDEX registrations_by_token ON registrations (registration_token_id);
CREATE TABLE identity_tokens_used (
  token_hash TEXT PRIMARY KEY,
  expires_at_ms BIGINT NOT NULL
);
CREATE INDEX identity_tokens_used_by_expiry ON identity_tokens_used (expires_at_ms);
`;

/** Version 4, as src/store/sqlite/schema-boot-script.ts. */
export const PG_SCHEMA_BOOT_SCRIPT = `
ALTER TABLE intents ADD COLUMN boot_script TEXT;
`;

/** Version 5, as src/store/sqlite/schema-scopes.ts. */
export const PG_SCHEMA_SCOPES = `
ALTER TABLE tokens ADD COLUMN teams TEXT;
ALTER TABLE tokens ADD COLUMN projects TEXT;
CREATE INDEX tasks_by_team_created ON tasks (team, created_at_ms);
CREATE INDEX tasks_by_team_state ON tasks (team, state);
`;

/** Version 6, as src/store/sqlite/schema-isolation.ts. */
export const PG_SCHEMA_ISOLATION = `
ALTER TABLE agents ADD COLUMN isolation TEXT NOT NULL DEFAULT 'none'
  CHECK (isolation IN ('cgroup-v1', 'cgroup-v2', 'none'));
ALTER TABLE ledger_usage ADD COLUMN cpu_seconds DOUBLE PRECISION CHECK (cpu_seconds IS NULL OR cpu_seconds >= 0);
ALTER TABLE ledger_usage ADD COLUMN peak_memory_bytes BIGINT CHECK (peak_memory_bytes IS NULL OR peak_memory_bytes >= 0);
`;
