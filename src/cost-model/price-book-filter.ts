import { offeringKey, type Offering } from '../core/offering.ts';
import type { Policy } from '../core/policy.ts';

/**
 * Whether the policy lets Spillway launch an offering at all, tasks aside: it is available and not marked unavailable,
 * and its provider (id or kind), region and instance family (a prefix of the instance type) are allowed, and spot is
 * allowed when it is spot. The planner and the lower bound use this one rule, so the bound covers the same choices.
 */
export function offeringAllowed(
  policy: Policy,
  offering: Offering,
  unavailable: ReadonlySet<string> = new Set(),
): boolean {
  return (
    offering.available &&
    !unavailable.has(offeringKey(offering)) &&
    (policy.providers.length === 0 ||
      policy.providers.some((p) => p === offering.providerId || p === offering.provider)) &&
    (policy.regions.length === 0 || policy.regions.includes(offering.region)) &&
    (policy.instanceFamilies.length === 0 ||
      policy.instanceFamilies.some((f) => offering.instanceType.startsWith(f))) &&
    (offering.lifecycle !== 'spot' || policy.spot.allowed)
  );
}

/**
 * The allowed offerings, cheapest first (ties by offering key): a deterministic order for planning. A fresh array on
 * every call; the answer for one `offerings` array (the controller keeps one between refreshes, and a refresh that
 * finds the same offerings in the same order shares it) is remembered per filter (the policy's providers, regions,
 * families and spot rule, and the unavailable keys), so passes that ask again with the same ones filter and sort
 * nothing. Offerings are immutable values: an array is never changed in place.
 */
export function allowedOfferings(
  policy: Policy,
  offerings: readonly Offering[],
  unavailable: ReadonlySet<string> = new Set(),
): Offering[] {
  const filter = filterKey(policy, unavailable);
  let byFilter = remembered.get(offerings);
  if (byFilter === undefined) {
    // A refreshed list of the same offerings in the same order (a provider answering from its catalog) has the same
    // answers: it shares the last list's.
    byFilter = lastList !== undefined && sameOfferings(lastList.offerings, offerings) ? lastList.byFilter : new Map();
    remembered.set(offerings, byFilter);
    lastList = { offerings, byFilter };
  }
  let sorted = byFilter.get(filter);
  if (sorted === undefined) {
    const keyed = offerings
      .filter((o) => offeringAllowed(policy, o, unavailable))
      .map((o) => ({ o, key: offeringKey(o) }));
    keyed.sort(
      (a, b) => a.o.pricePerHourMicros - b.o.pricePerHourMicros || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
    );
    sorted = keyed.map((k) => k.o);
    if (byFilter.size >= MAX_FILTERS_PER_ARRAY) byFilter.clear();
    byFilter.set(filter, sorted);
  }
  return sorted.slice();
}

/** Remembered answers of `allowedOfferings`, per offerings array (weakly: a refreshed array drops the old one's). */
const remembered = new WeakMap<readonly Offering[], Map<string, readonly Offering[]>>();
/** The array last remembered anew, and its answers. */
let lastList:
  { readonly offerings: readonly Offering[]; readonly byFilter: Map<string, readonly Offering[]> } | undefined;

function sameOfferings(a: readonly Offering[], b: readonly Offering[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Distinct filters remembered per array at most (unavailable sets change now and then; they must not pile up). */
const MAX_FILTERS_PER_ARRAY = 16;

/** Everything of the policy and the unavailable keys that `offeringAllowed` reads, as one string. */
function filterKey(policy: Policy, unavailable: ReadonlySet<string>): string {
  return JSON.stringify([
    policy.providers,
    policy.regions,
    policy.instanceFamilies,
    policy.spot.allowed,
    [...unavailable].sort(),
  ]);
}
