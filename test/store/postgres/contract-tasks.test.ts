import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'mocha';
import { ConflictError, NotFoundError } from '../../../src/core/errors.ts';
import { resources } from '../../../src/core/resources.ts';
import type { Agent } from '../../../src/core/agent.ts';
import type { NewAgent } from '../../../src/store/store.ts';
import { T0, newTask, privateAgent } from '../helpers.ts';
import { describeEachEngine, type ContractStore } from './engines.ts';

/**
 * The cases of test/store/tasks.test.ts, run through the asynchronous port against both engines (expected values
 * from the cases themselves).
 */

/** Inserts a registered private agent. */
async function addAgent(store: ContractStore, overrides: Partial<NewAgent> = {}, nowMs = T0): Promise<Agent> {
  return store.agents.insert(privateAgent(overrides), nowMs);
}

describeEachEngine('store contract: tasks', (engine) => {
  let store: ContractStore;

  beforeEach(async () => {
    store = await engine().open();
  });

  /** One task placed on a fresh registered agent. */
  async function placedTask(nowMs = T0): Promise<{ taskId: string; agentId: string }> {
    const agentId = (await addAgent(store)).id;
    const [task] = await store.tasks.insert([newTask()], nowMs);
    await store.tasks.place(task!.id, agentId, nowMs);
    return { taskId: task!.id, agentId };
  }

  describe('assignment', () => {
    it("reads a task's state and agent through its life, and nothing for an unknown id", async () => {
      const [task] = await store.tasks.insert([newTask()], T0);
      assert.deepEqual(await store.tasks.assignment(task!.id), { state: 'pending', agentId: null });
      const { id: agentId } = await addAgent(store);
      await store.tasks.place(task!.id, agentId, T0 + 1);
      assert.deepEqual(await store.tasks.assignment(task!.id), { state: 'placed', agentId });
      await store.tasks.claim(agentId, T0 + 2);
      assert.deepEqual(await store.tasks.assignment(task!.id), { state: 'running', agentId });
      await store.tasks.finish(task!.id, agentId, { exitCode: 3, outputTail: '' }, T0 + 3);
      assert.deepEqual(await store.tasks.assignment(task!.id), { state: 'failed', agentId });
      assert.equal(await store.tasks.assignment('t-nope'), undefined);
    });
  });

  describe('insert', () => {
    it('stores new tasks as pending and returns them as get reads them', async () => {
      const inserted = await store.tasks.insert(
        [newTask({ priority: 5, revocable: true, constraints: { gpuModels: ['A100'] } }), newTask()],
        T0,
      );
      assert.equal(inserted.length, 2);
      assert.match(inserted[0]!.id, /^t-/);
      assert.notEqual(inserted[0]!.id, inserted[1]!.id);
      for (const task of inserted) assert.deepEqual(await store.tasks.get(task.id), task);
      assert.equal(inserted[0]!.state, 'pending');
      assert.equal(inserted[0]!.attempts, 0);
      assert.equal(inserted[0]!.pendingSinceMs, T0);
      assert.deepEqual(inserted[0]!.constraints, { gpuModels: ['A100'] });
    });

    it('inserts all tasks or none', async () => {
      const bad = newTask({ resources: { ...resources(), cpuMillis: null as unknown as number } });
      await assert.rejects(async () => await store.tasks.insert([newTask(), bad], T0));
      assert.equal((await store.tasks.list()).length, 0);
    });
  });

  it('returns undefined for an unknown task', async () => {
    assert.equal(await store.tasks.get('t-nope'), undefined);
  });

  describe('list', () => {
    it('lists newest first and filters by state, agent, team, project and limit', async () => {
      const agentId = (await addAgent(store)).id;
      const [a] = await store.tasks.insert([newTask({ owner: { team: 'ml', project: 'p1', job: 'j' } })], T0);
      const [b] = await store.tasks.insert([newTask({ owner: { team: 'web', project: 'p2', job: 'j' } })], T0 + 1);
      const [c] = await store.tasks.insert([newTask({ owner: { team: 'ml', project: 'p2', job: 'j' } })], T0 + 2);
      await store.tasks.place(b!.id, agentId, T0 + 3);
      const ids = async (filter: Parameters<ContractStore['tasks']['list']>[0]): Promise<string[]> =>
        (await store.tasks.list(filter)).map((t) => t.id);

      assert.deepEqual(await ids({}), [c!.id, b!.id, a!.id]);
      assert.deepEqual(await ids({ states: ['pending'] }), [c!.id, a!.id]);
      assert.deepEqual(await ids({ states: ['placed', 'running'] }), [b!.id]);
      assert.deepEqual(await ids({ states: [] }), []);
      assert.deepEqual(await ids({ agentId }), [b!.id]);
      assert.deepEqual(await ids({ team: 'ml' }), [c!.id, a!.id]);
      assert.deepEqual(await ids({ team: 'ml', project: 'p2' }), [c!.id]);
      assert.deepEqual(await ids({ limit: 2 }), [c!.id, b!.id]);
    });
  });

  it('counts tasks by state, with zero for states no task is in', async () => {
    await placedTask();
    await store.tasks.insert([newTask(), newTask()], T0);
    await store.tasks.cancel((await store.tasks.pending())[0]!.id, 'not needed', T0);
    assert.deepEqual(await store.tasks.countByState(), {
      pending: 1,
      placed: 1,
      running: 0,
      succeeded: 0,
      failed: 0,
      cancelled: 1,
    });
  });

  it('lists pending tasks by priority, then longest waiting', async () => {
    const [low] = await store.tasks.insert([newTask({ priority: 1 })], T0);
    const [highLate] = await store.tasks.insert([newTask({ priority: 9 })], T0 + 10);
    const [highEarly] = await store.tasks.insert([newTask({ priority: 9 })], T0 + 5);
    await placedTask();
    assert.deepEqual(
      (await store.tasks.pending()).map((t) => t.id),
      [highEarly!.id, highLate!.id, low!.id],
    );
  });

  describe('place', () => {
    it('places a pending task on a registered agent and clears the agent idle mark', async () => {
      const agent = await addAgent(store);
      assert.equal(agent.idleSinceMs, T0);
      const [task] = await store.tasks.insert([newTask()], T0);
      await store.tasks.place(task!.id, agent.id, T0 + 1);
      const placed = (await store.tasks.get(task!.id))!;
      assert.equal(placed.state, 'placed');
      assert.equal(placed.agentId, agent.id);
      assert.equal((await store.agents.get(agent.id))!.idleSinceMs, null);
    });

    const conflicts = [
      { name: 'the task is placed already', taskState: 'placed', agentState: 'registered' },
      { name: 'the agent is draining', taskState: 'pending', agentState: 'draining' },
      { name: 'the agent is provisioning', taskState: 'pending', agentState: 'provisioning' },
      { name: 'the agent is lost', taskState: 'pending', agentState: 'lost' },
      { name: 'the task is cancelled', taskState: 'cancelled', agentState: 'registered' },
    ] as const;
    for (const c of conflicts) {
      it(`refuses with a ConflictError naming both ids and states when ${c.name}`, async () => {
        const agent = await addAgent(store, { state: c.agentState });
        const [task] = await store.tasks.insert([newTask()], T0);
        if (c.taskState === 'placed') await store.tasks.place(task!.id, (await addAgent(store)).id, T0);
        if (c.taskState === 'cancelled') await store.tasks.cancel(task!.id, 'no longer needed', T0);
        const before = await store.tasks.get(task!.id);
        await assert.rejects(
          async () => await store.tasks.place(task!.id, agent.id, T0 + 1),
          (err: unknown) => {
            assert.ok(err instanceof ConflictError);
            assert.match(err.message, new RegExp(`^placing task ${task!.id} on agent ${agent.id}: `));
            assert.match(err.message, new RegExp(`the task is ${c.taskState} and the agent is ${c.agentState}`));
            return true;
          },
        );
        assert.deepEqual(await store.tasks.get(task!.id), before);
      });
    }

    it('throws NotFoundError for an unknown task or agent', async () => {
      const agentId = (await addAgent(store)).id;
      const [task] = await store.tasks.insert([newTask()], T0);
      await assert.rejects(async () => await store.tasks.place('t-nope', agentId, T0), NotFoundError);
      await assert.rejects(async () => await store.tasks.place(task!.id, 'a-nope', T0), NotFoundError);
    });
  });

  describe('claim', () => {
    it("moves the agent's placed tasks to running and returns only those", async () => {
      const { taskId, agentId } = await placedTask();
      const other = await placedTask();
      const claimed = await store.tasks.claim(agentId, T0 + 5);
      assert.deepEqual(
        claimed.map((t) => [t.id, t.state, t.startedAtMs]),
        [[taskId, 'running', T0 + 5]],
      );
      assert.deepEqual(await store.tasks.get(taskId), claimed[0]);
      assert.equal((await store.tasks.get(other.taskId))!.state, 'placed');
      assert.deepEqual(await store.tasks.claim(agentId, T0 + 6), []);
    });
  });

  describe('recordOutput', () => {
    it('records the output of a running task and ignores a task not running on that agent', async () => {
      const { taskId, agentId } = await placedTask();
      await store.tasks.recordOutput(taskId, agentId, 'too early');
      assert.equal((await store.tasks.get(taskId))!.outputTail, '');
      await store.tasks.claim(agentId, T0);
      await store.tasks.recordOutput(taskId, agentId, 'epoch 1');
      await store.tasks.recordOutput(taskId, 'a-other', 'not mine');
      assert.equal((await store.tasks.get(taskId))!.outputTail, 'epoch 1');
      await assert.rejects(async () => await store.tasks.recordOutput('t-nope', agentId, 'x'), NotFoundError);
    });
  });

  describe('finish', () => {
    const outcomes = [
      { name: 'succeeds on exit code 0', exitCode: 0, state: 'succeeded' },
      { name: 'fails on a non-zero exit code', exitCode: 3, state: 'failed' },
    ] as const;
    for (const c of outcomes) {
      it(`${c.name} and marks the agent idle when it was its last task`, async () => {
        const { taskId, agentId } = await placedTask();
        await store.tasks.claim(agentId, T0 + 1);
        const done = await store.tasks.finish(taskId, agentId, { exitCode: c.exitCode, outputTail: 'bye' }, T0 + 9);
        assert.equal(done.state, c.state);
        assert.equal(done.exitCode, c.exitCode);
        assert.equal(done.finishedAtMs, T0 + 9);
        assert.equal(done.outputTail, 'bye');
        assert.deepEqual(await store.tasks.get(taskId), done);
        assert.equal((await store.agents.get(agentId))!.idleSinceMs, T0 + 9);
      });
    }

    it('leaves the agent busy while it has another task', async () => {
      const { taskId, agentId } = await placedTask();
      const [second] = await store.tasks.insert([newTask()], T0);
      await store.tasks.place(second!.id, agentId, T0);
      await store.tasks.finish(taskId, agentId, { exitCode: 0, outputTail: '' }, T0 + 9);
      assert.equal((await store.agents.get(agentId))!.idleSinceMs, null);
    });

    it('returns a task that finished or moved elsewhere unchanged', async () => {
      const { taskId, agentId } = await placedTask();
      await store.tasks.cancel(taskId, 'user cancelled', T0 + 1);
      const cancelled = await store.tasks.get(taskId);
      assert.deepEqual(
        await store.tasks.finish(taskId, agentId, { exitCode: 0, outputTail: 'late' }, T0 + 2),
        cancelled,
      );
      const other = await placedTask();
      const before = await store.tasks.get(other.taskId);
      assert.deepEqual(
        await store.tasks.finish(other.taskId, agentId, { exitCode: 0, outputTail: '' }, T0 + 3),
        before,
      );
    });

    it('throws NotFoundError for an unknown task', async () => {
      await assert.rejects(
        async () => await store.tasks.finish('t-nope', 'a-1', { exitCode: 0, outputTail: '' }, T0),
        NotFoundError,
      );
    });
  });

  describe('cancel', () => {
    const active = ['pending', 'placed', 'running'] as const;
    for (const state of active) {
      it(`cancels a ${state} task`, async () => {
        const { taskId, agentId } = await placedTask();
        if (state === 'pending') await store.tasks.requeue(taskId, agentId, 'handed back', T0);
        if (state === 'running') await store.tasks.claim(agentId, T0);
        assert.equal((await store.tasks.get(taskId))!.state, state);
        const cancelled = await store.tasks.cancel(taskId, 'user cancelled', T0 + 4);
        assert.equal(cancelled.state, 'cancelled');
        assert.equal(cancelled.reason, 'user cancelled');
        assert.equal(cancelled.finishedAtMs, T0 + 4);
        assert.notEqual((await store.agents.get(agentId))!.idleSinceMs, null);
      });
    }

    it('refuses to cancel a finished task', async () => {
      const { taskId, agentId } = await placedTask();
      await store.tasks.finish(taskId, agentId, { exitCode: 0, outputTail: '' }, T0);
      await assert.rejects(async () => await store.tasks.cancel(taskId, 'too late', T0), {
        name: 'ConflictError',
        message: `cancelling task ${taskId}: it is already succeeded`,
      });
      await assert.rejects(async () => await store.tasks.cancel('t-nope', 'x', T0), NotFoundError);
    });
  });

  describe('requeue', () => {
    it('returns a task of the agent to pending with one more attempt', async () => {
      const { taskId, agentId } = await placedTask();
      await store.tasks.claim(agentId, T0 + 1);
      const requeued = await store.tasks.requeue(taskId, agentId, 'spot notice', T0 + 7);
      assert.equal(requeued.state, 'pending');
      assert.equal(requeued.agentId, null);
      assert.equal(requeued.attempts, 1);
      assert.equal(requeued.pendingSinceMs, T0 + 7);
      assert.equal(requeued.startedAtMs, null);
      assert.equal(requeued.reason, 'spot notice');
      assert.equal((await store.agents.get(agentId))!.idleSinceMs, T0 + 7);
    });

    it('refuses a task that is not placed or running on that agent', async () => {
      const { taskId } = await placedTask();
      const other = (await addAgent(store)).id;
      await assert.rejects(async () => await store.tasks.requeue(taskId, other, 'not mine', T0), ConflictError);
      assert.equal((await store.tasks.get(taskId))!.state, 'placed');
      await assert.rejects(async () => await store.tasks.requeue('t-nope', other, 'x', T0), NotFoundError);
    });

    it("returns a lost agent's placed and running tasks to pending and leaves its finished ones", async () => {
      const agentId = (await addAgent(store)).id;
      const [a, b, c] = await store.tasks.insert([newTask(), newTask(), newTask()], T0);
      for (const task of [a, b, c]) await store.tasks.place(task!.id, agentId, T0);
      await store.tasks.claim(agentId, T0);
      await store.tasks.finish(c!.id, agentId, { exitCode: 0, outputTail: '' }, T0);
      const [d] = await store.tasks.insert([newTask()], T0);
      await store.tasks.place(d!.id, agentId, T0);

      assert.equal(await store.tasks.requeueAgent(agentId, 'agent lost', T0 + 50), 3);
      for (const task of [a, b, d]) {
        const got = (await store.tasks.get(task!.id))!;
        assert.deepEqual([got.state, got.agentId, got.attempts, got.reason], ['pending', null, 1, 'agent lost']);
      }
      assert.equal((await store.tasks.get(c!.id))!.state, 'succeeded');
      assert.equal((await store.agents.get(agentId))!.idleSinceMs, T0 + 50);
      assert.equal(await store.tasks.requeueAgent(agentId, 'again', T0 + 60), 0);
      assert.equal((await store.agents.get(agentId))!.idleSinceMs, T0 + 50);
    });
  });
});
