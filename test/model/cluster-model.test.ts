import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { after, before, describe, it } from 'mocha';
import { Controller } from '../../src/autoscaler/controller.ts';
import { NOT_TERMINATED_AGENT_STATES, type AgentState } from '../../src/core/agent.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { ConflictError, NotFoundError } from '../../src/core/errors.ts';
import { resources } from '../../src/core/resources.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { ClusterModel } from '../../src/model/cluster-model.ts';
import { BuiltinPool } from '../../src/pool/builtin/builtin-pool.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Store } from '../../src/store/store.ts';
import { offering, policy } from '../fakes/builders.ts';
import { FakeProvider } from '../fakes/fake-provider.ts';
import { asyncOf } from '../helpers/async-store.ts';

/**
 * Histories tried: a fifth of SPILLWAY_PROPERTY_RUNS (CI sets 1000: 200 histories of up to 50 steps, each step checked),
 * default 20. A history costs a store file, two connections and a controller, so CI's count stays a few.
 */
const RUNS = Math.ceil(Number(process.env['SPILLWAY_PROPERTY_RUNS'] ?? 100) / 5);
const SEED = 20_261_206;

/** One step of a random history: an API call, an agent's event, a pass, or a crash of the controller. */
type Step =
  | { kind: 'submit'; count: number; shape: number; priority: number; privateOnly: boolean; team: number }
  | { kind: 'add-agent'; size: number }
  | { kind: 'heartbeat'; pick: number }
  | { kind: 'place'; task: number; agent: number }
  | { kind: 'claim'; pick: number }
  | { kind: 'finish'; pick: number; exitCode: number }
  | { kind: 'cancel'; pick: number }
  | { kind: 'requeue-agent'; pick: number }
  | { kind: 'agent-state'; pick: number; state: AgentState }
  | { kind: 'note-waiting'; pick: number; reason: string }
  | { kind: 'register'; pick: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'window'; ms: number }
  | { kind: 'pass' }
  | { kind: 'crash' };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('submit' as const),
      count: fc.integer({ min: 1, max: 4 }),
      shape: fc.nat(2),
      priority: fc.nat(2),
      privateOnly: fc.boolean(),
      team: fc.nat(1),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({ kind: fc.constant('add-agent' as const), size: fc.integer({ min: 1, max: 4 }) }),
    weight: 2,
  },
  fc.record({ kind: fc.constant('heartbeat' as const), pick: fc.nat() }),
  { arbitrary: fc.record({ kind: fc.constant('place' as const), task: fc.nat(), agent: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('claim' as const), pick: fc.nat() }), weight: 2 },
  fc.record({ kind: fc.constant('finish' as const), pick: fc.nat(), exitCode: fc.nat(1) }),
  fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('requeue-agent' as const), pick: fc.nat() }),
  fc.record({
    kind: fc.constant('agent-state' as const),
    pick: fc.nat(),
    state: fc.constantFrom<AgentState>('registered', 'draining', 'lost', 'terminated'),
  }),
  fc.record({ kind: fc.constant('note-waiting' as const), pick: fc.nat(), reason: fc.constantFrom('a', 'b') }),
  fc.record({ kind: fc.constant('register' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 100, max: 20_000 }) }),
  fc.record({ kind: fc.constant('window' as const), ms: fc.integer({ min: 0, max: 60_000 }) }),
  { arbitrary: fc.constant({ kind: 'pass' as const }), weight: 4 },
  fc.constant({ kind: 'crash' as const }),
);

const SHAPES = [
  resources({ cpuMillis: 500, memoryMiB: 512 }),
  resources({ cpuMillis: 1000, memoryMiB: 1024 }),
  resources({ cpuMillis: 2000, memoryMiB: 4096 }),
];
const START_MS = Date.UTC(2026, 11, 6);
const small = offering({
  providerId: 'fake:test',
  provider: 'fake',
  instanceType: 'f.small',
  pricePerHourMicros: 100_000,
});

/**
 * The store as the model should hold it, read through the repos' own queries (allocation summed in SQL, pending
 * order by its index): independent of the model and of the change feed.
 */
function fromRepos(store: Store): unknown {
  return {
    agents: store.agents.list({ states: NOT_TERMINATED_AGENT_STATES }),
    tasks: store.tasks
      .listHeaders({ states: ['pending', 'placed', 'running'] })
      .sort((a, b) => a.createdAtMs - b.createdAtMs || a.id.localeCompare(b.id)),
    intents: store.intents.open(),
  };
}

function ofModel(model: ClusterModel): unknown {
  const view = model.view();
  return { ...view, tasks: [...view.tasks].sort((a, b) => a.createdAtMs - b.createdAtMs || a.id.localeCompare(b.id)) };
}

describe('cluster model', () => {
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-model-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('says it is loaded only once a whole sliced reload is done, and not after a reload that failed half way', async () => {
    const store = openSqliteStore(join(dir, 'loaded.db'));
    try {
      const clock = new ManualClock(1_000_000);
      store.transaction(() => {
        for (let i = 0; i < 1_200; i++) {
          store.agents.insert(
            {
              name: `n-${i}`,
              location: { kind: 'private', site: 'lab' },
              capacity: resources({ cpuMillis: 4000, memoryMiB: 4096 }),
              labels: {},
              lifecycle: 'private',
              pricePerHourMicros: 0,
              state: 'registered',
              instanceId: null,
              providerId: null,
              intentId: null,
            },
            clock.now(),
          );
        }
      });
      const model = new ClusterModel(asyncOf(store));
      assert.equal(model.loaded, false, 'never loaded');
      const seen: boolean[] = [];
      // 1,200 agents in slices of 500 rows: three slices, a pause after each.
      await model.reload(async () => {
        seen.push(model.loaded);
      }, 500);
      assert.deepEqual(seen, [false, false, false]);
      assert.equal(model.loaded, true);
      assert.equal(model.agents().length, 1_200);

      let pauses = 0;
      await assert.rejects(
        model.reload(async () => {
          if (++pauses === 2) throw new Error('stopped');
        }, 500),
        /stopped/,
      );
      assert.equal(model.loaded, false, 'a partial model is not loaded');
      await model.catchUp(async () => {});
      assert.equal(model.loaded, true);
      assert.equal(model.agents().length, 1_200, 'catchUp after a failed reload loads afresh');
    } finally {
      store.close();
    }
  });

  it('equals a fresh load from the store after any history of API calls, agent events, passes and crashes', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 10, maxLength: 50 }), async (steps) => {
        const file = join(dir, `run-${run++}.db`);
        const clock = new ManualClock(START_MS);
        // The API's process and the controller's: two connections to one file, as a standby `serve` writes.
        const api = openSqliteStore(file);
        api.meta.bindClusterId('model-test');
        api.policy.seed(policy({ pendingGraceMs: 1_000 }), clock.now());
        let ctl = openSqliteStore(file);
        const provider = new FakeProvider({ offerings: [small], now: () => clock.now() });
        const newController = (store: Store): Controller =>
          new Controller({
            store: asyncOf(store),
            pool: new BuiltinPool({ store: asyncOf(store), logger: silentLogger(), lostAfterMs: 30_000 }),
            providers: [provider],
            clock,
            logger: silentLogger(),
            settings: { passIntervalMs: 1_000, reconcileEveryPasses: 3, leaseTtlMs: 10_000, unavailableForMs: 60_000 },
            identity: {
              holderId: `c-${run}`,
              launch: {
                clusterId: 'model-test',
                controllerUrl: 'http://127.0.0.1:1',
                caBundle: '',
                serverSecret: api.meta.serverSecret(),
              },
            },
          });
        let controller = newController(ctl);
        let windowMs = 30_000;
        try {
          for (const s of steps) {
            await apply(s);
            const model = ClusterModel.of(asyncOf(ctl));
            await model.refresh();
            const expected = fromRepos(api);
            assert.deepEqual(ofModel(model), expected, `after ${JSON.stringify(s)}`);

            assert.deepEqual(
              model.pending().map((t) => t.id),
              api.tasks.pending().map((t) => t.id),
              'pending order',
            );
            // The budgets' ledger window, read incrementally, over a window that mostly moves forward.
            const fromMs = clock.now() - windowMs;
            assert.deepEqual(
              await model.overlapping(fromMs, clock.now() + 1),
              api.ledger.overlapping(fromMs, clock.now() + 1),
              'ledger window',
            );
          }
          // The sliced reload (slices of separate snapshots, then what changed meanwhile) reads the same.
          // Slices of 2 rows, and between slices the API goes on writing: each pause replays one more step.
          const fresh = new ClusterModel(asyncOf(ctl));
          let replay = 0;
          await fresh.reload(async () => {
            const again = steps[replay++ % steps.length]!;
            if (again.kind !== 'pass' && again.kind !== 'crash') await apply(again);
          }, 2);
          assert.deepEqual(ofModel(fresh), fromRepos(api), 'a reload in slices with writes between them');
        } finally {
          await controller.stop({ abortCalls: true });
          ctl.close();
          api.close();
          rmSync(file, { force: true });
        }

        async function apply(s: Step): Promise<void> {
          const now = clock.now();
          const tasks = api.tasks.listHeaders({ states: ['pending', 'placed', 'running'] });
          const agents = api.agents.list({ states: NOT_TERMINATED_AGENT_STATES });
          const pickTask = (n: number) => tasks[n % Math.max(1, tasks.length)];
          const pickAgent = (n: number) => agents[n % Math.max(1, agents.length)];
          try {
            switch (s.kind) {
              case 'submit':
                api.tasks.insert(
                  Array.from({ length: s.count }, (_, i) => ({
                    owner: { team: `t${s.team}`, project: 'p', job: `j${i}` },
                    resources: SHAPES[s.shape]!,
                    priority: s.priority,
                    revocable: false,
                    constraints: s.privateOnly ? { privateOnly: true } : {},
                    command: ['true'],
                  })),
                  now,
                );
                return;
              case 'add-agent':
                api.agents.insert(
                  {
                    name: `p${now}`,
                    location: { kind: 'private', site: 'lab' },
                    capacity: resources({ cpuMillis: 1000 * s.size, memoryMiB: 2048 * s.size }),
                    labels: {},
                    lifecycle: 'private',
                    pricePerHourMicros: 0,
                    state: 'registered',
                    instanceId: null,
                    providerId: null,
                    intentId: null,
                  },
                  now,
                );
                return;
              case 'heartbeat': {
                const a = pickAgent(s.pick);
                if (a) api.agents.heartbeat(a.id, now);
                return;
              }
              case 'place': {
                const t = pickTask(s.task);
                const a = pickAgent(s.agent);
                if (t && a) api.tasks.place(t.id, a.id, now);
                return;
              }
              case 'claim': {
                const a = pickAgent(s.pick);
                if (a) api.tasks.claim(a.id, now);
                return;
              }
              case 'finish': {
                const t = pickTask(s.pick);
                if (t?.agentId) api.tasks.finish(t.id, t.agentId, { exitCode: s.exitCode, outputTail: 'out' }, now);
                return;
              }
              case 'cancel': {
                const t = pickTask(s.pick);
                if (t) api.tasks.cancel(t.id, 'cancelled', now);
                return;
              }
              case 'requeue-agent': {
                const a = pickAgent(s.pick);
                if (a) api.tasks.requeueAgent(a.id, 'requeued', now);
                return;
              }
              case 'agent-state': {
                const a = pickAgent(s.pick);
                if (a) api.agents.setState(a.id, s.state, 'test', now);
                return;
              }
              case 'note-waiting': {
                const t = pickTask(s.pick);
                if (t) api.tasks.noteWaiting([{ taskId: t.id, reason: s.reason }]);
                return;
              }
              case 'register': {
                const a = agents.filter((x) => x.state === 'provisioning')[s.pick % Math.max(1, agents.length)];
                if (a)
                  api.agents.register(
                    a.id,
                    { capacity: resources({ cpuMillis: 2000, memoryMiB: 4096 }), labels: {} },
                    now,
                  );
                return;
              }
              case 'advance':
                clock.advance(s.ms);
                return;
              case 'window':
                windowMs = s.ms;
                return;
              case 'pass':
                await controller.runPass();
                await controller.settle();
                return;
              case 'crash':
                // The controller's process dies: its connection and model go; a fresh one starts on the same file.
                await controller.stop({ abortCalls: true });
                ctl.close();
                clock.advance(10_001);
                ctl = openSqliteStore(file);
                controller = newController(ctl);
                return;
            }
          } catch (err) {
            // Refusals the store makes on purpose change nothing; anything else is a failure.
            if (!(err instanceof ConflictError) && !(err instanceof NotFoundError)) throw err;
          }
        }
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });
});
