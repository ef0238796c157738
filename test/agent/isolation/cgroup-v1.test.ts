import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'mocha';
import { CgroupIsolation } from '../../../src/agent/isolation/cgroup-isolation.ts';
import { CgroupV1Driver } from '../../../src/agent/isolation/cgroup-v1.ts';
import { startTask, type TaskProcess } from '../../../src/agent/task-runner.ts';
import { resources, type Resources } from '../../../src/core/resources.ts';
import { isAlive } from '../../helpers/processes.ts';
import { waitFor } from '../../helpers/wait.ts';

const FIRST_UID = 64_100;
const LAST_UID = 64_109;
const PIDS_LIMIT = 64;
const driver = CgroupV1Driver.detect();
const runnable = process.getuid?.() === 0 && driver !== undefined;

/** The kernel's real cgroup v1 and uids: these machines (and CI) run as root on v1. */
(runnable ? describe : describe.skip)('cgroup v1 isolation', function () {
  this.timeout(60_000);
  let dir: string;
  let isolation: CgroupIsolation;
  const started: TaskProcess[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-iso-'));
    isolation = new CgroupIsolation({
      driver: driver!,
      uids: { first: FIRST_UID, last: LAST_UID },
      pidsLimit: PIDS_LIMIT,
      folderRoot: join(dir, 'tasks'),
      keepFolderMs: 0,
      leaseDir: join(dir, 'leases'),
      sharedTempDirs: [join(dir, 'shared-tmp')],
    });
    // Like /tmp: every uid writes, only the owner removes.
    mkdirSync(join(dir, 'shared-tmp'));
    chmodSync(join(dir, 'shared-tmp'), 0o1777);
    chmodSync(dir, 0o711);
  });

  after(() => {
    isolation.close();
    rmSync(dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    for (const task of started) void task.kill(0);
    await Promise.all(started.map((t) => t.done));
    started.length = 0;
  });

  const run = (taskId: string, command: readonly string[], want: Partial<Resources> = {}): TaskProcess => {
    const sandbox = isolation.prepare({
      taskId,
      resources: resources({ cpuMillis: 1_000, memoryMiB: 256, ...want }),
      env: { TASK_SPEC_VAR: 'from-spec' },
      gpuIndexes: [1, 3],
    });
    const task = startTask({ taskId, command, outputTailBytes: 8_192, sandbox });
    started.push(task);
    return task;
  };

  it('runs a task as a uid of the range in a fresh 0700 folder it owns, with only the documented environment', async () => {
    const exit = await run('t-who', ['/bin/sh', '-c', 'id -u; id -g; id -G; pwd; env | sort']).done;
    assert.equal(exit.exitCode, 0, exit.outputTail);
    const [uid, gid, groups, cwd, ...envLines] = exit.outputTail.trim().split('\n');
    assert.ok(Number(uid) >= FIRST_UID && Number(uid) <= LAST_UID, `uid ${uid}`);
    assert.equal(gid, uid);
    assert.equal(groups, uid, 'no supplementary group of root is kept');
    assert.match(cwd!, new RegExp(`^${join(dir, 'tasks')}/t-who\\.[0-9a-f]{8}$`));
    const env = Object.fromEntries(envLines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    delete env.PWD; // the shell adds it
    delete env.SHLVL;
    delete env._;
    assert.deepEqual(env, {
      TASK_SPEC_VAR: 'from-spec',
      SPILLWAY_TASK_ID: 't-who',
      HOME: cwd,
      PATH: '/usr/local/bin:/usr/bin:/bin',
      CUDA_VISIBLE_DEVICES: '1,3',
    });
    // keepFolderMs 0: the folder is gone once the task ended.
    assert.equal(existsSync(cwd!), false);
  });

  it('gives the folder mode 0700 and the task uid while it runs', async () => {
    const task = run('t-folder', ['/bin/sh', '-c', 'echo ready; sleep 30']);
    await waitFor('the task to start', () => task.outputTail().includes('ready'));
    const [name] = readdirSync(join(dir, 'tasks')).filter((n) => n.startsWith('t-folder.'));
    const st = statSync(join(dir, 'tasks', name!));
    assert.equal(st.mode & 0o777, 0o700);
    assert.ok(st.uid >= FIRST_UID && st.uid <= LAST_UID);
    assert.equal(statSync(join(dir, 'tasks')).mode & 0o777, 0o711);
  });

  it('starts the command inside its cgroup in every hierarchy', async () => {
    const exit = await run('t-cgroup', ['/bin/sh', '-c', 'id -u; cat /proc/self/cgroup']).done;
    const [uid, ...lines] = exit.outputTail.trim().split('\n');
    for (const controller of ['memory', 'pids', 'freezer', 'cpu', 'cpuacct']) {
      const line = lines.find((l) => l.split(':')[1]!.split(',').includes(controller));
      assert.match(line ?? '', new RegExp(`/spillway-task-${uid}$`), controller);
    }
  });

  it("cannot read the agent's environment", async () => {
    const exit = await run('t-environ', ['/bin/sh', '-c', `cat /proc/${process.pid}/environ; echo "rc=$?"`]).done;
    assert.match(exit.outputTail, /Permission denied/);
    assert.match(exit.outputTail, /rc=1/);
  });

  it('ends a task that passes its memory limit with the out-of-memory reason', async () => {
    const exit = await run(
      't-oom',
      ['/usr/bin/python3', '-c', 'b = bytearray(1 << 30); print("allocated", len(b))'],
      { memoryMiB: 64 },
    ).done;
    assert.notEqual(exit.exitCode, 0);
    assert.doesNotMatch(exit.outputTail, /allocated/);
    assert.equal(exit.reason, 'out of memory: exceeded its 64Mi limit');
    assert.ok(exit.usage.peakMemoryBytes <= 64 * 1_048_576 && exit.usage.peakMemoryBytes > 32 * 1_048_576);
  });

  it('gives no reason to a task that stayed within its memory', async () => {
    const exit = await run('t-small', ['/usr/bin/python3', '-c', 'b = bytearray(8 << 20); print(len(b))']).done;
    assert.equal(exit.exitCode, 0, exit.outputTail);
    assert.equal(exit.reason, undefined);
  });

  it('stops a fork bomb at the pids limit', async () => {
    const bomb = [
      'import os, time',
      'n = 0',
      'while n < 1000:',
      '    try:',
      '        pid = os.fork()',
      '    except OSError as e:',
      '        print("refused", e.errno, flush=True)',
      '        break',
      '    if pid == 0:',
      '        time.sleep(30)',
      '        os._exit(0)',
      '    n += 1',
      'print("forked", n, flush=True)',
    ].join('\n');
    const exit = await run('t-bomb', ['/usr/bin/python3', '-c', bomb]).done;
    assert.match(exit.outputTail, /refused 11\n/, 'EAGAIN at the limit');
    const running = Number(/forked (\d+)/.exec(exit.outputTail)?.[1]);
    // The forking process itself is one of the limit's processes.
    assert.equal(running, PIDS_LIMIT - 1, exit.outputTail);
  });

  it('kills a double-forked, setsid process when the task is killed', async () => {
    const task = run('t-escape', [
      '/bin/sh',
      '-c',
      // The escaped sleep ignores SIGTERM (inherited): only the cgroup-wide SIGKILL ends it.
      '(setsid sh -c \'trap "" TERM; sleep 1000 & echo "escaped $!"\' &) ; sleep 1000',
    ]);
    const pid = Number(
      (await waitFor('the escaped pid', () => /escaped (\d+)/.exec(task.outputTail()) ?? undefined))[1],
    );
    assert.ok(isAlive(pid));
    await task.kill(50);
    await waitFor('the escaped sleep to die', () => !isAlive(pid), { timeoutMs: 5_000 });
  });

  it("cannot signal another task's process", async () => {
    const victim = run('t-victim', ['/bin/sh', '-c', 'sleep 30 & echo "pid $!"; wait']);
    const pid = Number((await waitFor('the victim pid', () => /pid (\d+)/.exec(victim.outputTail()) ?? undefined))[1]);
    const exit = await run('t-attacker', ['/bin/sh', '-c', `kill -9 ${pid}; echo "rc=$?"`]).done;
    assert.match(exit.outputTail, /Operation not permitted/);
    assert.match(exit.outputTail, /rc=1/);
    assert.ok(isAlive(pid));
  });

  it('measures the CPU time of a busy loop', async () => {
    const exit = await run('t-busy', [
      '/usr/bin/python3',
      '-c',
      'import time\nend = time.process_time() + 1.0\nwhile time.process_time() < end: pass',
    ]).done;
    assert.equal(exit.exitCode, 0, exit.outputTail);
    assert.ok(Math.abs(exit.usage.cpuSeconds - 1.0) < 0.2, `cpuSeconds ${exit.usage.cpuSeconds}`);
  });

  it("clears what a task left in the machine's shared folders before its uid goes to another task", async () => {
    const shared = join(dir, 'shared-tmp');
    writeFileSync(join(shared, 'of-root'), 'stays');
    const script = `id -u; echo secret > ${shared}/result; mkdir ${shared}/cache && echo x > ${shared}/cache/blob`;
    const exit = await run('t-leftovers', ['/bin/sh', '-c', script]).done;
    assert.equal(exit.exitCode, 0, exit.outputTail);
    assert.ok(Number(exit.outputTail.trim()) >= FIRST_UID);
    assert.deepEqual(readdirSync(shared), ['of-root']);
  });
});
