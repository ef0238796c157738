import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { reconcile, type ReconcileContext } from '../../src/autoscaler/reconcile.ts';
import { NOT_TERMINATED_AGENT_STATES, type Agent } from '../../src/core/agent.ts';
import { ManualClock } from '../../src/core/clock.ts';
import type { Instance } from '../../src/core/instance.ts';
import type { LaunchIntent, TerminateIntent } from '../../src/core/intent.ts';
import { createLogger } from '../../src/log/logger.ts';
import { BuiltinPool } from '../../src/pool/builtin/builtin-pool.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Store } from '../../src/store/store.ts';
import { offering, policy } from '../fakes/builders.ts';
import { FakeProvider } from '../fakes/fake-provider.ts';
import { asyncOf } from '../helpers/async-store.ts';

// reconcile() on its own: a real SQLite store and the builtin pool, providers that keep instances in memory, the
// injected clock, and a real logger whose JSON lines the tests read (what an operator sees).
const CLUSTER = 'test-cluster';
const GRACE = 10_000;
const small = offering({
  providerId: 'fake:test',
  provider: 'fake',
  instanceType: 'f.small',
  pricePerHourMicros: 100_000,
});

interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly [field: string]: unknown;
}

describe('reconcile', () => {
  let dir: string;
  let store: Store;
  let clock: ManualClock;
  let lines: LogLine[];
  let seq: number;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-reconcile-unit-'));
    store = openSqliteStore(join(dir, 'spillway.db'));
    store.meta.bindClusterId(CLUSTER);
    clock = new ManualClock();
    lines = [];
    seq = 0;
  });

  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function context(providers: FakeProvider[], extra: Partial<ReconcileContext> = {}): ReconcileContext {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line));
        done();
      },
    });
    const logger = createLogger({ stream: sink, json: true, level: 'debug' });
    return {
      store: asyncOf(store),
      pool: new BuiltinPool({ store: asyncOf(store), logger, lostAfterMs: 3_600_000 }),
      providers,
      clusterId: CLUSTER,
      clock,
      logger,
      policy: policy({ unknownInstanceGraceMs: GRACE }),
      ...extra,
    };
  }

  /** Log lines with `message`, without the fields every line has. */
  function logged(message: string): Record<string, unknown>[] {
    return lines
      .filter((l) => l.message === message)
      .map(({ level, message: _m, timestamp: _t, ...fields }) => ({ level, ...fields }));
  }

  function provider(id = 'fake:test'): FakeProvider {
    return new FakeProvider({ id, offerings: [small], now: () => clock.now() });
  }

  function launchIntent(providerId: string, count: number): LaunchIntent {
    const intent: LaunchIntent = {
      id: `00000000-0000-4000-8000-${String(++seq).padStart(12, '0')}`,
      kind: 'launch',
      providerId,
      offering: { ...small, providerId },
      count,
      owners: [],
      reason: 'test',
      state: 'pending',
      instanceIds: [],
      createdAtMs: clock.now(),
      updatedAtMs: clock.now(),
      attempts: 0,
      error: '',
    };
    store.intents.insert(intent);
    return intent;
  }

  /** A cloud agent the store knows for `instanceId` at `p` (provisioning, from a confirmed launch). */
  function knownAgent(p: FakeProvider, instanceId: string): Agent {
    const intent = launchIntent(p.id, 1);
    store.intents.completeLaunch(intent.id, [instanceId], clock.now());
    return store.agents.byInstance(p.id, instanceId)!;
  }

  function registered(p: FakeProvider, instanceId: string): Agent {
    const agent = knownAgent(p, instanceId);
    return store.agents.register(agent.id, { capacity: small.capacity, labels: {} }, clock.now());
  }

  function terminateCommand(p: FakeProvider, instanceId: string, agentId: string | null, reason: string) {
    return { kind: 'terminate', agentId, providerId: p.id, instanceId, reason };
  }

  it('skips a provider whose list fails, concluding nothing from it, and goes on with the next', async () => {
    const failing = provider('fake:a');
    const working = provider('fake:b');
    const agent = registered(failing, 'i-a');
    failing.failNext('list', new Error('connection reset'));
    working.addStray('i-stray', CLUSTER, clock.now() - GRACE);
    clock.advance(1);
    const commands = await reconcile(context([failing, working]));
    assert.deepEqual(commands, [
      terminateCommand(working, 'i-stray', null, `instance carries cluster ${CLUSTER}'s tag but no intent launched it`),
    ]);
    assert.equal(store.agents.get(agent.id)?.state, 'registered', 'its instance was not listed, but the list failed');
    assert.deepEqual(logged('skipped reconcile'), [{ level: 'warn', providerId: 'fake:a', error: 'connection reset' }]);
  });

  it('pauses after every 1,000 listed instances and before scanning the agents when told how, deciding the same', async () => {
    const p = provider();
    for (let i = 0; i < 2_500; i++) p.addStray(`i-${String(i).padStart(4, '0')}`, CLUSTER, clock.now() - GRACE);
    clock.advance(1);
    const expected = Array.from({ length: 2_500 }, (_, i) =>
      terminateCommand(p, `i-${String(i).padStart(4, '0')}`, null, `instance carries cluster ${CLUSTER}'s tag but no intent launched it`),
    );
    let pauses = 0;
    let pausesAtScan: number | undefined;
    const counting = context([p], {
      pause: async () => {
        pauses++;
      },
      liveAgents: async () => {
        pausesAtScan = pauses;
        return store.agents.list({ states: NOT_TERMINATED_AGENT_STATES });
      },
    });
    assert.deepEqual(await reconcile(counting), expected);
    assert.equal(pauses, 3, 'after the 1,000th and the 2,000th instance, and once more before the scan of the agents');
    assert.equal(pausesAtScan, 3, 'the scan of the agents comes after the last pause');
    assert.deepEqual(await reconcile(context([p])), expected, 'the same without pausing');
  });

  it('reports instances without the cluster’s tag and leaves them alone, and reports nothing when there are none', async () => {
    const p = provider();
    const pending = launchIntent(p.id, 1);
    p.listIgnoresCluster = true;
    p.addStray('i-theirs', 'someone-else', clock.now() - 10 * GRACE, pending.id);
    const reported: [string, readonly string[]][] = [];
    const onForeign = (providerId: string, ids: readonly string[]) => reported.push([providerId, ids]);
    assert.deepEqual(await reconcile(context([p], { onForeign })), []);
    assert.deepEqual(reported, [[p.id, ['i-theirs']]]);
    assert.deepEqual(logged('ignored foreign instances'), [
      { level: 'warn', providerId: p.id, instanceIds: ['i-theirs'] },
    ]);
    assert.deepEqual((store.intents.get(pending.id) as LaunchIntent).instanceIds, [], 'not adopted');
    assert.deepEqual(await reconcile(context([p])), [], 'no observer: still reported in the log only');

    p.instances.delete('i-theirs');
    reported.length = 0;
    lines.length = 0;
    await reconcile(context([p], { onForeign }));
    assert.deepEqual(reported, []);
    assert.deepEqual(logged('ignored foreign instances'), []);
  });

  it('terminates again an instance that still runs after its agent was closed, once the grace has passed', async () => {
    const p = provider();
    const agent = registered(p, 'i-1');
    store.agents.setState(agent.id, 'terminated', 'released', clock.now());
    p.addStray('i-1', CLUSTER, clock.now());
    const heartbeat = store.agents.get(agent.id)!.lastHeartbeatMs;
    clock.advance(heartbeat + GRACE - 1 - clock.now());
    assert.deepEqual(await reconcile(context([p])), []);
    clock.advance(1);
    assert.deepEqual(await reconcile(context([p])), [
      terminateCommand(p, 'i-1', agent.id, `instance still runs though its agent ${agent.id} was terminated`),
    ]);
  });

  it('leaves alone a listed instance whose agent is live, whatever its tags', async () => {
    const p = provider();
    const agent = registered(p, 'i-1');
    p.addStray('i-1', CLUSTER, clock.now() - 10 * GRACE);
    clock.advance(10 * GRACE);
    assert.deepEqual(await reconcile(context([p])), []);
    assert.equal(store.agents.get(agent.id)?.state, 'registered');
    assert.deepEqual(logged('adopted instance'), []);
  });

  it('adopts instances tagged with a launch intent of this provider, and completes it once all are found', async () => {
    const p = provider();
    const intent = launchIntent(p.id, 2);
    // Launched before a downtime longer than the grace: adopted all the same, and not terminated.
    p.addStray('i-1', CLUSTER, clock.now(), intent.id);
    clock.advance(10 * GRACE);
    assert.deepEqual(await reconcile(context([p])), []);
    const partly = store.intents.get(intent.id) as LaunchIntent;
    assert.deepEqual([partly.state, partly.instanceIds], ['pending', ['i-1']]);
    assert.equal(store.agents.byInstance(p.id, 'i-1')?.state, 'provisioning');
    assert.deepEqual(logged('adopted instance'), [
      { level: 'info', providerId: p.id, instanceId: 'i-1', intentId: intent.id },
    ]);
    assert.deepEqual(logged('completed launch from found instances'), []);

    p.addStray('i-2', CLUSTER, clock.now(), intent.id);
    clock.advance(10 * GRACE);
    assert.deepEqual(await reconcile(context([p])), [], 'adopted agents are known: not terminated either');
    const whole = store.intents.get(intent.id) as LaunchIntent;
    assert.deepEqual([whole.state, [...whole.instanceIds].sort()], ['done', ['i-1', 'i-2']]);
    assert.deepEqual(logged('completed launch from found instances'), [
      { level: 'info', intentId: intent.id, instanceIds: ['i-1', 'i-2'] },
    ]);
  });

  it('adopts an instance of a launch intent that already failed, and leaves the intent failed', async () => {
    const p = provider();
    const intent = launchIntent(p.id, 1);
    store.intents.fail(intent.id, 'gave up', clock.now());
    p.addStray('i-late', CLUSTER, clock.now(), intent.id);
    assert.deepEqual(await reconcile(context([p])), []);
    assert.equal(store.agents.byInstance(p.id, 'i-late')?.state, 'provisioning');
    const stored = store.intents.get(intent.id) as LaunchIntent;
    assert.deepEqual([stored.state, stored.instanceIds], ['failed', ['i-late']]);
    assert.deepEqual(logged('completed launch from found instances'), []);
  });

  it('treats an instance tagged with an unknown intent, a terminate intent or another provider’s launch as unknown', async () => {
    const p = provider('fake:a');
    const elsewhere = launchIntent('fake:b', 1);
    const terminate: TerminateIntent = {
      id: '00000000-0000-4000-8000-999999999999',
      kind: 'terminate',
      providerId: p.id,
      instanceIds: ['i-x'],
      reason: 'test',
      state: 'pending',
      createdAtMs: clock.now(),
      updatedAtMs: clock.now(),
      attempts: 0,
      error: '',
    };
    store.intents.insert(terminate);
    const launchedAtMs = clock.now();
    p.addStray('i-unknown', CLUSTER, launchedAtMs, '00000000-0000-4000-8000-000000000404');
    p.addStray('i-terminate', CLUSTER, launchedAtMs, terminate.id);
    p.addStray('i-elsewhere', CLUSTER, launchedAtMs, elsewhere.id);
    clock.advance(GRACE - 1);
    assert.deepEqual(await reconcile(context([p])), [], 'within the grace: a list may lag a launch');
    clock.advance(1);
    const reason = `instance carries cluster ${CLUSTER}'s tag but no intent launched it`;
    assert.deepEqual(await reconcile(context([p])), [
      terminateCommand(p, 'i-unknown', null, reason),
      terminateCommand(p, 'i-terminate', null, reason),
      terminateCommand(p, 'i-elsewhere', null, reason),
    ]);
    assert.deepEqual(logged('adopted instance'), []);
    assert.deepEqual((store.intents.get(elsewhere.id) as LaunchIntent).instanceIds, []);
  });

  it('closes agents whose instance is gone: registered ones at once, provisioning ones after the grace', async () => {
    const p = provider('fake:a');
    const other = provider('fake:b');
    const oldProvisioning = knownAgent(p, 'i-old');
    clock.advance(1);
    const youngProvisioning = knownAgent(p, 'i-young');
    const lost = registered(p, 'i-lost');
    store.agents.setState(lost.id, 'lost', 'no heartbeat for 12 s', clock.now());
    const otherProviders = registered(other, 'i-b');
    const released = registered(p, 'i-released');
    store.agents.setState(released.id, 'terminated', 'released', clock.now());
    const noInstance = store.agents.insert(
      {
        name: 'no-instance',
        location: { kind: 'cloud', provider: 'fake', region: 'r', zone: 'z' },
        capacity: small.capacity,
        labels: {},
        lifecycle: 'on-demand',
        pricePerHourMicros: 100_000,
        state: 'registered',
        instanceId: null,
        providerId: p.id,
        intentId: null,
      },
      clock.now(),
    );
    clock.advance(GRACE - 2);
    const live = registered(p, 'i-live');
    p.addStray('i-live', CLUSTER, clock.now(), null);
    const gone = registered(p, 'i-gone');
    clock.advance(1);
    // Now: i-old was recorded GRACE ago, i-young GRACE - 1 ago; i-gone 1 ms ago, but it had registered.
    await reconcile(context([p]));

    const stateOf = (a: Agent) => [store.agents.get(a.id)?.state, store.agents.get(a.id)?.reason];
    const closed = ['terminated', 'instance gone at the provider'];
    assert.deepEqual(stateOf(gone), closed);
    assert.deepEqual(stateOf(oldProvisioning), closed);
    assert.deepEqual(stateOf(lost), closed);
    assert.equal(store.agents.get(youngProvisioning.id)?.state, 'provisioning');
    assert.equal(store.agents.get(live.id)?.state, 'registered');
    assert.equal(store.agents.get(otherProviders.id)?.state, 'registered');
    assert.deepEqual(stateOf(released), ['terminated', 'released'], 'a closed agent is left closed');
    assert.equal(store.agents.get(noInstance.id)?.state, 'registered', 'no instance id: nothing to look for');
    assert.deepEqual(
      logged('lost agent')
        .map((l) => [l['agentId'], l['reason']])
        .sort(),
      [
        [oldProvisioning.id, 'its instance is gone at the provider'],
        [gone.id, 'its instance is gone at the provider'],
      ].sort(),
      'the pool is told of each (returning its tasks to pending), not again of one already lost',
    );
    assert.deepEqual(
      logged('closed agent')
        .map((l) => [l['agentId'], l['instanceId'], l['reason'], l['level']])
        .sort(),
      [
        [oldProvisioning.id, 'i-old', 'instance gone', 'warn'],
        [lost.id, 'i-lost', 'instance gone', 'warn'],
        [gone.id, 'i-gone', 'instance gone', 'warn'],
      ].sort(),
    );
  });

  it('does not close an agent recorded once the list had begun: the list may not show its instance yet', async () => {
    const p = provider();
    let raced: Agent | undefined;
    const racing = Object.assign(p, {
      list: async (clusterId: string): Promise<Instance[]> => {
        const listed = await FakeProvider.prototype.list.call(p, clusterId);
        // Launched and registered while the first list was on its way, at the instant it began.
        raced ??= registered(p, 'i-raced');
        return listed;
      },
    });
    await reconcile(context([racing], { policy: policy({ unknownInstanceGraceMs: 0 }) }));
    assert.equal(store.agents.get(raced!.id)?.state, 'registered');
    clock.advance(1);
    await reconcile(context([racing], { policy: policy({ unknownInstanceGraceMs: 0 }) }));
    assert.equal(store.agents.get(raced!.id)?.state, 'terminated', 'gone at the next list');
  });
});
