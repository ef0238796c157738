/**
 * The control loop never reads a task's payload (issue 13): commands and output tails can be 64 KiB each, and a pass
 * over 100,000 pending tasks must not load them. SQLite's own authorizer reports every column each statement the
 * controller prepares reads, on the store's real connection.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync, StatementSync, constants } from 'node:sqlite';
import { after, before, describe, it } from 'mocha';
import { Controller } from '../../src/autoscaler/controller.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { resources } from '../../src/core/resources.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { BuiltinPool } from '../../src/pool/builtin/builtin-pool.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { NewTask, Store } from '../../src/store/store.ts';
import { offering, policy } from '../fakes/builders.ts';
import { FakeProvider } from '../fakes/fake-provider.ts';
import { asyncOf } from '../helpers/async-store.ts';

const small = offering({
  providerId: 'fake:test',
  provider: 'fake',
  instanceType: 'f.small',
  pricePerHourMicros: 100_000,
});

function newTask(team: string): NewTask {
  return {
    owner: { team, project: 'p', job: 'j' },
    resources: resources({ cpuMillis: 1000, memoryMiB: 1024 }),
    priority: 0,
    revocable: false,
    constraints: {},
    command: ['sh', '-c', 'x'.repeat(60 * 1024)],
  };
}

describe('controller reads', () => {
  let dir: string;
  let store: Store;
  const originalPrepare = DatabaseSync.prototype.prepare;
  const RUNS = ['all', 'get', 'run', 'iterate'] as const;
  const originalRuns = RUNS.map((name) => StatementSync.prototype[name]);
  const watched = new WeakSet<DatabaseSync>();
  /** The `table.column`s each statement reads, as SQLite's authorizer reported them when it was prepared. */
  const columnsOf = new Map<string, Set<string>>();
  /** Statements executed while `recording` is on (the store prepares each once and reuses it). */
  const executed = new Set<string>();
  let recording = false;
  let preparing = '';

  function readsWhileRecording(): Set<string> {
    return new Set([...executed].flatMap((sql) => [...(columnsOf.get(sql) ?? [])]));
  }

  before(() => {
    // Every connection opened from now on reports the columns each statement reads.
    DatabaseSync.prototype.prepare = function (this: DatabaseSync, sql: string) {
      if (!watched.has(this)) {
        watched.add(this);
        this.setAuthorizer((action, table, column) => {
          if (action === constants.SQLITE_READ) {
            const columns = columnsOf.get(preparing) ?? new Set<string>();
            columns.add(`${table}.${column}`);
            columnsOf.set(preparing, columns);
          }
          return constants.SQLITE_OK;
        });
      }
      preparing = sql;
      return originalPrepare.call(this, sql);
    } as typeof originalPrepare;
    RUNS.forEach((name, index) => {
      const original = originalRuns[index] as (...args: unknown[]) => unknown;
      (StatementSync.prototype as unknown as Record<string, unknown>)[name] = function (
        this: StatementSync,
        ...args: unknown[]
      ) {
        if (recording) executed.add(this.sourceSQL);
        return original.apply(this, args);
      };
    });
    dir = mkdtempSync(join(tmpdir(), 'spillway-reads-'));
    store = openSqliteStore(join(dir, 'spillway.db'));
    store.meta.bindClusterId('test-cluster');
  });

  after(() => {
    DatabaseSync.prototype.prepare = originalPrepare;
    RUNS.forEach((name, index) => {
      (StatementSync.prototype as unknown as Record<string, unknown>)[name] = originalRuns[index];
    });
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('plans, launches, places and checks budgets without reading a command or an output', async () => {
    const clock = new ManualClock();
    store.policy.seed(policy({ pendingGraceMs: 5_000, idleTtlMs: 10_000, maxProvisionMs: 30_000 }), clock.now());
    const provider = new FakeProvider({ offerings: [small], now: () => clock.now() });
    const controller = new Controller({
      store: asyncOf(store),
      pool: new BuiltinPool({ store: asyncOf(store), logger: silentLogger(), lostAfterMs: 3_600_000 }),
      providers: [provider],
      clock,
      logger: silentLogger(),
      settings: { passIntervalMs: 1_000, reconcileEveryPasses: 1, leaseTtlMs: 10_000, unavailableForMs: 60_000 },
      identity: {
        holderId: 'c1',
        launch: {
          clusterId: 'test-cluster',
          controllerUrl: 'http://127.0.0.1:1',
          caBundle: '',
          serverSecret: store.meta.serverSecret(),
        },
      },
    });
    store.budgets.set(
      { name: 'ml', scope: { kind: 'team', team: 'ml' }, period: 'day', capMicros: 100_000_000, onCap: 'finish' },
      'test',
      clock.now(),
    );
    store.tasks.insert([newTask('ml'), newTask('vision')], clock.now());
    clock.advance(5_000);
    recording = true;
    await controller.runPass();
    await controller.settle();
    recording = false;
    const [agent] = store.agents.list({ states: ['provisioning'] });
    assert.ok(agent, 'the first pass launched an instance');
    store.agents.register(agent.id, { capacity: agent.capacity, labels: {} }, clock.now());
    clock.advance(1_000);
    recording = true;
    await controller.runPass();
    await controller.settle();
    recording = false;
    assert.ok(store.tasks.list({ states: ['placed'] }).length > 0, 'the second pass placed tasks');
    const reads = readsWhileRecording();
    // What it must read, so the authorizer is known to be watching the controller's connection.
    assert.ok(reads.has('tasks.cpu_millis') && reads.has('tasks.team'), [...reads].join(' '));
    assert.ok(reads.has('budgets.cap_micros'), 'the budget checks ran');
    assert.ok(!reads.has('tasks.command'), 'a pass read tasks.command');
    assert.ok(!reads.has('tasks.output_tail'), 'a pass read tasks.output_tail');
  });
});
