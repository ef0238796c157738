/**
 * The columns whose change the in-memory model's change feed stamps (both engines' schema steps: SQLite's 9,
 * PostgreSQL's 10). A write to any other column (a task's output tail, its command) is not a change the model can see.
 * Shipped schema steps read these: never edit one; a new watched column is a new step.
 */
export const TASK_COLUMNS = `state, agent_id, team, project, job, cpu_millis, memory_mib, gpus, net_mbps, priority, revocable,
  constraints, attempts, created_at_ms, pending_since_ms, started_at_ms, finished_at_ms, exit_code, reason`;
export const AGENT_COLUMNS = `name, location, cpu_millis, memory_mib, gpus, net_mbps, labels, lifecycle, price_per_hour_micros,
  state, instance_id, provider_id, intent_id, registered_at_ms, last_heartbeat_ms, idle_since_ms, reason, isolation`;
export const INTENT_COLUMNS = `kind, provider_id, offering, count, owners, reason, state, instance_ids, created_at_ms,
  updated_at_ms, attempts, error, boot_script`;
export const LEDGER_AGENT_COLUMNS = `agent_id, name, location, provider, provider_id, instance_id, instance_type, lifecycle,
  price_per_hour_micros, cpu_millis, memory_mib, gpus, net_mbps, intent_id, owners, start_ms, end_ms`;
export const LEDGER_USAGE_COLUMNS = `task_id, agent_id, team, project, job, share, start_ms, end_ms, cpu_seconds,
  peak_memory_bytes`;
