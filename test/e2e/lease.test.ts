import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'mocha';
import { parse, stringify } from 'yaml';
import { ApiClient } from '../../src/api/client.ts';
import type { Health } from '../../src/api/types.ts';
import { waitFor } from '../helpers/wait.ts';
import { adminClient, cleanup, freePort, makeCluster, ServeProcess, waitHealthy, type Cluster } from './harness.ts';

describe('end to end: two controllers on one store', function () {
  this.timeout(150_000);
  let cluster: Cluster | undefined;
  const serves: ServeProcess[] = [];

  afterEach(async () => {
    for (const s of serves) await s.stop('SIGKILL').catch(() => undefined);
    await cleanup(
      cluster,
      serves.map((s) => s.child),
    );
    serves.length = 0;
  });

  it('lets only the lease holder act, and the standby takes over when the holder dies', async () => {
    cluster = await makeCluster();
    const c = cluster;
    // As the README configures several controllers: the same `api.agentUrls` in each one's config. Instances then
    // get the same boot script from either, so the standby's resend of a launch the holder died in (the same
    // idempotency key) has the same parameters; with each controller's own URL there, the cloud refuses the resend
    // as another request under that key, as EC2 does (IdempotentParameterMismatch).
    const secondPort = await freePort();
    const secondUrl = `http://127.0.0.1:${secondPort}`;
    const config = parse(readFileSync(c.configPath, 'utf8')) as { api: { port: number; agentUrls?: string[] } };
    config.api.agentUrls = [c.url, secondUrl];
    writeFileSync(c.configPath, stringify(config));
    const secondConfig = join(c.dir, 'second.yaml');
    writeFileSync(secondConfig, stringify({ ...config, api: { ...config.api, port: secondPort } }));

    const first = new ServeProcess(c, { name: 'first' });
    serves.push(first);
    await waitHealthy(c.url, first);
    const firstClient = new ApiClient({ url: c.url });
    await waitFor('the first to take the lease', async () => (await firstClient.get<Health>('/healthz')).leader);

    const second = new ServeProcess(c, { name: 'second', configPath: secondConfig });
    serves.push(second);
    await waitHealthy(secondUrl, second);
    const secondClient = new ApiClient({ url: secondUrl });

    // Work that needs a burst: the first launches, the second never does.
    const admin = adminClient(c);
    await admin.post('/v1/tasks', { tasks: [{ command: ['true'], resources: { cpu: 1, memory: '128Mi' } }] });
    await waitFor('a launch by the first controller', () => /decided launch/.test(first.log()), { timeoutMs: 20_000 });
    assert.equal((await secondClient.get<Health>('/healthz')).leader, false);
    assert.doesNotMatch(second.log(), /decided (launch|terminate)/);
    assert.doesNotMatch(second.log(), /took the lease/);

    await first.stop('SIGKILL');
    await waitFor('the second to take over', async () => (await secondClient.get<Health>('/healthz')).leader, {
      timeoutMs: 15_000,
    });
    assert.match(second.log(), /took the lease/);
    // And it acts: the first's instance reports to a dead controller, is lost, and the second replaces it. An
    // instance killed before it registered (its agent dials the dead controller's URL) is only given up at
    // maxProvisionMs (30 s) after its launch, so the bound allows that and the takeover on top.
    await waitFor('a decision by the second controller', () => /decided (launch|terminate)/.test(second.log()), {
      timeoutMs: 60_000,
    });
    admin.close();
    firstClient.close();
    secondClient.close();
  });
});
