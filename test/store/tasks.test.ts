import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { ConflictError, NotFoundError } from '../../src/core/errors.ts';
import { resources } from '../../src/core/resources.ts';
import type { Store } from '../../src/store/store.ts';
import { T0, TempStores, addAgent, newTask } from './helpers.ts';

describe('sqlite store: tasks', () => {
  let temp: TempStores;
  let store: Store;

  beforeEach(() => {
    temp = new TempStores();
    store = temp.open();
  });
  afterEach(() => temp.cleanup());

  /** One task placed on a fresh registered agent. */
  function placedTask(nowMs = T0): { taskId: string; agentId: string } {
    const agentId = addAgent(store).id;
    const [task] = store.tasks.insert([newTask()], nowMs);
    store.tasks.place(task!.id, agentId, nowMs);
    return { taskId: task!.id, agentId };
  }

  describe('insert', () => {
    it('stores new tasks as pending and returns them as get reads them', () => {
      const inserted = store.tasks.insert(
        [newTask({ priority: 5, revocable: true, constraints: { gpuModels: ['A100'] } }), newTask()],
        T0,
      );
      assert.equal(inserted.length, 2);
      assert.match(inserted[0]!.id, /^t-/);
      assert.notEqual(inserted[0]!.id, inserted[1]!.id);
      for (const task of inserted) assert.deepEqual(store.tasks.get(task.id), task);
      assert.equal(inserted[0]!.state, 'pending');
      assert.equal(inserted[0]!.attempts, 0);
      assert.equal(inserted[0]!.pendingSinceMs, T0);
      assert.deepEqual(inserted[0]!.constraints, { gpuModels: ['A100'] });
    });

    it('inserts all tasks or none', () => {
      const bad = newTask({ resources: { ...resources(), cpuMillis: null as unknown as number } });
      assert.throws(() => store.tasks.insert([newTask(), bad], T0));
      assert.equal(store.tasks.list().length, 0);
    });
  });

  it('returns undefined for an unknown task', () => {
    assert.equal(store.tasks.get('t-nope'), undefined);
  });

  describe('list', () => {
    it('lists newest first and filters by state, agent, team, project and limit', () => {
      const agentId = addAgent(store).id;
      const [a] = store.tasks.insert([newTask({ owner: { team: 'ml', project: 'p1', job: 'j' } })], T0);
      const [b] = store.tasks.insert([newTask({ owner: { team: 'web', project: 'p2', job: 'j' } })], T0 + 1);
      const [c] = store.tasks.insert([newTask({ owner: { team: 'ml', project: 'p2', job: 'j' } })], T0 + 2);
      store.tasks.place(b!.id, agentId, T0 + 3);
      const ids = (filter: Parameters<Store['tasks']['list']>[0]): string[] =>
        store.tasks.list(filter).map((t) => t.id);

      assert.deepEqual(ids({}), [c!.id, b!.id, a!.id]);
      assert.deepEqual(ids({ states: ['pending'] }), [c!.id, a!.id]);
      assert.deepEqual(ids({ states: ['placed', 'running'] }), [b!.id]);
      assert.deepEqual(ids({ states: [] }), []);
      assert.deepEqual(ids({ agentId }), [b!.id]);
      assert.deepEqual(ids({ team: 'ml' }), [c!.id, a!.id]);
      assert.deepEqual(ids({ team: 'ml', project: 'p2' }), [c!.id]);
      assert.deepEqual(ids({ limit: 2 }), [c!.id, b!.id]);
    });
  });

  it('counts tasks by state, with zero for states no task is in', () => {
    placedTask();
    store.tasks.insert([newTask(), newTask()], T0);
    store.tasks.cancel(store.tasks.pending()[0]!.id, 'not needed', T0);
    assert.deepEqual(store.tasks.countByState(), {
      pending: 1,
      placed: 1,
      running: 0,
      succeeded: 0,
      failed: 0,
      cancelled: 1,
    });
  });

  it('lists pending tasks by priority, then longest waiting', () => {
    const [low] = store.tasks.insert([newTask({ priority: 1 })], T0);
    const [highLate] = store.tasks.insert([newTask({ priority: 9 })], T0 + 10);
    const [highEarly] = store.tasks.insert([newTask({ priority: 9 })], T0 + 5);
    placedTask();
    assert.deepEqual(
      store.tasks.pending().map((t) => t.id),
      [highEarly!.id, highLate!.id, low!.id],
    );
  });

  describe('place', () => {
    it('places a pending task on a registered agent and clears the agent idle mark', () => {
      const agent = addAgent(store);
      assert.equal(agent.idleSinceMs, T0);
      const [task] = store.tasks.insert([newTask()], T0);
      store.tasks.place(task!.id, agent.id, T0 + 1);
      const placed = store.tasks.get(task!.id)!;
      assert.equal(placed.state, 'placed');
      assert.equal(placed.agentId, agent.id);
      assert.equal(store.agents.get(agent.id)!.idleSinceMs, null);
    });

    const conflicts = [
      { name: 'the task is placed already', taskState: 'placed', agentState: 'registered' },
      { name: 'the agent is draining', taskState: 'pending', agentState: 'draining' },
      { name: 'the agent is provisioning', taskState: 'pending', agentState: 'provisioning' },
      { name: 'the agent is lost', taskState: 'pending', agentState: 'lost' },
      { name: 'the task is cancelled', taskState: 'cancelled', agentState: 'registered' },
    ] as const;
    for (const c of conflicts) {
      it(`refuses with a ConflictError naming both ids and states when ${c.name}`, () => {
        const agent = addAgent(store, { state: c.agentState });
        const [task] = store.tasks.insert([newTask()], T0);
        if (c.taskState === 'placed') store.tasks.place(task!.id, addAgent(store).id, T0);
        if (c.taskState === 'cancelled') store.tasks.cancel(task!.id, 'no longer needed', T0);
        const before = store.tasks.get(task!.id);
        assert.throws(
          () => store.tasks.place(task!.id, agent.id, T0 + 1),
          (err: unknown) => {
            assert.ok(err instanceof ConflictError);
            assert.match(err.message, new RegExp(`^placing task ${task!.id} on agent ${agent.id}: `));
            assert.match(err.message, new RegExp(`the task is ${c.taskState} and the agent is ${c.agentState}`));
            return true;
          },
        );
        assert.deepEqual(store.tasks.get(task!.id), before);
      });
    }

    it('throws NotFoundError for an unknown task or agent', () => {
      const agentId = addAgent(store).id;
      const [task] = store.tasks.insert([newTask()], T0);
      assert.throws(() => store.tasks.place('t-nope', agentId, T0), NotFoundError);
      assert.throws(() => store.tasks.place(task!.id, 'a-nope', T0), NotFoundError);
    });
  });

  describe('claim', () => {
    it("moves the agent's placed tasks to running and returns only those", () => {
      const { taskId, agentId } = placedTask();
      const other = placedTask();
      const claimed = store.tasks.claim(agentId, T0 + 5);
      assert.deepEqual(
        claimed.map((t) => [t.id, t.state, t.startedAtMs]),
        [[taskId, 'running', T0 + 5]],
      );
      assert.deepEqual(store.tasks.get(taskId), claimed[0]);
      assert.equal(store.tasks.get(other.taskId)!.state, 'placed');
      assert.deepEqual(store.tasks.claim(agentId, T0 + 6), []);
    });
  });

  describe('recordOutput', () => {
    it('records the output of a running task and ignores a task not running on that agent', () => {
      const { taskId, agentId } = placedTask();
      store.tasks.recordOutput(taskId, agentId, 'too early');
      assert.equal(store.tasks.get(taskId)!.outputTail, '');
      store.tasks.claim(agentId, T0);
      store.tasks.recordOutput(taskId, agentId, 'epoch 1');
      store.tasks.recordOutput(taskId, 'a-other', 'not mine');
      assert.equal(store.tasks.get(taskId)!.outputTail, 'epoch 1');
      assert.throws(() => store.tasks.recordOutput('t-nope', agentId, 'x'), NotFoundError);
    });
  });

  describe('finish', () => {
    const outcomes = [
      { name: 'succeeds on exit code 0', exitCode: 0, state: 'succeeded' },
      { name: 'fails on a non-zero exit code', exitCode: 3, state: 'failed' },
    ] as const;
    for (const c of outcomes) {
      it(`${c.name} and marks the agent idle when it was its last task`, () => {
        const { taskId, agentId } = placedTask();
        store.tasks.claim(agentId, T0 + 1);
        const done = store.tasks.finish(taskId, agentId, { exitCode: c.exitCode, outputTail: 'bye' }, T0 + 9);
        assert.equal(done.state, c.state);
        assert.equal(done.exitCode, c.exitCode);
        assert.equal(done.finishedAtMs, T0 + 9);
        assert.equal(done.outputTail, 'bye');
        assert.deepEqual(store.tasks.get(taskId), done);
        assert.equal(store.agents.get(agentId)!.idleSinceMs, T0 + 9);
      });
    }

    it('leaves the agent busy while it has another task', () => {
      const { taskId, agentId } = placedTask();
      const [second] = store.tasks.insert([newTask()], T0);
      store.tasks.place(second!.id, agentId, T0);
      store.tasks.finish(taskId, agentId, { exitCode: 0, outputTail: '' }, T0 + 9);
      assert.equal(store.agents.get(agentId)!.idleSinceMs, null);
    });

    it('returns a task that finished or moved elsewhere unchanged', () => {
      const { taskId, agentId } = placedTask();
      store.tasks.cancel(taskId, 'user cancelled', T0 + 1);
      const cancelled = store.tasks.get(taskId);
      assert.deepEqual(store.tasks.finish(taskId, agentId, { exitCode: 0, outputTail: 'late' }, T0 + 2), cancelled);
      const other = placedTask();
      const before = store.tasks.get(other.taskId);
      assert.deepEqual(store.tasks.finish(other.taskId, agentId, { exitCode: 0, outputTail: '' }, T0 + 3), before);
    });

    it('throws NotFoundError for an unknown task', () => {
      assert.throws(() => store.tasks.finish('t-nope', 'a-1', { exitCode: 0, outputTail: '' }, T0), NotFoundError);
    });
  });

  describe('cancel', () => {
    const active = ['pending', 'placed', 'running'] as const;
    for (const state of active) {
      it(`cancels a ${state} task`, () => {
        const { taskId, agentId } = placedTask();
        if (state === 'pending') store.tasks.requeue(taskId, agentId, 'handed back', T0);
        if (state === 'running') store.tasks.claim(agentId, T0);
        assert.equal(store.tasks.get(taskId)!.state, state);
        const cancelled = store.tasks.cancel(taskId, 'user cancelled', T0 + 4);
        assert.equal(cancelled.state, 'cancelled');
        assert.equal(cancelled.reason, 'user cancelled');
        assert.equal(cancelled.finishedAtMs, T0 + 4);
        assert.notEqual(store.agents.get(agentId)!.idleSinceMs, null);
      });
    }

    it('refuses to cancel a finished task', () => {
      const { taskId, agentId } = placedTask();
      store.tasks.finish(taskId, agentId, { exitCode: 0, outputTail: '' }, T0);
      assert.throws(() => store.tasks.cancel(taskId, 'too late', T0), {
        name: 'ConflictError',
        message: `cancelling task ${taskId}: it is already succeeded`,
      });
      assert.throws(() => store.tasks.cancel('t-nope', 'x', T0), NotFoundError);
    });
  });

  describe('requeue', () => {
    it('returns a task of the agent to pending with one more attempt', () => {
      const { taskId, agentId } = placedTask();
      store.tasks.claim(agentId, T0 + 1);
      const requeued = store.tasks.requeue(taskId, agentId, 'spot notice', T0 + 7);
      assert.equal(requeued.state, 'pending');
      assert.equal(requeued.agentId, null);
      assert.equal(requeued.attempts, 1);
      assert.equal(requeued.pendingSinceMs, T0 + 7);
      assert.equal(requeued.startedAtMs, null);
      assert.equal(requeued.reason, 'spot notice');
      assert.equal(store.agents.get(agentId)!.idleSinceMs, T0 + 7);
    });

    it('refuses a task that is not placed or running on that agent', () => {
      const { taskId } = placedTask();
      const other = addAgent(store).id;
      assert.throws(() => store.tasks.requeue(taskId, other, 'not mine', T0), ConflictError);
      assert.equal(store.tasks.get(taskId)!.state, 'placed');
      assert.throws(() => store.tasks.requeue('t-nope', other, 'x', T0), NotFoundError);
    });

    it("returns a lost agent's placed and running tasks to pending and leaves its finished ones", () => {
      const agentId = addAgent(store).id;
      const [a, b, c] = store.tasks.insert([newTask(), newTask(), newTask()], T0);
      for (const task of [a, b, c]) store.tasks.place(task!.id, agentId, T0);
      store.tasks.claim(agentId, T0);
      store.tasks.finish(c!.id, agentId, { exitCode: 0, outputTail: '' }, T0);
      const [d] = store.tasks.insert([newTask()], T0);
      store.tasks.place(d!.id, agentId, T0);

      assert.equal(store.tasks.requeueAgent(agentId, 'agent lost', T0 + 50), 3);
      for (const task of [a, b, d]) {
        const got = store.tasks.get(task!.id)!;
        assert.deepEqual([got.state, got.agentId, got.attempts, got.reason], ['pending', null, 1, 'agent lost']);
      }
      assert.equal(store.tasks.get(c!.id)!.state, 'succeeded');
      assert.equal(store.agents.get(agentId)!.idleSinceMs, T0 + 50);
      assert.equal(store.tasks.requeueAgent(agentId, 'again', T0 + 60), 0);
      assert.equal(store.agents.get(agentId)!.idleSinceMs, T0 + 50);
    });
  });
});
