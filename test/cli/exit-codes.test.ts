import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'mocha';
import { killRunningClis, runCliProcess, tempDir } from './helpers/cli-process.ts';

describe('cli errors and exit codes (child process)', function () {
  this.timeout(30_000);
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('spillway-cli-errors-');
  });
  after(() => {
    killRunningClis();
    dir.remove();
  });

  const usage = [
    { args: ['submit', '--memory', 'lots', '--', 'true'], message: /^spillway: --memory: .*"lots"/ },
    { args: ['submit', '--cpu', 'x', '--memory', '1Gi', '--', 'true'], message: /^spillway: --cpu: .*"x"/ },
    {
      args: ['submit', '--cpu', '1', '--memory', '1Gi', '--count', 'many', '--', 'true'],
      message: /^spillway: --count: .*"many"/,
    },
    {
      args: ['run', '--cpu', '1', '--memory', '1Gi', '--gpus', '-1', '--', 'true'],
      message: /^spillway: --gpus: .*"-1"/,
    },
    { args: ['tasks', '--state', 'done'], message: /^spillway: --state: .*"done"/ },
    { args: ['agents', '--state', 'up'], message: /^spillway: --state: .*"up"/ },
    { args: ['status', '--format', 'xml'], message: /^spillway: option '--format <format>' argument 'xml' is invalid/ },
    { args: ['policy', 'set', 'limits'], message: /^spillway: KEY=VALUE: .*"limits"/ },
    { args: ['policy', 'apply', '-f', 'missing.yaml'], message: /^spillway: -f: cannot read "missing.yaml"/ },
    {
      args: ['token', 'create', '--role', 'root', '--name', 'x'],
      message: /^spillway: option '--role <role>' argument 'root' is invalid/,
    },
    { args: ['status', '--url', 'localhost:7070'], message: /^spillway: --url: .*"localhost:7070"/ },
    { args: ['status'], message: /^spillway: --url: no API URL given/ },
    {
      args: ['agent', '--url', 'http://127.0.0.1:1', '--token', 'swt_nope'],
      message: /^spillway: --token: .*SPILLWAY_TOKEN/,
    },
    { args: ['serve', '--config', 'missing.yaml'], message: /^spillway: --config: cannot read/ },
  ];
  for (const c of usage) {
    it(`exits 2 naming the flag for \`spillway ${c.args.join(' ')}\``, async () => {
      const result = await runCliProcess(c.args, { cwd: dir.path });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, c.message);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(result.stdout, '');
    });
  }

  it('exits 2 for an unknown command with a suggestion and a hint', async () => {
    const result = await runCliProcess(['stauts'], { cwd: dir.path });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^spillway: unknown command 'stauts'/);
    assert.match(result.stderr, /Did you mean status\?/);
    assert.match(result.stderr, /spillway --help/);
  });

  it('exits 2 for an unknown flag with a hint naming the command', async () => {
    const result = await runCliProcess(['tasks', 'show', 't-1', '--verbose'], { cwd: dir.path });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^spillway: unknown option '--verbose'/);
    assert.match(result.stderr, /spillway tasks show --help/);
  });

  it('exits 1 when the controller cannot be reached, with a hint', async () => {
    // A port that was free a moment ago: bind, note it, close.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const result = await runCliProcess(['status', '--url', `http://127.0.0.1:${port}`], { cwd: dir.path });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /^spillway: calling GET \/v1\/status: .*ECONNREFUSED/);
    assert.match(result.stderr, /^hint: is the controller running\?/m);
  });

  describe('against a server that refuses', () => {
    let server: Server;
    let url: string;
    before(async () => {
      server = createServer((req, res) => {
        const body =
          req.url === '/v1/status'
            ? { status: 401, error: { code: 'unauthorized', message: 'no valid bearer token' } }
            : {
                status: 400,
                error: {
                  code: 'invalid_request',
                  message: 'tasks.0.resources.cpu: too large',
                  field: 'tasks.0.resources.cpu',
                },
              };
        res.writeHead(body.status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: body.error }));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    it("exits 1 showing the server's message and field, without a stack trace", async () => {
      const result = await runCliProcess(['submit', '--url', url, '--cpu', '1', '--memory', '1Gi', '--', 'true'], {
        cwd: dir.path,
      });
      assert.equal(result.code, 1);
      assert.equal(
        result.stderr,
        'spillway: the server answered 400 invalid_request: tasks.0.resources.cpu: too large\n',
      );
    });

    it('exits 1 with a token hint on 401, and prints the stack with SPILLWAY_DEBUG=1', async () => {
      const plain = await runCliProcess(['status', '--url', url], { cwd: dir.path });
      assert.equal(plain.code, 1);
      assert.match(
        plain.stderr,
        /^spillway: the server answered 401 unauthorized: no valid bearer token\nhint: check the token/,
      );
      assert.doesNotMatch(plain.stderr, /\n\s+at /);
      const debug = await runCliProcess(['status', '--url', url], { cwd: dir.path, env: { SPILLWAY_DEBUG: '1' } });
      assert.match(debug.stderr, /\n\s+at /);
    });
  });
});
