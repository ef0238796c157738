import { randomUUID } from 'node:crypto';

/** Ids are UUIDs; a short prefix says what they name in logs and URLs. */
export function newId(prefix: 't' | 'a' | 'tok'): string {
  return `${prefix}-${randomUUID()}`;
}

/** Intent ids are bare UUIDs: they go to the clouds as idempotency keys (EC2 ClientToken, GCE requestId). */
export function newIntentId(): string {
  return randomUUID();
}
