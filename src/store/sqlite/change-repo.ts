import type { Intent } from '../../core/intent.ts';
import type { Resources } from '../../core/resources.ts';
import type { AgentIsolation, AgentState, Lifecycle } from '../../core/agent.ts';
import type { Location } from '../../core/location.ts';
import type { TaskConstraints, TaskHeader, TaskState } from '../../core/task.ts';
import type { AgentRecord, ChangeRepo, LedgerRows, ModelRows, Recorded } from '../store.ts';
import type { AgentInterval } from '../../cost-model/ledger.ts';
import { toAgentInterval, toUsageInterval } from './ledger-repo.ts';
import { toIntent } from './intent-repo.ts';
import { bool, int, intOrNull, resourcesOf, text, textOrNull } from './rows.ts';
import type { Row, SqliteDb } from './sqlite-db.ts';
import { HEADER_COLUMNS } from './task-repo.ts';

const LIVE_AGENTS = `state IN ('provisioning', 'registered', 'draining', 'lost')`;
const ACTIVE_TASKS = `state IN ('pending', 'placed', 'running')`;

/**
 * Reads for the in-memory model by revision (schema-revision.ts). `since` uses the `*_by_rev` indexes, so a pass after
 * which little changed reads little, whatever the size of the pool.
 */
export class SqliteChangeRepo implements ChangeRepo {
  readonly #db: SqliteDb;

  constructor(db: SqliteDb) {
    this.#db = db;
  }

  revision(): number {
    const row = this.#db.get('SELECT rev FROM revision WHERE id = 1');
    return row === undefined ? 0 : int(row, 'rev');
  }

  current(): ModelRows {
    return this.#db.read(() => {
      const share = new Sharing();
      return {
        rev: this.revision(),
        agents: this.#db
          .all(`SELECT rowid AS seq, * FROM agents INDEXED BY agents_by_state WHERE ${LIVE_AGENTS} ORDER BY rowid`)
          .map(recordedAgent, share),
        tasks: this.#db
          .all(`SELECT rowid AS seq, ${HEADER_COLUMNS} FROM tasks WHERE ${ACTIVE_TASKS}`)
          .map(recordedTask, share),
        intents: this.#db
          .all(`SELECT rowid AS seq, * FROM intents WHERE state = 'pending' ORDER BY created_at_ms, rowid`)
          .map(recordedIntent),
      };
    });
  }

  /** Range reads on rowid: each slice reads at most `span` rows of each table, live or not. */
  currentSlice(afterSeq: number, span: number): ModelRows & { readonly more: boolean } {
    return this.#db.read(() => {
      const to = afterSeq + span;
      const last = this.#db.get(
        `SELECT max(
           coalesce((SELECT max(rowid) FROM agents), 0),
           coalesce((SELECT max(rowid) FROM tasks), 0),
           coalesce((SELECT max(rowid) FROM intents), 0)
         ) AS seq`,
      );
      const share = new Sharing();
      // `+state`: the state is a filter only. Left to itself SQLite walks tasks_by_state_created (every running task,
      // 300,000 at the bench's size, ~35 ms) for each slice instead of the slice's rowid range.
      const range = 'rowid > ? AND rowid <= ?';
      return {
        rev: this.revision(),
        agents: this.#db
          .all(`SELECT rowid AS seq, * FROM agents WHERE ${range} AND ${LIVE_AGENTS}`, afterSeq, to)
          .map(recordedAgent, share),
        tasks: this.#db
          .all(`SELECT rowid AS seq, ${HEADER_COLUMNS} FROM tasks WHERE ${range} AND +${ACTIVE_TASKS}`, afterSeq, to)
          .map(recordedTask, share),
        intents: this.#db
          .all(`SELECT rowid AS seq, * FROM intents WHERE ${range} AND +state = 'pending'`, afterSeq, to)
          .map(recordedIntent),
        more: last !== undefined && typeof last['seq'] === 'number' && last['seq'] > to,
      };
    });
  }

  /**
   * Pages by revision: with `limit`, at most that many rows of each table, and the answer's `rev` is the highest
   * revision up to which every table was read whole (rows above it may come again in the next page).
   */
  since(rev: number, limit = -1): ModelRows & { readonly more: boolean } {
    // Nothing written since (most calls of a pass): one statement, itself a snapshot, answers without a transaction.
    if (this.revision() === rev) return { rev, agents: [], tasks: [], intents: [], more: false };
    return this.#db.read(() => {
      // The store's revision and each table's newest stamp (the end of its rev index), in one statement: a table
      // written to since is the only one read.
      const newest = this.#db.get(NEWEST)!;
      const now = int(newest, 'rev');
      if (now === rev) return { rev, agents: [], tasks: [], intents: [], more: false };
      const sql = pageSql(limit);
      const page = (table: 'agents' | 'tasks' | 'intents'): Row[] =>
        typeof newest[table] === 'number' && newest[table] > rev ? this.#db.all(sql[table], rev, now) : [];
      const agents = page('agents');
      const tasks = page('tasks');
      const intents = page('intents');
      let upTo = now;
      for (const rows of [agents, tasks, intents]) {
        if (limit > 0 && rows.length >= limit) upTo = Math.min(upTo, int(rows.at(-1)!, 'rev'));
      }
      const share = new Sharing();
      return {
        rev: upTo,
        agents: agents.map(recordedAgent, share),
        tasks: tasks.map(recordedTask, share),
        intents: intents.map(recordedIntent),
        more: upTo < now,
      };
    });
  }

  ledgerOverlapping(fromMs: number, toMs: number): LedgerRows {
    return this.#db.read(() => ({
      rev: this.revision(),
      agents: this.#db
        .all(
          `SELECT rowid AS seq, * FROM ledger_agents WHERE start_ms < ? AND (end_ms IS NULL OR end_ms >= ?)`,
          toMs,
          fromMs,
        )
        .map(recordedAgentInterval),
      usage: this.#db
        .all('SELECT * FROM ledger_usage WHERE start_ms < ? AND (end_ms IS NULL OR end_ms >= ?)', toMs, fromMs)
        .map(toUsageInterval),
    }));
  }

  ledgerSince(rev: number): LedgerRows {
    return this.#db.read(() => {
      const now = this.revision();
      if (now === rev) return { rev, agents: [], usage: [] };
      return {
        rev: now,
        agents: this.#db.all('SELECT rowid AS seq, * FROM ledger_agents WHERE rev > ?', rev).map(recordedAgentInterval),
        usage: this.#db.all('SELECT * FROM ledger_usage WHERE rev > ?', rev).map(toUsageInterval),
      };
    });
  }
}

/** The store's revision and the newest stamp of each table the model reads. */
const NEWEST = `SELECT (SELECT rev FROM revision WHERE id = 1) AS rev, (SELECT max(rev) FROM agents) AS agents,
  (SELECT max(rev) FROM tasks) AS tasks, (SELECT max(rev) FROM intents) AS intents`;

/** `since`'s page statements by limit, built once per limit (a pass reads pages many times). */
const pageStatements = new Map<number, { readonly agents: string; readonly tasks: string; readonly intents: string }>();

function pageSql(limit: number): { readonly agents: string; readonly tasks: string; readonly intents: string } {
  // The limit is written into the SQL, not bound: with `LIMIT ?` node:sqlite's statement took about 50 us more per
  // call than the same query with a literal limit (measured at 30,000 tasks), and a pass reads here several times.
  // A page size is one of few integers, so the statement cache holds few variants.
  const limitSql = Number.isSafeInteger(limit) && limit > 0 ? limit : -1;
  let sql = pageStatements.get(limitSql);
  if (sql === undefined) {
    const page = (select: string): string => `${select} WHERE rev > ? AND rev <= ? ORDER BY rev LIMIT ${limitSql}`;
    sql = {
      agents: page('SELECT rowid AS seq, rev, * FROM agents'),
      tasks: page(`SELECT rowid AS seq, rev, ${HEADER_COLUMNS} FROM tasks`),
      intents: page('SELECT rowid AS seq, rev, * FROM intents'),
    };
    if (pageStatements.size >= 16) pageStatements.clear();
    pageStatements.set(limitSql, sql);
  }
  return sql;
}

/** An agent like `toAgent`'s (without `allocated`), sharing equal values among the rows of one read. */
function recordedAgent(this: Sharing, row: Row): Recorded<AgentRecord> {
  const record: AgentRecord = {
    id: this.text(text(row, 'id')),
    name: text(row, 'name'),
    location: this.json<Location>(text(row, 'location')),
    capacity: this.resources(resourcesOf(row)),
    labels: this.json<Record<string, string>>(text(row, 'labels')),
    lifecycle: this.text(text(row, 'lifecycle')) as Lifecycle,
    pricePerHourMicros: int(row, 'price_per_hour_micros'),
    state: this.text(text(row, 'state')) as AgentState,
    instanceId: textOrNull(row, 'instance_id'),
    providerId: row['provider_id'] === null ? null : this.text(text(row, 'provider_id')),
    intentId: row['intent_id'] === null ? null : this.text(text(row, 'intent_id')),
    registeredAtMs: int(row, 'registered_at_ms'),
    lastHeartbeatMs: int(row, 'last_heartbeat_ms'),
    idleSinceMs: intOrNull(row, 'idle_since_ms'),
    reason: this.text(text(row, 'reason')),
    isolation: this.text(textOrNull(row, 'isolation') ?? 'none') as AgentIsolation,
  };
  return { seq: int(row, 'seq'), row: record };
}

/**
 * A task header like `toTaskHeader`'s, but sharing equal values among the rows of one read: hundreds of thousands of
 * headers stay in the model, and most of their states, owners' teams and projects, agent ids, reasons, resources and
 * constraints repeat (an agent's tasks are recorded together). Headers are read-only, so sharing is safe.
 */
function recordedTask(this: Sharing, row: Row): Recorded<TaskHeader> {
  const header: TaskHeader = {
    id: text(row, 'id'),
    owner: { team: this.text(text(row, 'team')), project: this.text(text(row, 'project')), job: text(row, 'job') },
    resources: this.resources(resourcesOf(row)),
    priority: int(row, 'priority'),
    revocable: bool(row, 'revocable'),
    constraints: this.json<TaskConstraints>(text(row, 'constraints')),
    state: this.text(text(row, 'state')) as TaskState,
    agentId: row['agent_id'] === null ? null : this.text(text(row, 'agent_id')),
    attempts: int(row, 'attempts'),
    createdAtMs: int(row, 'created_at_ms'),
    pendingSinceMs: int(row, 'pending_since_ms'),
    startedAtMs: intOrNull(row, 'started_at_ms'),
    finishedAtMs: intOrNull(row, 'finished_at_ms'),
    exitCode: intOrNull(row, 'exit_code'),
    reason: this.text(text(row, 'reason')),
  };
  return { seq: int(row, 'seq'), row: header };
}

/** Equal values of one read, kept once. */
class Sharing {
  // Made on first use: most reads are a pass's few changed rows.
  #texts: Map<string, string> | undefined;
  #parsed: Map<string, unknown> | undefined;
  /** By CPU, then memory, GPUs and network: numbers as keys, no key string per row (a page is read per pass). */
  #resources: Map<number, Map<number, Map<number, Map<number, Resources>>>> | undefined;

  text(value: string): string {
    this.#texts ??= new Map();
    const known = this.#texts.get(value);
    if (known !== undefined) return known;
    this.#texts.set(value, value);
    return value;
  }

  json<T>(source: string): T {
    this.#parsed ??= new Map();
    let value = this.#parsed.get(source);
    if (value === undefined) {
      value = JSON.parse(source) as T;
      this.#parsed.set(source, value);
    }
    return value as T;
  }

  resources(value: Resources): Resources {
    this.#resources ??= new Map<number, Map<number, Map<number, Map<number, Resources>>>>();
    const byMemory = child(this.#resources, value.cpuMillis);
    const byGpus = child(byMemory, value.memoryMiB);
    const byNet = child(byGpus, value.gpus);
    const known = byNet.get(value.netMbps);
    if (known !== undefined) return known;
    byNet.set(value.netMbps, value);
    return value;
  }
}

function child<V>(map: Map<number, Map<number, V>>, key: number): Map<number, V> {
  let found = map.get(key);
  if (found === undefined) map.set(key, (found = new Map()));
  return found;
}

function recordedIntent(row: Row): Recorded<Intent> {
  return { seq: int(row, 'seq'), row: toIntent(row) };
}

function recordedAgentInterval(row: Row): Recorded<AgentInterval> {
  return { seq: int(row, 'seq'), row: toAgentInterval(row) };
}
