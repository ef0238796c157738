import { DatabaseSync } from 'node:sqlite';

/**
 * Every row of every table of the SQLite file at `path`, read through a separate connection (so it sees exactly what
 * was committed). Rows are sorted by their JSON text, so two dumps compare equal when the contents are equal.
 */
export function dumpSqlite(path: string): Record<string, string[]> {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const tables = db
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
      .all()
      .map((row) => String(row.name));
    const dump: Record<string, string[]> = {};
    for (const table of tables) {
      dump[table] = db
        .prepare(`SELECT * FROM "${table.replaceAll('"', '""')}"`)
        .all()
        .map((row) =>
          JSON.stringify(row, (_key, value: unknown) =>
            value instanceof Uint8Array ? Buffer.from(value).toString('hex') : value,
          ),
        )
        .sort();
    }
    return dump;
  } finally {
    db.close();
  }
}
