import assert from 'node:assert/strict';
import { measureLatency } from '../../bench/decision-latency.ts';
import { seededRandom } from '../../src/core/random.ts';

/**
 * The decision-latency benchmark's engine runs (issue 17: PostgreSQL next to SQLite) at a toy size: each run's
 * controller must have worked on the engine it names. What the store held at the end is read past the store's code
 * (a client of its own on the bench's PostgreSQL server; the SQLite file opened anew), so a run that silently used
 * another store finds no intents and no lease there.
 */
describe('bench decision-latency: each engine run uses the store it names', function () {
  this.timeout(120_000);
  const agents = 12;
  const tasksPerAgent = 30;
  // Trial 1 submits a burst of 200 tasks (launch), trial 2 one task into freed room (place).
  const expectedTasks = agents * tasksPerAgent + 200 + 1;

  for (const [engine, name] of [
    ['postgres', /^PostgreSQL \d+/],
    ['sqlite', /^SQLite 3\./],
  ] as const) {
    it(`${engine}: the pool, the controller's launch intents and its lease are in that engine's database`, async () => {
      const run = await measureLatency(engine, { agents, trials: 2, random: seededRandom(17), log: () => undefined });
      assert.match(run.evidence.engine, name);
      assert.equal(run.evidence.tasks, expectedTasks);
      assert.ok(run.evidence.intents >= 1, `the launch trial recorded a launch intent (found ${run.evidence.intents})`);
      assert.equal(run.evidence.leaseHolder, 'bench');
      assert.deepEqual(
        run.latencies.map((l) => l.kind),
        ['launch', 'place'],
      );
      for (const l of run.latencies) assert.ok(Number.isFinite(l.ms) && l.ms >= 0, `a decision was made: ${l.ms}`);
      assert.ok(run.passMs.length >= 2);
    });
  }
});
