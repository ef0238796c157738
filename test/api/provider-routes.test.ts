import assert from 'node:assert/strict';
import { after, before, describe, it } from 'mocha';
import { providerStatuses } from '../../src/api/provider-status.ts';
import type { ProviderRetry, Status } from '../../src/api/types.ts';
import type { AuditEntry } from '../../src/store/store.ts';
import { expectApiError, PROVIDER_ID, startApiHarness, type ApiHarness } from '../helpers/api-harness.ts';

const OFFERING = `${PROVIDER_ID}/local-a/local.small/on-demand`;

describe('api provider routes', () => {
  let h: ApiHarness;

  before(async () => {
    h = await startApiHarness();
  });

  after(async () => {
    await h.close();
  });

  it('shows a provider with an offering breaker as degraded, with the reason its tasks wait', async () => {
    h.breakers.record(
      { providerId: PROVIDER_ID, offeringKey: OFFERING },
      { kind: 'refused', refusal: { scope: 'offering', code: 'InvalidParameterValue', subject: 'local.small', message: 'no such type' } },
    );
    const status = await h.client(h.tokens.finance).get<Status>('/v1/status');
    assert.deepEqual(status.providers, [
      {
        id: PROVIDER_ID,
        health: 'degraded',
        failingTerminations: [],
        breakers: [
          {
            key: OFFERING,
            scope: 'offering',
            state: 'open',
            code: 'InvalidParameterValue',
            subject: 'local.small',
            refusals: 1,
            openedAtMs: h.clock.now(),
            retryAtMs: h.clock.now() + 60_000,
            reason: `${PROVIDER_ID} refuses launches of local.small in local-a (on-demand): InvalidParameterValue (local.small); next try 00:01`,
            error: 'no such type',
          },
        ],
      },
    ]);
  });

  it('exports open breakers and provider health as metrics', async () => {
    h.metrics.recordProviders(providerStatuses({ ids: () => [PROVIDER_ID], breakers: () => h.breakers.list().map((b) => ({ ...b, reason: '' })), retry: () => ({ providerId: PROVIDER_ID, closed: 0 }) }, true, []));
    const text = await (await fetch(`${h.server.url}/metrics`)).text();
    assert.ok(
      text.includes(
        `spillway_launch_breaker_open{provider="${PROVIDER_ID}",breaker="${OFFERING}",scope="offering",code="InvalidParameterValue"} 1`,
      ),
      text,
    );
    assert.ok(text.includes(`spillway_provider_health{provider="${PROVIDER_ID}",health="degraded"} 1`));
    assert.ok(text.includes(`spillway_provider_health{provider="${PROVIDER_ID}",health="ok"} 0`));
  });

  it('lets only an admin retry a provider, names an unknown one, and audits the retry', async () => {
    await expectApiError(h.client(h.tokens.submitter).post(`/v1/providers/${PROVIDER_ID}/retry`, {}), 403, /may not/);
    await expectApiError(
      h.client(h.tokens.admin).post('/v1/providers/aws-ec2:nowhere/retry', {}),
      404,
      /retrying provider aws-ec2:nowhere: no such provider/,
    );
    // By the name after the kind, as `spillway providers retry test` sends it.
    const answer = await h.client(h.tokens.admin).post<ProviderRetry>('/v1/providers/test/retry', {});
    assert.deepEqual(answer, { providerId: PROVIDER_ID, closed: 1 });
    assert.deepEqual(h.breakers.list(), []);
    const status = await h.client(h.tokens.admin).get<Status>('/v1/status');
    assert.deepEqual(status.providers, [{ id: PROVIDER_ID, health: 'ok', breakers: [], failingTerminations: [] }]);
    const [entry] = (await h.client(h.tokens.admin).get<{ entries: AuditEntry[] }>('/v1/audit')).entries;
    assert.equal(entry!.action, 'provider.retry');
    assert.match(entry!.actor, /^alice \(tok-/);
    assert.deepEqual(entry!.detail, { providerId: PROVIDER_ID, closed: 1 });
  });

  it('answers 409 on a process that does not lead, whose status shows the providers as unknown', async () => {
    const standby = await startApiHarness({ isLeader: () => false });
    try {
      standby.breakers.record(
        { providerId: PROVIDER_ID, offeringKey: OFFERING },
        { kind: 'refused', refusal: { scope: 'provider', code: 'AuthFailure', message: 'bad credentials' } },
      );
      const status = await standby.client(standby.tokens.admin).get<Status>('/v1/status');
      assert.deepEqual(status.providers, [{ id: PROVIDER_ID, health: 'unknown', breakers: [], failingTerminations: [] }]);
      await expectApiError(
        standby.client(standby.tokens.admin).post(`/v1/providers/${PROVIDER_ID}/retry`, {}),
        409,
        /does not lead/,
      );
      assert.equal(standby.breakers.list().length, 1, 'nothing closed');
      assert.deepEqual((await standby.client(standby.tokens.admin).get<{ entries: AuditEntry[] }>('/v1/audit')).entries, []);
    } finally {
      await standby.close();
    }
  });
});
