import { ConflictError, NotFoundError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import { TERMINAL_TASK_STATES, TaskState, type Task, type TaskConstraints, type TaskHeader } from '../../core/task.ts';
import type { TeamScope } from '../../core/team-scope.ts';
import type { NewTask, TaskAssignment, TaskCursor, TaskFilter, TaskRepo, TaskResult } from '../store.ts';
import type { SqliteLedgerRepo } from './ledger-repo.ts';
import { bool, int, intOrNull, json, resourcesOf, text, textOrNull } from './rows.ts';
import type { Row, SqliteDb } from './sqlite-db.ts';

const ACTIVE = `state IN ('placed', 'running')`;

/**
 * Tasks and their life on agents. Every write runs in a transaction of its own or joins the caller's, and checks its
 * precondition before it writes, so a method that throws changes nothing.
 *
 * The agent's idle mark follows its tasks here: placing clears it; finishing, cancelling or requeueing the agent's
 * last placed or running task sets it (keeping an earlier mark when there was one).
 *
 * So does the cost ledger: claiming opens a task's usage interval; finishing, cancelling and requeueing close it.
 */
export class SqliteTaskRepo implements TaskRepo {
  readonly #db: SqliteDb;
  readonly #ledger: SqliteLedgerRepo;

  constructor(db: SqliteDb, ledger: SqliteLedgerRepo) {
    this.#db = db;
    this.#ledger = ledger;
  }

  insert(tasks: readonly NewTask[], nowMs: number): Task[] {
    return this.#db.transaction(() =>
      tasks.map((task) => {
        const id = newId('t');
        const constraints = JSON.stringify(task.constraints);
        const command = JSON.stringify(task.command);
        this.#db.run(
          `INSERT INTO tasks (id, state, agent_id, team, project, job, cpu_millis, memory_mib, gpus, net_mbps, priority,
             revocable, constraints, command, attempts, created_at_ms, pending_since_ms)
           VALUES (?, 'pending', NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
          id,
          task.owner.team,
          task.owner.project,
          task.owner.job,
          task.resources.cpuMillis,
          task.resources.memoryMiB,
          task.resources.gpus,
          task.resources.netMbps,
          task.priority,
          task.revocable ? 1 : 0,
          constraints,
          command,
          nowMs,
          nowMs,
        );
        // Built here rather than read back: inserting 200,000 tasks at once is a benchmark case.
        const inserted: Task = {
          id,
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
        return inserted;
      }),
    );
  }

  assignment(id: string): TaskAssignment | undefined {
    const row = this.#db.get('SELECT state, agent_id FROM tasks WHERE id = ?', id);
    return row === undefined
      ? undefined
      : { state: text(row, 'state') as TaskState, agentId: textOrNull(row, 'agent_id') };
  }

  get(id: string, scope?: TeamScope): Task | undefined {
    const { where, params } = scopeWhere(scope);
    const row = this.#db.get(
      `SELECT * FROM tasks WHERE id = ?${where.map((w) => ` AND ${w}`).join('')}`,
      id,
      ...params,
    );
    return row === undefined ? undefined : toTask(row);
  }

  /**
   * The WHERE clause holds only the filters given, so SQLite can pick the index that fits each shape (a heartbeat
   * asks for one agent's running tasks among hundreds of thousands).
   */
  list(filter: TaskFilter = {}): Task[] {
    return this.#select(filter, filter.limit ?? -1).map(({ task }) => task);
  }

  /** Asks for one row more than the page holds, to know whether a next page exists. */
  page(filter: TaskFilter & { readonly limit: number }): { tasks: Task[]; next: TaskCursor | null } {
    const rows = this.#select(filter, filter.limit + 1);
    const more = rows.length > filter.limit;
    const kept = more ? rows.slice(0, filter.limit) : rows;
    const last = kept.at(-1);
    return {
      tasks: kept.map(({ task }) => task),
      next: more && last !== undefined ? { createdAtMs: last.task.createdAtMs, seq: last.seq } : null,
    };
  }

  #select(filter: TaskFilter, limit: number): { task: Task; seq: number }[];
  #select(filter: TaskFilter, limit: number, columns: string): { task: TaskHeader; seq: number }[];
  /**
   * Tasks in the listing's order (newest first), at most `limit` (-1: all). Filtered by states, each state is read on
   * its own along tasks_by_state_created, `limit` rows at most, and the few read are merged: a page never reads, let
   * alone sorts, every task of a state.
   */
  #select(filter: TaskFilter, limit: number, columns = '*'): { task: TaskHeader; seq: number }[] {
    const { where, params } = scopeWhere(filter.scope);
    if (filter.after !== undefined) {
      where.push('(created_at_ms < ? OR (created_at_ms = ? AND rowid < ?))');
      params.push(filter.after.createdAtMs, filter.after.createdAtMs, filter.after.seq);
    }
    const equal = { agent_id: filter.agentId, team: filter.team, project: filter.project };
    for (const [column, value] of Object.entries(equal)) {
      if (value === undefined) continue;
      where.push(`${column} = ?`);
      params.push(value);
    }
    const order = 'ORDER BY created_at_ms DESC, rowid DESC LIMIT ?';
    const select = (extra: string[]): string => {
      const all = [...extra, ...where];
      return `SELECT rowid AS seq, ${columns} FROM tasks ${all.length > 0 ? `WHERE ${all.join(' AND ')}` : ''} ${order}`;
    };
    const convert = columns === '*' ? toTask : toTaskHeader;
    const states = filter.states === undefined ? undefined : [...new Set(filter.states)];
    let rows: Row[];
    if (states === undefined) rows = this.#db.all(select([]), ...params, limit);
    else if (states.length === 0) rows = [];
    else if (states.length === 1) rows = this.#db.all(select(['state = ?']), states[0]!, ...params, limit);
    else {
      const parts = states.map(() => `SELECT * FROM (${select(['state = ?'])})`);
      rows = this.#db.all(
        `${parts.join(' UNION ALL ')} ORDER BY created_at_ms DESC, seq DESC LIMIT ?`,
        ...states.flatMap((state) => [state, ...params, limit]),
        limit,
      );
    }
    return rows.map((row) => ({ task: convert(row), seq: int(row, 'seq') }));
  }

  countByState(): Record<TaskState, number> {
    const counts: Record<TaskState, number> = {
      pending: 0,
      placed: 0,
      running: 0,
      succeeded: 0,
      failed: 0,
      cancelled: 0,
    };
    for (const row of this.#db.all('SELECT state, count(*) AS n FROM tasks GROUP BY state')) {
      counts[text(row, 'state') as TaskState] = int(row, 'n');
    }
    return counts;
  }

  countPending(team: string): number {
    const row = this.#db.get(`SELECT count(*) AS n FROM tasks WHERE team = ? AND state = 'pending'`, team);
    return row === undefined ? 0 : int(row, 'n');
  }

  pending(): TaskHeader[] {
    return this.#db
      .all(
        `SELECT ${HEADER_COLUMNS} FROM tasks WHERE state = 'pending' ORDER BY priority DESC, pending_since_ms, rowid`,
      )
      .map(toTaskHeader);
  }

  listHeaders(filter: TaskFilter = {}): TaskHeader[] {
    return this.#select(filter, filter.limit ?? -1, HEADER_COLUMNS).map(({ task }) => task);
  }

  place(taskId: string, agentId: string, _nowMs: number): void {
    this.#db.transaction(() => {
      const doing = `placing task ${taskId} on agent ${agentId}`;
      // The control loop places: it reads the state alone, never the payload.
      const row = this.#db.get('SELECT state FROM tasks WHERE id = ?', taskId);
      if (row === undefined) throw new NotFoundError(`${doing}: there is no such task`);
      const task = { state: text(row, 'state') as TaskState };
      const agent = this.#db.get('SELECT state FROM agents WHERE id = ?', agentId);
      if (agent === undefined) throw new NotFoundError(`${doing}: there is no such agent`);
      const agentState = text(agent, 'state');
      if (task.state !== TaskState.pending || agentState !== 'registered') {
        throw new ConflictError(
          `${doing}: the task is ${task.state} and the agent is ${agentState}; it takes a pending task and a registered agent`,
        );
      }
      this.#db.run(
        `UPDATE tasks SET state = 'placed', agent_id = ?, reason = ? WHERE id = ?`,
        agentId,
        `placed on agent ${agentId}`,
        taskId,
      );
      // Clearing a mark that is not set would rewrite the agent's row for nothing (placing a task on a busy agent).
      this.#db.run('UPDATE agents SET idle_since_ms = NULL WHERE id = ? AND idle_since_ms IS NOT NULL', agentId);
    });
  }

  claim(agentId: string, nowMs: number): Task[] {
    return this.#db.transaction(() => {
      const claimed = this.#db
        .all(
          // The partial index of active tasks: an agent's finished tasks (thousands on a private one) are not read.
          `UPDATE tasks INDEXED BY tasks_allocated SET state = 'running', started_at_ms = ?, reason = ?
           WHERE ${ACTIVE} AND agent_id = ? AND state = 'placed'
           RETURNING *`,
          nowMs,
          `running on agent ${agentId}`,
          agentId,
        )
        .map(toTask)
        .sort((a, b) => b.priority - a.priority || a.pendingSinceMs - b.pendingSinceMs);
      this.#ledger.openForClaims(agentId, claimed, nowMs);
      return claimed;
    });
  }

  noteWaiting(reasons: readonly { readonly taskId: string; readonly reason: string }[]): string[] {
    if (reasons.length === 0) return [];
    return this.#db.transaction(() => {
      const changed: string[] = [];
      for (const { taskId, reason } of reasons) {
        const changes = this.#db.run(
          `UPDATE tasks SET reason = ? WHERE id = ? AND state = 'pending' AND reason <> ?`,
          reason,
          taskId,
          reason,
        );
        if (changes > 0) changed.push(taskId);
      }
      return changed;
    });
  }

  /** NotFoundError for an unknown task; a task not running on this agent keeps its output as it is. */
  recordOutput(taskId: string, agentId: string, outputTail: string): void {
    this.#db.transaction(() => {
      this.#mustGet(taskId, `recording the output of task ${taskId}`);
      this.#db.run(
        `UPDATE tasks SET output_tail = ? WHERE id = ? AND agent_id = ? AND state = 'running'`,
        outputTail,
        taskId,
        agentId,
      );
    });
  }

  finish(taskId: string, agentId: string, result: TaskResult, nowMs: number): Task {
    return this.#db.transaction(() => {
      const doing = `finishing task ${taskId} on agent ${agentId}`;
      const task = this.#mustGet(taskId, doing);
      if (!isActiveOn(task, agentId)) return task;
      const finished: Task = {
        ...task,
        state: result.exitCode === 0 ? TaskState.succeeded : TaskState.failed,
        finishedAtMs: nowMs,
        exitCode: result.exitCode,
        outputTail: result.outputTail,
        reason:
          result.reason === undefined
            ? `exited with code ${result.exitCode} on agent ${agentId}`
            : `${result.reason} (exited with code ${result.exitCode} on agent ${agentId})`,
      };
      this.#db.run(
        `UPDATE tasks SET state = ?, finished_at_ms = ?, exit_code = ?, output_tail = ?, reason = ? WHERE id = ?`,
        finished.state,
        finished.finishedAtMs,
        finished.exitCode,
        finished.outputTail,
        finished.reason,
        taskId,
      );
      this.#ledger.closeUsageInterval(taskId, nowMs, result.usage);
      this.markIdleIfFree(agentId, nowMs);
      // The row as written (these five columns are all the update changes), not read back: one agent report each.
      return finished;
    });
  }

  cancel(taskId: string, reason: string, nowMs: number): Task {
    return this.#db.transaction(() => {
      const doing = `cancelling task ${taskId}`;
      const task = this.#mustGet(taskId, doing);
      if (TERMINAL_TASK_STATES.has(task.state)) throw new ConflictError(`${doing}: it is already ${task.state}`);
      this.#db.run(
        `UPDATE tasks SET state = 'cancelled', finished_at_ms = ?, reason = ? WHERE id = ?`,
        nowMs,
        reason,
        taskId,
      );
      this.#ledger.closeUsageInterval(taskId, nowMs);
      if (task.agentId !== null) this.markIdleIfFree(task.agentId, nowMs);
      return this.#mustGet(taskId, doing);
    });
  }

  /** ConflictError when the task is not placed or running on this agent (it finished, or moved on). */
  requeue(taskId: string, agentId: string, reason: string, nowMs: number): Task {
    return this.#db.transaction(() => {
      const doing = `returning task ${taskId} from agent ${agentId} to pending`;
      const task = this.#mustGet(taskId, doing);
      if (!isActiveOn(task, agentId)) {
        const where = task.agentId === null ? 'on no agent' : `on agent ${task.agentId}`;
        throw new ConflictError(`${doing}: the task is ${task.state} ${where}`);
      }
      this.#db.run(`${REQUEUE} WHERE id = ?`, nowMs, reason, taskId);
      this.#ledger.closeUsageInterval(taskId, nowMs);
      this.markIdleIfFree(agentId, nowMs);
      return this.#mustGet(taskId, doing);
    });
  }

  requeueAgent(agentId: string, reason: string, nowMs: number): number {
    return this.#db.transaction(() => {
      const changed = this.#db.run(`${REQUEUE} WHERE agent_id = ? AND ${ACTIVE}`, nowMs, reason, agentId);
      this.#ledger.closeUsageOnAgent(agentId, nowMs);
      this.markIdleIfFree(agentId, nowMs);
      return changed;
    });
  }

  /** Sets the agent's idle mark to `nowMs` when it has no placed or running task and is not marked already. */
  markIdleIfFree(agentId: string, nowMs: number): void {
    this.#db.run(
      `UPDATE agents SET idle_since_ms = ?
       WHERE id = ? AND idle_since_ms IS NULL
         AND NOT EXISTS (SELECT 1 FROM tasks WHERE agent_id = agents.id AND ${ACTIVE})`,
      nowMs,
      agentId,
    );
  }

  #mustGet(id: string, doing: string): Task {
    const task = this.get(id);
    if (task === undefined) throw new NotFoundError(`${doing}: there is no such task`);
    return task;
  }
}

/** The WHERE terms that keep a scoped caller to its teams and projects; none without a scope. */
function scopeWhere(scope: TeamScope | undefined): { where: string[]; params: (string | number)[] } {
  if (scope === undefined) return { where: [], params: [] };
  const where = ['team IN (SELECT value FROM json_each(?))'];
  const params: (string | number)[] = [JSON.stringify(scope.teams)];
  if (scope.projects !== undefined) {
    where.push('project IN (SELECT value FROM json_each(?))');
    params.push(JSON.stringify(scope.projects));
  }
  return { where, params };
}

const REQUEUE = `UPDATE tasks SET state = 'pending', agent_id = NULL, attempts = attempts + 1, pending_since_ms = ?,
  started_at_ms = NULL, reason = ?`;

function isActiveOn(task: Task, agentId: string): boolean {
  return task.agentId === agentId && (task.state === TaskState.placed || task.state === TaskState.running);
}

/** Every column but the payload (command, output_tail). */
export const HEADER_COLUMNS = `id, state, agent_id, team, project, job, cpu_millis, memory_mib, gpus, net_mbps, priority,
  revocable, constraints, attempts, created_at_ms, pending_since_ms, started_at_ms, finished_at_ms, exit_code, reason`;

function toTask(row: Row): Task {
  return { ...toTaskHeader(row), command: json<string[]>(row, 'command'), outputTail: text(row, 'output_tail') };
}

export function toTaskHeader(row: Row): TaskHeader {
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
