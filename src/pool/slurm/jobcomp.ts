import { open } from 'node:fs/promises';

/** One `jobcomp/filetxt` record: `JobId=5 UserId=root(0) ... StartTime=2026-11-26T07:19:31 EndTime=... NodeList=...`. */
export interface JobCompRecord {
  readonly jobId: number;
  readonly state: string;
  readonly account: string;
  readonly user: string;
  readonly nodeList: string;
  /** CPUs per node (ProcCnt / NodeCnt). */
  readonly cpusPerNode: number;
  readonly startMs: number;
  readonly endMs: number;
}

/** Parses one record line; undefined for a line that is not one (or has no run: never started). */
export function parseJobCompLine(line: string): JobCompRecord | undefined {
  const fields = new Map<string, string>();
  for (const m of line.matchAll(/(\w+)=(\S*)/g)) fields.set(m[1]!, m[2]!);
  const jobId = Number(fields.get('JobId'));
  const startMs = slurmTimeMs(fields.get('StartTime'));
  const endMs = slurmTimeMs(fields.get('EndTime'));
  if (!Number.isInteger(jobId) || startMs === undefined || endMs === undefined) return undefined;
  return {
    jobId,
    state: fields.get('JobState') ?? '',
    account: fields.get('Account') ?? '',
    user: (fields.get('UserId') ?? '').replace(/\(\d+\)$/, ''),
    nodeList: fields.get('NodeList') ?? '',
    cpusPerNode:
      Math.max(1, Math.ceil(Number(fields.get('ProcCnt') ?? 1) / Math.max(1, Number(fields.get('NodeCnt') ?? 1)))) || 1,
    startMs,
    endMs,
  };
}

/** Slurm's local-time `2026-11-26T07:19:31` as epoch ms; undefined for `Unknown`, `None` or junk. */
function slurmTimeMs(text: string | undefined): number | undefined {
  if (!text || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(text)) return undefined;
  const ms = new Date(text).getTime();
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/**
 * Follows a jobcomp file: each `read()` returns the whole lines added since the last one. A file that shrank
 * (rotated) is read again from its start.
 */
export class JobCompReader {
  readonly #path: string;
  #offset = 0;
  #partial = '';

  constructor(path: string) {
    this.#path = path;
  }

  async read(): Promise<JobCompRecord[]> {
    let file;
    try {
      file = await open(this.#path, 'r');
    } catch {
      return [];
    }
    try {
      const { size } = await file.stat();
      if (size < this.#offset) {
        this.#offset = 0;
        this.#partial = '';
      }
      if (size === this.#offset) return [];
      const buffer = Buffer.alloc(size - this.#offset);
      const { bytesRead } = await file.read(buffer, 0, buffer.length, this.#offset);
      this.#offset += bytesRead;
      const text = this.#partial + buffer.subarray(0, bytesRead).toString('utf8');
      const lines = text.split('\n');
      this.#partial = lines.pop() ?? '';
      return lines.map(parseJobCompLine).filter((r): r is JobCompRecord => r !== undefined);
    } finally {
      await file.close();
    }
  }
}
