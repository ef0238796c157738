import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { PROVIDER_ID } from '../helpers/api-harness.ts';
import { cliAgainstApi } from './helpers/cli-against-api.ts';

/** `spillway providers` and `spillway providers retry` as a user runs them, against the API over real breakers. */
describe('cli providers (child processes)', function () {
  this.timeout(60_000);
  const suite = cliAgainstApi('spillway-cli-providers-');
  const { cli } = suite;

  it('lists each provider with its health and the reason of each open breaker, and retry closes them', async () => {
    suite.api.breakers.record(
      { providerId: PROVIDER_ID, offeringKey: `${PROVIDER_ID}/local-a/local.small/on-demand` },
      { kind: 'refused', refusal: { scope: 'provider', code: 'AuthFailure', message: 'bad credentials' } },
    );
    const listed = await cli(['providers']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^PROVIDER\\s+HEALTH\\s+OPEN BREAKERS$`, 'm'));
    assert.match(listed.stdout, new RegExp(`^${PROVIDER_ID}\\s+refusing\\s+1$`, 'm'));
    assert.match(listed.stdout, new RegExp(`^  ${PROVIDER_ID} refuses launches: AuthFailure; next try 00:01$`, 'm'));

    const denied = await cli(['providers', 'retry', PROVIDER_ID], suite.api.tokens.submitter);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /may not/);
    assert.equal(suite.api.breakers.list().length, 1);

    const retried = await cli(['providers', 'retry', PROVIDER_ID]);
    assert.equal(retried.code, 0, retried.stderr);
    assert.equal(retried.stdout, `closed 1 launch breaker(s) of ${PROVIDER_ID}: the next pass launches there again\n`);
    assert.deepEqual(suite.api.breakers.list(), []);

    const json = await cli(['providers', '--format', 'json']);
    assert.deepEqual(JSON.parse(json.stdout), {
      providers: [{ id: PROVIDER_ID, health: 'ok', breakers: [], failingTerminations: [] }],
    });
    const again = await cli(['providers', 'retry', PROVIDER_ID]);
    assert.equal(again.stdout, `${PROVIDER_ID} had no open launch breaker\n`);
  });
});
