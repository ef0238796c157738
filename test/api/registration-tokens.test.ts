import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { responseSchemas } from '../../src/api/response-schemas.ts';
import type { CreateTokenResponse } from '../../src/api/types.ts';
import { hashToken } from '../../src/core/credentials.ts';
import { resources } from '../../src/core/resources.ts';
import type { RegisterRequest, RegisterResponse } from '../../src/agent/protocol.ts';
import type { AuditEntry } from '../../src/store/store.ts';
import { expectApiError, startApiHarness, type ApiHarness } from '../helpers/api-harness.ts';

const DAY_MS = 86_400_000;

function registration(overrides: Partial<RegisterRequest> = {}): RegisterRequest {
  return {
    protocolVersion: 1,
    name: 'rack-3-node',
    capacity: resources({ cpuMillis: 8000, memoryMiB: 16384 }),
    labels: {},
    site: 'rack-3',
    ...overrides,
  };
}

describe('api bounded registration tokens', () => {
  let h: ApiHarness;
  beforeEach(async () => {
    h = await startApiHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  async function createBounded(body: Record<string, unknown>): Promise<CreateTokenResponse> {
    const created = await h.client(h.tokens.admin).post<CreateTokenResponse>('/v1/tokens', body);
    h.secrets.push(created.token);
    return created;
  }

  it('registers at most maxAgents agents, at its site only, until it expires; each agent gets its own token', async () => {
    const created = await createBounded({
      role: 'agent',
      name: 'rack-3',
      maxAgents: 2,
      site: 'rack-3',
      expiresInMs: DAY_MS,
    });
    responseSchemas.CreateTokenResponse.parse(created);
    assert.deepEqual([created.maxAgents, created.site, created.expiresAtMs], [2, 'rack-3', h.clock.now() + DAY_MS]);
    const client = h.client(created.token);
    await expectApiError(
      client.post('/v1/agents/register', registration({ site: 'lab' })),
      403,
      new RegExp(`^registering: registration token ${created.id} registers agents at site rack-3 only, not lab$`),
    );
    const agents: RegisterResponse[] = [];
    for (const name of ['n1', 'n2']) {
      const answer = await client.post<RegisterResponse>('/v1/agents/register', registration({ name }));
      h.secrets.push(answer.token);
      agents.push(answer);
    }
    const [one, two] = agents;
    assert.notEqual(one?.token, two?.token);
    for (const agent of agents) {
      const token = h.store.tokens.byHash(hashToken(agent.token));
      assert.deepEqual([token?.role, token?.agentId], ['agent', agent.agentId], 'its own token, bound to it');
      assert.deepEqual(h.store.agents.get(agent.agentId)?.location, { kind: 'private', site: 'rack-3' });
    }
    await expectApiError(
      client.post('/v1/agents/register', registration({ name: 'n3' })),
      403,
      new RegExp(`^registering: registration token ${created.id} has registered its 2 agents; create another$`),
    );
    assert.equal(h.store.agents.list().filter((a) => a.location.kind === 'private').length, 2);
  });

  it('registers exactly maxAgents agents when more register at once', async () => {
    const created = await createBounded({ role: 'agent', name: 'burst', maxAgents: 5, site: 'rack-3' });
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        fetch(`${h.server.url}/v1/agents/register`, {
          method: 'POST',
          headers: { authorization: `Bearer ${created.token}`, 'content-type': 'application/json' },
          body: JSON.stringify(registration({ name: `n${i}` })),
        }),
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [...Array(5).fill(201), ...Array(7).fill(403)]);
    for (const a of answers) if (a.status === 201) h.secrets.push(((await a.json()) as RegisterResponse).token);
    assert.equal(h.store.registrations.count(created.id), 5);
    assert.equal(h.store.agents.list().filter((a) => a.location.kind === 'private').length, 5);
  });

  it('stops registering at its expiry, and the agents it registered keep working', async () => {
    const created = await createBounded({ role: 'agent', name: 'day-pass', expiresInMs: DAY_MS });
    const client = h.client(created.token);
    const first = await client.post<RegisterResponse>('/v1/agents/register', registration());
    h.secrets.push(first.token);
    h.clock.advance(DAY_MS - 1);
    const second = await client.post<RegisterResponse>('/v1/agents/register', registration({ name: 'n2' }));
    h.secrets.push(second.token);
    h.clock.advance(1);
    await expectApiError(
      client.post('/v1/agents/register', registration({ name: 'n3' })),
      401,
      new RegExp(`^registering: registration token ${created.id} expired$`),
    );
    await h.client(first.token).post(`/v1/agents/${first.agentId}/heartbeat`, { runningTaskIds: [] });
  });

  it('audits the bounds, and refuses bounds on a token that cannot register, naming the field', async () => {
    const created = await createBounded({ role: 'agent', name: 'rack-4', maxAgents: 3 });
    const { entries } = await h.client(h.tokens.admin).get<{ entries: AuditEntry[] }>('/v1/audit');
    const row = entries.find((e) => e.action === 'token.create');
    assert.deepEqual(row?.detail, {
      id: created.id,
      role: 'agent',
      name: 'rack-4',
      bounds: { maxAgents: 3, site: null, expiresAtMs: null },
    });
    await expectApiError(
      h.client(h.tokens.admin).post('/v1/tokens', { role: 'submitter', name: 'x', maxAgents: 3 }),
      400,
      /^maxAgents: only an agent registration token \(role agent\) can be bounded, not role submitter$/,
      'maxAgents',
    );
    await expectApiError(
      h.client(h.tokens.admin).post('/v1/tokens', { role: 'agent', name: 'x', maxAgents: 0 }),
      400,
      /too small/i,
      'maxAgents',
    );
  });

  it('rate-limits failed registrations per credential and address with 429 and Retry-After, and audits each refusal', async () => {
    const created = await createBounded({ role: 'agent', name: 'short', expiresInMs: 1_000 });
    h.clock.advance(1_000);
    const client = h.client(created.token);
    // DEFAULT_FAILURE_LIMIT: a burst of ten, then one every six seconds.
    for (let i = 0; i < 10; i++) {
      await expectApiError(client.post('/v1/agents/register', registration()), 401, /expired$/);
    }
    const limited = await fetch(`${h.server.url}/v1/agents/register`, {
      method: 'POST',
      headers: { authorization: `Bearer ${created.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(registration()),
    });
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '6', 'one failure comes back every six seconds');
    const body = (await limited.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'rate_limited');
    assert.match(body.error.message, /^registering: too many failed registrations from this credential; retry in 6 s$/);
    // A good credential from the same (loopback) address is not locked out by another credential's failures.
    const good = await h.client(h.tokens.registration).post<RegisterResponse>('/v1/agents/register', registration());
    h.secrets.push(good.token);
    assert.equal(h.store.agents.get(good.agentId)?.state, 'registered');
    const { entries } = await h.client(h.tokens.admin).get<{ entries: AuditEntry[] }>('/v1/audit?limit=100');
    const refused = entries.filter((e) => e.action === 'agent.register.refused');
    assert.equal(refused.length, 10, 'the refusals before the limit are audited, the limited calls are not');
    assert.deepEqual(
      refused.map((e) => (e.detail as { reason: string; via: string }).reason),
      Array(10).fill('credential'),
    );
    h.clock.advance(6_000);
    await expectApiError(client.post('/v1/agents/register', registration()), 401, /expired$/);
  });

  it('limits forged bootstrap credentials per address, yet a registration token from that address still registers', async () => {
    const forged = (i: number): Promise<Response> =>
      fetch(`${h.server.url}/v1/agents/register`, {
        method: 'POST',
        headers: { authorization: `Bearer swb_intent-${i}.not-a-mac`, 'content-type': 'application/json' },
        body: JSON.stringify(registration({ instanceId: `i-${i}` })),
      });
    // Each forged credential is new, so only the address's bucket (a burst of ten) stops them.
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await forged(i)).status);
    assert.deepEqual(statuses, [...Array(10).fill(401), 429]);
    const limited = await forged(99);
    assert.equal(limited.status, 429);
    assert.match(((await limited.json()) as { error: { message: string } }).error.message, /from this address/);
    const good = await h.client(h.tokens.registration).post<RegisterResponse>('/v1/agents/register', registration());
    h.secrets.push(good.token);
    assert.equal(h.store.agents.get(good.agentId)?.state, 'registered');
  });
});
