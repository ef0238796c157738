import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'mocha';
import type { ManualClock } from '../../src/core/clock.ts';
import { bootstrapCredential } from '../../src/core/credentials.ts';
import { NotFoundError } from '../../src/core/errors.ts';
import { newIntentId } from '../../src/core/ids.ts';
import { INTERRUPTION_REASON } from '../../src/core/interruption.ts';
import { resources } from '../../src/core/resources.ts';
import { interruptedOfferings } from '../../src/autoscaler/interruptions.ts';
import type { AgentRegistry } from '../../src/pool/builtin/registry.ts';
import { type RegistrationCaller } from '../../src/pool/builtin/registry.ts';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { TokenRecord } from '../../src/store/store.ts';
import { launchIntent, offering } from '../fakes/builders.ts';
import { newTask } from '../store/helpers.ts';
import type { LogCapture } from '../helpers/log-capture.ts';
import { openRegistryFixture, REQUEST, type RegistryFixture } from './registry-fixture.ts';

// Issue 14 (mutation testing of src/pool/builtin/registry.ts, run Q): the operator's view of the registry (the level,
// text and fields of each of its log lines) and how a leave treats an agent that is already draining, terminated or
// lost, each stated from the scenario.

describe('agent registry: log lines and settled leaves', () => {
  let store: SqliteStore;
  let clock: ManualClock;
  let logs: LogCapture;
  let registry: AgentRegistry;
  let registrationToken: TokenRecord;

  let fixture: RegistryFixture;

  beforeEach(() => {
    fixture = openRegistryFixture('spillway-registry-mutants-');
    ({ store, clock, logs, registry, registrationToken } = fixture);
  });
  afterEach(() => fixture.close());

  const viaToken = (): RegistrationCaller => ({ kind: 'token', token: registrationToken });

  /** The level and the fields (without level, message and timestamp) of each line logged with this message. */
  function logged(message: string): { level: unknown; fields: Record<string, unknown> }[] {
    return logs
      .lines()
      .filter((l) => l.message === message)
      .map(({ level, message: _message, timestamp: _timestamp, ...fields }) => ({ level, fields }));
  }

  async function registerPrivateAgent(): Promise<string> {
    return (await registry.register(viaToken(), REQUEST)).agentId;
  }

  /** Launches `instanceId` on a spot offering and registers its agent with the launch's credential. */
  async function registerCloudAgent(instanceId: string): Promise<string> {
    const id = newIntentId();
    store.intents.insert(
      launchIntent(offering({ providerId: 'local:test', lifecycle: 'spot' }), { id, createdAtMs: clock.now() }),
    );
    store.intents.completeLaunch(id, [instanceId], clock.now());
    const credential = bootstrapCredential(store.meta.serverSecret(), id);
    const { agentId } = await registry.register(
      { kind: 'bootstrap', credential },
      { ...REQUEST, instanceId },
      { instanceId },
    );
    return agentId;
  }

  function placeTasks(agentId: string, teams: readonly string[]): string[] {
    const tasks = store.tasks.insert(
      teams.map((team) =>
        newTask({ owner: { team, project: 'p', job: 'j' }, resources: resources({ cpuMillis: 100, memoryMiB: 64 }) }),
      ),
      clock.now(),
    );
    for (const task of tasks) store.tasks.place(task.id, agentId, clock.now());
    return tasks.map((t) => t.id);
  }

  const tokensOf = (agentId: string): TokenRecord[] => store.tokens.list().filter((t) => t.agentId === agentId);

  describe('log lines an operator reads', () => {
    it('logs a shutdown notice once, at info, naming the agent', async () => {
      const agentId = await registerPrivateAgent();
      placeTasks(agentId, ['t']);
      await registry.heartbeat(agentId, { runningTaskIds: [], notice: 'draining' });
      // The agent is draining now: a second notice changes nothing and is not logged again.
      await registry.heartbeat(agentId, { runningTaskIds: [], notice: 'draining' });
      assert.deepEqual(logged('draining agent on its notice'), [{ level: 'info', fields: { agentId } }]);
    });

    it('warns of each running task the agent does not report, naming agent and task', async () => {
      const agentId = await registerPrivateAgent();
      const [kept, lostA, lostB] = placeTasks(agentId, ['t', 't', 't']);
      await registry.pull(agentId);
      clock.advance(4_000); // four heartbeat intervals after the pull
      await registry.heartbeat(agentId, { runningTaskIds: [kept!] });
      const lines = logged('requeued task the agent does not run');
      assert.deepEqual(
        lines.map((l) => l.level),
        ['warn', 'warn'],
      );
      assert.deepEqual(
        lines.map((l) => l.fields).sort((a, b) => String(a.taskId).localeCompare(String(b.taskId))),
        [lostA!, lostB!].sort().map((taskId) => ({ agentId, taskId })),
      );
      assert.deepEqual(
        [kept!, lostA!, lostB!].map((id) => store.tasks.get(id)!.state),
        ['running', 'pending', 'pending'],
      );
    });

    it('warns of an interruption notice, naming the agent and how many of its tasks went back to pending', async () => {
      const agentId = await registerCloudAgent('i-1');
      const [running] = placeTasks(agentId, ['t']);
      await registry.pull(agentId);
      placeTasks(agentId, ['t']); // placed after the pull: not running yet
      await registry.heartbeat(agentId, { runningTaskIds: [running!], notice: 'interruption' });
      assert.deepEqual(logged('draining agent on interruption notice'), [
        { level: 'warn', fields: { agentId, requeuedTasks: 2 } },
      ]);
    });

    it('logs a hand-back at info, naming agent and task, and returns the task to pending with the agent’s reason', async () => {
      const agentId = await registerPrivateAgent();
      const [taskId] = placeTasks(agentId, ['t']);
      await registry.pull(agentId);
      assert.deepEqual(
        await registry.report(agentId, taskId!, { kind: 'handback', reason: 'out of scratch space', outputTail: '' }),
        {
          state: 'pending',
        },
      );
      assert.equal(store.tasks.get(taskId!)!.reason, `handed back by agent ${agentId}: out of scratch space`);
      assert.deepEqual(logged('agent handed back task'), [{ level: 'info', fields: { agentId, taskId } }]);
    });

    it('logs each leave at info with the state it left the agent in and how many tasks went back to pending', async () => {
      const cloud = await registerCloudAgent('i-1');
      const [running] = placeTasks(cloud, ['t']);
      await registry.pull(cloud);
      placeTasks(cloud, ['t']); // placed after the pull: not running yet
      assert.equal(store.tasks.get(running!)!.state, 'running');
      await registry.leave(cloud, 'shutting down');
      const idle = await registerPrivateAgent();
      await registry.leave(idle, 'bye');
      assert.deepEqual(logged('agent left'), [
        { level: 'info', fields: { agentId: cloud, state: 'draining', requeuedTasks: 2 } },
        { level: 'info', fields: { agentId: idle, state: 'terminated', requeuedTasks: 0 } },
      ]);
    });
  });

  describe('leaving an agent that is already settled', () => {
    it('keeps the interruption reason of a spot agent that leaves after its notice, so its pool stays avoided', async () => {
      const agentId = await registerCloudAgent('i-1');
      const [taskId] = placeTasks(agentId, ['t']);
      await registry.heartbeat(agentId, { runningTaskIds: [], notice: 'interruption' });
      const interrupted = store.agents.get(agentId)!;
      assert.equal(interrupted.reason, INTERRUPTION_REASON);
      const expectedKey = 'local:test/local-a/local.small/spot';
      assert.deepEqual(interruptedOfferings([interrupted]), [expectedKey]);

      assert.deepEqual(await registry.leave(agentId, 'shutting down'), { state: 'draining' });
      const after = store.agents.get(agentId)!;
      assert.deepEqual([after.state, after.reason], ['draining', INTERRUPTION_REASON]);
      assert.deepEqual(interruptedOfferings([after]), [expectedKey], 'the controller still avoids that spot pool');
      assert.equal(store.tasks.get(taskId!)!.state, 'pending');
      assert.ok(
        tokensOf(agentId).every((t) => t.revokedAtMs !== null),
        'its tokens are revoked',
      );
    });

    it('keeps the reason of a cloud agent the controller was already draining', async () => {
      const agentId = await registerCloudAgent('i-2');
      store.agents.setState(agentId, 'draining', 'idle past its ttl', clock.now());
      assert.deepEqual(await registry.leave(agentId, 'shutting down'), { state: 'draining' });
      assert.equal(store.agents.get(agentId)!.reason, 'idle past its ttl');
    });

    it('lets a terminated cloud agent leave: it stays terminated and its tokens are revoked', async () => {
      const agentId = await registerCloudAgent('i-3');
      store.agents.setState(agentId, 'terminated', 'instance gone', clock.now());
      assert.deepEqual(await registry.leave(agentId, 'shutting down'), { state: 'terminated' });
      assert.deepEqual(
        [store.agents.get(agentId)!.state, store.agents.get(agentId)!.reason],
        ['terminated', 'instance gone'],
      );
      assert.ok(tokensOf(agentId).every((t) => t.revokedAtMs !== null));
    });

    it('terminates a lost private agent that leaves (no controller terminates a private machine)', async () => {
      const agentId = await registerPrivateAgent();
      store.agents.setState(agentId, 'lost', 'silent for too long', clock.now());
      assert.deepEqual(await registry.leave(agentId, 'bye'), { state: 'terminated' });
      assert.deepEqual(
        [store.agents.get(agentId)!.state, store.agents.get(agentId)!.reason],
        ['terminated', 'left: bye'],
      );
    });
  });

  it('records the output an agent reports of its running task, and refuses a report on a task not its own', async () => {
    const agentId = await registerPrivateAgent();
    const other = await registerPrivateAgent();
    const [taskId] = placeTasks(agentId, ['t']);
    await registry.pull(agentId);
    assert.deepEqual(await registry.report(agentId, taskId!, { kind: 'output', outputTail: 'epoch 3 of 10' }), {
      state: 'running',
    });
    assert.equal(store.tasks.get(taskId!)!.outputTail, 'epoch 3 of 10');
    await assert.rejects(
      registry.report(other, taskId!, { kind: 'output', outputTail: 'not mine' }),
      (err: unknown) =>
        err instanceof NotFoundError &&
        err.message === `reporting on task ${taskId!}: it is not a task of agent ${other}`,
    );
    await assert.rejects(
      registry.report(agentId, 't-nope', { kind: 'output', outputTail: 'x' }),
      /reporting on task t-nope: it is not a task of agent/,
    );
    assert.equal(store.tasks.get(taskId!)!.outputTail, 'epoch 3 of 10', 'the refused report wrote nothing');
  });

  it('gives no pulled task metadata access when the policy names no team, whatever the team is called', async () => {
    // The API takes any team name of 1 to 200 characters: spaces and capitals included.
    assert.equal(store.policy.get().metadataAccessTeams, undefined);
    const agentId = await registerPrivateAgent();
    const teams = ['ml', 'Stryker was here', 'Data Science', 'été'];
    const ids = placeTasks(agentId, teams);
    const pulled = (await registry.pull(agentId)).tasks;
    assert.deepEqual(pulled.map((t) => t.id).sort(), [...ids].sort());
    assert.deepEqual(
      pulled.filter((t) => 'metadataAccess' in t).map((t) => t.id),
      [],
    );
  });
});
