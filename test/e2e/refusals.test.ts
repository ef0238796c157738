import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterEach, describe, it } from 'mocha';
import type { ApiClient } from '../../src/api/client.ts';
import { ApiError } from '../../src/api/client.ts';
import type { AuditEntry } from '../../src/store/store.ts';
import type { Status } from '../../src/api/types.ts';
import type { Task } from '../../src/core/task.ts';
import { DEFAULT_SUBNETS, Ec2Emulator } from '../emulators/ec2/ec2-emulator.ts';
import type { EmulatedSubnet } from '../emulators/ec2/ec2-world.ts';
import { waitFor } from '../helpers/wait.ts';
import { awsServeEnv, ec2ProviderEntry } from './ec2-cloud.ts';
import { adminClient, CLI, makeCloudCluster, Serves, tearDown, type Cluster } from './harness.ts';

const run = promisify(execFile);
const PROVIDER = 'aws-ec2:us-east-1';
const BACKOFF_MS = 300_000;
const REASON = `${PROVIDER} refuses launches: InvalidSubnetID.NotFound (subnet-0bad); next try `;

describe('end to end: a refused launch backs off and shows, until fixed and retried', function () {
  this.timeout(120_000);
  let cluster: Cluster | undefined;
  let emulator: Ec2Emulator | undefined;
  let client: ApiClient | undefined;
  const serves = new Serves((c) => awsServeEnv(c.dir));

  afterEach(async () => {
    await tearDown({ client, serves, emulators: [emulator], cluster });
    client = emulator = cluster = undefined;
  });

  async function cli(c: Cluster, token: string, ...args: string[]): Promise<string> {
    const { stdout } = await run(process.execPath, [CLI, ...args, '--url', c.url, '--token', token], {
      timeout: 30_000,
    });
    return stdout;
  }

  it('a subnet EC2 does not know: tasks, status, /metrics and the log say why; providers retry after the fix launches', async () => {
    // The emulator reads this list live: the test creates the subnet later, as the operator would.
    const subnets: EmulatedSubnet[] = [...DEFAULT_SUBNETS];
    emulator = await Ec2Emulator.start({ subnets, bootMs: 300 });
    const entry = ec2ProviderEntry(emulator, { agentCommand: ['true'] });
    cluster = await makeCloudCluster(
      [
        {
          ...entry,
          subnets: [{ id: 'subnet-0bad', zone: 'us-east-1a' }],
          instanceTypes: (entry.instanceTypes as Record<string, unknown>[]).slice(0, 1),
        },
      ],
      {},
      {
        // Five minutes, from the config: longer than this test runs, so no trial call comes before the retry.
        controller: { passIntervalMs: 200, reconcileEveryPasses: 5, leaseTtlMs: 3_000, refusalBackoffMs: BACKOFF_MS },
      },
    );
    const c = cluster;
    const serve = await serves.startHealthy(c, 'serve');
    client = adminClient(c);
    const admin = readFileSync(join(c.home, 'admin.token'), 'utf8').trim();
    await client.post('/v1/tasks', {
      tasks: [{ command: ['true'], resources: { cpu: 1, memory: '256Mi' } }],
    });

    const task = await waitFor('the task says why it waits', async () => {
      const [t] = (await client!.get<{ tasks: Task[] }>('/v1/tasks')).tasks;
      return t?.reason.startsWith(REASON) ? t : undefined;
    });
    assert.match(task.reason, /next try \d\d:\d\d(:\d\d)?$/);

    // An observation window, not a synchronization: 15 passes (every 200 ms) make no second call, since the breaker
    // holds for five minutes.
    await delay(3_000);
    const runs = emulator.calls.filter((call) => call.action === 'RunInstances');
    assert.equal(runs.length, 1, 'one RunInstances call while the breaker is open');
    assert.equal(runs[0]!.code, 'InvalidSubnetID.NotFound');

    const status = await client.get<Status>('/v1/status');
    assert.equal(status.providers.length, 1);
    const [provider] = status.providers;
    assert.equal(provider!.id, PROVIDER);
    assert.equal(provider!.health, 'refusing');
    assert.deepEqual(
      provider!.breakers.map((b) => [b.key, b.scope, b.state, b.code, b.subject, b.refusals]),
      [[PROVIDER, 'provider', 'open', 'InvalidSubnetID.NotFound', 'subnet-0bad', 1]],
    );
    assert.ok(provider!.breakers[0]!.reason.startsWith(REASON));
    assert.equal(provider!.breakers[0]!.retryAtMs - provider!.breakers[0]!.openedAtMs, BACKOFF_MS, 'the configured backoff');

    const table = await cli(c, admin, 'status');
    assert.match(table, new RegExp(`^${PROVIDER}\\s+refusing\\s+1$`, 'm'));
    assert.ok(table.includes(`  ${REASON}`), table);

    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    assert.ok(
      metrics.includes(
        `spillway_launch_breaker_open{provider="${PROVIDER}",breaker="${PROVIDER}",scope="provider",code="InvalidSubnetID.NotFound"} 1`,
      ),
      metrics.split('\n').filter((l) => l.includes('breaker')).join('\n'),
    );
    assert.ok(metrics.includes(`spillway_provider_health{provider="${PROVIDER}",health="refusing"} 1`));
    assert.ok(metrics.includes(`spillway_launches_total{provider="${PROVIDER}",outcome="refused"} 1`));

    assert.equal(countLines(serve.log(), '"opened launch breaker"'), 1, 'the opening is logged once');
    assert.ok(serve.log().includes('subnet-0bad'));

    // Only an admin may retry, and a provider that is not configured is a 404.
    const submitter = (await client.post<{ token: string }>('/v1/tokens', { role: 'submitter', name: 'eve' })).token;
    await assert.rejects(cli(c, submitter, 'providers', 'retry', PROVIDER), /403|may not|role/i);
    await assert.rejects(
      client.post(`/v1/providers/${encodeURIComponent('aws-ec2:eu-west-9')}/retry`, {}),
      (err: unknown) => err instanceof ApiError && err.status === 404,
    );

    subnets.push({ id: 'subnet-0bad', zone: 'us-east-1a' });
    assert.equal(
      await cli(c, admin, 'providers', 'retry', PROVIDER),
      `closed 1 launch breaker(s) of ${PROVIDER}: the next pass launches there again\n`,
    );
    await waitFor('the next pass launches', () => emulator!.liveInstances().length === 1);
    assert.equal(emulator.calls.filter((call) => call.action === 'RunInstances').length, 2);

    const audit = (await client.get<{ entries: AuditEntry[] }>('/v1/audit')).entries;
    const retried = audit.find((e) => e.action === 'provider.retry');
    assert.ok(retried, 'the retry is audited');
    assert.match(retried.actor, /local-admin/);
    assert.deepEqual(retried.detail, { providerId: PROVIDER, closed: 1 });
    await waitFor('status shows the provider healthy', async () => {
      const s = await client!.get<Status>('/v1/status');
      return s.providers[0]?.health === 'ok' && s.providers[0].breakers.length === 0;
    });
    assert.equal(countLines(serve.log(), '"closed launch breaker"'), 1);
  });
});

function countLines(log: string, needle: string): number {
  return log.split('\n').filter((line) => line.includes(needle)).length;
}
