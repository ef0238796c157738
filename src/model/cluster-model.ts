import type { Agent, AgentState } from '../core/agent.ts';
import type { Intent } from '../core/intent.ts';
import { add, subtract, ZERO, type Resources } from '../core/resources.ts';
import type { TaskHeader } from '../core/task.ts';
import type { AgentRecord, ChangeRepo, ModelRows, Recorded } from '../store/store.ts';
import { FreeRoomIndex } from './free-room.ts';
import { groupByClass, type PendingClass } from './pending-classes.ts';
import { SortedMap } from './sorted-map.ts';
import { LedgerWindow } from './ledger-window.ts';
import type { LedgerSlice } from '../cost-model/ledger.ts';

/** Everything the model holds, in the store's orders: what a test compares with a fresh load. */
export interface ModelView {
  /** Agents not terminated, in record order, with `allocated` summed from their tasks. */
  readonly agents: readonly Agent[];
  /** Pending, placed and running task headers, in record order. */
  readonly tasks: readonly TaskHeader[];
  /** Open intents, oldest first. */
  readonly intents: readonly Intent[];
}

interface AgentEntry {
  readonly seq: number;
  /** Rebuilt when its record or its allocation changes. */
  agent: Agent;
}

interface Allocation {
  count: number;
  sum: Resources;
}

const ACTIVE = new Set(['pending', 'placed', 'running']);
/** Rows of each table read at once: about 2 ms of reading and mapping at 300,000 tasks, so reads yield often. */
const SLICE = 500;

/** Lets the event loop run what waits (API requests) before going on. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
/** By change feed: views of one store (a leader's fenced view) share its feed, and so its model. */
const models = new WeakMap<ChangeFeed, ClusterModel>();

/**
 * The change feed the model reads: the asynchronous store's (`AsyncStore.changes`, which waits for other callers'
 * open transactions), or a synchronous one's in tests that set up data through the SQLite store directly.
 */
export type ChangeFeed = {
  readonly [K in keyof ChangeRepo]: ChangeRepo[K] extends (...args: infer A) => infer T
    ? (...args: A) => T | Promise<T>
    : never;
};

/** A store with a change feed: what the model is built on. */
export interface ModelSource {
  readonly changes?: ChangeFeed;
}

/** The feed of `store`; throws for a store without one (a test double: both engines have one). */
export function changeFeed(store: ModelSource): ChangeFeed {
  if (store.changes === undefined) throw new Error('building the in-memory model: this store has no change feed');
  return store.changes;
}

/**
 * The controller's in-memory model of the pool (DESIGN section 9): agents not terminated (with their allocation),
 * the headers of pending, placed and running tasks (never commands or output) and open intents. Finished tasks,
 * terminated agents and settled intents leave it, so it is as large as what is live, not as the history.
 *
 * It is a cache of the store and nothing else: every write still goes to the store, in the same transaction as
 * before, and the model catches up by reading the rows stamped with a revision above the last one it saw
 * (`ChangeRepo.since`). That covers writes of every process on the store (a standby `serve`'s API, agents'
 * heartbeats), not only this one's, and a model that missed anything is mended by `load`. The controller loads it when
 * it gains the lease and refreshes it before each step that reads; reads between refreshes see the state as of the
 * last one.
 *
 * Every read of the store goes through `load`, `reload`, `refresh`, `catchUp` and `overlapping`, each asynchronous:
 * through the asynchronous store's feed they wait while another caller's transaction is open, so the model never
 * holds a row that transaction may still roll back. One model serves one controller: a reload while another caller
 * reads it mid-pass would show that caller a partial model.
 */
export class ClusterModel {
  readonly #feed: ChangeFeed;
  #rev: number | undefined;
  /** A sliced reload is under way: the model holds part of the pool. */
  #reloading = false;
  readonly #agents = new Map<string, AgentEntry>();
  readonly #tasks = new Map<string, Recorded<TaskHeader>>();
  readonly #intents = new Map<string, Recorded<Intent>>();
  readonly #allocations = new Map<string, Allocation>();
  /** Pending tasks in the order the pool serves them (as `TaskRepo.pending`). */
  readonly #pending = new SortedMap<string, Recorded<TaskHeader>>(
    (a, b) => b.row.priority - a.row.priority || a.row.pendingSinceMs - b.row.pendingSinceMs || a.seq - b.seq,
  );
  #pendingHeaders: readonly TaskHeader[] | undefined;
  #pendingFrom: readonly Recorded<TaskHeader>[] | undefined;
  readonly #placed = new Set<string>();
  readonly #freeRoom = new FreeRoomIndex();
  readonly #ledger: LedgerWindow;
  #agentOrder: AgentEntry[] | undefined;
  #intentOrder: Intent[] | undefined;

  constructor(store: ModelSource) {
    this.#feed = changeFeed(store);
    this.#ledger = new LedgerWindow(this.#feed);
  }

  /** The one model of a store in this process: the controller and the builtin pool on that store share it. */
  static of(store: ModelSource): ClusterModel {
    const feed = changeFeed(store);
    let model = models.get(feed);
    if (model === undefined) {
      model = new ClusterModel(store);
      models.set(feed, model);
    }
    return model;
  }

  /** Forgets everything and reads the store's live state afresh, in one read snapshot. */
  async load(): Promise<void> {
    const rows = await this.#feed.current();
    this.#clear();
    this.#apply(rows);
  }

  /**
   * `load` in slices of `sliceRows` rows of each table (default 500), calling `pause` between them so a large pool
   * does not hold the event loop: the slices are separate snapshots, and the rows changed meanwhile are read again
   * at the end.
   */
  async reload(pause: () => Promise<void> = nextTurn, sliceRows = SLICE): Promise<void> {
    const start = await this.#feed.revision();
    this.#clear();
    this.#reloading = true;
    try {
      for (let after = 0, more = true; more; after += sliceRows) {
        const slice = await this.#feed.currentSlice(after, sliceRows);
        this.#apply(slice);
        more = slice.more;
        await pause();
      }
      this.#rev = start;
      await this.catchUp(pause);
    } catch (err) {
      // Part of the pool at most: the next catchUp loads afresh.
      this.#rev = undefined;
      throw err;
    } finally {
      this.#reloading = false;
    }
  }

  /** Catches up with every write since the last load or refresh; loads on first use. */
  async refresh(): Promise<void> {
    if (this.#rev === undefined) return this.load();
    for (let more = true; more && this.#rev !== undefined;) {
      const page = await this.#feed.since(this.#rev, SLICE);
      this.#applyPage(page);
      more = page.more;
    }
  }

  /** `refresh` in pages, calling `pause` between them; loads in slices on first use. */
  async catchUp(pause: () => Promise<void> = nextTurn): Promise<void> {
    if (this.#rev === undefined) return this.reload(pause);
    for (let more = true; more && this.#rev !== undefined;) {
      const page = await this.#feed.since(this.#rev, SLICE);
      this.#applyPage(page);
      more = page.more;
      if (more) await pause();
    }
  }

  #clear(): void {
    this.#agents.clear();
    this.#tasks.clear();
    this.#intents.clear();
    this.#allocations.clear();
    this.#pending.clear();
    this.#placed.clear();
    this.#freeRoom.clear();
    this.#ledger.reset();
    this.#agentOrder = undefined;
    this.#intentOrder = undefined;
    this.#rev = undefined;
  }

  /**
   * Whether it holds a whole load: false before the first load and while a reload is under way (reads then would see
   * part of the pool).
   */
  get loaded(): boolean {
    return this.#rev !== undefined && !this.#reloading;
  }

  /** Agents in these states (default: not terminated), in record order. */
  agents(states?: readonly AgentState[]): Agent[] {
    this.#agentOrder ??= [...this.#agents.values()].sort((a, b) => a.seq - b.seq);
    const wanted = states === undefined ? undefined : new Set(states);
    const out: Agent[] = [];
    for (const entry of this.#agentOrder) {
      if (wanted === undefined || wanted.has(entry.agent.state)) out.push(entry.agent);
    }
    return out;
  }

  /** Registered agents whose free room fits `request`, in record order: the only ones placement need look at. */
  agentsWithRoomFor(request: Resources): Agent[] {
    return this.#freeRoom
      .withRoomFor(request)
      .map((id) => this.#agents.get(id)!)
      .sort((a, b) => a.seq - b.seq)
      .map((entry) => entry.agent);
  }

  /** Pending tasks, highest priority first, then longest waiting, then record order (as `TaskRepo.pending`). */
  pending(): readonly TaskHeader[] {
    const ordered = this.#pending.values();
    if (this.#pendingFrom !== ordered) {
      this.#pendingHeaders = ordered.map((t) => t.row);
      this.#pendingFrom = ordered;
    }
    return this.#pendingHeaders!;
  }

  /** Pending tasks grouped by class (pending-classes.ts), classes in the order of their first task. */
  pendingClasses(): PendingClass[] {
    return groupByClass(this.pending());
  }

  /** A pending, placed or running task's header. */
  task(id: string): TaskHeader | undefined {
    return this.#tasks.get(id)?.row;
  }

  /** Tasks placed on an agent and not yet taken by it, newest first (as `TaskRepo.listHeaders`). */
  placed(): TaskHeader[] {
    return [...this.#placed]
      .map((id) => this.#tasks.get(id)!)
      .sort((a, b) => b.row.createdAtMs - a.row.createdAtMs || b.seq - a.seq)
      .map((t) => t.row);
  }

  /** Intents whose cloud call is not confirmed yet, oldest first (as `IntentRepo.open`). */
  openIntents(): readonly Intent[] {
    this.#intentOrder ??= [...this.#intents.values()]
      .sort((a, b) => a.row.createdAtMs - b.row.createdAtMs || a.seq - b.seq)
      .map((i) => i.row);
    return this.#intentOrder;
  }

  /**
   * As `store.ledger.overlapping(fromMs, toMs)`, read incrementally (ledger-window.ts): what a pass's budgets read.
   */
  overlapping(fromMs: number, toMs: number): Promise<LedgerSlice> {
    return this.#ledger.overlapping(fromMs, toMs);
  }

  /** Everything it holds, in the store's orders. */
  view(): ModelView {
    return {
      agents: this.agents(),
      tasks: [...this.#tasks.values()].sort((a, b) => a.seq - b.seq).map((t) => t.row),
      intents: [...this.openIntents()],
    };
  }

  /**
   * Applies a page of `since`, unless a read that began later and saw more was applied first while this one was on
   * its way (two callers catching up at once): its rows are then older than the ones held.
   */
  #applyPage(page: ModelRows): void {
    if (this.#rev !== undefined && page.rev >= this.#rev) this.#apply(page);
  }

  #apply(rows: ModelRows): void {
    const touched = new Set<string>();
    for (const { seq, row } of rows.agents) {
      const before = this.#agents.get(row.id);
      if (row.state === 'terminated') {
        if (before !== undefined) this.#agents.delete(row.id);
        this.#agentOrder = undefined;
      } else if (before === undefined) {
        this.#agents.set(row.id, { seq, agent: this.#withAllocation(row) });
        this.#agentOrder = undefined;
      } else {
        before.agent = this.#withAllocation(row);
      }
      touched.add(row.id);
    }
    for (const task of rows.tasks) {
      const before = this.#tasks.get(task.row.id);
      if (before !== undefined) this.#unapplyTask(before.row, touched);
      if (ACTIVE.has(task.row.state)) {
        this.#tasks.set(task.row.id, task);
        this.#applyTask(task, touched);
      } else {
        this.#tasks.delete(task.row.id);
      }
    }
    for (const intent of rows.intents) {
      if (intent.row.state === 'pending') this.#intents.set(intent.row.id, intent);
      else this.#intents.delete(intent.row.id);
      this.#intentOrder = undefined;
    }
    for (const id of touched) {
      const entry = this.#agents.get(id);
      if (entry === undefined) {
        this.#freeRoom.delete(id);
        continue;
      }
      const allocated = this.#allocations.get(id)?.sum ?? ZERO;
      if (entry.agent.allocated !== allocated) entry.agent = { ...entry.agent, allocated };
      this.#freeRoom.set(entry.agent);
    }
    this.#rev = rows.rev;
  }

  #applyTask(entry: Recorded<TaskHeader>, touched: Set<string>): void {
    const task = entry.row;
    if (task.state === 'pending') this.#pending.set(task.id, entry);
    if (task.state === 'placed') this.#placed.add(task.id);
    if (task.agentId === null) return;
    const allocation = this.#allocations.get(task.agentId);
    if (allocation === undefined) this.#allocations.set(task.agentId, { count: 1, sum: task.resources });
    else {
      allocation.count++;
      allocation.sum = add(allocation.sum, task.resources);
    }
    touched.add(task.agentId);
  }

  #unapplyTask(task: TaskHeader, touched: Set<string>): void {
    this.#pending.delete(task.id);
    this.#placed.delete(task.id);
    if (task.agentId === null) return;
    const allocation = this.#allocations.get(task.agentId);
    if (allocation !== undefined) {
      allocation.count--;
      if (allocation.count === 0) this.#allocations.delete(task.agentId);
      else allocation.sum = subtract(allocation.sum, task.resources);
    }
    touched.add(task.agentId);
  }

  #withAllocation(record: AgentRecord): Agent {
    return { ...record, allocated: this.#allocations.get(record.id)?.sum ?? ZERO };
  }
}
