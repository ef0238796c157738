import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Owner } from '../../core/owner.ts';

/** `intents/<intentId>.json`: one launch intent the provider has seen. */
export interface IntentRecord {
  readonly intentId: string;
  /** SHA-256 of the launch parameters: a retry must send the same ones. */
  readonly paramsHash: string;
  readonly instanceIds: readonly string[];
  readonly createdAtMs: number;
}

/** `instances/<instanceId>.json`: one instance and the process that is it. */
export interface InstanceRecord {
  readonly id: string;
  readonly providerId: string;
  readonly clusterId: string;
  readonly intentId: string;
  readonly owner: Owner;
  readonly instanceType: string;
  readonly zone: string;
  readonly lifecycle: 'on-demand' | 'spot';
  readonly launchedAtMs: number;
  /** The boot process, which is also its process group; null until it is spawned. */
  readonly pid: number | null;
  /** /proc/<pid>/stat field 22 of that process, so a reused pid is never taken for the instance. */
  readonly startTime: number | null;
  readonly state: 'pending' | 'running' | 'terminated';
  readonly terminatedAtMs: number | null;
}

/** Names that are safe as file names: ids arrive from callers. */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function isSafeId(id: string): boolean {
  return SAFE_ID.test(id) && !id.includes('..');
}

/**
 * The local provider's records on disk. Every write is atomic (a temporary file, fsync, rename), so a crash leaves
 * either the old record or the new one, never half of one.
 */
export class StateDir {
  readonly root: string;
  #ready: Promise<void> | undefined;

  constructor(root: string) {
    this.root = root;
  }

  instanceLogPath(instanceId: string): string {
    return path.join(this.root, 'instances', `${instanceId}.log`);
  }

  caFilePath(instanceId: string): string {
    return path.join(this.root, 'instances', `${instanceId}.ca.pem`);
  }

  /** Creates the folders once. */
  ready(): Promise<void> {
    this.#ready ??= (async () => {
      await mkdir(path.join(this.root, 'intents'), { recursive: true });
      await mkdir(path.join(this.root, 'instances'), { recursive: true });
    })();
    return this.#ready;
  }

  readIntent(intentId: string): Promise<IntentRecord | undefined> {
    return this.#read<IntentRecord>('intents', intentId);
  }

  writeIntent(record: IntentRecord): Promise<void> {
    return this.#write('intents', record.intentId, record);
  }

  readInstance(instanceId: string): Promise<InstanceRecord | undefined> {
    return this.#read<InstanceRecord>('instances', instanceId);
  }

  writeInstance(record: InstanceRecord): Promise<void> {
    return this.#write('instances', record.id, record);
  }

  async listInstances(): Promise<InstanceRecord[]> {
    await this.ready();
    const names = await readdir(path.join(this.root, 'instances'));
    const records = await Promise.all(
      names.filter((n) => n.endsWith('.json')).map((n) => this.readInstance(n.slice(0, -'.json'.length))),
    );
    return records.filter((r): r is InstanceRecord => r !== undefined);
  }

  async #read<T>(folder: string, id: string): Promise<T | undefined> {
    if (!isSafeId(id)) return undefined;
    await this.ready();
    try {
      return JSON.parse(await readFile(path.join(this.root, folder, `${id}.json`), 'utf8')) as T;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async #write(folder: string, id: string, record: unknown): Promise<void> {
    if (!isSafeId(id)) throw new Error(`writing ${folder} record: unsafe id ${JSON.stringify(id)}`);
    await this.ready();
    const target = path.join(this.root, folder, `${id}.json`);
    const temp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    const file = await open(temp, 'w', 0o600);
    try {
      await file.writeFile(`${JSON.stringify(record, null, 2)}\n`);
      await file.sync();
    } finally {
      await file.close();
    }
    try {
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }
}
