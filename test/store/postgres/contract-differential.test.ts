import assert from 'node:assert/strict';
import fc from 'fast-check';
import { after, before, describe, it } from 'mocha';
import { errorMessage } from '../../../src/core/errors.ts';
import { T0, newTask, privateAgent } from '../helpers.ts';
import { postgresEngine, sqliteEngine, type ContractStore } from './engines.ts';

/**
 * Differential: one random sequence of task and agent operations applied to both engines in lockstep must give the
 * same outcome for every call (done, or which error) and the same state at the end, ids aside. Each engine's ids are
 * replaced by labels in the order they were created (t0, t1, a0...), so the comparison is of behaviour only.
 *
 * Each run creates a database and a file, so the count is capped: CI's SPILLWAY_PROPERTY_RUNS=1000 would spend minutes
 * here for little; the seeded cases still reach conflicts, lost agents and requeues.
 */
const RUNS = Math.min(Number(process.env['SPILLWAY_PROPERTY_RUNS'] ?? 40), 100);

type Op =
  | { kind: 'addTasks'; count: number; priority: number }
  | { kind: 'addAgent'; provisioning: boolean }
  | { kind: 'place'; task: number; agent: number }
  | { kind: 'claim'; agent: number }
  | { kind: 'finish'; task: number; agent: number; exitCode: number }
  | { kind: 'cancel'; task: number }
  | { kind: 'requeue'; task: number; agent: number }
  | { kind: 'setState'; agent: number; state: 'registered' | 'draining' | 'lost' | 'terminated' }
  | { kind: 'heartbeat'; agent: number };

// Small indexes, so operations often meet the same task and agent (placed, then claimed, requeued, lost...).
const index = fc.nat({ max: 2 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('addTasks' as const),
      count: fc.integer({ min: 1, max: 3 }),
      priority: fc.nat(3),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('addAgent' as const), provisioning: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('place' as const), task: index, agent: index }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('claim' as const), agent: index }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('finish' as const),
      task: index,
      agent: index,
      exitCode: fc.constantFrom(0, 1),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), task: index }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('requeue' as const), task: index, agent: index }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('setState' as const),
      agent: index,
      state: fc.constantFrom('registered' as const, 'draining' as const, 'lost' as const, 'terminated' as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('heartbeat' as const), agent: index }) },
);

/** Every sequence starts with two registered agents and three tasks, so most operations meet something. */
const SETUP: readonly Op[] = [
  { kind: 'addAgent', provisioning: false },
  { kind: 'addAgent', provisioning: false },
  { kind: 'addTasks', count: 3, priority: 0 },
];

/** One engine's store and the ids it created, in order. */
interface Side {
  readonly store: ContractStore;
  readonly tasks: string[];
  readonly agents: string[];
}

/** Runs one operation; returns what a caller sees: 'ok' or the error's class (and, for a bug, its message). */
async function apply(side: Side, op: Op, nowMs: number): Promise<string> {
  const { store, tasks, agents } = side;
  const task = (i: number): string => tasks[i % Math.max(tasks.length, 1)] ?? 't-none';
  const agent = (i: number): string => agents[i % Math.max(agents.length, 1)] ?? 'a-none';
  try {
    switch (op.kind) {
      case 'addTasks': {
        const inserted = await store.tasks.insert(
          Array.from({ length: op.count }, () => newTask({ priority: op.priority })),
          nowMs,
        );
        tasks.push(...inserted.map((t) => t.id));
        break;
      }
      case 'addAgent': {
        const added = await store.agents.insert(
          privateAgent({ name: `rack-${agents.length}`, state: op.provisioning ? 'provisioning' : 'registered' }),
          nowMs,
        );
        agents.push(added.id);
        break;
      }
      case 'place':
        await store.tasks.place(task(op.task), agent(op.agent), nowMs);
        break;
      case 'claim':
        await store.tasks.claim(agent(op.agent), nowMs);
        break;
      case 'finish':
        await store.tasks.finish(task(op.task), agent(op.agent), { exitCode: op.exitCode, outputTail: 'x' }, nowMs);
        break;
      case 'cancel':
        await store.tasks.cancel(task(op.task), 'cancelled', nowMs);
        break;
      case 'requeue':
        await store.tasks.requeue(task(op.task), agent(op.agent), 'handed back', nowMs);
        break;
      case 'setState':
        await store.agents.setState(agent(op.agent), op.state, 'test', nowMs);
        break;
      case 'heartbeat':
        await store.agents.heartbeat(agent(op.agent), nowMs);
        break;
    }
    return 'ok';
  } catch (err) {
    const name = err instanceof Error ? err.name : 'thrown';
    return name === 'ConflictError' || name === 'NotFoundError' ? name : `${name}: ${errorMessage(err)}`;
  }
}

/** Everything observable about the side's tasks, agents and ledger, with its ids replaced by creation labels. */
async function snapshot(side: Side): Promise<string> {
  const { store } = side;
  const state = {
    tasks: await store.tasks.list(),
    pending: (await store.tasks.pending()).map((t) => t.id),
    counts: await store.tasks.countByState(),
    agents: await store.agents.list(),
    usage: await Promise.all(side.tasks.map((id) => store.ledger.usageOf(id))),
    agentIntervals: await Promise.all(side.agents.map((id) => store.ledger.agentInterval(id))),
  };
  let text = JSON.stringify(state, (key, value: unknown) => (key === 'id' && typeof value === 'number' ? 0 : value));
  side.tasks.forEach((id, i) => (text = text.replaceAll(id, `t${i}`)));
  side.agents.forEach((id, i) => (text = text.replaceAll(id, `a${i}`)));
  return text;
}

describe('store contract: SQLite and PostgreSQL agree on random operation sequences', () => {
  const sqlite = sqliteEngine();
  const postgres = postgresEngine();

  before(async () => {
    await sqlite.start();
    await postgres.start();
  });
  after(async () => {
    await sqlite.stop();
    await postgres.stop();
  });

  it('gives the same outcome for every call and the same state at the end', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 30 }), async (ops) => {
        await sqlite.fresh();
        await postgres.fresh();
        const a: Side = { store: await sqlite.open(), tasks: [], agents: [] };
        const b: Side = { store: await postgres.open(), tasks: [], agents: [] };
        try {
          for (const [step, op] of [...SETUP, ...ops].entries()) {
            const nowMs = T0 + step * 1_000;
            const [left, right] = [await apply(a, op, nowMs), await apply(b, op, nowMs)];
            assert.equal(right, left, `step ${step}: ${JSON.stringify(op)}`);
            assert.ok(left === 'ok' || left === 'ConflictError' || left === 'NotFoundError', left);
          }
          assert.equal(await snapshot(b), await snapshot(a));
        } finally {
          await sqlite.closeAll();
          await postgres.closeAll();
        }
      }),
      { numRuns: RUNS, seed: 17 },
    );
  });
});
