import assert from 'node:assert/strict';
import { after, before, describe, it } from 'mocha';
import type { TaskSpec } from '../../src/api/types.ts';
import { responseSchemas } from '../../src/api/response-schemas.ts';
import type { Task } from '../../src/core/task.ts';
import { expectApiError, startApiHarness, type ApiHarness } from '../helpers/api-harness.ts';

function spec(overrides: Partial<TaskSpec> = {}): TaskSpec {
  return { command: ['echo', 'hi'], resources: { cpu: 1, memory: 512 }, ...overrides };
}

describe('api task routes', () => {
  let h: ApiHarness;
  before(async () => {
    h = await startApiHarness({ maxBodyBytes: 1024 * 1024 });
  });
  after(async () => {
    await h.close();
  });

  it('submits tasks, converting CPU and memory quantities and defaulting the owner', async () => {
    const { tasks } = await h.client(h.tokens.submitter).post<{ tasks: Task[] }>('/v1/tasks', {
      tasks: [
        spec({ resources: { cpu: '500m', memory: '4Gi', gpus: 1, netMbps: 100 }, owner: { team: 'ml' }, priority: 5 }),
        spec({ resources: { cpu: 2, memory: 256 }, revocable: true, constraints: { privateOnly: true } }),
      ],
    });
    assert.equal(tasks.length, 2);
    responseSchemas.TaskList.parse({ tasks });
    const [first, second] = tasks;
    assert.deepEqual(first?.resources, { cpuMillis: 500, memoryMiB: 4096, gpus: 1, netMbps: 100 });
    assert.deepEqual(first?.owner, { team: 'ml', project: 'default', job: 'default' });
    assert.equal(first?.priority, 5);
    assert.equal(first?.state, 'pending');
    assert.deepEqual(second?.resources, { cpuMillis: 2000, memoryMiB: 256, gpus: 0, netMbps: 0 });
    assert.deepEqual(second?.owner, { team: 'default', project: 'default', job: 'default' });
    assert.equal(second?.revocable, true);
    assert.deepEqual(second?.constraints, { privateOnly: true });
    assert.equal(h.store.tasks.get(first?.id ?? '')?.state, 'pending');
  });

  it('answers 201 for a submission', async () => {
    const res = await fetch(`${h.server.url}/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.tokens.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tasks: [spec()] }),
    });
    assert.equal(res.status, 201);
  });

  it('accepts 1,000 tasks at once and refuses 1,001 without storing any', async () => {
    const before = h.store.tasks.list({ limit: 100_000 }).length;
    const { tasks } = await h.client(h.tokens.submitter).post<{ tasks: Task[] }>('/v1/tasks', {
      tasks: Array.from({ length: 1_000 }, () => spec()),
    });
    assert.equal(tasks.length, 1_000);
    await expectApiError(
      h.client(h.tokens.submitter).post('/v1/tasks', { tasks: Array.from({ length: 1_001 }, () => spec()) }),
      400,
      /^tasks: Too big/,
      'tasks',
    );
    assert.equal(h.store.tasks.list({ limit: 100_000 }).length, before + 1_000);
  });

  it('stores none of a batch when one task in it is invalid, naming that task', async () => {
    const before = h.store.tasks.list({ limit: 100_000 }).length;
    await expectApiError(
      h.client(h.tokens.submitter).post('/v1/tasks', {
        tasks: [spec(), spec(), spec({ resources: { cpu: 1, memory: 'lots' } })],
      }),
      400,
      /^tasks\.2\.resources\.memory: expected a memory quantity such as 512Mi or 4Gi, got "lots"/,
      'tasks.2.resources.memory',
    );
    assert.equal(h.store.tasks.list({ limit: 100_000 }).length, before);
  });

  it('lists tasks filtered by state, team, project and limit', async () => {
    const client = h.client(h.tokens.submitter);
    const { tasks } = await client.post<{ tasks: Task[] }>('/v1/tasks', {
      tasks: [
        spec({ owner: { team: 'search', project: 'index' } }),
        spec({ owner: { team: 'search', project: 'crawl' } }),
      ],
    });
    h.store.tasks.cancel(tasks[1]?.id ?? '', 'test', h.clock.now());
    const byTeam = await client.get<{ tasks: Task[] }>('/v1/tasks?team=search');
    assert.deepEqual(byTeam.tasks.map((t) => t.id).sort(), tasks.map((t) => t.id).sort());
    const byProject = await client.get<{ tasks: Task[] }>('/v1/tasks?team=search&project=index');
    assert.deepEqual(
      byProject.tasks.map((t) => t.id),
      [tasks[0]?.id],
    );
    const cancelled = await h
      .client(h.tokens.finance)
      .get<{ tasks: Task[] }>('/v1/tasks?state=cancelled,failed&team=search');
    assert.deepEqual(
      cancelled.tasks.map((t) => t.id),
      [tasks[1]?.id],
    );
    const limited = await client.get<{ tasks: Task[] }>('/v1/tasks?limit=3');
    assert.equal(limited.tasks.length, 3);
  });

  it('gets one task, and 404 for an unknown one', async () => {
    const [task] = h.store.tasks.list({ limit: 1 });
    assert.ok(task);
    const got = await h.client(h.tokens.finance).get<Task>(`/v1/tasks/${task.id}`);
    assert.deepEqual(got, task);
    await expectApiError(h.client(h.tokens.finance).get('/v1/tasks/t-nope'), 404, /finding task t-nope: no such task/);
  });

  it('cancels a task naming who did it; cancelling it again is a conflict', async () => {
    const client = h.client(h.tokens.submitter);
    const { tasks } = await client.post<{ tasks: Task[] }>('/v1/tasks', { tasks: [spec()] });
    const id = tasks[0]?.id ?? '';
    const cancelled = await client.post<Task>(`/v1/tasks/${id}/cancel`);
    assert.equal(cancelled.state, 'cancelled');
    assert.match(cancelled.reason, /cancelled by bob \(tok-/);
    await expectApiError(client.post(`/v1/tasks/${id}/cancel`), 409, /already cancelled/);
    await expectApiError(client.post('/v1/tasks/t-nope/cancel'), 404, /no such task/);
  });

  const roleRules = [
    { name: 'finance cannot submit', token: 'finance', method: 'POST', path: '/v1/tasks', allowed: 'submitter, admin' },
    {
      name: 'finance cannot cancel',
      token: 'finance',
      method: 'POST',
      path: '/v1/tasks/t-x/cancel',
      allowed: 'submitter, admin',
    },
    {
      name: 'a registration token cannot list',
      token: 'registration',
      method: 'GET',
      path: '/v1/tasks',
      allowed: 'submitter, admin, finance',
    },
    {
      name: 'a registration token cannot get',
      token: 'registration',
      method: 'GET',
      path: '/v1/tasks/t-x',
      allowed: 'submitter, admin, finance',
    },
  ] as const;
  for (const rule of roleRules) {
    it(`refuses a wrong role with 403 naming the roles allowed: ${rule.name}`, async () => {
      const client = h.client(h.tokens[rule.token]);
      await expectApiError(
        client.request(rule.method, rule.path, rule.method === 'POST' ? { tasks: [spec()] } : undefined),
        403,
        new RegExp(`allowed roles: ${rule.allowed}$`),
      );
    });
  }
});
