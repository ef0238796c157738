import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'mocha';
import { parseConfig } from '../../../src/config/load.ts';
import { silentLogger } from '../../../src/log/logger.ts';
import { serve, type RunningServer } from '../../../src/main.ts';
import { TAG_CLUSTER } from '../../../src/providers/aws-ec2/launch-input.ts';
import { Ec2Emulator } from '../../emulators/ec2/ec2-emulator.ts';
import { awsServeEnv, ec2ProviderEntry } from '../../e2e/ec2-cloud.ts';
import { waitFor } from '../../helpers/wait.ts';

describe('spillway_foreign_instances_total', () => {
  let emulator: Ec2Emulator | undefined;
  let server: RunningServer | undefined;
  let dir: string | undefined;
  const saved: Record<string, string | undefined> = {};

  afterEach(async () => {
    await server?.close();
    await emulator?.close();
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
    server = emulator = dir = undefined;
  });

  it("counts, per provider, the listed instances that were not this cluster's, at /metrics", async () => {
    emulator = await Ec2Emulator.start({ realism: { ignoreFilters: true } });
    emulator.addForeignInstance({ instanceType: 'c7i.large', zone: 'us-east-1a', tags: { [TAG_CLUSTER]: 'other' } });
    emulator.addForeignInstance({ instanceType: 'c7i.large', zone: 'us-east-1b' });
    dir = mkdtempSync(join(tmpdir(), 'spillway-foreign-'));
    for (const [key, value] of Object.entries(awsServeEnv(dir))) {
      saved[key] = process.env[key];
      process.env[key] = value;
    }
    const config = parseConfig({
      clusterId: 'metric-test',
      home: dir,
      api: { port: 0, publicUrl: 'http://127.0.0.1:9' },
      controller: { passIntervalMs: 100 },
      providers: [ec2ProviderEntry(emulator, { agentCommand: ['true'] })],
      log: { level: 'error' },
    });
    server = await serve(config, { logger: silentLogger() });
    const line = await waitFor('the foreign instances counted at /metrics', async () => {
      const text = await (await fetch(`${server!.url}/metrics`)).text();
      return text
        .split('\n')
        .find((l) => l.startsWith('spillway_foreign_instances_total{provider="aws-ec2:us-east-1"}'));
    });
    // The first pass reconciles: one list, both foreign instances dropped by the adapter.
    assert.ok(Number(line.split(' ').at(-1)) >= 2, line);
    assert.equal(emulator.liveInstances().length, 2, 'both still run');
  });
});
