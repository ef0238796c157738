import assert from 'node:assert/strict';
import { before, describe, it } from 'mocha';
import type { BudgetView, ChargebackResponse } from '../../src/api/types.ts';
import { newIntentId } from '../../src/core/ids.ts';
import { resources } from '../../src/core/resources.ts';
import { amortizedPrivateRate, ledgerTotalMicros } from '../../src/cost-model/ledger.ts';
import { launchIntent, offering } from '../fakes/builders.ts';
import { PROVIDER_ID } from '../helpers/api-harness.ts';
import { cliAgainstApi } from './helpers/cli-against-api.ts';

const HOUR = 3_600_000;

/** `spillway budget` and `spillway report` as a user runs them, against the real API server and store. */
describe('cli budgets and reports against the API server (child processes)', function () {
  this.timeout(60_000);
  const suite = cliAgainstApi('spillway-cli-cost-', (api) => api.tokens.finance);
  const { cli, ok } = suite;
  let t0: number;

  before(async () => {
    t0 = suite.api.clock.now();
    // Two teams share a $0.36/h cloud agent for an hour; ml runs a task on half of it for 20 minutes.
    const intent = launchIntent(offering({ providerId: PROVIDER_ID, pricePerHourMicros: 360_000 }), {
      id: newIntentId(),
      owners: [
        { owner: { team: 'ml', project: 'vision', job: 'train' }, share: 0.5 },
        { owner: { team: 'search', project: 'index', job: 'crawl' }, share: 0.5 },
      ],
    });
    suite.api.store.intents.insert(intent);
    suite.api.store.intents.completeLaunch(intent.id, ['i-1'], t0);
    const agent = suite.api.store.agents.byInstance(PROVIDER_ID, 'i-1')!;
    suite.api.store.agents.register(agent.id, { capacity: resources({ cpuMillis: 2000, memoryMiB: 4096 }), labels: {} }, t0);
    const [task] = suite.api.store.tasks.insert(
      [
        {
          owner: { team: 'ml', project: 'vision', job: 'train' },
          resources: resources({ cpuMillis: 1000, memoryMiB: 512 }),
          priority: 0,
          revocable: false,
          constraints: {},
          command: [],
        },
      ],
      t0,
    );
    suite.api.store.tasks.place(task!.id, agent.id, t0);
    suite.api.store.tasks.claim(agent.id, t0);
    suite.api.store.tasks.finish(task!.id, agent.id, { exitCode: 0, outputTail: '' }, t0 + HOUR / 3);
    suite.api.clock.set(t0 + HOUR);
  });

  it('sets a budget, then updates it, each time saying which and how much is spent', async () => {
    const created = await ok([
      'budget',
      'set',
      'ml-daily',
      '--scope',
      'team=ml',
      '--period',
      'day',
      '--cap-usd',
      '0.5',
    ]);
    // ml: its task 0.5 x 120,000 + half the idle rest (360,000 - 60,000) = 210,000.
    assert.match(
      created,
      /^created budget ml-daily \(bud-[0-9a-f-]+\): team ml, \$0\.50 per day, on cap preempt; spent \$0\.21 \(42\.0%\)\n$/,
    );
    const updated = await ok([
      'budget',
      'set',
      'ml-daily',
      '--scope',
      'team=ml',
      '--period',
      'day',
      '--cap-usd',
      '0.2',
      '--on-cap',
      'finish',
    ]);
    assert.match(
      updated,
      /^updated budget ml-daily .*\$0\.20 per day, on cap finish; spent \$0\.21 \(105\.0%\), \$0\.01 over\n$/,
    );
    const stored = suite.api.store.budgets.get('ml-daily');
    assert.deepEqual([stored?.capMicros, stored?.onCap], [200_000, 'finish']);
    assert.match(suite.api.store.audit.list(1)[0]?.actor ?? '', /^carol \(tok-/);
  });

  it('lists budgets as a table, JSON and CSV', async () => {
    await ok(['budget', 'set', 'everything', '--scope', 'global', '--period', 'burn', '--cap-usd', '2']);
    const table = await ok(['budget', 'list']);
    assert.match(table, /^bud-\S+\s+everything\s+global\s+\$2\.00\/h burn rate\s+preempt\s+\$0\.36\s+18\.0%$/m);
    const json = JSON.parse(await ok(['budget', 'list', '--format', 'json'])) as { budgets: BudgetView[] };
    assert.deepEqual(
      json.budgets.map((b) => b.name),
      ['everything', 'ml-daily'],
    );
    const csv = (await ok(['budget', 'list', '--format', 'csv'])).split('\r\n');
    assert.match(csv[1] ?? '', /^bud-[^,]+,everything,global,,,burn,2\.000000,preempt,/);
  });

  it('deletes a budget by name', async () => {
    assert.match(await ok(['budget', 'delete', 'everything']), /^deleted budget everything \(bud-/);
    assert.equal(suite.api.store.budgets.get('everything'), undefined);
  });

  it('refuses a bad scope with exit 2 and sends nothing', async () => {
    const result = await cli(['budget', 'set', 'x', '--scope', 'team=', '--period', 'day', '--cap-usd', '1']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^spillway: --scope: expected global, team=TEAM/);
    assert.equal(suite.api.store.budgets.get('x'), undefined);
  });

  it('reports chargeback as CSV whose rows add up to the ledger’s total to the micro-dollar', async () => {
    const from = new Date(t0).toISOString();
    const to = new Date(t0 + HOUR).toISOString();
    const csv = await ok(['report', 'chargeback', '--by', 'job', '--from', from, '--to', to, '--format', 'csv']);
    const [header, ...records] = csv.trimEnd().split('\r\n');
    assert.equal(header, 'team,project,job,privateUsd,onDemandUsd,spotUsd,idleUsd,cloudUsd,totalUsd,from,to');
    const micros = records.map((r) => Math.round(Number(r.split(',')[8]) * 1e6));
    const ledger = suite.api.store.ledger.overlapping(t0, t0 + HOUR);
    assert.equal(
      micros.reduce((a, b) => a + b, 0),
      ledgerTotalMicros(ledger, { fromMs: t0, toMs: t0 + HOUR }, suite.api.clock.now(), amortizedPrivateRate()),
    );
    assert.deepEqual(
      records.map((r) => r.split(',').slice(0, 3).join('/') + ' ' + r.split(',')[8]),
      ['ml/vision/train 0.210000', 'search/index/crawl 0.150000'],
    );
  });

  it('reports chargeback as a table with a title and a total line, and as JSON', async () => {
    const table = await ok(['report', 'chargeback', '--by', 'team']);
    assert.match(table, /^chargeback by team, 2026-01-01T00:00:00\.000Z to 2026-01-01T01:00:00\.00\dZ \(USD\)$/m);
    assert.match(
      table,
      /^TEAM\s+PRIVATE\s+ON-DEMAND\s+SPOT\s+IDLE\s+CLOUD\s+TOTAL\s+CPU-H USED\/REQ\s+GIB-H USED\/REQ\s+CPU EFF\s+MEM EFF$/m,
    );
    // No agent measured a run here (the ledger was written directly), so the used figures are 0 and no efficiency.
    assert.match(table, /^\(total\)\s+\$0\.00\s+\$0\.06\s+\$0\.00\s+\$0\.30\s+\$0\.36\s+\$0\.36\s+0\.00\/[\d.]+\s+0\.00\/[\d.]+\s+-\s+-$/m);
    const json = JSON.parse(
      await ok(['report', 'chargeback', '--by', 'team', '--format', 'json'], suite.api.tokens.admin),
    ) as ChargebackResponse;
    assert.equal(json.totals.cloudUsd, 0.36);
  });

  it('needs --by, and the finance or admin role', async () => {
    const missing = await cli(['report', 'chargeback']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /required option '--by <grouping>' not specified/);
    const forbidden = await cli(['report', 'chargeback', '--by', 'team'], suite.api.tokens.submitter);
    assert.equal(forbidden.code, 1);
    assert.match(forbidden.stderr, /^spillway: the server answered 403 forbidden: /);
  });
});
