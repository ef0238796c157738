import type { Intent } from '../../core/intent.ts';
import type { TaskHeader } from '../../core/task.ts';
import type { AgentInterval } from '../../cost-model/ledger.ts';
import type { AsyncRepo } from '../async-store.ts';
import type { AgentRecord, ChangeRepo, LedgerRows, ModelRows, Recorded } from '../store.ts';
import { toAgentRecord } from './agent-repo.ts';
import { toIntent } from './intent-repo.ts';
import { toAgentInterval, toUsageInterval } from './ledger-repo.ts';
import type { PgDb, PgRow } from './pg-db.ts';
import { int } from './rows.ts';
import { HEADER_COLUMNS, toTaskHeader } from './task-repo.ts';

/** The change feed through the asynchronous port: what a server database can give the in-memory model. */
export type AsyncChangeRepo = AsyncRepo<ChangeRepo>;

const LIVE_AGENTS = `state IN ('provisioning', 'registered', 'draining', 'lost')`;
const ACTIVE_TASKS = `state IN ('pending', 'placed', 'running')`;

/**
 * The watermark, as a revision: one less than the oldest transaction id still running when the statement's snapshot
 * was taken (its xmin), or than this session's own transaction id when it has one (a feed read inside a writing
 * transaction must not pass its own, uncommitted rows). Every transaction below the xmin has ended, committed or
 * rolled back, so the rows it stamped are final: a later snapshot sees exactly what this one sees of them. (PostgreSQL
 * 15's snapshot xmin already counts the session's own transaction, though its list of running ones leaves it out; the
 * `least` keeps the feed from depending on that undocumented detail.)
 */
const WATERMARK = `(least(pg_snapshot_xmin(pg_current_snapshot()), pg_current_xact_id_if_assigned())::text::bigint - 1)`;

/** Rows not written by this session's own open transaction (they may still roll back). */
const NOT_OWN = `rev IS DISTINCT FROM pg_current_xact_id_if_assigned()`;

/** A row's stamp as a number (xid8 has no cast to bigint; its text is its decimal value). */
const STAMP = `rev::text::bigint AS stamp`;

interface Table {
  readonly name: string;
  readonly columns: string;
  /** Record order, the tie-break within one stamp. */
  readonly order: string;
}
const TASKS: Table = { name: 'tasks', columns: `seq, ${STAMP}, ${HEADER_COLUMNS}`, order: 'seq' };
const AGENTS: Table = { name: 'agents', columns: `${STAMP}, *`, order: 'seq' };
const INTENTS: Table = { name: 'intents', columns: `${STAMP}, *`, order: 'seq' };
const LEDGER_AGENTS: Table = { name: 'ledger_agents', columns: `${STAMP}, *`, order: 'seq' };
const LEDGER_USAGE: Table = { name: 'ledger_usage', columns: `${STAMP}, *`, order: 'id' };

/**
 * The in-memory model's reads on PostgreSQL, by revision (schema-change-feed.ts), with ChangeRepo's contract.
 *
 * A revision here is a transaction-id watermark, not a row counter: revision N means "every transaction whose id is
 * N or lower has ended". Each row carries the id of the transaction that last wrote it. `since(rev)` reads, in one
 * snapshot, the rows stamped above `rev` and below that snapshot's xmin (the oldest transaction still running), and
 * answers that xmin less one as its `rev`. So:
 * - no committed change is skipped: a transaction that had not committed when a read passed over it has an id at or
 *   above that read's xmin, so its rows are above the `rev` the read answered, and the next read past its end finds
 *   them (a row written again later carries the newer id, and comes with it);
 * - no uncommitted or rolled-back change is shown: a row stamped below the xmin was written by an ended transaction
 *   and is seen only if it committed; a rolled-back write leaves the row's previous version, with its old stamp.
 * Ids come in the order transactions first write, not the order they commit, which is why the watermark is the
 * xmin and not the highest id seen (a sequence-stamped feed skips exactly the T2-commits-before-T1 case).
 *
 * The price: a change becomes visible to `since` only once every transaction that started writing before it has
 * ended. The feed's delay is therefore the age of the oldest open writing transaction on the whole PostgreSQL server
 * (xids are server-wide: another database's or another application's long transaction delays it too; a read-only
 * transaction does not, having no id). Spillway's own transactions are short (no cloud call inside one), so the delay
 * is a few milliseconds; an idle-in-transaction session left open holds the feed still until it ends (PostgreSQL's
 * `idle_in_transaction_session_timeout` bounds that). `current`, `currentSlice` and `ledgerOverlapping` are not
 * delayed: they answer every committed row they see, and `since` from their `rev` brings any of those rows again
 * (applying a row twice is harmless).
 *
 * Called outside a transaction, every method reads one snapshot: one statement, or a REPEATABLE READ transaction.
 * Inside a caller's open transaction (READ COMMITTED, a snapshot per statement) the watermark is read first, so a row
 * a later statement sees changed after it comes again from `since`; rows the caller's transaction itself wrote are
 * left out until it commits (it may still roll back).
 */
export class PgChangeRepo implements AsyncChangeRepo {
  readonly #db: PgDb;

  constructor(db: PgDb) {
    this.#db = db;
  }

  async revision(): Promise<number> {
    const row = await this.#db.get(`SELECT ${WATERMARK} AS rev`);
    return int(row!, 'rev');
  }

  current(): Promise<ModelRows> {
    return this.#db.read(async () => {
      const rev = await this.revision();
      const agents = await this.#db.all(`SELECT ${AGENTS.columns} FROM agents WHERE ${LIVE_AGENTS} AND ${NOT_OWN}`);
      const tasks = await this.#db.all(`SELECT ${TASKS.columns} FROM tasks WHERE ${ACTIVE_TASKS} AND ${NOT_OWN}`);
      const intents = await this.#db.all(
        `SELECT ${INTENTS.columns} FROM intents WHERE state = 'pending' AND ${NOT_OWN}`,
      );
      return {
        rev,
        agents: agents.map(recordedAgent),
        tasks: tasks.map(recordedTask),
        intents: intents.map(recordedIntent),
      };
    });
  }

  /** Range reads on `seq` (the record order, PostgreSQL's stand-in for rowid): at most `span` rows of each table. */
  currentSlice(afterSeq: number, span: number): Promise<ModelRows & { readonly more: boolean }> {
    return this.#db.read(async () => {
      const rev = await this.revision();
      const to = afterSeq + span;
      const last = await this.#db.get(
        `SELECT greatest(
           coalesce((SELECT max(seq) FROM agents), 0),
           coalesce((SELECT max(seq) FROM tasks), 0),
           coalesce((SELECT max(seq) FROM intents), 0)
         ) AS seq`,
      );
      const range = `seq > $1 AND seq <= $2 AND ${NOT_OWN}`;
      const agents = await this.#db.all(`SELECT ${AGENTS.columns} FROM agents WHERE ${range} AND ${LIVE_AGENTS}`, [
        afterSeq,
        to,
      ]);
      const tasks = await this.#db.all(`SELECT ${TASKS.columns} FROM tasks WHERE ${range} AND ${ACTIVE_TASKS}`, [
        afterSeq,
        to,
      ]);
      const intents = await this.#db.all(
        `SELECT ${INTENTS.columns} FROM intents WHERE ${range} AND state = 'pending'`,
        [afterSeq, to],
      );
      return {
        rev,
        agents: agents.map(recordedAgent),
        tasks: tasks.map(recordedTask),
        intents: intents.map(recordedIntent),
        more: last !== undefined && int(last, 'seq') > to,
      };
    });
  }

  /**
   * Pages by stamp: with `limit`, each table's page ends at the stamp of its `limit`-th row and holds every row with
   * that stamp (one transaction's rows are never split across pages, so a transaction that wrote more than `limit`
   * rows of a table makes that page longer: a page cannot end inside one stamp and still name a revision below which
   * it is whole). The answer's `rev` is the highest revision up to which every table was read whole; rows above it
   * may come again in the next page.
   */
  async since(rev: number, limit = -1): Promise<ModelRows & { readonly more: boolean }> {
    const nothing = { rev, agents: [], tasks: [], intents: [], more: false };
    // Nothing ended since (most calls of a pass): one statement, itself a snapshot, answers without a transaction.
    if ((await this.revision()) <= rev) return nothing;
    return this.#db.read(async () => {
      const now = await this.revision();
      if (now <= rev) return nothing;
      const paged = Number.isSafeInteger(limit) && limit > 0;
      const page = (table: Table): Promise<PgRow[]> => this.#page(table, rev, now, paged ? limit : undefined);
      const agents = await page(AGENTS);
      const tasks = await page(TASKS);
      const intents = await page(INTENTS);
      let upTo = now;
      for (const rows of [agents, tasks, intents]) {
        if (paged && rows.length >= limit) upTo = Math.min(upTo, int(rows.at(-1)!, 'stamp'));
      }
      return {
        rev: upTo,
        agents: agents.map(recordedAgent),
        tasks: tasks.map(recordedTask),
        intents: intents.map(recordedIntent),
        more: upTo < now,
      };
    });
  }

  ledgerOverlapping(fromMs: number, toMs: number): Promise<LedgerRows> {
    return this.#db.read(async () => {
      const rev = await this.revision();
      const overlapping = `start_ms < $1 AND (end_ms IS NULL OR end_ms >= $2) AND ${NOT_OWN}`;
      const agents = await this.#db.all(
        `SELECT ${LEDGER_AGENTS.columns} FROM ledger_agents WHERE ${overlapping} ORDER BY start_ms, seq`,
        [toMs, fromMs],
      );
      const usage = await this.#db.all(
        `SELECT ${LEDGER_USAGE.columns} FROM ledger_usage WHERE ${overlapping} ORDER BY start_ms, id`,
        [toMs, fromMs],
      );
      return { rev, agents: agents.map(recordedAgentInterval), usage: usage.map(toUsageInterval) };
    });
  }

  async ledgerSince(rev: number): Promise<LedgerRows> {
    if ((await this.revision()) <= rev) return { rev, agents: [], usage: [] };
    return this.#db.read(async () => {
      const now = await this.revision();
      if (now <= rev) return { rev, agents: [], usage: [] };
      const agents = await this.#page(LEDGER_AGENTS, rev, now, undefined);
      const usage = await this.#page(LEDGER_USAGE, rev, now, undefined);
      return { rev: now, agents: agents.map(recordedAgentInterval), usage: usage.map(toUsageInterval) };
    });
  }

  /**
   * The rows of `table` stamped in (rev, now], in stamp order; with `limit`, only up to the stamp of the `limit`-th
   * of them, every row with that stamp included. Uses the `<table>_by_rev` index, so a read after which little
   * changed reads little, whatever the size of the table.
   */
  #page(table: Table, rev: number, now: number, limit: number | undefined): Promise<PgRow[]> {
    const window = 'rev > $1::xid8 AND rev <= $2::xid8';
    const cut =
      limit === undefined
        ? ''
        : ` AND rev <= coalesce((SELECT rev FROM ${table.name} WHERE ${window} ORDER BY rev OFFSET $3 LIMIT 1), $2::xid8)`;
    const params = limit === undefined ? [rev, now] : [rev, now, limit - 1];
    return this.#db.all(
      `SELECT ${table.columns} FROM ${table.name} WHERE ${window}${cut} ORDER BY rev, ${table.order}`,
      params,
    );
  }
}

function recordedAgent(row: PgRow): Recorded<AgentRecord> {
  return { seq: int(row, 'seq'), row: toAgentRecord(row) };
}

function recordedTask(row: PgRow): Recorded<TaskHeader> {
  return { seq: int(row, 'seq'), row: toTaskHeader(row) };
}

function recordedIntent(row: PgRow): Recorded<Intent> {
  return { seq: int(row, 'seq'), row: toIntent(row) };
}

function recordedAgentInterval(row: PgRow): Recorded<AgentInterval> {
  return { seq: int(row, 'seq'), row: toAgentInterval(row) };
}
