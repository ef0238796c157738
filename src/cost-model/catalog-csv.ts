import { ValidationError } from '../core/errors.ts';

/** One CSV record: column name -> raw text (empty string for an empty field). */
export type CsvRecord = Readonly<Record<string, string>>;

/**
 * Parses CSV text (RFC 4180: comma-separated, optional double quotes with `""` escapes, LF or CRLF line ends) into
 * records keyed by the header row. Blank lines are skipped. Throws a ValidationError naming `source` and the line when
 * a record has a different number of fields than the header.
 */
export function parseCsv(text: string, source: string): CsvRecord[] {
  const rows = splitRows(text);
  const header = rows.shift();
  if (!header) return [];
  const records: CsvRecord[] = [];
  for (const [index, fields] of rows.entries()) {
    if (fields.length === 1 && fields[0] === '') continue;
    if (fields.length !== header.length) {
      throw new ValidationError(`${source}:${index + 2}`, `expected ${header.length} fields, got ${fields.length}`);
    }
    const record: Record<string, string> = {};
    header.forEach((name, i) => (record[name] = fields[i] ?? ''));
    records.push(record);
  }
  return records;
}

function splitRows(text: string): string[][] {
  const rows: string[][] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch !== '"') {
        field += ch;
      } else if (text[i + 1] === '"') {
        field += '"';
        i++;
      } else {
        quoted = false;
      }
    } else if (ch === '"') {
      quoted = true;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      fields.push(field);
      rows.push(fields);
      fields = [];
      field = '';
    } else {
      field += ch;
    }
  }
  if (field !== '' || fields.length > 0) {
    fields.push(field);
    rows.push(fields);
  }
  return rows;
}
