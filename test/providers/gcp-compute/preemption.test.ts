import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import {
  interruptionWatcherFor,
  watchGcePreemption,
  watchSpotInterruption,
  type SpotNotice,
} from '../../../src/agent/spot-watcher.ts';
import { silentLogger } from '../../../src/log/logger.ts';
import { agentOptionsFromFlags } from '../../../src/cli/agent-options.ts';
import { ValidationError } from '../../../src/core/errors.ts';
import { waitFor } from '../../helpers/wait.ts';
import { gceLaunchRequest, startGceFixture, type GceFixture } from './fixture.ts';

describe("GCE preemption: the agent's watch on the emulator's metadata server", () => {
  let fx: GceFixture | undefined;

  afterEach(async () => {
    await fx?.close();
    fx = undefined;
  });

  it('sees instance/preempted turn TRUE at once through wait_for_change, with Metadata-Flavor: Google', async () => {
    fx = await startGceFixture();
    const [launched] = await fx.provider.launch(await gceLaunchRequest(fx.provider, { lifecycle: 'spot' }));
    const instance = fx.emulator.instance(launched!.id)!;
    const notices: SpotNotice[] = [];
    const stop = new AbortController();
    const watching = watchGcePreemption({
      metadataUrl: fx.emulator.metadataUrl(instance),
      logger: silentLogger(),
      signal: stop.signal,
      pollIntervalMs: 50,
      onNotice: (n) => notices.push(n),
    });
    await waitFor('the watch to hang on wait_for_change', () =>
      fx!.emulator.metadata.requests.some(
        (r) => r.path === '/computeMetadata/v1/instance/preempted' && r.status === 200,
      ),
    );
    assert.equal(notices.length, 0, 'not preempted yet');
    fx.emulator.preempt(launched!.id);
    await watching;
    assert.equal(notices.length, 1);
    assert.equal(notices[0]!.action, 'preempt');
    const reads = fx.emulator.metadata.requests.filter((r) => r.path === '/computeMetadata/v1/instance/preempted');
    assert.ok(
      reads.some((r) => r.waited && r.status === 200),
      'the TRUE came to a hanging wait_for_change',
    );
    stop.abort();
  });

  it('refuses requests without Metadata-Flavor: Google, as GCE does', async () => {
    fx = await startGceFixture();
    const [launched] = await fx.provider.launch(await gceLaunchRequest(fx.provider, { lifecycle: 'spot' }));
    const url = `${fx.emulator.metadataUrl(fx.emulator.instance(launched!.id)!)}/computeMetadata/v1/instance/preempted`;
    assert.equal((await fetch(url)).status, 403);
    const ok = await fetch(url, { headers: { 'Metadata-Flavor': 'Google' } });
    assert.equal(await ok.text(), 'FALSE');
    assert.equal(ok.headers.get('metadata-flavor'), 'Google');
  });

  it('picks the watch by the agent provider label', () => {
    assert.equal(interruptionWatcherFor('gcp-compute:us-central1'), watchGcePreemption);
    assert.equal(interruptionWatcherFor('aws-ec2:us-east-1'), watchSpotInterruption);
    assert.equal(interruptionWatcherFor(undefined), watchSpotInterruption);
  });

  it('takes the metadata address from --metadata-url, naming the flag when it is not a URL', () => {
    const machine = { cpus: 2, totalMemoryBytes: 4 * 1024 ** 3 };
    const ctx = { env: { SPILLWAY_TOKEN: 'swb_x' }, cwd: process.cwd() };
    const flags = { url: 'http://c:1', metadataUrl: 'http://127.0.0.1:9/_gce_md/us-central1-a/x' };
    assert.equal(agentOptionsFromFlags(flags, ctx, machine).metadataUrl, flags.metadataUrl);
    assert.equal(agentOptionsFromFlags({ url: 'http://c:1' }, ctx, machine).metadataUrl, undefined);
    assert.throws(
      () => agentOptionsFromFlags({ ...flags, metadataUrl: 'metadata.google.internal' }, ctx, machine),
      (err: unknown) => err instanceof ValidationError && err.field === '--metadata-url',
    );
  });
});
