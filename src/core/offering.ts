import type { Lifecycle } from './agent.ts';
import type { Resources } from './resources.ts';

/** Something a provider can launch. */
export interface Offering {
  /** The CloudProvider's id (`aws-ec2:us-east-1`, `local:demo`). */
  readonly providerId: string;
  /** The provider kind (`aws-ec2`, `gcp-compute`, `local`). */
  readonly provider: string;
  readonly region: string;
  readonly zone: string;
  readonly instanceType: string;
  readonly capacity: Resources;
  readonly lifecycle: Exclude<Lifecycle, 'private'>;
  readonly pricePerHourMicros: number;
  readonly bootMs: number;
  readonly gpuModel: string | null;
  /** Labels the agents of this offering carry. */
  readonly labels: Readonly<Record<string, string>>;
  /** False while the provider reports no capacity for it. */
  readonly available: boolean;
}

/** Identifies an offering across passes: capacity errors mark this key unavailable for a while. */
export function offeringKey(o: Pick<Offering, 'providerId' | 'zone' | 'instanceType' | 'lifecycle'>): string {
  return `${o.providerId}/${o.zone}/${o.instanceType}/${o.lifecycle}`;
}
