/**
 * The routes the web console reads: recent decisions (paged, scoped), the pool's history and budget forecasts. The
 * expected figures are the test's own arithmetic from the prices and times it set, not the product's.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { HISTORY_REUSE_MS } from '../../src/api/routes/history.ts';
import type { BudgetForecastView, DecisionView, PoolHistory, SpendHistory } from '../../src/api/types.ts';
import { newIntentId } from '../../src/core/ids.ts';
import type { OwnerShare } from '../../src/core/owner.ts';
import { resources } from '../../src/core/resources.ts';
import { privateAgent } from '../store/helpers.ts';
import { launchIntent, offering } from '../fakes/builders.ts';
import { PROVIDER_ID, startApiHarness, type ApiHarness } from '../helpers/api-harness.ts';
import { makeToken } from '../console/helpers/fixture.ts';

const MINUTE = 60_000;
const HOUR = 3_600_000;

describe('console routes: decisions, pool history, budget forecasts', () => {
  let h: ApiHarness;
  beforeEach(async () => {
    h = await startApiHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  /** A confirmed launch of one instance at `pricePerHourMicros` for `owners`; returns its agent's id. */
  function launch(instanceId: string, owners: readonly OwnerShare[], pricePerHourMicros = 500_000): string {
    const o = offering({ providerId: PROVIDER_ID, pricePerHourMicros });
    const intent = launchIntent(o, {
      id: newIntentId(),
      owners,
      reason: `for ${owners.map((s) => s.owner.team).join('+') || 'nobody'}`,
      createdAtMs: h.clock.now(),
      updatedAtMs: h.clock.now(),
    });
    h.store.intents.insert(intent);
    h.store.intents.completeLaunch(intent.id, [instanceId], h.clock.now());
    const agent = h.store.agents.byInstance(PROVIDER_ID, instanceId);
    assert.ok(agent);
    return agent.id;
  }
  const share = (team: string, s = 1): OwnerShare => ({ owner: { team, project: 'p', job: 'j' }, share: s });

  async function get<T>(path: string, token = h.tokens.admin): Promise<T> {
    const res = await fetch(`${h.server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
    return (await res.json()) as T;
  }

  it('pages decisions newest first, also through decisions made in the same millisecond', async () => {
    const reasons: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      launch(`i-${i}`, [share(`t${i}`)]);
      reasons.push(`for t${i}`);
      if (i % 2 === 1) h.clock.advance(1_000);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { decisions: DecisionView[]; next: string | null } = await get(
        `/v1/decisions?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      seen.push(...page.decisions.map((d) => d.reason));
      cursor = page.next;
      pages += 1;
    } while (cursor !== null && pages < 10);
    assert.deepEqual(seen, [...reasons].reverse());
    const bad = await fetch(`${h.server.url}/v1/decisions?cursor=xyz`, {
      headers: { authorization: `Bearer ${h.tokens.admin}` },
    });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { field: string } }).error.field, 'query.cursor');
  });

  it("shows a team-scoped token only its teams' launches, with only their owners, and no terminations", async () => {
    launch('i-v', [share('vision')]);
    launch('i-m', [share('ml')]);
    launch('i-both', [share('vision', 0.25), share('ml', 0.75)]);
    h.store.intents.insert({
      id: newIntentId(),
      kind: 'terminate',
      providerId: PROVIDER_ID,
      instanceIds: ['i-m'],
      reason: 'idle',
      state: 'pending',
      createdAtMs: h.clock.now(),
      updatedAtMs: h.clock.now(),
      attempts: 0,
      error: '',
    });
    const scoped = makeToken(h, 'submitter', 'vision-ci', { teams: ['vision'] });
    const mine = (await get<{ decisions: DecisionView[] }>('/v1/decisions', scoped)).decisions;
    assert.deepEqual(mine.map((d) => d.reason).sort(), ['for vision', 'for vision+ml']);
    assert.deepEqual(mine.map((d) => d.owners?.map((o) => `${o.team}:${o.share}`)).sort(), [
      ['vision:0.25'],
      ['vision:1'],
    ]);
    const all = (await get<{ decisions: DecisionView[] }>('/v1/decisions')).decisions;
    assert.deepEqual(all.map((d) => d.kind).sort(), ['launch', 'launch', 'launch', 'terminate']);
    const launched = all.find((d) => d.reason === 'for vision');
    assert.deepEqual(launched?.offering, {
      zone: 'local-a',
      instanceType: 'local.small',
      lifecycle: 'on-demand',
      pricePerHourUsd: 0.5,
    });
  });

  it('gives the pool by location and the cloud spend by provider per minute over the last 24 hours', async () => {
    // 00:00 a private agent joins; 00:01:30 a cloud agent ($0.60/h) is launched; it is terminated at 00:05:30.
    h.store.agents.insert(
      privateAgent({
        name: 'lab-1',
        location: { kind: 'private', site: 'lab' },
        capacity: resources({ cpuMillis: 4000, memoryMiB: 8192 }),
        labels: {},
      }),
      h.clock.now(),
    );
    const t0 = h.clock.now();
    h.clock.advance(90_000);
    const cloud = launch('i-c', [share('vision')], 600_000);
    h.clock.advance(4 * MINUTE);
    h.store.agents.setState(cloud, 'terminated', 'idle', h.clock.now());
    // Now is 00:16:00 exactly: the minute starting now is the last bucket, and the private agent is in it.
    h.clock.advance(10 * MINUTE + 30_000);
    const history = await get<PoolHistory>('/v1/history/pool');
    assert.equal(history.bucketMs, MINUTE);
    assert.equal(history.points.length, 24 * 60);
    assert.equal(history.toMs, t0 + 17 * MINUTE);
    assert.equal(history.points.at(-1)?.atMs, t0 + 16 * MINUTE);
    assert.deepEqual(history.points.at(-1)?.locations, { 'private:lab': { agents: 1, cpus: 4 } });
    const at = (minute: number) => history.points.find((p) => p.atMs === t0 + minute * MINUTE);
    const cloudKey = `${PROVIDER_ID}:local-a`;
    // Minute 0: only the private agent. Minutes 1 to 5: the cloud agent too (part of minutes 1 and 5). Minute 6: gone.
    assert.deepEqual(at(0)?.locations, { 'private:lab': { agents: 1, cpus: 4 } });
    for (const m of [1, 2, 3, 4, 5]) assert.equal(at(m)?.locations[cloudKey]?.agents, 1, `minute ${m}`);
    assert.equal(at(6)?.locations[cloudKey], undefined);
    assert.deepEqual(at(-1)?.locations, {});
    // $0.60 an hour is $0.01 a minute: half a minute in minutes 1 and 5, whole ones in 2 to 4; $0.04 in all.
    const spent = await get<SpendHistory>('/v1/history/spend?resolution=minute');
    assert.equal(spent.points.length, 24 * 60);
    const spendAt = (minute: number) => spent.points.find((p) => p.atMs === t0 + minute * MINUTE);
    const spend = [1, 2, 3, 4, 5].map((m) => spendAt(m)?.cloudSpendUsd[PROVIDER_ID]);
    assert.deepEqual(spend, [0.005, 0.01, 0.01, 0.01, 0.005]);
    assert.deepEqual(spendAt(0)?.cloudSpendUsd, {}, 'private agents cost no cloud spend');
    const total = spent.points.reduce((sum, p) => sum + Math.round((p.cloudSpendUsd[PROVIDER_ID] ?? 0) * 1e6), 0);
    assert.equal(total, 40_000);

    const hourly = await get<SpendHistory>('/v1/history/spend');
    assert.equal(hourly.resolution, 'hour');
    assert.equal(hourly.points.length, 30 * 24);
    assert.deepEqual(hourly.points.at(-1)?.cloudSpendUsd, { [PROVIDER_ID]: 0.04 });
    const sizesByHour = await get<PoolHistory>('/v1/history/pool?resolution=hour');
    assert.equal(sizesByHour.points.length, 30 * 24);
    assert.deepEqual(sizesByHour.points.at(-1)?.locations, {
      'private:lab': { agents: 1, cpus: 4 },
      [cloudKey]: { agents: 1, cpus: 2 },
    });
    const lastDay = await get<SpendHistory>('/v1/history/spend?resolution=hour&last=24');
    assert.deepEqual(lastDay.points, hourly.points.slice(-24));
    assert.equal(lastDay.fromMs, hourly.toMs - 24 * HOUR);
    const tooFar = await fetch(`${h.server.url}/v1/history/spend?resolution=day&last=91`, {
      headers: { authorization: `Bearer ${h.tokens.admin}` },
    });
    assert.equal(tooFar.status, 400);
    assert.equal(((await tooFar.json()) as { error: { field: string } }).error.field, 'query.last');
    const bad = await fetch(`${h.server.url}/v1/history/pool?resolution=second`, {
      headers: { authorization: `Bearer ${h.tokens.admin}` },
    });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { field: string } }).error.field, 'query.resolution');
  });

  it('answers the same history for a few seconds, then reads the ledger again', async () => {
    const first = await get<PoolHistory>('/v1/history/pool');
    assert.deepEqual(first.points.at(-1)?.locations, {});
    launch('i-late', [share('vision')]);
    h.clock.advance(HISTORY_REUSE_MS - 1);
    assert.deepEqual(await get<PoolHistory>('/v1/history/pool'), first);
    h.clock.advance(1);
    const later = await get<PoolHistory>('/v1/history/pool');
    assert.equal(later.points.at(-1)?.locations[`${PROVIDER_ID}:local-a`]?.agents, 1);
  });

  it("gives a team-scoped token its teams' share of the cloud spend only", async () => {
    // From 00:00, an idle machine launched for vision ($0.60/h) and one for ml ($1.20/h): idle time is charged to the
    // owners whose work launched them.
    const t0 = h.clock.now();
    launch('i-v', [share('vision')], 600_000);
    launch('i-m', [share('ml')], 1_200_000);
    h.clock.advance(10 * MINUTE);
    const scoped = makeToken(h, 'finance', 'vision-finance', { teams: ['vision'] });
    const minute = (history: SpendHistory, m: number) => history.points.find((p) => p.atMs === t0 + m * MINUTE);
    const all = await get<SpendHistory>('/v1/history/spend?resolution=minute');
    const mine = await get<SpendHistory>('/v1/history/spend?resolution=minute', scoped);
    for (const m of [0, 5, 9]) {
      assert.deepEqual(minute(all, m)?.cloudSpendUsd, { [PROVIDER_ID]: 0.03 }, `minute ${m}`);
      assert.deepEqual(minute(mine, m)?.cloudSpendUsd, { [PROVIDER_ID]: 0.01 }, `minute ${m}`);
    }
  });

  it("forecasts a budget to its period's end at the last hour's rate", async () => {
    // A day budget of team vision, $10. From 00:00 one machine ($1/h) works for vision; a second runs 00:00-01:30.
    h.store.budgets.set(
      {
        name: 'vision-day',
        scope: { kind: 'team', team: 'vision' },
        period: 'day',
        capMicros: 10_000_000,
        onCap: 'finish',
      },
      'test',
      h.clock.now(),
    );
    const dayStart = h.clock.now();
    launch('i-1', [share('vision')], 1_000_000);
    const second = launch('i-2', [share('vision')], 1_000_000);
    h.clock.advance(90 * MINUTE);
    h.store.agents.setState(second, 'terminated', 'idle', h.clock.now());
    h.clock.advance(30 * MINUTE);
    const [f] = (await get<{ forecasts: BudgetForecastView[] }>('/v1/budgets/forecasts')).forecasts;
    assert.ok(f);
    // Spent by 02:00: 2 h + 1.5 h = $3.50. The last hour (01:00-02:00) cost 1 + 0.5 = $1.50: 22 hours more at that
    // rate is $33, so $36.50, over the $10 cap.
    assert.equal(f.spentUsd, 3.5);
    assert.equal(f.ratePerHourUsd, 1.5);
    assert.equal(f.forecastUsd, 36.5);
    assert.equal(f.overCap, true);
    assert.equal(f.fromMs, dayStart);
    assert.equal(f.toMs, dayStart + 24 * HOUR);
    assert.equal(f.series.length, 48);
    assert.deepEqual(f.series[0], { atMs: dayStart, spentUsd: 0 });
    assert.deepEqual(f.series.at(-1), { atMs: dayStart + 2 * HOUR, spentUsd: 3.5 });
    // The first point after 00:30: both machines ran since 00:00, billed per started second at $1/h each.
    const half = f.series.find((p) => p.atMs >= dayStart + 30 * MINUTE);
    assert.ok(half);
    const seconds = Math.ceil((half.atMs - dayStart) / 1000);
    assert.equal(half.spentUsd, (2 * Math.round((1e6 * seconds) / 3600)) / 1e6);
  });
});
