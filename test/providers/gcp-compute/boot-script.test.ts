import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, it } from 'mocha';
import { GCE_BOOT_TEMPLATE } from '../../../src/providers/gcp-compute/gce-boot-script.ts';
import { gceLaunchRequest, startGceFixture, type GceFixture } from './fixture.ts';

const run = promisify(execFile);

describe('the GCE startup script', () => {
  let fx: GceFixture | undefined;
  let dir: string | undefined;

  afterEach(async () => {
    await fx?.close();
    fx = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("finds the instance's zone/name through the metadata server and starts the agent with the credential in its environment", async () => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-gce-boot-'));
    const out = join(dir, 'agent.out');
    // The "agent" records what it was started with: its instance id, its token, and its arguments.
    const agent = ['sh', '-c', `printf '%s\\n' "$SPILLWAY_INSTANCE_ID" "$SPILLWAY_TOKEN" "$*" > '${out}'`, 'agent'];
    fx = await startGceFixture({ config: { bootScript: { template: GCE_BOOT_TEMPLATE, agentCommand: agent } } });
    const request = await gceLaunchRequest(fx.provider);
    const [launched] = await fx.provider.launch(request);
    const instance = fx.emulator.instance(launched!.id)!;
    const script = instance.metadata.get('startup-script')!;
    await run('sh', ['-c', script], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SPILLWAY_METADATA_URL: fx.emulator.metadataUrl(instance) },
    });
    const [instanceId, token, args] = readFileSync(out, 'utf8').split('\n');
    assert.equal(instanceId, launched!.id, 'zone/name, read from instance/zone and instance/name');
    assert.equal(token, request.bootstrap.credential);
    assert.match(args!, /^--url http:\/\/127\.0\.0\.1:7070 --cpu 2000m --memory 8192Mi --net-mbps 4000 --labels /);
    assert.ok(!args!.includes(request.bootstrap.credential), 'never on the command line');
    assert.ok(
      fx.emulator.metadata.requests.some((r) => r.path === '/computeMetadata/v1/instance/zone' && r.status === 200),
    );
  });
});
