import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, it } from 'mocha';
import type { RegisterRequest } from '../../src/agent/protocol.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { bootstrapCredential, hashToken } from '../../src/core/credentials.ts';
import { AccessError, ConflictError } from '../../src/core/errors.ts';
import { newIntentId } from '../../src/core/ids.ts';
import { DEMO_POLICY } from '../../src/core/policy.ts';
import { resources } from '../../src/core/resources.ts';
import { AgentRegistry } from '../../src/pool/builtin/registry.ts';
import { IdentityError } from '../../src/providers/identity.ts';
import type { AsyncStore } from '../../src/store/async-store.ts';
import { asyncSqliteStore } from '../../src/store/sqlite/async-sqlite-store.ts';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { TokenRecord } from '../../src/store/store.ts';
import { launchIntent, offering } from '../fakes/builders.ts';
import { captureLogs } from '../helpers/log-capture.ts';
import { dumpSqlite } from '../helpers/sqlite-dump.ts';

const REQUEST: RegisterRequest = {
  protocolVersion: 1,
  name: 'node',
  capacity: resources({ cpuMillis: 2000, memoryMiB: 4096 }),
  labels: {},
  isolation: 'none',
};

/**
 * A registration writes several rows (the agent inserted or registered, the registration token's use or the single-use
 * identity's, the agent's isolation, the agent's own token) and must commit them as one transaction on the
 * asynchronous port. The last write (the agent's token) is made to fail inside SQLite itself, by a trigger another
 * connection installs, so nothing in the product is replaced: every earlier write must be undone with it.
 */
describe('registration is one transaction on the asynchronous store port', () => {
  let dir: string;
  let dbPath: string;
  let store: SqliteStore;
  let asyncStore: AsyncStore;
  let clock: ManualClock;
  let registry: AgentRegistry;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-registration-tx-'));
    dbPath = join(dir, 'store.db');
    store = openSqliteStore(dbPath);
    asyncStore = asyncSqliteStore(store);
    clock = new ManualClock();
    store.meta.bindClusterId('test');
    store.meta.serverSecret();
    store.policy.seed(DEMO_POLICY, clock.now());
    registry = new AgentRegistry({
      store: asyncStore,
      clock,
      heartbeatIntervalMs: 1_000,
      pollIntervalMs: 250,
      logger: captureLogs().logger,
    });
  });
  afterEach(async () => {
    await asyncStore.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Makes SQLite refuse the insert of an agent's own token (named `agent:<id>`), the registration's last write: of
   * every agent, or only of agents named `agentName`.
   */
  function failAgentTokenInsert(agentName?: string): void {
    const only =
      agentName === undefined ? '' : `AND (SELECT name FROM agents WHERE id = NEW.agent_id) = '${agentName}'`;
    withConnection((db) =>
      db.exec(`CREATE TRIGGER planted_failure BEFORE INSERT ON tokens WHEN NEW.name LIKE 'agent:%' ${only}
               BEGIN SELECT RAISE(ABORT, 'planted failure of the agent token insert'); END`),
    );
  }

  /** The store reports the trigger's refusal as a constraint failure: a ConflictError caused by it. */
  function plantedFailure(err: unknown): boolean {
    return err instanceof ConflictError && err.cause instanceof Error && /planted failure/.test(err.cause.message);
  }

  function removeFailure(): void {
    withConnection((db) => db.exec('DROP TRIGGER planted_failure'));
  }

  function withConnection(fn: (db: DatabaseSync) => void): void {
    const db = new DatabaseSync(dbPath);
    try {
      fn(db);
    } finally {
      db.close();
    }
  }

  function registrationToken(maxAgents: number): TokenRecord {
    const token = store.tokens.create(
      { id: 'tok-reg', role: 'agent', name: 'reg', agentId: null, createdAtMs: clock.now() },
      hashToken('swt_registration'),
    );
    store.registrations.setBounds(token.id, { maxAgents, site: null, expiresAtMs: null });
    return token;
  }

  it('undoes the private agent and the registration token’s use when the agent’s token cannot be written', async () => {
    const token = registrationToken(1);
    failAgentTokenInsert();
    const before = dumpSqlite(dbPath);
    await assert.rejects(registry.register({ kind: 'token', token }, REQUEST), plantedFailure);
    assert.deepEqual(dumpSqlite(dbPath), before, 'no agent, no recorded use of the token, no isolation row');

    // The token's one registration was not spent by the failed attempt: the retry registers, writing all of it.
    removeFailure();
    const { agentId, token: agentToken } = await registry.register({ kind: 'token', token }, REQUEST);
    assert.equal(store.agents.get(agentId)?.state, 'registered');
    assert.equal(store.registrations.count(token.id), 1);
    assert.equal(store.tokens.byHash(hashToken(agentToken))?.agentId, agentId);
    // And that was its one agent.
    await assert.rejects(
      registry.register({ kind: 'token', token }, REQUEST),
      (err) => err instanceof AccessError && err.status === 403,
    );
  });

  it('undoes the cloud agent’s registration and its single-use identity when the agent’s token cannot be written', async () => {
    const intentId = newIntentId();
    store.intents.insert(
      launchIntent(offering({ providerId: 'local:test' }), { id: intentId, createdAtMs: clock.now() }),
    );
    store.intents.completeLaunch(intentId, ['i-1'], clock.now());
    const credential = bootstrapCredential(store.meta.serverSecret(), intentId);
    const attested = { instanceId: 'i-1', singleUse: { key: 'identity-token-sha', expiresAtMs: clock.now() + 60_000 } };
    const caller = { kind: 'bootstrap', credential } as const;
    const request = { ...REQUEST, instanceId: 'i-1' };
    failAgentTokenInsert();
    const before = dumpSqlite(dbPath);
    await assert.rejects(registry.register(caller, request, attested), plantedFailure);
    assert.deepEqual(dumpSqlite(dbPath), before, 'the agent still provisioning, its identity token not used');

    // The same identity token registers the instance now: its use was rolled back with the rest.
    removeFailure();
    const { agentId, token: agentToken } = await registry.register(caller, request, attested);
    const agent = store.agents.get(agentId);
    assert.equal(agent?.instanceId, 'i-1');
    assert.equal(agent?.state, 'registered');
    assert.equal(store.tokens.byHash(hashToken(agentToken))?.agentId, agentId);
    // Used once now, for good.
    store.agents.setState(agentId, 'provisioning', 'test: as if it had not registered', clock.now());
    await assert.rejects(
      registry.register(caller, request, attested),
      (err) => err instanceof IdentityError && err.reason === 'replayed',
    );
  });

  it('keeps a registration made alongside one that fails, and undoes only the failed one', async () => {
    const token = registrationToken(10);
    failAgentTokenInsert('doomed');
    // Both start in the same tick, as two requests can: neither may write into the other's transaction.
    const [doomed, fine] = await Promise.allSettled([
      registry.register({ kind: 'token', token }, { ...REQUEST, name: 'doomed' }),
      registry.register({ kind: 'token', token }, { ...REQUEST, name: 'fine' }),
    ]);
    assert.equal(doomed.status, 'rejected');
    assert.ok(doomed.status === 'rejected' && plantedFailure(doomed.reason));
    assert.equal(fine.status, 'fulfilled');
    const { agentId, token: agentToken } = fine.status === 'fulfilled' ? fine.value : { agentId: '', token: '' };
    assert.deepEqual(
      store.agents.list().map((a) => [a.name, a.id]),
      [['fine', agentId]],
    );
    assert.equal(store.tokens.byHash(hashToken(agentToken))?.agentId, agentId);
    assert.equal(store.registrations.count(token.id), 1);
  });
});
