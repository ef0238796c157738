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

/** Two controllers of one cluster: the client stays with the one that answers and moves on when it stops. */
describe('api client: several controller URLs', () => {
  const servers: http.Server[] = [];
  const seen: string[] = [];
  /** Per server: the status it answers with (200 answers `{server: i}`); 0 drops the connection unanswered. */
  const answer: number[] = [];

  async function serve(i: number): Promise<string> {
    const server = http.createServer((req, res) => {
      seen.push(`${i} ${req.method} ${req.url}`);
      req.resume();
      if (answer[i] === 0) {
        req.socket.destroy();
        return;
      }
      res.statusCode = answer[i]!;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(answer[i] === 200 ? { server: i } : { error: { code: 'unavailable', message: 'no db' } }));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  after(async () => {
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('sends to the first while it answers, moves to the next on no answer or 503, and goes round the list', async () => {
    const urls = [await serve(0), await serve(1), await serve(2)];
    answer.push(200, 200, 200);
    const client = new ApiClient({ url: urls, timeoutMs: 2_000 });
    try {
      assert.deepEqual(await client.get('/a'), { server: 0 });
      assert.deepEqual(await client.get('/b'), { server: 0 });
      answer[0] = 0;
      await assert.rejects(client.get('/c'), (err: unknown) => err instanceof SpillwayError && err.retryable);
      assert.equal(client.url, urls[1]);
      assert.deepEqual(await client.get('/d'), { server: 1 });
      answer[1] = 503;
      await assert.rejects(client.get('/e'), (err: unknown) => err instanceof SpillwayError && err.retryable);
      assert.deepEqual(await client.get('/f'), { server: 2 });
      // A 4xx is the controller's answer, not silence: the client stays.
      answer[2] = 404;
      await assert.rejects(client.get('/g'));
      assert.equal(client.url, urls[2]);
      answer[2] = 0;
      answer[0] = 200;
      await assert.rejects(client.get('/h'));
      assert.deepEqual(await client.get('/i'), { server: 0 }, 'round the list to the first');
      // Each request went to one controller only. A GET dropped on a reused keep-alive socket is sent once more on a
      // new socket to the same controller (see above): /c and /h twice.
      assert.deepEqual(
        seen.map((s) => s.split(' ')[0] + s.slice(s.lastIndexOf(' '))),
        ['0 /a', '0 /b', '0 /c', '0 /c', '1 /d', '1 /e', '2 /f', '2 /g', '2 /h', '2 /h', '0 /i'],
      );
    } finally {
      client.close();
    }
  });
});
