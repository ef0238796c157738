import { createHash } from 'node:crypto';
import { Ec2Fault } from './ec2-fault.ts';

/**
 * NextToken/MaxResults paging as EC2 does it: an opaque token that only continues the same query. `queryKey` names the
 * query (its parameters without NextToken and MaxResults); a token from another query is refused.
 */
export function page<T>(
  items: readonly T[],
  opts: { queryKey: string; nextToken: string | undefined; maxResults: number | undefined; min: number; max: number },
): { items: T[]; nextToken: string | undefined } {
  const { maxResults } = opts;
  if (maxResults !== undefined && (maxResults < opts.min || maxResults > opts.max)) {
    throw new Ec2Fault(
      'InvalidParameterValue',
      `Value ( ${maxResults} ) for parameter maxResults is invalid. Expecting a value between ${opts.min} and ${opts.max}.`,
    );
  }
  const key = createHash('sha256').update(opts.queryKey).digest('hex').slice(0, 16);
  let offset = 0;
  if (opts.nextToken !== undefined && opts.nextToken !== '') {
    const decoded = decode(opts.nextToken);
    if (!decoded || decoded.key !== key)
      throw new Ec2Fault('InvalidParameterValue', 'The value of nextToken is invalid');
    offset = decoded.offset;
  }
  const size = maxResults ?? items.length;
  const slice = items.slice(offset, offset + size);
  const next = offset + size < items.length ? encode({ key, offset: offset + size }) : undefined;
  return { items: slice, nextToken: next };
}

function encode(token: { key: string; offset: number }): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decode(text: string): { key: string; offset: number } | undefined {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as { key?: unknown; offset?: unknown };
    if (typeof value.key !== 'string' || typeof value.offset !== 'number') return undefined;
    return { key: value.key, offset: value.offset };
  } catch {
    return undefined;
  }
}
