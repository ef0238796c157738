import { ConflictError, NotFoundError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import { TERMINAL_TASK_STATES, TaskState, type Task, type TaskConstraints, type TaskHeader } from '../../core/task.ts';
import type { TeamScope } from '../../core/team-scope.ts';
import type { AsyncRepo } from '../async-store.ts';
import type { NewTask, TaskAssignment, TaskCursor, TaskFilter, TaskRepo, TaskResult } from '../store.ts';
import type { PgLedgerRepo } from './ledger-repo.ts';
import type { PgDb, PgRow } from './pg-db.ts';
import { bool, int, intOrNull, json, resourcesOf, text, textOrNull } from './rows.ts';

const ACTIVE = `state IN ('placed', 'running')`;

/**
 * Tasks and their life on agents, on PostgreSQL: the same contract as SqliteTaskRepo (the agent's idle mark and the
 * cost ledger follow the tasks in the same transaction). Transactions are READ COMMITTED, so a method that reads
 * before it writes locks the rows it read (FOR UPDATE) and checks its precondition on what it locked: two controllers
 * or API requests racing on one task take turns, and the loser sees the winner's state.
 */
export class PgTaskRepo implements AsyncRepo<TaskRepo> {
  readonly #db: PgDb;
  readonly #ledger: PgLedgerRepo;

  constructor(db: PgDb, ledger: PgLedgerRepo) {
    this.#db = db;
    this.#ledger = ledger;
  }

  /** One statement for the whole batch (arrays unnested), so a large submission is one round trip. */
  async insert(tasks: readonly NewTask[], nowMs: number): Promise<Task[]> {
    if (tasks.length === 0) return [];
    const inserted = tasks.map((task): Task => {
      const constraints = JSON.stringify(task.constraints);
      const command = JSON.stringify(task.command);
      return {
        id: newId('t'),
        owner: { team: task.owner.team, project: task.owner.project, job: task.owner.job },
        resources: {
          cpuMillis: task.resources.cpuMillis,
          memoryMiB: task.resources.memoryMiB,
          gpus: task.resources.gpus,
          netMbps: task.resources.netMbps,
        },
        priority: task.priority,
        revocable: task.revocable,
        constraints: JSON.parse(constraints) as TaskConstraints,
        command: JSON.parse(command) as string[],
        state: TaskState.pending,
        agentId: null,
        attempts: 0,
        createdAtMs: nowMs,
        pendingSinceMs: nowMs,
        startedAtMs: null,
        finishedAtMs: null,
        exitCode: null,
        outputTail: '',
        reason: '',
      };
    });
    const column = <T>(pick: (task: Task) => T): T[] => inserted.map(pick);
    await this.#db.run(
      `INSERT INTO tasks (id, state, agent_id, team, project, job, cpu_millis, memory_mib, gpus, net_mbps, priority,
         revocable, constraints, command, attempts, created_at_ms, pending_since_ms)
       SELECT id, 'pending', NULL, team, project, job, cpu, mem, gpus, net, priority, revocable, constraints, command,
         0, $13, $13
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[], $7::int[], $8::int[],
         $9::int[], $10::boolean[], $11::text[], $12::text[]) WITH ORDINALITY
         AS t(id, team, project, job, cpu, mem, gpus, net, priority, revocable, constraints, command, n)
       ORDER BY n`,
      [
        column((t) => t.id),
        column((t) => t.owner.team),
        column((t) => t.owner.project),
        column((t) => t.owner.job),
        column((t) => t.resources.cpuMillis),
        column((t) => t.resources.memoryMiB),
        column((t) => t.resources.gpus),
        column((t) => t.resources.netMbps),
        column((t) => t.priority),
        column((t) => t.revocable),
        column((t) => JSON.stringify(t.constraints)),
        column((t) => JSON.stringify(t.command)),
        nowMs,
      ],
    );
    return inserted;
  }

  async assignment(id: string): Promise<TaskAssignment | undefined> {
    const row = await this.#db.get('SELECT state, agent_id FROM tasks WHERE id = $1', [id]);
    return row === undefined
      ? undefined
      : { state: text(row, 'state') as TaskState, agentId: textOrNull(row, 'agent_id') };
  }

  async get(id: string, scope?: TeamScope): Promise<Task | undefined> {
    const params: unknown[] = [id];
    const where = scopeWhere(scope, params);
    const row = await this.#db.get(
      `SELECT * FROM tasks WHERE id = $1${where.map((w) => ` AND ${w}`).join('')}`,
      params,
    );
    return row === undefined ? undefined : toTask(row);
  }

  async list(filter: TaskFilter = {}): Promise<Task[]> {
    return (await this.#select(filter, filter.limit)).map(({ row }) => toTask(row));
  }

  /** Asks for one row more than the page holds, to know whether a next page exists. */
  async page(filter: TaskFilter & { readonly limit: number }): Promise<{ tasks: Task[]; next: TaskCursor | null }> {
    const rows = await this.#select(filter, filter.limit + 1);
    const more = rows.length > filter.limit;
    const kept = more ? rows.slice(0, filter.limit) : rows;
    const last = kept.at(-1);
    return {
      tasks: kept.map(({ row }) => toTask(row)),
      next: more && last !== undefined ? { createdAtMs: int(last.row, 'created_at_ms'), seq: last.seq } : null,
    };
  }

  async #select(filter: TaskFilter, limit: number | undefined, columns = '*'): Promise<{ row: PgRow; seq: number }[]> {
    const params: unknown[] = [];
    const bind = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    const where = scopeWhere(filter.scope, params);
    if (filter.after !== undefined) {
      const created = bind(filter.after.createdAtMs);
      where.push(`(created_at_ms < ${created} OR (created_at_ms = ${created} AND seq < ${bind(filter.after.seq)}))`);
    }
    if (filter.states !== undefined) where.push(`state = ANY(${bind(filter.states)}::text[])`);
    const equal = { agent_id: filter.agentId, team: filter.team, project: filter.project };
    for (const [name, value] of Object.entries(equal)) {
      if (value !== undefined) where.push(`${name} = ${bind(value)}`);
    }
    const sql = `SELECT seq, ${columns} FROM tasks ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY created_at_ms DESC, seq DESC ${limit === undefined || limit < 0 ? '' : `LIMIT ${bind(limit)}`}`;
    return (await this.#db.all(sql, params)).map((row) => ({ row, seq: int(row, 'seq') }));
  }

  async countByState(): Promise<Record<TaskState, number>> {
    const counts: Record<TaskState, number> = {
      pending: 0,
      placed: 0,
      running: 0,
      succeeded: 0,
      failed: 0,
      cancelled: 0,
    };
    for (const row of await this.#db.all('SELECT state, count(*) AS n FROM tasks GROUP BY state')) {
      counts[text(row, 'state') as TaskState] = int(row, 'n');
    }
    return counts;
  }

  /**
   * Inside a transaction, first takes the team's pending-quota lock (a transaction-scoped advisory lock) until the
   * transaction ends: under READ COMMITTED two submissions checking one team's `maxPendingPerTeam` at once would
   * otherwise both count the same total and both insert. The second now waits, then counts the first's committed
   * tasks (each statement reads the newest committed data). Callers checking several teams take them in one order
   * (the API sorts them), so two submissions never wait for each other in a cycle.
   */
  async countPending(team: string): Promise<number> {
    if (this.#db.inTransaction) {
      await this.#db.run(`SELECT pg_advisory_xact_lock(hashtext('spillway.pending'), hashtext($1))`, [team]);
    }
    const row = await this.#db.get(`SELECT count(*) AS n FROM tasks WHERE team = $1 AND state = 'pending'`, [team]);
    return row === undefined ? 0 : int(row, 'n');
  }

  async pending(): Promise<TaskHeader[]> {
    const rows = await this.#db.all(
      `SELECT ${HEADER_COLUMNS} FROM tasks WHERE state = 'pending' ORDER BY priority DESC, pending_since_ms, seq`,
    );
    return rows.map(toTaskHeader);
  }

  async listHeaders(filter: TaskFilter = {}): Promise<TaskHeader[]> {
    return (await this.#select(filter, filter.limit, HEADER_COLUMNS)).map(({ row }) => toTaskHeader(row));
  }

  async place(taskId: string, agentId: string, _nowMs: number): Promise<void> {
    await this.#db.transaction(async () => {
      const doing = `placing task ${taskId} on agent ${agentId}`;
      const row = await this.#db.get('SELECT state FROM tasks WHERE id = $1 FOR UPDATE', [taskId]);
      if (row === undefined) throw new NotFoundError(`${doing}: there is no such task`);
      const taskState = text(row, 'state');
      const agent = await this.#db.get('SELECT state FROM agents WHERE id = $1 FOR UPDATE', [agentId]);
      if (agent === undefined) throw new NotFoundError(`${doing}: there is no such agent`);
      const agentState = text(agent, 'state');
      if (taskState !== TaskState.pending || agentState !== 'registered') {
        throw new ConflictError(
          `${doing}: the task is ${taskState} and the agent is ${agentState}; it takes a pending task and a registered agent`,
        );
      }
      await this.#db.run(`UPDATE tasks SET state = 'placed', agent_id = $1, reason = $2 WHERE id = $3`, [
        agentId,
        `placed on agent ${agentId}`,
        taskId,
      ]);
      await this.#db.run('UPDATE agents SET idle_since_ms = NULL WHERE id = $1', [agentId]);
    });
  }

  async claim(agentId: string, nowMs: number): Promise<Task[]> {
    return this.#db.transaction(async () => {
      const claimed = (
        await this.#db.all(
          `UPDATE tasks SET state = 'running', started_at_ms = $1, reason = $2
           WHERE agent_id = $3 AND state = 'placed'
           RETURNING *`,
          [nowMs, `running on agent ${agentId}`, agentId],
        )
      )
        .map(toTask)
        .sort((a, b) => b.priority - a.priority || a.pendingSinceMs - b.pendingSinceMs);
      await this.#ledger.openForClaims(agentId, claimed, nowMs);
      return claimed;
    });
  }

  async noteWaiting(reasons: readonly { readonly taskId: string; readonly reason: string }[]): Promise<string[]> {
    if (reasons.length === 0) return [];
    const rows = await this.#db.all(
      `UPDATE tasks SET reason = r.reason
       FROM unnest($1::text[], $2::text[]) AS r(id, reason)
       WHERE tasks.id = r.id AND tasks.state = 'pending' AND tasks.reason <> r.reason
       RETURNING tasks.id`,
      [reasons.map((r) => r.taskId), reasons.map((r) => r.reason)],
    );
    const changed = new Set(rows.map((row) => text(row, 'id')));
    // In the callers' order, as SQLite returns them.
    return [...new Set(reasons.map((r) => r.taskId))].filter((id) => changed.has(id));
  }

  /** NotFoundError for an unknown task; a task not running on this agent keeps its output as it is. */
  async recordOutput(taskId: string, agentId: string, outputTail: string): Promise<void> {
    await this.#db.transaction(async () => {
      await this.#mustLock(taskId, `recording the output of task ${taskId}`);
      await this.#db.run(`UPDATE tasks SET output_tail = $1 WHERE id = $2 AND agent_id = $3 AND state = 'running'`, [
        outputTail,
        taskId,
        agentId,
      ]);
    });
  }

  async finish(taskId: string, agentId: string, result: TaskResult, nowMs: number): Promise<Task> {
    return this.#db.transaction(async () => {
      const doing = `finishing task ${taskId} on agent ${agentId}`;
      const task = await this.#mustLock(taskId, doing);
      if (!isActiveOn(task, agentId)) return task;
      await this.#db.run(
        `UPDATE tasks SET state = $1, finished_at_ms = $2, exit_code = $3, output_tail = $4, reason = $5 WHERE id = $6`,
        [
          result.exitCode === 0 ? TaskState.succeeded : TaskState.failed,
          nowMs,
          result.exitCode,
          result.outputTail,
          result.reason === undefined
            ? `exited with code ${result.exitCode} on agent ${agentId}`
            : `${result.reason} (exited with code ${result.exitCode} on agent ${agentId})`,
          taskId,
        ],
      );
      await this.#ledger.closeUsageInterval(taskId, nowMs, result.usage);
      await this.markIdleIfFree(agentId, nowMs);
      return this.#mustLock(taskId, doing);
    });
  }

  async cancel(taskId: string, reason: string, nowMs: number): Promise<Task> {
    return this.#db.transaction(async () => {
      const doing = `cancelling task ${taskId}`;
      const task = await this.#mustLock(taskId, doing);
      if (TERMINAL_TASK_STATES.has(task.state)) throw new ConflictError(`${doing}: it is already ${task.state}`);
      await this.#db.run(`UPDATE tasks SET state = 'cancelled', finished_at_ms = $1, reason = $2 WHERE id = $3`, [
        nowMs,
        reason,
        taskId,
      ]);
      await this.#ledger.closeUsageInterval(taskId, nowMs);
      if (task.agentId !== null) await this.markIdleIfFree(task.agentId, nowMs);
      return this.#mustLock(taskId, doing);
    });
  }

  /** ConflictError when the task is not placed or running on this agent (it finished, or moved on). */
  async requeue(taskId: string, agentId: string, reason: string, nowMs: number): Promise<Task> {
    return this.#db.transaction(async () => {
      const doing = `returning task ${taskId} from agent ${agentId} to pending`;
      const task = await this.#mustLock(taskId, doing);
      if (!isActiveOn(task, agentId)) {
        const where = task.agentId === null ? 'on no agent' : `on agent ${task.agentId}`;
        throw new ConflictError(`${doing}: the task is ${task.state} ${where}`);
      }
      await this.#db.run(`${REQUEUE} WHERE id = $3`, [nowMs, reason, taskId]);
      await this.#ledger.closeUsageInterval(taskId, nowMs);
      await this.markIdleIfFree(agentId, nowMs);
      return this.#mustLock(taskId, doing);
    });
  }

  async requeueAgent(agentId: string, reason: string, nowMs: number): Promise<number> {
    return this.#db.transaction(async () => {
      const changed = await this.#db.run(`${REQUEUE} WHERE agent_id = $3 AND ${ACTIVE}`, [nowMs, reason, agentId]);
      await this.#ledger.closeUsageOnAgent(agentId, nowMs);
      await this.markIdleIfFree(agentId, nowMs);
      return changed;
    });
  }

  /**
   * Sets the agent's idle mark to `nowMs` when it has no placed or running task and is not marked already. Locks the
   * agent's row first and checks in a statement of its own: under READ COMMITTED one UPDATE's subquery would read the
   * snapshot it started with, so two transactions ending the agent's last two tasks at once could each still see the
   * other's task and neither set the mark.
   */
  async markIdleIfFree(agentId: string, nowMs: number): Promise<void> {
    await this.#db.get('SELECT 1 FROM agents WHERE id = $1 FOR UPDATE', [agentId]);
    await this.#db.run(
      `UPDATE agents SET idle_since_ms = $1
       WHERE id = $2 AND idle_since_ms IS NULL
         AND NOT EXISTS (SELECT 1 FROM tasks WHERE agent_id = agents.id AND ${ACTIVE})`,
      [nowMs, agentId],
    );
  }

  /** The task, its row locked until the transaction ends; NotFoundError when there is none. */
  async #mustLock(id: string, doing: string): Promise<Task> {
    const row = await this.#db.get('SELECT * FROM tasks WHERE id = $1 FOR UPDATE', [id]);
    if (row === undefined) throw new NotFoundError(`${doing}: there is no such task`);
    return toTask(row);
  }
}

/** The WHERE terms that keep a scoped caller to its teams and projects (parameters appended to `params`). */
function scopeWhere(scope: TeamScope | undefined, params: unknown[]): string[] {
  if (scope === undefined) return [];
  params.push(scope.teams);
  const where = [`team = ANY($${params.length}::text[])`];
  if (scope.projects !== undefined) {
    params.push(scope.projects);
    where.push(`project = ANY($${params.length}::text[])`);
  }
  return where;
}

const REQUEUE = `UPDATE tasks SET state = 'pending', agent_id = NULL, attempts = attempts + 1, pending_since_ms = $1,
  started_at_ms = NULL, reason = $2`;

function isActiveOn(task: Task, agentId: string): boolean {
  return task.agentId === agentId && (task.state === TaskState.placed || task.state === TaskState.running);
}

/** Every column but the payload (command, output_tail). */
export const HEADER_COLUMNS = `id, state, agent_id, team, project, job, cpu_millis, memory_mib, gpus, net_mbps, priority,
  revocable, constraints, attempts, created_at_ms, pending_since_ms, started_at_ms, finished_at_ms, exit_code, reason`;

function toTask(row: PgRow): Task {
  return { ...toTaskHeader(row), command: json<string[]>(row, 'command'), outputTail: text(row, 'output_tail') };
}

export function toTaskHeader(row: PgRow): TaskHeader {
  return {
    id: text(row, 'id'),
    owner: { team: text(row, 'team'), project: text(row, 'project'), job: text(row, 'job') },
    resources: resourcesOf(row),
    priority: int(row, 'priority'),
    revocable: bool(row, 'revocable'),
    constraints: json<TaskConstraints>(row, 'constraints'),
    state: text(row, 'state') as TaskState,
    agentId: textOrNull(row, 'agent_id'),
    attempts: int(row, 'attempts'),
    createdAtMs: int(row, 'created_at_ms'),
    pendingSinceMs: int(row, 'pending_since_ms'),
    startedAtMs: intOrNull(row, 'started_at_ms'),
    finishedAtMs: intOrNull(row, 'finished_at_ms'),
    exitCode: intOrNull(row, 'exit_code'),
    reason: text(row, 'reason'),
  };
}
