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

/** The allowed offerings, cheapest first (ties by offering key): a deterministic order for planning. */
export function allowedOfferings(
  policy: Policy,
  offerings: readonly Offering[],
  unavailable: ReadonlySet<string> = new Set(),
): Offering[] {
  const keyed = offerings
    .filter((o) => offeringAllowed(policy, o, unavailable))
    .map((o) => ({ o, key: offeringKey(o) }));
  keyed.sort((a, b) => a.o.pricePerHourMicros - b.o.pricePerHourMicros || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return keyed.map((k) => k.o);
}
