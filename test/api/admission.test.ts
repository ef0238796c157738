import assert from 'node:assert/strict';
import { after, before, describe, it } from 'mocha';
import type { TaskSpec } from '../../src/api/types.ts';
import { resources } from '../../src/core/resources.ts';
import type { Task } from '../../src/core/task.ts';
import type { RegisterResponse } from '../../src/agent/protocol.ts';
import { expectApiError, rawRequest, startApiHarness, type ApiHarness } from '../helpers/api-harness.ts';

const KIB = 1024;

function spec(overrides: Partial<TaskSpec> = {}): TaskSpec {
  return { command: ['echo', 'hi'], resources: { cpu: 1, memory: 512 }, ...overrides };
}

/** A command of exactly `bytes` UTF-8 bytes: `sh -c` plus a filler argument. */
function commandOf(bytes: number): string[] {
  return ['sh', '-c', 'x'.repeat(bytes - 4)];
}

describe('api admission', () => {
  let h: ApiHarness;
  before(async () => {
    h = await startApiHarness({ maxBodyBytes: 4 * 1024 * KIB });
  });
  after(async () => {
    await h.close();
  });

  const count = (): number => h.store.tasks.list().length;

  describe('task payload', () => {
    it('accepts a command of exactly 64 KiB and refuses one byte more, naming the task, storing nothing', async () => {
      const before = count();
      const client = h.client(h.tokens.submitter);
      await client.post('/v1/tasks', { tasks: [spec({ command: commandOf(64 * KIB) })] });
      assert.equal(count(), before + 1);
      await expectApiError(
        client.post('/v1/tasks', { tasks: [spec(), spec({ command: commandOf(64 * KIB + 1) })] }),
        400,
        /^tasks\.1\.command: the command and environment take 65537 bytes, over the limit of 65536/,
        'tasks.1.command',
      );
      assert.equal(count(), before + 1);
    });

    it('counts UTF-8 bytes, not characters', async () => {
      // 30,000 two-byte characters: 60,000 bytes with the rest, under the limit; 40,000 are over it.
      const client = h.client(h.tokens.submitter);
      await client.post('/v1/tasks', { tasks: [spec({ command: ['echo', 'é'.repeat(30_000)] })] });
      await expectApiError(
        client.post('/v1/tasks', { tasks: [spec({ command: ['echo', 'é'.repeat(40_000)] })] }),
        400,
        /80004 bytes/,
        'tasks.0.command',
      );
    });

    it('takes its limit from api.maxTaskPayloadBytes', async () => {
      const small = await startApiHarness({ maxTaskPayloadBytes: 100 });
      try {
        const client = small.client(small.tokens.submitter);
        await client.post('/v1/tasks', { tasks: [spec({ command: commandOf(100) })] });
        await expectApiError(
          client.post('/v1/tasks', { tasks: [spec({ command: commandOf(101) })] }),
          400,
          /over the limit of 100/,
          'tasks.0.command',
        );
      } finally {
        await small.close();
      }
    });
  });

  describe('resource bounds', () => {
    const cases: { name: string; resources: TaskSpec['resources']; field: string; message: RegExp }[] = [
      { name: 'cpu 1e306', resources: { cpu: 1e306, memory: 1 }, field: 'cpu', message: /at most 4096 cores/ },
      { name: 'cpu 4097', resources: { cpu: 4097, memory: 1 }, field: 'cpu', message: /at most 4096 cores/ },
      { name: 'cpu "1e400"', resources: { cpu: '1e400', memory: 1 }, field: 'cpu', message: /./ },
      {
        name: 'memory 99999999999999999999999Gi',
        resources: { cpu: 1, memory: '99999999999999999999999Gi' },
        field: 'memory',
        message: /at most 64Ti/,
      },
      { name: 'memory 65Ti', resources: { cpu: 1, memory: '65Ti' }, field: 'memory', message: /at most 64Ti/ },
      { name: 'gpus 65', resources: { cpu: 1, memory: 1, gpus: 65 }, field: 'gpus', message: /<=64|64/ },
      {
        name: 'netMbps 400001',
        resources: { cpu: 1, memory: 1, netMbps: 400_001 },
        field: 'netMbps',
        message: /400000/,
      },
    ];
    for (const c of cases) {
      it(`refuses ${c.name} with 400 naming the field`, async () => {
        const before = count();
        await expectApiError(
          h.client(h.tokens.submitter).post('/v1/tasks', { tasks: [spec({ resources: c.resources })] }),
          400,
          c.message,
          `tasks.0.resources.${c.field}`,
        );
        assert.equal(count(), before);
      });
    }

    it('accepts the bounds themselves: 4096 cores, 64Ti, 64 GPUs, 400,000 Mbps', async () => {
      const { tasks } = await h.client(h.tokens.submitter).post<{ tasks: Task[] }>('/v1/tasks', {
        tasks: [spec({ resources: { cpu: 4096, memory: '64Ti', gpus: 64, netMbps: 400_000 } })],
      });
      assert.deepEqual(tasks[0]?.resources, {
        cpuMillis: 4_096_000,
        memoryMiB: 64 * 1024 * 1024,
        gpus: 64,
        netMbps: 400_000,
      });
    });

    it('refuses an agent that registers more than the bounds', async () => {
      await expectApiError(
        h.client(h.tokens.registration).post('/v1/agents/register', {
          protocolVersion: 1,
          name: 'huge',
          capacity: { cpuMillis: 1e300, memoryMiB: 1024, gpus: 0, netMbps: 0 },
          labels: {},
        }),
        400,
        /./,
        'capacity.cpuMillis',
      );
    });
  });

  describe('pending quota', () => {
    it('answers 429 with Retry-After past policy.limits.maxPendingPerTeam, per team, and admits again once tasks leave pending', async () => {
      const admin = h.client(h.tokens.admin);
      const policy = h.store.policy.get();
      await admin.put('/v1/policy', { ...policy, limits: { ...policy.limits, maxPendingPerTeam: 3 } });
      try {
        const submit = (team: string, n: number) =>
          rawRequest(h.server.url, {
            method: 'POST',
            path: '/v1/tasks',
            headers: { authorization: `Bearer ${h.tokens.submitter}`, 'content-type': 'application/json' },
            body: JSON.stringify({ tasks: Array.from({ length: n }, () => spec({ owner: { team } })) }),
          });
        assert.equal((await submit('quota-a', 2)).status, 201);
        const refused = await submit('quota-a', 2);
        assert.equal(refused.status, 429);
        assert.equal(refused.headers['retry-after'], '30');
        assert.match(
          (refused.json as { error: { message: string } }).error.message,
          /team quota-a: it has 2 pending and policy\.limits\.maxPendingPerTeam is 3/,
        );
        assert.equal(h.store.tasks.countPending('quota-a'), 2);
        // Another team has its own quota.
        assert.equal((await submit('quota-b', 3)).status, 201);
        assert.equal((await submit('quota-a', 1)).status, 201);
        assert.equal((await submit('quota-a', 1)).status, 429);
        const [oldest] = h.store.tasks.list({ team: 'quota-a' });
        await h.client(h.tokens.submitter).post(`/v1/tasks/${oldest?.id}/cancel`, {});
        assert.equal((await submit('quota-a', 1)).status, 201);
        assert.equal(h.store.tasks.countPending('quota-a'), 3);
      } finally {
        await admin.put('/v1/policy', policy);
      }
    });
  });

  describe('output tail', () => {
    it('keeps the last 64 KiB of UTF-8 of a longer tail, cut on a character boundary', async () => {
      const reg = await h.client(h.tokens.registration).post<RegisterResponse>('/v1/agents/register', {
        protocolVersion: 1,
        name: 'tail-node',
        capacity: { cpuMillis: 4000, memoryMiB: 8192, gpus: 0, netMbps: 0 },
        labels: {},
      });
      h.secrets.push(reg.token);
      const [task] = h.store.tasks.insert(
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
        h.clock.now(),
      );
      assert.ok(task);
      h.store.tasks.place(task.id, reg.agentId, h.clock.now());
      await h.client(reg.token).post(`/v1/agents/${reg.agentId}/pull`, {});
      // 'a' then 40,000 x 'é' (2 bytes) then 'END': 80,004 bytes.
      const tail = `a${'é'.repeat(40_000)}END`;
      await h.client(reg.token).post(`/v1/agents/${reg.agentId}/tasks/${task.id}/report`, {
        kind: 'exit',
        exitCode: 0,
        outputTail: tail,
      });
      const stored = h.store.tasks.get(task.id)?.outputTail ?? '';
      // 65,536 bytes = 'END' (3) + 32,766 x 'é' (65,532) + 1 byte: half an 'é', which is dropped.
      assert.equal(stored, `${'é'.repeat(32_766)}END`);
      assert.equal(h.store.tasks.get(task.id)?.state, 'succeeded');
    });
  });
});
