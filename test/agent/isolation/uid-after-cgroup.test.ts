import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'mocha';
import { CgroupIsolation } from '../../../src/agent/isolation/cgroup-isolation.ts';
import { CgroupV1Driver } from '../../../src/agent/isolation/cgroup-v1.ts';
import { IsolationError } from '../../../src/agent/isolation/isolation-error.ts';
import type { TaskSandbox } from '../../../src/agent/isolation/isolation.ts';
import type { CgroupDriver, TaskCgroup } from '../../../src/agent/isolation/task-cgroup.ts';
import { resources } from '../../../src/core/resources.ts';
import { waitFor } from '../../helpers/wait.ts';

const FIRST_UID = 64_120;
const LAST_UID = 64_121;
const realDriver = CgroupV1Driver.detect();
const runnable = process.getuid?.() === 0 && realDriver !== undefined;

/**
 * The kernel's cgroup v1 driver, with each cgroup's removal held until the test lets it run: what happens when a
 * task's processes are slow to exit and the background removal is still retrying.
 */
class HeldRemovals implements CgroupDriver {
  readonly mode: CgroupDriver['mode'];
  readonly held = new Map<string, () => void>();
  readonly #driver: CgroupDriver;

  constructor(driver: CgroupDriver) {
    this.#driver = driver;
    this.mode = driver.mode;
  }

  create(name: string, want: Parameters<CgroupDriver['create']>[1], pidsLimit: number): TaskCgroup {
    const cgroup = this.#driver.create(name, want, pidsLimit);
    const held = this.held;
    return {
      attach: (pid) => cgroup.attach(pid),
      delegateAttach: (uid) => cgroup.delegateAttach(uid),
      pids: () => cgroup.pids(),
      usage: () => cgroup.usage(),
      oomKills: () => cgroup.oomKills(),
      killEverything: () => cgroup.killEverything(),
      remove(removed) {
        held.set(name, () => cgroup.remove(removed));
      },
    };
  }

  /** Lets the held removal of `name` run (the real one, which calls back once the folders are gone). */
  letRemove(name: string): void {
    const remove = this.held.get(name);
    assert.ok(remove, `no removal of ${name} is held`);
    this.held.delete(name);
    remove();
  }
}

(runnable ? describe : describe.skip)('a task uid and its cgroup (cgroup v1)', function () {
  this.timeout(30_000);
  let dir: string;
  let driver: HeldRemovals;
  let isolation: CgroupIsolation;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-uid-cgroup-'));
    mkdirSync(join(dir, 'shared-tmp'));
    chmodSync(join(dir, 'shared-tmp'), 0o1777);
    chmodSync(dir, 0o711);
    driver = new HeldRemovals(realDriver!);
    isolation = new CgroupIsolation({
      driver,
      uids: { first: FIRST_UID, last: LAST_UID },
      pidsLimit: 16,
      folderRoot: join(dir, 'tasks'),
      keepFolderMs: 0,
      leaseDir: join(dir, 'leases'),
      sharedTempDirs: [join(dir, 'shared-tmp')],
    });
  });

  after(() => {
    for (const name of [...driver.held.keys()]) driver.letRemove(name);
    isolation.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const prepare = (taskId: string): TaskSandbox =>
    isolation.prepare({ taskId, resources: resources({ cpuMillis: 100, memoryMiB: 64 }), env: {}, gpuIndexes: [] });

  it('leases a uid again only once the cgroup named after it is removed', async () => {
    const first = prepare('t-first');
    const second = prepare('t-second');
    const uids = [first.spawn.uid, second.spawn.uid];
    assert.deepEqual([...uids].sort(), [FIRST_UID, LAST_UID], 'the two tasks hold the two uids of the range');

    first.release();
    second.release();
    assert.deepEqual([...driver.held.keys()].sort(), uids.map((u) => `spillway-task-${u}`).sort());
    // Both removals are still pending: neither uid may be handed out, or its new cgroup would be removed under it.
    assert.throws(
      () => prepare('t-third'),
      (err: unknown) => err instanceof IsolationError && err.retryable,
    );

    const freed = first.spawn.uid;
    const cgroupDirs = first.spawn.selfAttach.map((procs) => dirname(procs));
    assert.ok(cgroupDirs.length > 0 && cgroupDirs.every((d) => existsSync(d)), 'the held cgroup is still there');
    driver.letRemove(`spillway-task-${freed}`);
    await waitFor('the released cgroup removed', () => cgroupDirs.every((d) => !existsSync(d)));
    let third: TaskSandbox | undefined;
    await waitFor('the first uid leased again', () => {
      try {
        third = prepare('t-third');
        return true;
      } catch (err) {
        if (err instanceof IsolationError && err.retryable) return false;
        throw err;
      }
    });
    assert.equal(third!.spawn.uid, freed, 'the uid whose cgroup is gone, not the one still held');
    assert.deepEqual(
      third!.spawn.selfAttach.map((procs) => dirname(procs)),
      cgroupDirs,
      'the new task has a fresh cgroup under the same name',
    );
    assert.ok(cgroupDirs.every((d) => existsSync(d)));
    third!.release();
  });
});
