/**
 * Schema version 3: token scopes (DESIGN section 8). A submitter or finance token may name the teams, and within them
 * the projects, it acts for; both are JSON arrays of names, NULL for an unscoped token (admin, unscoped finance, agent).
 * Existing tokens stay unscoped. Tasks get an index by team so a scoped listing reads only its teams' rows.
 */
export const SCHEMA_SCOPES = `
ALTER TABLE tokens ADD COLUMN teams TEXT;
ALTER TABLE tokens ADD COLUMN projects TEXT;
CREATE INDEX IF NOT EXISTS tasks_by_team_created ON tasks (team, created_at_ms);
`;
