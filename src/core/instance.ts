/** A cloud instance as its provider reports it. */
export interface Instance {
  readonly id: string;
  readonly providerId: string;
  readonly instanceType: string;
  readonly zone: string;
  readonly lifecycle: 'on-demand' | 'spot';
  readonly state: 'pending' | 'running' | 'stopping' | 'terminated';
  /** The launch intent's id, from the instance's tag or label. */
  readonly intentId: string | null;
  readonly clusterId: string | null;
  readonly launchedAtMs: number;
}
