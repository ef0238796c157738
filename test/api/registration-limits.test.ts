import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { resources } from '../../src/core/resources.ts';
import type { RegisterRequest, RegisterResponse } from '../../src/agent/protocol.ts';
import type { AuditEntry } from '../../src/store/store.ts';
import { expectApiError, startApiHarness, type ApiHarness } from '../helpers/api-harness.ts';

function registration(overrides: Partial<RegisterRequest> = {}): RegisterRequest {
  return {
    protocolVersion: 1,
    name: 'cloud-node',
    capacity: resources({ cpuMillis: 2000, memoryMiB: 4096 }),
    labels: {},
    ...overrides,
  };
}

describe('api registration limits against a holder of a launch credential', () => {
  let h: ApiHarness;
  beforeEach(async () => {
    h = await startApiHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it("cannot lock the launch's other instances out: a signed identity registers though the credential's failures are spent", async () => {
    // A task on i-1 reads the launch's bootstrap credential from user data and sends forged identities.
    const { credential } = h.launch(['i-1', 'i-2', 'i-3']);
    const real = h.identity('i-1');
    const forged = { document: real.document.replace('i-1', 'i-2'), signature: real.signature };
    const attacker = h.client(credential);
    for (let i = 0; i < 10; i++) {
      await expectApiError(attacker.post('/v1/agents/register', registration({ identity: forged })), 401, /\(signature\)$/);
    }
    await expectApiError(attacker.post('/v1/agents/register', registration({ identity: forged })), 429, /credential/);
    // The genuine instances of the launch still join, with their own signed identities.
    for (const instanceId of ['i-2', 'i-3']) {
      const answer = await h
        .client(credential)
        .post<RegisterResponse>('/v1/agents/register', registration({ identity: h.identity(instanceId) }));
      h.secrets.push(answer.token);
      assert.equal(h.store.agents.get(answer.agentId)?.instanceId, instanceId);
      assert.equal(h.store.agents.get(answer.agentId)?.state, 'registered');
    }
    // The attacker is still limited, and its limited calls neither audit nor count.
    await expectApiError(attacker.post('/v1/agents/register', registration({ identity: forged })), 429, /credential/);
    const { entries } = await h.client(h.tokens.admin).get<{ entries: AuditEntry[] }>('/v1/audit?limit=100');
    assert.equal(entries.filter((e) => e.action === 'agent.register.refused').length, 10);
  });
});
