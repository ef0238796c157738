import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'mocha';
import { authenticate } from '../../src/api/auth.ts';
import type { Access } from '../../src/api/route.ts';
import { hashToken, newApiToken } from '../../src/core/credentials.ts';
import { AccessError } from '../../src/core/errors.ts';
import { resources } from '../../src/core/resources.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Role, Store, TokenRecord } from '../../src/store/store.ts';

// authenticate() against a real SQLite store: every outcome, with the status and the whole message a caller sees.
describe('api authentication and authorization', () => {
  let dir: string;
  let store: Store;
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

  after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const ROLES: Access = { kind: 'roles', roles: ['admin', 'finance'] };
  const OWN: Access = { kind: 'own-agent' };
  const REGISTER: Access = { kind: 'register' };
  const auth = (authorization: string | undefined, access: Access, params: Record<string, string> = {}) =>
    authenticate(store, authorization, access, params, 'GET /v1/thing');

  function refused(status: 401 | 403, message: string, call: () => unknown): void {
    assert.throws(call, (err: unknown) => {
      assert.ok(err instanceof AccessError, String(err));
      assert.equal(err.status, status);
      assert.equal(err.message, message);
      return true;
    });
  }

  it('lets anyone call a public route, without looking at the header', () => {
    assert.deepEqual(authenticate(store, undefined, { kind: 'public' }, {}, 'GET /healthz'), { kind: 'anonymous' });
    assert.deepEqual(authenticate(store, 'Bearer nonsense', { kind: 'public' }, {}, 'GET /healthz'), {
      kind: 'anonymous',
    });
  });

  it('returns the token of a caller whose role is allowed, however the Bearer header is spelled', () => {
    for (const header of [`Bearer ${secrets.admin}`, `bearer ${secrets.admin}`, `  Bearer \t${secrets.admin}  `]) {
      assert.deepEqual(auth(header, ROLES), { kind: 'token', token: records.admin });
    }
  });

  it('answers 401 without a usable header', () => {
    refused(401, 'authenticating: send an Authorization: Bearer <token> header', () => auth(undefined, ROLES));
    refused(401, 'authenticating: send an Authorization: Bearer <token> header', () => auth('', ROLES));
    const malformed = 'authenticating: the Authorization header is not of the form Bearer <token>';
    for (const header of [secrets.admin!, `Basic ${secrets.admin}`, 'Bearer', `Bearer ${secrets.admin} extra`]) {
      refused(401, malformed, () => auth(header, ROLES));
    }
    refused(401, malformed, () => auth(`XBearer ${secrets.admin}`, ROLES));
  });

  it('answers 401 for a token it does not know or that was revoked', () => {
    refused(401, 'authenticating: the bearer token is not known', () => auth(`Bearer ${newApiToken()}`, ROLES));
    refused(401, 'authenticating: the bearer token was revoked', () => auth(`Bearer ${secrets.revoked}`, ROLES));
  });

  it('accepts a bootstrap credential only for registration', () => {
    const credential = 'swb_intent-1.mac';
    assert.deepEqual(auth(`Bearer ${credential}`, REGISTER), { kind: 'bootstrap', credential });
    for (const access of [ROLES, OWN]) {
      refused(401, 'authenticating: a bootstrap credential is accepted only by POST /v1/agents/register', () =>
        auth(`Bearer ${credential}`, access, { id: agentId }),
      );
    }
  });

  it('answers 403 naming the allowed roles when the role may not call the route', () => {
    refused(403, 'calling GET /v1/thing: role submitter may not; allowed roles: admin, finance', () =>
      auth(`Bearer ${secrets.submitter}`, ROLES),
    );
    refused(403, 'calling GET /v1/thing: role agent may not; allowed roles: admin, finance', () =>
      auth(`Bearer ${secrets.agent}`, ROLES),
    );
  });

  it('lets an agent token call only its own agent’s routes', () => {
    assert.deepEqual(auth(`Bearer ${secrets.agent}`, OWN, { id: agentId }), { kind: 'token', token: records.agent });
    const notItsOwn = 'calling GET /v1/thing: an agent token may call only the routes of the agent it was issued to';
    refused(403, notItsOwn, () => auth(`Bearer ${secrets.agent}`, OWN, { id: 'a-someone-else' }));
    refused(403, notItsOwn, () => auth(`Bearer ${secrets.agent}`, OWN));
    refused(403, notItsOwn, () => auth(`Bearer ${secrets.registration}`, OWN, { id: agentId }));
    refused(403, 'calling GET /v1/thing: role admin may not; allowed roles: agent (its own routes only)', () =>
      auth(`Bearer ${secrets.admin}`, OWN, { id: agentId }),
    );
  });

  it('lets only a registration token (an agent token of no agent yet) register', () => {
    assert.deepEqual(auth(`Bearer ${secrets.registration}`, REGISTER), { kind: 'token', token: records.registration });
    refused(
      403,
      'calling GET /v1/thing: role submitter may not; allowed: an agent registration token or a bootstrap credential',
      () => auth(`Bearer ${secrets.submitter}`, REGISTER),
    );
    refused(403, "calling GET /v1/thing: an agent's own token cannot register an agent; use a registration token", () =>
      auth(`Bearer ${secrets.agent}`, REGISTER),
    );
  });
});
