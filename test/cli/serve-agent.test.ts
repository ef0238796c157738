import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'mocha';
import { startApiHarness, type ApiHarness } from '../helpers/api-harness.ts';
import { waitFor } from '../helpers/wait.ts';
import { killRunningClis, runCliProcess, startCliProcess, tempDir } from './helpers/cli-process.ts';

/** The two long-running commands as processes: they start, serve or work, and end cleanly on a signal. */
describe('cli serve and agent (child processes)', function () {
  this.timeout(60_000);

  describe('serve', () => {
    let dir: ReturnType<typeof tempDir>;
    beforeEach(() => {
      dir = tempDir('spillway-cli-serve-');
      // No private agents and no providers: only the controller and its API, on a free port.
      writeFileSync(
        join(dir.path, 'spillway.yaml'),
        'clusterId: cli-serve-test\napi: { port: 0 }\nlog: { level: warn }\n',
      );
    });
    afterEach(() => {
      killRunningClis();
      dir.remove();
    });

    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      it(`prints the URL, the token file and a next step, serves the CLI in its folder, and exits 0 on ${signal}`, async () => {
        const serve = startCliProcess(['serve', '--config', 'spillway.yaml'], { cwd: dir.path });
        const [, url] = await serve.waitForOutput(/serving its API at (http:\/\/\S+)/);
        assert.match(serve.stdout(), /^admin token: \.spillway\/admin\.token \(mode 0600\)/m);
        assert.match(serve.stdout(), /^ {2}npx spillway submit /m);
        assert.equal(readFileSync(join(dir.path, '.spillway', 'api.url'), 'utf8').trim(), url);
        assert.equal(statSync(join(dir.path, '.spillway', 'admin.token')).mode & 0o777, 0o600);

        const status = await runCliProcess(['status', '--format', 'json'], { cwd: dir.path });
        assert.equal(status.code, 0, status.stderr);
        assert.equal((JSON.parse(status.stdout) as { clusterId: string }).clusterId, 'cli-serve-test');

        serve.child.kill(signal);
        const result = await serve.exited;
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stderr, new RegExp(`received ${signal}: closing`));
      });
    }

    it('exits 2 naming the key of a config that does not validate', async () => {
      writeFileSync(join(dir.path, 'bad.yaml'), 'clusterId: Not_Valid\n');
      const result = await runCliProcess(['serve', '--config', 'bad.yaml'], { cwd: dir.path });
      assert.equal(result.code, 2);
      assert.match(result.stderr, /^spillway: clusterId: /);
    });
  });

  describe('agent', () => {
    let api: ApiHarness;
    let dir: ReturnType<typeof tempDir>;
    before(async () => {
      api = await startApiHarness();
      dir = tempDir('spillway-cli-agent-');
    });
    after(async () => {
      killRunningClis();
      await api?.close();
      dir?.remove();
    });

    it('registers with the capacity and labels of its flags, and leaves the pool on SIGTERM with exit 0', async () => {
      writeFileSync(join(dir.path, 'agent.token'), `${api.tokens.registration}\n`, { mode: 0o600 });
      const agent = startCliProcess(
        [
          'agent',
          '--url',
          api.server.url,
          '--cpu',
          '1500m',
          '--memory',
          '2Gi',
          '--labels',
          'rack=3',
          '--name',
          'cli-agent',
          '--site',
          'lab',
          '--token-file',
          'agent.token',
          '--drain-timeout-ms',
          '1000',
        ],
        { cwd: dir.path },
      );
      const registered = await waitFor('the agent to register', () =>
        api.store.agents.list().find((a) => a.name === 'cli-agent' && a.state === 'registered'),
      );
      assert.deepEqual(registered.capacity, { cpuMillis: 1500, memoryMiB: 2048, gpus: 0, netMbps: 1000 });
      assert.deepEqual(registered.labels, { rack: '3' });
      assert.deepEqual(registered.location, { kind: 'private', site: 'lab' });

      agent.child.kill('SIGTERM');
      const result = await agent.exited;
      assert.equal(result.code, 0, result.stderr);
      assert.equal(api.store.agents.get(registered.id)?.state, 'terminated');
    });

    it('exits non-zero when the controller refuses its credential', async () => {
      const result = await runCliProcess(['agent', '--url', api.server.url, '--cpu', '1', '--memory', '1Gi'], {
        cwd: dir.path,
        env: { SPILLWAY_TOKEN: api.tokens.revoked },
      });
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /^spillway: /m);
      assert.ok(!result.stderr.includes(api.tokens.revoked), 'the credential must not be printed');
    });
  });
});
