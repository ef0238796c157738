/**
 * Schema version 2: the cost model's ledger, budgets and budget alerts (DESIGN section 4).
 *
 * - `ledger_agents`: one row per agent, from when it started costing (a cloud agent: its launch confirmed; a private
 *   agent: registered) until it stopped (a cloud agent: its termination confirmed; a private one: terminated or lost),
 *   with its price, capacity and the launch intent's owner shares (who pays its idle time).
 * - `ledger_usage`: one row per run of a task on an agent, from claimed (running) until finished, requeued or
 *   cancelled, with the task's owner and dominant share of the agent. At most one open run per task.
 * - `budgets` and `budget_alerts`: finance's caps, and the 50/80/100 percent levels reached, once per period.
 *
 * Upgrading a version 1 store opens the ledger with what is alive at the upgrade (the agents' recorded times, the
 * running tasks' start times), so costs already running are not lost.
 */
export const SCHEMA_V2 = `
CREATE TABLE ledger_agents (
  agent_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  location TEXT NOT NULL,
  provider TEXT NOT NULL,
  provider_id TEXT,
  instance_id TEXT,
  instance_type TEXT NOT NULL DEFAULT '',
  lifecycle TEXT NOT NULL CHECK (lifecycle IN ('private', 'on-demand', 'spot')),
  price_per_hour_micros INTEGER NOT NULL CHECK (price_per_hour_micros >= 0),
  cpu_millis INTEGER NOT NULL,
  memory_mib INTEGER NOT NULL,
  gpus INTEGER NOT NULL,
  net_mbps INTEGER NOT NULL,
  intent_id TEXT,
  owners TEXT NOT NULL,
  start_ms INTEGER NOT NULL,
  end_ms INTEGER,
  CHECK (end_ms IS NULL OR end_ms >= start_ms)
);
CREATE INDEX ledger_agents_by_start ON ledger_agents (start_ms);
CREATE INDEX ledger_agents_by_end ON ledger_agents (end_ms);

CREATE TABLE ledger_usage (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  team TEXT NOT NULL,
  project TEXT NOT NULL,
  job TEXT NOT NULL,
  share REAL NOT NULL CHECK (share >= 0),
  start_ms INTEGER NOT NULL,
  end_ms INTEGER,
  CHECK (end_ms IS NULL OR end_ms >= start_ms)
);
CREATE UNIQUE INDEX ledger_usage_open_task ON ledger_usage (task_id) WHERE end_ms IS NULL;
CREATE INDEX ledger_usage_open_agent ON ledger_usage (agent_id) WHERE end_ms IS NULL;
CREATE INDEX ledger_usage_by_start ON ledger_usage (start_ms);
CREATE INDEX ledger_usage_by_end ON ledger_usage (end_ms);

CREATE TABLE budgets (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  scope TEXT NOT NULL,
  period TEXT NOT NULL CHECK (period IN ('hour', 'day', 'month', 'burn')),
  cap_micros INTEGER NOT NULL CHECK (cap_micros >= 0),
  on_cap TEXT NOT NULL CHECK (on_cap IN ('preempt', 'finish')),
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
);

-- Kept when a budget is deleted: they are a record of what happened.
CREATE TABLE budget_alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  budget_id TEXT NOT NULL,
  budget_name TEXT NOT NULL,
  scope TEXT NOT NULL,
  period TEXT NOT NULL,
  period_start_ms INTEGER NOT NULL,
  percent INTEGER NOT NULL CHECK (percent IN (50, 80, 100)),
  spent_micros INTEGER NOT NULL,
  cap_micros INTEGER NOT NULL,
  at_ms INTEGER NOT NULL,
  UNIQUE (budget_id, period_start_ms, percent)
);

INSERT INTO ledger_agents (agent_id, name, location, provider, provider_id, instance_id, instance_type, lifecycle,
    price_per_hour_micros, cpu_millis, memory_mib, gpus, net_mbps, intent_id, owners, start_ms, end_ms)
  SELECT a.id, a.name, a.location,
    CASE WHEN a.lifecycle = 'private' THEN 'private' ELSE COALESCE(json_extract(a.location, '$.provider'), '') END,
    a.provider_id, a.instance_id, COALESCE(json_extract(i.offering, '$.instanceType'), ''), a.lifecycle,
    a.price_per_hour_micros, a.cpu_millis, a.memory_mib, a.gpus, a.net_mbps, a.intent_id, COALESCE(i.owners, '[]'),
    a.registered_at_ms, NULL
  FROM agents a LEFT JOIN intents i ON i.id = a.intent_id
  WHERE a.state IN ('provisioning', 'registered', 'draining') OR (a.state = 'lost' AND a.lifecycle <> 'private');

INSERT INTO ledger_usage (task_id, agent_id, team, project, job, share, start_ms, end_ms)
  SELECT t.id, t.agent_id, t.team, t.project, t.job,
    max(
      CASE WHEN a.cpu_millis > 0 THEN t.cpu_millis * 1.0 / a.cpu_millis ELSE 0 END,
      CASE WHEN a.memory_mib > 0 THEN t.memory_mib * 1.0 / a.memory_mib ELSE 0 END,
      CASE WHEN a.gpus > 0 THEN t.gpus * 1.0 / a.gpus ELSE 0 END,
      CASE WHEN a.net_mbps > 0 THEN t.net_mbps * 1.0 / a.net_mbps ELSE 0 END
    ),
    COALESCE(t.started_at_ms, t.pending_since_ms), NULL
  FROM tasks t JOIN agents a ON a.id = t.agent_id
  WHERE t.state = 'running';
`;
