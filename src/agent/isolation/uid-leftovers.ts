import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** The machine's folders every uid may write in: what a task leaves there outlives it unless removed. */
export const SHARED_TEMP_DIRS: readonly string[] = ['/tmp', '/var/tmp', '/dev/shm'];

/**
 * Removes every entry of `dirs` (not descending into other users' entries) owned by `uid`: what an ended task left in
 * the machine's shared folders. Its uid goes back to the range, and the next task given it would otherwise own, read
 * and change those files. Call it once no process of the uid runs. Entries that vanish meanwhile are skipped.
 */
export function removeUidLeftovers(uid: number, dirs: readonly string[] = SHARED_TEMP_DIRS): void {
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const path = join(dir, name);
      try {
        if (lstatSync(path).uid === uid) rmSync(path, { recursive: true, force: true });
      } catch {
        // Gone meanwhile, or removed by a later task's sweep.
      }
    }
  }
}
