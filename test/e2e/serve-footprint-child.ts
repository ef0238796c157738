/**
 * The child of serve-footprint.test.ts: records every module URL this process resolves, starts a real `serve` whose
 * only provider is the local cloud, waits until its controller leads (its first pass ran), stops it, then loads the
 * EC2 and GCE adapters itself. Prints `{ served, afterAdapters }`: the cloud SDK modules resolved by each point.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const resolved = new Set<string>();
registerHooks({
  resolve(specifier, context, next) {
    const result = next(specifier, context);
    resolved.add(result.url);
    return result;
  },
});
const SDK = /\/node_modules\/(@google-cloud\/compute|@aws-sdk\/client-ec2)\//;
const sdkModules = (): string[] => [...resolved].filter((url) => SDK.test(url));

// Loaded after the hook is in place, so that it sees serve's whole module graph.
const { parseConfig } = await import('../../src/config/load.ts');
const { silentLogger } = await import('../../src/log/logger.ts');
const { serve } = await import('../../src/main.ts');
const { waitFor } = await import('../helpers/wait.ts');

const dir = mkdtempSync(join(tmpdir(), 'spillway-serve-footprint-'));
try {
  const config = parseConfig({
    clusterId: 'footprint',
    home: dir,
    api: { host: '127.0.0.1', port: 0 },
    controller: { passIntervalMs: 600_000 },
    providers: [
      { kind: 'local', name: 'cloud', offerings: [{ instanceType: 'local.small', cpu: 2, memory: '4Gi', pricePerHourUsd: 0.08 }] },
    ],
    log: { level: 'error' },
  });
  const server = await serve(config, { logger: silentLogger() });
  try {
    await waitFor('the controller to lead', () => server.controller.isLeader(), { intervalMs: 20 });
  } finally {
    await server.close();
  }
  const served = sdkModules();
  await import('../../src/providers/aws-ec2/aws-ec2-provider.ts');
  await import('../../src/providers/gcp-compute/gcp-compute-provider.ts');
  process.stdout.write(JSON.stringify({ served, afterAdapters: sdkModules() }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
