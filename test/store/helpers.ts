export { seededRandom } from '../../src/core/random.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Agent } from '../../src/core/agent.ts';
import { newIntentId } from '../../src/core/ids.ts';
import type { LaunchIntent, TerminateIntent } from '../../src/core/intent.ts';
import type { Offering } from '../../src/core/offering.ts';
import { resources } from '../../src/core/resources.ts';
import { openSqliteStore, type SqliteStoreOptions } from '../../src/store/sqlite/sqlite-store.ts';
import type { NewAgent, NewTask, Store } from '../../src/store/store.ts';

export const T0 = Date.UTC(2026, 0, 1);

/** A temp folder removed by `cleanup`, with every store opened through `open` closed first. */
export class TempStores {
  readonly dir = mkdtempSync(join(tmpdir(), 'spillway-store-'));
  readonly path = join(this.dir, 'spillway.db');
  readonly #open: Store[] = [];

  open(opts: SqliteStoreOptions & { path?: string } = {}): Store {
    const store = openSqliteStore(opts.path ?? this.path, opts);
    this.#open.push(store);
    return store;
  }

  cleanup(): void {
    for (const store of this.#open) store.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function newTask(overrides: Partial<NewTask> = {}): NewTask {
  return {
    owner: { team: 'ml', project: 'vision', job: 'train' },
    resources: resources({ cpuMillis: 1000, memoryMiB: 1024 }),
    priority: 0,
    revocable: false,
    constraints: {},
    command: ['sleep', '1'],
    ...overrides,
  };
}

export function privateAgent(overrides: Partial<NewAgent> = {}): NewAgent {
  return {
    name: 'rack-1',
    location: { kind: 'private', site: 'dc-1' },
    capacity: resources({ cpuMillis: 8000, memoryMiB: 16_384, netMbps: 1000 }),
    labels: { rack: '1' },
    lifecycle: 'private',
    pricePerHourMicros: 0,
    state: 'registered',
    instanceId: null,
    providerId: null,
    intentId: null,
    ...overrides,
  };
}

/** Inserts a registered private agent. */
export function addAgent(store: Store, overrides: Partial<NewAgent> = {}, nowMs = T0): Agent {
  return store.agents.insert(privateAgent(overrides), nowMs);
}

export function offering(overrides: Partial<Offering> = {}): Offering {
  return {
    providerId: 'aws-ec2:us-east-1',
    provider: 'aws-ec2',
    region: 'us-east-1',
    zone: 'us-east-1a',
    instanceType: 'm7i.large',
    capacity: resources({ cpuMillis: 2000, memoryMiB: 8192, netMbps: 12_500 }),
    lifecycle: 'on-demand',
    pricePerHourMicros: 100_800,
    bootMs: 60_000,
    gpuModel: null,
    labels: { 'node.kubernetes.io/instance-type': 'm7i.large' },
    available: true,
    ...overrides,
  };
}

export function launchIntent(overrides: Partial<LaunchIntent> = {}): LaunchIntent {
  return {
    id: newIntentId(),
    kind: 'launch',
    providerId: 'aws-ec2:us-east-1',
    offering: offering(),
    count: 2,
    owners: [{ owner: { team: 'ml', project: 'vision', job: 'train' }, share: 1 }],
    reason: 'tasks waited past the grace period',
    state: 'pending',
    instanceIds: [],
    createdAtMs: T0,
    updatedAtMs: T0,
    attempts: 0,
    error: '',
    ...overrides,
  };
}

export function terminateIntent(overrides: Partial<TerminateIntent> = {}): TerminateIntent {
  return {
    id: newIntentId(),
    kind: 'terminate',
    providerId: 'aws-ec2:us-east-1',
    instanceIds: [],
    reason: 'idle past the ttl',
    state: 'pending',
    createdAtMs: T0,
    updatedAtMs: T0,
    attempts: 0,
    error: '',
    ...overrides,
  };
}

