import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import { NoIsolation } from '../../src/agent/isolation/no-isolation.ts';
import { startTask, type TaskProcess } from '../../src/agent/task-runner.ts';
import { resources } from '../../src/core/resources.ts';
import { isAlive, killAll } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

const node = process.execPath;

describe('task runner', () => {
  const started: TaskProcess[] = [];
  const run = (command: readonly string[], outputTailBytes = 8192, env?: NodeJS.ProcessEnv): TaskProcess => {
    const sandbox = new NoIsolation(env).prepare({ taskId: 't-runner', resources: resources(), env: {}, gpuIndexes: [] });
    const task = startTask({ taskId: 't-runner', command, outputTailBytes, sandbox });
    started.push(task);
    return task;
  };

  afterEach(async () => {
    const pids = started.flatMap((t) => (t.pid === undefined ? [] : [t.pid]));
    killAll(pids);
    await Promise.all(started.map((t) => t.done));
    started.length = 0;
    assert.deepEqual(pids.filter(isAlive), [], 'task processes outlived the test');
  });

  it('runs argv without a shell, so shell syntax stays literal', async () => {
    const exit = await run([
      node,
      '-e',
      'process.stdout.write(JSON.stringify(process.argv.slice(1)))',
      '$HOME',
      'a b',
      '*',
      '`id`',
    ]).done;
    assert.equal(exit.exitCode, 0);
    assert.deepEqual(JSON.parse(exit.outputTail), ['$HOME', 'a b', '*', '`id`']);
  });

  it('gives the task its id and none of the agent credentials', async () => {
    const env = { ...process.env, SPILLWAY_TOKEN: 'swb_secret', SPILLWAY_BOOT_SCRIPT: 'x' };
    const code =
      'process.stdout.write(JSON.stringify([process.env.SPILLWAY_TASK_ID, process.env.SPILLWAY_TOKEN ?? null, process.env.SPILLWAY_BOOT_SCRIPT ?? null]))';
    const exit = await run([node, '-e', code], 8192, env).done;
    assert.deepEqual(JSON.parse(exit.outputTail), ['t-runner', null, null]);
  });

  const exitCases = [
    { name: 'a clean exit is 0', command: [node, '-e', ''], want: 0 },
    { name: 'a failing exit keeps its code', command: [node, '-e', 'process.exit(3)'], want: 3 },
    {
      name: 'a signal exit is 128 + the signal number',
      command: [node, '-e', 'process.kill(process.pid, "SIGKILL")'],
      want: 137,
    },
    { name: 'a command that does not exist is 127', command: ['spillway-no-such-command'], want: 127 },
    { name: 'an empty command is 127', command: [], want: 127 },
  ];
  for (const c of exitCases) {
    it(`reports exit codes: ${c.name}`, async () => {
      const exit = await run(c.command).done;
      assert.equal(exit.exitCode, c.want);
    });
  }

  it('puts the reason a command could not start in its output', async () => {
    const exit = await run(['spillway-no-such-command', 'arg']).done;
    assert.match(exit.outputTail, /ENOENT/);
  });

  it('keeps only the tail of combined stdout and stderr', async () => {
    const code = 'process.stdout.write("x".repeat(5000)); process.stderr.write("END")';
    const exit = await run([node, '-e', code], 100).done;
    assert.equal(exit.outputTail.length, 100);
    assert.ok(exit.outputTail.endsWith('xEND'), exit.outputTail);
  });

  it('kills the whole process group, with SIGKILL for a process that ignores SIGTERM', async () => {
    // The task starts a grandchild in its group and ignores SIGTERM itself.
    const code = [
      'const c = require("node:child_process").spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });',
      'process.on("SIGTERM", () => {});',
      'console.log(c.pid);',
      'setInterval(() => {}, 1000);',
    ].join(' ');
    const task = run([node, '-e', code]);
    const grandchild = await waitFor('the grandchild pid', () => Number(task.outputTail().trim()) || undefined, {
      timeoutMs: 10_000,
    });
    const exit = await task.kill(200);
    assert.equal(exit.exitCode, 137);
    await waitFor('the grandchild to die', () => !isAlive(grandchild), { timeoutMs: 5_000 });
  });

  it('kills what a task left behind in its group when the task exits', async () => {
    const code =
      'const c = require("node:child_process").spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" }); console.log(c.pid); c.unref();';
    const exit = await run([node, '-e', code]).done;
    assert.equal(exit.exitCode, 0);
    const leftover = Number(exit.outputTail.trim());
    assert.ok(leftover > 0);
    await waitFor('the leftover to die', () => !isAlive(leftover), { timeoutMs: 5_000 });
  });
});
