import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { isAlive, killAll } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';
import { FakeController } from './fixtures/fake-controller.ts';

const AGENT_MAIN = fileURLToPath(new URL('./fixtures/agent-process.ts', import.meta.url));
const node = process.execPath;
// System binaries only: as root the agent runs tasks as an unprivileged uid, which may not reach this Node.
/** Prints its pid and runs until killed. */
const POLITE_TASK = ['/bin/sh', '-c', 'echo $$; exec sleep 1000'];
/** The same, ignoring SIGTERM (the ignored disposition survives the exec). */
const STUBBORN_TASK = ['/bin/sh', '-c', "trap '' TERM; echo $$; exec sleep 1000"];

describe('agent process', function () {
  this.timeout(30_000);
  let controller: FakeController;
  let pids: number[];
  /** The agent's log, for failure messages. */
  let stderr = '';

  beforeEach(async () => {
    controller = await FakeController.start();
    pids = [];
  });

  afterEach(async () => {
    const alive = pids.filter(isAlive);
    killAll(alive);
    await controller.close();
    assert.deepEqual(alive, [], 'processes outlived the test');
  });

  function spawnAgent(drainTimeoutMs: number): ChildProcess {
    const agent = spawn(node, [AGENT_MAIN], {
      env: {
        PATH: process.env.PATH,
        FIXTURE_URL: controller.url,
        FIXTURE_DRAIN_TIMEOUT_MS: String(drainTimeoutMs),
        SPILLWAY_TOKEN: controller.registrationToken,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    stderr = '';
    agent.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    if (agent.pid !== undefined) pids.push(agent.pid);
    return agent;
  }

  async function taskPid(taskId: string): Promise<number> {
    const pid = await waitFor(`the pid of ${taskId}`, () => {
      const output = controller.reportsFor(taskId).find((r) => r.body.kind === 'output');
      return output ? Number(output.body.outputTail.trim()) || undefined : undefined;
    });
    pids.push(pid);
    return pid;
  }

  it('takes its tasks with it when its process ends abruptly, so none runs on unowned', async () => {
    const child = spawnAgent(30_000);
    const exited = once(child, 'exit');
    controller.assign({
      id: 't-orphan',
      command: STUBBORN_TASK,
      resources: { cpuMillis: 1, memoryMiB: 64, gpus: 0, netMbps: 0 },
    });
    const task = await taskPid('t-orphan');
    child.kill('SIGUSR2');
    const [code] = (await exited) as [number | null];
    assert.equal(code, 3, stderr);
    await waitFor('the task to be gone with its agent', () => !isAlive(task), { timeoutMs: 5_000 });
  });

  it('on SIGTERM hands back its tasks, kills them (even one that ignores SIGTERM), leaves and exits 0', async () => {
    const child = spawnAgent(300);
    const exited = once(child, 'exit');
    controller.assign({
      id: 't-polite',
      command: POLITE_TASK,
      resources: { cpuMillis: 1, memoryMiB: 64, gpus: 0, netMbps: 0 },
    });
    controller.assign({
      id: 't-stubborn',
      command: STUBBORN_TASK,
      resources: { cpuMillis: 1, memoryMiB: 64, gpus: 0, netMbps: 0 },
    });
    const polite = await taskPid('t-polite');
    const stubborn = await taskPid('t-stubborn');

    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0, stderr);
    assert.equal(isAlive(polite), false);
    assert.equal(isAlive(stubborn), false);
    assert.equal(controller.finalReport('t-polite')?.kind, 'handback');
    assert.equal(controller.finalReport('t-stubborn')?.kind, 'handback');
    assert.deepEqual(controller.leaves, [{ reason: 'received SIGTERM' }]);
  });

  it('exits 1 when the controller no longer accepts it, killing its task', async () => {
    const child = spawnAgent(30_000);
    const exited = once(child, 'exit');
    controller.assign({
      id: 't-orphan',
      command: POLITE_TASK,
      resources: { cpuMillis: 1, memoryMiB: 64, gpus: 0, netMbps: 0 },
    });
    const pid = await taskPid('t-orphan');
    controller.heartbeatStatus = 404;
    const [code] = (await exited) as [number | null];
    assert.equal(code, 1, stderr);
    assert.equal(isAlive(pid), false);
  });
});
