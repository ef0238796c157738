import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { localProviderSchema, type LocalProviderConfig } from '../../../src/config/schema.ts';
import { bootstrapCredential } from '../../../src/core/credentials.ts';
import { CapacityError, ProviderError } from '../../../src/core/errors.ts';
import { resetFailpoints } from '../../../src/core/failpoints.ts';
import type { Offering } from '../../../src/core/offering.ts';
import { DEFAULT_OWNER } from '../../../src/core/owner.ts';
import { silentLogger } from '../../../src/log/logger.ts';
import { LocalProvider } from '../../../src/providers/local/local-provider.ts';
import type { LaunchRequest } from '../../../src/providers/provider.ts';
import { killAll } from '../../helpers/processes.ts';
import { waitFor } from '../../helpers/wait.ts';

const CLUSTER = 'test-cluster';
const SECRET = Buffer.from('test-secret');
/** An "agent" that needs no controller: it runs until killed. */
const IDLE_AGENT = [process.execPath, '-e', 'setInterval(() => {}, 1000)', '--'];

interface Proc {
  readonly pid: number;
  readonly cmdline: string;
  readonly environ: readonly string[];
}

/** Live processes tagged with the instance id, read straight from /proc. */
function instanceProcesses(instanceId: string): Proc[] {
  const found: Proc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const environ = readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0');
      if (!environ.includes(`SPILLWAY_INSTANCE_ID=${instanceId}`)) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      found.push({ pid: Number(entry), cmdline, environ });
    } catch {
      // Gone while we looked.
    }
  }
  return found;
}

/** The instance's agent, once the boot script has exec'd it. */
function agentProcess(instanceId: string): Proc | undefined {
  return instanceProcesses(instanceId).find((p) => p.cmdline.includes('--url'));
}

describe('local provider', function () {
  this.timeout(30_000);
  let stateDir: string;
  let launched: string[];
  let providers: LocalProvider[];

  function config(overrides: Partial<LocalProviderConfig> = {}): LocalProviderConfig {
    return {
      ...localProviderSchema.parse({
        kind: 'local',
        name: 'test',
        zones: ['local-a', 'local-b'],
        bootDelayMs: 100,
        capacityPerZone: 3,
        offerings: [
          {
            instanceType: 'small',
            cpu: 2,
            memory: '4Gi',
            pricePerHourUsd: 0.1,
            spotPricePerHourUsd: 0.03,
            labels: { tier: 'burst' },
          },
          { instanceType: 'gpu', cpu: '8', memory: '32Gi', gpus: 1, gpuModel: 'T4', pricePerHourUsd: 1.5 },
        ],
      }),
      ...overrides,
    };
  }

  function provider(opts: { agentCommand?: readonly string[]; config?: LocalProviderConfig } = {}): LocalProvider {
    const p = new LocalProvider({
      config: opts.config ?? config(),
      stateDir,
      agentCommand: opts.agentCommand ?? IDLE_AGENT,
      logger: silentLogger(),
      terminateGraceMs: 300,
    });
    providers.push(p);
    return p;
  }

  async function offering(
    p: LocalProvider,
    instanceType = 'small',
    lifecycle: Offering['lifecycle'] = 'on-demand',
  ): Promise<Offering> {
    const found = (await p.offerings()).find(
      (o) => o.instanceType === instanceType && o.lifecycle === lifecycle && o.zone === 'local-a',
    );
    assert.ok(found, `no offering ${instanceType} ${lifecycle}`);
    return found;
  }

  async function request(p: LocalProvider, overrides: Partial<LaunchRequest> = {}): Promise<LaunchRequest> {
    const intentId = overrides.intentId ?? randomUUID();
    return {
      intentId,
      clusterId: CLUSTER,
      offering: await offering(p),
      count: 2,
      owner: DEFAULT_OWNER,
      bootstrap: {
        controllerUrl: 'http://127.0.0.1:9',
        caBundle: '',
        credential: bootstrapCredential(SECRET, intentId),
      },
      ...overrides,
    };
  }

  async function launch(p: LocalProvider, req: LaunchRequest): Promise<string[]> {
    const instances = await p.launch(req);
    launched.push(...instances.map((i) => i.id));
    return instances.map((i) => i.id);
  }

  beforeEach(() => {
    stateDir = mkdtempSync(join(tmpdir(), 'spillway-local-'));
    launched = [];
    providers = [];
  });

  afterEach(async () => {
    delete process.env.SPILLWAY_FAILPOINTS;
    resetFailpoints();
    const ids = [...new Set(launched)];
    const terminated = await providers[0]?.terminate(ids).then(
      () => undefined,
      (err: unknown) => err,
    );
    const leftovers = ids.flatMap((id) => instanceProcesses(id).map((p) => p.pid));
    killAll(leftovers);
    rmSync(stateDir, { recursive: true, force: true });
    assert.deepEqual(leftovers, [], 'instance processes outlived the test');
    assert.equal(terminated, undefined, 'terminate failed');
  });

  it('offers each instance type in each zone, on-demand and, with a spot price, spot', async () => {
    const offerings = await provider().offerings();
    const keys = offerings.map((o) => `${o.zone}/${o.instanceType}/${o.lifecycle}`).sort();
    assert.deepEqual(keys, [
      'local-a/gpu/on-demand',
      'local-a/small/on-demand',
      'local-a/small/spot',
      'local-b/gpu/on-demand',
      'local-b/small/on-demand',
      'local-b/small/spot',
    ]);
    const gpu = offerings.find((o) => o.instanceType === 'gpu' && o.zone === 'local-b');
    assert.deepEqual(gpu, {
      providerId: 'local:test',
      provider: 'local',
      region: 'local',
      zone: 'local-b',
      instanceType: 'gpu',
      capacity: { cpuMillis: 8000, memoryMiB: 32768, gpus: 1, netMbps: 1000 },
      lifecycle: 'on-demand',
      pricePerHourMicros: 1_500_000,
      bootMs: 100,
      gpuModel: 'T4',
      labels: {
        'spillway.io/instance-type': 'gpu',
        'spillway.io/lifecycle': 'on-demand',
        'spillway.io/provider': 'local:test',
        'spillway.io/zone': 'local-b',
        'gpu.model': 'T4',
      },
      available: true,
    });
    const spot = offerings.find((o) => o.instanceType === 'small' && o.lifecycle === 'spot');
    assert.equal(spot?.pricePerHourMicros, 30_000);
    assert.equal(spot?.labels.tier, 'burst');
  });

  it('launches instances that list finds, also from a new provider on the same state dir', async () => {
    const p = provider();
    const req = await request(p);
    const instances = await p.launch(req);
    launched.push(...instances.map((i) => i.id));
    assert.deepEqual(
      instances.map((i) => [i.id, i.state, i.intentId, i.clusterId, i.instanceType, i.zone, i.lifecycle, i.providerId]),
      [0, 1].map((n) => [
        `li-${req.intentId}-${n}`,
        'running',
        req.intentId,
        CLUSTER,
        'small',
        'local-a',
        'on-demand',
        'local:test',
      ]),
    );
    assert.deepEqual(
      (await p.list(CLUSTER)).map((i) => i.id),
      launched,
    );
    // The controller restarted: a new provider reads the same records.
    assert.deepEqual(
      (await provider().list(CLUSTER)).map((i) => i.id),
      launched,
    );
    assert.deepEqual(await p.list('another-cluster'), []);
    for (const id of launched) await waitFor(`the agent of ${id}`, () => agentProcess(id), { timeoutMs: 10_000 });
  });

  it('returns the same instances for a retried launch and starts no new process', async () => {
    const p = provider();
    const req = await request(p);
    const first = await launch(p, req);
    const agents = await Promise.all(
      first.map((id) => waitFor(`the agent of ${id}`, () => agentProcess(id), { timeoutMs: 10_000 })),
    );
    assert.deepEqual(await launch(provider(), req), first);
    for (const [i, id] of first.entries()) {
      assert.deepEqual(
        instanceProcesses(id).map((proc) => proc.pid),
        [agents[i]?.pid],
      );
    }
  });

  it('starts each instance once when a launch is retried after a crash before any spawn', async () => {
    const p = provider();
    const req = await request(p);
    process.env.SPILLWAY_FAILPOINTS = 'local.intent.recorded=throw';
    resetFailpoints();
    await assert.rejects(p.launch(req), /failpoint local.intent.recorded/);
    assert.deepEqual(instanceProcesses(`li-${req.intentId}-0`), []);
    delete process.env.SPILLWAY_FAILPOINTS;
    resetFailpoints();
    const ids = await launch(provider(), req);
    for (const id of ids) {
      await waitFor(`the agent of ${id}`, () => agentProcess(id), { timeoutMs: 10_000 });
      assert.equal(instanceProcesses(id).length, 1);
    }
  });

  it('adopts the process a crashed launch started before recording it, instead of starting another', async () => {
    const p = provider();
    const req = await request(p, { count: 1 });
    const id = `li-${req.intentId}-0`;
    launched.push(id);
    process.env.SPILLWAY_FAILPOINTS = 'local.instance.spawned=throw';
    resetFailpoints();
    await assert.rejects(p.launch(req), /failpoint local.instance.spawned/);
    const orphan = await waitFor('the orphan agent', () => agentProcess(id), { timeoutMs: 10_000 });
    delete process.env.SPILLWAY_FAILPOINTS;
    resetFailpoints();
    // Reconcile sees it before the launch is retried.
    assert.deepEqual(
      (await provider().list(CLUSTER)).map((i) => i.id),
      [id],
    );
    assert.deepEqual(await launch(provider(), req), [id]);
    assert.deepEqual(
      instanceProcesses(id).map((proc) => proc.pid),
      [orphan.pid],
    );
  });

  it('refuses a retried intent id with different parameters, for good', async () => {
    const p = provider();
    const req = await request(p);
    await launch(p, req);
    await assert.rejects(p.launch({ ...req, count: 3 }), (err: unknown) => {
      assert.ok(err instanceof ProviderError);
      assert.equal(err.retryable, false);
      assert.match(
        err.message,
        new RegExp(`launching intent ${req.intentId}: the same idempotency key was used with different parameters`),
      );
      return true;
    });
  });

  it('refuses an offering it does not have', async () => {
    const p = provider();
    const req = await request(p);
    await assert.rejects(
      p.launch({ ...req, offering: { ...req.offering, instanceType: 'huge' } }),
      /local:test\/local-a\/huge\/on-demand is not an offering/,
    );
  });

  it('answers a CapacityError past capacityPerZone, per offering and zone', async () => {
    const p = provider();
    const onDemand = await offering(p);
    await launch(p, await request(p, { count: 2 }));
    await assert.rejects(p.launch(await request(p, { count: 2 })), (err: unknown) => {
      assert.ok(err instanceof CapacityError);
      assert.equal(err.offeringKey, 'local:test/local-a/small/on-demand');
      assert.equal(err.retryable, true);
      return true;
    });
    // Spot is another offering, with its own room.
    await launch(p, await request(p, { count: 3, offering: await offering(p, 'small', 'spot') }));
    const third = await launch(p, await request(p, { count: 1, offering: onDemand }));
    await assert.rejects(p.launch(await request(p, { count: 1 })), CapacityError);
    // Terminating one makes room again.
    await p.terminate(third);
    await launch(p, await request(p, { count: 1 }));
  });

  it('terminates the whole instance: its process group and what left the group; list is then empty', async () => {
    // The agent starts a child in its group and a detached one in its own group, and ignores SIGTERM.
    const agent = [
      process.execPath,
      '-e',
      [
        'const { spawn } = require("node:child_process");',
        'spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });',
        'spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore", detached: true });',
        'process.on("SIGTERM", () => {});',
        'setInterval(() => {}, 1000);',
      ].join(' '),
      '--',
    ];
    const p = provider({ agentCommand: agent });
    const req = await request(p, { count: 1 });
    const [id] = await launch(p, req);
    assert.ok(id);
    await waitFor('the agent and its two children', () => instanceProcesses(id).length === 3, { timeoutMs: 10_000 });
    await p.terminate([id, 'li-unknown-0', '../escape']);
    assert.deepEqual(instanceProcesses(id), []);
    assert.deepEqual(await p.list(CLUSTER), []);
    const record = JSON.parse(readFileSync(join(stateDir, 'instances', `${id}.json`), 'utf8')) as { state: string };
    assert.equal(record.state, 'terminated');
    // Terminating again, or retrying the launch, changes nothing and starts nothing.
    await p.terminate([id]);
    assert.deepEqual(
      (await p.launch(req)).map((i) => i.state),
      ['terminated'],
    );
    assert.deepEqual(instanceProcesses(id), []);
  });

  it('stops listing an instance whose process died, and marks it terminated', async () => {
    const p = provider();
    const [dead, alive] = await launch(p, await request(p));
    assert.ok(dead && alive);
    const agent = await waitFor('the agent', () => agentProcess(dead), { timeoutMs: 10_000 });
    killAll([agent.pid]);
    await waitFor('the process to die', () => instanceProcesses(dead).length === 0);
    assert.deepEqual(
      (await p.list(CLUSTER)).map((i) => i.id),
      [alive],
    );
    const record = JSON.parse(readFileSync(join(stateDir, 'instances', `${dead}.json`), 'utf8')) as { state: string };
    assert.equal(record.state, 'terminated');
  });

  it('keeps the credential off every command line and gives it to the agent in its environment', async () => {
    const p = provider({ config: config({ bootDelayMs: 1_000 }) });
    const req = await request(p, {
      count: 1,
      bootstrap: { controllerUrl: 'http://127.0.0.1:9', caBundle: 'PEM', credential: bootstrapCredential(SECRET, 'x') },
    });
    const credential = req.bootstrap.credential;
    const [id] = await launch(p, req);
    assert.ok(id);
    // Booting: sh (and its sleep) run; the script reaches sh through its environment.
    const booting = instanceProcesses(id);
    assert.ok(booting.length > 0);
    for (const proc of booting)
      assert.ok(!proc.cmdline.includes(credential), `credential in the command line of ${proc.cmdline}`);
    assert.ok(booting.some((proc) => proc.environ.some((v) => v.includes(credential))));

    const agent = await waitFor('the agent', () => agentProcess(id), { timeoutMs: 10_000 });
    for (const proc of instanceProcesses(id)) assert.ok(!proc.cmdline.includes(credential));
    assert.ok(agent.environ.includes(`SPILLWAY_TOKEN=${credential}`));
    assert.ok(!agent.environ.some((v) => v.startsWith('SPILLWAY_BOOT_SCRIPT=')), 'the boot script leaked to the agent');
    const caFile = join(stateDir, 'instances', `${id}.ca.pem`);
    assert.ok(agent.environ.includes(`SPILLWAY_CA_FILE=${caFile}`));
    assert.equal(readFileSync(caFile, 'utf8'), 'PEM\n');
    for (const file of readdirSync(join(stateDir, 'intents'))) {
      assert.ok(
        !readFileSync(join(stateDir, 'intents', file), 'utf8').includes(credential),
        'the credential is on disk',
      );
    }
  });

  it("gives each instance's agent an identity document of its own, signed with the provider's key", async () => {
    const p = provider();
    const ids = await launch(p, await request(p, { count: 2 }));
    const maxAgeMs = 600_000;
    const seen = new Set<string>();
    for (const id of ids) {
      const agent = await waitFor('the agent', () => agentProcess(id), { timeoutMs: 10_000 });
      const env = (name: string): string =>
        (agent.environ.find((v) => v.startsWith(`${name}=`)) ?? '').slice(name.length + 1);
      const proof = { document: env('SPILLWAY_IDENTITY_DOCUMENT'), signature: env('SPILLWAY_IDENTITY_SIGNATURE') };
      const doc = JSON.parse(proof.document) as Record<string, unknown>;
      assert.deepEqual(
        [doc.instanceId, doc.accountId, doc.region, doc.availabilityZone],
        [id, 'local', 'local', 'local-a'],
      );
      // A restarted controller (a new provider on the same state dir) verifies it with the same key.
      const verified = await provider().identityVerifier().verify(proof, { audience: '', nowMs: Date.now(), maxAgeMs });
      assert.deepEqual(verified, { instanceId: id });
      seen.add(proof.signature);
    }
    assert.equal(seen.size, 2, 'each instance has its own document');
  });

  it('passes the capacity and labels of the offering to the agent', async () => {
    const p = provider();
    const [id] = await launch(p, await request(p, { count: 1, offering: await offering(p, 'gpu') }));
    assert.ok(id);
    const agent = await waitFor('the agent', () => agentProcess(id), { timeoutMs: 10_000 });
    const flags = agent.cmdline.slice(agent.cmdline.indexOf('--url'));
    assert.equal(
      flags.trim(),
      '--url http://127.0.0.1:9 --cpu 8000m --memory 32768Mi --net-mbps 1000 --gpus 1 --labels ' +
        'gpu.model=T4,spillway.io/instance-type=gpu,spillway.io/lifecycle=on-demand,spillway.io/provider=local:test,spillway.io/zone=local-a',
    );
  });
});
