import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, beforeEach, describe, it } from 'mocha';
import { ApiClient } from '../../src/api/client.ts';
import { SpillwayError } from '../../src/core/errors.ts';

/**
 * A server that answers the first request on each connection and drops the connection on the second, as a
 * keep-alive socket looks to a client when the server restarted or timed it out while it sat in the pool.
 */
describe('api client: keep-alive sockets the server dropped', () => {
  let server: http.Server;
  let url: string;
  const served = new WeakMap<Socket, number>();
  let received: string[] = [];
  let client: ApiClient;

  before(async () => {
    server = http.createServer((req, res) => {
      const n = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, n);
      received.push(`${req.method} #${n}`);
      req.resume();
      if (n > 1) {
        req.socket.destroy();
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ok: true }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  beforeEach(() => {
    received = [];
    client?.close();
    client = new ApiClient({ url });
  });

  after(async () => {
    client.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  for (const method of ['GET', 'PUT', 'DELETE'] as const) {
    it(`sends an idempotent ${method} once more on a new socket`, async () => {
      await client.get('/first');
      const answer = await client.request(method, '/second', method === 'PUT' ? { a: 1 } : undefined);
      assert.deepEqual(answer, { ok: true });
      assert.deepEqual(received, ['GET #1', `${method} #2`, `${method} #1`]);
    });
  }

  it('never resends a POST: the caller gets a retryable error and the server saw it once', async () => {
    await client.get('/first');
    await assert.rejects(client.post('/v1/tasks', { tasks: [] }), (err: unknown) => {
      assert.ok(err instanceof SpillwayError);
      assert.equal(err.retryable, true);
      assert.match(err.message, /^calling POST \/v1\/tasks: /);
      return true;
    });
    assert.deepEqual(received, ['GET #1', 'POST #2']);
  });
});
