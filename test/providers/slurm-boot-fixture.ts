import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { renderSlurmBootScript } from '../../src/pool/slurm/slurm-boot.ts';
import { slurmPoolSchema, type SlurmPoolConfig } from '../../src/pool/slurm/slurm-config.ts';
import { formatLabelsFlag } from '../../src/providers/boot-script.ts';
import type { LaunchRequest } from '../../src/providers/provider.ts';

const run = promisify(execFile);

/** The boot settings the cloud provider configs of the Slurm-mode tests carry. */
export const SLURM_BOOT = { agentCommand: ['/opt/spillway/bin/spillway', 'agent'], caFile: '/etc/spillway/ca.pem' };

/**
 * A Slurm pool config (what `serve` would parse) in a temp dir holding a munge key, whose join step records what it
 * was started with (its instance id, its token, its arguments) in `joinOut` and exits 3, so a boot script run on this
 * machine stops right after joining.
 */
export interface SlurmBootFixture {
  readonly dir: string;
  readonly config: SlurmPoolConfig;
  readonly mungeKey: Buffer;
  readonly joinOut: string;
  close(): void;
}

export function slurmBootFixture(shapes: readonly Record<string, unknown>[]): SlurmBootFixture {
  const dir = mkdtempSync(join(tmpdir(), 'spillway-slurm-boot-'));
  const mungeKey = randomBytes(1024);
  writeFileSync(join(dir, 'munge.key'), mungeKey, { mode: 0o600 });
  const joinOut = join(dir, 'join.out');
  const config = slurmPoolSchema.parse({
    kind: 'slurm',
    slurmConf: join(dir, 'slurm.conf'),
    confServer: '10.0.0.1:6817',
    mungeKeyFile: join(dir, 'munge.key'),
    nodeWorkDir: join(dir, 'nodes'),
    joinCommand: [
      'sh',
      '-c',
      `printf '%s\\n' "$SPILLWAY_INSTANCE_ID" "$SPILLWAY_TOKEN" "$*" > '${joinOut}'; exit 3`,
      'join',
    ],
    shapes,
  });
  return { dir, config, mungeKey, joinOut, close: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The script a cloud launch of `request` should carry in Slurm mode: the cloud's instance id lines, then the Slurm
 * node script rendered for the intent with the provider's boot settings (config's caFile and agentCommand).
 */
export function expectedSlurmScript(
  fx: SlurmBootFixture,
  request: LaunchRequest,
  boot: { readonly caFile: string; readonly agentCommand: readonly string[] },
  instanceIdScript: string,
): string {
  const { capacity, labels } = request.offering;
  const slurm = renderSlurmBootScript(fx.config, fx.config.joinCommand!, request.intentId, request, {
    bootDelaySeconds: 0,
    caBundle: request.bootstrap.caBundle,
    caFile: boot.caFile,
    credential: request.bootstrap.credential,
    agentCommand: boot.agentCommand,
    controllerUrl: request.bootstrap.controllerUrl,
    cpu: `${capacity.cpuMillis}m`,
    memory: `${capacity.memoryMiB}Mi`,
    netMbps: capacity.netMbps,
    gpuFlags: capacity.gpus > 0 ? ['--gpus', String(capacity.gpus)] : [],
    labels: formatLabelsFlag(labels),
  });
  assert.ok(slurm.startsWith('#!/bin/sh\n'));
  const body = slurm.slice('#!/bin/sh\n'.length);
  return `#!/bin/sh\n# Spillway: this instance's id, from the cloud's metadata service.\nset -eu\n${instanceIdScript}${body}`;
}

/** The bootstrap credential only as the agent scripts carry it (exported, once); never the munge key. */
export function assertSecretsOf(fx: SlurmBootFixture, script: string, request: LaunchRequest): void {
  const credential = request.bootstrap.credential;
  assert.equal(script.split(credential).length - 1, 1, 'the credential appears once');
  assert.ok(script.includes(`SPILLWAY_TOKEN='${credential}'\nexport SPILLWAY_TOKEN\n`));
  for (const encoded of [fx.mungeKey.toString('base64'), fx.mungeKey.toString('hex')]) {
    assert.ok(!script.includes(encoded.slice(0, 16)), 'the munge key is never in the script');
  }
  assert.ok(!script.includes(fx.config.mungeKeyFile), "nor the controller's key file");
}

/**
 * Runs `script` with sh as the instance would at boot, its metadata service at `metadataUrl`, and returns what the
 * join step was started with. The join step exits 3, which stops the script there.
 */
export async function runUntilJoin(
  fx: SlurmBootFixture,
  script: string,
  metadataUrl: string,
): Promise<{ instanceId: string; token: string; args: string }> {
  const err = await run('sh', ['-c', script], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SPILLWAY_METADATA_URL: metadataUrl },
  }).then(
    () => undefined,
    (e: unknown) => e as { code?: number; stderr?: string },
  );
  assert.equal(err?.code, 3, `the script stops at the join step: ${err?.stderr ?? 'it exited 0'}`);
  const [instanceId, token, args] = readFileSync(fx.joinOut, 'utf8').split('\n');
  return { instanceId: instanceId ?? '', token: token ?? '', args: args ?? '' };
}

/**
 * What a launch's Slurm script must hold for `request`: a configless join to the fixture's conf server, the node's
 * files under a folder of its intent, no agent started, and the secrets only as `assertSecretsOf` allows.
 */
export function assertSlurmScript(fx: SlurmBootFixture, script: string, request: LaunchRequest): void {
  assert.ok(script.includes(`--conf-server "$SPW_CONF_SERVER"`), 'it joins Slurm configless');
  assert.ok(script.includes(`SPW_CONF_SERVER='10.0.0.1:6817'`), 'at the configured conf server');
  assert.ok(script.includes(`work='${join(fx.config.nodeWorkDir, request.intentId)}'`), 'its files are per intent');
  assert.ok(!script.includes("exec '/opt/spillway/bin/spillway' 'agent'"), 'no agent: the node joins Slurm');
  assertSecretsOf(fx, script, request);
}

/**
 * What the join step must have been started with (from `runUntilJoin`): the instance's id, the credential in its
 * environment and never on its command line, the controller URL, the offering's CPU and `memoryMiB`, and the
 * intent's munge key file.
 */
export function assertJoined(
  fx: SlurmBootFixture,
  joined: { instanceId: string; token: string; args: string },
  request: LaunchRequest,
  expected: { readonly instanceId: string; readonly memoryMiB: number },
): void {
  assert.equal(joined.instanceId, expected.instanceId, "the instance's own id, from the metadata service");
  assert.equal(joined.token, request.bootstrap.credential);
  assert.match(
    joined.args,
    new RegExp(
      `^--url http://127\\.0\\.0\\.1:7070 --cpu 2000m --memory ${expected.memoryMiB}Mi --labels \\S+ --node-prefix spw- --munge-key `,
    ),
  );
  assert.ok(joined.args.endsWith(join(fx.config.nodeWorkDir, request.intentId, 'munge.key')));
  assert.ok(!joined.args.includes(request.bootstrap.credential), 'never on the command line');
}

/**
 * Every one of a launch's `instances` (as many as `request.count`) carries the same script, `scriptOf` it: the
 * expected Slurm script for `request` after the cloud's `instanceIdScript`, holding what `assertSlurmScript` asks.
 */
export function assertSlurmLaunch(
  fx: SlurmBootFixture,
  request: LaunchRequest,
  instances: readonly { readonly id: string }[],
  scriptOf: (instanceId: string) => string,
  instanceIdScript: string,
): void {
  assert.equal(instances.length, request.count);
  const expected = expectedSlurmScript(fx, request, SLURM_BOOT, instanceIdScript);
  for (const instance of instances) assert.equal(scriptOf(instance.id), expected);
  assertSlurmScript(fx, scriptOf(instances[0]!.id), request);
}
