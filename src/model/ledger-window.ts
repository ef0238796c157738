import type { AgentInterval, LedgerSlice, UsageInterval } from '../cost-model/ledger.ts';
import type { LedgerRows, Recorded } from '../store/store.ts';
import type { ChangeFeed } from './cluster-model.ts';
import { SortedMap } from './sorted-map.ts';

/**
 * The ledger intervals the budgets read, kept in memory: every agent and usage interval that may overlap a window
 * starting at `fromMs` or later. A read applies what was written since the last one (the intervals stamped with a
 * higher revision), drops the intervals that ended before the window, and returns the slice in the order
 * `LedgerRepo.overlapping` gives. Windows only move forward as periods roll over; a window starting earlier than the
 * one held (a budget with a longer period was added) is loaded whole again.
 */
export class LedgerWindow {
  readonly #feed: ChangeFeed;
  #rev: number | undefined;
  #fromMs = 0;
  readonly #agents = new SortedMap<string, Recorded<AgentInterval>>(
    (a, b) => a.row.startMs - b.row.startMs || a.seq - b.seq,
  );
  readonly #usage = new SortedMap<number, UsageInterval>((a, b) => a.startMs - b.startMs || a.id - b.id);

  constructor(feed: ChangeFeed) {
    this.#feed = feed;
  }

  /** Forgets what it holds; the next read loads whole. */
  reset(): void {
    this.#rev = undefined;
    this.#agents.clear();
    this.#usage.clear();
  }

  /** As `store.ledger.overlapping(fromMs, toMs)`. */
  async overlapping(fromMs: number, toMs: number): Promise<LedgerSlice> {
    if (this.#rev === undefined || fromMs < this.#fromMs) {
      // No upper bound: an interval starting after this window's end comes into later ones.
      const rows = await this.#feed.ledgerOverlapping(fromMs, Number.MAX_SAFE_INTEGER);
      this.#agents.clear();
      this.#usage.clear();
      this.#apply(rows);
    } else {
      this.#apply(await this.#feed.ledgerSince(this.#rev));
    }
    this.#fromMs = fromMs;
    const ended = (endMs: number | null): boolean => endMs !== null && endMs < fromMs;
    const agents: AgentInterval[] = [];
    for (const { row } of this.#agents.values()) {
      if (ended(row.endMs)) this.#agents.delete(row.agentId);
      else if (row.startMs < toMs) agents.push(row);
    }
    const usage: UsageInterval[] = [];
    for (const interval of this.#usage.values()) {
      if (ended(interval.endMs)) this.#usage.delete(interval.id);
      else if (interval.startMs < toMs) usage.push(interval);
    }
    return { agents, usage };
  }

  #apply(rows: LedgerRows): void {
    for (const agent of rows.agents) this.#agents.set(agent.row.agentId, agent);
    for (const usage of rows.usage) this.#usage.set(usage.id, usage);
    this.#rev = rows.rev;
  }
}
