import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { LaunchBreakers } from '../../src/autoscaler/launch-breakers.ts';
import { Provisioner, type CallOutcome, type ProvisionerOptions } from '../../src/autoscaler/provisioner.ts';
import type { LaunchCommand, TerminateCommand } from '../../src/autoscaler/commands.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { verifyBootstrapCredential } from '../../src/core/credentials.ts';
import {
  AuthError,
  CapacityError,
  ProviderError,
  QuotaError,
  RefusedError,
  ThrottledError,
} from '../../src/core/errors.ts';
import { resetFailpoints } from '../../src/core/failpoints.ts';
import type { Instance } from '../../src/core/instance.ts';
import type { Intent, LaunchIntent, TerminateIntent } from '../../src/core/intent.ts';
import { PRODUCTION_POLICY } from '../../src/core/policy.ts';
import { resources } from '../../src/core/resources.ts';
import type { CallOptions, CloudProvider, LaunchRequest } from '../../src/providers/provider.ts';
import { PartialTerminateError } from '../../src/providers/terminate-outcome.ts';
import type { Store } from '../../src/store/store.ts';
import { offering } from '../fakes/builders.ts';
import { asyncOf } from '../helpers/async-store.ts';
import { captureLogs, type LogCapture } from '../helpers/log-capture.ts';
import { newTask, TempStores } from '../store/helpers.ts';

// The provisioner on its own: a real SQLite file, a scripted provider that records every call, the injected clock.
// Each expected value below is worked out from the scenario by hand (offering keys, backoffs, reasons), not read back
// from the provisioner.

const T0 = Date.UTC(2026, 0, 1, 12, 0);
const SECRET = Buffer.from('a server secret of 32 bytes long');
const SMALL = offering({
  providerId: 'fake:a',
  provider: 'fake',
  zone: 'z-a',
  instanceType: 'f.small',
  pricePerHourMicros: 100_000,
});
/** `providerId/zone/instanceType/lifecycle`, written out. */
const SMALL_KEY = 'fake:a/z-a/f.small/on-demand';
const MAX_PROVISION_MS = 60_000;
const ML = { team: 'ml', project: 'vision', job: 'train' };
const BIO = { team: 'bio', project: 'fold', job: 'run' };

interface Call {
  readonly method: 'launch' | 'terminate';
  readonly request?: LaunchRequest;
  readonly instanceIds?: readonly string[];
  readonly opts: CallOptions | undefined;
}

/** What the next call does before it answers: throw to fail it, await to hold it. */
type Step = (call: Call) => Promise<void> | void;

/** Records every call; each call runs the next scripted step (none: it succeeds at once). */
class ScriptedProvider implements CloudProvider {
  readonly id: string;
  readonly kind = 'fake';
  readonly calls: Call[] = [];
  readonly #steps: Step[] = [];
  #always: Step | undefined;

  constructor(id: string) {
    this.id = id;
  }

  next(...steps: Step[]): void {
    this.#steps.push(...steps);
  }

  /** Every call without a scripted step runs this one. */
  always(step: Step | undefined): void {
    this.#always = step;
  }

  async offerings(): Promise<never[]> {
    return [];
  }

  async launch(request: LaunchRequest, opts?: CallOptions): Promise<Instance[]> {
    const call: Call = { method: 'launch', request, opts };
    this.calls.push(call);
    await (this.#steps.shift() ?? this.#always)?.(call);
    return Array.from({ length: request.count }, (_, i) => ({
      id: `${request.intentId}/${i}`,
      providerId: this.id,
      instanceType: request.offering.instanceType,
      zone: request.offering.zone,
      lifecycle: request.offering.lifecycle,
      state: 'pending' as const,
      intentId: request.intentId,
      clusterId: request.clusterId,
      launchedAtMs: T0,
    }));
  }

  async terminate(instanceIds: readonly string[], opts?: CallOptions): Promise<void> {
    const call: Call = { method: 'terminate', instanceIds: [...instanceIds], opts };
    this.calls.push(call);
    await (this.#steps.shift() ?? this.#always)?.(call);
  }

  async list(): Promise<Instance[]> {
    return [];
  }

  launches(): LaunchRequest[] {
    return this.calls.flatMap((c) => (c.request ? [c.request] : []));
  }

  terminates(): (readonly string[])[] {
    return this.calls.flatMap((c) => (c.instanceIds ? [c.instanceIds] : []));
  }
}

/** The same, rendering a boot script the way an adapter does (and counting renders). */
class RenderingProvider extends ScriptedProvider {
  readonly rendered: string[] = [];

  bootScriptFor(request: LaunchRequest): string {
    const script = `#!/bin/sh\n# render ${this.rendered.length + 1} for ${request.intentId} (${request.count} x ${request.offering.instanceType})\n`;
    this.rendered.push(script);
    return script;
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Lets the event loop turn until `check` holds (the store and the queue answer within a few turns). */
async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 5_000; i++) {
    if (check()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`never happened: ${what}`);
}

/** A few turns of the event loop, for checking that something did NOT start (it would within one turn). */
async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

function launchCommand(overrides: Partial<LaunchCommand> = {}): LaunchCommand {
  return {
    kind: 'launch',
    offering: SMALL,
    count: 2,
    owners: [
      { owner: ML, share: 0.75 },
      { owner: BIO, share: 0.25 },
    ],
    taskIds: ['t-1', 't-2'],
    reason: '2 tasks waiting',
    ...overrides,
  };
}

function terminateCommand(
  instanceId: string,
  agentId: string | null,
  reason = 'idle past its ttl',
  providerId = 'fake:a',
): TerminateCommand {
  return { kind: 'terminate', agentId, providerId, instanceId, reason };
}

/** The fields of each log line with this message, without level and timestamp. */
function logged(logs: LogCapture, message: string): Record<string, unknown>[] {
  return logs
    .lines()
    .filter((l) => l.message === message)
    .map(({ level: _level, timestamp: _timestamp, message: _message, ...fields }) => fields);
}

function levels(logs: LogCapture, message: string): unknown[] {
  return logs
    .lines()
    .filter((l) => l.message === message)
    .map((l) => l.level);
}

describe('provisioner: intents, calls and their outcomes', () => {
  let stores: TempStores;
  let store: Store;
  let clock: ManualClock;
  let logs: LogCapture;
  let outcomes: [string, CallOutcome][];
  let unavailable: [string, string][];

  beforeEach(() => {
    stores = new TempStores();
    store = stores.open();
    store.meta.bindClusterId('test-cluster');
    store.policy.seed({ ...PRODUCTION_POLICY, maxProvisionMs: MAX_PROVISION_MS }, T0);
    clock = new ManualClock(T0);
    logs = captureLogs();
    outcomes = [];
    unavailable = [];
  });

  afterEach(() => {
    stores.cleanup();
  });

  function provisioner(providers: CloudProvider[], opts: Partial<ProvisionerOptions> = {}): Provisioner {
    return new Provisioner({
      store: asyncOf(store),
      providers,
      clock,
      logger: logs.logger,
      launchContext: {
        clusterId: 'test-cluster',
        controllerUrl: 'https://ctl.test:8443',
        caBundle: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
        serverSecret: SECRET,
      },
      onUnavailable: (key, reason) => unavailable.push([key, reason]),
      onOutcome: (intent, outcome) => outcomes.push([intent.id, outcome]),
      ...opts,
    });
  }

  function stored(id: string): Intent {
    const intent = store.intents.get(id);
    assert.ok(intent, `intent ${id} is stored`);
    return intent;
  }

  /** The stored intent's fields this file checks. */
  function summary(id: string): Record<string, unknown> {
    const i = stored(id);
    return {
      state: i.state,
      attempts: i.attempts,
      error: i.error,
      instanceIds: i.instanceIds,
      updatedAtMs: i.updatedAtMs,
    };
  }

  function cloudAgent(
    instanceId: string,
    state: 'registered' | 'provisioning' = 'registered',
    providerId = 'fake:a',
  ): string {
    return store.agents.insert(
      {
        name: `agent-${instanceId}`,
        location: { kind: 'cloud', provider: 'fake', region: 'r', zone: 'z-a' },
        capacity: resources({ cpuMillis: 2000, memoryMiB: 4096 }),
        labels: {},
        lifecycle: 'on-demand',
        pricePerHourMicros: 100_000,
        state,
        instanceId,
        providerId,
        intentId: null,
      },
      T0,
    ).id;
  }

  function busy(agentId: string): string {
    const [task] = store.tasks.insert([newTask()], T0);
    store.tasks.place(task!.id, agentId, T0);
    return task!.id;
  }

  describe('launch', () => {
    it('writes the intent before its call, sends the request it describes, and records the instances', async () => {
      const p = new ScriptedProvider('fake:a');
      const gate = deferred();
      p.next(() => gate.promise);
      const prov = provisioner([p], { onOutcome: undefined });
      const command = launchCommand();
      const intent = await prov.launch(command);
      const expected: LaunchIntent = {
        id: intent.id,
        kind: 'launch',
        providerId: 'fake:a',
        offering: SMALL,
        count: 2,
        owners: command.owners,
        reason: '2 tasks waiting',
        state: 'pending',
        instanceIds: [],
        createdAtMs: T0,
        updatedAtMs: T0,
        attempts: 0,
        error: '',
      };
      assert.deepEqual(intent, expected);
      await until('the call', () => p.calls.length === 1);
      // The call is in flight: the intent is already written, pending.
      const { bootScript: _none, ...written } = stored(intent.id) as LaunchIntent;
      assert.deepEqual(written, expected);

      const [call] = p.calls;
      const { bootstrap, ...request } = call!.request!;
      assert.deepEqual(request, {
        intentId: intent.id,
        clusterId: 'test-cluster',
        offering: SMALL,
        count: 2,
        owner: ML,
        bootScript: undefined,
      });
      assert.equal(bootstrap.controllerUrl, 'https://ctl.test:8443');
      assert.equal(bootstrap.caBundle, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
      assert.equal(
        verifyBootstrapCredential(SECRET, bootstrap.credential),
        intent.id,
        'the credential names this intent',
      );
      assert.deepEqual(call!.opts, {}, 'no signal was given');

      clock.advance(5_000);
      gate.resolve();
      await prov.settle();
      assert.deepEqual(summary(intent.id), {
        state: 'done',
        attempts: 0,
        error: '',
        instanceIds: [`${intent.id}/0`, `${intent.id}/1`],
        updatedAtMs: T0 + 5_000,
      });
      assert.deepEqual(
        [`${intent.id}/0`, `${intent.id}/1`].map((i) => store.agents.byInstance('fake:a', i)?.state),
        ['provisioning', 'provisioning'],
      );
      assert.deepEqual(logged(logs, 'decided launch'), [
        { intentId: intent.id, offering: SMALL_KEY, count: 2, reason: '2 tasks waiting' },
      ]);
      assert.deepEqual(logged(logs, 'launched instances'), [
        { intentId: intent.id, offering: SMALL_KEY, instanceIds: [`${intent.id}/0`, `${intent.id}/1`] },
      ]);
      assert.deepEqual(levels(logs, 'launched instances'), ['info']);
      assert.deepEqual(
        logs.lines().map((l) => l.message),
        ['decided launch', 'launched instances'],
        'nothing held, failed or retried',
      );
    });

    it('tells how the call ended, and tags a launch of no known owner with the default owner', async () => {
      const p = new ScriptedProvider('fake:a');
      const prov = provisioner([p]);
      const intent = await prov.launch(launchCommand({ owners: [], count: 1 }));
      await prov.settle();
      assert.deepEqual(p.launches()[0]!.owner, { team: 'default', project: 'default', job: 'default' });
      assert.deepEqual(outcomes, [[intent.id, 'done']]);
    });

    it('renders the boot script at the first send, keeps it, and sends the same bytes on a retry', async () => {
      const p = new RenderingProvider('fake:a');
      p.next(() => {
        throw new ThrottledError('Request limit exceeded.');
      });
      const prov = provisioner([p]);
      const intent = await prov.launch(launchCommand());
      await prov.settle();
      const script = `#!/bin/sh\n# render 1 for ${intent.id} (2 x f.small)\n`;
      assert.deepEqual(p.rendered, [script]);
      assert.equal(p.launches()[0]!.bootScript, script);
      assert.equal((stored(intent.id) as LaunchIntent).bootScript, script);

      clock.advance(1_000);
      await prov.execute(stored(intent.id));
      await prov.settle();
      assert.equal(p.launches().length, 2);
      assert.equal(p.launches()[1]!.bootScript, script, 'the kept bytes');
      assert.deepEqual(p.rendered, [script], 'not rendered again');
      assert.equal(stored(intent.id).state, 'done');
    });

    it('passes the abort signal to every cloud call', async () => {
      const p = new ScriptedProvider('fake:a');
      const controller = new AbortController();
      const prov = provisioner([p], { signal: controller.signal });
      await prov.launch(launchCommand());
      await prov.terminate(terminateCommand('i-1', null));
      await prov.settle();
      assert.deepEqual(p.calls.map((c) => c.method).sort(), ['launch', 'terminate']);
      for (const call of p.calls) assert.deepEqual(call.opts, { signal: controller.signal });
      assert.ok(p.calls.every((c) => c.opts?.signal === controller.signal));
    });

    it('gives a launch up without a call once maxProvisionMs has passed since it was written, unless it has instances', async () => {
      const p = new ScriptedProvider('fake:a');
      p.next(
        () => {
          throw new ThrottledError('Request limit exceeded.');
        },
        () => {
          throw new ProviderError('Service Unavailable', { retryable: true });
        },
      );
      const prov = provisioner([p]);
      const intent = await prov.launch(launchCommand());
      await prov.settle();
      // At exactly maxProvisionMs after writing, it is still sent.
      clock.set(T0 + MAX_PROVISION_MS);
      await prov.execute(stored(intent.id));
      await prov.settle();
      assert.equal(p.launches().length, 2);
      assert.deepEqual(summary(intent.id), {
        state: 'pending',
        attempts: 2,
        error: 'Service Unavailable',
        instanceIds: [],
        updatedAtMs: T0 + MAX_PROVISION_MS,
      });
      // Its backoff (2 s after the second failure) ends past maxProvisionMs: given up without a call.
      clock.set(T0 + MAX_PROVISION_MS + 2_000);
      await prov.execute(stored(intent.id));
      await prov.settle();
      assert.equal(p.launches().length, 2);
      assert.deepEqual(summary(intent.id), {
        state: 'failed',
        attempts: 2,
        error: 'gave up: not launched within maxProvisionMs 60000',
        instanceIds: [],
        updatedAtMs: T0 + MAX_PROVISION_MS + 2_000,
      });
      assert.deepEqual(logged(logs, 'gave up launch'), [
        { intentId: intent.id, error: 'Service Unavailable', attempts: 2 },
      ]);
      assert.deepEqual(levels(logs, 'gave up launch'), ['warn']);

      // An intent reconcile adopted an instance into is still sent (with the same idempotency key), however old.
      p.next(() => {
        throw new ThrottledError('Request limit exceeded.');
      });
      const adopted = await prov.launch(launchCommand({ count: 1 }));
      await prov.settle();
      store.intents.adoptInstances(adopted.id, ['i-adopted'], clock.now());
      clock.advance(10 * MAX_PROVISION_MS);
      await prov.execute(stored(adopted.id));
      await prov.settle();
      assert.equal(stored(adopted.id).state, 'done');
      assert.deepEqual(
        p.launches().map((r) => r.intentId),
        [intent.id, intent.id, adopted.id, adopted.id],
      );
    });
  });

  describe('the queue', () => {
    it('lets ten calls through at once by default, then one every 200 ms (5 a second)', async () => {
      const p = new ScriptedProvider('fake:a');
      const prov = provisioner([p]);
      for (let i = 0; i < 12; i++) await prov.terminate(terminateCommand(`i-${i}`, null));
      await until('ten calls', () => p.calls.length === 10);
      await until('the eleventh waits on the clock', () => clock.nextWakeAt() !== undefined);
      assert.equal(clock.nextWakeAt(), T0 + 200);
      clock.advance(199);
      await turns();
      assert.equal(p.calls.length, 10);
      clock.advance(1);
      await until('the eleventh call', () => p.calls.length === 11);
      await until('the twelfth waits', () => clock.nextWakeAt() !== undefined);
      assert.equal(clock.nextWakeAt(), T0 + 400);
      clock.advance(200);
      await prov.settle();
      assert.equal(p.calls.length, 12);
    });

    it("uses each provider's own rate limit", async () => {
      const a = new ScriptedProvider('fake:a');
      const b = new ScriptedProvider('fake:b');
      const asked: string[] = [];
      const prov = provisioner([a, b], {
        rateLimit: (provider) => {
          asked.push(provider.id);
          return provider.id === 'fake:a' ? { capacity: 1, refillPerSecond: 0.5 } : { capacity: 3, refillPerSecond: 1 };
        },
      });
      assert.deepEqual(asked, ['fake:a', 'fake:b']);
      for (let i = 0; i < 2; i++) await prov.terminate(terminateCommand(`i-a${i}`, null));
      for (let i = 0; i < 4; i++) await prov.terminate(terminateCommand(`i-b${i}`, null, 'idle', 'fake:b'));
      await until('one call on a, three on b', () => a.calls.length === 1 && b.calls.length === 3);
      await until('both wait', () => clock.nextWakeAt() === T0 + 1_000);
      clock.advance(1_000);
      await until('the fourth on b', () => b.calls.length === 4);
      assert.equal(a.calls.length, 1, 'a refills one token in 2 s');
      clock.advance(1_000);
      await prov.settle();
      assert.equal(a.calls.length, 2);
    });

    it('runs at most 4 calls of a provider at once by default, or the configured concurrency', async () => {
      for (const [concurrency, expected] of [
        [undefined, 4],
        [2, 2],
      ] as const) {
        const p = new ScriptedProvider('fake:a');
        const gate = deferred();
        p.always(() => gate.promise);
        const prov = provisioner([p], concurrency === undefined ? {} : { concurrency });
        for (let i = 0; i < 6; i++) await prov.terminate(terminateCommand(`i-${concurrency}-${i}`, null));
        await until(`${expected} calls`, () => p.calls.length === expected);
        await turns();
        assert.equal(p.calls.length, expected, `concurrency ${concurrency}`);
        gate.resolve();
        await prov.settle();
        assert.equal(p.calls.length, 6);
      }
    });

    it('sends a queued terminate before a queued launch', async () => {
      const p = new ScriptedProvider('fake:a');
      const gate = deferred();
      p.next(() => gate.promise);
      const prov = provisioner([p], { concurrency: 1 });
      const first = await prov.launch(launchCommand({ count: 1 }));
      await until('the first call', () => p.calls.length === 1);
      const second = await prov.launch(launchCommand({ count: 1 }));
      await prov.terminate(terminateCommand('i-9', null));
      gate.resolve();
      await prov.settle();
      assert.deepEqual(
        p.calls.map((c) => c.request?.intentId ?? c.instanceIds),
        [first.id, ['i-9'], second.id],
      );
    });

    it('queues an intent once while its call is in flight, and again once it ended', async () => {
      const p = new ScriptedProvider('fake:a');
      const gate = deferred();
      p.next(async () => {
        await gate.promise;
        throw new ThrottledError('Request limit exceeded.');
      });
      const prov = provisioner([p]);
      const intent = await prov.launch(launchCommand());
      await until('the call', () => p.calls.length === 1);
      await prov.execute(intent);
      await prov.execute(stored(intent.id));
      gate.resolve();
      await prov.settle();
      assert.equal(p.calls.length, 1);
      clock.advance(1_000);
      await prov.execute(stored(intent.id));
      await prov.settle();
      assert.equal(p.calls.length, 2);
      assert.equal(stored(intent.id).state, 'done');
    });

    it('fails an intent of a provider that is not configured, without a call', async () => {
      const p = new ScriptedProvider('fake:a');
      const prov = provisioner([p]);
      const orphan: TerminateIntent = {
        id: 'intent-orphan',
        kind: 'terminate',
        providerId: 'gone:x',
        instanceIds: ['i-1'],
        reason: 'idle',
        state: 'pending',
        createdAtMs: T0,
        updatedAtMs: T0,
        attempts: 0,
        error: '',
      };
      store.intents.insert(orphan);
      clock.advance(7);
      await prov.execute(orphan);
      await prov.settle();
      assert.equal(p.calls.length, 0);
      assert.deepEqual(summary(orphan.id), {
        state: 'failed',
        attempts: 0,
        error: 'no provider gone:x is configured',
        instanceIds: ['i-1'],
        updatedAtMs: T0 + 7,
      });
      assert.deepEqual(logged(logs, 'dropped intent'), [
        { intentId: 'intent-orphan', reason: 'unknown provider gone:x' },
      ]);
      assert.deepEqual(levels(logs, 'dropped intent'), ['error']);
    });

    it('holds a call its hold names a reason for, leaving the intent open; the next execute sends it', async () => {
      const p = new ScriptedProvider('fake:a');
      let reason: string | undefined = 'this controller does not hold the lease';
      const asked: string[] = [];
      const prov = provisioner([p], {
        hold: async (intent) => {
          asked.push(intent.id);
          return reason;
        },
      });
      const launch = await prov.launch(launchCommand());
      const [terminate] = await prov.terminateAll([terminateCommand('i-1', null)]);
      await prov.settle();
      assert.equal(p.calls.length, 0);
      assert.deepEqual(asked.sort(), [launch.id, terminate!.id].sort());
      assert.equal(summary(launch.id).state, 'pending');
      assert.equal(summary(launch.id).attempts, 0);
      assert.equal(summary(terminate!.id).state, 'pending');
      assert.deepEqual(outcomes, []);
      const byKind = (a: Record<string, unknown>, b: Record<string, unknown>): number =>
        String(a.kind).localeCompare(String(b.kind));
      assert.deepEqual(logged(logs, 'held intent').sort(byKind), [
        { intentId: launch.id, kind: 'launch', reason: 'this controller does not hold the lease' },
        { intentId: terminate!.id, kind: 'terminate', reason: 'this controller does not hold the lease' },
      ]);
      assert.deepEqual(levels(logs, 'held intent'), ['info', 'info']);

      reason = undefined;
      await prov.execute(stored(launch.id));
      await prov.execute(stored(terminate!.id));
      await prov.settle();
      assert.equal(p.calls.length, 2);
      assert.deepEqual([summary(launch.id).state, summary(terminate!.id).state], ['done', 'done']);
      assert.equal(logged(logs, 'held intent').length, 2, 'a call that goes is not logged as held');
    });

    it('keeps an intent open when the store refuses it (a fenced write), and sends it on the next execute', async () => {
      const p = new ScriptedProvider('fake:a');
      let refuse = true;
      const prov = provisioner([p], {
        hold: async () => {
          if (refuse) throw new Error('fenced: tenure 3 ended');
          return undefined;
        },
      });
      const intent = await prov.launch(launchCommand());
      await prov.settle();
      assert.equal(p.calls.length, 0);
      assert.deepEqual(summary(intent.id), {
        state: 'pending',
        attempts: 0,
        error: '',
        instanceIds: [],
        updatedAtMs: T0,
      });
      assert.deepEqual(logged(logs, 'could not carry out intent'), [
        { intentId: intent.id, error: 'fenced: tenure 3 ended' },
      ]);
      assert.deepEqual(levels(logs, 'could not carry out intent'), ['warn']);
      refuse = false;
      await prov.execute(stored(intent.id));
      await prov.settle();
      assert.equal(stored(intent.id).state, 'done');
    });
  });

  describe('failures', () => {
    it('backs a retryable failure off 1, 2, 4, 8, 16, 30 and 30 s, and fails it at the eighth attempt', async () => {
      const p = new ScriptedProvider('fake:a');
      p.always(() => {
        throw new ThrottledError('Request limit exceeded.');
      });
      const prov = provisioner([p]);
      const intent = await prov.launch(launchCommand({ count: 3 }));
      await prov.settle();
      const backoffs = [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000];
      // maxProvisionMs would end the ladder first: out of the way here.
      store.policy.set({ ...PRODUCTION_POLICY, maxProvisionMs: 3_600_000 }, 'test', T0);
      for (const [i, backoff] of backoffs.entries()) {
        assert.equal(p.calls.length, i + 1);
        assert.deepEqual(summary(intent.id).attempts, i + 1);
        clock.advance(backoff - 1);
        await prov.execute(stored(intent.id));
        await prov.settle();
        assert.equal(p.calls.length, i + 1, `still backing off 1 ms before ${backoff} ms`);
        clock.advance(1);
        await prov.execute(stored(intent.id));
        await prov.settle();
      }
      assert.equal(p.calls.length, 8);
      const what = `launching 3 x ${SMALL_KEY}`;
      assert.deepEqual(summary(intent.id), {
        state: 'failed',
        attempts: 7,
        error: 'Request limit exceeded.',
        instanceIds: [],
        updatedAtMs: T0 + 91_000,
      });
      assert.deepEqual(
        outcomes.map(([, o]) => o),
        ['retry', 'retry', 'retry', 'retry', 'retry', 'retry', 'retry', 'failed'],
      );
      assert.deepEqual(
        logged(logs, 'launch will be retried'),
        backoffs.map((backoffMs, i) => ({
          intentId: intent.id,
          what,
          error: 'Request limit exceeded.',
          attempts: i + 1,
          backoffMs,
        })),
      );
      assert.deepEqual(logged(logs, 'launch failed'), [
        { intentId: intent.id, what, error: 'Request limit exceeded.', attempts: 8 },
      ]);
      assert.deepEqual(levels(logs, 'launch failed'), ['error']);
      assert.ok(levels(logs, 'launch will be retried').every((l) => l === 'warn'));
      assert.deepEqual(unavailable, []);
    });

    it('retries an error that is no SpillwayError (a dropped socket)', async () => {
      const p = new ScriptedProvider('fake:a');
      p.next(() => {
        throw new Error('socket hang up');
      });
      const prov = provisioner([p]);
      const intent = await prov.launch(launchCommand());
      await prov.settle();
      assert.deepEqual(summary(intent.id), {
        state: 'pending',
        attempts: 1,
        error: 'socket hang up',
        instanceIds: [],
        updatedAtMs: T0,
      });
      assert.deepEqual(outcomes, [[intent.id, 'retry']]);
    });

    for (const [name, error, outcome] of [
      ['capacity', new CapacityError('no f.small capacity in z-a', SMALL_KEY), 'capacity'],
      ['quota', new QuotaError('vCPU limit of 64 reached'), 'quota'],
    ] as const) {
      it(`fails a launch over on a ${name} answer: the offering is unavailable, the intent failed`, async () => {
        const p = new ScriptedProvider('fake:a');
        p.next(() => {
          throw error;
        });
        const prov = provisioner([p]);
        const intent = await prov.launch(launchCommand());
        clock.advance(3);
        await prov.settle();
        assert.deepEqual(summary(intent.id), {
          state: 'failed',
          attempts: 0,
          error: error.message,
          instanceIds: [],
          updatedAtMs: T0 + 3,
        });
        assert.deepEqual(outcomes, [[intent.id, outcome]]);
        assert.deepEqual(unavailable, [[SMALL_KEY, error.message]]);
        assert.deepEqual(logged(logs, 'launch failed over'), [
          { intentId: intent.id, error: error.message, action: 'next cheapest offering' },
        ]);
        assert.deepEqual(levels(logs, 'launch failed over'), ['warn']);
      });
    }

    for (const [name, error, scope, code] of [
      [
        'an instance type refused',
        new RefusedError('no such type', { scope: 'offering', code: 'InvalidParameterValue' }),
        'offering',
        'InvalidParameterValue',
      ],
      [
        'bad credentials',
        new AuthError('AWS was not able to validate the credentials', { code: 'AuthFailure' }),
        'provider',
        'AuthFailure',
      ],
      ['a non-retryable provider error', new ProviderError('the image is gone'), 'offering', 'ProviderError'],
    ] as const) {
      it(`fails a refused launch for good (${name}), without failing the offering over`, async () => {
        const p = new ScriptedProvider('fake:a');
        p.next(() => {
          throw error;
        });
        const prov = provisioner([p]);
        const intent = await prov.launch(launchCommand());
        await prov.settle();
        assert.deepEqual(summary(intent.id), {
          state: 'failed',
          attempts: 0,
          error: error.message,
          instanceIds: [],
          updatedAtMs: T0,
        });
        assert.deepEqual(outcomes, [[intent.id, 'refused']]);
        assert.deepEqual(unavailable, []);
        assert.deepEqual(logged(logs, 'launch refused'), [
          { intentId: intent.id, what: `launching 2 x ${SMALL_KEY}`, scope, code, error: error.message },
        ]);
        assert.deepEqual(levels(logs, 'launch refused'), ['debug']);
        assert.deepEqual(logged(logs, 'launch failed'), []);
      });
    }

    it('retries a terminate on a retryable error, quota included (no failover for a terminate)', async () => {
      for (const error of [
        new ProviderError('Service Unavailable', { retryable: true }),
        new QuotaError('request limit'),
      ]) {
        const p = new ScriptedProvider('fake:a');
        p.next(() => {
          throw error;
        });
        const prov = provisioner([p]);
        outcomes = [];
        const [intent] = await prov.terminateAll([terminateCommand('i-1', null)]);
        await prov.settle();
        assert.deepEqual(summary(intent!.id), {
          state: 'pending',
          attempts: 1,
          error: error.message,
          instanceIds: ['i-1'],
          updatedAtMs: T0,
        });
        assert.deepEqual(outcomes, [[intent!.id, 'retry']]);
        assert.deepEqual(logged(logs, 'terminate will be retried').at(-1), {
          intentId: intent!.id,
          what: 'terminating',
          error: error.message,
          attempts: 1,
          backoffMs: 1_000,
        });
      }
      assert.deepEqual(unavailable, []);
    });

    it('fails a refused terminate for good', async () => {
      const p = new ScriptedProvider('fake:a');
      p.next(() => {
        throw new AuthError('not authorized to perform ec2:TerminateInstances', { code: 'UnauthorizedOperation' });
      });
      const prov = provisioner([p]);
      const [intent] = await prov.terminateAll([terminateCommand('i-1', null)]);
      await prov.settle();
      assert.deepEqual(summary(intent!.id), {
        state: 'failed',
        attempts: 0,
        error: 'not authorized to perform ec2:TerminateInstances',
        instanceIds: ['i-1'],
        updatedAtMs: T0,
      });
      assert.deepEqual(outcomes, [[intent!.id, 'failed']]);
      assert.deepEqual(logged(logs, 'terminate failed'), [
        {
          intentId: intent!.id,
          what: 'terminating',
          error: 'not authorized to perform ec2:TerminateInstances',
          attempts: 1,
        },
      ]);
      assert.deepEqual(levels(logs, 'terminate failed'), ['error']);
      assert.deepEqual(logged(logs, 'launch refused'), []);
    });
  });

  describe('without an outcome listener (onOutcome is optional)', () => {
    it('records a terminate done, and fails a launch over, refuses, fails and retries as with one', async () => {
      const p = new ScriptedProvider('fake:a');
      p.next(
        () => undefined,
        () => {
          throw new CapacityError('no capacity', SMALL_KEY);
        },
        () => {
          throw new RefusedError('no such type', { scope: 'offering', code: 'InvalidParameterValue' });
        },
        () => {
          throw new AuthError('not authorized', { code: 'UnauthorizedOperation' });
        },
        () => {
          throw new ThrottledError('Request limit exceeded.');
        },
      );
      // One call at a time, so the scripted answers go to the calls in order.
      const prov = provisioner([p], { onOutcome: undefined, concurrency: 1 });
      const done = await prov.terminate(terminateCommand('i-1', null));
      await prov.settle();
      const capacity = await prov.launch(launchCommand());
      await prov.settle();
      const refused = await prov.launch(launchCommand());
      await prov.settle();
      const failed = await prov.terminate(terminateCommand('i-2', null));
      await prov.settle();
      const retried = await prov.launch(launchCommand());
      await prov.settle();
      assert.deepEqual(
        [done!, capacity, refused, failed!, retried].map((i) => [stored(i.id).state, stored(i.id).attempts]),
        [
          ['done', 0],
          ['failed', 0],
          ['failed', 0],
          ['failed', 0],
          ['pending', 1],
        ],
      );
      assert.deepEqual(unavailable, [[SMALL_KEY, 'no capacity']]);
      assert.deepEqual(
        logs
          .lines()
          .map((l) => l.message)
          .filter((m) => m !== 'decided launch' && m !== 'decided terminate'),
        ['terminated instances', 'launch failed over', 'launch refused', 'terminate failed', 'launch will be retried'],
      );
      // Backing off: not sent again before a second has passed.
      await prov.execute(stored(retried.id));
      await prov.settle();
      assert.equal(p.calls.length, 5);
    });
  });

  describe('breakers', () => {
    const target = { providerId: 'fake:a', offeringKey: SMALL_KEY };

    it('gives a first launch up without a call while a breaker holds its offering, with the breaker reason', async () => {
      const p = new ScriptedProvider('fake:a');
      const breakers = new LaunchBreakers({ clock, logger: logs.logger });
      breakers.record(target, {
        kind: 'refused',
        refusal: { scope: 'offering', code: 'InvalidParameterValue', message: 'no such type' },
      });
      const prov = provisioner([p], { breakers });
      const intent = await prov.launch(launchCommand());
      await prov.settle();
      assert.equal(p.calls.length, 0);
      const reason = 'fake:a refuses launches of f.small in z-a (on-demand): InvalidParameterValue; next try 12:01';
      assert.deepEqual(summary(intent.id), {
        state: 'failed',
        attempts: 0,
        error: reason,
        instanceIds: [],
        updatedAtMs: T0,
      });
      assert.deepEqual(logged(logs, 'gave up launch at an open breaker'), [{ intentId: intent.id, reason }]);
      assert.deepEqual(levels(logs, 'gave up launch at an open breaker'), ['info']);
      assert.deepEqual(outcomes, []);
    });

    it('keeps a launch tried before open until the breaker is due, then sends it as the trial, which closes it', async () => {
      const p = new ScriptedProvider('fake:a');
      p.next(() => {
        throw new ThrottledError('Request limit exceeded.');
      });
      const breakers = new LaunchBreakers({ clock, logger: logs.logger });
      const prov = provisioner([p], { breakers });
      const intent = await prov.launch(launchCommand());
      await prov.settle();
      // Another call's refusal opens the provider's breaker until T0 + 60 s.
      breakers.record(target, {
        kind: 'refused',
        refusal: { scope: 'provider', code: 'AuthFailure', message: 'bad credentials' },
      });
      clock.advance(1_000);
      await prov.execute(stored(intent.id));
      await prov.settle();
      assert.equal(p.calls.length, 1);
      assert.deepEqual(summary(intent.id), {
        state: 'pending',
        attempts: 1,
        error: 'Request limit exceeded.',
        instanceIds: [],
        updatedAtMs: T0,
      });
      assert.deepEqual(logged(logs, 'held launch at an open breaker'), [
        { intentId: intent.id, reason: 'fake:a refuses launches: AuthFailure; next try 12:01' },
      ]);
      assert.deepEqual(levels(logs, 'held launch at an open breaker'), ['debug']);
      // Until the breaker's time it is not even asked again.
      clock.set(T0 + 59_999);
      await prov.execute(stored(intent.id));
      await prov.settle();
      assert.equal(logged(logs, 'held launch at an open breaker').length, 1);
      clock.set(T0 + 60_000);
      await prov.execute(stored(intent.id));
      await prov.settle();
      assert.equal(p.calls.length, 2);
      assert.equal(stored(intent.id).state, 'done');
      assert.deepEqual(breakers.list(), [], 'the accepted trial closed the breaker');
    });

    for (const [name, error] of [
      ['capacity', new CapacityError('no capacity', SMALL_KEY)],
      ['quota', new QuotaError('vCPU limit')],
    ] as const) {
      it(`closes a breaker whose trial got a ${name} answer (the request itself was accepted)`, async () => {
        const p = new ScriptedProvider('fake:a');
        p.next(() => {
          throw error;
        });
        const breakers = new LaunchBreakers({ clock, logger: logs.logger });
        breakers.record(target, {
          kind: 'refused',
          refusal: { scope: 'provider', code: 'AuthFailure', message: 'bad credentials' },
        });
        clock.advance(60_000);
        const prov = provisioner([p], { breakers });
        await prov.launch(launchCommand());
        await prov.settle();
        assert.equal(p.calls.length, 1);
        assert.deepEqual(breakers.list(), []);
      });
    }

    it('opens a breaker of the refusal scope on a refused launch, and leaves a trial undecided on a retryable failure', async () => {
      const p = new ScriptedProvider('fake:a');
      p.next(
        () => {
          throw new RefusedError('no such type', {
            scope: 'offering',
            code: 'InvalidParameterValue',
            subject: 'f.small',
          });
        },
        () => {
          throw new ThrottledError('Request limit exceeded.');
        },
      );
      const breakers = new LaunchBreakers({ clock, logger: logs.logger });
      const prov = provisioner([p], { breakers });
      await prov.launch(launchCommand());
      await prov.settle();
      assert.deepEqual(
        breakers.list().map((b) => [b.key, b.scope, b.state, b.code, b.subject, b.retryAtMs]),
        [[SMALL_KEY, 'offering', 'open', 'InvalidParameterValue', 'f.small', T0 + 60_000]],
      );
      clock.advance(60_000);
      await prov.launch(launchCommand());
      await prov.settle();
      assert.equal(p.calls.length, 2, 'the second launch was the trial');
      assert.deepEqual(
        breakers.list().map((b) => [b.key, b.state, b.retryAtMs]),
        [[SMALL_KEY, 'open', T0 + 60_000]],
        'undecided: due again at once',
      );
    });
  });

  describe('terminate', () => {
    it('drains the agents and writes one intent per provider, naming every reason', async () => {
      const p = new ScriptedProvider('fake:a');
      const q = new ScriptedProvider('fake:b');
      let hold: string | undefined = 'bursting is paused';
      const prov = provisioner([p, q], { hold: async () => hold });
      const a1 = cloudAgent('i-a1');
      const a2 = cloudAgent('i-a2', 'provisioning');
      const b1 = cloudAgent('i-b1', 'registered', 'fake:b');
      clock.advance(9);
      const intents = await prov.terminateAll([
        terminateCommand('i-a1', a1, 'idle past its ttl'),
        terminateCommand('i-b1', b1, 'idle past its ttl', 'fake:b'),
        terminateCommand('i-a9', null, 'unknown instance'),
        terminateCommand('i-a2', a2, 'idle past its ttl'),
      ]);
      const common = {
        kind: 'terminate',
        state: 'pending',
        createdAtMs: T0 + 9,
        updatedAtMs: T0 + 9,
        attempts: 0,
        error: '',
      };
      assert.deepEqual(intents, [
        {
          id: intents[0]!.id,
          providerId: 'fake:a',
          instanceIds: ['i-a1', 'i-a9', 'i-a2'],
          reason: 'idle past its ttl; unknown instance',
          ...common,
        },
        { id: intents[1]!.id, providerId: 'fake:b', instanceIds: ['i-b1'], reason: 'idle past its ttl', ...common },
      ]);
      assert.deepEqual(store.intents.get(intents[0]!.id), intents[0]);
      assert.deepEqual(store.intents.get(intents[1]!.id), intents[1]);
      await prov.settle();
      assert.deepEqual(
        [a1, a2, b1].map((id) => [store.agents.get(id)?.state, store.agents.get(id)?.reason]),
        [
          ['draining', 'idle past its ttl'],
          ['draining', 'idle past its ttl'],
          ['draining', 'idle past its ttl'],
        ],
      );
      assert.deepEqual(logged(logs, 'decided terminate'), [
        { intentId: intents[0]!.id, agentId: a1, instanceId: 'i-a1', reason: 'idle past its ttl' },
        { intentId: intents[0]!.id, agentId: null, instanceId: 'i-a9', reason: 'unknown instance' },
        { intentId: intents[0]!.id, agentId: a2, instanceId: 'i-a2', reason: 'idle past its ttl' },
        { intentId: intents[1]!.id, agentId: b1, instanceId: 'i-b1', reason: 'idle past its ttl' },
      ]);

      hold = undefined;
      clock.advance(1);
      for (const intent of intents) await prov.execute(intent);
      await prov.settle();
      assert.deepEqual(p.terminates(), [['i-a1', 'i-a9', 'i-a2']]);
      assert.deepEqual(q.terminates(), [['i-b1']]);
      assert.deepEqual(
        [a1, a2, b1].map((id) => [store.agents.get(id)?.state, store.agents.get(id)?.reason]),
        [
          ['terminated', `terminated by intent ${intents[0]!.id}: idle past its ttl; unknown instance`],
          ['terminated', `terminated by intent ${intents[0]!.id}: idle past its ttl; unknown instance`],
          ['terminated', `terminated by intent ${intents[1]!.id}: idle past its ttl`],
        ],
      );
      assert.deepEqual(summary(intents[0]!.id).state, 'done');
      // The two providers' calls run side by side: compared in intent id order.
      const byId = (a: [string, unknown], b: [string, unknown]): number => a[0].localeCompare(b[0]);
      const byIntent = (a: Record<string, unknown>, b: Record<string, unknown>): number =>
        String(a.intentId).localeCompare(String(b.intentId));
      assert.deepEqual(
        outcomes.sort(byId),
        (
          [
            [intents[0]!.id, 'done'],
            [intents[1]!.id, 'done'],
          ] as [string, unknown][]
        ).sort(byId),
      );
      assert.deepEqual(
        logged(logs, 'terminated instances').sort(byIntent),
        [
          {
            intentId: intents[0]!.id,
            instanceIds: ['i-a1', 'i-a9', 'i-a2'],
            reason: 'idle past its ttl; unknown instance',
          },
          { intentId: intents[1]!.id, instanceIds: ['i-b1'], reason: 'idle past its ttl' },
        ].sort(byIntent),
      );
    });

    it('logs each decided instance once, under the intent of its own provider', async () => {
      const p = new ScriptedProvider('fake:a');
      const q = new ScriptedProvider('fake:b');
      const prov = provisioner([p, q], { hold: async () => 'paused' });
      const busyAgent = cloudAgent('i-busy');
      busy(busyAgent);
      // Instance ids are per provider: both have an `i-1`.
      const [a, b] = await prov.terminateAll([
        terminateCommand('i-1', null, 'unknown instance'),
        terminateCommand('i-busy', busyAgent),
        terminateCommand('i-1', null, 'unknown instance', 'fake:b'),
      ]);
      await prov.settle();
      assert.deepEqual(logged(logs, 'decided terminate'), [
        { intentId: a!.id, agentId: null, instanceId: 'i-1', reason: 'unknown instance' },
        { intentId: b!.id, agentId: null, instanceId: 'i-1', reason: 'unknown instance' },
      ]);
    });

    it('answers no intent, records none and calls no cloud when asked to terminate nothing', async () => {
      const p = new ScriptedProvider('fake:a');
      const prov = provisioner([p]);
      assert.deepEqual(await prov.terminateAll([]), []);
      await prov.settle();
      assert.equal(p.calls.length, 0);
      assert.deepEqual(store.intents.open(), []);
    });

    it('leaves out a busy registered agent unless forced, and an agent that is gone', async () => {
      const p = new ScriptedProvider('fake:a');
      const prov = provisioner([p]);
      const a1 = cloudAgent('i-a1');
      const task = busy(a1);
      assert.equal(await prov.terminate(terminateCommand('i-a1', a1)), undefined);
      assert.deepEqual(
        await prov.terminateAll([terminateCommand('i-a1', a1), terminateCommand('i-gone', 'a-gone')]),
        [],
      );
      await prov.settle();
      assert.equal(p.calls.length, 0);
      assert.equal(store.agents.get(a1)?.state, 'registered');
      assert.deepEqual(logged(logs, 'decided terminate'), []);

      const forced = await prov.terminate(terminateCommand('i-a1', a1, 'budget released'), { force: true });
      assert.deepEqual(forced?.instanceIds, ['i-a1']);
      await prov.settle();
      assert.deepEqual(p.terminates(), [['i-a1']]);
      assert.equal(store.agents.get(a1)?.state, 'terminated');
      assert.equal(store.tasks.get(task)?.state, 'pending', 'its task went back to pending');
    });

    it('terminates a busy draining agent and a lost one without moving their state first', async () => {
      const p = new ScriptedProvider('fake:a');
      const prov = provisioner([p], { hold: async () => 'paused' });
      const draining = cloudAgent('i-d');
      busy(draining);
      store.agents.setState(draining, 'draining', 'draining for a spot notice', T0);
      const lost = cloudAgent('i-l');
      store.agents.setState(lost, 'lost', 'no heartbeat for 10 min', T0);
      const intents = await prov.terminateAll([terminateCommand('i-d', draining), terminateCommand('i-l', lost)]);
      await prov.settle();
      assert.deepEqual(
        intents.map((i) => i.instanceIds),
        [['i-d', 'i-l']],
      );
      assert.deepEqual(
        [draining, lost].map((id) => [store.agents.get(id)?.state, store.agents.get(id)?.reason]),
        [
          ['draining', 'draining for a spot notice'],
          ['lost', 'no heartbeat for 10 min'],
        ],
      );
    });

    it('splits a terminate of over 1,000 instances of a provider into intents of up to 1,000', async () => {
      const p = new ScriptedProvider('fake:a');
      const prov = provisioner([p], { hold: async () => 'paused' });
      const ids = (n: number, prefix: string): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
      const exactly = await prov.terminateAll(ids(1_000, 'x').map((id) => terminateCommand(id, null)));
      assert.deepEqual(
        exactly.map((i) => i.instanceIds),
        [ids(1_000, 'x')],
      );
      const over = await prov.terminateAll(ids(1_001, 'y').map((id) => terminateCommand(id, null)));
      assert.deepEqual(
        over.map((i) => i.instanceIds),
        [ids(1_000, 'y'), ['y-1000']],
      );
      await prov.settle();
    });

    it('closes the agents of the instances a partial terminate ended, and retries the rest', async () => {
      const p = new ScriptedProvider('fake:a');
      const prov = provisioner([p]);
      const b1 = cloudAgent('i-b1');
      const b2 = cloudAgent('i-b2');
      const b3 = cloudAgent('i-b3');
      const task = busy(b1);
      p.next(() => {
        // Meanwhile another path closed b3.
        store.agents.setState(b3, 'terminated', 'terminated by an earlier intent', T0);
        throw new PartialTerminateError(
          'terminating 4 instance(s)',
          ['i-b1', 'i-b3', 'i-none'],
          [{ instanceId: 'i-b2', error: 'OperationNotPermitted: termination protection', retryable: false }],
        );
      });
      clock.advance(4);
      const [intent] = await prov.terminateAll(
        [
          terminateCommand('i-b1', b1),
          terminateCommand('i-b2', b2),
          terminateCommand('i-b3', b3),
          terminateCommand('i-none', null),
        ],
        { force: true },
      );
      await prov.settle();
      const message =
        'terminating 4 instance(s): 1 of 4 instance(s) not terminated: i-b2 (OperationNotPermitted: termination protection)';
      assert.deepEqual(summary(intent!.id), {
        state: 'pending',
        attempts: 1,
        error: message,
        instanceIds: ['i-b1', 'i-b2', 'i-b3', 'i-none'],
        updatedAtMs: T0 + 4,
      });
      assert.deepEqual(
        [b1, b2, b3].map((id) => [store.agents.get(id)?.state, store.agents.get(id)?.reason]),
        [
          ['terminated', `terminated by intent ${intent!.id}: idle past its ttl`],
          ['draining', 'idle past its ttl'],
          ['terminated', 'terminated by an earlier intent'],
        ],
      );
      assert.equal(store.tasks.get(task)?.state, 'pending');
      assert.deepEqual(logged(logs, 'terminated some instances'), [
        {
          intentId: intent!.id,
          terminated: ['i-b1', 'i-b3', 'i-none'],
          failed: [{ instanceId: 'i-b2', error: 'OperationNotPermitted: termination protection' }],
        },
      ]);
      assert.deepEqual(levels(logs, 'terminated some instances'), ['warn']);
      assert.deepEqual(outcomes, [[intent!.id, 'retry']]);
    });
  });

  describe('failpoints (the crash tests kill at these names)', () => {
    afterEach(() => {
      delete process.env.SPILLWAY_FAILPOINTS;
      resetFailpoints();
    });

    function arm(spec: string): void {
      process.env.SPILLWAY_FAILPOINTS = spec;
      resetFailpoints();
    }

    it('intent.writing: before the launch intent is written', async () => {
      const p = new ScriptedProvider('fake:a');
      const prov = provisioner([p]);
      arm('intent.writing=throw');
      await assert.rejects(prov.launch(launchCommand()), /failpoint intent\.writing reached/);
      assert.deepEqual(store.intents.launches(0), []);
    });

    it('intent.written: after the launch intent is written, before its call', async () => {
      const p = new ScriptedProvider('fake:a');
      const prov = provisioner([p]);
      arm('intent.written=throw');
      await assert.rejects(prov.launch(launchCommand()), /failpoint intent\.written reached/);
      await prov.settle();
      assert.deepEqual(
        store.intents.launches(0).map((i) => i.state),
        ['pending'],
      );
      assert.equal(p.calls.length, 0);
    });

    it('provider.returned: after the launch call, before its instances are recorded', async () => {
      const p = new ScriptedProvider('fake:a');
      const prov = provisioner([p]);
      arm('provider.returned=throw');
      const intent = await prov.launch(launchCommand());
      await prov.settle();
      assert.equal(p.calls.length, 1);
      assert.deepEqual(summary(intent.id), {
        state: 'pending',
        attempts: 1,
        error: 'failpoint provider.returned reached',
        instanceIds: [],
        updatedAtMs: T0,
      });
    });

    it('terminate.written: after terminate intents are written, before their calls; not reached when none is', async () => {
      const p = new ScriptedProvider('fake:a');
      const prov = provisioner([p]);
      const a1 = cloudAgent('i-a1');
      busy(a1);
      arm('terminate.written=throw');
      assert.deepEqual(await prov.terminateAll([terminateCommand('i-a1', a1)]), []);
      await assert.rejects(prov.terminateAll([terminateCommand('i-1', null)]), /failpoint terminate\.written reached/);
      await prov.settle();
      assert.equal(p.calls.length, 0);
      assert.deepEqual(
        store.intents.open().map((i) => [i.kind, i.instanceIds]),
        [['terminate', ['i-1']]],
      );
    });

    it('provider.terminated: after the terminate call, before it is recorded', async () => {
      const p = new ScriptedProvider('fake:a');
      const prov = provisioner([p]);
      arm('provider.terminated=throw');
      const [intent] = await prov.terminateAll([terminateCommand('i-1', null)]);
      await prov.settle();
      assert.equal(p.calls.length, 1);
      assert.deepEqual(summary(intent!.id).state, 'pending');
      assert.deepEqual(summary(intent!.id).error, 'failpoint provider.terminated reached');
    });
  });
});
