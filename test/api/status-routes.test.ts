import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'mocha';
import type { Status } from '../../src/api/types.ts';
import { responseSchemas } from '../../src/api/response-schemas.ts';
import type { Agent } from '../../src/core/agent.ts';
import { resources } from '../../src/core/resources.ts';
import { ClusterModel } from '../../src/model/cluster-model.ts';
import { expectApiError, startApiHarness, type ApiHarness } from '../helpers/api-harness.ts';

describe('api agents and status routes', () => {
  let h: ApiHarness;
  const ids: Record<'lab1' | 'lab2' | 'gone' | 'lost' | 'cloud' | 'draining', string> = {
    lab1: '',
    lab2: '',
    gone: '',
    lost: '',
    cloud: '',
    draining: '',
  };

  // Each test gets its own store and clock with these agents: one advances the clock an hour.
  beforeEach(async () => {
    h = await startApiHarness();
    const register = async (
      name: string,
      cpuMillis: number,
      extra: { site?: string; instanceId?: string; credential?: string } = {},
    ): Promise<string> => {
      const caller = extra.credential
        ? ({ kind: 'bootstrap', credential: extra.credential } as const)
        : ({ kind: 'token', token: h.store.tokens.list().find((t) => t.name === 'private-agents')! } as const);
      const answer = await h.registry.register(caller, {
        protocolVersion: 1,
        name,
        capacity: resources({ cpuMillis, memoryMiB: 8192, netMbps: 1000 }),
        labels: {},
        ...(extra.site && { site: extra.site }),
        ...(extra.instanceId && { instanceId: extra.instanceId }),
      }, extra.instanceId === undefined ? undefined : { instanceId: extra.instanceId });
      h.secrets.push(answer.token);
      return answer.agentId;
    };
    ids.lab1 = await register('lab-1', 4000, { site: 'lab' });
    ids.lab2 = await register('lab-2', 2000, { site: 'lab' });
    ids.gone = await register('gone', 2000, { site: 'lab' });
    h.store.agents.setState(ids.gone, 'terminated', 'test', h.clock.now());
    ids.lost = await register('lost', 2000, { site: 'attic' });
    h.store.agents.setState(ids.lost, 'lost', 'test', h.clock.now());
    const { credential } = h.launch(['i-1', 'i-2', 'i-3']);
    ids.cloud = await register('cloud', 2000, { instanceId: 'i-1', credential });
    ids.draining = await register('cloud-draining', 2000, { instanceId: 'i-3', credential });
    h.store.agents.setState(ids.draining, 'draining', 'test', h.clock.now());
    const [task] = h.store.tasks.insert(
      [
        {
          owner: { team: 'a', project: 'b', job: 'c' },
          resources: resources({ cpuMillis: 1500, memoryMiB: 1024 }),
          priority: 0,
          revocable: false,
          constraints: {},
          command: [],
        },
      ],
      h.clock.now(),
    );
    h.store.tasks.place(task?.id ?? '', ids.lab1, h.clock.now());
  });
  afterEach(async () => {
    await h.close();
  });

  it('lists agents, filtered by state', async () => {
    const client = h.client(h.tokens.finance);
    const all = await client.get<{ agents: Agent[] }>('/v1/agents');
    responseSchemas.AgentList.parse(all);
    assert.equal(all.agents.length, 7);
    const some = await client.get<{ agents: Agent[] }>('/v1/agents?state=terminated,lost');
    assert.deepEqual(some.agents.map((a) => a.id).sort(), [ids.gone, ids.lost].sort());
  });

  it('groups alive agents by location with capacity, allocation, free room and price', async () => {
    const status = await h.client(h.tokens.submitter).get<Status>('/v1/status');
    responseSchemas.Status.parse(status);
    assert.equal(status.clusterId, 'test-cluster');
    assert.equal(status.leader, true);
    assert.equal(status.paused, false);
    assert.equal(status.tasks.placed, 1);
    assert.deepEqual(status.locations, [
      {
        location: 'private:lab',
        kind: 'private',
        agents: 2,
        capacity: resources({ cpuMillis: 6000, memoryMiB: 16384, netMbps: 2000 }),
        allocated: resources({ cpuMillis: 1500, memoryMiB: 1024 }),
        free: resources({ cpuMillis: 4500, memoryMiB: 15360, netMbps: 2000 }),
        pricePerHourUsd: 0,
      },
      {
        // i-1 registered, i-2 still provisioning, i-3 draining: all cost money. The offering is 2000m/4096 MiB, so
        // the agents that reported 8192 MiB are recorded with 4096.
        location: 'local:test:local-a',
        kind: 'cloud',
        agents: 3,
        capacity: resources({ cpuMillis: 6000, memoryMiB: 4096 * 3, netMbps: 3000 }),
        allocated: resources(),
        free: resources({ cpuMillis: 2000, memoryMiB: 4096, netMbps: 1000 }),
        pricePerHourUsd: 0.75,
      },
    ]);
    assert.equal(status.cloudSpendPerHourUsd, 0.75);
  });

  it('counts agents by state with recently lost ones, but neither terminated ones nor agents lost over an hour ago', async () => {
    const client = h.client(h.tokens.admin);
    const now = await client.get<Status>('/v1/status');
    // lab-1, lab-2 and cloud (i-1) registered; i-2 provisioning; cloud-draining (i-3) draining; lost; gone terminated.
    assert.deepEqual(now.agentCounts, { provisioning: 1, registered: 3, draining: 1, lost: 1 });
    h.clock.advance(3_600_000);
    assert.equal((await client.get<Status>('/v1/status')).agentCounts.lost, 1, 'lost exactly an hour ago: still shown');
    h.clock.advance(1);
    const later = await client.get<Status>('/v1/status');
    assert.deepEqual(later.agentCounts, { provisioning: 1, registered: 3, draining: 1, lost: 0 });
  });

  it('counts registered and draining agents by isolation, not provisioning ones', async () => {
    h.store.agents.setIsolation(ids.lab1, 'cgroup-v2');
    h.store.agents.setIsolation(ids.draining, 'cgroup-v1');
    const status = await h.client(h.tokens.admin).get<Status>('/v1/status');
    const expected: Record<string, number> = {};
    for (const a of h.store.agents.list({ states: ['registered', 'draining'] })) {
      const mode = a.isolation ?? 'none';
      expected[mode] = (expected[mode] ?? 0) + 1;
    }
    assert.deepEqual(status.isolation, expected);
    assert.equal(Object.values(status.isolation).reduce((a, b) => a + b, 0), 4);
  });

  it('stays the same size however many agents there are: counts, not a list', async () => {
    const client = h.client(h.tokens.admin);
    const before = JSON.stringify(await client.get<Status>('/v1/status')).length;
    h.store.transaction(() => {
      // More than one page of STATUS_PAGE_AGENTS: the status reads the agents page by page.
      for (let i = 0; i < 1_500; i++) {
        h.store.agents.insert(
          {
            name: `many-${i}`,
            location: { kind: 'private', site: 'lab' },
            capacity: resources({ cpuMillis: 1000, memoryMiB: 1024 }),
            labels: {},
            lifecycle: 'private',
            pricePerHourMicros: 0,
            state: 'registered',
            instanceId: null,
            providerId: null,
            intentId: null,
          },
          h.clock.now(),
        );
      }
    });
    const after = await client.get<Status>('/v1/status');
    assert.deepEqual(after.agentCounts, { provisioning: 1, registered: 1_503, draining: 1, lost: 1 });
    // lab-1 (4 CPUs, 1.5 allocated) and lab-2 (2 CPUs), 8 GiB each, and 1,500 agents of 1 CPU and 1 GiB.
    assert.deepEqual(after.locations.find((l) => l.location === 'private:lab'), {
      location: 'private:lab',
      kind: 'private',
      agents: 1_502,
      capacity: resources({ cpuMillis: 6000 + 1_500_000, memoryMiB: 16384 + 1_500 * 1024, netMbps: 2000 }),
      allocated: resources({ cpuMillis: 1500, memoryMiB: 1024 }),
      free: resources({ cpuMillis: 4500 + 1_500_000, memoryMiB: 15360 + 1_500 * 1024, netMbps: 2000 }),
      pricePerHourUsd: 0,
    });
    // The same fields, a few digits longer.
    assert.ok(JSON.stringify(after).length - before < 40, `grew by ${JSON.stringify(after).length - before} bytes`);
  });

  it("counts the leading controller's model once it is loaded, as of the model's last refresh", async () => {
    const client = h.client(h.tokens.admin);
    const model = ClusterModel.of(h.store);
    await model.load();
    const status = await client.get<Status>('/v1/status');
    responseSchemas.Status.parse(status);
    assert.deepEqual(status.agentCounts, { provisioning: 1, registered: 3, draining: 1, lost: 1 });
    assert.deepEqual(status.isolation, { none: 4 });
    assert.deepEqual(status.locations.map((l) => [l.location, l.agents, l.allocated, l.free]), [
      ['private:lab', 2, resources({ cpuMillis: 1500, memoryMiB: 1024 }), resources({ cpuMillis: 4500, memoryMiB: 15360, netMbps: 2000 })],
      ['local:test:local-a', 3, resources(), resources({ cpuMillis: 2000, memoryMiB: 4096, netMbps: 1000 })],
    ]);
    assert.equal(status.cloudSpendPerHourUsd, 0.75);
    // An agent the model has not caught up with yet is not counted; after a refresh it is.
    h.store.agents.insert(
      {
        name: 'late',
        location: { kind: 'private', site: 'lab' },
        capacity: resources({ cpuMillis: 1000, memoryMiB: 1024 }),
        labels: {},
        lifecycle: 'private',
        pricePerHourMicros: 0,
        state: 'registered',
        instanceId: null,
        providerId: null,
        intentId: null,
      },
      h.clock.now(),
    );
    assert.equal((await client.get<Status>('/v1/status')).agentCounts.registered, 3);
    await model.refresh();
    const refreshed = await client.get<Status>('/v1/status');
    assert.equal(refreshed.agentCounts.registered, 4);
    assert.deepEqual(refreshed.locations[0]?.capacity, resources({ cpuMillis: 7000, memoryMiB: 17408, netMbps: 2000 }));
    // The hour after which a lost agent leaves the status holds for the model's agents too.
    h.clock.advance(3_600_001);
    assert.equal((await client.get<Status>('/v1/status')).agentCounts.lost, 0);
  });

  it('refuses an agent token on status with 403', async () => {
    await expectApiError(
      h.client(h.tokens.registration).get('/v1/status'),
      403,
      /allowed roles: admin, submitter, finance$/,
    );
  });
});
