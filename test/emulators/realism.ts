/**
 * How adversarial an emulator is, where real clouds are (DESIGN section 10). Every mode is off unless set; tests and
 * fixtures switch them on one by one or together.
 *
 * - `ignoreFilters`: list calls (EC2 DescribeInstances `Filter.N`, GCE `instances.list` `filter`) answer every
 *   instance, as a server that drops an unknown or mistyped filter would; paging still applies.
 * - `foreignInstances`: at start, each zone already runs another cluster's instance (tagged or labelled with another
 *   cluster id) and an untagged one, as an account with other workloads does.
 * - `eventualConsistency`: list calls are eventually consistent (the EC2 developer guide's "Eventual consistency in
 *   the Amazon EC2 API": a resource just created may not be visible to the next describe call). A new instance is missing from lists for
 *   `newHiddenMs` after its launch, and a deleted one is still listed, in its state before the delete, for
 *   `deletedListedMs`, both on the emulator's clock. Launch and delete answers themselves are consistent.
 * - `idempotency`: `honoured` (the default: EC2 keeps a ClientToken's answer, GCE a requestId's for a while),
 *   `ignored` (every call acts anew), or `{ expiresAfterMs }` (a token is forgotten that long after its first use;
 *   Google documents that a requestId is honoured "for at least 60 minutes" after the first request; AWS documents
 *   client tokens that expire after 8 to 36 hours for other services and no lifetime for EC2's).
 * - `bareErrors`: error answers carry the HTTP status and no reason (EC2: no error code; GCE: no `errors[].reason`
 *   and no ErrorInfo detail), as a proxy or front end in between may answer.
 * - `htmlServerErrors`: 5xx answers have an HTML body (a load balancer's error page) instead of the API's document.
 */
export interface Realism {
  readonly ignoreFilters?: boolean;
  readonly foreignInstances?: boolean;
  readonly eventualConsistency?: { readonly newHiddenMs: number; readonly deletedListedMs: number };
  readonly idempotency?: 'honoured' | 'ignored' | { readonly expiresAfterMs: number };
  readonly bareErrors?: boolean;
  readonly htmlServerErrors?: boolean;
}

/** The cluster id the foreign instances of `foreignInstances` carry. */
export const FOREIGN_CLUSTER = 'another-cluster';

/** What a load balancer in front of an API answers a 5xx with. */
export function htmlErrorPage(status: number): string {
  return (
    `<!DOCTYPE html>\n<html lang=en><meta charset=utf-8><title>Error ${status} (Server Error)!!1</title>` +
    `<p><b>${status}.</b> <ins>That's an error.</ins><p>The server encountered a temporary error and could not ` +
    `complete your request.<p>Please try again in 30 seconds. <ins>That's all we know.</ins></html>\n`
  );
}

/** Whether a token first used at `firstUsedAtMs` is still honoured at `nowMs` under `realism`. */
export function tokenHonoured(realism: Realism, firstUsedAtMs: number, nowMs: number): boolean {
  const mode = realism.idempotency ?? 'honoured';
  if (mode === 'honoured') return true;
  if (mode === 'ignored') return false;
  return nowMs - firstUsedAtMs < mode.expiresAfterMs;
}
