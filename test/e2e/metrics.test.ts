import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import type { ApiClient } from '../../src/api/client.ts';
import type { Agent } from '../../src/core/agent.ts';
import type { Task } from '../../src/core/task.ts';
import { metricValue, parseExposition, type Sample } from '../helpers/prometheus.ts';
import { waitFor } from '../helpers/wait.ts';
import {
  adminClient,
  cleanup,
  localCloud,
  makeCluster,
  query,
  ServeProcess,
  waitHealthy,
  type Cluster,
} from './harness.ts';

/** The price of the one offering of the cluster's local cloud, as the config below gives it. */
const PRICE_PER_HOUR_USD = 0.0832;
const PROVIDER = 'local:cloud';
const TASKS = 5;

async function scrape(cluster: Cluster): Promise<Sample[]> {
  const res = await fetch(`${cluster.url}/metrics`);
  assert.equal(res.status, 200);
  return parseExposition(await res.text());
}

/** Agents not terminated, counted by `state/location kind`, as the API lists them. */
function agentCounts(agents: readonly Agent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const a of agents) {
    if (a.state === 'terminated') continue;
    const key = `${a.state}/${a.location.kind}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** The same from the spillway_agents gauge (series at 0 left out). */
function agentGauge(samples: readonly Sample[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const s of samples) {
    if (s.name !== 'spillway_agents' || s.value === 0) continue;
    counts[`${s.labels.state}/${s.labels.location_kind}`] = s.value;
  }
  return counts;
}

/**
 * /metrics of a real `spillway serve` after real events: a submission, private and cloud agents registering, passes
 * that place, launch and terminate. Every value is compared with what the API, the store and the local cloud say
 * happened, so the wiring in src/main.ts (which pass reports feed which metric) is what is tested.
 */
describe('end to end: /metrics after a burst', function () {
  this.timeout(120_000);
  let cluster: Cluster | undefined;
  let serve: ServeProcess | undefined;
  let client: ApiClient | undefined;

  afterEach(async () => {
    client?.close();
    if (serve) await serve.stop().catch(() => undefined);
    await cleanup(cluster, [serve?.child]);
    cluster = undefined;
    serve = undefined;
    client = undefined;
  });

  it('reports the agents, spend, pending tasks, decisions, launches and terminations that really happened', async () => {
    // One private agent of 1 CPU: of 5 one-CPU tasks, 4 wait past the 2 s grace and burst into the local cloud.
    const c = await makeCluster({
      pool: { heartbeatIntervalMs: 300, lostAfterMs: 5_000, privateAgents: { count: 1, cpu: 1, memory: '2Gi' } },
    });
    cluster = c;
    serve = new ServeProcess(c);
    await waitHealthy(c.url, serve);
    const api = adminClient(c);
    client = api;
    await waitFor('the private agent', async () => {
      const { agents } = await api.get<{ agents: Agent[] }>('/v1/agents?state=registered');
      return agents.length === 1;
    });

    const specs = Array.from({ length: TASKS }, () => ({
      command: [process.execPath, '-e', 'setTimeout(() => {}, 8000)'],
      resources: { cpu: 1, memory: '256Mi' },
      owner: { team: 'metrics', project: 'e2e', job: 'burst' },
    }));
    const { tasks } = await api.post<{ tasks: Task[] }>('/v1/tasks', { tasks: specs });
    assert.equal(tasks.length, TASKS);

    // Until cloud agents register (the 2 s grace and a boot), tasks wait, and the gauge shows how many.
    await waitFor(
      'the pending gauge to show the waiting tasks',
      async () => {
        const pending = (await api.get<{ tasks: Task[] }>('/v1/tasks?state=pending')).tasks.length;
        const gauge = metricValue(await scrape(c), 'spillway_pending_tasks');
        return pending > 0 && gauge === pending;
      },
      { timeoutMs: 5_000, intervalMs: 50 },
    );

    // While every task runs (8 s), nothing changes: the gauges must show what the API shows.
    await waitFor('every task running on registered agents', async () => {
      const running = (await api.get<{ tasks: Task[] }>('/v1/tasks?state=running')).tasks.length;
      const { agents } = await api.get<{ agents: Agent[] }>('/v1/agents');
      return running === TASKS && agents.every((a) => a.state === 'registered' || a.state === 'terminated');
    });
    const during = await waitFor(
      'the gauges to show the running burst',
      async () => {
        const { agents } = await api.get<{ agents: Agent[] }>('/v1/agents');
        const samples = await scrape(c);
        const cloudAgents = agents.filter((a) => a.location.kind === 'cloud' && a.state !== 'terminated').length;
        const expected = {
          agents: agentCounts(agents),
          spend: Math.round(cloudAgents * PRICE_PER_HOUR_USD * 1e6) / 1e6,
          pending: 0,
        };
        const seen = {
          agents: agentGauge(samples),
          spend: Math.round(metricValue(samples, 'spillway_cloud_spend_per_hour_usd') * 1e6) / 1e6,
          pending: metricValue(samples, 'spillway_pending_tasks'),
        };
        return JSON.stringify(seen) === JSON.stringify(expected) ? { expected, cloudAgents } : undefined;
      },
      { timeoutMs: 5_000 },
    );
    assert.ok(during.cloudAgents >= 2, `4 one-CPU tasks need 2-CPU cloud agents, saw ${during.cloudAgents}`);
    assert.equal(during.expected.agents['registered/private'], 1);

    // When the work is done, idle cloud agents are terminated; then the counters hold the whole story.
    await waitFor(
      'every task to succeed and every cloud agent to be terminated',
      async () => {
        const all = (await api.get<{ tasks: Task[] }>('/v1/tasks')).tasks;
        const { agents } = await api.get<{ agents: Agent[] }>('/v1/agents');
        const cloud = agents.filter((a) => a.location.kind === 'cloud');
        return all.every((t) => t.state === 'succeeded') && cloud.every((a) => a.state === 'terminated');
      },
      { timeoutMs: 60_000 },
    );
    const { agents } = await api.get<{ agents: Agent[] }>('/v1/agents');
    const cloudAgents = agents.filter((a) => a.location.kind === 'cloud');
    const launchIntents = query<{ state: string; count: number }>(
      c,
      `SELECT state, count FROM intents WHERE kind = 'launch'`,
    );
    // Each launched instance registered one agent, and the local cloud runs none of them any more.
    assert.equal(
      launchIntents.reduce((sum, i) => sum + i.count, 0),
      cloudAgents.length,
    );
    assert.deepEqual(await localCloud(c)!.list('e2e'), []);
    const requeued = query<{ n: number }>(c, 'SELECT COUNT(*) AS n FROM tasks WHERE attempts > 0')[0]?.n;
    assert.equal(requeued, 0, 'no task went back to pending, so each was placed once');

    const expected = {
      launchDecisions: launchIntents.length,
      launchesDone: launchIntents.filter((i) => i.state === 'done').length,
      launchesOther: 0,
      placeDecisions: TASKS,
      terminateDecisions: cloudAgents.length,
      terminations: cloudAgents.length,
      pending: 0,
      spend: 0,
      agents: { 'registered/private': 1 } as Record<string, number>,
      submissions: 1,
    };
    assert.equal(expected.launchesDone, launchIntents.length, 'every launch intent is done');
    const launches = (samples: readonly Sample[], outcome: string): number =>
      metricValue(samples, 'spillway_launches_total', { provider: PROVIDER, outcome });
    const observed = (samples: readonly Sample[]): typeof expected => ({
      launchDecisions: metricValue(samples, 'spillway_decisions_total', { kind: 'launch' }),
      launchesDone: launches(samples, 'done'),
      launchesOther: metricValue(samples, 'spillway_launches_total') - launches(samples, 'done'),
      placeDecisions: metricValue(samples, 'spillway_decisions_total', { kind: 'place' }),
      terminateDecisions: metricValue(samples, 'spillway_decisions_total', { kind: 'terminate' }),
      terminations: metricValue(samples, 'spillway_terminations_total', { provider: PROVIDER }),
      pending: metricValue(samples, 'spillway_pending_tasks'),
      spend: metricValue(samples, 'spillway_cloud_spend_per_hour_usd'),
      agents: agentGauge(samples),
      submissions: metricValue(samples, 'spillway_http_requests_total', {
        method: 'POST',
        route: '/v1/tasks',
        status: '201',
      }),
    });
    // The gauges follow at the next pass after the last termination; then nothing may change any more.
    await waitFor(
      'the metrics to account for the burst',
      async () => JSON.stringify(observed(await scrape(c))) === JSON.stringify(expected),
      { timeoutMs: 10_000 },
    ).catch(() => undefined);
    assert.deepEqual(observed(await scrape(c)), expected);
  });
});
