/**
 * `spillway console`, `spillway decisions` and `spillway budget forecast` as a user runs them (child processes)
 * against a real API server.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'mocha';
import { hashToken } from '../../src/core/credentials.ts';
import { seed } from '../console/helpers/fixture.ts';
import { cliAgainstApi } from './helpers/cli-against-api.ts';

describe('cli console, decisions and budget forecast', function () {
  this.timeout(60_000);
  const suite = cliAgainstApi('spillway-cli-console-');
  before(() => {
    seed(suite.api);
  });

  it('console prints a one-time sign-in link on the server it talks to, made by its token', async () => {
    const out = await suite.ok(['console']);
    const link = /^(http:\/\/127\.0\.0\.1:\d+\/console\/signin\?code=([A-Za-z0-9_-]{43}))$/m.exec(out);
    assert.ok(link, out);
    assert.ok(link[1]?.startsWith(`${suite.api.server.url}/console/signin?code=`));
    const admin = suite.api.store.tokens.byHash(hashToken(suite.api.tokens.admin));
    assert.equal(suite.api.store.console.useCode(hashToken(link[2] ?? ''), suite.api.clock.now()), admin?.id);
    const json = JSON.parse(await suite.ok(['console', '--format', 'json'])) as { url: string; expiresAtMs: number };
    assert.equal(json.expiresAtMs, suite.api.clock.now() + 5 * 60_000);
    // An agent token cannot make one.
    const refused = await suite.cli(['console'], suite.api.tokens.registration);
    assert.equal(refused.code, 1);
  });

  it('decisions lists the recent decisions with their reasons and whom they were for', async () => {
    const out = await suite.ok(['decisions']);
    const lines = out.trim().split('\n');
    assert.match(lines[0] ?? '', /^WHEN\s+DECISION\s+FOR\s+STATE\s+REASON$/);
    assert.equal(lines.length, 4);
    assert.match(out, /terminate li-old-1 .* pending\s+idle for 15 s/);
    assert.match(out, /launch 1 x local\.small \(on-demand\) in local-a at \$0\.5000\/h\s+vision\/vision-p\s+done\s+2 task\(s\) of vision/);
    const json = JSON.parse(await suite.ok(['decisions', '--limit', '1', '--format', 'json'])) as {
      decisions: unknown[];
      next: string | null;
    };
    assert.equal(json.decisions.length, 1);
    assert.ok(json.next);
    assert.equal((await suite.cli(['decisions', '--limit', '0'])).code, 2);
  });

  it("budget forecast shows each budget's spend and forecast", async () => {
    const out = await suite.ok(['budget', 'forecast'], suite.api.tokens.finance);
    const row = out.split('\n').find((l) => l.startsWith('vision-day'));
    // Half an hour of one $0.50/h machine for vision: $0.25 spent, $0.50 an hour, 23.5 hours more: $12.
    assert.match(row ?? '', /^vision-day\s+team vision\s+day\s+5\s+0\.25\s+0\.5\s+12\s+yes$/);
    const csv = await suite.ok(['budget', 'forecast', '--format', 'csv'], suite.api.tokens.finance);
    assert.deepEqual(csv.split('\r\n').slice(0, 1), ['NAME,SCOPE,PERIOD,CAP USD,SPENT USD,RATE USD/H,FORECAST USD,OVER CAP']);
    assert.ok(csv.split('\r\n').includes('vision-day,team vision,day,5,0.25,0.5,12,yes'), csv);
  });
});
