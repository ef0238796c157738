import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'mocha';
import { billedInWindow, type AgentInterval } from '../../src/cost-model/ledger.ts';
import { cloudSpend, historyWindow, poolSizes } from '../../src/cost-model/pool-history.ts';
import { cloudInterval, MINUTE, privateInterval, propertyRuns, T0 } from './ledger-builders.ts';

const interval = fc
  .record({
    startOffsetMs: fc.integer({ min: -3 * MINUTE, max: 30 * MINUTE }),
    lengthMs: fc.option(fc.integer({ min: 0, max: 40 * MINUTE }), { nil: null }),
    pricePerHourMicros: fc.integer({ min: 0, max: 50_000_000 }),
    provider: fc.constantFrom('aws-ec2', 'gcp-compute', 'local'),
    privateAgent: fc.boolean(),
    zone: fc.constantFrom('a', 'b'),
  })
  .map(({ startOffsetMs, lengthMs, pricePerHourMicros, provider, privateAgent, zone }): AgentInterval => {
    const startMs = T0 + startOffsetMs;
    const endMs = lengthMs === null ? null : startMs + lengthMs;
    return privateAgent
      ? privateInterval({ startMs, endMs, location: { kind: 'private', site: zone } })
      : cloudInterval({
          startMs,
          endMs,
          pricePerHourMicros,
          provider,
          providerId: `${provider}:r`,
          location: { kind: 'cloud', provider, region: 'r', zone },
        });
  });

const keyOf = (a: AgentInterval): string =>
  a.location.kind === 'private' ? `private:${a.location.site}` : `${a.providerId}:${a.location.zone}`;

describe('pool history', () => {
  it("gives each bucket exactly what the ledger's billing function bills within it, per provider", () => {
    fc.assert(
      fc.property(
        fc.array(interval, { maxLength: 8 }),
        fc.integer({ min: 0, max: 40 * MINUTE }),
        fc.integer({ min: 1, max: 60 }),
        (agents, nowOffsetMs, last) => {
          const nowMs = T0 + nowOffsetMs;
          const { buckets, window } = cloudSpend(agents, 'minute', nowMs, undefined, last);
          assert.equal(buckets.length, last);
          assert.equal(window.toMs - window.fromMs, last * MINUTE);
          for (const bucket of buckets) {
            const expected = new Map<string, number>();
            for (const a of agents) {
              if (a.lifecycle === 'private') continue;
              const w = { fromMs: bucket.fromMs, toMs: bucket.fromMs + MINUTE };
              const micros = billedInWindow(a, a.pricePerHourMicros, w, nowMs);
              const id = a.providerId ?? a.provider;
              if (micros !== 0) expected.set(id, (expected.get(id) ?? 0) + micros);
            }
            assert.deepEqual(
              [...bucket.micros].filter(([, m]) => m !== 0).sort(),
              [...expected].filter(([, m]) => m !== 0).sort(),
            );
          }
        },
      ),
      { numRuns: propertyRuns() },
    );
  });

  it('counts in each bucket every agent present at any time within it, by location', () => {
    fc.assert(
      fc.property(fc.array(interval, { maxLength: 8 }), fc.integer({ min: 0, max: 40 * MINUTE }), (agents, nowOffsetMs) => {
        const nowMs = T0 + nowOffsetMs;
        const { buckets } = poolSizes(agents, 'minute', nowMs, keyOf, 60);
        for (const bucket of buckets) {
          const expected = new Map<string, { agents: number; cpuMillis: number }>();
          for (const a of agents) {
            // Present: started before the bucket ends, and ended after it began (an open one: it is here now).
            const endMs = a.endMs === null ? nowMs + 1 : Math.max(a.endMs, a.startMs + 1);
            if (a.startMs >= bucket.fromMs + MINUTE || endMs <= bucket.fromMs || bucket.fromMs > nowMs) continue;
            const e = expected.get(keyOf(a)) ?? { agents: 0, cpuMillis: 0 };
            expected.set(keyOf(a), { agents: e.agents + 1, cpuMillis: e.cpuMillis + a.capacity.cpuMillis });
          }
          assert.deepEqual([...bucket.locations].sort(), [...expected].sort(), `bucket at ${bucket.fromMs - T0} ms`);
        }
      }),
      { numRuns: propertyRuns() },
    );
  });

  it('aligns buckets to UTC and ends with the one holding now', () => {
    const nowMs = T0 + 90 * MINUTE + 1;
    assert.deepEqual(historyWindow('hour', nowMs, 2).window, { fromMs: T0, toMs: T0 + 120 * MINUTE });
    assert.equal(historyWindow('minute', nowMs).count, 1440);
    assert.equal(historyWindow('day', nowMs, 1_000).count, 90);
  });
});
