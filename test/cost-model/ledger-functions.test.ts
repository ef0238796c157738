import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { resources } from '../../src/core/resources.ts';
import { amortizedPrivateRate, effectivePricePerHour, usageByAgent } from '../../src/cost-model/ledger.ts';
import { cloudInterval, owner, privateInterval, T0, usage } from './ledger-builders.ts';

describe('ledger functions', () => {
  it('prices a private agent at its capacity times the configured rates, and a cloud agent at its own price', () => {
    // 4 CPUs x $0.05 + 8 GiB x $0.01 + 1 GPU x $1 = $1.28 an hour.
    const rate = amortizedPrivateRate({ usdPerCpuHour: 0.05, usdPerGiBHour: 0.01, usdPerGpuHour: 1 });
    const rack = privateInterval({ capacity: resources({ cpuMillis: 4000, memoryMiB: 8192, gpus: 1 }) });
    assert.equal(rate(rack), 1_280_000);
    assert.equal(effectivePricePerHour(rack, rate), 1_280_000);
    // The defaults ($0.02 a CPU-hour, $0.0025 a GiB-hour): 4 CPUs and 8 GiB are $0.10 an hour.
    assert.equal(
      amortizedPrivateRate()(privateInterval({ capacity: resources({ cpuMillis: 4000, memoryMiB: 8192 }) })),
      100_000,
    );
    const cloud = cloudInterval({ pricePerHourMicros: 360_000, capacity: resources({ cpuMillis: 4000, gpus: 1 }) });
    assert.equal(effectivePricePerHour(cloud, rate), 360_000);
  });

  it('groups usage by agent, each group in start order and then by id', () => {
    const x = cloudInterval();
    const y = cloudInterval();
    const who = owner('team-a');
    const run = (agent: typeof x, id: number, startMs: number) =>
      usage(agent, who, 0.5, startMs, startMs + 1_000, { id, taskId: `t-${id}` });
    // Given neither in start order nor in id order; ties on the start go by id.
    const given = [
      run(x, 7, T0 + 30),
      run(y, 2, T0 + 5),
      run(x, 9, T0 + 10),
      run(x, 3, T0 + 10),
      run(x, 1, T0 + 20),
      run(y, 8, T0),
    ];
    const groups = usageByAgent(given);
    assert.deepEqual([...groups.keys()].sort(), [x.agentId, y.agentId].sort());
    assert.deepEqual(
      groups.get(x.agentId)!.map((u) => u.id),
      [3, 9, 1, 7],
    );
    assert.deepEqual(
      groups.get(y.agentId)!.map((u) => u.id),
      [8, 2],
    );
  });
});
