import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'mocha';
import type { ApiClient } from '../../src/api/client.ts';
import { responseSchemas } from '../../src/api/response-schemas.ts';
import { hashToken } from '../../src/core/credentials.ts';
import { resources } from '../../src/core/resources.ts';
import type { Task } from '../../src/core/task.ts';
import type { HeartbeatResponse, PullResponse, RegisterRequest, RegisterResponse } from '../../src/agent/protocol.ts';
import {
  HEARTBEAT_INTERVAL_MS,
  POLL_INTERVAL_MS,
  PROVIDER_ID,
  expectApiError,
  startApiHarness,
  type ApiHarness,
} from '../helpers/api-harness.ts';

const CAPACITY = resources({ cpuMillis: 4000, memoryMiB: 8192, netMbps: 1000 });

function registration(overrides: Partial<RegisterRequest> = {}): RegisterRequest {
  return { protocolVersion: 1, name: 'node-1', capacity: CAPACITY, labels: { rack: 'r1' }, ...overrides };
}

describe('api agent protocol', () => {
  let h: ApiHarness;
  beforeEach(async () => {
    h = await startApiHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  async function register(credential: string, req: RegisterRequest = registration()): Promise<RegisterResponse> {
    const answer = await h.client(credential).post<RegisterResponse>('/v1/agents/register', req);
    h.secrets.push(answer.token);
    return answer;
  }

  function submitAndPlace(agentId: string, count: number): Task[] {
    const tasks = h.store.tasks.insert(
      Array.from({ length: count }, () => ({
        owner: { team: 't', project: 'p', job: 'j' },
        resources: resources({ cpuMillis: 500, memoryMiB: 256 }),
        priority: 0,
        revocable: true,
        constraints: {},
        command: ['sleep', '1'],
      })),
      h.clock.now(),
    );
    for (const task of tasks) h.store.tasks.place(task.id, agentId, h.clock.now());
    return tasks;
  }

  describe('registration', () => {
    it('registers a private agent with a registration token and issues a token bound to it', async () => {
      const answer = await register(h.tokens.registration, registration({ site: 'lab' }));
      responseSchemas.RegisterResponse.parse(answer);
      assert.equal(answer.protocolVersion, 1);
      assert.equal(answer.heartbeatIntervalMs, HEARTBEAT_INTERVAL_MS);
      assert.equal(answer.pollIntervalMs, POLL_INTERVAL_MS);
      const agent = h.store.agents.get(answer.agentId);
      assert.equal(agent?.state, 'registered');
      assert.deepEqual(agent?.location, { kind: 'private', site: 'lab' });
      assert.equal(agent?.lifecycle, 'private');
      assert.equal(agent?.pricePerHourMicros, 0);
      assert.deepEqual(agent?.capacity, CAPACITY);
      const token = h.store.tokens.byHash(hashToken(answer.token));
      assert.equal(token?.role, 'agent');
      assert.equal(token?.agentId, answer.agentId);
      assert.equal(token?.name, `agent:${answer.agentId}`);
    });

    it("puts a private agent at site 'default' when it names none", async () => {
      const answer = await register(h.tokens.registration);
      assert.deepEqual(h.store.agents.get(answer.agentId)?.location, { kind: 'private', site: 'default' });
    });

    it('registers a launched instance with its bootstrap credential and signed identity once, each instance once', async () => {
      const { credential, intentId } = h.launch(['i-1', 'i-2']);
      const first = await register(credential, registration({ identity: h.identity('i-1'), labels: { zone: 'a' } }));
      const agent = h.store.agents.get(first.agentId);
      assert.equal(agent?.state, 'registered');
      assert.equal(agent?.instanceId, 'i-1');
      assert.equal(agent?.intentId, intentId);
      assert.equal(h.store.tokens.byHash(hashToken(first.token))?.agentId, first.agentId);
      await expectApiError(
        h.client(credential).post('/v1/agents/register', registration({ identity: h.identity('i-1') })),
        409,
        /^registering: instance i-1 is already registered or being terminated$/,
      );
      const second = await register(credential, registration({ instanceId: 'i-2', identity: h.identity('i-2') }));
      assert.notEqual(second.agentId, first.agentId);
    });

    it("records a cloud agent with its offering's capacity and labels, or less where it reports less", async () => {
      // The harness's offering: 2 CPUs, 4096 MiB, 1000 Mbps, no GPU, labelled with its type and lifecycle.
      const { credential } = h.launch(['i-big', 'i-small']);
      const greedy = await register(
        credential,
        registration({
          identity: h.identity('i-big'),
          capacity: resources({ cpuMillis: 512_000, memoryMiB: 1_048_576, gpus: 8, netMbps: 100_000 }),
          labels: { 'spillway.io/instance-type': 'p5.48xlarge', gpu: 'h100' },
        }),
      );
      const recorded = h.store.agents.get(greedy.agentId);
      assert.deepEqual(recorded?.capacity, { cpuMillis: 2000, memoryMiB: 4096, gpus: 0, netMbps: 1000 });
      assert.deepEqual(recorded?.labels, {
        'spillway.io/instance-type': 'local.small',
        'spillway.io/lifecycle': 'on-demand',
      });
      const modest = await register(
        credential,
        registration({
          identity: h.identity('i-small'),
          capacity: resources({ cpuMillis: 1900, memoryMiB: 3800, gpus: 0, netMbps: 1000 }),
        }),
      );
      assert.deepEqual(h.store.agents.get(modest.agentId)?.capacity, {
        cpuMillis: 1900,
        memoryMiB: 3800,
        gpus: 0,
        netMbps: 1000,
      });
    });

    it("refuses another intent's instance with 401, an instance no intent reported yet with 409 so the agent retries", async () => {
      const a = h.launch(['i-a']);
      h.launch(['i-b']);
      await expectApiError(
        h.client(a.credential).post('/v1/agents/register', registration({ identity: h.identity('i-b') })),
        401,
        new RegExp(`^registering: instance i-b was not launched by intent ${a.intentId} \\(intent\\)$`),
      );
      await expectApiError(
        h.client(a.credential).post('/v1/agents/register', registration({ identity: h.identity('i-unknown') })),
        409,
        /instance i-unknown was not launched by intent/,
      );
      assert.equal(h.store.agents.byInstance(PROVIDER_ID, 'i-b')?.state, 'provisioning');
    });

    it('refuses a bootstrap credential used over maxProvisionMs after its launch was confirmed with 401', async () => {
      const { maxProvisionMs } = h.store.policy.get();
      const stale = h.launch(['i-old'], h.clock.now() - maxProvisionMs - 1);
      await expectApiError(
        h.client(stale.credential).post('/v1/agents/register', registration({ identity: h.identity('i-old') })),
        401,
        /^registering: the bootstrap credential expired$/,
      );
      const fresh = h.launch(['i-new'], h.clock.now() - maxProvisionMs);
      await register(fresh.credential, registration({ identity: h.identity('i-new') }));
    });

    it('refuses a bootstrap credential with a bad MAC with 401', async () => {
      const { credential } = h.launch(['i-1']);
      const forged = credential.slice(0, -2) + (credential.endsWith('AA') ? 'BB' : 'AA');
      await expectApiError(
        h.client(forged).post('/v1/agents/register', registration({ identity: h.identity('i-1') })),
        401,
        /^registering: the bootstrap credential is not valid$/,
      );
      assert.equal(h.store.agents.byInstance(PROVIDER_ID, 'i-1')?.state, 'provisioning');
    });

    it("requires the instance's signed identity with a bootstrap credential", async () => {
      const { credential } = h.launch(['i-1']);
      await expectApiError(
        h.client(credential).post('/v1/agents/register', registration({ instanceId: 'i-1' })),
        401,
        /^registering: a bootstrap credential registers only with the instance's signed identity \(missing\)$/,
      );
      assert.equal(h.store.agents.byInstance(PROVIDER_ID, 'i-1')?.state, 'provisioning');
    });

    it('refuses another protocol version, naming both', async () => {
      await expectApiError(
        h.client(h.tokens.registration).post('/v1/agents/register', registration({ protocolVersion: 2 })),
        400,
        /^protocolVersion: expected protocol version 1 \(this controller\), got 2 \(the agent\)$/,
        'protocolVersion',
      );
    });

    it('accepts a bootstrap credential on no route but registration', async () => {
      const { credential } = h.launch(['i-1']);
      await expectApiError(h.client(credential).get('/v1/status'), 401, /accepted only by POST \/v1\/agents\/register/);
      const agentId = h.store.agents.byInstance(PROVIDER_ID, 'i-1')?.id ?? '';
      await expectApiError(
        h.client(credential).post(`/v1/agents/${agentId}/heartbeat`, { runningTaskIds: [] }),
        401,
        /accepted only by POST \/v1\/agents\/register/,
      );
    });
  });

  describe('after registration', () => {
    let agentId: string;
    let agent: ApiClient;
    beforeEach(async () => {
      const answer = await register(h.tokens.registration);
      agentId = answer.agentId;
      agent = h.client(answer.token);
    });

    it('hands out placed tasks on pull, once', async () => {
      const tasks = submitAndPlace(agentId, 2);
      const pulled = await agent.post<PullResponse>(`/v1/agents/${agentId}/pull`);
      responseSchemas.PullResponse.parse(pulled);
      assert.deepEqual(pulled.tasks.map((t) => t.id).sort(), tasks.map((t) => t.id).sort());
      assert.deepEqual(pulled.tasks[0]?.command, ['sleep', '1']);
      assert.equal(h.store.tasks.get(tasks[0]?.id ?? '')?.state, 'running');
      assert.equal(pulled.pulledAtMs, h.clock.now(), "the hand-over's time, on the controller's clock");
      assert.deepEqual(await agent.post<PullResponse>(`/v1/agents/${agentId}/pull`, {}), {
        tasks: [],
        pulledAtMs: h.clock.now(),
      });
    });

    it('refuses a heartbeat whose pulledThroughMs is not a whole non-negative number, naming it', async () => {
      for (const pulledThroughMs of [-1, 1.5, '12']) {
        await assert.rejects(
          agent.post(`/v1/agents/${agentId}/heartbeat`, { runningTaskIds: [], pulledThroughMs }),
          (err: Error & { status?: number }) => err.status === 400 && /pulledThroughMs/.test(err.message),
        );
      }
    });

    it('tells the agent on heartbeat to stop tasks that are no longer running on it', async () => {
      const [keep, cancel] = submitAndPlace(agentId, 2);
      await agent.post(`/v1/agents/${agentId}/pull`);
      h.store.tasks.cancel(cancel?.id ?? '', 'test', h.clock.now());
      h.clock.advance(1_000);
      const beat = await agent.post<HeartbeatResponse>(`/v1/agents/${agentId}/heartbeat`, {
        runningTaskIds: [keep?.id, cancel?.id, 't-ghost'],
      });
      assert.deepEqual(beat, { state: 'registered', stopTaskIds: [cancel?.id, 't-ghost'] });
      assert.equal(h.store.agents.get(agentId)?.lastHeartbeatMs, h.clock.now());
    });

    it('records output, exits and hand-backs reported for its tasks', async () => {
      const [done, failed, handed] = submitAndPlace(agentId, 3);
      await agent.post(`/v1/agents/${agentId}/pull`);
      const report = (taskId: string | undefined, body: unknown): Promise<{ state: string }> =>
        agent.post(`/v1/agents/${agentId}/tasks/${taskId}/report`, body);
      assert.deepEqual(await report(done?.id, { kind: 'output', outputTail: 'halfway' }), { state: 'running' });
      assert.equal(h.store.tasks.get(done?.id ?? '')?.outputTail, 'halfway');
      assert.deepEqual(await report(done?.id, { kind: 'exit', exitCode: 0, outputTail: 'ok' }), { state: 'succeeded' });
      assert.deepEqual(await report(failed?.id, { kind: 'exit', exitCode: 3, outputTail: 'boom' }), {
        state: 'failed',
      });
      assert.equal(h.store.tasks.get(failed?.id ?? '')?.exitCode, 3);
      assert.deepEqual(await report(handed?.id, { kind: 'handback', reason: 'shutting down', outputTail: '' }), {
        state: 'pending',
      });
      const requeued = h.store.tasks.get(handed?.id ?? '');
      assert.equal(requeued?.attempts, 1);
      assert.match(requeued?.reason ?? '', /shutting down/);
    });

    it('answers 404 for a report on a task that is not this agent’s', async () => {
      const other = await register(h.tokens.registration, registration({ name: 'node-2' }));
      const [theirs] = submitAndPlace(other.agentId, 1);
      await expectApiError(
        agent.post(`/v1/agents/${agentId}/tasks/${theirs?.id}/report`, { kind: 'output', outputTail: 'x' }),
        404,
        new RegExp(`it is not a task of agent ${agentId}`),
      );
      assert.equal(h.store.tasks.get(theirs?.id ?? '')?.outputTail, '');
    });

    it('leaves cleanly: tasks return to pending, a private agent is terminated and its token revoked', async () => {
      const [task] = submitAndPlace(agentId, 1);
      await agent.post(`/v1/agents/${agentId}/pull`);
      assert.deepEqual(await agent.post(`/v1/agents/${agentId}/leave`, { reason: 'maintenance' }), {
        state: 'terminated',
      });
      assert.equal(h.store.tasks.get(task?.id ?? '')?.state, 'pending');
      await expectApiError(agent.post(`/v1/agents/${agentId}/heartbeat`, { runningTaskIds: [] }), 401, /revoked/);
    });

    it('drains a cloud agent on an interruption notice and returns its tasks to pending', async () => {
      const { credential } = h.launch(['i-spot']);
      const cloud = await register(credential, registration({ instanceId: 'i-spot', identity: h.identity('i-spot') }));
      const cloudClient = h.client(cloud.token);
      const tasks = submitAndPlace(cloud.agentId, 2);
      await cloudClient.post(`/v1/agents/${cloud.agentId}/pull`);
      const beat = await cloudClient.post<HeartbeatResponse>(`/v1/agents/${cloud.agentId}/heartbeat`, {
        runningTaskIds: tasks.map((t) => t.id),
        notice: 'interruption',
      });
      assert.equal(beat.state, 'draining');
      assert.deepEqual([...beat.stopTaskIds].sort(), tasks.map((t) => t.id).sort());
      for (const task of tasks) {
        const stored = h.store.tasks.get(task.id);
        assert.equal(stored?.state, 'pending');
        assert.equal(stored?.reason, 'spot interruption notice');
      }
      assert.ok(
        h.logs
          .lines()
          .some((l) => l.message === 'draining agent on interruption notice' && l.agentId === cloud.agentId),
      );
    });

    const foreignRoutes = [
      { name: 'admin: PUT /v1/policy', method: 'PUT', path: '/v1/policy', allowed: /allowed roles: admin$/ },
      { name: 'admin: POST /v1/tokens', method: 'POST', path: '/v1/tokens', allowed: /allowed roles: admin$/ },
      { name: 'admin: GET /v1/audit', method: 'GET', path: '/v1/audit', allowed: /allowed roles: admin$/ },
      {
        name: 'submitter: POST /v1/tasks',
        method: 'POST',
        path: '/v1/tasks',
        allowed: /allowed roles: submitter, admin$/,
      },
      {
        name: 'finance: GET /v1/status',
        method: 'GET',
        path: '/v1/status',
        allowed: /allowed roles: admin, submitter, finance$/,
      },
      {
        name: 'finance: GET /v1/tasks',
        method: 'GET',
        path: '/v1/tasks',
        allowed: /allowed roles: submitter, admin, finance$/,
      },
      { name: 'registration', method: 'POST', path: '/v1/agents/register', allowed: /use a registration token/ },
    ];
    for (const route of foreignRoutes) {
      it(`refuses an agent's own token on other roles' routes with 403: ${route.name}`, async () => {
        await expectApiError(
          agent.request(route.method, route.path, route.method === 'GET' ? undefined : {}),
          403,
          route.allowed,
        );
      });
    }

    it("refuses an agent's token on another agent's routes with 403", async () => {
      const other = await register(h.tokens.registration, registration({ name: 'node-2' }));
      const [theirs] = submitAndPlace(other.agentId, 1);
      const calls: [string, unknown][] = [
        [`/v1/agents/${other.agentId}/heartbeat`, { runningTaskIds: [] }],
        [`/v1/agents/${other.agentId}/pull`, {}],
        [`/v1/agents/${other.agentId}/tasks/${theirs?.id}/report`, { kind: 'output', outputTail: 'x' }],
        [`/v1/agents/${other.agentId}/leave`, { reason: 'x' }],
      ];
      for (const [path, body] of calls) {
        await expectApiError(agent.post(path, body), 403, /only the routes of the agent it was issued to/);
      }
      assert.equal(h.store.tasks.get(theirs?.id ?? '')?.state, 'placed');
      assert.equal(h.store.agents.get(other.agentId)?.state, 'registered');
    });

    it("refuses a registration token on an agent's routes with 403", async () => {
      await expectApiError(
        h.client(h.tokens.registration).post(`/v1/agents/${agentId}/pull`),
        403,
        /only the routes of the agent it was issued to/,
      );
    });

    it('refuses people tokens on agent routes with 403', async () => {
      await expectApiError(
        h.client(h.tokens.admin).post(`/v1/agents/${agentId}/pull`),
        403,
        /role admin may not; allowed roles: agent/,
      );
      await expectApiError(
        h.client(h.tokens.admin).post('/v1/agents/register', registration()),
        403,
        /role admin may not/,
      );
    });
  });
});
