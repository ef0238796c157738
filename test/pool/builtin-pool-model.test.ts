import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { after, before, describe, it } from 'mocha';
import { LIVE_AGENT_STATES, type Agent } from '../../src/core/agent.ts';
import { ConflictError } from '../../src/core/errors.ts';
import { resources } from '../../src/core/resources.ts';
import type { TaskHeader } from '../../src/core/task.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { BuiltinPool } from '../../src/pool/builtin/builtin-pool.ts';
import { placeTasks } from '../../src/pool/builtin/placement.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { policy } from '../fakes/builders.ts';
import { asyncOf } from '../helpers/async-store.ts';

/** Pools tried: a fifth of SPILLWAY_PROPERTY_RUNS (CI sets 1000), default 20; each is a store file of its own. */
const RUNS = Math.ceil(Number(process.env['SPILLWAY_PROPERTY_RUNS'] ?? 100) / 5);
const NOW = Date.UTC(2026, 11, 6);

const agentSpec = fc.record({
  cloud: fc.boolean(),
  spot: fc.boolean(),
  cpus: fc.integer({ min: 1, max: 4 }),
  gpu: fc.boolean(),
  isolated: fc.boolean(),
  draining: fc.boolean(),
  busy: fc.nat(3),
});
const taskSpec = fc.record({
  cpuMillis: fc.constantFrom(250, 500, 1000, 2000),
  memoryMiB: fc.constantFrom(256, 1024, 4096),
  gpus: fc.nat(1),
  priority: fc.nat(2),
  privateOnly: fc.boolean(),
  revocable: fc.boolean(),
  gpuModel: fc.boolean(),
});

/** A fixed, arbitrary budget answer per task and agent, so the cloud check matters. */
function allowCloud(task: TaskHeader, agent: Agent): boolean {
  return (task.id.charCodeAt(task.id.length - 1) + agent.id.charCodeAt(agent.id.length - 1)) % 3 !== 0;
}

describe('builtin pool on the model', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-pool-model-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('places exactly what placement over every live agent of the store places', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(agentSpec, { minLength: 1, maxLength: 12 }),
        fc.array(taskSpec, { minLength: 1, maxLength: 25 }),
        fc.boolean(),
        async (agents, tasks, requireIsolation) => {
          const file = join(dir, `run-${run++}.db`);
          const store = openSqliteStore(file);
          try {
            store.policy.seed(policy({ requireIsolation }), NOW);
            const filler = store.tasks.insert(
              agents.flatMap((a, i) =>
                Array.from({ length: a.busy }, () => ({
                  owner: { team: 't', project: 'p', job: `busy-${i}` },
                  resources: resources({ cpuMillis: 500, memoryMiB: 512 }),
                  priority: 0,
                  revocable: true,
                  constraints: {},
                  command: ['true'],
                })),
              ),
              NOW,
            );
            let next = 0;
            agents.forEach((a, i) => {
              const agent = store.agents.insert(
                {
                  name: `n${i}`,
                  location: a.cloud
                    ? { kind: 'cloud', provider: 'fake', region: 'r', zone: 'r-a' }
                    : { kind: 'private', site: 'lab' },
                  capacity: resources({ cpuMillis: 1000 * a.cpus, memoryMiB: 2048 * a.cpus, gpus: a.gpu ? 1 : 0 }),
                  labels: a.gpu ? { 'gpu.model': 'A100-40GB' } : {},
                  lifecycle: a.cloud ? (a.spot ? 'spot' : 'on-demand') : 'private',
                  pricePerHourMicros: a.cloud ? 100_000 : 0,
                  state: 'registered',
                  instanceId: a.cloud ? `i-${i}` : null,
                  providerId: a.cloud ? 'fake:test' : null,
                  intentId: null,
                },
                NOW,
              );
              if (a.isolated) store.agents.setIsolation(agent.id, 'cgroup-v2');
              for (let k = 0; k < a.busy; k++) {
                try {
                  store.tasks.place(filler[next++]!.id, agent.id, NOW);
                } catch (err) {
                  if (!(err instanceof ConflictError)) throw err;
                }
              }
              if (a.draining) store.agents.setState(agent.id, 'draining', 'test', NOW);
            });
            store.tasks.insert(
              tasks.map((t, i) => ({
                owner: { team: 't', project: 'p', job: `j${i}` },
                resources: resources({ cpuMillis: t.cpuMillis, memoryMiB: t.memoryMiB, gpus: t.gpus }),
                priority: t.priority,
                revocable: t.revocable,
                constraints: { privateOnly: t.privateOnly, ...(t.gpuModel ? { gpuModels: ['A100'] } : {}) },
                command: ['true'],
              })),
              NOW,
            );
            // Expected: the pure placement over every live agent and every pending task, read by the repos.
            const expected = placeTasks(store.tasks.pending(), store.agents.list({ states: LIVE_AGENT_STATES }), {
              requireIsolation,
              allowCloud,
            });
            const pool = new BuiltinPool({ store: asyncOf(store), logger: silentLogger(), lostAfterMs: 60_000, agentsIsolate: true });
            assert.deepEqual(await pool.place(NOW, allowCloud), expected);
            for (const p of expected) assert.equal(store.tasks.get(p.taskId)?.agentId, p.agentId);
          } finally {
            store.close();
            rmSync(file, { force: true });
          }
        },
      ),
      { numRuns: RUNS, seed: 20_261_206 },
    );
  });
});
