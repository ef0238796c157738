import { NOT_TERMINATED_AGENT_STATES, type Agent } from '../../core/agent.ts';
import { errorMessage } from '../../core/errors.ts';
import { resources, subtract, ZERO } from '../../core/resources.ts';
import type { Logger } from '../../log/logger.ts';
import type { AsyncStore } from '../../store/async-store.ts';
import type { Placement, Pool, PoolSnapshot, ReleaseRequest } from '../pool.ts';
import { agentHost } from '../builtin/eligibility.ts';
import { JobCompReader } from './jobcomp.ts';
import { cloudNodeName } from './join.ts';
import { uncoveredByRoom, type CloudRoom } from './slurm-cover.ts';
import type { SlurmCommands } from './slurm-commands.ts';
import type { SlurmPoolConfig } from './slurm-config.ts';
import { demandTasks, jobIdOf, jobsOf, type SlurmJob } from './slurm-jobs.ts';
import { isNodeDown, isNodeDrained, isNodeDraining, isNodeIdle, nodesOf, type SlurmNode } from './slurm-nodes.ts';
import { nodeFeatures, shapesByPartition } from './slurm-shapes.ts';
import { SlurmUsage } from './slurm-usage.ts';

export interface SlurmPoolOptions {
  readonly store: AsyncStore;
  readonly logger: Logger;
  readonly commands: SlurmCommands;
  readonly config: SlurmPoolConfig;
  /** The kinds of the providers cloud nodes come from (`local`, `aws-ec2`): node features too. */
  readonly providerKinds: readonly string[];
}

/** How many syncs a lost node's job is watched for its requeue. */
const REQUEUE_WATCH_SYNCS = 120;
/** Re-read partitions (rarely changed) every this many syncs. */
const PARTITIONS_EVERY = 30;

/**
 * Slurm as the pool. Slurm keeps the queue and places jobs; Spillway reads its pending demand and nodes each pass
 * (`sync`) and only adds and removes cloud nodes. Private agents are Slurm's static nodes; cloud agents are the
 * store's cloud agents, each a dynamic node named after its instance (`cloudNodeName`).
 *
 * - Scale-in (`release`): an idle cloud node is drained in Slurm first; once drained it is deleted from Slurm, and
 *   only then does the controller terminate its instance.
 * - A cloud node Slurm finds down or unresponsive is lost: it is set DOWN (Slurm requeues its jobs), its instance is
 *   terminated, and the node is deleted once its agent is terminated.
 * - Why a job waits (a budget, a limit, a launch on its way) is written to its Slurm comment.
 * The snapshot is the last sync's: observe() reads nothing new, the Slurm commands are in sync().
 */
export class SlurmPool implements Pool {
  readonly #store: AsyncStore;
  readonly #log: Logger;
  readonly #slurm: SlurmCommands;
  readonly #config: SlurmPoolConfig;
  readonly #usage: SlurmUsage;
  readonly #jobcomp: JobCompReader | undefined;
  readonly #providerKinds: readonly string[];
  #snapshot: PoolSnapshot = { agents: [], pending: [] };
  #nodes = new Map<string, SlurmNode>();
  #partitions = new Map<string, Set<string>>();
  #syncs = 0;
  readonly #idleSince = new Map<string, number>();
  readonly #firstSeen = new Map<string, number>();
  /** Node -> what to do to it at the next sync (DRAIN or DOWN), with the reason. */
  readonly #actions = new Map<string, { state: 'DRAIN' | 'DOWN'; reason: string }>();
  readonly #comments = new Map<number, string>();
  readonly #commentQueue = new Map<number, string>();
  #jobs: readonly SlurmJob[] = [];
  /** Jobs that ran on nodes set DOWN as lost: once Slurm has requeued them, they may start at once. */
  readonly #requeued = new Map<number, { node: string; left: number }>();

  constructor(opts: SlurmPoolOptions) {
    this.#store = opts.store;
    this.#log = opts.logger.child({ component: 'slurm-pool' });
    this.#slurm = opts.commands;
    this.#config = opts.config;
    this.#usage = new SlurmUsage(opts.store, opts.config.accounts);
    this.#providerKinds = opts.providerKinds;
    this.#jobcomp = opts.config.jobcompFile ? new JobCompReader(opts.config.jobcompFile) : undefined;
  }

  /** Partition -> the shapes' placeholders it holds, as of the last sync (for the offerings' labels). */
  cloudPartitions(): ReadonlyMap<string, ReadonlySet<string>> {
    return this.#partitions;
  }

  /** The Slurm node of a cloud agent. */
  nodeName(agent: Pick<Agent, 'instanceId'>): string | undefined {
    return agent.instanceId ? cloudNodeName(this.#config.nodePrefix, agent.instanceId) : undefined;
  }

  /**
   * Reads Slurm (queue, nodes, partitions) and acts on what earlier calls decided: drains and downs, comments, the
   * deletion of drained nodes and of nodes whose agent is gone, and the ledger's runs. Rejects when Slurm cannot be
   * read: the pass then acts on nothing new.
   */
  async sync(nowMs: number): Promise<void> {
    await this.#runActions();
    if (this.#syncs++ % PARTITIONS_EVERY === 0) {
      this.#partitions = shapesByPartition(await this.#slurm.partitions(), this.#config.shapes);
    }
    const [nodesJson, jobsJson] = await Promise.all([this.#slurm.nodes(), this.#slurm.jobs()]);
    this.#nodes = nodesOf(nodesJson);
    const jobs = jobsOf(jobsJson);
    this.#jobs = jobs;
    const cloud = await this.#cloudAgents();
    await this.#startRequeued(jobs, cloud);
    await this.#deleteStale(cloud);
    const live = new Map([...cloud].filter(([node]) => this.#nodes.has(node)));
    await this.#usage.recordQueue(jobs, live, nowMs);
    if (this.#jobcomp) await this.#usage.recordCompletions(await this.#jobcomp.read(), await this.#allCloudAgents());
    // Slurm starts pending jobs on a joined cloud node in its own time: meanwhile its free room covers those that
    // fit it (no second launch for them), and it is not idle (no scale-down of the node they wait for).
    const cloudAgents = this.#cloudSnapshot(cloud, nowMs);
    const { left, covering } = uncoveredByRoom(await this.#demand(jobs), this.#cloudRooms(cloudAgents));
    for (const node of covering) this.#idleSince.delete(node);
    this.#snapshot = {
      agents: [
        ...this.#privateAgents(nowMs),
        ...cloudAgents.map((a) => (covering.has(this.nodeName(a) ?? '') ? { ...a, idleSinceMs: null } : a)),
      ],
      pending: left,
    };
    await this.#writeComments(jobs);
  }

  async observe(): Promise<PoolSnapshot> {
    return this.#snapshot;
  }

  /** Slurm places jobs: nothing to do. */
  async place(): Promise<Placement[]> {
    return [];
  }

  /** Cloud agents whose node Slurm reports down or unresponsive are lost. */
  async expireAgents(nowMs: number): Promise<string[]> {
    const lost: string[] = [];
    for (const [node, agent] of await this.#cloudAgents()) {
      const slurmNode = this.#nodes.get(node);
      if (!slurmNode || !isNodeDown(slurmNode) || !['registered', 'draining'].includes(agent.state)) continue;
      await this.markLost(
        agent.id,
        `slurm reports node ${node} ${slurmNode.state} ${(slurmNode.state_flags ?? []).join(',')}`.trim(),
        nowMs,
      );
      lost.push(agent.id);
    }
    return lost;
  }

  async drain(agentId: string, reason: string, nowMs: number): Promise<void> {
    const agent = await this.#store.agents.setState(agentId, 'draining', reason, nowMs);
    const node = this.nodeName(agent);
    if (node) this.#actions.set(node, { state: 'DRAIN', reason });
    this.#log.info('draining agent', { agentId, node, reason });
  }

  async markLost(agentId: string, reason: string, nowMs: number): Promise<void> {
    const agent = await this.#store.agents.setState(agentId, 'lost', reason, nowMs);
    const node = this.nodeName(agent);
    if (node) this.#actions.set(node, { state: 'DOWN', reason: `spillway: lost: ${reason}` });
    this.#log.warn('lost agent', { agentId, node, reason });
  }

  /**
   * Of the cloud agents scale-down chose, those whose instance may be terminated now: a lost agent once its node is
   * DOWN (Slurm requeues its jobs), an agent whose node is drained once the node is deleted, one that never joined
   * at once. An idle registered agent is drained in Slurm instead and comes back once drained.
   */
  async release<T extends ReleaseRequest>(requests: readonly T[], nowMs: number): Promise<T[]> {
    const now: T[] = [];
    for (const request of requests) {
      const agent = request.agentId ? await this.#store.agents.get(request.agentId) : undefined;
      const node = agent ? this.nodeName(agent) : undefined;
      const slurmNode = node ? this.#nodes.get(node) : undefined;
      if (!agent || !node || !slurmNode) {
        now.push(request);
        continue;
      }
      try {
        if (agent.state === 'lost') {
          await this.#runActions();
          if (slurmNode.state.toLowerCase() !== 'down') await this.#down(node, `spillway: ${request.reason}`);
          now.push(request);
        } else if (agent.state === 'registered') {
          if (!isNodeIdle(slurmNode)) continue;
          await this.#slurm.drain(node, `spillway: ${request.reason}`);
          await this.#store.agents.setState(agent.id, 'draining', request.reason, nowMs);
          this.#log.info('draining node', { agentId: agent.id, node, reason: request.reason });
        } else if (isNodeDrained(slurmNode) || isNodeDown(slurmNode)) {
          await this.#slurm.delete(node);
          this.#nodes.delete(node);
          this.#log.info('deleted node', { agentId: agent.id, node });
          now.push(request);
        }
      } catch (err) {
        this.#log.warn('could not release node', { agentId: agent.id, node, error: errorMessage(err) });
      }
    }
    return now;
  }

  /** Writes why jobs wait into their Slurm comments (at the next sync, and only when the reason changed). */
  noteWaiting(waiting: readonly { taskId: string; reason: string }[]): void {
    for (const w of waiting) {
      const jobId = jobIdOf(w.taskId);
      if (jobId === undefined) continue;
      const text = `spillway: ${w.reason}`;
      if (this.#comments.get(jobId) !== text) this.#commentQueue.set(jobId, text);
    }
  }

  async #runActions(): Promise<void> {
    for (const [node, action] of [...this.#actions]) {
      this.#actions.delete(node);
      try {
        if (action.state === 'DOWN') await this.#down(node, action.reason);
        else await this.#slurm.drain(node, action.reason);
        this.#log.info(action.state === 'DOWN' ? 'set node down' : 'set node draining', {
          node,
          reason: action.reason,
        });
      } catch (err) {
        this.#log.warn('could not update node', { node, state: action.state, error: errorMessage(err) });
      }
    }
  }

  /**
   * Sets a node DOWN, so Slurm requeues its jobs. Slurm holds a requeued job back for a while (reason BeginTime);
   * the jobs of a lost node are let start at once, on the capacity that replaces it.
   */
  async #down(node: string, reason: string): Promise<void> {
    await this.#slurm.down(node, reason);
    for (const job of this.#jobs) {
      if (job.job_state === 'RUNNING' && (job.job_resources?.allocated_nodes ?? []).some((n) => n.nodename === node)) {
        this.#requeued.set(job.job_id, { node, left: REQUEUE_WATCH_SYNCS });
      }
    }
  }

  async #startRequeued(jobs: readonly SlurmJob[], cloud: ReadonlyMap<string, Agent>): Promise<void> {
    for (const [jobId, { node, left }] of [...this.#requeued]) {
      const job = jobs.find((j) => j.job_id === jobId);
      // Slurm may take a few passes to requeue: watch until the job waits on its begin time, ends, or the watch ends.
      if (!job || left <= 1 || !['RUNNING', 'COMPLETING', 'REQUEUED', 'PENDING'].includes(job.job_state)) {
        this.#requeued.delete(jobId);
        continue;
      }
      // Not before the lost node's instance is gone: its orphaned job steps would report the job done and end the
      // job's new run (Slurm's own delay guards against that).
      if (job.job_state !== 'PENDING' || job.state_reason !== 'BeginTime' || cloud.has(node)) {
        this.#requeued.set(jobId, { node, left: left - 1 });
        continue;
      }
      this.#requeued.delete(jobId);
      try {
        await this.#slurm.startNow(jobId);
        this.#log.info('released requeued job', { jobId });
      } catch (err) {
        this.#log.warn('could not release requeued job', { jobId, error: errorMessage(err) });
      }
    }
  }

  /** Deletes cloud nodes no live agent stands for (their instance was terminated, or never ours). */
  async #deleteStale(cloud: ReadonlyMap<string, Agent>): Promise<void> {
    for (const [node, slurmNode] of this.#nodes) {
      if (!node.startsWith(this.#config.nodePrefix) || cloud.has(node)) continue;
      try {
        if (!isNodeDown(slurmNode) && !isNodeIdle(slurmNode)) {
          await this.#slurm.down(node, 'spillway: its instance is gone');
        }
        await this.#slurm.delete(node);
        this.#nodes.delete(node);
        this.#log.info('deleted node', { node, reason: 'no live agent' });
      } catch (err) {
        this.#log.warn('could not delete node', { node, error: errorMessage(err) });
      }
    }
  }

  async #writeComments(jobs: readonly SlurmJob[]): Promise<void> {
    const pending = new Set(jobs.filter((j) => j.job_state === 'PENDING').map((j) => j.job_id));
    for (const [jobId, text] of [...this.#commentQueue]) {
      this.#commentQueue.delete(jobId);
      if (!pending.has(jobId)) continue;
      try {
        await this.#slurm.comment(jobId, text);
        this.#comments.set(jobId, text);
        this.#log.info('job waits', { jobId, reason: text });
      } catch (err) {
        this.#log.warn('could not comment job', { jobId, error: errorMessage(err) });
      }
    }
  }

  async #demand(jobs: readonly SlurmJob[]): Promise<ReturnType<typeof demandTasks>> {
    const cloudFeatures = new Set<string>();
    for (const shape of this.#config.shapes) {
      for (const f of nodeFeatures(shape, { provider: '', instanceType: shape.instanceType }))
        if (f) cloudFeatures.add(f);
    }
    // Provider kinds are features too: every configured shape's offerings carry theirs (see SlurmShapedProvider).
    for (const agent of await this.#store.agents.list({ states: NOT_TERMINATED_AGENT_STATES })) {
      if (agent.location.kind === 'cloud') cloudFeatures.add(agent.location.provider);
    }
    for (const p of this.#providerKinds) cloudFeatures.add(p);
    return demandTasks(jobs, {
      pendingReasons: new Set(this.#config.pendingReasons),
      accounts: this.#config.accounts,
      cloudFeatures,
      cloudPartitions: new Set(this.#partitions.keys()),
    });
  }

  /** Live cloud agents (not terminated, lost included) by node name. */
  async #cloudAgents(): Promise<Map<string, Agent>> {
    const byNode = new Map<string, Agent>();
    for (const agent of await this.#store.agents.list({ states: NOT_TERMINATED_AGENT_STATES })) {
      const node = agent.location.kind === 'cloud' ? this.nodeName(agent) : undefined;
      if (node) byNode.set(node, agent);
    }
    return byNode;
  }

  /** Every cloud agent, terminated ones too, by node name: completion records arrive after the fact. */
  async #allCloudAgents(): Promise<Map<string, Agent>> {
    const byNode = new Map<string, Agent>();
    for (const agent of await this.#store.agents.list()) {
      const node = agent.location.kind === 'cloud' ? this.nodeName(agent) : undefined;
      if (node) byNode.set(node, agent);
    }
    return byNode;
  }

  /**
   * The free room of the cloud nodes Slurm may place jobs on now: registered (a settling node is reported as
   * provisioning, capacity the planner counts itself), neither draining nor down, no drain or down on its way. Its
   * labels are the agent's: the offering's, Slurm features and partitions included, as the node registered them.
   */
  #cloudRooms(cloudAgents: readonly Agent[]): CloudRoom[] {
    const rooms: CloudRoom[] = [];
    for (const agent of cloudAgents) {
      const name = this.nodeName(agent);
      const node = name ? this.#nodes.get(name) : undefined;
      if (!name || !node || agent.state !== 'registered' || this.#actions.has(name)) continue;
      if (isNodeDown(node) || isNodeDraining(node)) continue;
      rooms.push({ node: name, host: agentHost(agent), free: subtract(agent.capacity, agent.allocated) });
    }
    return rooms;
  }

  #privateAgents(nowMs: number): Agent[] {
    const agents: Agent[] = [];
    for (const node of this.#nodes.values()) {
      if (node.name.startsWith(this.#config.nodePrefix) || isNodeDown(node)) continue;
      const capacity = resources({ cpuMillis: node.cpus * 1000, memoryMiB: node.real_memory });
      const allocated = resources({ cpuMillis: (node.alloc_cpus ?? 0) * 1000, memoryMiB: node.alloc_memory ?? 0 });
      agents.push({
        id: `slurm:${node.name}`,
        name: node.name,
        location: { kind: 'private', site: 'slurm' },
        capacity,
        allocated,
        labels: Object.fromEntries(
          (node.features ?? '')
            .split(',')
            .filter(Boolean)
            .map((f) => [`slurm.io/feature.${f}`, '1']),
        ),
        lifecycle: 'private',
        pricePerHourMicros: 0,
        state: isNodeDraining(node) ? 'draining' : 'registered',
        instanceId: null,
        providerId: null,
        intentId: null,
        registeredAtMs: nowMs,
        lastHeartbeatMs: nowMs,
        idleSinceMs: isNodeIdle(node) ? nowMs : null,
        reason: node.reason ?? '',
      });
    }
    return agents;
  }

  /**
   * The store's cloud agents as Slurm sees them: a registered agent whose node has not joined, or joined less than
   * settleMs ago with nothing on it, is still capacity on its way (provisioning); a draining one holds its node's
   * allocation until the node is drained.
   */
  #cloudSnapshot(cloud: ReadonlyMap<string, Agent>, nowMs: number): Agent[] {
    const agents: Agent[] = [];
    for (const [name, agent] of cloud) {
      if (agent.state === 'lost') continue;
      const node = this.#nodes.get(name);
      if (!node) {
        this.#idleSince.delete(name);
        this.#firstSeen.delete(name);
        agents.push(
          agent.state === 'registered'
            ? { ...agent, state: 'provisioning', allocated: ZERO }
            : { ...agent, allocated: ZERO },
        );
        continue;
      }
      const firstSeen = this.#firstSeen.get(name) ?? nowMs;
      this.#firstSeen.set(name, firstSeen);
      const idle = isNodeIdle(node);
      if (!idle) this.#idleSince.delete(name);
      else if (!this.#idleSince.has(name)) this.#idleSince.set(name, nowMs);
      const allocated = resources({ cpuMillis: (node.alloc_cpus ?? 0) * 1000, memoryMiB: node.alloc_memory ?? 0 });
      if (agent.state === 'registered' && idle && nowMs - firstSeen < this.#config.settleMs) {
        agents.push({ ...agent, state: 'provisioning', allocated: ZERO, idleSinceMs: null });
      } else if (agent.state === 'draining') {
        const drained = isNodeDrained(node) || isNodeDown(node);
        agents.push({ ...agent, allocated: drained ? ZERO : idle ? agent.capacity : allocated, idleSinceMs: null });
      } else {
        agents.push({ ...agent, allocated, idleSinceMs: idle ? (this.#idleSince.get(name) ?? nowMs) : null });
      }
    }
    return agents;
  }
}
