import type { ApiClient } from '../api/client.ts';

/** A list answer: its items under `key` and the cursor of the next page. */
type Page<K extends string, T> = { readonly [P in K]: T[] } & { readonly next?: string | null };

/**
 * GETs a list route: one page (the server's default size, or the query's `limit`), or with `all` every page, following
 * `next` cursors at 1,000 a page. Returns the items under `key` in the server's order.
 */
export async function fetchList<K extends string, T>(
  client: ApiClient,
  path: string,
  key: K,
  all: boolean,
): Promise<{ [P in K]: T[] }> {
  const [base = path, search = ''] = path.split('?');
  const query = new URLSearchParams(search);
  if (all && !query.has('limit')) query.set('limit', '1000');
  const items: T[] = [];
  for (;;) {
    const text = query.toString();
    const page = await client.get<Page<K, T>>(text ? `${base}?${text}` : base);
    items.push(...page[key]);
    if (!all || !page.next) break;
    query.set('cursor', page.next);
  }
  return { [key]: items } as { [P in K]: T[] };
}
