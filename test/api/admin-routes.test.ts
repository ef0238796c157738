import assert from 'node:assert/strict';
import { after, before, describe, it } from 'mocha';
import type { CreateTokenResponse } from '../../src/api/types.ts';
import { responseSchemas } from '../../src/api/response-schemas.ts';
import { hashToken } from '../../src/core/credentials.ts';
import { DEMO_POLICY, type Policy } from '../../src/core/policy.ts';
import type { AuditEntry, TokenRecord } from '../../src/store/store.ts';
import { expectApiError, startApiHarness, type ApiHarness } from '../helpers/api-harness.ts';
import { dumpSqlite } from '../helpers/sqlite-dump.ts';

describe('api policy, pause, token and audit routes', () => {
  let h: ApiHarness;
  before(async () => {
    h = await startApiHarness();
  });
  after(async () => {
    await h.close();
  });

  it('shows the policy to every reader role', async () => {
    for (const role of ['admin', 'submitter', 'finance'] as const) {
      assert.deepEqual(await h.client(h.tokens[role]).get<Policy>('/v1/policy'), DEMO_POLICY);
    }
  });

  it('replaces the policy for an admin and audits it with the token name and id', async () => {
    const next: Policy = {
      ...DEMO_POLICY,
      idleTtlMs: 42_000,
      regions: ['us-east-1'],
      providerLimits: { 'aws-ec2': { maxInstances: 2, maxVcpus: 8, maxGpus: 0 } },
    };
    const answer = await h.client(h.tokens.admin).put<Policy>('/v1/policy', next);
    assert.deepEqual(answer, next);
    assert.deepEqual(h.store.policy.get(), next);
    const [entry] = h.store.audit.list(1);
    assert.equal(entry?.action, 'policy.set');
    assert.match(entry?.actor ?? '', /^alice \(tok-[0-9a-f-]+\)$/);
  });

  it('never lifts a pause through a policy replacement: the kill switch changes only through pause and resume', async () => {
    const admin = h.client(h.tokens.admin);
    await admin.post('/v1/pause');
    const answer = await admin.put<Policy>('/v1/policy', { ...DEMO_POLICY, paused: false, idleTtlMs: 1_234 });
    assert.equal(answer.paused, true);
    assert.equal(answer.idleTtlMs, 1_234);
    const { paused: _paused, ...withoutSwitch } = DEMO_POLICY;
    assert.equal((await admin.put<Policy>('/v1/policy', withoutSwitch)).paused, true, 'paused may be left out');
    await admin.post('/v1/resume');
    assert.equal(h.store.policy.get().paused, false);
  });

  it('refuses a policy change from a submitter, naming the admin role', async () => {
    await expectApiError(h.client(h.tokens.submitter).put('/v1/policy', DEMO_POLICY), 403, /allowed roles: admin$/);
  });

  it('pauses and resumes launches through the audited policy write', async () => {
    const admin = h.client(h.tokens.admin);
    const auditBefore = h.store.audit.list(1000).length;
    assert.deepEqual(await admin.post('/v1/pause'), { paused: true });
    assert.equal(h.store.policy.get().paused, true);
    assert.equal((await admin.get<{ paused: boolean }>('/v1/status')).paused, true);
    assert.deepEqual(await admin.post('/v1/resume', {}), { paused: false });
    assert.equal(h.store.policy.get().paused, false);
    const entries = h.store.audit.list(2);
    assert.equal(h.store.audit.list(1000).length, auditBefore + 2);
    assert.deepEqual(
      entries.map((e) => (e.detail as { after: Policy }).after.paused),
      [false, true],
    );
    await expectApiError(h.client(h.tokens.finance).post('/v1/pause'), 403, /allowed roles: admin$/);
  });

  it('creates a token, shows it once and stores only its hash', async () => {
    const created = await h
      .client(h.tokens.admin)
      .post<CreateTokenResponse>('/v1/tokens', { role: 'finance', name: 'dave' });
    h.secrets.push(created.token);
    responseSchemas.CreateTokenResponse.parse(created);
    assert.equal(created.role, 'finance');
    assert.match(created.token, /^swt_/);
    const record = h.store.tokens.byHash(hashToken(created.token));
    assert.deepEqual(record && { id: record.id, role: record.role, agentId: record.agentId }, {
      id: created.id,
      role: 'finance',
      agentId: null,
    });
    assert.doesNotMatch(JSON.stringify(dumpSqlite(h.dbPath)), new RegExp(created.token.slice(4)));
    assert.ok(await h.client(created.token).get('/v1/status'), 'the new token works for its role');
    const listed = await h.client(h.tokens.admin).get<{ tokens: TokenRecord[] }>('/v1/tokens');
    responseSchemas.TokenList.parse(listed);
    assert.ok(listed.tokens.some((t) => t.id === created.id));
    assert.doesNotMatch(JSON.stringify(listed), /swt_|[0-9a-f]{64}/, 'neither tokens nor hashes are listed');
  });

  it('makes an admin-created agent token an unbound registration token', async () => {
    const created = await h
      .client(h.tokens.admin)
      .post<CreateTokenResponse>('/v1/tokens', { role: 'agent', name: 'rack-7' });
    h.secrets.push(created.token);
    assert.equal(h.store.tokens.get(created.id)?.agentId, null);
    const registered = await h.client(created.token).post<{ agentId: string; token: string }>('/v1/agents/register', {
      protocolVersion: 1,
      name: 'rack-7-node-1',
      capacity: { cpuMillis: 4000, memoryMiB: 8192, gpus: 0, netMbps: 1000 },
      labels: {},
    });
    h.secrets.push(registered.token);
    assert.equal(h.store.agents.get(registered.agentId)?.state, 'registered');
  });

  it('revokes a token so it is refused afterwards; an unknown id is 404', async () => {
    const admin = h.client(h.tokens.admin);
    const created = await admin.post<CreateTokenResponse>('/v1/tokens', { role: 'submitter', name: 'eve' });
    h.secrets.push(created.token);
    const revoked = await admin.delete<TokenRecord>(`/v1/tokens/${created.id}`);
    assert.equal(revoked.revokedAtMs, h.clock.now());
    await expectApiError(
      h.client(created.token).get('/v1/tasks'),
      401,
      /^authenticating: the bearer token was revoked$/,
    );
    assert.equal((await admin.delete<TokenRecord>(`/v1/tokens/${created.id}`)).revokedAtMs, h.clock.now());
    await expectApiError(admin.delete('/v1/tokens/tok-nope'), 404, /revoking token tok-nope: no such token/);
    await expectApiError(h.client(h.tokens.submitter).delete(`/v1/tokens/${created.id}`), 403, /allowed roles: admin$/);
  });

  it('lists the audit log newest first with a limit, for admins only', async () => {
    const admin = h.client(h.tokens.admin);
    const { entries } = await admin.get<{ entries: AuditEntry[] }>('/v1/audit?limit=2');
    responseSchemas.AuditList.parse({ entries });
    assert.equal(entries.length, 2);
    assert.deepEqual(entries, h.store.audit.list(2));
    const all = await admin.get<{ entries: AuditEntry[] }>('/v1/audit');
    const actions = new Set(all.entries.map((e) => e.action));
    for (const action of ['policy.set', 'token.create', 'token.revoke']) assert.ok(actions.has(action), action);
    await expectApiError(h.client(h.tokens.finance).get('/v1/audit'), 403, /allowed roles: admin$/);
  });
});
