import type { TaskHeader } from '../../core/task.ts';
import type { Intent } from '../../core/intent.ts';
import type { AgentRecord, ChangeRepo, ModelRows, Recorded } from '../store.ts';
import { toAgent } from './agent-repo.ts';
import { toIntent } from './intent-repo.ts';
import { int } from './rows.ts';
import type { Row, SqliteDb } from './sqlite-db.ts';
import { HEADER_COLUMNS, toTaskHeader } from './task-repo.ts';
import { ZERO } from '../../core/resources.ts';

/**
 * Reads for the in-memory model by revision (schema-revision.ts). `since` uses the `*_by_rev` indexes, so a pass after
 * which little changed reads little, whatever the size of the pool.
 */
export class SqliteChangeRepo implements ChangeRepo {
  readonly #db: SqliteDb;

  constructor(db: SqliteDb) {
    this.#db = db;
  }

  current(): ModelRows {
    return this.#db.read(() => ({
      rev: this.#rev(),
      agents: this.#db
        .all(
          `SELECT rowid AS seq, * FROM agents INDEXED BY agents_by_state WHERE state IN ('provisioning', 'registered', 'draining', 'lost') ORDER BY rowid`,
        )
        .map(recordedAgent),
      tasks: this.#db
        .all(`SELECT rowid AS seq, ${HEADER_COLUMNS} FROM tasks WHERE state IN ('pending', 'placed', 'running')`)
        .map(recordedTask),
      intents: this.#db
        .all(`SELECT rowid AS seq, * FROM intents WHERE state = 'pending' ORDER BY created_at_ms, rowid`)
        .map(recordedIntent),
    }));
  }

  since(rev: number): ModelRows {
    return this.#db.read(() => {
      const now = this.#rev();
      if (now === rev) return { rev, agents: [], tasks: [], intents: [] };
      return {
        rev: now,
        agents: this.#db.all('SELECT rowid AS seq, * FROM agents WHERE rev > ? ORDER BY rowid', rev).map(recordedAgent),
        tasks: this.#db.all(`SELECT rowid AS seq, ${HEADER_COLUMNS} FROM tasks WHERE rev > ?`, rev).map(recordedTask),
        intents: this.#db
          .all('SELECT rowid AS seq, * FROM intents WHERE rev > ? ORDER BY created_at_ms, rowid', rev)
          .map(recordedIntent),
      };
    });
  }

  #rev(): number {
    const row = this.#db.get('SELECT rev FROM revision WHERE id = 1');
    return row === undefined ? 0 : int(row, 'rev');
  }
}

function recordedAgent(row: Row): Recorded<AgentRecord> {
  const { allocated: _allocated, ...record } = toAgent(row, ZERO);
  return { seq: int(row, 'seq'), row: record };
}

function recordedTask(row: Row): Recorded<TaskHeader> {
  return { seq: int(row, 'seq'), row: toTaskHeader(row) };
}

function recordedIntent(row: Row): Recorded<Intent> {
  return { seq: int(row, 'seq'), row: toIntent(row) };
}
