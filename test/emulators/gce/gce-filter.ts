import { invalid } from './gce-fault.ts';

/** What the emulator's filters look at. */
export interface Filterable {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly status: string;
}

/**
 * A Compute list filter, in the subset Spillway and the tests use: comparisons `labels.KEY = VALUE`,
 * `labels.KEY != VALUE`, `name = VALUE`, `status = VALUE` (values optionally in double quotes), each optionally in
 * parentheses, joined by AND. Anything else is refused with 400, as Compute refuses a malformed filter.
 */
export function parseFilter(filter: string | null): (item: Filterable) => boolean {
  if (filter === null || filter.trim() === '') return () => true;
  const terms = filter.split(/\s+AND\s+/).map((t) =>
    t
      .trim()
      .replace(/^\((.*)\)$/, '$1')
      .trim(),
  );
  const tests = terms.map((term) => {
    const match = /^(labels\.[a-z][a-z0-9_-]*|name|status)\s*(=|!=)\s*(?:"([^"]*)"|(\S+))$/.exec(term);
    if (!match) throw invalid(`Invalid value for field 'filter': '${filter}'. Invalid list filter expression.`);
    const [, field, op, quoted, bare] = match;
    const value = quoted ?? bare ?? '';
    const read = (item: Filterable): string | undefined =>
      field!.startsWith('labels.')
        ? item.labels[field!.slice('labels.'.length)]
        : field === 'name'
          ? item.name
          : item.status;
    return (item: Filterable): boolean => (op === '=' ? read(item) === value : read(item) !== value);
  });
  return (item) => tests.every((t) => t(item));
}

/** pageToken/maxResults paging: an opaque token that continues the same filter only. */
export function pageOf<T>(
  items: readonly T[],
  opts: { filter: string; pageToken: string | null; maxResults: string | null },
): { items: T[]; nextPageToken: string | undefined } {
  const max = opts.maxResults === null ? 500 : Number(opts.maxResults);
  if (!Number.isInteger(max) || max < 0 || max > 500) {
    throw invalid(`Invalid value for field 'maxResults': '${opts.maxResults}'. Must be between 0 and 500.`);
  }
  let offset = 0;
  if (opts.pageToken) {
    let decoded: { f?: unknown; o?: unknown } = {};
    try {
      decoded = JSON.parse(Buffer.from(opts.pageToken, 'base64url').toString('utf8')) as { f?: unknown; o?: unknown };
    } catch {
      // refused below
    }
    if (decoded.f !== opts.filter || typeof decoded.o !== 'number')
      throw invalid("Invalid value for field 'pageToken'");
    offset = decoded.o;
  }
  const size = max === 0 ? 500 : max;
  const next =
    offset + size < items.length
      ? Buffer.from(JSON.stringify({ f: opts.filter, o: offset + size })).toString('base64url')
      : undefined;
  return { items: items.slice(offset, offset + size), nextPageToken: next };
}
