import type { Instance } from '../core/instance.ts';
import type { Offering } from '../core/offering.ts';
import type { Owner } from '../core/owner.ts';

export interface LaunchRequest {
  /** The intent's UUID: the idempotency key. A retry with the same id and parameters returns the same instances. */
  readonly intentId: string;
  readonly clusterId: string;
  readonly offering: Offering;
  readonly count: number;
  /** The owner whose demand weighs most, for the instance's tags. */
  readonly owner: Owner;
  /**
   * What the instance's boot script needs to join the pool. Derived from the intent, so a retry renders identical
   * user data.
   */
  readonly bootstrap: BootstrapParams;
  /**
   * The boot script `bootScriptFor` rendered when the intent was first sent, kept with the intent: when given, the
   * adapter sends exactly these bytes (EC2 user data, base64; GCE startup script) instead of rendering them again, so a
   * restart with another port or config retries with identical parameters.
   */
  readonly bootScript?: string | undefined;
}

export interface BootstrapParams {
  readonly controllerUrl: string;
  /** PEM of the CA agents use to verify the controller's TLS certificate; empty over plain HTTP. */
  readonly caBundle: string;
  /** The intent's bootstrap credential: registers each instance of this intent once, until it expires. */
  readonly credential: string;
}

export interface CallOptions {
  readonly signal?: AbortSignal;
}

/**
 * One implementation per cloud account and region. Every method is idempotent and honours `signal`.
 * Errors: CapacityError (no room for this offering: fail over), QuotaError (an account limit), ThrottledError
 * (back off), AuthError (the operator must fix credentials or permissions), ProviderError (retryable or not).
 * SDK error types never leave an adapter.
 */
export interface CloudProvider {
  /** `kind:region` or `kind:name`, e.g. `aws-ec2:us-east-1`, `local:demo`. */
  readonly id: string;
  readonly kind: string;
  offerings(opts?: CallOptions): Promise<Offering[]>;
  /** Launches `count` instances of one offering. The intent id is the idempotency key. */
  launch(request: LaunchRequest, opts?: CallOptions): Promise<Instance[]>;
  /** Terminates; already-gone instances are not an error. */
  terminate(instanceIds: readonly string[], opts?: CallOptions): Promise<void>;
  /** Every live instance tagged with this cluster's id, whatever the store says. */
  list(clusterId: string, opts?: CallOptions): Promise<Instance[]>;
  /**
   * The boot script a launch of `request` sends, as `launch` would render it. The provisioner keeps it with the
   * intent at its first send and passes it back as `request.bootScript` on every retry. Throws a non-retryable
   * ProviderError when it cannot be rendered (too large). Providers whose launches carry no rendered script omit it.
   */
  bootScriptFor?(request: LaunchRequest): string;
}
