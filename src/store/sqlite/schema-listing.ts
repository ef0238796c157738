/**
 * Schema version 8: tasks listed by state in the listing's order (newest first). `GET /v1/tasks?state=pending` walks
 * this index a page at a time; without it, SQLite read every task in the state, commands and all, and sorted them for
 * each page (100,000 pending tasks: the whole set per request).
 */
export const SCHEMA_LISTING = `
CREATE INDEX IF NOT EXISTS tasks_by_state_created ON tasks (state, created_at_ms);
`;
