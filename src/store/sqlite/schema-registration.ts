/**
 * Schema version 3: attested registration (DESIGN section 8).
 *
 * - `registration_bounds`: the limits of a private-agent registration token (how many agents it may register, at
 *   which site, until when). A registration token without a row is unbounded.
 * - `registrations`: which registration token registered which agent, so a bound counts what its token did.
 * - `identity_tokens_used`: the SHA-256 of every single-use cloud identity token (GCE's) accepted, until it expires,
 *   so a replayed token is refused even after a restart or by another controller.
 */
export const SCHEMA_REGISTRATION = `
CREATE TABLE registration_bounds (
  token_id TEXT PRIMARY KEY REFERENCES tokens(id),
  max_agents INTEGER CHECK (max_agents IS NULL OR max_agents > 0),
  site TEXT,
  expires_at_ms INTEGER
);
CREATE TABLE registrations (
  agent_id TEXT PRIMARY KEY,
  registration_token_id TEXT NOT NULL REFERENCES tokens(id),
  at_ms INTEGER NOT NULL
);
CREATE INDEX registrations_by_token ON registrations (registration_token_id);
CREATE TABLE identity_tokens_used (
  token_hash TEXT PRIMARY KEY,
  expires_at_ms INTEGER NOT NULL
);
CREATE INDEX identity_tokens_used_by_expiry ON identity_tokens_used (expires_at_ms);
`;
