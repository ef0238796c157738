import assert from 'node:assert/strict';
import { EMULATOR_ACCOUNT_ID } from '../emulators/ec2/metadata-service.ts';
import { EC2_TEST_KEY } from '../emulators/identity/test-keys.ts';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, afterEach, before, describe, it } from 'mocha';
import { packAgent } from '../../infra/agent-package.ts';
import { ApiClient } from '../../src/api/client.ts';
import type { Agent } from '../../src/core/agent.ts';
import type { Task } from '../../src/core/task.ts';
import { renderAgentBootScript } from '../../src/providers/boot-script.ts';
import { cloudBootTemplate, type CloudBootSettings } from '../../src/providers/cloud-boot-template.ts';
import {
  DEFAULT_LAUNCH_TEMPLATE,
  DEFAULT_SUBNETS,
  EMULATOR_CREDENTIALS,
  Ec2Emulator,
} from '../emulators/ec2/ec2-emulator.ts';
import { GceEmulator } from '../emulators/gce/gce-emulator.ts';
import { gceProviderEntry, gceServeEnv } from '../emulators/gce/spillway-config.ts';
import { waitFor } from '../helpers/wait.ts';
import { FAMILY_REALISM } from './cloud-fixture.ts';
import { cleanup, freePort, makeCluster, ServeProcess, type Cluster } from '../e2e/harness.ts';

/** A self-signed certificate for 127.0.0.1: the controller's, which also serves the downloads here. */
function certificate(dir: string): { certFile: string; keyFile: string; cert: string } {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1']
      .concat(['-keyout', keyFile, '-out', certFile, '-subj', '/CN=spillway-boot-test'])
      .concat(['-addext', 'subjectAltName=IP:127.0.0.1']),
    { stdio: 'pipe' },
  );
  return { certFile, keyFile, cert: readFileSync(certFile, 'utf8') };
}

function sha256Of(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/**
 * "Node.js 24 for Linux", as the test provides it: a tarball shaped like nodejs.org's (`node-v24.../bin/node`) whose
 * node is this test's own Node.js 24.
 */
function nodeTarball(dir: string): string {
  const top = join(dir, 'node-dist', 'node-v24-linux-test');
  mkdirSync(join(top, 'bin'), { recursive: true });
  symlinkSync(process.execPath, join(top, 'bin', 'node'));
  const file = join(dir, 'node-v24-linux-test.tar');
  execFileSync('tar', ['-cf', file, '-C', join(dir, 'node-dist'), 'node-v24-linux-test']);
  return file;
}

/** Serves files over HTTPS with the controller's certificate, as the controller or an internal mirror would. */
async function fileServer(
  files: readonly string[],
  tls: { certFile: string; keyFile: string },
): Promise<{ url: string; close(): Promise<void> }> {
  const byName = new Map(files.map((f) => [`/${basename(f)}`, f]));
  const server = https.createServer(
    { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) },
    (req, res) => {
      const file = byName.get(req.url ?? '');
      if (!file) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(readFileSync(file));
    },
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close').catch(() => undefined);
    },
  };
}

/**
 * The cloud boot scripts (infra's templates, rendered by the adapters for real launches) run here: the EC2 and GCE
 * emulators run the user data or startup script as an instance's first boot would. It installs "Node.js 24" and the package `npm run pack:agent`
 * makes, both fetched over TLS from a server with the controller's certificate and checked against their SHA-256, and
 * starts `spillway agent`, which must register with the launch's bootstrap credential.
 */
describe('cloud boot script, run here', function () {
  this.timeout(300_000);
  let dir: string;
  let tls: ReturnType<typeof certificate>;
  let server: Awaited<ReturnType<typeof fileServer>> | undefined;
  let settings: CloudBootSettings;
  let emulators: { close(): Promise<void> }[] = [];
  let clusters: { cluster: Cluster; serve: ServeProcess }[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-boot-run-'));
    tls = certificate(dir);
    const agentPackage = packAgent({ repo: join(import.meta.dirname, '../..'), outDir: join(dir, 'packages') });
    const node = nodeTarball(dir);
    server = await fileServer([agentPackage.file, node], tls);
    settings = {
      cloud: 'aws-ec2',
      node: { url: `${server.url}/${basename(node)}`, sha256: sha256Of(node) },
      agentPackage: { url: `${server.url}/${basename(agentPackage.file)}`, sha256: agentPackage.sha256 },
      installDir: join(dir, 'aws-root', 'opt', 'spillway'),
    };
  });

  afterEach(async () => {
    for (const { serve } of clusters) await serve.stop('SIGKILL').catch(() => undefined);
    for (const emulator of emulators) await emulator.close();
    for (const { cluster, serve } of clusters) await cleanup(cluster, [serve.child]);
    emulators = [];
    clusters = [];
  });

  after(async () => {
    await server?.close();
    if (dir && !process.env.SPILLWAY_KEEP_E2E) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Runs a TLS controller whose only provider is `provider` (an emulator running instances' boot scripts), submits one
   * task, and returns the agent that registered and the instance ids the emulator launched, once the task succeeded.
   */
  async function burstOnce(
    provider: Record<string, unknown>,
    opts: { env: Record<string, string>; instanceIds: () => string[]; instanceLog: () => string },
  ): Promise<Agent> {
    const port = await freePort();
    const cluster = await makeCluster({
      api: { host: '127.0.0.1', port, tls: { certFile: tls.certFile, keyFile: tls.keyFile } },
      providers: [provider],
      policy: {
        pendingGraceMs: 500,
        idleTtlMs: 60_000,
        maxProvisionMs: 120_000,
        unknownInstanceGraceMs: 120_000,
        limits: { maxInstances: 1, maxVcpus: 2, maxGpus: 0 },
      },
    });
    const serve = new ServeProcess(cluster, { env: opts.env });
    clusters.push({ cluster, serve });
    const token = await waitFor(
      'the admin token',
      () => {
        if (serve.child.exitCode !== null) throw new Error(`serve exited:\n${serve.log().slice(-3000)}`);
        const file = join(cluster.home, 'admin.token');
        return existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined;
      },
      { timeoutMs: 30_000 },
    );
    const client = new ApiClient({ url: `https://127.0.0.1:${port}`, token, ca: tls.cert });
    try {
      await waitFor('the controller over TLS', async () => (await client.get<{ ok: boolean }>('/healthz'))?.ok, {
        timeoutMs: 30_000,
      });
      await client.post('/v1/tasks', {
        tasks: [{ command: ['/bin/sh', '-c', 'echo ran'], resources: { cpu: 1, memory: '256Mi' } }],
      });
      const agent = await waitFor(
        'the instance’s agent to register',
        async () => {
          const { agents } = await client.get<{ agents: Agent[] }>('/v1/agents');
          // The controller lists the instance as `provisioning` from its launch; `registered` is the agent's own doing.
          return agents.find((a) => a.instanceId !== null && a.state === 'registered');
        },
        { timeoutMs: 150_000, intervalMs: 250 },
      ).catch((err: Error) => {
        throw new Error(
          `${err.message}\ninstance output:\n${opts.instanceLog()}\nserve log:\n${serve.log().slice(-4000)}`,
        );
      });
      assert.deepEqual(opts.instanceIds(), [agent.instanceId], 'the agent registered as the one instance launched');
      assert.ok(agent.intentId, 'the agent is bound to its launch intent: it used the bootstrap credential');
      assert.ok(agent.registeredAtMs > 0);
      assert.doesNotMatch(opts.instanceLog(), /spw_boot_|Bearer/, 'the credential is never printed');
      const tasks = await waitFor(
        'the task to succeed on the cloud agent',
        async () => {
          const { tasks: list } = await client.get<{ tasks: Task[] }>('/v1/tasks');
          return list.every((t) => t.state === 'succeeded') ? list : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      assert.equal(tasks.length, 1);
      return agent;
    } finally {
      client.close();
    }
  }

  /** The agent runs the package the script installed, on the Node.js it installed, trusting the CA it wrote. */
  function assertInstalled(root: string): void {
    const installed = join(root, 'opt', 'spillway');
    assert.ok(existsSync(join(installed, 'bin', 'spillway')));
    assert.ok(existsSync(join(installed, 'node', 'bin', 'node')));
    assert.ok(existsSync(join(installed, 'spillway', 'dist', 'cli', 'main.js')));
    assert.ok(existsSync(join(installed, 'spillway', 'node_modules', 'commander')), 'dependencies come in the package');
    assert.equal(readFileSync(join(root, 'etc', 'spillway', 'ca.pem'), 'utf8').trim(), tls.cert.trim());
  }

  function logsUnder(logDir: string, ids: readonly string[]): string {
    return ids
      .map((id) => join(logDir, `${id}.log`))
      .map((file) => (existsSync(file) ? readFileSync(file, 'utf8') : ''))
      .join('\n');
  }

  it('EC2: installs Node.js and Spillway, then starts an agent that registers with its bootstrap credential', async () => {
    const logDir = join(dir, 'ec2-instances');
    const emulator = await Ec2Emulator.start({
      bootMs: 200,
      bootScripts: { logDir, shutdownGraceMs: 2_000 },
      realism: FAMILY_REALISM,
    });
    emulators.push(emulator);
    const root = join(dir, 'aws-root');
    const ids = (): string[] => emulator.instances().map((i) => i.id);
    const agent = await burstOnce(
      {
        kind: 'aws-ec2',
        region: emulator.region,
        endpoint: emulator.url,
        launchTemplate: { id: DEFAULT_LAUNCH_TEMPLATE.id },
        subnets: DEFAULT_SUBNETS.map((s) => ({ id: s.id, zone: s.zone })),
        instanceTypes: [{ instanceType: 'c7i.large', cpu: 2, memory: '4Gi', pricePerHourUsd: 0.0893 }],
        bootMs: 5_000,
        // What `spillway config from-pulumi` puts here from the stack's awsBootScriptTemplate output.
        bootScript: { template: cloudBootTemplate(settings), caFile: join(root, 'etc', 'spillway', 'ca.pem') },
        requestTimeoutMs: 5_000,
        priceRefreshMs: 0,
        // The emulator signs identity documents with its test key, as AWS signs with the region's.
        identity: { certificateFile: EC2_TEST_KEY.certificateFile, accountId: EMULATOR_ACCOUNT_ID },
      },
      {
        env: {
          AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
          AWS_EC2_METADATA_DISABLED: 'true',
          AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
          AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
        },
        instanceIds: ids,
        instanceLog: () => logsUnder(logDir, ids()),
      },
    );
    assert.equal(agent.providerId, `aws-ec2:${emulator.region}`);
    assert.equal(agent.capacity.cpuMillis, 2_000);
    assertInstalled(root);
  });

  it('GCE: the same, from the gcp-compute template (instance id zone/name)', async () => {
    const logDir = join(dir, 'gce-instances');
    const emulator = await GceEmulator.start({ bootScripts: { logDir, shutdownGraceMs: 2_000 }, realism: FAMILY_REALISM });
    emulators.push(emulator);
    const root = join(dir, 'gcp-root');
    const ids = (): string[] => emulator.instances().map((i) => emulator.instanceId(i));
    const entry = gceProviderEntry(emulator, { dir, agentCommand: ['spillway', 'agent'] });
    const template = cloudBootTemplate({
      ...settings,
      cloud: 'gcp-compute',
      installDir: join(root, 'opt', 'spillway'),
    });
    const agent = await burstOnce(
      { ...entry, bootScript: { template, caFile: join(root, 'etc', 'spillway', 'ca.pem') } },
      { env: gceServeEnv(dir), instanceIds: ids, instanceLog: () => logsUnder(logDir, ids()) },
    );
    assert.match(agent.providerId ?? '', /^gcp-compute:/);
    assertInstalled(root);
  });

  it('stops before starting anything when a download does not match its pinned SHA-256', async () => {
    const installDir = join(dir, 'tampered', 'opt', 'spillway');
    const template = cloudBootTemplate({
      ...settings,
      agentPackage: { ...settings.agentPackage, sha256: '0'.repeat(64) },
      installDir,
    });
    const marker = join(dir, 'tampered', 'agent-started');
    const script = renderAgentBootScript(
      {
        bootDelaySeconds: 0,
        caBundle: tls.cert,
        caFile: join(dir, 'tampered', 'ca.pem'),
        credential: 'spw_boot_never_used',
        agentCommand: ['touch', marker],
        controllerUrl: 'https://127.0.0.1:1',
        cpu: '1000m',
        memory: '512Mi',
        netMbps: 100,
        gpuFlags: [],
        labels: '',
      },
      template,
    );
    // Asynchronous: the file server answering the script's downloads runs in this process.
    const child = spawn('sh', ['-c', script], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SPILLWAY_INSTANCE_ID: 'i-0123456789abcdef0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.resume();
    const [status] = (await once(child, 'close')) as [number | null];
    const run = { status, stderr };
    assert.notEqual(run.status, 0, 'the script fails');
    assert.match(
      run.stderr,
      /does not match its pinned SHA-256/,
      `the script says which download failed: ${run.stderr}`,
    );
    assert.equal(existsSync(marker), false, 'the agent command never ran');
    assert.equal(existsSync(join(installDir, 'bin', 'spillway')), false, 'nothing was installed');
  });
});
