import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { Controller } from '../../src/autoscaler/controller.ts';
import { PROTOCOL_VERSION } from '../../src/agent/protocol.ts';
import { localProviderSchema } from '../../src/config/schema.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { bootstrapCredential, hashToken, newApiToken } from '../../src/core/credentials.ts';
import { newId } from '../../src/core/ids.ts';
import type { LaunchIntent } from '../../src/core/intent.ts';
import { offeringKey } from '../../src/core/offering.ts';
import { PRODUCTION_POLICY, type Policy } from '../../src/core/policy.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { BuiltinPool } from '../../src/pool/builtin/builtin-pool.ts';
import { AgentRegistry } from '../../src/pool/builtin/registry.ts';
import { LocalProvider } from '../../src/providers/local/local-provider.ts';
import { localOfferings } from '../../src/providers/local/offerings.ts';
import { Simulation, SIM_SETTINGS, type Decision, type PrivateMachine } from '../../src/sim/simulation.ts';
import type { TraceTask } from '../../src/sim/trace.ts';
import { job, stream } from './helpers.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { asyncSqliteStore } from '../../src/store/sqlite/async-sqlite-store.ts';
import type { Store } from '../../src/store/store.ts';

/** An "agent" that needs no controller: it runs until killed (the test registers instances itself). */
const IDLE_AGENT = [process.execPath, '-e', 'setInterval(() => {}, 1000)', '--'];
const START_MS = Date.UTC(2026, 0, 1);
const CLUSTER = 'simulation';

const CONFIG = localProviderSchema.parse({
  kind: 'local',
  name: 'equiv',
  zones: ['local-a'],
  bootDelayMs: 3_000,
  capacityPerZone: 8,
  offerings: [
    { instanceType: 'small', cpu: 2, memory: '4Gi', pricePerHourUsd: 0.1, spotPricePerHourUsd: 0.03 },
    { instanceType: 'medium', cpu: 4, memory: '8Gi', pricePerHourUsd: 0.15 },
  ],
});
const PROVIDER_ID = `local:${CONFIG.name}`;

const POLICY: Policy = { ...PRODUCTION_POLICY, pendingGraceMs: 5_000, idleTtlMs: 10_000, maxProvisionMs: 60_000 };
const PRIVATE: PrivateMachine = {
  name: 'private-0',
  capacity: { cpuMillis: 2_000, memoryMiB: 4_096, gpus: 0, netMbps: 0 },
  labels: {},
};

/** Private room for two, then bursts: a medium for three tasks, a spot small for a revocable one, more later. */
const SCENARIO: readonly TraceTask[] = [
  job('a', 0, 1, 30),
  job('b', 0, 1, 40),
  job('c', 2, 1, 20),
  job('d', 2, 2, 25),
  job('e', 2, 1, 10),
  job('f', 12, 3, 15),
  job('g', 13, 2, 8, true),
  job('h', 45, 2, 12),
];
const END_S = 150;

/**
 * The reference: the real controller with the local provider (real instance processes) on a manual clock, stepped
 * one pass interval at a time as its loop runs, with the test in the agents' place: each instance registers with its
 * launch's bootstrap credential once booted, agents pull after each pass and report each task's exit after its run.
 */
async function referenceRun(dir: string): Promise<{ decisions: Decision[]; store: Store; provider: LocalProvider }> {
  const clock = new ManualClock(START_MS);
  const store = openSqliteStore(join(dir, 'ref.db'));
  store.meta.bindClusterId(CLUSTER);
  store.policy.seed(POLICY, clock.now());
  const logger = silentLogger();
  const provider = new LocalProvider({
    config: CONFIG,
    stateDir: join(dir, 'local-cloud'),
    agentCommand: IDLE_AGENT,
    logger,
    now: () => clock.now(),
    terminateGraceMs: 300,
  });
  const asyncStore = asyncSqliteStore(store);
  const registry = new AgentRegistry({ store: asyncStore, clock, heartbeatIntervalMs: 1_000, pollIntervalMs: 1_000, logger });
  const controller = new Controller({
    store: asyncStore,
    pool: new BuiltinPool({ store: asyncStore, logger, lostAfterMs: Number.MAX_SAFE_INTEGER / 4 }),
    providers: [provider],
    clock,
    logger,
    settings: SIM_SETTINGS,
    identity: {
      holderId: 'reference',
      launch: {
        clusterId: CLUSTER,
        controllerUrl: 'http://127.0.0.1:1',
        caBundle: '',
        serverSecret: store.meta.serverSecret(),
      },
    },
  });
  const token = store.tokens.create(
    { id: newId('tok'), role: 'agent', name: 'private', agentId: null, createdAtMs: clock.now() },
    hashToken(newApiToken()),
  );
  registry.register({ kind: 'token', token }, { protocolVersion: PROTOCOL_VERSION, ...PRIVATE, site: 'sim' });
  const traceOf = new Map<string, TraceTask>();
  const names = new Map<string, string>(); // instance id -> name
  const decisions: Decision[] = [];
  for (let s = 0; s <= END_S; s++) {
    clock.set(START_MS + s * 1000);
    const now = clock.now();
    const arriving = SCENARIO.filter((t) => t.submitS === s);
    if (arriving.length > 0) {
      const inserted = store.tasks.insert(
        arriving.map((t) => ({
          owner: t.owner,
          resources: t.resources,
          priority: 0,
          revocable: t.revocable,
          constraints: {},
          command: [],
        })),
        now,
      );
      inserted.forEach((task, i) => traceOf.set(task.id, arriving[i]!));
    }
    for (const intent of store.intents.launches(0) as LaunchIntent[]) {
      for (const instanceId of intent.instanceIds) {
        if (!names.has(instanceId)) names.set(instanceId, `${intent.offering.instanceType}-${names.size + 1}`);
        const agent = store.agents.byInstance(PROVIDER_ID, instanceId);
        if (agent?.state !== 'provisioning' || agent.registeredAtMs + intent.offering.bootMs > now) continue;
        registry.register(
          { kind: 'bootstrap', credential: bootstrapCredential(store.meta.serverSecret(), intent.id) },
          {
            protocolVersion: PROTOCOL_VERSION,
            name: names.get(instanceId)!,
            capacity: intent.offering.capacity,
            labels: intent.offering.labels,
            instanceId,
          },
          // This reference run plays the cloud, so it attests its own instances as the simulator does.
          { instanceId },
        );
      }
    }
    for (const task of store.tasks.list({ states: ['running'] })) {
      if (task.startedAtMs! + traceOf.get(task.id)!.runS * 1000 <= now) {
        registry.report(task.agentId!, task.id, { kind: 'exit', exitCode: 0, outputTail: '' });
      }
    }
    const report = await controller.runPass();
    await controller.settle();
    const placed = store.tasks.list({ states: ['placed'] });
    for (const agentId of new Set(placed.map((t) => t.agentId!))) registry.pull(agentId);
    if (report.launches.length + placed.length + report.terminates.length === 0) continue;
    const name = (agentId: string | null): string => {
      const agent = agentId ? store.agents.get(agentId) : undefined;
      return agent ? (names.get(agent.instanceId ?? '') ?? agent.name) : '(unknown)';
    };
    decisions.push({
      atMs: now,
      launches: report.launches.map((l) => ({
        offering: offeringKey(l.offering),
        count: l.count,
        tasks: l.taskIds.map((id) => traceOf.get(id)!.id),
      })),
      placements: placed.map((t) => ({ task: traceOf.get(t.id)!.id, agent: name(t.agentId) })),
      terminates: report.terminates.map((t) => ({ agent: name(t.agentId), reason: t.reason })),
    });
  }
  return { decisions, store, provider };
}

function canonical(decisions: readonly Decision[]): Decision[] {
  return decisions.map((d) => ({
    ...d,
    placements: [...d.placements].sort((a, b) => a.task.localeCompare(b.task)),
    launches: [...d.launches].sort((a, b) => a.offering.localeCompare(b.offering)),
  }));
}

describe('simulator against the real controller', function () {
  this.timeout(60_000);
  let dir: string;
  let cleanup: (() => Promise<void>) | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-equiv-'));
  });
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes the same launches, placements and terminations as the controller with the local provider', async () => {
    const simulation = new Simulation({
      trace: stream(SCENARIO),
      startMs: START_MS,
      privateMachines: [PRIVATE],
      clouds: [
        {
          providerId: PROVIDER_ID,
          kind: 'local',
          offerings: localOfferings(CONFIG, PROVIDER_ID),
          capacityPerOffering: 8,
        },
      ],
      policy: POLICY,
      spotInterruptionsPerHour: 0,
      decisionLog: true,
    });
    const sim = await simulation.run();
    sim.store.close();
    const ref = await referenceRun(dir);
    cleanup = async () => {
      const live = await ref.provider.list(CLUSTER);
      await ref.provider.terminate(live.map((i) => i.id));
      ref.store.close();
    };

    assert.deepEqual(canonical(sim.decisions), canonical(ref.decisions));
    // Not vacuous: the scenario bursts on-demand and spot, places on private and cloud agents, and scales down.
    const launches = sim.decisions.flatMap((d) => d.launches);
    assert.ok(launches.length >= 3, `launches: ${JSON.stringify(launches)}`);
    assert.ok(
      launches.some((l) => l.offering.endsWith('/spot')),
      'a spot launch for the revocable task',
    );
    const placements = sim.decisions.flatMap((d) => d.placements);
    assert.equal(new Set(placements.map((p) => p.task)).size, SCENARIO.length);
    assert.ok(placements.some((p) => p.agent === 'private-0'));
    assert.ok(sim.decisions.some((d) => d.terminates.some((t) => /idle for/.test(t.reason))));
    assert.equal(sim.finished, SCENARIO.length);
  });
});
