import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'mocha';
import type { RegisterResponse } from '../../src/agent/protocol.ts';
import type { Task } from '../../src/core/task.ts';
import { resources } from '../../src/core/resources.ts';
import { expectApiError, startApiHarness, type ApiHarness } from '../helpers/api-harness.ts';

const TASK = { owner: { team: 't', project: 'p' }, resources: { cpu: 0.5, memory: 256 }, command: ['true'] };

/**
 * Which requests wake the control loop (the server's onChange, which serve wires to Controller.wake): those that give
 * a pass something to do now, and only when they succeed. Reads, heartbeats, pulls and output reports do not.
 */
describe('api wake-ups of the control loop', () => {
  let h: ApiHarness;
  let wakes: number;

  beforeEach(async () => {
    wakes = 0;
    h = await startApiHarness({ onChange: () => wakes++ });
  });
  afterEach(async () => {
    await h.close();
  });

  /** How many wake-ups `call` made. */
  async function woke(call: () => Promise<unknown>): Promise<number> {
    const before = wakes;
    await call();
    return wakes - before;
  }

  it('wakes on a submission, a cancel, a policy change and a resume; not on reads, refusals or a pause', async () => {
    const submitter = h.client(h.tokens.submitter);
    const admin = h.client(h.tokens.admin);
    let tasks: Task[] = [];
    assert.equal(
      await woke(async () => ({ tasks } = await submitter.post<{ tasks: Task[] }>('/v1/tasks', { tasks: [TASK, TASK] }))),
      1,
      'one submission of two tasks: one wake-up',
    );
    assert.equal(
      await woke(() => expectApiError(submitter.post('/v1/tasks', { tasks: [{ ...TASK, resources: { cpu: -1 } }] }), 400, /cpu/)),
      0,
    );
    assert.equal(await woke(() => submitter.get('/v1/tasks?limit=10')), 0);
    assert.equal(await woke(() => submitter.get(`/v1/tasks/${tasks[0]!.id}`)), 0);
    assert.equal(await woke(() => admin.get('/v1/status')), 0);
    assert.equal(await woke(() => submitter.post(`/v1/tasks/${tasks[0]!.id}/cancel`, {})), 1);
    assert.equal(await woke(() => expectApiError(submitter.post('/v1/tasks/t-none/cancel', {}), 404, /no such task/)), 0);
    const policy = await admin.get<Record<string, unknown>>('/v1/policy');
    assert.equal(await woke(() => admin.put('/v1/policy', { ...policy, pendingGraceMs: 1_000 })), 1);
    assert.equal(await woke(() => admin.post('/v1/pause', {})), 0, 'a pause gives a pass nothing to do');
    assert.equal(await woke(() => admin.post('/v1/resume', {})), 1);
  });

  it('wakes when an agent registers, finishes or hands back a task, or leaves; not on heartbeats, pulls or output', async () => {
    const agentAnswer = await h.client(h.tokens.registration).post<RegisterResponse>('/v1/agents/register', {
      protocolVersion: 1,
      name: 'node-1',
      capacity: resources({ cpuMillis: 4000, memoryMiB: 8192 }),
      labels: {},
    });
    h.secrets.push(agentAnswer.token);
    assert.equal(wakes, 1, 'a registration adds room');
    const { agentId } = agentAnswer;
    const agent = h.client(agentAnswer.token);
    const [done, handed] = h.store.tasks.insert(
      [0, 1].map(() => ({
        owner: { team: 't', project: 'p', job: 'j' },
        resources: resources({ cpuMillis: 500, memoryMiB: 256 }),
        priority: 0,
        revocable: false,
        constraints: {},
        command: ['true'],
      })),
      h.clock.now(),
    );
    for (const task of [done!, handed!]) h.store.tasks.place(task.id, agentId, h.clock.now());
    const report = (taskId: string, body: unknown) => () => agent.post(`/v1/agents/${agentId}/tasks/${taskId}/report`, body);
    assert.equal(await woke(() => agent.post(`/v1/agents/${agentId}/pull`, {})), 0);
    assert.equal(await woke(() => agent.post(`/v1/agents/${agentId}/heartbeat`, { runningTaskIds: [done!.id, handed!.id] })), 0);
    assert.equal(await woke(report(done!.id, { kind: 'output', outputTail: 'half' })), 0);
    assert.equal(await woke(report(done!.id, { kind: 'exit', exitCode: 0, outputTail: 'ok' })), 1);
    assert.equal(await woke(report(handed!.id, { kind: 'handback', reason: 'draining', outputTail: '' })), 1);
    assert.equal(await woke(() => agent.post(`/v1/agents/${agentId}/leave`, { reason: 'maintenance' })), 1);
  });
});
