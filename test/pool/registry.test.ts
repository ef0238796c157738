import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'mocha';
import type { ManualClock } from '../../src/core/clock.ts';
import { bootstrapCredential } from '../../src/core/credentials.ts';
import { AccessError, ConflictError, NotFoundError } from '../../src/core/errors.ts';
import { newIntentId } from '../../src/core/ids.ts';
import { DEMO_POLICY } from '../../src/core/policy.ts';
import { INTERRUPTION_REASON } from '../../src/core/interruption.ts';
import { resources } from '../../src/core/resources.ts';
import { AgentRegistry, type RegistrationCaller } from '../../src/pool/builtin/registry.ts';
import { TooManyFailuresError } from '../../src/pool/builtin/registration-limits.ts';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { AsyncStore } from '../../src/store/async-store.ts';
import type { TokenRecord } from '../../src/store/store.ts';
import { launchIntent, offering } from '../fakes/builders.ts';
import { newTask } from '../store/helpers.ts';
import type { LogCapture } from '../helpers/log-capture.ts';
import { openRegistryFixture, REQUEST, type RegistryFixture } from './registry-fixture.ts';
import { dumpSqlite } from '../helpers/sqlite-dump.ts';

describe('agent registry', () => {
  let dbPath: string;
  let store: SqliteStore;
  /** The registry's view of `store`: the asynchronous port, as serve gives it. */
  let asyncStore: AsyncStore;
  let clock: ManualClock;
  let logs: LogCapture;
  let registry: AgentRegistry;
  let registrationToken: TokenRecord;

  let fixture: RegistryFixture;

  beforeEach(() => {
    fixture = openRegistryFixture('spillway-registry-');
    ({ dbPath, store, asyncStore, clock, logs, registry, registrationToken } = fixture);
  });
  afterEach(() => fixture.close());

  const viaToken = (): RegistrationCaller => ({ kind: 'token', token: registrationToken });

  /**
   * A registry on a view of the store whose `agents.<method>` is replaced (given the real repository): what another
   * controller, or a failing database, does between two statements of a registry call.
   */
  function registryWithAgentMethod(
    method: keyof AsyncStore['agents'],
    replace: (agents: AsyncStore['agents']) => (...args: never[]) => Promise<unknown>,
  ): AgentRegistry {
    const view = new Proxy(asyncStore, {
      get: (target, property) =>
        property !== 'agents'
          ? Reflect.get(target, property)
          : new Proxy(target.agents, {
              get: (agents, name) => (name === method ? replace(agents) : Reflect.get(agents, name)),
            }),
    });
    return new AgentRegistry({
      store: view,
      clock,
      heartbeatIntervalMs: 1_000,
      pollIntervalMs: 250,
      logger: logs.logger,
    });
  }

  /** Launches `instanceId` and registers its agent with the launch's bootstrap credential; returns the agent id. */
  async function registerCloudAgent(instanceId: string): Promise<string> {
    const credential = launch([instanceId]);
    const { agentId } = await registry.register(
      { kind: 'bootstrap', credential },
      { ...REQUEST, instanceId },
      { instanceId },
    );
    return agentId;
  }

  function launch(instanceIds: string[], kind: 'launch' | 'terminate' = 'launch'): string {
    const id = newIntentId();
    if (kind === 'launch') {
      store.intents.insert(launchIntent(offering({ providerId: 'local:test' }), { id, createdAtMs: clock.now() }));
      store.intents.completeLaunch(id, instanceIds, clock.now());
    } else {
      store.intents.insert({
        id,
        kind: 'terminate',
        providerId: 'local:test',
        instanceIds,
        reason: 'test',
        state: 'pending',
        createdAtMs: clock.now(),
        updatedAtMs: clock.now(),
        attempts: 0,
        error: '',
      });
    }
    return bootstrapCredential(store.meta.serverSecret(), id);
  }

  function placeTasks(agentId: string, count: number): string[] {
    const tasks = store.tasks.insert(
      Array.from({ length: count }, () => ({
        owner: { team: 't', project: 'p', job: 'j' },
        resources: resources({ cpuMillis: 100, memoryMiB: 64 }),
        priority: 0,
        revocable: true,
        constraints: {},
        command: ['true'],
      })),
      clock.now(),
    );
    for (const task of tasks) store.tasks.place(task.id, agentId, clock.now());
    return tasks.map((t) => t.id);
  }

  it('refuses a registration token revoked after the caller was authenticated, writing nothing', async () => {
    // The API authenticated the caller (this record), then the token was revoked before the registration ran.
    const authenticated = viaToken();
    store.tokens.revoke(registrationToken.id, clock.now());
    const before = dumpSqlite(dbPath);
    await assert.rejects(registry.register(authenticated, REQUEST), (err: unknown) => {
      assert.ok(err instanceof AccessError);
      assert.equal(err.status, 401);
      assert.match(err.message, /registration token tok-reg was revoked/);
      return true;
    });
    assert.deepEqual(dumpSqlite(dbPath), before);
  });

  it('refuses a people token or an agent’s own token as a registration token', async () => {
    const admin = store.tokens.create({ id: 'tok-adm', role: 'admin', name: 'a', agentId: null, createdAtMs: 0 }, 'h1');
    await assert.rejects(
      registry.register({ kind: 'token', token: admin }, REQUEST),
      (err) => err instanceof AccessError && err.status === 403,
    );
    const { agentId } = await registry.register(viaToken(), REQUEST);
    const bound = store.tokens.list().find((t) => t.agentId === agentId);
    assert.ok(bound);
    await assert.rejects(
      registry.register({ kind: 'token', token: bound }, REQUEST),
      (err) => err instanceof AccessError && err.status === 403,
    );
  });

  it('limits failed registrations per credential and per address, on the injected clock, and audits each refusal', async () => {
    const limited = new AgentRegistry({
      store: asyncStore,
      clock,
      heartbeatIntervalMs: 1_000,
      pollIntervalMs: 250,
      logger: logs.logger,
      failureLimit: { burst: 2, refillPerSecond: 0.5 },
    });
    const forged = { kind: 'bootstrap', credential: launch(['i-1']).slice(0, -2) + 'xx' } as const;
    const request = { ...REQUEST, instanceId: 'i-1' };
    const from = (address: string) => ({ address });
    for (let i = 0; i < 2; i++) {
      await assert.rejects(limited.registerAttested(forged, request, from('10.0.0.1')), /credential is not valid/);
    }
    await assert.rejects(limited.registerAttested(forged, request, from('10.0.0.1')), TooManyFailuresError);
    // The credential is spent from any address; the address is spent for any credential that does not
    // authenticate, and for none that does.
    await assert.rejects(limited.registerAttested(forged, request, from('10.0.0.2')), /from this credential/);
    const otherForged = { kind: 'bootstrap', credential: launch(['i-2']).slice(0, -2) + 'yy' } as const;
    await assert.rejects(limited.registerAttested(otherForged, request, from('10.0.0.1')), /from this address/);
    const same = await limited.registerAttested(viaToken(), REQUEST, from('10.0.0.1'));
    assert.equal(store.agents.get(same.agentId)?.state, 'registered');
    const other = await limited.registerAttested(viaToken(), REQUEST, from('10.0.0.3'));
    assert.equal(store.agents.get(other.agentId)?.state, 'registered');
    clock.advance(2_000);
    await assert.rejects(limited.registerAttested(forged, request, from('10.0.0.2')), /credential is not valid/);
    const refused = store.audit.list(100).filter((e) => e.action === 'agent.register.refused');
    assert.deepEqual(refused.map((e) => (e.detail as { address: string; reason: string }).address).sort(), [
      '10.0.0.1',
      '10.0.0.1',
      '10.0.0.2',
    ]);
  });

  it('refuses a credential of a terminate intent with 401', async () => {
    const credential = launch(['i-1'], 'terminate');
    await assert.rejects(
      registry.register({ kind: 'bootstrap', credential }, { ...REQUEST, instanceId: 'i-1' }, { instanceId: 'i-1' }),
      (err) => err instanceof AccessError && err.status === 401 && /names no launch intent/.test(err.message),
    );
  });

  it('changes nothing when a registration fails', async () => {
    const credential = launch(['i-1']);
    await registry.register(
      { kind: 'bootstrap', credential },
      { ...REQUEST, instanceId: 'i-1' },
      { instanceId: 'i-1' },
    );
    const before = dumpSqlite(dbPath);
    await assert.rejects(
      registry.register({ kind: 'bootstrap', credential }, { ...REQUEST, instanceId: 'i-1' }, { instanceId: 'i-1' }),
      ConflictError,
    );
    assert.deepEqual(dumpSqlite(dbPath), before);
  });

  it('never logs the tokens it issues', async () => {
    const credential = launch(['i-1']);
    const issued = [
      (await registry.register(viaToken(), REQUEST)).token,
      (
        await registry.register(
          { kind: 'bootstrap', credential },
          { ...REQUEST, instanceId: 'i-1' },
          { instanceId: 'i-1' },
        )
      ).token,
    ];
    assert.ok(logs.lines().some((l) => l.message === 'registered agent'));
    for (const secret of [...issued, credential]) assert.ok(!logs.text().includes(secret));
  });

  it('sets a leaving cloud agent draining so the controller terminates its instance', async () => {
    const agentId = await registerCloudAgent('i-1');
    const [taskId] = placeTasks(agentId, 1);
    assert.deepEqual(await registry.leave(agentId, 'shutting down'), { state: 'draining' });
    assert.equal(store.tasks.get(taskId ?? '')?.state, 'pending');
    assert.equal(store.tasks.get(taskId ?? '')?.reason, `agent ${agentId} left: shutting down`);
    assert.equal(store.agents.get(agentId)?.reason, 'left: shutting down');
    assert.ok(
      store.tokens
        .list()
        .filter((t) => t.agentId === agentId)
        .every((t) => t.revokedAtMs !== null),
    );
    assert.deepEqual(await registry.leave(agentId, 'again'), { state: 'draining' }, 'leaving twice is harmless');
  });

  it('lets a cloud agent leave when the leader marked it lost between its read and its change', async () => {
    const agentId = await registerCloudAgent('i-1');
    const [taskId] = placeTasks(agentId, 1);
    // Another controller marks the agent lost right after the leave read it (as READ COMMITTED lets it on PostgreSQL;
    // here the write joins the open transaction, which the next statement then sees).
    let raced = false;
    const racingRegistry = registryWithAgentMethod('get', (agents) => async (id: string) => {
      const read = await agents.get(id);
      if (!raced) {
        raced = true;
        store.agents.setState(id, 'lost', 'silent for too long', clock.now());
      }
      return read;
    });
    assert.deepEqual(await racingRegistry.leave(agentId, 'shutting down'), { state: 'lost' });
    assert.ok(raced);
    // The rest of the leave committed: the task is pending again and the agent's tokens are revoked.
    assert.equal(store.tasks.get(taskId ?? '')?.state, 'pending');
    assert.ok(
      store.tokens
        .list()
        .filter((t) => t.agentId === agentId)
        .every((t) => t.revokedAtMs !== null),
    );
  });

  it('terminates a leaving private agent', async () => {
    const { agentId } = await registry.register(viaToken(), REQUEST);
    assert.deepEqual(await registry.leave(agentId, 'bye'), { state: 'terminated' });
    assert.equal(store.agents.get(agentId)?.state, 'terminated');
  });

  it('keeps an agent draining through repeated interruption notices', async () => {
    const agentId = await registerCloudAgent('i-1');
    const tasks = placeTasks(agentId, 2);
    await registry.pull(agentId);
    assert.deepEqual(await registry.heartbeat(agentId, { runningTaskIds: tasks, notice: 'interruption' }), {
      state: 'draining',
      stopTaskIds: tasks,
    });
    assert.deepEqual(await registry.heartbeat(agentId, { runningTaskIds: [], notice: 'interruption' }), {
      state: 'draining',
      stopTaskIds: [],
    });
    assert.deepEqual(
      tasks.map((id) => store.tasks.get(id)?.attempts),
      [1, 1],
    );
  });

  it('refuses heartbeats and pulls of unknown agents', async () => {
    await assert.rejects(registry.heartbeat('a-nope', { runningTaskIds: [] }), NotFoundError);
    await assert.rejects(registry.pull('a-nope'), NotFoundError);
  });

  it('tells a terminated agent that heartbeats to stop everything it runs', async () => {
    const { agentId } = await registry.register(viaToken(), REQUEST);
    const tasks = placeTasks(agentId, 1);
    await registry.pull(agentId);
    store.agents.setState(agentId, 'terminated', 'test', clock.now());
    assert.deepEqual(await registry.heartbeat(agentId, { runningTaskIds: tasks }), {
      state: 'terminated',
      stopTaskIds: tasks,
    });
  });

  it('leaves a cancelled task cancelled when its agent reports the exit', async () => {
    const { agentId } = await registry.register(viaToken(), REQUEST);
    const [taskId = ''] = placeTasks(agentId, 1);
    await registry.pull(agentId);
    store.tasks.cancel(taskId, 'test', clock.now());
    assert.deepEqual(await registry.report(agentId, taskId, { kind: 'exit', exitCode: 137, outputTail: '' }), {
      state: 'cancelled',
    });
    await assert.rejects(registry.report(agentId, 't-nope', { kind: 'output', outputTail: '' }), NotFoundError);
  });

  it('returns to pending a task the agent never acknowledges running, after four heartbeat intervals', async () => {
    const { agentId } = await registry.register(viaToken(), REQUEST);
    const [task] = store.tasks.insert(
      [
        {
          owner: { team: 't', project: 'p', job: 'j' },
          resources: resources({ cpuMillis: 500, memoryMiB: 256 }),
          priority: 0,
          revocable: false,
          constraints: {},
          command: ['true'],
        },
      ],
      clock.now(),
    );
    store.tasks.place(task!.id, agentId, clock.now());
    assert.equal((await registry.pull(agentId)).tasks.length, 1, 'the pull hands it over (its answer is then lost)');
    clock.advance(1_000);
    await registry.heartbeat(agentId, { runningTaskIds: [] });
    assert.equal(
      store.tasks.get(task!.id)!.state,
      'running',
      'a heartbeat sent before the answer arrived is not proof',
    );
    clock.advance(3_001);
    await registry.heartbeat(agentId, { runningTaskIds: [] });
    const after = store.tasks.get(task!.id)!;
    assert.equal(after.state, 'pending');
    assert.equal(after.attempts, 1);
    assert.match(after.reason, /does not run it/);
  });

  it('hands over placed tasks with the time of the hand-over, which the agent echoes in its heartbeats', async () => {
    const { agentId } = await registry.register(viaToken(), REQUEST);
    const placed = placeTasks(agentId, 2);
    clock.advance(250);
    const answer = await registry.pull(agentId);
    assert.deepEqual(answer.tasks.map((t) => t.id).sort(), [...placed].sort());
    assert.equal(answer.pulledAtMs, clock.now());
    assert.deepEqual(
      placed.map((id) => store.tasks.get(id)!.startedAtMs),
      [clock.now(), clock.now()],
    );
  });

  it('keeps an unlisted task running while the agent has not taken the answer that handed it over, and may still', async () => {
    const { agentId } = await registry.register(viaToken(), REQUEST);
    const [early] = placeTasks(agentId, 1);
    const firstAnswer = await registry.pull(agentId);
    clock.advance(500);
    const [late] = placeTasks(agentId, 1);
    const handedOverAt = (await registry.pull(agentId)).pulledAtMs;
    assert.equal(handedOverAt, firstAnswer.pulledAtMs + 500);
    // A slow answer: beats go out, 33 s of them (the agent waits 30 s for an answer; four intervals are 4 s), that have
    // taken only the first answer; each lists `early`.
    clock.advance(33_000);
    const beat = { runningTaskIds: [early!], pulledThroughMs: firstAnswer.pulledAtMs };
    assert.deepEqual((await registry.heartbeat(agentId, beat)).stopTaskIds, []);
    assert.equal(store.tasks.get(late!)!.state, 'running', 'its answer may still be on its way');
    // The agent has taken that answer (or a later one) and does not list the task: it never arrived.
    await registry.heartbeat(agentId, { runningTaskIds: [early!], pulledThroughMs: handedOverAt });
    const after = store.tasks.get(late!)!;
    assert.deepEqual([after.state, after.attempts], ['pending', 1]);
    assert.equal(after.reason, `returned to pending: agent ${agentId} does not run it`);
    assert.equal(store.tasks.get(early!)!.state, 'running');
  });

  it('requeues an unlisted task whose answer is older than an agent waits for one, though the echo stayed behind', async () => {
    // Pulls failing since the hand-over (timeouts, 5xx) leave the echo at an earlier answer; the agent gives up on an
    // answer after AGENT_REQUEST_TIMEOUT_MS (30 s), so past that plus the four intervals (4 s here) it is lost.
    const { agentId } = await registry.register(viaToken(), REQUEST);
    const earlier = (await registry.pull(agentId)).pulledAtMs;
    clock.advance(10);
    const [taskId] = placeTasks(agentId, 1);
    await registry.pull(agentId);
    clock.advance(33_999);
    await registry.heartbeat(agentId, { runningTaskIds: [], pulledThroughMs: earlier });
    assert.equal(store.tasks.get(taskId!)!.state, 'running', '34 s less 1 ms after the hand-over: its answer may come');
    clock.advance(1);
    await registry.heartbeat(agentId, { runningTaskIds: [], pulledThroughMs: earlier });
    assert.equal(store.tasks.get(taskId!)!.state, 'pending');
  });

  it('requeues a task missing from a beat that has taken its answer only four heartbeat intervals after the hand-over', async () => {
    const { agentId } = await registry.register(viaToken(), REQUEST);
    const [taskId] = placeTasks(agentId, 1);
    const { pulledAtMs } = await registry.pull(agentId);
    clock.advance(3_999);
    await registry.heartbeat(agentId, { runningTaskIds: [], pulledThroughMs: pulledAtMs + 3_999 });
    assert.equal(
      store.tasks.get(taskId!)!.state,
      'running',
      'a second controller whose clock is ahead may have answered',
    );
    clock.advance(1);
    await registry.heartbeat(agentId, { runningTaskIds: [], pulledThroughMs: pulledAtMs });
    assert.equal(store.tasks.get(taskId!)!.state, 'pending');
  });

  it('keeps a task running while the agent reports it', async () => {
    const { agentId } = await registry.register(viaToken(), REQUEST);
    const [task] = store.tasks.insert(
      [
        {
          owner: { team: 't', project: 'p', job: 'j' },
          resources: resources({ cpuMillis: 500, memoryMiB: 256 }),
          priority: 0,
          revocable: false,
          constraints: {},
          command: ['true'],
        },
      ],
      clock.now(),
    );
    store.tasks.place(task!.id, agentId, clock.now());
    await registry.pull(agentId);
    clock.advance(60_000);
    assert.deepEqual((await registry.heartbeat(agentId, { runningTaskIds: [task!.id] })).stopTaskIds, []);
    assert.equal(store.tasks.get(task!.id)!.state, 'running');
  });

  it('drains an agent on its shutdown notice: no new placements, placed-but-not-pulled tasks go back to pending', async () => {
    const { agentId } = await registry.register(viaToken(), REQUEST);
    const spec = {
      owner: { team: 't', project: 'p', job: 'j' },
      resources: resources({ cpuMillis: 500, memoryMiB: 256 }),
      priority: 0,
      revocable: false,
      constraints: {},
      command: ['true'],
    };
    const [running, placed] = store.tasks.insert([spec, spec], clock.now());
    store.tasks.place(running!.id, agentId, clock.now());
    await registry.pull(agentId);
    store.tasks.place(placed!.id, agentId, clock.now());
    const answer = await registry.heartbeat(agentId, { runningTaskIds: [running!.id], notice: 'draining' });
    assert.equal(answer.state, 'draining');
    assert.deepEqual(answer.stopTaskIds, [], 'what runs may finish');
    assert.equal(store.tasks.get(running!.id)!.state, 'running');
    assert.equal(store.tasks.get(placed!.id)!.state, 'pending');
    assert.equal(store.tasks.get(placed!.id)!.reason, `returned to pending: agent ${agentId} is shutting down`);
    assert.equal(store.agents.get(agentId)!.state, 'draining');
  });

  it('returns an unacknowledged task to pending at exactly four heartbeat intervals, not a millisecond before', async () => {
    const { agentId } = await registry.register(viaToken(), REQUEST);
    const [early, exact] = placeTasks(agentId, 2);
    await registry.pull(agentId);
    clock.advance(3_999);
    await registry.heartbeat(agentId, { runningTaskIds: [] });
    assert.equal(store.tasks.get(early!)!.state, 'running', '3,999 ms after the pull: not yet');
    clock.advance(1);
    await registry.heartbeat(agentId, { runningTaskIds: [] });
    assert.deepEqual([store.tasks.get(early!)!.state, store.tasks.get(exact!)!.state], ['pending', 'pending']);
  });

  it('drains on the interruption notice whether the agent is registered or still provisioning', async () => {
    const { agentId: registered } = await registry.register(viaToken(), REQUEST);
    assert.equal(
      (await registry.heartbeat(registered, { runningTaskIds: [], notice: 'interruption' })).state,
      'draining',
    );
    assert.equal(store.agents.get(registered)!.reason, INTERRUPTION_REASON);
    const provisioning = store.agents.insert(
      {
        name: 'booting',
        location: { kind: 'private', site: 'default' },
        capacity: resources({ cpuMillis: 1000, memoryMiB: 1024 }),
        labels: {},
        lifecycle: 'private',
        pricePerHourMicros: 0,
        state: 'provisioning',
        instanceId: null,
        providerId: null,
        intentId: null,
      },
      clock.now(),
    );
    assert.equal(
      (await registry.heartbeat(provisioning.id, { runningTaskIds: [], notice: 'interruption' })).state,
      'draining',
    );
    // An agent already terminated stays so.
    const { agentId: gone } = await registry.register(viaToken(), REQUEST);
    store.agents.setState(gone, 'terminated', 'test', clock.now());
    assert.equal((await registry.heartbeat(gone, { runningTaskIds: [], notice: 'interruption' })).state, 'terminated');
  });

  it('takes a shutdown notice from an agent that is not registered as a heartbeat, changing nothing', async () => {
    const { agentId } = await registry.register(viaToken(), REQUEST);
    assert.equal((await registry.heartbeat(agentId, { runningTaskIds: [], notice: 'draining' })).state, 'draining');
    assert.equal((await registry.heartbeat(agentId, { runningTaskIds: [], notice: 'draining' })).state, 'draining');
    assert.equal(store.agents.get(agentId)!.reason, 'the agent is shutting down');
    const lost = await registerCloudAgent('i-7');
    store.agents.setState(lost, 'lost', 'silent', clock.now());
    assert.equal((await registry.heartbeat(lost, { runningTaskIds: [], notice: 'draining' })).state, 'lost');
  });

  it('marks pulled tasks of the teams the policy lets reach the cloud metadata service, and only theirs', async () => {
    store.policy.set({ ...DEMO_POLICY, metadataAccessTeams: ['ml'] }, 'test', clock.now());
    const { agentId } = await registry.register(viaToken(), REQUEST);
    const spec = (team: string) =>
      newTask({ owner: { team, project: 'p', job: 'j' }, resources: resources({ cpuMillis: 100, memoryMiB: 64 }) });
    const [ml, web] = store.tasks.insert([spec('ml'), spec('web')], clock.now());
    store.tasks.place(ml!.id, agentId, clock.now());
    store.tasks.place(web!.id, agentId, clock.now());
    const pulled = new Map((await registry.pull(agentId)).tasks.map((t) => [t.id, t.metadataAccess]));
    assert.deepEqual([pulled.get(ml!.id), pulled.get(web!.id)], [true, undefined]);
  });

  it('lets a terminated agent or a lost cloud agent leave, keeping its state', async () => {
    const { agentId: gone } = await registry.register(viaToken(), REQUEST);
    store.agents.setState(gone, 'terminated', 'test', clock.now());
    assert.deepEqual(await registry.leave(gone, 'bye'), { state: 'terminated' });
    const lost = await registerCloudAgent('i-9');
    store.agents.setState(lost, 'lost', 'silent', clock.now());
    assert.deepEqual(await registry.leave(lost, 'bye'), { state: 'lost' });
    assert.equal(store.agents.get(lost)!.reason, 'silent');
  });

  it('names what it was doing when the agent is unknown', async () => {
    await assert.rejects(
      registry.heartbeat('a-nope', { runningTaskIds: [] }),
      /^NotFoundError: recording a heartbeat: no agent a-nope$/,
    );
    await assert.rejects(registry.pull('a-nope'), /pulling tasks: no agent a-nope/);
    await assert.rejects(registry.leave('a-nope', 'bye'), /leaving the pool: no agent a-nope/);
  });

  it('fails a leave whose state change fails for any reason but a settled agent, writing nothing', async () => {
    const { agentId } = await registry.register(viaToken(), REQUEST);
    for (const failure of [new Error('disk full'), new ConflictError('someone set it provisioning')]) {
      const failingRegistry = registryWithAgentMethod('setState', () => async () => Promise.reject(failure));
      await assert.rejects(failingRegistry.leave(agentId, 'bye'), (err: unknown) => err === failure);
      assert.equal(store.agents.get(agentId)!.state, 'registered');
      assert.ok(
        store.tokens.list().some((t) => t.agentId === agentId && t.revokedAtMs === null),
        'its token stands',
      );
    }
  });
});
