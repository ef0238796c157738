import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { ProviderError } from '../../src/core/errors.ts';
import {
  formatLabelsFlag,
  LOCAL_BOOT_TEMPLATE,
  renderAgentBootScript,
  renderBootScript,
  shellQuote,
  type AgentBootParams,
} from '../../src/providers/boot-script.ts';

/** What sh makes of `script`: its stdout. */
function runSh(script: string, env: NodeJS.ProcessEnv = { PATH: process.env.PATH }): string {
  return execFileSync('sh', ['-c', script], { env, encoding: 'utf8' });
}

describe('boot script', () => {
  const quoteCases = [
    { name: 'a plain word', value: 'abc', want: `'abc'` },
    { name: 'the empty string', value: '', want: `''` },
    { name: 'a single quote', value: `it's`, want: `'it'\\''s'` },
    { name: 'only quotes', value: `''`, want: `''\\'''\\'''` },
    { name: 'spaces and a variable', value: 'a $HOME b', want: `'a $HOME b'` },
  ];
  for (const c of quoteCases) {
    it(`quotes ${c.name}`, () => assert.equal(shellQuote(c.value), c.want));
  }

  const roundTrips = [
    { name: 'a variable', value: '$HOME' },
    { name: 'command substitution', value: '$(id) `id`' },
    { name: 'quotes of both kinds', value: `'"'"\\` },
    { name: 'a newline and a tab', value: 'a\nb\tc\n' },
    { name: 'globs and separators', value: '* ; && | > /tmp/x' },
    { name: 'unicode', value: 'zürich – 東京' },
    { name: 'a leading dash', value: '-n' },
  ];
  for (const c of roundTrips) {
    it(`reads back exactly through sh: ${c.name}`, () => {
      assert.equal(runSh(`printf '%s' ${shellQuote(c.value)}`), c.value);
    });
  }

  it('renders a list as one word per element and an empty list as nothing', () => {
    const script = renderBootScript('run {{argv}} {{flags}}end', { argv: ['a b', `c'd`], flags: [] });
    assert.equal(script, `run 'a b' 'c'\\''d' end`);
  });

  it('renders numbers quoted, and tolerates spaces inside the braces', () => {
    assert.equal(renderBootScript('sleep {{ delay }}', { delay: 0.5 }), `sleep '0.5'`);
  });

  it('expands in one pass: a value that looks like a placeholder stays literal', () => {
    assert.equal(renderBootScript('{{a}} {{b}}', { a: '{{b}}', b: 'x' }), `'{{b}}' 'x'`);
  });

  it('names an unknown placeholder', () => {
    assert.throws(
      () => renderBootScript('echo {{known}} {{missing}}', { known: 'x' }),
      (err: unknown) =>
        err instanceof ProviderError &&
        !err.retryable &&
        /\{\{missing\}\}/.test(err.message) &&
        /known: known/.test(err.message),
    );
  });

  it('formats labels for the --labels flag, keys sorted', () => {
    assert.equal(formatLabelsFlag({ zone: 'a', 'gpu.model': 'T4' }), 'gpu.model=T4,zone=a');
    assert.equal(formatLabelsFlag({}), '');
  });

  describe('the local template, run by sh', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'spillway-boot-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    /** An "agent" that prints what it got: argv, and the environment the script gave it. */
    const printer = [
      process.execPath,
      '-e',
      'process.stdout.write(JSON.stringify({ argv: process.argv.slice(1), token: process.env.SPILLWAY_TOKEN, caFile: process.env.SPILLWAY_CA_FILE ?? null }))',
      '--',
    ];

    function params(overrides: Partial<AgentBootParams> = {}): AgentBootParams {
      return {
        bootDelaySeconds: 0,
        caBundle: '',
        caFile: join(dir, 'ca.pem'),
        credential: `swb_x.y'$HOME`,
        agentCommand: printer,
        controllerUrl: 'http://127.0.0.1:7070',
        cpu: '2000m',
        memory: '4096Mi',
        netMbps: 1000,
        gpuFlags: [],
        labels: 'spillway.io/zone=local-a,team=ml',
        ...overrides,
      };
    }

    it('execs the agent with its flags and the credential in the environment only', () => {
      const script = renderAgentBootScript(params());
      const got = JSON.parse(runSh(script)) as { argv: string[]; token: string; caFile: string | null };
      assert.deepEqual(got.argv, [
        '--url',
        'http://127.0.0.1:7070',
        '--cpu',
        '2000m',
        '--memory',
        '4096Mi',
        '--net-mbps',
        '1000',
        '--labels',
        'spillway.io/zone=local-a,team=ml',
      ]);
      assert.equal(got.token, `swb_x.y'$HOME`);
      assert.equal(got.caFile, null);
    });

    it('adds the GPU flags when the offering has GPUs', () => {
      const got = JSON.parse(runSh(renderAgentBootScript(params({ gpuFlags: ['--gpus', '2'] })))) as { argv: string[] };
      assert.deepEqual(got.argv.slice(8, 10), ['--gpus', '2']);
    });

    it('writes a CA bundle to its file and exports SPILLWAY_CA_FILE', () => {
      const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
      const got = JSON.parse(runSh(renderAgentBootScript(params({ caBundle: pem })))) as { caFile: string };
      assert.equal(got.caFile, join(dir, 'ca.pem'));
      assert.equal(readFileSync(got.caFile, 'utf8'), `${pem}\n`);
    });

    it('uses only the placeholders AgentBootParams provides', () => {
      const names = [...LOCAL_BOOT_TEMPLATE.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]);
      assert.deepEqual([...new Set(names)].sort(), Object.keys(params()).sort());
    });
  });
});
