import assert from 'node:assert/strict';
import { after, before, describe, it } from 'mocha';
import { MAX_ALERTS_SCANNED } from '../../src/api/routes/budgets.ts';
import type { BudgetAlertView } from '../../src/api/types.ts';
import { hashToken, newApiToken } from '../../src/core/credentials.ts';
import { newId } from '../../src/core/ids.ts';
import { startApiHarness, type ApiHarness } from '../helpers/api-harness.ts';

const HOUR = 3_600_000;
/** Other teams' alerts: more than two requests' worth of reading. */
const OTHERS = 12_000;

describe('api budget alerts for a scoped finance token', () => {
  let h: ApiHarness;
  let scoped: string;

  before(async () => {
    h = await startApiHarness();
    const alert = (team: string, i: number) => ({
      budgetId: `bud-${team}`,
      budgetName: `${team}-burn`,
      scope: { kind: 'team', team } as const,
      period: 'day' as const,
      periodStartMs: i * HOUR,
      percent: 50 as const,
      spentMicros: 1,
      capMicros: 2,
      atMs: i * HOUR,
    });
    h.store.transaction(() => {
      // The scoped team's one alert is the oldest; every other team's came after it.
      h.store.budgets.recordAlert(alert('search', 0));
      for (let i = 1; i <= OTHERS; i++) h.store.budgets.recordAlert(alert('ml', i));
    });
    scoped = newApiToken();
    h.store.tokens.create(
      {
        id: newId('tok'),
        role: 'finance',
        name: 'search-finance',
        agentId: null,
        createdAtMs: h.clock.now(),
        scope: { teams: ['search'] },
      },
      hashToken(scoped),
    );
    h.secrets.push(scoped);
  });
  after(async () => {
    await h.close();
  });

  it("reads a bounded share of other teams' alerts per request, and its cursor leads on to its own", async () => {
    const pages: { alerts: BudgetAlertView[]; next: string | null }[] = [];
    let cursor: string | null = '';
    while (cursor !== null && pages.length < 10) {
      const query: string = cursor === '' ? '' : `&cursor=${cursor}`;
      const page: { alerts: BudgetAlertView[]; next: string | null } = await h
        .client(scoped)
        .get(`/v1/budgets/alerts?limit=1${query}`);
      pages.push(page);
      cursor = page.next;
    }
    // Newest first: 12,000 of ml's to read past, MAX_ALERTS_SCANNED a request, before search's one.
    const before = Math.floor(OTHERS / MAX_ALERTS_SCANNED);
    assert.equal(before, 2);
    assert.deepEqual(
      pages.map((p) => [p.alerts.map((a) => a.budgetName), p.next !== null]),
      [...Array.from({ length: before }, () => [[], true]), [['search-burn'], false]],
    );
  });

  it('pages an unscoped reader as before', async () => {
    const page = await h
      .client(h.tokens.finance)
      .get<{ alerts: BudgetAlertView[]; next: string | null }>('/v1/budgets/alerts?limit=2');
    assert.deepEqual(
      page.alerts.map((a) => a.budgetName),
      ['ml-burn', 'ml-burn'],
    );
    assert.notEqual(page.next, null);
  });
});
