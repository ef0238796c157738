/**
 * The first schema. Times are integer epoch milliseconds, money integer micro-USD, lists and records JSON text.
 * Agents' `allocated` is deliberately not a column: it is summed from their placed and running tasks on every read,
 * so it cannot drift from the tasks.
 */
export const SCHEMA_V1 = `
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE agents (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  location TEXT NOT NULL,
  cpu_millis INTEGER NOT NULL,
  memory_mib INTEGER NOT NULL,
  gpus INTEGER NOT NULL,
  net_mbps INTEGER NOT NULL,
  labels TEXT NOT NULL,
  lifecycle TEXT NOT NULL CHECK (lifecycle IN ('private', 'on-demand', 'spot')),
  price_per_hour_micros INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('provisioning', 'registered', 'draining', 'terminated', 'lost')),
  instance_id TEXT,
  provider_id TEXT,
  intent_id TEXT,
  registered_at_ms INTEGER NOT NULL,
  last_heartbeat_ms INTEGER NOT NULL,
  idle_since_ms INTEGER,
  reason TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX agents_by_instance ON agents (provider_id, instance_id) WHERE instance_id IS NOT NULL;
CREATE INDEX agents_by_state ON agents (state);
CREATE INDEX agents_by_intent ON agents (intent_id) WHERE intent_id IS NOT NULL;

CREATE TABLE tasks (
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL CHECK (state IN ('pending', 'placed', 'running', 'succeeded', 'failed', 'cancelled')),
  agent_id TEXT REFERENCES agents (id),
  team TEXT NOT NULL,
  project TEXT NOT NULL,
  job TEXT NOT NULL,
  cpu_millis INTEGER NOT NULL,
  memory_mib INTEGER NOT NULL,
  gpus INTEGER NOT NULL,
  net_mbps INTEGER NOT NULL,
  priority INTEGER NOT NULL,
  revocable INTEGER NOT NULL,
  constraints TEXT NOT NULL,
  command TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at_ms INTEGER NOT NULL,
  pending_since_ms INTEGER NOT NULL,
  started_at_ms INTEGER,
  finished_at_ms INTEGER,
  exit_code INTEGER,
  output_tail TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  -- A task waiting for room has no agent; a task placed or running always has one.
  CHECK (state <> 'pending' OR agent_id IS NULL),
  CHECK (state NOT IN ('placed', 'running') OR agent_id IS NOT NULL)
);
CREATE INDEX tasks_by_state ON tasks (state, priority DESC, pending_since_ms);
CREATE INDEX tasks_by_agent ON tasks (agent_id);
CREATE INDEX tasks_by_created ON tasks (created_at_ms);
-- Covers the per-agent sum of placed and running tasks, so listing every agent with its allocation reads one index.
CREATE INDEX tasks_allocated ON tasks (agent_id, cpu_millis, memory_mib, gpus, net_mbps)
  WHERE state IN ('placed', 'running');

CREATE TABLE intents (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('launch', 'terminate')),
  provider_id TEXT NOT NULL,
  offering TEXT,
  count INTEGER,
  owners TEXT,
  reason TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
  instance_ids TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '',
  CHECK (kind <> 'launch' OR (offering IS NOT NULL AND count IS NOT NULL AND owners IS NOT NULL))
);
CREATE INDEX intents_by_state ON intents (state, created_at_ms);
CREATE INDEX intents_by_kind ON intents (kind, created_at_ms);

CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  role TEXT NOT NULL CHECK (role IN ('admin', 'submitter', 'finance', 'agent')),
  name TEXT NOT NULL,
  agent_id TEXT,
  token_hash TEXT NOT NULL UNIQUE,
  created_at_ms INTEGER NOT NULL,
  revoked_at_ms INTEGER
);
CREATE INDEX tokens_by_agent ON tokens (agent_id) WHERE agent_id IS NOT NULL;

CREATE TABLE policy (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  body TEXT NOT NULL,
  updated_at_ms INTEGER NOT NULL
);

CREATE TABLE audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  detail TEXT NOT NULL
);

CREATE TABLE lease (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at_ms INTEGER NOT NULL
);
`;
