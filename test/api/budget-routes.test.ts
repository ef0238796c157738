import assert from 'node:assert/strict';
import { after, before, describe, it } from 'mocha';
import { responseSchemas } from '../../src/api/response-schemas.ts';
import type { BudgetAlertView, BudgetView, ChargebackResponse } from '../../src/api/types.ts';
import { hashToken, newApiToken } from '../../src/core/credentials.ts';
import { newId, newIntentId } from '../../src/core/ids.ts';
import { resources } from '../../src/core/resources.ts';
import { amortizedPrivateRate, ledgerTotalMicros } from '../../src/cost-model/ledger.ts';
import { launchIntent, offering } from '../fakes/builders.ts';
import { expectApiError, PROVIDER_ID, startApiHarness, type ApiHarness } from '../helpers/api-harness.ts';

const HOUR = 3_600_000;
const ML = { team: 'ml', project: 'vision', job: 'train' };
const SEARCH = { team: 'search', project: 'index', job: 'crawl' };

describe('api budget and chargeback routes', () => {
  let h: ApiHarness;
  let t0: number;

  /**
   * One hour of a shared cluster: a cloud agent at $0.36/h (100 micro-USD a second) launched for ml and search
   * half each, with an ml task using half of it for the first 30 minutes; and a private rack of 2 CPUs and 4 GiB
   * ($0.05/h at the default private rates) with an ml task on half of it all hour.
   */
  before(async () => {
    h = await startApiHarness();
    t0 = h.clock.now();
    const { store } = h;
    const intent = launchIntent(offering({ providerId: PROVIDER_ID, pricePerHourMicros: 360_000 }), {
      id: newIntentId(),
      owners: [
        { owner: ML, share: 0.5 },
        { owner: SEARCH, share: 0.5 },
      ],
    });
    store.intents.insert(intent);
    store.intents.completeLaunch(intent.id, ['i-1'], t0);
    const cloud = store.agents.byInstance(PROVIDER_ID, 'i-1')!;
    store.agents.register(cloud.id, { capacity: resources({ cpuMillis: 4000, memoryMiB: 8192 }), labels: {} }, t0);
    const rack = store.agents.insert(
      {
        name: 'rack-1',
        location: { kind: 'private', site: 'lab' },
        capacity: resources({ cpuMillis: 2000, memoryMiB: 4096 }),
        labels: {},
        lifecycle: 'private',
        pricePerHourMicros: 0,
        state: 'registered',
        instanceId: null,
        providerId: null,
        intentId: null,
      },
      t0,
    );
    const task = {
      resources: resources({ cpuMillis: 1000, memoryMiB: 1024 }),
      priority: 0,
      revocable: false,
      constraints: {},
      command: [],
    };
    const [onCloud, onRack] = store.tasks.insert(
      [
        { ...task, owner: ML, resources: resources({ cpuMillis: 2000, memoryMiB: 1024 }) },
        { ...task, owner: ML },
      ],
      t0,
    );
    store.tasks.place(onCloud!.id, cloud.id, t0);
    store.tasks.place(onRack!.id, rack.id, t0);
    store.tasks.claim(cloud.id, t0);
    store.tasks.claim(rack.id, t0);
    // Measured by its cgroup: 1,800 CPU seconds (half its 2 CPUs for its half hour), 512 MiB at its peak.
    store.tasks.finish(
      onCloud!.id,
      cloud.id,
      { exitCode: 0, outputTail: '', usage: { cpuSeconds: 1_800, peakMemoryBytes: 512 * 1_048_576 } },
      t0 + HOUR / 2,
    );
    h.clock.set(t0 + HOUR);
  });
  after(async () => {
    await h.close();
  });

  describe('chargeback', () => {
    it('reports cost by team, private and cloud side by side, with idle time to the launching teams', async () => {
      const report = await h.client(h.tokens.finance).get<ChargebackResponse>('/v1/reports/chargeback?by=team');
      responseSchemas.ChargebackReport.parse(report);
      assert.deepEqual([report.by, report.fromMs, report.toMs], ['team', t0, t0 + HOUR], 'this month until now');
      // Cloud: ml's task 0.5 x 180,000; idle 90,000 + 180,000, halved. Rack: ml 25,000, the unused half 25,000.
      assert.deepEqual(report.rows, [
        {
          team: 'ml',
          project: null,
          job: null,
          privateUsd: 0.025,
          onDemandUsd: 0.09,
          spotUsd: 0,
          idleUsd: 0.135,
          cloudUsd: 0.225,
          totalUsd: 0.25,
          // Asked: 2 CPU x 0.5 h + 1 CPU x 1 h (still running, unmeasured); 1 GiB x 0.5 h + 1 GiB x 1 h. Used, of the
          // measured run: 1,800 s = 0.5 CPU-h of the 1 it asked; 0.5 GiB x 0.5 h = 0.25 GiB-h of the 0.5 it asked.
          use: {
            requestedCpuHours: 2,
            usedCpuHours: 0.5,
            requestedGiBHours: 1.5,
            usedGiBHours: 0.25,
            cpuEfficiency: 0.5,
            memoryEfficiency: 0.5,
          },
        },
        {
          team: 'search',
          project: null,
          job: null,
          privateUsd: 0,
          onDemandUsd: 0,
          spotUsd: 0,
          idleUsd: 0.135,
          cloudUsd: 0.135,
          totalUsd: 0.135,
        },
        {
          team: '(unattributed)',
          project: null,
          job: null,
          privateUsd: 0.025,
          onDemandUsd: 0,
          spotUsd: 0,
          idleUsd: 0,
          cloudUsd: 0,
          totalUsd: 0.025,
        },
      ]);
      const ledger = ledgerTotalMicros(
        h.store.ledger.overlapping(t0, t0 + HOUR),
        { fromMs: t0, toMs: t0 + HOUR },
        t0 + HOUR,
        amortizedPrivateRate(),
      );
      assert.equal(Math.round(report.totals.totalUsd * 1e6), ledger);
      assert.equal(ledger, 410_000);
    });

    it('groups by job over an explicit window', async () => {
      const from = new Date(t0 + HOUR / 2).toISOString();
      const report = await h
        .client(h.tokens.admin)
        .get<ChargebackResponse>(`/v1/reports/chargeback?by=job&from=${from}&to=${new Date(t0 + HOUR).toISOString()}`);
      assert.deepEqual(
        report.rows.map((r) => [r.team, r.project, r.job, r.totalUsd]),
        [
          ['ml', 'vision', 'train', 0.1025],
          ['search', 'index', 'crawl', 0.09],
          ['(unattributed)', '(unattributed)', '(unattributed)', 0.0125],
        ],
      );
      assert.equal(report.totals.totalUsd, 0.205);
    });

    it('shows a finance token scoped to a team only that team\'s measured use, in its rows and its total', async () => {
      const secret = newApiToken();
      h.store.tokens.create(
        { id: newId('tok'), role: 'finance', name: 'search-finance', agentId: null, createdAtMs: h.clock.now(), scope: { teams: ['search'] } },
        hashToken(secret),
      );
      h.secrets.push(secret);
      const report = await h.client(secret).get<ChargebackResponse>('/v1/reports/chargeback?by=team');
      assert.deepEqual(report.rows.map((r) => r.team), ['search']);
      // search ran no task: nothing asked, nothing used. ml's figures (2 CPU-h asked, 0.5 used) must not show.
      assert.deepEqual(report.use, {
        requestedCpuHours: 0,
        usedCpuHours: 0,
        requestedGiBHours: 0,
        usedGiBHours: 0,
        cpuEfficiency: null,
        memoryEfficiency: null,
      });
      const all = await h.client(h.tokens.finance).get<ChargebackResponse>('/v1/reports/chargeback?by=team');
      assert.equal(all.use?.requestedCpuHours, 2);
    });

    it('refuses a window that ends before it starts, or a time without its offset, naming the parameter', async () => {
      const client = h.client(h.tokens.finance);
      await expectApiError(
        client.get('/v1/reports/chargeback?from=2026-01-02&to=2026-01-01'),
        400,
        /must be after from/,
        'query.to',
      );
      await expectApiError(
        client.get('/v1/reports/chargeback?from=2026-01-01T10:00:00'),
        400,
        /with its offset/,
        'query.from',
      );
      await expectApiError(
        client.get('/v1/reports/chargeback?from=2025-01-01&to=2026-03-01'),
        400,
        /at most 400 days/,
        'query.to',
      );
    });

    it('is for finance and admins only', async () => {
      await expectApiError(
        h.client(h.tokens.submitter).get('/v1/reports/chargeback'),
        403,
        /allowed roles: finance, admin$/,
      );
    });
  });

  it('documents the budget body and the report’s parameters in the OpenAPI document', async () => {
    const doc = await h
      .client()
      .get<{ paths: Record<string, Record<string, { parameters?: { name: string }[]; requestBody?: unknown }>> }>(
        '/v1/openapi.json',
      );
    assert.deepEqual(
      doc.paths['/v1/reports/chargeback']?.get?.parameters?.map((p) => p.name),
      ['by', 'from', 'to'],
    );
    const body = JSON.stringify(doc.paths['/v1/budgets/{id}']?.put?.requestBody);
    for (const field of ['scope', 'period', 'capUsd', 'onCap', 'burn', 'preempt'])
      assert.ok(body.includes(field), field);
  });

  describe('budgets', () => {
    let id = '';

    it('creates a budget by name for finance, shows its spend, and audits it', async () => {
      const client = h.client(h.tokens.finance);
      const created = await client.put<BudgetView>('/v1/budgets/ml-daily', {
        scope: { kind: 'team', team: 'ml' },
        period: 'day',
        capUsd: 0.3,
      });
      responseSchemas.Budget.parse(created);
      id = created.id;
      assert.match(id, /^bud-/);
      assert.deepEqual(
        { ...created, id: '' },
        {
          id: '',
          name: 'ml-daily',
          scope: { kind: 'team', team: 'ml' },
          period: 'day',
          capUsd: 0.3,
          onCap: 'preempt',
          createdAtMs: t0 + HOUR,
          updatedAtMs: t0 + HOUR,
          status: { fromMs: t0, toMs: t0 + 24 * HOUR, spentUsd: 0.225, percent: 75, overrunUsd: 0 },
        },
      );
      const [entry] = h.store.audit.list(1);
      assert.equal(entry?.action, 'budget.set');
      assert.match(entry?.actor ?? '', /^carol \(tok-/);
    });

    it('replaces a budget by name or by id, keeping its id', async () => {
      const client = h.client(h.tokens.admin);
      const byName = await client.put<BudgetView>('/v1/budgets/ml-daily', {
        scope: { kind: 'team', team: 'ml' },
        period: 'day',
        capUsd: 0.2,
        onCap: 'finish',
      });
      assert.deepEqual(
        [byName.id, byName.onCap, byName.status.percent, byName.status.overrunUsd],
        [id, 'finish', 112.5, 0.025],
      );
      const byId = await client.put<BudgetView>(`/v1/budgets/${id}`, {
        scope: { kind: 'global' },
        period: 'burn',
        capUsd: 1,
      });
      assert.deepEqual([byId.id, byId.name, byId.status.spentUsd], [id, 'ml-daily', 0.36]);
    });

    it('lists budgets and gets one by id or name; an unknown one is 404', async () => {
      const client = h.client(h.tokens.finance);
      await client.put('/v1/budgets/search-monthly', {
        scope: { kind: 'project', team: 'search', project: 'index' },
        period: 'month',
        capUsd: 100,
      });
      const { budgets } = await client.get<{ budgets: BudgetView[] }>('/v1/budgets');
      responseSchemas.BudgetList.parse({ budgets });
      assert.deepEqual(
        budgets.map((b) => [b.name, b.status.spentUsd]),
        [
          ['ml-daily', 0.36],
          ['search-monthly', 0.135],
        ],
      );
      assert.equal((await client.get<BudgetView>(`/v1/budgets/${id}`)).name, 'ml-daily');
      assert.equal((await client.get<BudgetView>('/v1/budgets/search-monthly')).status.fromMs, t0);
      await expectApiError(client.get('/v1/budgets/nope'), 404, /reading budget nope: there is no such budget/);
    });

    it('refuses a reserved or malformed name, naming the path', async () => {
      const client = h.client(h.tokens.finance);
      const body = { scope: { kind: 'global' }, period: 'hour', capUsd: 1 };
      await expectApiError(client.put('/v1/budgets/bud-123', body), 400, /is reserved/, 'path.id');
      await expectApiError(client.put('/v1/budgets/alerts', body), 400, /is reserved/, 'path.id');
      await expectApiError(client.put('/v1/budgets/has%20space', body), 400, /expected a name of letters/, 'path.id');
    });

    it('deletes a budget by name and audits it; deleting again is 404', async () => {
      const client = h.client(h.tokens.finance);
      const deleted = await client.delete<BudgetView>('/v1/budgets/search-monthly');
      assert.equal(deleted.name, 'search-monthly');
      assert.equal(h.store.budgets.get('search-monthly'), undefined);
      assert.equal(h.store.audit.list(1)[0]?.action, 'budget.delete');
      await expectApiError(client.delete('/v1/budgets/search-monthly'), 404, /no such budget/);
    });

    it('lists the alerts budgets raised, newest first', async () => {
      for (const percent of [50, 80] as const) {
        h.store.budgets.recordAlert({
          budgetId: id,
          budgetName: 'ml-daily',
          scope: { kind: 'team', team: 'ml' },
          period: 'day',
          periodStartMs: t0,
          percent,
          spentMicros: percent * 3_000,
          capMicros: 300_000,
          atMs: t0 + percent,
        });
      }
      const { alerts } = await h
        .client(h.tokens.finance)
        .get<{ alerts: BudgetAlertView[] }>('/v1/budgets/alerts?limit=5');
      responseSchemas.BudgetAlertList.parse({ alerts });
      assert.deepEqual(
        alerts.map((a) => [a.budgetName, a.percent, a.spentUsd, a.capUsd]),
        [
          ['ml-daily', 80, 0.24, 0.3],
          ['ml-daily', 50, 0.15, 0.3],
        ],
      );
    });

    it('is for finance and admins only', async () => {
      const submitter = h.client(h.tokens.submitter);
      await expectApiError(submitter.get('/v1/budgets'), 403, /allowed roles: finance, admin$/);
      await expectApiError(
        submitter.put('/v1/budgets/x', { scope: { kind: 'global' }, period: 'day', capUsd: 1 }),
        403,
        /allowed roles/,
      );
      await expectApiError(submitter.delete(`/v1/budgets/${id}`), 403, /allowed roles/);
      await expectApiError(submitter.get('/v1/budgets/alerts'), 403, /allowed roles/);
    });
  });
});
