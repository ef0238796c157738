import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LABEL_INTENT } from '../../../src/providers/gcp-compute/gce-instances.ts';
import { DEFAULT_TEMPLATE, DEFAULT_ZONES, EMULATOR_ACCESS_TOKEN, type GceEmulator } from './gce-emulator.ts';

/**
 * The environment of a `spillway serve` that talks to the GCE emulator: Google's libraries must not probe the
 * metadata server nor find anyone's credentials.
 */
export function gceServeEnv(dir: string): Record<string, string> {
  return {
    METADATA_SERVER_DETECTION: 'none',
    GOOGLE_APPLICATION_CREDENTIALS: join(dir, 'no-google-credentials.json'),
    CLOUDSDK_CONFIG: join(dir, 'no-gcloud-config'),
  };
}

/**
 * A gcp-compute provider entry of a spillway.yaml pointing at the emulator: the access token in a file (as a
 * production sidecar would keep it), instances running `agentCommand` as their agent.
 */
export function gceProviderEntry(
  emulator: GceEmulator,
  opts: {
    readonly dir: string;
    readonly agentCommand: readonly string[];
    readonly zones?: readonly string[];
    readonly instanceTypes?: readonly string[];
  },
): Record<string, unknown> {
  const tokenFile = join(opts.dir, 'gce-access-token');
  writeFileSync(tokenFile, `${EMULATOR_ACCESS_TOKEN}\n`, { mode: 0o600 });
  return {
    kind: 'gcp-compute',
    project: emulator.project,
    region: 'us-central1',
    zones: [...(opts.zones ?? DEFAULT_ZONES)],
    endpoint: { host: '127.0.0.1', port: emulator.port, protocol: 'http' },
    accessTokenFile: tokenFile,
    instanceTemplate: DEFAULT_TEMPLATE,
    instanceTypes: (opts.instanceTypes ?? ['e2-standard-2']).map((instanceType) => ({ instanceType })),
    bootMs: 2_000,
    bootScript: { agentCommand: [...opts.agentCommand] },
    requestTimeoutMs: 5_000,
    // As production names Google's certificates URL: the emulator serves its test key's certificate.
    identity: { certificatesUrl: emulator.certificatesUrl },
  };
}

/**
 * No instance created twice and none the store does not know, over the emulator's whole history: every instance
 * carries a launch intent the store has, no intent has more instances than its count, and every instance is an
 * agent's instance id in the store.
 */
export function assertGceNoDuplicateNoUnknown(
  emulator: GceEmulator,
  store: { launches: ReadonlyMap<string, number>; knownInstanceIds: ReadonlySet<string> },
): void {
  const perIntent = new Map<string, number>();
  for (const instance of emulator.history()) {
    const id = emulator.instanceId(instance);
    const intentId = instance.labels[LABEL_INTENT] ?? '';
    assert.ok(store.launches.has(intentId), `instance ${id} carries intent ${intentId}, which the store knows`);
    assert.ok(store.knownInstanceIds.has(id), `instance ${id} (${instance.status}) is known to the store`);
    perIntent.set(intentId, (perIntent.get(intentId) ?? 0) + 1);
  }
  for (const [intentId, n] of perIntent) {
    assert.ok(
      n <= store.launches.get(intentId)!,
      `intent ${intentId} launched ${n} instances for a count of ${store.launches.get(intentId)}`,
    );
  }
}

/** The store's side of the duplicate check: launch intents with their counts, and the instance ids of agents. */
export function storeView(query: (sql: string) => Array<Record<string, unknown>>): {
  launches: Map<string, number>;
  knownInstanceIds: Set<string>;
} {
  const launches = query(`SELECT id, count FROM intents WHERE kind = 'launch'`);
  const known = query(`SELECT instance_id FROM agents WHERE instance_id IS NOT NULL`);
  return {
    launches: new Map(launches.map((l) => [String(l.id), Number(l.count)])),
    knownInstanceIds: new Set(known.map((r) => String(r.instance_id))),
  };
}
