/**
 * Schema version 3: task isolation (issue 12).
 *
 * - `agents.isolation`: how the agent isolates its tasks (`cgroup-v1`, `cgroup-v2`, `none`), as it registered;
 *   agents recorded before are `none` until they register again.
 * - `ledger_usage.cpu_seconds`, `peak_memory_bytes`: what a run used, measured by its cgroup and reported at its exit;
 *   NULL for runs that did not end in an exit report (requeued, cancelled) or ran without isolation.
 */
export const SCHEMA_ISOLATION = `
ALTER TABLE agents ADD COLUMN isolation TEXT NOT NULL DEFAULT 'none'
  CHECK (isolation IN ('cgroup-v1', 'cgroup-v2', 'none'));
ALTER TABLE ledger_usage ADD COLUMN cpu_seconds REAL CHECK (cpu_seconds IS NULL OR cpu_seconds >= 0);
ALTER TABLE ledger_usage ADD COLUMN peak_memory_bytes INTEGER CHECK (peak_memory_bytes IS NULL OR peak_memory_bytes >= 0);
`;
