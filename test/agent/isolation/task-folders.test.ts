import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'mocha';
import { TaskFolders } from '../../../src/agent/isolation/task-folders.ts';

const UID = 64_170;
const asRoot = process.getuid?.() === 0;

/** Runs `sh -c script` as `uid`; answers its stdout, or the error's stderr. */
async function shAs(uid: number, script: string): Promise<{ ok: boolean; out: string }> {
  try {
    const { stdout } = await promisify(execFile)('/bin/sh', ['-c', script], { uid, gid: uid, cwd: '/' });
    return { ok: true, out: stdout };
  } catch (err) {
    return { ok: false, out: String((err as { stderr?: string }).stderr) };
  }
}

/** Real folders and uids. */
(asRoot ? describe : describe.skip)('task folders', function () {
  this.timeout(20_000);
  let root: string;
  let folders: TaskFolders;

  before(() => {
    const parent = mkdtempSync(join(tmpdir(), 'spillway-folders-'));
    // Every task uid must reach the root, as under /var/lib.
    chmodSync(parent, 0o711);
    root = join(parent, 'tasks');
    folders = new TaskFolders(root, 600_000);
  });

  after(() => {
    folders.close();
    rmSync(join(root, '..'), { recursive: true, force: true });
  });

  it("keeps an ended task's folder for a while, out of reach of the next task given its uid", async () => {
    const path = folders.create('tsk-a', UID, UID);
    const file = join(path, 'result');
    assert.deepEqual(await shAs(UID, `echo secret-of-a > ${file} && cat ${file}`), { ok: true, out: 'secret-of-a\n' });

    folders.removeLater(path);
    // The uid is free again; whoever gets it next reads and writes nothing of task a.
    const read = await shAs(UID, `cat ${file}`);
    assert.equal(read.ok, false);
    assert.match(read.out, /Permission denied/);
    assert.equal((await shAs(UID, `echo planted > ${file}`)).ok, false);
    // Root still can, until the folder goes.
    assert.equal(readFileSync(file, 'utf8'), 'secret-of-a\n');
    folders.close();
    assert.equal(existsSync(path), false);
  });
});
