import { chmodSync, chownSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { IsolationError } from './isolation-error.ts';

/**
 * Tasks' working folders: `<root>/<taskId>.<random>`, fresh for every run, mode 0700 and owned by the task's uid.
 * The root is 0711 and owned by root: every task uid can reach its own folder through it, and none can list the
 * others. A folder is removed `keepMs` after its task ended (time for root to look at what it left), or when the agent
 * closes.
 */
export class TaskFolders {
  readonly #root: string;
  readonly #keepMs: number;
  readonly #timers = new Map<string, NodeJS.Timeout>();

  constructor(root: string, keepMs: number) {
    this.#root = root;
    this.#keepMs = keepMs;
    try {
      mkdirSync(root, { recursive: true, mode: 0o711 });
      chownSync(root, 0, 0);
      chmodSync(root, 0o711);
    } catch (err) {
      throw new IsolationError(`preparing the task folder root ${root}`, { cause: err });
    }
    this.#sweep();
  }

  /** Creates a task's folder owned by `uid:gid`, mode 0700. */
  create(taskId: string, uid: number, gid: number): string {
    const path = join(this.#root, `${taskId}.${randomBytes(4).toString('hex')}`);
    try {
      mkdirSync(path, { mode: 0o700 });
      chownSync(path, uid, gid);
      chmodSync(path, 0o700);
    } catch (err) {
      throw new IsolationError(`creating the working folder ${path} of task ${taskId}`, { cause: err });
    }
    return path;
  }

  /**
   * Removes the folder `keepMs` from now (at once when it is 0). Meanwhile it belongs to root: its task's uid goes
   * back to the range at once, and the next task given that uid must not read or change what this one left.
   */
  removeLater(path: string): void {
    if (this.#keepMs === 0) {
      remove(path);
      return;
    }
    try {
      chownSync(path, 0, 0);
      chmodSync(path, 0o700);
    } catch {
      // Gone already: nothing left to keep.
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(path);
      remove(path);
    }, this.#keepMs);
    timer.unref();
    this.#timers.set(path, timer);
  }

  /** Removes every folder still waiting for its delay. */
  close(): void {
    for (const [path, timer] of this.#timers) {
      clearTimeout(timer);
      remove(path);
    }
    this.#timers.clear();
  }

  /** Folders a crashed agent left behind are removed once their delay has passed. */
  #sweep(): void {
    const cutoffMs = Date.now() - this.#keepMs;
    let names: string[];
    try {
      names = readdirSync(this.#root);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(this.#root, name);
      try {
        if (statSync(path).mtimeMs < cutoffMs) remove(path);
      } catch {
        // Gone meanwhile.
      }
    }
  }
}

function remove(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch {
    // A later sweep removes it.
  }
}
