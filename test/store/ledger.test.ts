import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { resources } from '../../src/core/resources.ts';
import type { AgentInterval } from '../../src/cost-model/ledger.ts';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.ts';
import type { Store } from '../../src/store/store.ts';
import { T0, TempStores, addAgent, launchIntent, newTask, offering, terminateIntent } from './helpers.ts';

const ML = { team: 'ml', project: 'vision', job: 'train' };
const SEARCH = { team: 'search', project: 'index', job: 'crawl' };

describe('sqlite store: the cost ledger', () => {
  let temp: TempStores;
  let store: Store;

  beforeEach(() => {
    temp = new TempStores();
    store = temp.open();
  });
  afterEach(() => temp.cleanup());

  /** A launch of `instanceIds` for two owners, confirmed at `atMs`. */
  function launch(instanceIds: readonly string[], atMs = T0 + 1_000) {
    const intent = launchIntent({
      offering: offering({ instanceType: 'c7i.xlarge', lifecycle: 'spot', pricePerHourMicros: 178_500 }),
      count: instanceIds.length,
      owners: [
        { owner: ML, share: 0.75 },
        { owner: SEARCH, share: 0.25 },
      ],
    });
    store.intents.insert(intent);
    store.intents.completeLaunch(intent.id, instanceIds, atMs);
    return intent;
  }

  describe('agent intervals', () => {
    it('opens a cloud agent’s interval when its launch is confirmed, with its price and the launch’s owners', () => {
      const intent = launch(['i-1']);
      const agent = store.agents.byInstance(intent.providerId, 'i-1')!;
      assert.deepEqual(store.ledger.agentInterval(agent.id), {
        agentId: agent.id,
        name: 'i-1',
        location: agent.location,
        provider: 'aws-ec2',
        providerId: 'aws-ec2:us-east-1',
        instanceId: 'i-1',
        instanceType: 'c7i.xlarge',
        lifecycle: 'spot',
        pricePerHourMicros: 178_500,
        capacity: agent.capacity,
        intentId: intent.id,
        owners: intent.owners,
        startMs: T0 + 1_000,
        endMs: null,
      } satisfies AgentInterval);
    });

    it('closes it when the termination is confirmed, and not before', () => {
      const intent = launch(['i-1']);
      const agent = store.agents.byInstance(intent.providerId, 'i-1')!;
      store.agents.setState(agent.id, 'lost', 'no heartbeat', T0 + 5_000);
      assert.equal(store.ledger.agentInterval(agent.id)?.endMs, null, 'a lost instance may still be billing');
      const terminate = terminateIntent({ instanceIds: ['i-1'] });
      store.intents.insert(terminate);
      store.intents.completeTerminate(terminate, T0 + 9_000);
      assert.equal(store.ledger.agentInterval(agent.id)?.endMs, T0 + 9_000);
      store.intents.completeTerminate(terminate, T0 + 20_000);
      assert.equal(store.ledger.agentInterval(agent.id)?.endMs, T0 + 9_000, 'closing twice changes nothing');
    });

    it('starts an adopted instance’s interval when its intent was written: it may have billed since', () => {
      const intent = launchIntent({ createdAtMs: T0 - 60_000 });
      store.intents.insert(intent);
      store.intents.adoptInstances(intent.id, ['i-9'], T0 + 300_000);
      const agent = store.agents.byInstance(intent.providerId, 'i-9')!;
      assert.equal(store.ledger.agentInterval(agent.id)?.startMs, T0 - 60_000);
      store.intents.completeLaunch(intent.id, ['i-9'], T0 + 400_000);
      assert.equal(store.ledger.agentInterval(agent.id)?.startMs, T0 - 60_000, 'a later confirmation keeps it');
    });

    it('opens a private agent’s interval when it registers and closes it when lost or terminated', () => {
      const rack = addAgent(store, {}, T0);
      const interval = store.ledger.agentInterval(rack.id)!;
      assert.deepEqual(
        [interval.provider, interval.lifecycle, interval.owners, interval.startMs],
        ['private', 'private', [], T0],
      );
      store.agents.setState(rack.id, 'lost', 'no heartbeat', T0 + 50);
      assert.equal(store.ledger.agentInterval(rack.id)?.endMs, T0 + 50);
      store.agents.setState(rack.id, 'terminated', 'gone', T0 + 90);
      assert.equal(store.ledger.agentInterval(rack.id)?.endMs, T0 + 50);
    });

    it('records the capacity an agent registers with', () => {
      const intent = launch(['i-1']);
      const agent = store.agents.byInstance(intent.providerId, 'i-1')!;
      const capacity = resources({ cpuMillis: 3_900, memoryMiB: 7_800, netMbps: 10_000 });
      store.agents.register(agent.id, { capacity, labels: {} }, T0 + 2_000);
      assert.deepEqual(store.ledger.agentInterval(agent.id)?.capacity, capacity);
    });
  });

  describe('usage intervals', () => {
    /** A registered cloud agent of 2 CPUs and 8 GiB and a task of 1 CPU and 2 GiB placed on it. */
    function placed(task = newTask({ owner: SEARCH })) {
      const intent = launch(['i-1']);
      const agent = store.agents.byInstance(intent.providerId, 'i-1')!;
      store.agents.register(agent.id, { capacity: resources({ cpuMillis: 2_000, memoryMiB: 8_192 }), labels: {} }, T0);
      const [inserted] = store.tasks.insert([task], T0);
      store.tasks.place(inserted!.id, agent.id, T0 + 10);
      return { agentId: agent.id, taskId: inserted!.id };
    }

    it('opens a task’s run when the agent claims it and closes it when it finishes', () => {
      const { agentId, taskId } = placed();
      assert.deepEqual(store.ledger.usageOf(taskId), [], 'placed is not running');
      store.tasks.claim(agentId, T0 + 20);
      store.tasks.finish(taskId, agentId, { exitCode: 0, outputTail: '' }, T0 + 5_020);
      const [run, ...more] = store.ledger.usageOf(taskId);
      assert.deepEqual(more, []);
      assert.deepEqual(
        { ...run, id: 0 },
        { id: 0, taskId, agentId, owner: SEARCH, share: 0.5, startMs: T0 + 20, endMs: T0 + 5_020 },
      );
    });

    const closers = [
      { name: 'a requeue', close: (s: Store, t: string, a: string) => s.tasks.requeue(t, a, 'handed back', T0 + 99) },
      { name: 'a cancel', close: (s: Store, t: string) => s.tasks.cancel(t, 'not needed', T0 + 99) },
      {
        name: 'the agent’s termination',
        close: (s: Store, _t: string, a: string) => s.agents.setState(a, 'terminated', 'x', T0 + 99),
      },
      {
        name: 'the agent being lost',
        close: (s: Store, _t: string, a: string) => s.agents.setState(a, 'lost', 'x', T0 + 99),
      },
      {
        name: 'a requeue of the whole agent',
        close: (s: Store, _t: string, a: string) => s.tasks.requeueAgent(a, 'x', T0 + 99),
      },
    ];
    for (const c of closers) {
      it(`closes a task’s run at ${c.name}`, () => {
        const { agentId, taskId } = placed();
        store.tasks.claim(agentId, T0 + 20);
        c.close(store, taskId, agentId);
        assert.deepEqual(
          store.ledger.usageOf(taskId).map((u) => [u.startMs, u.endMs]),
          [[T0 + 20, T0 + 99]],
        );
      });
    }

    it('opens one run per claim: a requeued task placed and claimed again gets a second', () => {
      const { agentId, taskId } = placed();
      store.tasks.claim(agentId, T0 + 20);
      store.tasks.requeue(taskId, agentId, 'handed back', T0 + 30);
      store.tasks.place(taskId, agentId, T0 + 40);
      store.tasks.claim(agentId, T0 + 50);
      assert.deepEqual(
        store.ledger.usageOf(taskId).map((u) => [u.startMs, u.endMs]),
        [
          [T0 + 20, T0 + 30],
          [T0 + 50, null],
        ],
      );
    });

    it('writes nothing when the transaction around a transition fails', () => {
      const { agentId, taskId } = placed();
      assert.throws(() =>
        store.transaction(() => {
          store.tasks.claim(agentId, T0 + 20);
          throw new Error('boom');
        }),
      );
      assert.deepEqual(store.ledger.usageOf(taskId), []);
    });
  });

  describe('direct recording (pools with their own queue)', () => {
    it('is idempotent: opening twice or closing what is closed changes nothing', () => {
      const base = {
        agentId: 'a-x',
        name: 'x',
        location: { kind: 'cloud', provider: 'gcp-compute', region: 'europe-west4', zone: 'europe-west4-a' },
        provider: 'gcp-compute',
        providerId: 'gcp-compute:europe-west4',
        instanceId: 'x',
        instanceType: 'n2-standard-4',
        lifecycle: 'on-demand',
        pricePerHourMicros: 194_236,
        capacity: resources({ cpuMillis: 4_000, memoryMiB: 16_384 }),
        intentId: null,
        owners: [],
        startMs: T0,
      } as const;
      store.ledger.openAgentInterval(base);
      store.ledger.openAgentInterval({ ...base, startMs: T0 + 5 });
      store.ledger.closeAgentInterval('a-x', T0 + 100);
      store.ledger.closeAgentInterval('a-x', T0 + 200);
      assert.deepEqual(
        [store.ledger.agentInterval('a-x')?.startMs, store.ledger.agentInterval('a-x')?.endMs],
        [T0, T0 + 100],
      );

      const run = { taskId: 'slurm-1', agentId: 'a-x', owner: ML, share: 0.25, startMs: T0 + 10 };
      store.ledger.openUsageInterval(run);
      store.ledger.openUsageInterval({ ...run, startMs: T0 + 11 });
      store.ledger.closeUsageInterval('slurm-1', T0 + 50);
      store.ledger.closeUsageInterval('slurm-1', T0 + 60);
      store.ledger.closeUsageInterval('never-opened', T0 + 60);
      assert.deepEqual(
        store.ledger.usageOf('slurm-1').map((u) => [u.startMs, u.endMs]),
        [[T0 + 10, T0 + 50]],
      );
    });

    it('reads the intervals overlapping a window, and the open ones', () => {
      const at = (startMs: number, endMs: number | null, name: string): void => {
        store.ledger.openAgentInterval({
          agentId: name,
          name,
          location: { kind: 'private', site: 'x' },
          provider: 'private',
          providerId: null,
          instanceId: null,
          instanceType: '',
          lifecycle: 'private',
          pricePerHourMicros: 0,
          capacity: resources({ cpuMillis: 1_000 }),
          intentId: null,
          owners: [],
          startMs,
        });
        if (endMs !== null) store.ledger.closeAgentInterval(name, endMs);
      };
      at(T0, T0 + 10, 'before');
      at(T0, T0 + 100, 'into');
      at(T0 + 120, T0 + 150, 'inside');
      at(T0 + 150, null, 'open');
      at(T0 + 200, T0 + 300, 'after');
      assert.deepEqual(
        store.ledger.overlapping(T0 + 50, T0 + 200).agents.map((a) => a.agentId),
        ['into', 'inside', 'open'],
      );
    });
  });

  describe('the upgrade from schema version 1', () => {
    it('opens the ledger with the live agents and running tasks of an older store', () => {
      const v1 = temp.open({ path: `${temp.dir}/old.db`, migrations: MIGRATIONS.slice(0, 1) });
      v1.close();
      const db = new DatabaseSync(`${temp.dir}/old.db`);
      const agent = (id: string, state: string, lifecycle: string, location: object) =>
        db
          .prepare(
            `INSERT INTO agents (id, name, location, cpu_millis, memory_mib, gpus, net_mbps, labels, lifecycle,
               price_per_hour_micros, state, registered_at_ms, last_heartbeat_ms)
             VALUES (?, ?, ?, 4000, 8192, 0, 0, '{}', ?, 100000, ?, ?, ?)`,
          )
          .run(id, id, JSON.stringify(location), lifecycle, state, T0, T0);
      const cloud = { kind: 'cloud', provider: 'aws-ec2', region: 'r', zone: 'z' };
      agent('a-live', 'registered', 'on-demand', cloud);
      agent('a-lost', 'lost', 'spot', cloud);
      agent('a-gone', 'terminated', 'on-demand', cloud);
      agent('a-rack', 'lost', 'private', { kind: 'private', site: 'dc' });
      db.prepare(
        `INSERT INTO tasks (id, state, agent_id, team, project, job, cpu_millis, memory_mib, gpus, net_mbps, priority,
           revocable, constraints, command, created_at_ms, pending_since_ms, started_at_ms)
         VALUES ('t-1', 'running', 'a-live', 'ml', 'vision', 'train', 1000, 4096, 0, 0, 0, 0, '{}', '[]', ?, ?, ?)`,
      ).run(T0, T0, T0 + 7);
      db.close();

      const upgraded = temp.open({ path: `${temp.dir}/old.db` });
      assert.deepEqual(
        upgraded.ledger.overlapping(T0, T0 + 1).agents.map((a) => [a.agentId, a.provider, a.endMs]),
        [
          ['a-live', 'aws-ec2', null],
          ['a-lost', 'aws-ec2', null],
        ],
      );
      assert.deepEqual(
        upgraded.ledger.usageOf('t-1').map((u) => [u.agentId, u.share, u.startMs, u.endMs]),
        [['a-live', 0.5, T0 + 7, null]],
      );
    });
  });
});
