import type { Instance } from '../core/instance.ts';

/** What an instance must carry to be ours: the cluster's tag or label, and for an intent lookup the intent's too. */
export interface Ownership {
  readonly clusterId: string;
  /** For a lookup of one launch intent's instances: the intent's id, which its tag or label must carry. */
  readonly intentId?: string;
  /** For a lookup: the ids (names) the intent's instances may have; anything else is not the intent's. */
  readonly expectedIds?: ReadonlySet<string>;
  /** For a lookup: at most this many instances are the intent's (its count). */
  readonly atMost?: number;
}

/** Told about instances a list or lookup answered with that are not ours: dropped, never acted on. */
export type ForeignInstancesListener = (providerId: string, instances: readonly Instance[], doing: string) => void;

/**
 * Splits what a cloud's list answer holds into what is ours and what is not. A list may hold anything (a server that
 * ignores the filter, a typo in it, a page with extra items), so ownership is decided here, on our side, from the
 * instance's own tags or labels. An instance is ours when it carries the cluster's id, and, for an intent lookup, the
 * intent's id and one of the expected names. A lookup keeps at most `atMost` of them (in id order); the rest are
 * the intent's all the same (a server that did not honour the idempotency key), so they are not foreign: reconcile
 * finds them by the cluster's tag and adopts them.
 */
export function splitOwned(
  instances: readonly Instance[],
  ownership: Ownership,
): { owned: Instance[]; foreign: Instance[] } {
  const owned: Instance[] = [];
  const foreign: Instance[] = [];
  for (const instance of instances) {
    const ours =
      instance.clusterId === ownership.clusterId &&
      (ownership.intentId === undefined || instance.intentId === ownership.intentId) &&
      (ownership.expectedIds === undefined || ownership.expectedIds.has(instance.id));
    (ours ? owned : foreign).push(instance);
  }
  if (ownership.atMost !== undefined && owned.length > ownership.atMost) {
    owned.sort((a, b) => a.id.localeCompare(b.id));
    owned.splice(ownership.atMost);
  }
  return { owned, foreign };
}
