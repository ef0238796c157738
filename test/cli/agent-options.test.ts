import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { agentOptionsFromFlags, DEFAULT_AGENT_NET_MBPS, type AgentFlags } from '../../src/cli/agent-options.ts';
import { ValidationError } from '../../src/core/errors.ts';
import { tempDir } from './helpers/cli-process.ts';

const machine = { cpus: 8, totalMemoryBytes: 16 * 1024 * 1024 * 1024 };

describe('cli agent flags -> agent options', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir('spillway-cli-agent-');
  });
  afterEach(() => dir.remove());

  const settings = (flags: AgentFlags, env: Record<string, string> = { SPILLWAY_TOKEN: 'swt_env' }) =>
    agentOptionsFromFlags(flags, { env, cwd: dir.path }, machine);

  it('offers every CPU and 80% of the memory by default', () => {
    const s = settings({ url: 'http://c:7070' });
    assert.deepEqual(s.capacity, {
      cpuMillis: 8000,
      memoryMiB: Math.floor(16 * 1024 * 0.8),
      gpus: 0,
      netMbps: DEFAULT_AGENT_NET_MBPS,
    });
    assert.deepEqual(s.labels, {});
    assert.equal(s.token, 'swt_env');
    assert.equal(s.name, undefined);
  });

  it('takes every controller of a cluster, comma-separated, in order; one URL stays a string', () => {
    assert.deepEqual(settings({ url: 'http://a:7070, https://b:7443/' }).url, ['http://a:7070', 'https://b:7443/']);
    assert.deepEqual(settings({}, { SPILLWAY_TOKEN: 't', SPILLWAY_URL: 'http://a:1,http://b:1' }).url, ['http://a:1', 'http://b:1']);
    assert.equal(settings({ url: ' http://a:7070 ' }).url, 'http://a:7070');
  });

  it('takes the capacity, labels, name, site and drain timeout from flags', () => {
    const s = settings({
      url: 'http://c:7070',
      cpu: '2000m',
      memory: '4096Mi',
      gpus: '1',
      netMbps: '500',
      labels: 'rack=3,gpu.model=T4',
      name: 'box-1',
      site: 'lab',
      drainTimeoutMs: '2500',
    });
    assert.deepEqual(s.capacity, { cpuMillis: 2000, memoryMiB: 4096, gpus: 1, netMbps: 500 });
    assert.deepEqual(s.labels, { rack: '3', 'gpu.model': 'T4' });
    assert.deepEqual([s.name, s.site, s.drainTimeoutMs], ['box-1', 'lab', 2500]);
  });

  it('takes the URL from SPILLWAY_URL and the instance id from SPILLWAY_INSTANCE_ID', () => {
    const s = settings({}, { SPILLWAY_URL: 'https://c:7443', SPILLWAY_TOKEN: 'swb_x', SPILLWAY_INSTANCE_ID: 'i-123' });
    assert.deepEqual([s.url, s.instanceId], ['https://c:7443', 'i-123']);
  });

  it('reads the credential from --token-file before SPILLWAY_TOKEN, trimmed', () => {
    writeFileSync(join(dir.path, 'agent.token'), 'swt_file\n');
    assert.equal(settings({ url: 'http://c:1', tokenFile: 'agent.token' }).token, 'swt_file');
  });

  it('reads the CA bundle from --ca-file or SPILLWAY_CA_FILE', () => {
    writeFileSync(join(dir.path, 'ca.pem'), 'PEM');
    assert.equal(settings({ url: 'https://c:1', caFile: 'ca.pem' }).ca, 'PEM');
    assert.equal(settings({ url: 'https://c:1' }, { SPILLWAY_TOKEN: 't', SPILLWAY_CA_FILE: 'ca.pem' }).ca, 'PEM');
  });

  const refused: { name: string; flags: AgentFlags; env?: Record<string, string>; field: string; fragment: string }[] =
    [
      {
        name: 'a --token flag, without echoing it',
        flags: { url: 'http://c:1', token: 'swt_secret' },
        field: '--token',
        fragment: 'SPILLWAY_TOKEN',
      },
      {
        name: 'no credential at all',
        flags: { url: 'http://c:1' },
        env: {},
        field: 'SPILLWAY_TOKEN',
        fragment: '--token-file',
      },
      {
        name: 'a token file that is missing',
        flags: { url: 'http://c:1', tokenFile: 'nope' },
        field: '--token-file',
        fragment: '"nope"',
      },
      { name: 'no URL', flags: {}, field: '--url', fragment: 'SPILLWAY_URL' },
      { name: 'a URL without a scheme', flags: { url: 'c:7070' }, field: '--url', fragment: '"c:7070"' },
      { name: 'an empty URL in a list', flags: { url: 'http://a:1,,http://b:1' }, field: '--url', fragment: '""' },
      { name: 'a bad URL in a list', flags: { url: 'http://a:1, b:1' }, field: '--url', fragment: '"b:1"' },
      { name: 'zero CPU', flags: { url: 'http://c:1', cpu: '0' }, field: '--cpu', fragment: '"0"' },
      {
        name: 'memory it cannot read',
        flags: { url: 'http://c:1', memory: 'much' },
        field: '--memory',
        fragment: '"much"',
      },
      {
        name: 'labels without values',
        flags: { url: 'http://c:1', labels: 'rack' },
        field: '--labels',
        fragment: '"rack"',
      },
      {
        name: 'a negative drain timeout',
        flags: { url: 'http://c:1', drainTimeoutMs: '-1' },
        field: '--drain-timeout-ms',
        fragment: '"-1"',
      },
    ];
  for (const c of refused) {
    it(`refuses ${c.name}, naming the flag`, () => {
      assert.throws(
        () => settings(c.flags, c.env),
        (err: unknown) => {
          assert.ok(err instanceof ValidationError, String(err));
          assert.equal(err.field, c.field);
          assert.ok(err.message.includes(c.fragment), err.message);
          assert.ok(!err.message.includes('swt_secret'), 'the message must not repeat a secret');
          return true;
        },
      );
    });
  }
});
