import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import { ProviderError } from '../../../src/core/errors.ts';
import { slurmBootRenderer } from '../../../src/pool/slurm/slurm-setup.ts';
import { GCE_INSTANCE_ID_SCRIPT, STARTUP_SCRIPT_KEY } from '../../../src/providers/gcp-compute/gce-boot-script.ts';
import {
  assertJoined,
  assertSlurmLaunch,
  expectedSlurmScript,
  runUntilJoin,
  SLURM_BOOT as BOOT,
  slurmBootFixture,
  type SlurmBootFixture,
} from '../slurm-boot-fixture.ts';
import { gceLaunchRequest, startGceFixture, type GceFixture } from './fixture.ts';

describe('gcp-compute provider in Slurm mode: the startup script is the Slurm node join script', () => {
  const fixtures: GceFixture[] = [];
  let slurm: SlurmBootFixture | undefined;

  afterEach(async () => {
    for (const f of fixtures.splice(0)) await f.close();
    slurm?.close();
    slurm = undefined;
  });

  async function start(s: SlurmBootFixture): Promise<GceFixture> {
    const f = await startGceFixture({
      config: { bootScript: BOOT },
      provider: { renderBootScript: slurmBootRenderer(s.config) },
    });
    fixtures.push(f);
    return f;
  }

  const shapes = [{ provider: 'gcp-compute', instanceType: 'e2-standard-2', placeholder: 'tmpl-e2' }];
  const scriptOf = (f: GceFixture, instanceId: string): string =>
    f.emulator.instance(instanceId)!.metadata.get(STARTUP_SCRIPT_KEY)!;

  it('creates every instance of a launch with the Slurm script for the intent, after the metadata id lines', async () => {
    const s = (slurm = slurmBootFixture(shapes));
    const f = await start(s);
    const request = await gceLaunchRequest(f.provider, {}, { count: 2 });
    const instances = await f.provider.launch(request);
    assertSlurmLaunch(s, request, instances, (id) => scriptOf(f, id), GCE_INSTANCE_ID_SCRIPT);
  });

  it('a retry after a lost answer creates one instance, and a restarted controller sends identical bytes', async () => {
    const s = (slurm = slurmBootFixture(shapes));
    const f = await start(s);
    const request = await gceLaunchRequest(f.provider);
    f.emulator.injectFault({ kind: 'lose-response', action: 'insert' });
    const err = await f.provider.launch(request).catch((e: unknown) => e);
    assert.ok(err instanceof ProviderError && err.retryable, `the lost answer is retryable: ${String(err)}`);
    const [again] = await f.provider.launch(request);
    assert.equal(f.emulator.instances().length, 1);
    assert.deepEqual(
      f.emulator.callsOf('insert').map((c) => c.requestId),
      [request.intentId, request.intentId],
    );
    const script = scriptOf(f, again!.id);
    // GCE does not say whether it compares a requestId's parameters: the same launch from a fresh controller (its
    // own renderer) against a fresh project must send the very same script.
    const fresh = await start(s);
    const [elsewhere] = await fresh.provider.launch(request);
    assert.equal(scriptOf(fresh, elsewhere!.id), script);
    assert.equal(script, expectedSlurmScript(s, request, BOOT, GCE_INSTANCE_ID_SCRIPT));
  });

  it('on the instance, the join step gets zone/name from the metadata server and the credential in its environment', async () => {
    const s = (slurm = slurmBootFixture(shapes));
    const f = await start(s);
    const request = await gceLaunchRequest(f.provider);
    const [launched] = await f.provider.launch(request);
    const instance = f.emulator.instance(launched!.id)!;
    const joined = await runUntilJoin(s, scriptOf(f, launched!.id), f.emulator.metadataUrl(instance));
    // zone/name, read from instance/zone and instance/name
    assertJoined(s, joined, request, { instanceId: launched!.id, memoryMiB: 8192 });
  });

  it('refuses, not retryably, an offering no Slurm shape covers, before any call', async () => {
    const s = (slurm = slurmBootFixture(shapes));
    const f = await start(s);
    const request = await gceLaunchRequest(f.provider, { instanceType: 'n2-standard-2' });
    const err = await f.provider.launch(request).catch((e: unknown) => e);
    assert.ok(err instanceof ProviderError && !err.retryable, String(err));
    assert.match(err.message, /no shape in pool\.shapes covers n2-standard-2/);
    assert.equal(f.emulator.callsOf('insert').length, 0);
  });
});
