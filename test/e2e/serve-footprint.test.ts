import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'mocha';

const CHILD = fileURLToPath(new URL('./serve-footprint-child.ts', import.meta.url));

/**
 * serve loads a cloud's SDK only when a provider of that cloud is configured, and of GCE's only the clients it calls
 * (issue 13's peak RSS: the whole GCE package keeps about 250 MiB resident). A fresh process, so that no other test
 * has loaded the SDKs already.
 */
describe('serve: cloud SDKs only for the clouds configured', () => {
  it('a local-cloud serve resolves no module of the EC2 or GCE SDK; loading the adapters does', async function () {
    this.timeout(120_000);
    const { stdout } = await promisify(execFile)(process.execPath, [CHILD], {
      env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true', METADATA_SERVER_DETECTION: 'none' },
      timeout: 110_000,
    });
    const { served, afterAdapters } = JSON.parse(stdout) as { served: string[]; afterAdapters: string[] };
    assert.deepEqual(served, []);
    // The check itself sees both SDKs once something loads them.
    assert.ok(afterAdapters.some((url) => url.includes('/@google-cloud/compute/')), 'the GCE SDK seen');
    assert.ok(afterAdapters.some((url) => url.includes('/@aws-sdk/client-ec2/')), 'the EC2 SDK seen');
    // The GCE adapter loads the two clients it calls, not the package's index with every client and compiled proto.
    assert.ok(afterAdapters.some((url) => url.endsWith('/@google-cloud/compute/build/src/v1/instances_client.js')));
    assert.deepEqual(
      afterAdapters.filter((url) => /\/@google-cloud\/compute\/build\/(src\/index|protos\/protos)\.js$/.test(url)),
      [],
    );
  });
});
