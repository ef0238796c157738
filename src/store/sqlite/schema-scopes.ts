/**
 * Schema version 3: token scopes (DESIGN section 8). A submitter or finance token may name the teams, and within them
 * the projects, it acts for; both are JSON arrays of names, NULL for an unscoped token (admin, unscoped finance, agent).
 * Existing tokens stay unscoped. Tasks get indexes by team so a scoped listing reads only its teams' rows and the pending quota
 * (policy.limits.maxPendingPerTeam) counts one team's pending tasks without a scan.
 */
export const SCHEMA_SCOPES = `
ALTER TABLE tokens ADD COLUMN teams TEXT;
ALTER TABLE tokens ADD COLUMN projects TEXT;
CREATE INDEX IF NOT EXISTS tasks_by_team_created ON tasks (team, created_at_ms);
CREATE INDEX IF NOT EXISTS tasks_by_team_state ON tasks (team, state);
`;
