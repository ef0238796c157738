import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { after, before, describe, it } from 'mocha';
import { buildProgram } from '../../src/cli/program.ts';
import { killRunningClis, runCliProcess, tempDir } from './helpers/cli-process.ts';

/** Every command path of the program (`['tasks', 'show']`), found by walking the real command tree. */
function commandPaths(): string[][] {
  const sink = { write: () => true };
  const program = buildProgram({
    ctx: { stdout: sink, stderr: sink, env: {}, cwd: '/' },
    setExitCode: () => undefined,
  });
  const paths: { path: string[]; cmd: Command }[] = [];
  const walk = (cmd: Command, prefix: string[]): void => {
    for (const sub of cmd.commands) {
      if (sub.name() === 'help') continue;
      const path = [...prefix, sub.name()];
      paths.push({ path, cmd: sub });
      walk(sub, path);
    }
  };
  walk(program, []);
  return paths.map((p) => p.path);
}

function longFlags(path: readonly string[]): string[] {
  const sink = { write: () => true };
  let cmd: Command = buildProgram({
    ctx: { stdout: sink, stderr: sink, env: {}, cwd: '/' },
    setExitCode: () => undefined,
  });
  for (const name of path) {
    const sub = cmd.commands.find((c) => c.name() === name);
    assert.ok(sub, `no command ${path.join(' ')}`);
    cmd = sub;
  }
  // Hidden options (the agent's refused --token) are deliberately left out of help.
  return cmd.options.filter((o) => !o.hidden && o.long).map((o) => o.long as string);
}

describe('cli --help (child process)', function () {
  this.timeout(30_000);
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('spillway-cli-help-');
  });
  after(() => {
    killRunningClis();
    dir.remove();
  });

  it('has every command the design names for this release', () => {
    assert.deepEqual(
      commandPaths()
        .map((p) => p.join(' '))
        .sort(),
      [
        'agent',
        'agents',
        'budget',
        'budget alerts',
        'budget delete',
        'budget forecast',
        'budget list',
        'budget set',
        'config',
        'config from-pulumi',
        'console',
        'decisions',
        'pause',
        'policy',
        'policy apply',
        'policy get',
        'policy set',
        'providers',
        'providers retry',
        'report',
        'report chargeback',
        'resume',
        'run',
        'serve',
        'simulate',
        'status',
        'submit',
        'tasks',
        'tasks cancel',
        'tasks show',
        'token',
        'token create',
        'token list',
        'token revoke',
      ],
    );
  });

  it('prints the program help with its commands and examples', async () => {
    const result = await runCliProcess(['--help'], { cwd: dir.path });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Examples:$/m);
    for (const path of commandPaths().filter((p) => p.length === 1))
      assert.match(result.stdout, new RegExp(`^  ${path[0]}\\b`, 'm'));
  });

  for (const path of commandPaths()) {
    it(`prints the flags and an example for \`spillway ${path.join(' ')} --help\` and exits 0`, async () => {
      const result = await runCliProcess([...path, '--help'], { cwd: dir.path });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`^Usage: spillway ${path.join(' ')}`, 'm'));
      assert.match(result.stdout, /^Examples:\n {2}\$ .*spillway /m);
      for (const flag of longFlags(path))
        assert.ok(result.stdout.includes(flag), `${flag} missing from:\n${result.stdout}`);
    });
  }

  it('runs through the package bin, printing the package version', async () => {
    const bin = fileURLToPath(new URL('../../bin/spillway.js', import.meta.url));
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const result = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
      execFile(process.execPath, [bin, '--version'], { cwd: dir.path, timeout: 20_000 }, (err, stdout) =>
        err ? reject(err) : resolve({ code: 0, stdout }),
      );
    });
    assert.equal(result.stdout.trim(), pkg.version);
  });

  it('explains in the agent help why it has no --token flag', async () => {
    const result = await runCliProcess(['agent', '--help'], { cwd: dir.path });
    assert.match(result.stdout, /never from a --token flag/);
    assert.doesNotMatch(result.stdout, /^\s+--token </m);
  });
});
