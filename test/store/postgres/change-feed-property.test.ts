import assert from 'node:assert/strict';
import { after, before, describe, it } from 'mocha';
import fc from 'fast-check';
import { openPostgresStore, type PostgresStore } from '../../../src/store/postgres/postgres-store.ts';
import type { ModelRows } from '../../../src/store/store.ts';
import { PostgresServer } from '../../helpers/postgres-server.ts';
import { T0, newTask } from '../helpers.ts';
import { Writer } from './feed-writer.ts';
import { TempDatabases } from './helpers.ts';

/**
 * Histories tried: a tenth of SPILLWAY_PROPERTY_RUNS (CI sets 1000: 100 histories of 15 to 40 steps, each read
 * checked, about 12 s), default 10. Each step is one round trip to a local server.
 */
const RUNS = Math.ceil(Number(process.env['SPILLWAY_PROPERTY_RUNS'] ?? 100) / 10);
const WRITERS = 3;
const BASE_TASKS = 4;

type Write =
  | { readonly kind: 'reason'; readonly target: number }
  | { readonly kind: 'cancel'; readonly target: number }
  | { readonly kind: 'insert' };

type Step =
  | { readonly kind: 'begin'; readonly writer: number }
  | { readonly kind: 'write'; readonly writer: number; readonly write: Write; readonly savepoint: Savepoint }
  | { readonly kind: 'commit'; readonly writer: number }
  | { readonly kind: 'rollback'; readonly writer: number }
  | { readonly kind: 'read'; readonly limit: number | undefined }
  | { readonly kind: 'reload'; readonly span: number };

/** A write made plainly, or inside a savepoint that is then released or rolled back. */
type Savepoint = 'none' | 'release' | 'rollback';

interface TaskState {
  readonly state: string;
  readonly reason: string;
}

const writerArb = fc.integer({ min: 0, max: WRITERS - 1 });
const writeArb: fc.Arbitrary<Write> = fc.oneof(
  fc.record({ kind: fc.constant('reason' as const), target: fc.nat() }),
  fc.record({ kind: fc.constant('cancel' as const), target: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const) }),
);
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('begin' as const), writer: writerArb }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      writer: writerArb,
      write: writeArb,
      savepoint: fc.constantFrom<Savepoint>('none', 'none', 'release', 'rollback'),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('commit' as const), writer: writerArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rollback' as const), writer: writerArb }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      limit: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('reload' as const), span: fc.integer({ min: 1, max: 4 }) }),
  },
);

/**
 * The property: several writers begin, write, commit and roll back in any interleaving while the feed is read, and
 * the model now and then reloads as ClusterModel.reload does (the revision, slices of record order, `since` it). Every
 * row a read returns is exactly as its last committed write left it (no uncommitted or rolled-back state), no read's
 * revision passes an open transaction, and applying every read's rows in order to a map loaded once gives, once the
 * writers are done, what the test's own record of the commits gives, and what a fresh `current` gives.
 */
describe('postgres store: the change feed under random interleavings (property)', () => {
  let server: PostgresServer;
  let dbs: TempDatabases;
  let store: PostgresStore;
  const writers: Writer[] = [];

  before(async () => {
    // No autovacuum: a background ANALYZE holds a transaction id, and so the feed's watermark, while it runs.
    server = await PostgresServer.start({ settings: { autovacuum: 'off' } });
    dbs = new TempDatabases(server);
    const database = await dbs.create();
    store = await openPostgresStore({ url: server.url(database), passwordFile: dbs.passwordFile, maxConnections: 2 });
    for (let i = 0; i < WRITERS; i++) writers.push(await Writer.connect(server.connection(database)));
  });
  after(async () => {
    for (const writer of writers) await writer.end();
    await store?.close();
    await dbs?.cleanup();
    await server?.stop();
  });

  it('never skips a committed change nor shows another, whatever the interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArb, { minLength: 15, maxLength: 40 }),
        fc.array(fc.boolean(), { minLength: WRITERS, maxLength: WRITERS }),
        async (steps, finals) => {
          // Fresh rows for each history; a history that failed half-way may have left transactions open.
          for (const writer of writers) await writer.client.query('ROLLBACK');
          await writers[0]!.client.query('TRUNCATE tasks RESTART IDENTITY');
          const base = await store.tasks.insert(
            Array.from({ length: BASE_TASKS }, () => newTask()),
            T0,
          );

          /** What committed, by the test's own account: every task's state and reason. */
          const committed = new Map<string, TaskState>(base.map((t) => [t.id, { state: 'pending', reason: '' }]));
          const ids = base.map((t) => t.id);
          const open: ({ readonly xid: number | undefined; readonly writes: Map<string, TaskState> } | undefined)[] =
            Array.from({ length: WRITERS }, () => undefined);
          const xidOf = async (w: number): Promise<number> => writers[w]!.xid();

          const loaded = await store.changes.current();
          assert.deepEqual(live(fromRows(loaded)), live(committed));
          const model = fromRows(loaded);
          let rev = loaded.rev;

          const end = async (w: number, commit: boolean): Promise<void> => {
            const tx = open[w];
            if (tx === undefined) return;
            await (commit ? writers[w]!.commit() : writers[w]!.rollback());
            if (commit) for (const [id, state] of tx.writes) committed.set(id, state);
            open[w] = undefined;
          };

          const read = async (limit: number | undefined): Promise<void> => {
            for (let more = true; more;) {
              const page = await store.changes.since(rev, limit);
              for (const { row } of page.tasks) {
                assert.deepEqual(
                  { state: row.state, reason: row.reason },
                  committed.get(row.id),
                  `task ${row.id} as read is its last committed state`,
                );
                model.set(row.id, { state: row.state, reason: row.reason });
              }
              for (const tx of open) {
                if (tx?.xid !== undefined) assert.ok(page.rev < tx.xid, `rev ${page.rev} passes open ${tx.xid}`);
              }
              assert.ok(page.rev >= rev, 'the revision never goes back');
              rev = page.rev;
              more = page.more;
            }
          };

          for (const step of steps) {
            if (step.kind === 'read') {
              await read(step.limit);
              continue;
            }
            if (step.kind === 'reload') {
              // The model's sliced load: the revision first, then slices of record order, then `since` it.
              const start = await store.changes.revision();
              model.clear();
              for (let after = 0, more = true; more; after += step.span) {
                const slice = await store.changes.currentSlice(after, step.span);
                for (const { row } of slice.tasks) {
                  assert.deepEqual({ state: row.state, reason: row.reason }, committed.get(row.id));
                  model.set(row.id, { state: row.state, reason: row.reason });
                }
                more = slice.more;
              }
              rev = start;
              await read(undefined);
              continue;
            }
            const w = step.writer;
            const writer = writers[w]!;
            if (step.kind === 'begin') {
              if (open[w] === undefined) {
                await writer.begin();
                open[w] = { xid: undefined, writes: new Map() };
              }
            } else if (step.kind === 'commit' || step.kind === 'rollback') {
              await end(w, step.kind === 'commit');
            } else {
              // A write outside a transaction is one on its own (autocommit).
              const single = open[w] === undefined;
              if (single) {
                await writer.begin();
                open[w] = { xid: undefined, writes: new Map() };
              }
              const tx = open[w]!;
              if (step.savepoint !== 'none') await writer.client.query('SAVEPOINT s');
              const done = await apply(writer, step.write, ids);
              if (step.savepoint === 'rollback') await writer.client.query('ROLLBACK TO SAVEPOINT s');
              else {
                if (step.savepoint === 'release') await writer.client.query('RELEASE SAVEPOINT s');
                if (done !== undefined) tx.writes.set(done.id, done.state);
              }
              if (done !== undefined && step.savepoint !== 'rollback' && !ids.includes(done.id)) ids.push(done.id);
              if (tx.xid === undefined && done !== undefined) open[w] = { ...tx, xid: await xidOf(w) };
              if (single) await end(w, true);
            }
          }

          // The writers still open end as the history says (commits are what a feed could skip).
          for (let w = 0; w < WRITERS; w++) await end(w, finals[w] ?? true);
          await read(undefined);
          assert.deepEqual(live(model), live(committed), 'the model caught up with every commit');
          assert.deepEqual(live(fromRows(await store.changes.current())), live(committed), 'a fresh load agrees');
        },
      ),
      { numRuns: RUNS },
    );
  });
});

/** Runs one write; the task it changed and its new state, or undefined when it changed nothing. */
async function apply(
  writer: Writer,
  write: Write,
  ids: readonly string[],
): Promise<{ id: string; state: TaskState } | undefined> {
  if (write.kind === 'insert') {
    const reason = `inserted ${crypto.randomUUID().slice(0, 8)}`;
    return { id: await writer.insertTask(reason), state: { state: 'pending', reason } };
  }
  const id = ids[write.target % ids.length]!;
  const reason = `${write.kind} ${crypto.randomUUID().slice(0, 8)}`;
  if (write.kind === 'reason') {
    // Reads its own uncommitted state: the reason is all it changes.
    const { rows } = await writer.client.query<{ state: string }>(
      `UPDATE tasks SET reason = $1 WHERE id = (SELECT id FROM tasks WHERE id = $2 FOR UPDATE SKIP LOCKED)
       RETURNING state`,
      [reason, id],
    );
    return rows[0] === undefined ? undefined : { id, state: { state: rows[0].state, reason } };
  }
  return (await writer.cancel(id, reason)) ? { id, state: { state: 'cancelled', reason } } : undefined;
}

function fromRows(rows: ModelRows): Map<string, TaskState> {
  return new Map(rows.tasks.map((t) => [t.row.id, { state: t.row.state, reason: t.row.reason }]));
}

/** The tasks the model keeps (pending here: nothing is placed), sorted by id. */
function live(tasks: ReadonlyMap<string, TaskState>): [string, TaskState][] {
  return [...tasks].filter(([, t]) => t.state === 'pending').sort(([a], [b]) => a.localeCompare(b));
}
