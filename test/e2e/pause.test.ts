import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'mocha';
import { CLI, cleanup, makeCluster, query, ServeProcess, waitHealthy, type Cluster } from './harness.ts';
import { waitFor } from '../helpers/wait.ts';

const run = promisify(execFile);

/** The kill switch through the CLI against a running controller. */
describe('end to end: spillway pause and resume', function () {
  this.timeout(90_000);
  let cluster: Cluster | undefined;
  let serve: ServeProcess | undefined;

  before(async () => {
    cluster = await makeCluster();
    serve = new ServeProcess(cluster);
    await waitHealthy(cluster.url, serve);
  });
  after(async () => {
    if (serve) await serve.stop().catch(() => undefined);
    await cleanup(cluster, [serve?.child]);
  });

  function spillway(...args: string[]): Promise<{ stdout: string }> {
    const token = readFileSync(join(cluster!.home, 'admin.token'), 'utf8').trim();
    const [command, ...rest] = args;
    return run(process.execPath, [CLI, command!, '--url', cluster!.url, ...rest], { env: { ...process.env, SPILLWAY_TOKEN: token } });
  }

  it('launches nothing while paused, and bursts once resumed', async () => {
    const c = cluster!;
    await spillway('pause');
    await spillway('submit', '--cpu', '1', '--memory', '128Mi', '--count', '3', '--', 'true');
    // Past the grace period the planner decides, and says why the tasks wait: nothing may launch.
    await waitFor('the planner to hold the tasks', () => {
      const reasons = query<{ reason: string }>(c, `SELECT reason FROM tasks`).map((t) => t.reason);
      return reasons.length === 3 && reasons.every((r) => r === 'bursting is paused');
    });
    assert.deepEqual(query(c, `SELECT id FROM intents WHERE kind = 'launch'`), []);
    assert.match((await spillway('status', '--format', 'json')).stdout, /"paused": ?true/);
    await spillway('resume');
    await waitFor('a launch after resume', () => query(c, `SELECT id FROM intents WHERE kind = 'launch'`).length > 0, {
      timeoutMs: 10_000,
    });
  });
});
