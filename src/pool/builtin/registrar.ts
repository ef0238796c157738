import type { Agent } from '../../core/agent.ts';
import type { Clock } from '../../core/clock.ts';
import { hashToken, newApiToken, verifyBootstrapCredential } from '../../core/credentials.ts';
import { AccessError, ConflictError, ValidationError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import type { LaunchIntent } from '../../core/intent.ts';
import { formatLocation } from '../../core/location.ts';
import type { Resources } from '../../core/resources.ts';
import { IdentityError, type AttestedInstance, type IdentityVerifier } from '../../providers/identity.ts';
import type { Logger } from '../../log/logger.ts';
import type { AsyncStore } from '../../store/async-store.ts';
import type { TokenRecord } from '../../store/store.ts';
import { PROTOCOL_VERSION, type RegisterRequest, type RegisterResponse } from '../../agent/protocol.ts';
import { DEFAULT_FAILURE_LIMIT, RegistrationFailureLimiter, type FailureLimit } from './registration-limits.ts';

/** Who is registering: an unbound `agent` token (a private agent) or a cloud instance's bootstrap credential. */
export type RegistrationCaller =
  { readonly kind: 'token'; readonly token: TokenRecord } | { readonly kind: 'bootstrap'; readonly credential: string };

/** Where a registration came from, for rate limits and the audit log. */
export interface RegistrationOrigin {
  /** The peer's IP address. */
  readonly address: string;
}

export interface RegistrarOptions {
  readonly store: AsyncStore;
  readonly clock: Clock;
  /** Told to every agent that registers. */
  readonly heartbeatIntervalMs: number;
  readonly pollIntervalMs: number;
  readonly logger: Logger;
  /**
   * Each cloud provider's identity verifier, by provider id. A cloud agent registers only with its cloud's signed
   * identity, verified by its intent's provider's verifier; a provider without one registers no agent.
   */
  readonly identityVerifiers?: ReadonlyMap<string, IdentityVerifier>;
  /** The controller's URL (the audience GCE identity tokens must name); read when an agent registers. */
  readonly audience?: () => string;
  /** Failed registrations allowed per credential and per address; default DEFAULT_FAILURE_LIMIT. */
  readonly failureLimit?: FailureLimit;
}

/**
 * Who may join the pool (DESIGN section 8): private agents with a registration token, within its bounds; cloud agents
 * with their launch's bootstrap credential and their cloud's signed identity, as the offering their intent launched.
 * Each registration is one store transaction and reads time from the injected clock.
 */
export class Registrar {
  readonly #store: AsyncStore;
  readonly #clock: Clock;
  readonly #heartbeatIntervalMs: number;
  readonly #pollIntervalMs: number;
  readonly #log: Logger;
  readonly #verifiers: ReadonlyMap<string, IdentityVerifier>;
  readonly #audience: () => string;
  readonly #limiter: RegistrationFailureLimiter;

  constructor(opts: RegistrarOptions) {
    this.#store = opts.store;
    this.#clock = opts.clock;
    this.#heartbeatIntervalMs = opts.heartbeatIntervalMs;
    this.#pollIntervalMs = opts.pollIntervalMs;
    this.#log = opts.logger;
    this.#verifiers = opts.identityVerifiers ?? new Map();
    this.#audience = opts.audience ?? (() => '');
    this.#limiter = new RegistrationFailureLimiter(opts.clock, opts.failureLimit ?? DEFAULT_FAILURE_LIMIT);
  }

  /**
   * The API's registration: `register` behind the trust boundary. A cloud agent's identity proof is verified first by
   * its intent's provider's verifier (IdentityError 401 naming the reason otherwise). A refusal (AccessError) is
   * counted against the credential (and the address, for a credential that does not authenticate) and audited
   * (`agent.register.refused`, with the reason); once either has no failures left, calls are refused with
   * TooManyFailuresError before anything is checked, except that a live launch's credential still registers an
   * instance whose signed identity verifies. A 409 (an instance not adopted yet) is neither counted nor audited: a
   * real agent retries it.
   */
  async registerAttested(
    caller: RegistrationCaller,
    req: RegisterRequest,
    origin: RegistrationOrigin,
  ): Promise<RegisterResponse> {
    const keys = await this.#limitKeys(caller, origin);
    const spent = this.#limiter.spent(keys);
    // A launch's credential is shared by its instances and readable on them: once its failures are spent, an instance
    // whose signed identity verifies still registers, so one holder of it cannot lock the others out. Nothing else
    // gets past a spent limit, and what fails past it is answered 429, neither counted nor audited.
    const attestedOnly = spent !== undefined && caller.kind === 'bootstrap' && keys.length === 1;
    if (spent && !attestedOnly) throw spent;
    try {
      const attested = caller.kind === 'bootstrap' ? await this.#attest(caller.credential, req) : undefined;
      return await this.register(caller, req, attested);
    } catch (err) {
      if (err instanceof AccessError) {
        if (spent) throw spent;
        await this.#refused(caller, req, origin, keys, err);
      }
      throw err;
    }
  }

  /**
   * What a registration's failures count against. A credential that authenticates (a registration token, a bootstrap
   * credential naming a launch intent) counts against itself alone, so failures by others from the same address (a
   * NAT, a proxy, loopback) never lock it out; one that does not counts against the address as well (two keys).
   */
  async #limitKeys(caller: RegistrationCaller, origin: RegistrationOrigin): Promise<string[]> {
    const credential = `credential:${credentialKey(caller)}`;
    if (caller.kind === 'token' || (await this.#namesLaunch(caller.credential))) return [credential];
    return [credential, `address:${origin.address}`];
  }

  async #namesLaunch(credential: string): Promise<boolean> {
    const intentId = verifyBootstrapCredential(await this.#store.meta.serverSecret(), credential);
    return intentId !== undefined && (await this.#store.intents.get(intentId))?.kind === 'launch';
  }

  async #attest(credential: string, req: RegisterRequest): Promise<AttestedInstance> {
    const intent = await this.#bootstrapIntent(credential);
    const verifier = this.#verifiers.get(intent.providerId);
    if (!verifier) {
      throw new IdentityError(
        'unconfigured',
        `provider ${intent.providerId} has no identity verifier configured, so none of its instances can register`,
      );
    }
    if (!req.identity) {
      throw new IdentityError('missing', "a bootstrap credential registers only with the instance's signed identity");
    }
    const { maxProvisionMs } = await this.#store.policy.get();
    return verifier.verify(req.identity, {
      audience: this.#audience(),
      nowMs: this.#clock.now(),
      maxAgeMs: maxProvisionMs,
    });
  }

  async #refused(
    caller: RegistrationCaller,
    req: RegisterRequest,
    origin: RegistrationOrigin,
    keys: readonly string[],
    err: AccessError,
  ): Promise<void> {
    this.#limiter.fail(keys);
    const intentId =
      caller.kind === 'bootstrap'
        ? verifyBootstrapCredential(await this.#store.meta.serverSecret(), caller.credential)
        : null;
    const detail = {
      status: err.status,
      reason: err instanceof IdentityError ? err.reason : 'credential',
      message: err.message,
      address: origin.address,
      via: caller.kind,
      ...(intentId ? { intentId } : {}),
      ...(req.instanceId === undefined ? {} : { instanceId: req.instanceId }),
      name: req.name,
    };
    const actor = caller.kind === 'token' ? `${caller.token.name} (${caller.token.id})` : 'bootstrap credential';
    await this.#store.audit.append({ atMs: this.#clock.now(), actor, action: 'agent.register.refused', detail });
    this.#log.warn('refused agent registration', detail);
  }

  /**
   * Registers an agent and issues its own token (role `agent`, bound to the agent id; only its hash is stored).
   * - With an unbound agent token (a registration token): inserts a registered private agent at `req.site` (default
   *   `default`), within the token's bounds (expired: AccessError 401; another site, or its agents all registered:
   *   AccessError 403); the registration is recorded against the token.
   * - With a bootstrap credential: the credential names a launch intent (bad MAC or no such intent: AccessError
   *   401), and `attested` is the instance its verified identity names (none: IdentityError 401). That instance must be
   *   one this intent launched (another intent's: IdentityError 401 `intent`; one not adopted yet: ConflictError, so
   *   the agent retries), `req.instanceId`, when given, must name it (IdentityError 401 `instance`), it must not have
   *   registered yet (ConflictError), within the policy's `maxProvisionMs` of the launch's confirmation (AccessError
   *   401 after: the same deadline after which scale-down terminates the instance), and a single-use identity must
   *   not have been used (IdentityError 401 `replayed`). Its capacity is the offering's, or what the agent reports
   *   where that is less (an OS reserve); its labels are the offering's.
   * A protocol version other than ours is a ValidationError on `protocolVersion`. Nothing changes on failure.
   */
  async register(
    caller: RegistrationCaller,
    req: RegisterRequest,
    attested?: AttestedInstance,
  ): Promise<RegisterResponse> {
    if (req.protocolVersion !== PROTOCOL_VERSION) {
      throw new ValidationError(
        'protocolVersion',
        `expected protocol version ${PROTOCOL_VERSION} (this controller), got ${req.protocolVersion} (the agent)`,
      );
    }
    const nowMs = this.#clock.now();
    return this.#store.transaction(async () => {
      const agent =
        caller.kind === 'token'
          ? await this.#registerPrivate(caller.token, req, nowMs)
          : await this.#registerCloud(caller.credential, req, attested, nowMs);
      await this.#store.agents.setIsolation(agent.id, req.isolation ?? 'none');
      const token = newApiToken();
      await this.#store.tokens.create(
        { id: newId('tok'), role: 'agent', name: `agent:${agent.id}`, agentId: agent.id, createdAtMs: nowMs },
        hashToken(token),
      );
      this.#log.info('registered agent', {
        agentId: agent.id,
        name: agent.name,
        location: formatLocation(agent.location),
        via: caller.kind,
        isolation: req.isolation ?? 'none',
      });
      return {
        protocolVersion: PROTOCOL_VERSION,
        agentId: agent.id,
        token,
        heartbeatIntervalMs: this.#heartbeatIntervalMs,
        pollIntervalMs: this.#pollIntervalMs,
      };
    });
  }

  async #registerPrivate(token: TokenRecord, req: RegisterRequest, nowMs: number): Promise<Agent> {
    if (token.role !== 'agent' || token.agentId !== null) {
      throw new AccessError(
        403,
        'registering: only an agent registration token or a bootstrap credential may register',
      );
    }
    const site = req.site ?? 'default';
    const bounds = await this.#store.registrations.bounds(token.id);
    if (bounds?.expiresAtMs != null && nowMs >= bounds.expiresAtMs) {
      throw new AccessError(401, `registering: registration token ${token.id} expired`);
    }
    if (bounds?.site != null && site !== bounds.site) {
      throw new AccessError(
        403,
        `registering: registration token ${token.id} registers agents at site ${bounds.site} only, not ${site}`,
      );
    }
    // Counting first holds the token (on PostgreSQL, its row is locked until this transaction ends): a revocation
    // that authentication did not see yet has committed before the read below, or waits until this registration
    // has; either way no agent registers on a revoked token.
    const registered = await this.#store.registrations.count(token.id);
    if ((await this.#store.tokens.get(token.id))?.revokedAtMs != null) {
      throw new AccessError(401, `registering: registration token ${token.id} was revoked`);
    }
    if (bounds?.maxAgents != null && registered >= bounds.maxAgents) {
      throw new AccessError(
        403,
        `registering: registration token ${token.id} has registered its ${bounds.maxAgents} agents; create another`,
      );
    }
    const agent = await this.#store.agents.insert(
      {
        name: req.name,
        location: { kind: 'private', site },
        capacity: req.capacity,
        labels: req.labels,
        lifecycle: 'private',
        pricePerHourMicros: 0,
        state: 'registered',
        instanceId: null,
        providerId: null,
        intentId: null,
      },
      nowMs,
    );
    await this.#store.registrations.record(token.id, agent.id, nowMs);
    return agent;
  }

  async #registerCloud(
    credential: string,
    req: RegisterRequest,
    attested: AttestedInstance | undefined,
    nowMs: number,
  ): Promise<Agent> {
    const intent = await this.#bootstrapIntent(credential);
    if (!attested) {
      throw new IdentityError('missing', "a bootstrap credential registers only with the instance's signed identity");
    }
    const instanceId = attested.instanceId;
    if (req.instanceId !== undefined && req.instanceId !== instanceId) {
      throw new IdentityError(
        'instance',
        `the signed identity names instance ${instanceId}, not ${req.instanceId}: an instance registers only itself`,
      );
    }
    const agent = await this.#store.agents.byInstance(intent.providerId, instanceId);
    if (agent && agent.intentId !== intent.id) {
      throw new IdentityError('intent', `instance ${instanceId} was not launched by intent ${intent.id}`);
    }
    if (!agent) throw new ConflictError(`registering: instance ${instanceId} was not launched by intent ${intent.id}`);
    // Before the state check, so a replayed token is named as such; a refused registration rolls back its use.
    const { singleUse } = attested;
    if (singleUse && !(await this.#store.registrations.useOnce(singleUse.key, singleUse.expiresAtMs, nowMs))) {
      throw new IdentityError('replayed', `the identity token of instance ${instanceId} was used before`);
    }
    if (agent.state !== 'provisioning')
      throw new ConflictError(`registering: instance ${instanceId} is already registered or being terminated`);
    // The same start as scale-down's maxProvisionMs: when the launch was confirmed.
    if (nowMs - agent.registeredAtMs > (await this.#store.policy.get()).maxProvisionMs) {
      throw new AccessError(401, 'registering: the bootstrap credential expired');
    }
    const capacity = smaller(intent.offering.capacity, req.capacity);
    if (!sameResources(capacity, req.capacity)) {
      this.#log.warn('agent reported more than its offering', {
        agentId: agent.id,
        instanceId,
        offering: intent.offering.instanceType,
      });
    }
    return await this.#store.agents.register(agent.id, { capacity, labels: intent.offering.labels }, nowMs);
  }

  async #bootstrapIntent(credential: string): Promise<LaunchIntent> {
    const intentId = verifyBootstrapCredential(await this.#store.meta.serverSecret(), credential);
    if (intentId === undefined) throw new AccessError(401, 'registering: the bootstrap credential is not valid');
    const intent = await this.#store.intents.get(intentId);
    if (intent?.kind !== 'launch')
      throw new AccessError(401, 'registering: the bootstrap credential names no launch intent');
    return intent;
  }
}

/** Per dimension, the smaller of an offering's capacity and what the agent reports. */
function smaller(offering: Resources, reported: Resources): Resources {
  return {
    cpuMillis: Math.min(offering.cpuMillis, reported.cpuMillis),
    memoryMiB: Math.min(offering.memoryMiB, reported.memoryMiB),
    gpus: Math.min(offering.gpus, reported.gpus),
    netMbps: Math.min(offering.netMbps, reported.netMbps),
  };
}

function sameResources(a: Resources, b: Resources): boolean {
  return a.cpuMillis === b.cpuMillis && a.memoryMiB === b.memoryMiB && a.gpus === b.gpus && a.netMbps === b.netMbps;
}

/** A rate-limit key for a credential that is not the credential: a token's id, a bootstrap credential's hash. */
function credentialKey(caller: RegistrationCaller): string {
  return caller.kind === 'token' ? caller.token.id : hashToken(caller.credential).slice(0, 32);
}
