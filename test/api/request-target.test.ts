import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'mocha';
import { startApiHarness, type ApiHarness } from '../helpers/api-harness.ts';

/** Sends `path` exactly as given in the request line (no URL parsing on the client's side). */
function requestLine(baseUrl: string, method: string, path: string, token: string): Promise<number> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: hostname,
        port,
        method,
        path,
        agent: false,
        headers: { authorization: `Bearer ${token}`, 'content-length': '0' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('API request targets', () => {
  let h: ApiHarness;
  before(async () => {
    h = await startApiHarness();
  });
  after(async () => {
    await h.close();
  });

  it('routes a path that starts with // as that path, not as another host and the rest', async () => {
    const before = h.store.policy.get().paused;
    assert.equal(before, false);
    assert.equal(await requestLine(h.server.url, 'POST', '//x/v1/pause', h.tokens.admin), 404);
    assert.equal(h.store.policy.get().paused, false, 'not paused');
    // The same call on its real path does pause: the 404 above is the target, not the token.
    assert.equal(await requestLine(h.server.url, 'POST', '/v1/pause', h.tokens.admin), 200);
    assert.equal(h.store.policy.get().paused, true);
  });

  it('refuses a target in absolute form with a 400', async () => {
    assert.equal(await requestLine(h.server.url, 'GET', `${h.server.url}/healthz`, h.tokens.admin), 400);
    assert.equal(await requestLine(h.server.url, 'GET', '/healthz', h.tokens.admin), 200);
  });
});
