import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { IsolationError } from '../../../src/agent/isolation/isolation-error.ts';
import { UidLeases } from '../../../src/agent/isolation/uid-leases.ts';
import { waitFor } from '../../helpers/wait.ts';

const UID = 64_190;
const asRoot = process.getuid?.() === 0;

/** The pid of a process that has exited: what a crashed agent leaves in its leases. */
async function deadPid(): Promise<number> {
  const child = spawn('/bin/true');
  await once(child, 'exit');
  return child.pid!;
}

function uidOfStatus(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
  } catch {
    return undefined;
  }
}

/** Real uids and processes: a crashed agent's lease and the task it left running. */
(asRoot ? describe : describe.skip)('uid leases', function () {
  this.timeout(20_000);
  let dir: string;
  let orphan: ChildProcess | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-leases-'));
  });

  afterEach(async () => {
    if (orphan !== undefined && orphan.exitCode === null && orphan.signalCode === null) {
      const exited = once(orphan, 'exit');
      orphan.kill('SIGKILL');
      await exited;
    }
    orphan = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it("takes over a crashed agent's lease only once no process runs as its uid", async () => {
    const leases = new UidLeases(dir, { first: UID, last: UID });
    writeFileSync(join(dir, String(UID)), String(await deadPid()));
    // The crashed agent's task lives on as the uid (for instance it left the agent's cgroup with it).
    orphan = spawn('/bin/sleep', ['1000'], { uid: UID, gid: UID, stdio: 'ignore' });
    await waitFor('the orphan to run as its uid', () => uidOfStatus(orphan!.pid!) === UID);

    assert.throws(
      () => leases.acquire(),
      (err: unknown) => err instanceof IsolationError && err.retryable && /every uid of 64190-64190/.test(err.message),
    );

    const exited = once(orphan, 'exit');
    orphan.kill('SIGKILL');
    await exited;
    assert.equal(leases.acquire(), UID);
    assert.equal(readFileSync(join(dir, String(UID)), 'utf8'), String(process.pid));
  });

  it('never takes over a lease whose agent lives', () => {
    const leases = new UidLeases(dir, { first: UID, last: UID });
    writeFileSync(join(dir, String(UID)), String(process.ppid));
    assert.throws(() => leases.acquire(), IsolationError);
    leases.release(UID);
    assert.equal(leases.acquire(), UID);
  });
});
