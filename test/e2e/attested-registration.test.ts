import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'mocha';
import type { ApiClient } from '../../src/api/client.ts';
import { fetchInstanceIdentity, type InstanceIdentity } from '../../src/agent/identity.ts';
import type { AuditEntry } from '../../src/store/store.ts';
import { Ec2Emulator } from '../emulators/ec2/ec2-emulator.ts';
import { GceEmulator } from '../emulators/gce/gce-emulator.ts';
import { EC2_TEST_KEY, GCE_TEST_KEY } from '../emulators/identity/test-keys.ts';
import { gceProviderEntry, gceServeEnv } from '../emulators/gce/spillway-config.ts';
import { awsServeEnv, ec2ProviderEntry } from './ec2-cloud.ts';
import { adminClient, CLI, makeCloudCluster, query, Serves, tearDown, type Cluster } from './harness.ts';
import { waitFor } from '../helpers/wait.ts';

/** A real attacker's key: signs as well as the cloud's, but no controller is configured with it. */
const ATTACKER_KEY = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
/** Matches the policy below. */
const MAX_PROVISION_MS = 60_000;
/** What every cloud agent in these tests claims: the hijack of issue 13 (512 CPUs, 1 TiB, GPUs it does not have). */
const GREEDY = { cpuMillis: 512_000, memoryMiB: 1_048_576, gpus: 8, netMbps: 400_000 };

interface Answer {
  readonly status: number;
  readonly body: { agentId?: string; error?: { code: string; message: string } };
}

/** POST /v1/agents/register as a script holding `credential` would. */
async function register(url: string, credential: string, body: Record<string, unknown>): Promise<Answer> {
  const res = await fetch(`${url}/v1/agents/register`, {
    method: 'POST',
    headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
    body: JSON.stringify({ protocolVersion: 1, name: 'node', capacity: GREEDY, labels: { gpu: 'h100' }, ...body }),
  });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

/** The bootstrap credential in a boot script: anyone on the instance can read it from the metadata service. */
function credentialIn(script: string): string {
  const match = /swb_[A-Za-z0-9_\-.]+/.exec(script);
  assert.ok(match, 'the boot script carries the bootstrap credential');
  return match[0];
}

async function refusals(client: ApiClient): Promise<AuditEntry[]> {
  const { entries } = await client.get<{ entries: AuditEntry[] }>('/v1/audit?limit=1000');
  return entries.filter((e) => e.action === 'agent.register.refused');
}

/**
 * Expects a 401 naming `reason` and one more `agent.register.refused` audit row with that reason than before; returns
 * the answer's message.
 */
async function expectRefused(client: ApiClient, attempt: () => Promise<Answer>, reason: string): Promise<string> {
  const before = (await refusals(client)).length;
  const answer = await attempt();
  assert.equal(answer.status, 401, JSON.stringify(answer.body));
  assert.equal(answer.body.error?.code, 'unauthorized');
  assert.match(answer.body.error?.message ?? '', new RegExp(`^registering: .+ \\(${reason}\\)$`));
  const after = await refusals(client);
  assert.equal(after.length, before + 1, `one audit row for the ${reason} refusal`);
  const detail = after[0]?.detail as { reason?: string; status?: number; address?: string };
  assert.deepEqual([detail.reason, detail.status, detail.address], [reason, 401, '127.0.0.1']);
  return answer.body.error?.message ?? '';
}

describe('end to end: attested registration through serve and the emulators', function () {
  this.timeout(180_000);
  let cluster: Cluster | undefined;
  let ec2: Ec2Emulator | undefined;
  let gce: GceEmulator | undefined;
  let client: ApiClient | undefined;
  let tokenDir: string | undefined;
  const serves = new Serves((c) => ({ ...awsServeEnv(c.dir), ...gceServeEnv(c.dir) }));

  afterEach(async () => {
    await tearDown({ client, serves, emulators: [ec2, gce], cluster, dirs: [tokenDir] });
    client = ec2 = gce = cluster = tokenDir = undefined;
  });

  /** Launched instances the store knows, by intent: no agent runs on them (the emulators run no boot script). */
  async function launched(c: Cluster, count: number): Promise<Map<string, string[]>> {
    let rows: Array<{ intent_id: string; instance_id: string }> = [];
    await waitFor(`${count} launched instances`, () => {
      rows = query(
        c,
        `SELECT intent_id, instance_id FROM agents WHERE state = 'provisioning' AND instance_id IS NOT NULL`,
      );
      return rows.length >= count;
    });
    const byIntent = new Map<string, string[]>();
    for (const r of rows) byIntent.set(r.intent_id, [...(byIntent.get(r.intent_id) ?? []), r.instance_id].sort());
    return byIntent;
  }

  it("EC2: refuses forged, another instance's, another intent's and expired documents; the hijack fails; a greedy agent gets its offering", async () => {
    ec2 = await Ec2Emulator.start({ bootMs: 100 });
    const c = (cluster = await makeCloudCluster(
      [ec2ProviderEntry(ec2, { agentCommand: [process.execPath, CLI, 'agent'] })],
      { maxProvisionMs: MAX_PROVISION_MS },
    ));
    await serves.startHealthy(c, 'serve');
    client = adminClient(c);
    // Two tasks that only c7i.large's 4 GiB... fit one each; one that needs m7i.large's 8 GiB: two launch intents.
    const task = (memory: string, type: string): unknown => ({
      command: ['true'],
      resources: { cpu: 1.5, memory },
      constraints: { labels: { 'spillway.io/instance-type': type } },
    });
    await client.post('/v1/tasks', {
      tasks: [task('3Gi', 'c7i.large'), task('3Gi', 'c7i.large'), task('6Gi', 'm7i.large')],
    });
    const intents = await launched(c, 3);
    const [pair, single] = [...intents.values()].sort((a, b) => b.length - a.length);
    assert.equal(pair?.length, 2, 'the c7i.large intent launched two instances');
    const [a = '', b = ''] = pair ?? [];
    const other = single?.[0] ?? '';
    const credential = credentialIn(Buffer.from(ec2.instance(a)!.userData, 'base64').toString('utf8'));
    const identityOf = async (instanceId: string): Promise<InstanceIdentity> => {
      const identity = await fetchInstanceIdentity({
        providerId: `aws-ec2:${ec2!.region}`,
        metadataUrl: ec2!.metadataUrl(instanceId),
        audience: c.url,
        env: {},
        signal: AbortSignal.timeout(10_000),
      });
      assert.ok(identity?.signature, `instance ${instanceId}'s IMDS serves its document and signature`);
      return identity;
    };
    const idA = await identityOf(a);
    assert.equal(JSON.parse(idA.document).instanceId, a);

    // The hijack: a script on instance a, holding the launch's credential, registers instance b first.
    assert.match(
      await expectRefused(client, () => register(c.url, credential, { instanceId: b }), 'missing'),
      /signed identity/,
    );
    const forgedB = JSON.stringify({ ...JSON.parse(idA.document), instanceId: b });
    await expectRefused(
      client,
      () =>
        register(c.url, credential, {
          identity: {
            document: forgedB,
            signature: sign('sha256', Buffer.from(forgedB), ATTACKER_KEY).toString('base64'),
          },
        }),
      'signature',
    );
    // The same bytes with the real signature of a's document: the signature covers every byte.
    await expectRefused(
      client,
      () => register(c.url, credential, { identity: { document: forgedB, signature: idA.signature } }),
      'signature',
    );
    assert.match(
      await expectRefused(client, () => register(c.url, credential, { instanceId: b, identity: idA }), 'instance'),
      new RegExp(`names instance ${a}, not ${b}`),
    );
    // Another intent's instance, with its own genuine document, under this intent's credential.
    await expectRefused(
      client,
      async () => register(c.url, credential, { identity: await identityOf(other) }),
      'intent',
    );
    // A genuine document, but from an instance that entered pending long ago (signed by the cloud's key).
    const stale = JSON.stringify({
      ...JSON.parse(idA.document),
      pendingTime: new Date(Date.now() - MAX_PROVISION_MS - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    });
    await expectRefused(
      client,
      () => register(c.url, credential, { identity: { document: stale, signature: EC2_TEST_KEY.signBase64(stale) } }),
      'expired',
    );
    assert.deepEqual(
      query(
        c,
        `SELECT instance_id, state FROM agents WHERE instance_id IN (?, ?, ?) ORDER BY instance_id`,
        a,
        b,
        other,
      ).map((r) => r.state),
      ['provisioning', 'provisioning', 'provisioning'],
      'no refused registration changed an agent',
    );

    // The real agents register, each with its own document; claiming more than the offering gets the offering.
    for (const instanceId of [a, b]) {
      const answer = await register(c.url, credential, { identity: await identityOf(instanceId) });
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
    }
    const [offeringJson] = query<{ offering: string }>(
      c,
      `SELECT offering FROM intents WHERE id = (SELECT intent_id FROM agents WHERE instance_id = ?)`,
      a,
    );
    const netMbps = (JSON.parse(offeringJson!.offering) as { capacity: { netMbps: number } }).capacity.netMbps;
    const recorded = query(
      c,
      `SELECT cpu_millis, memory_mib, gpus, net_mbps, labels, state FROM agents WHERE instance_id = ?`,
      a,
    )[0];
    // c7i.large as configured (ec2-cloud.ts): 2 CPUs, 4 GiB, no GPU.
    assert.deepEqual(
      [recorded?.cpu_millis, recorded?.memory_mib, recorded?.gpus, recorded?.net_mbps, recorded?.state],
      [2000, 4096, 0, netMbps, 'registered'],
    );
    assert.ok(netMbps < GREEDY.netMbps);
    const labels = JSON.parse(String(recorded?.labels)) as Record<string, string>;
    assert.equal(labels['spillway.io/instance-type'], 'c7i.large');
    assert.equal(labels.gpu, undefined, 'labels come from the offering, not the request');
  });

  it("GCE: refuses forged, expired, replayed and wrong-audience tokens and another instance's token", async () => {
    gce = await GceEmulator.start({ bootMs: 100 });
    tokenDir = mkdtempSync(join(tmpdir(), 'spillway-e2e-attest-'));
    const c = (cluster = await makeCloudCluster(
      [gceProviderEntry(gce, { dir: tokenDir, agentCommand: [process.execPath, CLI, 'agent'] })],
      { maxProvisionMs: MAX_PROVISION_MS },
    ));
    await serves.startHealthy(c, 'serve');
    client = adminClient(c);
    await client.post('/v1/tasks', {
      tasks: [0, 1].map(() => ({ command: ['true'], resources: { cpu: 1.5, memory: '1Gi' } })),
    });
    const [pair = []] = [...(await launched(c, 2)).values()];
    assert.equal(pair.length, 2);
    const [a = '', b = ''] = pair;
    const instanceA = gce.instances().find((i) => gce!.instanceId(i) === a)!;
    const credential = credentialIn(instanceA.metadata.get('startup-script') ?? '');
    const tokenOf = async (instanceId: string, audience = c.url): Promise<InstanceIdentity> => {
      const instance = gce!.instances().find((i) => gce!.instanceId(i) === instanceId)!;
      const token = await fetchInstanceIdentity({
        providerId: 'gcp-compute:us-central1',
        metadataUrl: gce!.metadataUrl(instance),
        audience,
        env: {},
        signal: AbortSignal.timeout(10_000),
      });
      assert.ok(token);
      return token;
    };
    const claimsOf = (token: string): Record<string, unknown> =>
      JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;

    const genuine = await tokenOf(a);
    const forged = (() => {
      const [header = '', payload = ''] = genuine.document.split('.');
      return `${header}.${payload}.${sign('sha256', Buffer.from(`${header}.${payload}`), ATTACKER_KEY).toString('base64url')}`;
    })();
    await expectRefused(client, () => register(c.url, credential, { identity: { document: forged } }), 'signature');
    await expectRefused(
      client,
      async () => register(c.url, credential, { identity: await tokenOf(a, 'https://attacker.example') }),
      'audience',
    );
    const nowS = Math.floor(Date.now() / 1000);
    const expired = GCE_TEST_KEY.jwt({ ...claimsOf(genuine.document), iat: nowS - 7200, exp: nowS - 3600 });
    await expectRefused(client, () => register(c.url, credential, { identity: { document: expired } }), 'expired');
    await expectRefused(client, () => register(c.url, credential, { instanceId: b, identity: genuine }), 'instance');

    const first = await register(c.url, credential, { identity: genuine });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    // The same token again (as a script that copied it would): refused before anything else.
    assert.match(
      await expectRefused(client, () => register(c.url, credential, { identity: genuine }), 'replayed'),
      new RegExp(`identity token of instance ${a} was used before`),
    );
    const second = await register(c.url, credential, { identity: await tokenOf(b) });
    assert.equal(second.status, 201, JSON.stringify(second.body));
    // e2-standard-2 as the emulator's catalog has it: 2 vCPUs, 8 GiB.
    const recorded = query(c, `SELECT cpu_millis, memory_mib, gpus FROM agents WHERE instance_id = ?`, b)[0];
    assert.deepEqual([recorded?.cpu_millis, recorded?.memory_mib, recorded?.gpus], [2000, 8192, 0]);
  });
});
