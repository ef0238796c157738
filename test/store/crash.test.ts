import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'mocha';
import { add, ZERO } from '../../src/core/resources.ts';
import type { Store } from '../../src/store/store.ts';
import { TempStores, seededRandom } from './helpers.ts';

const WORKER = fileURLToPath(new URL('./fixtures/crash-worker.ts', import.meta.url));
const KILLS = 10;
/** The most committed steps a round lets the worker report before it is killed. */
const MAX_STEPS = 400;
/** The longest a kill lags the progress line that triggers it. */
const MAX_KILL_DELAY_MS = 20;
/** How long a round may go without a progress line before the test gives up on the worker. */
const STALL_MS = 30_000;

interface Killed {
  readonly steps: number;
  /** The newest task the worker reported committed before it died. */
  readonly lastTaskId: string;
}

describe('sqlite store: crash safety', function () {
  this.timeout(KILLS * 2 * STALL_MS);
  let temp: TempStores;
  const children = new Set<ChildProcess>();

  before(() => {
    temp = new TempStores();
  });
  after(() => {
    for (const child of children) child.kill('SIGKILL');
    temp.cleanup();
  });

  /**
   * Runs the worker until it has reported `steps` committed steps, then kills it with SIGKILL `delayMs` later: the
   * delay moves the kill off the instant the worker reports, to anywhere inside the transactions that follow.
   */
  function runUntilKilled(seed: number, steps: number, delayMs: number): Promise<Killed> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [WORKER, temp.path, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      let buffered = '';
      let stderr = '';
      let last: Killed = { steps: 0, lastTaskId: '-' };
      let killed = false;
      let stall = setTimeout(onStall, STALL_MS);
      function onStall(): void {
        child.kill('SIGKILL');
        reject(new Error(`running the crash worker: no progress for ${STALL_MS} ms; stderr:\n${stderr}`));
      }
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) {
          const [n, taskId] = line.split(' ');
          last = { steps: Number(n), lastTaskId: taskId ?? '-' };
        }
        clearTimeout(stall);
        stall = setTimeout(onStall, STALL_MS);
        if (!killed && last.steps >= steps) {
          killed = true;
          setTimeout(() => child.kill('SIGKILL'), delayMs);
        }
      });
      child.on('exit', (code, signal) => {
        clearTimeout(stall);
        children.delete(child);
        if (signal === 'SIGKILL' && killed) resolve(last);
        else reject(new Error(`running the crash worker: it exited with ${signal ?? code}; stderr:\n${stderr}`));
      });
    });
  }

  function checkFile(path: string): void {
    const db = new DatabaseSync(path);
    try {
      assert.deepEqual(
        db
          .prepare('PRAGMA integrity_check')
          .all()
          .map((row) => row['integrity_check']),
        ['ok'],
      );
      assert.deepEqual(db.prepare('PRAGMA foreign_key_check').all(), []);
    } finally {
      db.close();
    }
  }

  function checkInvariants(store: Store, killed: Killed): void {
    const agents = new Map(store.agents.list().map((a) => [a.id, a]));
    const tasks = store.tasks.list();

    const allocated = new Map<string, typeof ZERO>();
    for (const task of tasks) {
      if (task.state === 'pending') assert.equal(task.agentId, null, `pending task ${task.id} has an agent`);
      if (task.state !== 'placed' && task.state !== 'running') continue;
      const agent = agents.get(task.agentId ?? '');
      assert.ok(agent, `${task.state} task ${task.id} names agent ${task.agentId}, which does not exist`);
      assert.ok(
        agent.state === 'registered' || agent.state === 'draining',
        `${task.state} task ${task.id} is on agent ${agent.id}, which is ${agent.state}`,
      );
      allocated.set(agent.id, add(allocated.get(agent.id) ?? ZERO, task.resources));
    }
    for (const agent of agents.values()) {
      const busy = allocated.has(agent.id);
      assert.deepEqual(agent.allocated, allocated.get(agent.id) ?? ZERO, `allocation of agent ${agent.id}`);
      assert.equal(
        agent.idleSinceMs === null,
        busy,
        `agent ${agent.id} is ${busy ? 'busy' : 'free'}, idle since ${agent.idleSinceMs}`,
      );
    }

    const batches = new Map<string, number>();
    for (const task of tasks) batches.set(task.owner.job, (batches.get(task.owner.job) ?? 0) + 1);
    for (const [job, count] of batches) {
      assert.equal(count, Number(job.split('/')[1]), `batch ${job} was inserted in part`);
    }

    const counts = Object.values(store.tasks.countByState()).reduce((sum, n) => sum + n, 0);
    assert.equal(counts, tasks.length, 'per-state counts do not sum to the number of tasks');

    for (const intent of store.intents.launches(0)) {
      const instances = [...agents.values()].filter((a) => a.intentId === intent.id).map((a) => a.instanceId);
      assert.equal(new Set(intent.instanceIds).size, intent.instanceIds.length, `intent ${intent.id} repeats an id`);
      assert.deepEqual(instances.sort(), [...intent.instanceIds].sort(), `agents of launch intent ${intent.id}`);
    }

    for (const token of store.tokens.list()) {
      const agent = agents.get(token.agentId ?? '');
      if (agent?.state === 'terminated' || agent?.state === 'lost') {
        assert.notEqual(token.revokedAtMs, null, `token ${token.id} of ${agent.state} agent ${agent.id} is live`);
      }
    }

    if (killed.lastTaskId !== '-') {
      assert.ok(store.tasks.get(killed.lastTaskId), `committed task ${killed.lastTaskId} was lost`);
    }
  }

  it('opens consistent after its writer is killed with SIGKILL at random instants', async () => {
    const seed = Number(process.env['SPILLWAY_CRASH_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
    console.log(
      `      crash seed ${seed} (SPILLWAY_CRASH_SEED=${seed} repeats the workers' choice of steps; kill timing still varies)`,
    );
    const random = seededRandom(seed);
    let totalSteps = 0;
    for (let round = 0; round < KILLS; round++) {
      const killed = await runUntilKilled(
        Math.floor(random() * 2 ** 31),
        1 + Math.floor(random() * MAX_STEPS),
        random() * MAX_KILL_DELAY_MS,
      );
      totalSteps += killed.steps;
      checkFile(temp.path);
      const store = temp.open();
      try {
        checkInvariants(store, killed);
      } finally {
        store.close();
      }
    }
    const store = temp.open();
    assert.ok(store.tasks.list().length > 0, 'the worker never inserted a task');
    assert.ok(totalSteps >= KILLS);
  });
});
