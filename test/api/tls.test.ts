import assert from 'node:assert/strict';
import { after, before, describe, it } from 'mocha';
import { ApiClient } from '../../src/api/client.ts';
import type { Health } from '../../src/api/types.ts';
import { SpillwayError } from '../../src/core/errors.ts';
import { rawRequest, startApiHarness, type ApiHarness } from '../helpers/api-harness.ts';
import { selfSignedCertificate } from '../helpers/self-signed.ts';

describe('api over TLS', () => {
  let h: ApiHarness;
  let tls: { cert: string; key: string };
  const extraClients: ApiClient[] = [];

  before(async () => {
    tls = selfSignedCertificate();
    h = await startApiHarness({ tls });
  });
  after(async () => {
    for (const client of extraClients) client.close();
    await h.close();
  });

  it('serves HTTPS to a client that trusts the CA', async () => {
    assert.match(h.server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const health = await h.client().get<Health>('/healthz');
    assert.equal(health.ok, true);
    const { tasks } = await h.client(h.tokens.submitter).get<{ tasks: unknown[] }>('/v1/tasks');
    assert.deepEqual(tasks, []);
  });

  it('is refused by a client that does not trust the certificate', async () => {
    const untrusting = new ApiClient({ url: h.server.url });
    extraClients.push(untrusting);
    await assert.rejects(
      untrusting.get('/healthz'),
      (err: unknown) => err instanceof SpillwayError && /self-signed|certificate/i.test(err.message),
    );
  });

  it('does not talk plain HTTP', async () => {
    const plainUrl = h.server.url.replace(/^https:/, 'http:');
    const plain = new ApiClient({ url: plainUrl, timeoutMs: 5_000 });
    extraClients.push(plain);
    await assert.rejects(
      plain.get('/healthz'),
      (err: unknown) => err instanceof SpillwayError && err.name === 'SpillwayError',
    );
    await assert.rejects(rawRequest(plainUrl, { method: 'GET', path: '/healthz' }));
  });
});
