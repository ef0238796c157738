import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'mocha';
import { SpillwayError, ValidationError } from '../../src/core/errors.ts';
import { ec2IdentityVerifier } from '../../src/providers/aws-ec2/ec2-identity.ts';
import { GceIdentityVerifier } from '../../src/providers/gcp-compute/gce-identity.ts';
import { IdentityError, type IdentityProof, type VerifyContext } from '../../src/providers/identity.ts';
import { LocalIdentity } from '../../src/providers/local/local-identity.ts';
import { identityVerifiers } from '../../src/providers/identity-verifiers.ts';
import type { CloudProvider } from '../../src/providers/provider.ts';
import { parseConfig } from '../../src/config/load.ts';
import { EC2_TEST_KEY, GCE_TEST_KEY } from '../emulators/identity/test-keys.ts';

const NOW_MS = Date.UTC(2026, 5, 1, 12, 0, 0);
const CTX: VerifyContext = { audience: 'https://spillway.example:7070', nowMs: NOW_MS, maxAgeMs: 600_000 };
const OTHER_KEY = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function ec2Doc(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify(
    {
      accountId: '123456789012',
      availabilityZone: 'us-east-1a',
      instanceId: 'i-0abc',
      instanceType: 'c7i.large',
      pendingTime: iso(NOW_MS - 60_000),
      region: 'us-east-1',
      version: '2017-09-30',
      ...overrides,
    },
    null,
    2,
  );
}

const signed = (document: string): IdentityProof => ({ document, signature: EC2_TEST_KEY.signBase64(document) });

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof IdentityError, String(err));
    assert.equal(err.status, 401);
    return err.reason;
  }
  assert.fail('expected an IdentityError');
}

describe('identity verifiers', () => {
  describe('EC2 instance identity documents', () => {
    const verifier = ec2IdentityVerifier('us-east-1', {
      certificateFile: EC2_TEST_KEY.certificateFile,
      accountId: '123456789012',
    });

    it('accepts a document signed by the configured certificate and names its instance, reusable', async () => {
      assert.deepEqual(await verifier.verify(signed(ec2Doc()), CTX), { instanceId: 'i-0abc' });
      // Exactly maxAgeMs old is still fresh.
      assert.deepEqual(await verifier.verify(signed(ec2Doc({ pendingTime: iso(NOW_MS - 600_000) })), CTX), {
        instanceId: 'i-0abc',
      });
    });

    const cases: Array<{ name: string; proof: () => IdentityProof; reason: string }> = [
      {
        name: 'another key',
        proof: () => ({
          document: ec2Doc(),
          signature: sign('sha256', Buffer.from(ec2Doc()), OTHER_KEY).toString('base64'),
        }),
        reason: 'signature',
      },
      {
        name: 'one byte changed after signing',
        proof: () => ({ document: ec2Doc().replace('i-0abc', 'i-0abd'), signature: signed(ec2Doc()).signature ?? '' }),
        reason: 'signature',
      },
      { name: 'no signature', proof: () => ({ document: ec2Doc() }), reason: 'malformed' },
      {
        name: 'a signature that is not base64',
        proof: () => ({ document: ec2Doc(), signature: 'not*base64' }),
        reason: 'malformed',
      },
      { name: 'another account', proof: () => signed(ec2Doc({ accountId: '210987654321' })), reason: 'account' },
      { name: 'another region', proof: () => signed(ec2Doc({ region: 'eu-west-1' })), reason: 'region' },
      { name: 'a signed non-JSON document', proof: () => signed('i-0abc'), reason: 'malformed' },
      { name: 'no instance id', proof: () => signed(ec2Doc({ instanceId: undefined })), reason: 'malformed' },
      {
        name: 'a pendingTime that is no time',
        proof: () => signed(ec2Doc({ pendingTime: 'yesterday' })),
        reason: 'malformed',
      },
      {
        name: 'a pendingTime older than maxAgeMs',
        proof: () => signed(ec2Doc({ pendingTime: iso(NOW_MS - 601_000) })),
        reason: 'expired',
      },
    ];
    for (const c of cases) {
      it(`refuses ${c.name} (${c.reason})`, async () => {
        assert.equal(await refusal(verifier.verify(c.proof(), CTX)), c.reason);
      });
    }

    it('refuses to start without a readable certificate, naming the field', () => {
      const dir = mkdtempSync(join(tmpdir(), 'spillway-identity-'));
      try {
        writeFileSync(join(dir, 'empty.pem'), 'nothing here');
        for (const certificateFile of [join(dir, 'missing.pem'), join(dir, 'empty.pem')]) {
          assert.throws(
            () =>
              ec2IdentityVerifier('us-east-1', { certificateFile, accountId: '123456789012' }, 'providers.0.identity'),
            (err) => err instanceof ValidationError && err.field === 'providers.0.identity.certificateFile',
          );
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('GCE instance identity tokens', () => {
    let certsServer: http.Server;
    let certsUrl = '';
    let certFetches = 0;
    let certsBody = JSON.stringify({ [GCE_TEST_KEY.kid]: GCE_TEST_KEY.certificatePem });
    before(async () => {
      certsServer = http.createServer((_req, res) => {
        certFetches++;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(certsBody);
      });
      await new Promise<void>((resolve) => certsServer.listen(0, '127.0.0.1', resolve));
      certsUrl = `http://127.0.0.1:${(certsServer.address() as AddressInfo).port}/certs`;
    });
    after(async () => {
      certsServer.closeAllConnections();
      await new Promise((resolve) => certsServer.close(resolve));
    });

    const claims = (
      overrides: Record<string, unknown> = {},
      ce: Record<string, unknown> = {},
    ): Record<string, unknown> => ({
      iss: 'https://accounts.google.com',
      aud: CTX.audience,
      iat: NOW_MS / 1000 - 10,
      exp: NOW_MS / 1000 + 3590,
      google: {
        compute_engine: {
          instance_creation_timestamp: NOW_MS / 1000 - 120,
          instance_id: '4217093210000000001',
          instance_name: 'spw-abc-0',
          project_id: 'burst-project',
          project_number: 123456789012,
          zone: 'us-central1-a',
          ...ce,
        },
      },
      ...overrides,
    });
    const fileVerifier = (): GceIdentityVerifier => {
      const dir = mkdtempSync(join(tmpdir(), 'spillway-identity-'));
      try {
        writeFileSync(join(dir, 'certs.json'), certsBody);
        return new GceIdentityVerifier({
          project: 'burst-project',
          zones: ['us-central1-a', 'us-central1-b'],
          config: { certificatesFile: join(dir, 'certs.json') },
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };

    it('accepts a token signed by a configured key and names the instance zone/name, once until it expires', async () => {
      const token = GCE_TEST_KEY.jwt(claims());
      assert.deepEqual(await fileVerifier().verify({ document: token }, CTX), {
        instanceId: 'us-central1-a/spw-abc-0',
        singleUse: {
          key: createHash('sha256').update(token.split('.').slice(0, 2).join('.')).digest('hex'),
          expiresAtMs: NOW_MS + 3_590_000,
        },
      });
    });

    it("keys a token's single use on what it signs, so a respelt signature (unused base64url bits) is the same use", async () => {
      const token = GCE_TEST_KEY.jwt(claims());
      const [header = '', payload = '', sig = ''] = token.split('.');
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      // 256 signature bytes are 342 characters: the last carries 2 bits of the signature and 4 unused ones.
      assert.equal(sig.length, 342);
      const last = alphabet.indexOf(sig.slice(-1));
      const respelt = `${header}.${payload}.${sig.slice(0, -1)}${alphabet[last ^ 0b1111] ?? ''}`;
      assert.notEqual(respelt, token);
      const verifier = fileVerifier();
      const first = await verifier.verify({ document: token }, CTX);
      const second = await verifier.verify({ document: respelt }, CTX);
      assert.equal(second.singleUse?.key, first.singleUse?.key);
      assert.equal(first.singleUse?.key, createHash('sha256').update(`${header}.${payload}`).digest('hex'));
    });

    const forgedJwt = (): string => {
      const [header = '', payload = ''] = GCE_TEST_KEY.jwt(claims()).split('.');
      return `${header}.${payload}.${sign('sha256', Buffer.from(`${header}.${payload}`), OTHER_KEY).toString('base64url')}`;
    };
    const cases: Array<{ name: string; token: () => string; reason: string }> = [
      { name: 'another key', token: forgedJwt, reason: 'signature' },
      {
        name: 'another audience',
        token: () => GCE_TEST_KEY.jwt(claims({ aud: 'https://other.example' })),
        reason: 'audience',
      },
      { name: 'an expired token', token: () => GCE_TEST_KEY.jwt(claims({ exp: NOW_MS / 1000 })), reason: 'expired' },
      {
        name: 'another issuer',
        token: () => GCE_TEST_KEY.jwt(claims({ iss: 'https://evil.example' })),
        reason: 'malformed',
      },
      {
        name: 'another project',
        token: () => GCE_TEST_KEY.jwt(claims({}, { project_id: 'elsewhere-1' })),
        reason: 'account',
      },
      {
        name: "a zone not the provider's",
        token: () => GCE_TEST_KEY.jwt(claims({}, { zone: 'europe-west1-b' })),
        reason: 'region',
      },
      {
        name: 'a token of an instance created over maxAgeMs ago (a reused name)',
        token: () => GCE_TEST_KEY.jwt(claims({}, { instance_creation_timestamp: NOW_MS / 1000 - 601 })),
        reason: 'expired',
      },
      {
        name: 'a standard-format token',
        token: () => GCE_TEST_KEY.jwt(claims({ google: undefined })),
        reason: 'malformed',
      },
      { name: 'no JWT at all', token: () => 'abc.def', reason: 'malformed' },
      {
        name: 'alg none',
        token: () => {
          const [, payload = ''] = GCE_TEST_KEY.jwt(claims()).split('.');
          return `${Buffer.from(JSON.stringify({ alg: 'none', kid: GCE_TEST_KEY.kid })).toString('base64url')}.${payload}.`;
        },
        reason: 'malformed',
      },
    ];
    for (const c of cases) {
      it(`refuses ${c.name} (${c.reason})`, async () => {
        assert.equal(await refusal(fileVerifier().verify({ document: c.token() }, CTX)), c.reason);
      });
    }

    it('fetches certificates from a URL once, and again for an unknown key at most once a minute', async () => {
      const verifier = new GceIdentityVerifier({
        project: 'burst-project',
        zones: ['us-central1-a'],
        config: { certificatesUrl: certsUrl },
      });
      certFetches = 0;
      const token = GCE_TEST_KEY.jwt(claims());
      await verifier.verify({ document: token }, CTX);
      await verifier.verify({ document: token }, { ...CTX, nowMs: NOW_MS + 1_000 });
      assert.equal(certFetches, 1, 'cached');
      // Google rotated its keys: a token under the new kid fetches again, then not for another minute.
      const rotated = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const unknown = (() => {
        const header = Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'new-kid' })).toString('base64url');
        const payload = Buffer.from(JSON.stringify(claims())).toString('base64url');
        return `${header}.${payload}.${sign('sha256', Buffer.from(`${header}.${payload}`), rotated.privateKey).toString('base64url')}`;
      })();
      assert.equal(
        await refusal(verifier.verify({ document: unknown }, { ...CTX, nowMs: NOW_MS + 61_000 })),
        'signature',
      );
      assert.equal(certFetches, 2);
      assert.equal(
        await refusal(verifier.verify({ document: unknown }, { ...CTX, nowMs: NOW_MS + 62_000 })),
        'signature',
      );
      assert.equal(certFetches, 2, 'an unknown key does not refetch within the minute');
      certsBody = JSON.stringify({ [GCE_TEST_KEY.kid]: GCE_TEST_KEY.certificatePem });
    });

    it('fetches the certificates once for registrations that arrive together on an empty cache', async () => {
      const verifier = new GceIdentityVerifier({
        project: 'burst-project',
        zones: ['us-central1-a'],
        config: { certificatesUrl: certsUrl },
      });
      certFetches = 0;
      const tokens = Array.from({ length: 20 }, (_, i) => GCE_TEST_KEY.jwt(claims({}, { instance_name: `spw-abc-${i}` })));
      const answers = await Promise.all(tokens.map((document) => verifier.verify({ document }, CTX)));
      assert.deepEqual(
        answers.map((a) => a.instanceId),
        tokens.map((_, i) => `us-central1-a/spw-abc-${i}`),
      );
      assert.equal(certFetches, 1);
    });

    it('answers a certificates URL serving something other than certificates with a retryable error, not a crash', async () => {
      const token = GCE_TEST_KEY.jwt(claims());
      for (const body of ['<html>maintenance</html>', JSON.stringify({ [GCE_TEST_KEY.kid]: 'not a PEM' })]) {
        certsBody = body;
        const verifier = new GceIdentityVerifier({
          project: 'burst-project',
          zones: ['us-central1-a'],
          config: { certificatesUrl: certsUrl },
        });
        await assert.rejects(
          verifier.verify({ document: token }, CTX),
          (err) =>
            err instanceof SpillwayError &&
            !(err instanceof IdentityError) &&
            err.retryable &&
            new RegExp(`^fetching Google's certificates from ${certsUrl}: `).test(err.message),
        );
        // Google answers properly again: the next registration verifies (no minute's wait after a bad answer).
        certsBody = JSON.stringify({ [GCE_TEST_KEY.kid]: GCE_TEST_KEY.certificatePem });
        const answer = await verifier.verify({ document: token }, { ...CTX, nowMs: NOW_MS + 1_000 });
        assert.equal(answer.instanceId, 'us-central1-a/spw-abc-0');
      }
    });

    it('needs exactly one certificate source, naming the field', () => {
      for (const config of [{}, { certificatesFile: '/x', certificatesUrl: certsUrl }]) {
        assert.throws(
          () =>
            new GceIdentityVerifier({
              project: 'p-12345',
              zones: ['us-central1-a'],
              config,
              field: 'providers.1.identity',
            }),
          (err) => err instanceof ValidationError && err.field === 'providers.1.identity',
        );
      }
    });
  });

  describe('the local cloud', () => {
    it('signs with a key it keeps (mode 0600) across restarts, verified by the EC2 code path', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'spillway-identity-'));
      try {
        const first = new LocalIdentity(dir, 'local');
        const proof = first.sign({
          instanceId: 'loc-1',
          zone: 'local-a',
          instanceType: 'local.small',
          launchedAtMs: NOW_MS,
        });
        assert.equal(statSync(join(dir, 'identity-key.pem')).mode & 0o777, 0o600);
        const restarted = new LocalIdentity(dir, 'local');
        assert.deepEqual(await restarted.verifier().verify(proof, CTX), { instanceId: 'loc-1' });
        const elsewhere = new LocalIdentity(join(dir, 'other'), 'local');
        assert.equal(await refusal(elsewhere.verifier().verify(proof, CTX)), 'signature');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('building the verifiers from the config', () => {
    const ec2Entry = {
      kind: 'aws-ec2',
      region: 'us-east-1',
      launchTemplate: { id: 'lt-1' },
      subnets: [{ id: 'subnet-1', zone: 'us-east-1a' }],
      instanceTypes: [{ instanceType: 'c7i.large', cpu: 2, memory: '4Gi', pricePerHourUsd: 0.1 }],
    };
    const provider = (id: string): CloudProvider => ({ id }) as CloudProvider;

    it('refuses a cloud provider without identity settings, naming the field', () => {
      const config = parseConfig({ clusterId: 'c', providers: [ec2Entry] });
      assert.throws(
        () => identityVerifiers(config.providers, [provider('aws-ec2:us-east-1')]),
        (err) => err instanceof ValidationError && err.field === 'providers.0.identity',
      );
    });

    it('gives each cloud provider the verifier of its identity settings, by provider id', async () => {
      const config = parseConfig({
        clusterId: 'c',
        providers: [
          { ...ec2Entry, identity: { certificateFile: EC2_TEST_KEY.certificateFile, accountId: '123456789012' } },
        ],
      });
      const verifiers = identityVerifiers(config.providers, [provider('aws-ec2:us-east-1')]);
      assert.deepEqual([...verifiers.keys()], ['aws-ec2:us-east-1']);
      assert.deepEqual(await verifiers.get('aws-ec2:us-east-1')?.verify(signed(ec2Doc()), CTX), {
        instanceId: 'i-0abc',
      });
    });
  });
});
