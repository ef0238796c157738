import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { cheapestHolder, warmRoomPays } from '../../src/autoscaler/warm-placement.ts';
import { cloudAgent, offering, task } from '../fakes/builders.ts';

describe('warm placement', () => {
  // The task's own cheapest instance costs 100,000 micro-USD/h and boots in 75 s in every case; the task is inside
  // its grace period (overdue -1 ms) unless a case says otherwise.
  const cases = [
    { name: 'a busy agent at twice the price', price: 200_000, busy: true, want: true },
    { name: 'a busy agent at a little over twice the price', price: 200_001, busy: true, want: false },
    { name: 'an idle agent at the same price', price: 100_000, busy: false, want: true },
    { name: 'an idle agent a little dearer', price: 100_001, busy: false, want: false },
    { name: 'a busy agent cheaper than its own instance', price: 50_000, busy: true, want: true },
    {
      name: 'a dear idle agent, 1 ms short of two own boots past grace',
      price: 900_000,
      busy: false,
      overdueMs: 149_999,
      want: false,
    },
    {
      name: 'a dear idle agent, its own instance two boots overdue',
      price: 900_000,
      busy: false,
      overdueMs: 150_000,
      want: true,
    },
    {
      name: 'a dear busy agent, its own instance two boots overdue',
      price: 900_000,
      busy: true,
      overdueMs: 150_000,
      want: true,
    },
  ];
  for (const c of cases) {
    it(`${c.want ? 'takes' : 'passes over'} room on ${c.name}`, () => {
      const agent = cloudAgent({
        pricePerHourMicros: c.price,
        capacity: { cpuMillis: 64_000 },
        ...(c.busy ? { allocated: { cpuMillis: 32_000 }, idleSinceMs: null } : {}),
      });
      const own = { pricePerHourMicros: 100_000, bootMs: 75_000 };
      assert.equal(warmRoomPays(agent, own, c.overdueMs ?? -1), c.want);
    });
  }

  it('takes any room for a task no allowed offering holds alone', () => {
    assert.equal(warmRoomPays(cloudAgent({ pricePerHourMicros: 9e12 }), undefined, -1), true);
  });

  it("gives the task's own instance as the cheapest allowed offering that holds it and may run it", () => {
    const offerings = [
      offering({
        instanceType: 'spot.big',
        lifecycle: 'spot',
        pricePerHourMicros: 10_000,
        capacity: { cpuMillis: 8000 },
      }),
      offering({ instanceType: 'tiny', pricePerHourMicros: 20_000, capacity: { cpuMillis: 1000 } }),
      offering({ instanceType: 'mid', pricePerHourMicros: 40_000, capacity: { cpuMillis: 4000 } }),
      offering({ instanceType: 'big', pricePerHourMicros: 80_000, capacity: { cpuMillis: 8000 } }),
    ];
    const fourCpus = task({ resources: { cpuMillis: 4000 } });
    assert.equal(
      cheapestHolder(fourCpus, offerings)?.instanceType,
      'mid',
      'spot only for revocable tasks; tiny is too small',
    );
    assert.equal(cheapestHolder({ ...fourCpus, revocable: true }, offerings)?.instanceType, 'spot.big');
    assert.equal(cheapestHolder(task({ resources: { cpuMillis: 16_000 } }), offerings), undefined);
  });
});
