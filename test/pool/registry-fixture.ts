import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RegisterRequest } from '../../src/agent/protocol.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { hashToken } from '../../src/core/credentials.ts';
import { DEMO_POLICY } from '../../src/core/policy.ts';
import { resources } from '../../src/core/resources.ts';
import { AgentRegistry } from '../../src/pool/builtin/registry.ts';
import type { AsyncStore } from '../../src/store/async-store.ts';
import { asyncSqliteStore } from '../../src/store/sqlite/async-sqlite-store.ts';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { TokenRecord } from '../../src/store/store.ts';
import { captureLogs, type LogCapture } from '../helpers/log-capture.ts';

/** What an agent of 2 CPUs and 4 GiB sends to register. */
export const REQUEST: RegisterRequest = {
  protocolVersion: 1,
  name: 'node',
  capacity: resources({ cpuMillis: 2000, memoryMiB: 4096 }),
  labels: {},
};

/** A registry on a fresh SQLite file (through the asynchronous port, as serve gives it), its clock and log lines. */
export interface RegistryFixture {
  readonly dir: string;
  readonly dbPath: string;
  readonly store: SqliteStore;
  readonly asyncStore: AsyncStore;
  readonly clock: ManualClock;
  readonly logs: LogCapture;
  readonly registry: AgentRegistry;
  /** The shared registration token (`swt_registration`). */
  readonly registrationToken: TokenRecord;
  /** Closes the store and removes the folder. */
  close(): void;
}

export function openRegistryFixture(prefix: string): RegistryFixture {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const dbPath = join(dir, 'store.db');
  const store = openSqliteStore(dbPath);
  const asyncStore = asyncSqliteStore(store);
  const clock = new ManualClock();
  const logs = captureLogs();
  store.meta.bindClusterId('test');
  store.meta.serverSecret();
  store.policy.seed(DEMO_POLICY, clock.now());
  const registrationToken = store.tokens.create(
    { id: 'tok-reg', role: 'agent', name: 'reg', agentId: null, createdAtMs: clock.now() },
    hashToken('swt_registration'),
  );
  const registry = new AgentRegistry({
    store: asyncStore,
    clock,
    heartbeatIntervalMs: 1_000,
    pollIntervalMs: 250,
    logger: logs.logger,
  });
  return {
    dir,
    dbPath,
    store,
    asyncStore,
    clock,
    logs,
    registry,
    registrationToken,
    close: () => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
