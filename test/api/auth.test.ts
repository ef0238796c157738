import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'mocha';
import { authenticate, authenticateSession } from '../../src/api/auth.ts';
import type { Access } from '../../src/api/route.ts';
import { hashToken, newApiToken } from '../../src/core/credentials.ts';
import { AccessError } from '../../src/core/errors.ts';
import { resources } from '../../src/core/resources.ts';
import type { AsyncStore } from '../../src/store/async-store.ts';
import { asyncSqliteStore } from '../../src/store/sqlite/async-sqlite-store.ts';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Role, TokenRecord } from '../../src/store/store.ts';

// authenticate() against a real SQLite store, through the asynchronous port as the server reads it: every outcome, with the status and the whole message a caller sees.
describe('api authentication and authorization', () => {
  let dir: string;
  let store: SqliteStore;
  let asyncStore: AsyncStore;
  const secrets: Record<string, string> = {};
  const records: Record<string, TokenRecord> = {};
  let agentId = '';

  function issue(name: string, role: Role, agent: string | null): void {
    const secret = newApiToken();
    secrets[name] = secret;
    records[name] = store.tokens.create(
      { id: `tok-${name}`, role, name, agentId: agent, createdAtMs: 1_000 },
      hashToken(secret),
    );
  }

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-auth-'));
    store = openSqliteStore(join(dir, 'spillway.db'));
    asyncStore = asyncSqliteStore(store);
    const agent = store.agents.insert(
      {
        name: 'rack-1',
        location: { kind: 'private', site: 'dc-1' },
        capacity: resources({ cpuMillis: 1000 }),
        labels: {},
        lifecycle: 'private',
        pricePerHourMicros: 0,
        state: 'registered',
        instanceId: null,
        providerId: null,
        intentId: null,
      },
      1_000,
    );
    agentId = agent.id;
    issue('admin', 'admin', null);
    issue('submitter', 'submitter', null);
    issue('registration', 'agent', null);
    issue('agent', 'agent', agentId);
    issue('revoked', 'admin', null);
    store.tokens.revoke('tok-revoked', 2_000);
  });

  after(async () => {
    await asyncStore.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const ROLES: Access = { kind: 'roles', roles: ['admin', 'finance'] };
  const OWN: Access = { kind: 'own-agent' };
  const REGISTER: Access = { kind: 'register' };
  const auth = (authorization: string | undefined, access: Access, params: Record<string, string> = {}) =>
    authenticate(asyncStore, authorization, access, params, 'GET /v1/thing');

  async function refused(status: 401 | 403, message: string, call: () => Promise<unknown>): Promise<void> {
    await assert.rejects(call, (err: unknown) => {
      assert.ok(err instanceof AccessError, String(err));
      assert.equal(err.status, status);
      assert.equal(err.message, message);
      return true;
    });
  }

  it('lets anyone call a public route, without looking at the header', async () => {
    assert.deepEqual(await authenticate(asyncStore, undefined, { kind: 'public' }, {}, 'GET /healthz'), {
      kind: 'anonymous',
    });
    assert.deepEqual(await authenticate(asyncStore, 'Bearer nonsense', { kind: 'public' }, {}, 'GET /healthz'), {
      kind: 'anonymous',
    });
  });

  it('returns the token of a caller whose role is allowed, however the Bearer header is spelled', async () => {
    for (const header of [`Bearer ${secrets.admin}`, `bearer ${secrets.admin}`, `  Bearer \t${secrets.admin}  `]) {
      assert.deepEqual(await auth(header, ROLES), { kind: 'token', token: records.admin });
    }
  });

  it('answers 401 without a usable header', async () => {
    await refused(401, 'authenticating: send an Authorization: Bearer <token> header', () => auth(undefined, ROLES));
    await refused(401, 'authenticating: send an Authorization: Bearer <token> header', () => auth('', ROLES));
    const malformed = 'authenticating: the Authorization header is not of the form Bearer <token>';
    for (const header of [secrets.admin!, `Basic ${secrets.admin}`, 'Bearer', `Bearer ${secrets.admin} extra`]) {
      await refused(401, malformed, () => auth(header, ROLES));
    }
    await refused(401, malformed, () => auth(`XBearer ${secrets.admin}`, ROLES));
  });

  it('answers 401 for a token it does not know or that was revoked', async () => {
    await refused(401, 'authenticating: the bearer token is not known', () => auth(`Bearer ${newApiToken()}`, ROLES));
    await refused(401, 'authenticating: the bearer token was revoked', () => auth(`Bearer ${secrets.revoked}`, ROLES));
  });

  it('accepts a bootstrap credential only for registration', async () => {
    const credential = 'swb_intent-1.mac';
    assert.deepEqual(await auth(`Bearer ${credential}`, REGISTER), { kind: 'bootstrap', credential });
    for (const access of [ROLES, OWN]) {
      await refused(401, 'authenticating: a bootstrap credential is accepted only by POST /v1/agents/register', () =>
        auth(`Bearer ${credential}`, access, { id: agentId }),
      );
    }
  });

  it('answers 403 naming the allowed roles when the role may not call the route', async () => {
    await refused(403, 'calling GET /v1/thing: role submitter may not; allowed roles: admin, finance', () =>
      auth(`Bearer ${secrets.submitter}`, ROLES),
    );
    await refused(403, 'calling GET /v1/thing: role agent may not; allowed roles: admin, finance', () =>
      auth(`Bearer ${secrets.agent}`, ROLES),
    );
  });

  it('lets an agent token call only its own agent’s routes', async () => {
    assert.deepEqual(await auth(`Bearer ${secrets.agent}`, OWN, { id: agentId }), {
      kind: 'token',
      token: records.agent,
    });
    const notItsOwn = 'calling GET /v1/thing: an agent token may call only the routes of the agent it was issued to';
    await refused(403, notItsOwn, () => auth(`Bearer ${secrets.agent}`, OWN, { id: 'a-someone-else' }));
    await refused(403, notItsOwn, () => auth(`Bearer ${secrets.agent}`, OWN));
    await refused(403, notItsOwn, () => auth(`Bearer ${secrets.registration}`, OWN, { id: agentId }));
    await refused(403, 'calling GET /v1/thing: role admin may not; allowed roles: agent (its own routes only)', () =>
      auth(`Bearer ${secrets.admin}`, OWN, { id: agentId }),
    );
  });

  it("authorizes a console session's request as the token that started it, marked as via the session", () => {
    const session = (name: string, access: Access, params: Record<string, string> = {}) =>
      authenticateSession(records[name]!, access, params, 'GET /v1/thing');
    assert.deepEqual(session('submitter', { kind: 'public' }), { kind: 'anonymous' });
    assert.deepEqual(session('admin', ROLES), { kind: 'token', token: records.admin, viaSession: true });
    assert.throws(
      () => session('submitter', ROLES),
      (err: unknown) =>
        err instanceof AccessError &&
        err.status === 403 &&
        err.message === 'calling GET /v1/thing: role submitter may not; allowed roles: admin, finance',
    );
  });

  it('lets only a registration token (an agent token of no agent yet) register', async () => {
    assert.deepEqual(await auth(`Bearer ${secrets.registration}`, REGISTER), {
      kind: 'token',
      token: records.registration,
    });
    await refused(
      403,
      'calling GET /v1/thing: role submitter may not; allowed: an agent registration token or a bootstrap credential',
      () => auth(`Bearer ${secrets.submitter}`, REGISTER),
    );
    await refused(
      403,
      "calling GET /v1/thing: an agent's own token cannot register an agent; use a registration token",
      () => auth(`Bearer ${secrets.agent}`, REGISTER),
    );
  });
});
