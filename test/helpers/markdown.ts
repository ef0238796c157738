/**
 * A small reader of the Markdown the README uses, for the README checks (test/docs/readme.test.ts): fenced blocks,
 * inline code spans and pipe tables, each with the 1-based line it starts on, and the check markers placed before a
 * block or table as HTML comments (`<!-- readme-check: ... -->`, invisible when the page is rendered).
 */

export interface FencedBlock {
  /** The info string's first word: `yaml`, `sh`, or '' for a plain fence. */
  readonly lang: string;
  /** The line of the first line inside the fence. */
  readonly firstLine: number;
  readonly lines: readonly string[];
  /** The marker just above the fence (blank lines between allowed), without `readme-check:`. */
  readonly marker: string | undefined;
}

export interface CodeSpan {
  readonly text: string;
  readonly line: number;
}

export interface TableRow {
  readonly line: number;
  /** The cells as written, `\|` kept escaped. */
  readonly cells: readonly string[];
}

export interface Table {
  readonly headerLine: number;
  /** The header cells, trimmed and lowercased. */
  readonly header: readonly string[];
  readonly rows: readonly TableRow[];
  readonly marker: string | undefined;
}

export interface MarkdownDoc {
  readonly blocks: readonly FencedBlock[];
  /** Inline code spans outside fenced blocks, tables included. */
  readonly spans: readonly CodeSpan[];
  readonly tables: readonly Table[];
  /** Every line, with the lines of fenced blocks included; index 0 is line 1. */
  readonly lines: readonly string[];
}

const MARKER = /^<!--\s*readme-check:\s*(.*?)\s*-->$/;

function markerAbove(lines: readonly string[], index: number): string | undefined {
  for (let i = index - 1; i >= 0; i -= 1) {
    const line = (lines[i] ?? '').trim();
    if (line === '') continue;
    return MARKER.exec(line)?.[1];
  }
  return undefined;
}

/** Splits a table row on its unescaped pipes; the outer pipes are dropped. */
export function splitRow(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let inCode = false;
  const body = line.trim().replace(/^\|/, '').replace(/\|$/, '');
  for (let i = 0; i < body.length; i += 1) {
    const c = body[i];
    if (c === '\\' && body[i + 1] === '|') {
      cell += '\\|';
      i += 1;
    } else if (c === '`') {
      inCode = !inCode;
      cell += c;
    } else if (c === '|' && !inCode) {
      cells.push(cell.trim());
      cell = '';
    } else {
      cell += c;
    }
  }
  cells.push(cell.trim());
  return cells;
}

/** The inline code spans of one line of prose or one table cell (single backticks, as the README writes them). */
export function codeSpans(text: string): string[] {
  return [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');
}

export function readMarkdown(text: string): MarkdownDoc {
  const lines = text.split('\n');
  const blocks: FencedBlock[] = [];
  const spans: CodeSpan[] = [];
  const tables: Table[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i] ?? '';
    const fence = /^(\s*)(```+)\s*([^\s`]*)/.exec(line);
    if (fence) {
      const close = fence[2] ?? '```';
      const body: string[] = [];
      let j = i + 1;
      while (j < lines.length && !(lines[j] ?? '').trim().startsWith(close)) body.push(lines[j++] ?? '');
      blocks.push({ lang: fence[3] ?? '', firstLine: i + 2, lines: body, marker: markerAbove(lines, i) });
      i = j;
      continue;
    }
    if (/^\s*\|/.test(line) && /^\s*\|?\s*:?-{3,}/.test(lines[i + 1] ?? '')) {
      const header = splitRow(line).map((cell) => cell.toLowerCase());
      const rows: TableRow[] = [];
      let j = i + 2;
      while (j < lines.length && /^\s*\|/.test(lines[j] ?? '')) {
        rows.push({ line: j + 1, cells: splitRow(lines[j] ?? '') });
        j += 1;
      }
      tables.push({ headerLine: i + 1, header, rows, marker: markerAbove(lines, i) });
      for (let k = i; k < j; k += 1) {
        for (const span of codeSpans(lines[k] ?? '')) spans.push({ text: span, line: k + 1 });
      }
      i = j - 1;
      continue;
    }
    for (const span of codeSpans(line)) spans.push({ text: span, line: i + 1 });
  }
  return { blocks, spans, tables, lines };
}
