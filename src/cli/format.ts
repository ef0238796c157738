/**
 * Output rendering for every command: aligned tables for people, RFC 4180 CSV and JSON for programs. Pure functions:
 * they return text and never write.
 */
import { escapeControl } from './terminal-text.ts';

export const OutputFormat = { table: 'table', json: 'json', csv: 'csv', yaml: 'yaml' } as const;
export type OutputFormat = (typeof OutputFormat)[keyof typeof OutputFormat];

export type Cell = string | number | boolean | null | undefined;

export interface Column {
  readonly header: string;
  /** Numbers read best right-aligned; default left. */
  readonly align?: 'left' | 'right';
}

export interface Table {
  readonly columns: readonly Column[];
  readonly rows: readonly (readonly Cell[])[];
}

function cellText(cell: Cell): string {
  if (cell === null || cell === undefined) return '';
  return String(cell);
}

/** A cell for a terminal: control characters escaped, whoever wrote the text. */
function shownText(cell: Cell): string {
  return escapeControl(cellText(cell));
}

/** Display width in code points, so `é` or `✓` count once. */
function width(text: string): number {
  return [...text].length;
}

/**
 * Aligned columns separated by two spaces, with the headers on the first line. Line breaks inside a cell are shown
 * as `\n` so one row stays one line. The last column is not padded, so lines carry no trailing spaces.
 */
export function renderTable(table: Table): string {
  const grid = [
    table.columns.map((c) => c.header),
    ...table.rows.map((row) => table.columns.map((_, i) => shownText(row[i]).replace(/\n/g, '\\n'))),
  ];
  const widths = table.columns.map((_, i) => Math.max(...grid.map((line) => width(line[i] ?? ''))));
  const lines = grid.map((line) =>
    line
      .map((text, i) => {
        const last = i === line.length - 1;
        const pad = ' '.repeat((widths[i] ?? 0) - width(text));
        if (table.columns[i]?.align === 'right') return pad + text;
        return last ? text : text + pad;
      })
      .join('  ')
      .trimEnd(),
  );
  return `${lines.join('\n')}\n`;
}

/**
 * One CSV field: quoted when it holds a comma, a double quote, CR or LF; inner quotes doubled (RFC 4180). A text cell
 * that begins with `=`, `+`, `-`, `@`, tab or carriage return would run as a formula in a spreadsheet (a team named
 * `=HYPERLINK(...)`): it gets a leading `'` and quotes, as OWASP's CSV injection guidance says. Numbers stay numbers.
 */
export function csvField(cell: Cell): string {
  const text = cellText(cell);
  // A lone dash (an empty value) and a negative number written as text compute nothing.
  const formula = typeof cell === 'string' && /^[=+\-@\t\r]/.test(text) && !/^-(\d+(\.\d+)?)?$/.test(text);
  if (!formula && !/[",\r\n]/.test(text)) return text;
  return `"${formula ? "'" : ''}${text.replace(/"/g, '""')}"`;
}

/** RFC 4180 CSV: a header record, then one record per row, every record ended by CRLF. */
export function renderCsv(table: Table): string {
  const records = [table.columns.map((c) => c.header), ...table.rows.map((row) => table.columns.map((_, i) => row[i]))];
  return records.map((record) => `${record.map(csvField).join(',')}\r\n`).join('');
}

/** Indented JSON with a final newline. */
export function renderJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Key-value lines (`key  value`), keys aligned, for one object shown to a person. */
export function renderFields(fields: readonly (readonly [string, Cell])[]): string {
  if (fields.length === 0) return '';
  const keyWidth = Math.max(...fields.map(([key]) => width(key)));
  const lines = fields.map(([key, value]) =>
    `${key}${' '.repeat(keyWidth - width(key))}  ${shownText(value).replace(/\n/g, '\\n')}`.trimEnd(),
  );
  return `${lines.join('\n')}\n`;
}

/** A duration for people: `45s`, `12m`, `3h`, `2d`. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** Dollars per hour: `$0.0832/h`, with four decimals because cloud prices are quoted to the hundredth of a cent. */
export function formatUsdPerHour(usd: number): string {
  return `$${usd.toFixed(4)}/h`;
}

/** Epoch milliseconds as ISO 8601 UTC, or empty for null. */
export function formatTime(ms: number | null): string {
  return ms === null ? '' : new Date(ms).toISOString();
}

/**
 * Renders a command's result in the chosen format: `json` prints the API's answer as it is (scripts rely on its
 * shape), `table` and `csv` print the rows a command chose for people and spreadsheets.
 */
export function render(format: OutputFormat, json: unknown, table: () => Table, csv: () => Table = table): string {
  if (format === OutputFormat.json) return renderJson(json);
  if (format === OutputFormat.csv) return renderCsv(csv());
  return renderTable(table());
}

/** An argv as a person would type it in a POSIX shell: plain words bare, anything else single-quoted. */
export function quoteArgv(argv: readonly string[]): string {
  return argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}
