import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'mocha';
import type { RegisterRequest, RegisterResponse } from '../../src/agent/protocol.ts';
import { resources } from '../../src/core/resources.ts';
import { expectApiError, rawRequest, startApiHarness, type ApiHarness } from '../helpers/api-harness.ts';

const registration = (instanceId?: string): RegisterRequest => ({
  protocolVersion: 1,
  name: instanceId ?? 'private-node',
  capacity: resources({ cpuMillis: 2000, memoryMiB: 4096, netMbps: 1000 }),
  labels: {},
  ...(instanceId === undefined ? {} : { instanceId }),
});

const keyPath = (agentId: string): string => `/v1/agents/${agentId}/slurm/munge-key`;

describe('api slurm munge-key route', () => {
  let dir: string;
  let key: Buffer;
  let h: ApiHarness;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-munge-'));
    key = randomBytes(1024);
    writeFileSync(join(dir, 'munge.key'), key, { mode: 0o600 });
  });
  afterEach(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function register(credential: string, req: RegisterRequest): Promise<RegisterResponse> {
    // A cloud agent sends its instance's signed identity, as src/agent does.
    const body = req.instanceId === undefined ? req : { ...req, identity: h.identity(req.instanceId) };
    const answer = await h.client(credential).post<RegisterResponse>('/v1/agents/register', body);
    h.secrets.push(answer.token);
    return answer;
  }

  /** Two cloud agents of one launch, registered with its bootstrap credential. */
  async function cloudAgents(): Promise<[RegisterResponse, RegisterResponse]> {
    const { credential } = h.launch(['i-1', 'i-2']);
    return [await register(credential, registration('i-1')), await register(credential, registration('i-2'))];
  }

  /** The key never reaches the logs, in any encoding, nor does any token the test used. */
  function assertNoSecretsLogged(): void {
    const logs = h.logs.text();
    assert.ok(logs.length > 0, 'the server logged its requests');
    for (const encoded of [key.toString('base64'), key.toString('hex'), key.toString('base64url')]) {
      assert.ok(!logs.includes(encoded), 'the munge key appears in the logs');
      assert.ok(!logs.includes(encoded.slice(0, 24)), 'part of the munge key appears in the logs');
    }
    for (const secret of h.secrets) assert.ok(!logs.includes(secret), 'a token appears in the logs');
  }

  describe('with a key file configured', () => {
    beforeEach(async () => {
      h = await startApiHarness({ slurmMungeKeyFile: join(dir, 'munge.key') });
    });

    it('gives a registered cloud agent the key, base64, for its own token', async () => {
      const [a, b] = await cloudAgents();
      const answerA = await h.client(a.token).get<{ key: string }>(keyPath(a.agentId));
      assert.deepEqual(Buffer.from(answerA.key, 'base64'), key);
      const answerB = await h.client(b.token).get<{ key: string }>(keyPath(b.agentId));
      assert.deepEqual(Buffer.from(answerB.key, 'base64'), key);
      assertNoSecretsLogged();
    });

    it("refuses another agent's token with 403", async () => {
      const [a, b] = await cloudAgents();
      await expectApiError(
        h.client(b.token).get(keyPath(a.agentId)),
        403,
        /only the routes of the agent it was issued to/,
      );
      assertNoSecretsLogged();
    });

    it('refuses admin, submitter, finance and registration tokens with 403', async () => {
      const [a] = await cloudAgents();
      for (const role of ['admin', 'submitter', 'finance'] as const) {
        await expectApiError(h.client(h.tokens[role]).get(keyPath(a.agentId)), 403, new RegExp(`role ${role} may not`));
      }
      // An agent token bound to no agent (a registration token) is not the agent's own.
      await expectApiError(
        h.client(h.tokens.registration).get(keyPath(a.agentId)),
        403,
        /only the routes of the agent it was issued to/,
      );
      assertNoSecretsLogged();
    });

    it('refuses a request without a token, or with a revoked or unknown one, with 401', async () => {
      const [a] = await cloudAgents();
      await expectApiError(h.client().get(keyPath(a.agentId)), 401, /./);
      await expectApiError(h.client(h.tokens.revoked).get(keyPath(a.agentId)), 401, /./);
      const raw = await rawRequest(h.server.url, {
        method: 'GET',
        path: keyPath(a.agentId),
        headers: { authorization: 'Bearer spw_not-a-token' },
      });
      assert.equal(raw.status, 401);
      assert.ok(!raw.text.includes(key.toString('base64')));
      assertNoSecretsLogged();
    });

    it("refuses a bootstrap credential with 401: the key is for the agent's own credential only", async () => {
      const { credential } = h.launch(['i-1']);
      const a = await register(credential, registration('i-1'));
      await expectApiError(h.client(credential).get(keyPath(a.agentId)), 401, /bootstrap credential/);
      assertNoSecretsLogged();
    });

    it('answers 404 for an unknown agent, even with a token bound to its id', async () => {
      const [a] = await cloudAgents();
      // Another agent's token names the agent it was issued to: the unknown id is refused before any lookup.
      await expectApiError(h.client(a.token).get(keyPath('agt_missing')), 403, /issued to/);
      const ghost = h.createToken('agent', 'agent:agt_ghost', 'agt_ghost');
      await expectApiError(h.client(ghost).get(keyPath('agt_ghost')), 404, /no agent agt_ghost/);
      assertNoSecretsLogged();
    });

    it("refuses a private agent's own token with 409: only cloud nodes join Slurm this way", async () => {
      const agent = await register(h.tokens.registration, registration());
      await expectApiError(h.client(agent.token).get(keyPath(agent.agentId)), 409, /is not a registered cloud agent/);
      assertNoSecretsLogged();
    });
  });

  describe('without a key file', () => {
    beforeEach(async () => {
      h = await startApiHarness();
    });

    it("answers 404, not 500, even for a cloud agent's own token", async () => {
      const [a] = await cloudAgents();
      const raw = await rawRequest(h.server.url, {
        method: 'GET',
        path: keyPath(a.agentId),
        headers: { authorization: `Bearer ${a.token}` },
      });
      assert.equal(raw.status, 404);
      assert.match(raw.text, /Slurm is not this controller's pool/);
      assertNoSecretsLogged();
    });
  });
});
