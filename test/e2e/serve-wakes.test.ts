import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'mocha';
import { ApiClient } from '../../src/api/client.ts';
import type { CreateTokenResponse } from '../../src/api/types.ts';
import type { RegisterResponse } from '../../src/agent/protocol.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { Task } from '../../src/core/task.ts';
import { resources } from '../../src/core/resources.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { serve, type RunningServer } from '../../src/main.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * serve wires the API's wake-ups to the control loop: with a 10-minute pass interval, a task submitted through the
 * API is placed on a private agent's free room within seconds, which only a wake-up can do.
 */
describe('serve: requests wake the control loop', () => {
  let server: RunningServer | undefined;
  let dir: string | undefined;

  afterEach(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    server = dir = undefined;
  });

  it('places a submitted task long before the next interval', async () => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-serve-wakes-'));
    const config = parseConfig({
      clusterId: 'wake-test',
      home: dir,
      api: { port: 0 },
      controller: { passIntervalMs: 600_000 },
      log: { level: 'error' },
    });
    server = await serve(config, { logger: silentLogger() });
    const admin = new ApiClient({ url: server.url, token: readFileSync(server.adminTokenFile, 'utf8').trim() });
    // The first pass ran at start and the loop sleeps its 10 minutes.
    await waitFor('the controller to lead', () => server!.controller.isLeader(), { intervalMs: 20 });
    const registration = await admin.post<CreateTokenResponse>('/v1/tokens', { role: 'agent', name: 'lab' });
    const agent = await new ApiClient({ url: server.url, token: registration.token }).post<RegisterResponse>(
      '/v1/agents/register',
      { protocolVersion: 1, name: 'lab-1', capacity: resources({ cpuMillis: 2000, memoryMiB: 4096 }), labels: {}, isolation: 'cgroup-v2' },
    );
    const submittedAt = Date.now();
    const { tasks } = await admin.post<{ tasks: Task[] }>('/v1/tasks', {
      tasks: [{ owner: { team: 't', project: 'p' }, resources: { cpu: 1, memory: 1024 }, command: ['true'] }],
    });
    const placed = await waitFor(
      'the task placed',
      async () => {
        const task = await admin.get<Task>(`/v1/tasks/${tasks[0]!.id}`);
        return task.state === 'placed' && task;
      },
      { timeoutMs: 20_000, intervalMs: 20 },
    );
    assert.equal(placed.agentId, agent.agentId);
    assert.ok(Date.now() - submittedAt < 60_000, 'far sooner than the 10-minute interval');
  });
});
