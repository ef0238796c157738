import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'mocha';
import type { Agent } from '../../src/core/agent.ts';
import { idleReleaseAfterMs, scaleDown } from '../../src/autoscaler/scale-down.ts';
import { agent, cloudAgent, policy, T0 } from '../fakes/builders.ts';

const p = policy({ idleTtlMs: 30_000, maxProvisionMs: 60_000 });

describe('scale-down', () => {
  const cases = [
    { name: 'an idle cloud agent past its TTL', agent: cloudAgent({ idleSinceMs: T0 }), now: T0 + 30_000, want: /idle for 30 s/ },
    { name: 'an idle cloud agent inside its TTL', agent: cloudAgent({ idleSinceMs: T0 }), now: T0 + 29_999, want: null },
    { name: 'a busy cloud agent', agent: cloudAgent({ idleSinceMs: null, allocated: { cpuMillis: 1000 } }), now: T0 + 99_000, want: null },
    { name: 'a drained cloud agent with no work', agent: cloudAgent({ state: 'draining' }), now: T0, want: /drained/ },
    { name: 'a draining cloud agent still running work', agent: cloudAgent({ state: 'draining', allocated: { cpuMillis: 500 } }), now: T0, want: null },
    { name: 'an instance that never registered', agent: cloudAgent({ state: 'provisioning' }), now: T0 + 60_000, want: /did not register/ },
    { name: 'an instance still booting', agent: cloudAgent({ state: 'provisioning' }), now: T0 + 59_000, want: null },
    { name: 'a lost cloud agent', agent: cloudAgent({ state: 'lost', reason: 'no heartbeat for 12 s' }), now: T0, want: /lost/ },
    { name: 'an idle private agent, never', agent: agent({ idleSinceMs: T0 }), now: T0 + 999_999, want: null },
  ];
  for (const c of cases) {
    it(`${c.want ? 'terminates' : 'keeps'} ${c.name}`, () => {
      const commands = scaleDown({ nowMs: c.now, policy: p, agents: [c.agent], terminating: new Set() });
      if (c.want === null) assert.deepEqual(commands, []);
      else {
        assert.equal(commands.length, 1);
        assert.equal(commands[0]!.agentId, c.agent.id);
        assert.match(commands[0]!.reason, c.want);
      }
    });
  }

  it('does not terminate an instance twice while its terminate intent is open', () => {
    const a = cloudAgent({ state: 'lost' });
    const commands = scaleDown({ nowMs: T0, policy: p, agents: [a], terminating: new Set([`${a.providerId}/${a.instanceId}`]) });
    assert.deepEqual(commands, []);
  });
});

describe('scale-down (property)', () => {
  const RUNS = Number(process.env['SPILLWAY_PROPERTY_RUNS'] ?? 100);
  const ttl = p.idleTtlMs;

  it('drains every cloud agent idle past its TTL, and terminates no private agent and no busy one', () => {
    const agentArb = fc.record({
      cloud: fc.boolean(),
      state: fc.constantFrom('registered', 'registered', 'draining', 'provisioning', 'lost', 'terminated') as fc.Arbitrary<Agent['state']>,
      busyMillis: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 4000 })),
      idleForMs: fc.option(fc.integer({ min: 0, max: 3 * ttl }), { nil: null }),
      terminating: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(agentArb, { maxLength: 20 }), (specs) => {
        const now = T0 + 10 * ttl;
        const agents = specs.map((s) =>
          (s.cloud ? cloudAgent : agent)({
            state: s.state,
            allocated: { cpuMillis: s.busyMillis },
            idleSinceMs: s.busyMillis === 0 && s.idleForMs !== null ? now - s.idleForMs : null,
            registeredAtMs: now - 1_000,
          }),
        );
        const terminating = new Set(
          agents.filter((a, i) => specs[i]!.terminating && a.instanceId).map((a) => `${a.providerId}/${a.instanceId}`),
        );
        const chosen = new Set(scaleDown({ nowMs: now, policy: p, agents, terminating }).map((c) => c.agentId));
        agents.forEach((a, i) => {
          const s = specs[i]!;
          const key = `${a.providerId}/${a.instanceId}`;
          const idlePastTtl = s.busyMillis === 0 && s.idleForMs !== null && s.idleForMs >= ttl;
          if (s.cloud && s.state === 'registered' && idlePastTtl && !terminating.has(key)) {
            assert.ok(chosen.has(a.id), `cloud agent idle for ${s.idleForMs} ms (TTL ${ttl}) is drained`);
          }
          if (!s.cloud) assert.ok(!chosen.has(a.id), 'a private agent is never terminated');
          if (s.busyMillis > 0 && (s.state === 'registered' || s.state === 'draining')) {
            assert.ok(!chosen.has(a.id), 'an agent running work is not terminated');
          }
          if (s.state === 'registered' && !idlePastTtl) assert.ok(!chosen.has(a.id), 'an agent inside its TTL stays');
          if (terminating.has(key)) assert.ok(!chosen.has(a.id), 'one terminate per instance');
        });
      }),
      { numRuns: RUNS },
    );
  });
});

describe('scale-down: idle release by the ski-rental rule', () => {
  const long = policy({ idleTtlMs: 600_000 });
  // Released once idle for max(boot, 60 s billing minimum), never past idleTtlMs; kept a millisecond before.
  const cases = [
    { name: 'a 75 s boot', relaunchMs: 75_000, ttl: 600_000, releaseAtMs: 75_000 },
    { name: 'a 10 s boot: the 60 s minimum a relaunch bills', relaunchMs: 10_000, ttl: 600_000, releaseAtMs: 60_000 },
    { name: 'a boot longer than idleTtlMs', relaunchMs: 900_000, ttl: 600_000, releaseAtMs: 600_000 },
    { name: 'an unknown boot: idleTtlMs', relaunchMs: undefined, ttl: 600_000, releaseAtMs: 600_000 },
    { name: 'a short idleTtlMs', relaunchMs: 75_000, ttl: 15_000, releaseAtMs: 15_000 },
  ];
  for (const c of cases) {
    it(`releases an idle cloud agent after ${c.releaseAtMs / 1000} s for ${c.name}`, () => {
      const a = cloudAgent({ idleSinceMs: T0 });
      const run = (nowMs: number) =>
        scaleDown({
          nowMs,
          policy: { ...long, idleTtlMs: c.ttl },
          agents: [a],
          terminating: new Set(),
          relaunchMsOf: (x) => (x.id === a.id ? c.relaunchMs : 1),
        });
      assert.deepEqual(run(T0 + c.releaseAtMs - 1), [], 'kept just before');
      const commands = run(T0 + c.releaseAtMs);
      assert.equal(commands.length, 1);
      assert.equal(commands[0]!.agentId, a.id);
      assert.match(commands[0]!.reason, new RegExp(`^idle for ${c.releaseAtMs / 1000} s`));
    });
  }

  it('keeps a busy cloud agent whatever its boot', () => {
    const a = cloudAgent({ idleSinceMs: null, allocated: { cpuMillis: 1000 } });
    assert.deepEqual(
      scaleDown({ nowMs: T0 + 999_000, policy: long, agents: [a], terminating: new Set(), relaunchMsOf: () => 1 }),
      [],
    );
  });
});

describe('scale-down: commands and reasons', () => {
  const run = (agents: Agent[], nowMs = T0) => scaleDown({ nowMs, policy: p, agents, terminating: new Set() });

  it('terminates the agent’s own instance at its provider, saying why in words', () => {
    const idle = cloudAgent({ idleSinceMs: T0 });
    assert.deepEqual(run([idle], T0 + 30_000), [
      {
        kind: 'terminate',
        agentId: idle.id,
        providerId: idle.providerId,
        instanceId: idle.instanceId,
        reason: 'idle for 30 s (idleTtlMs 30000)',
      },
    ]);
  });

  it('gives the drain’s and the loss’s reason, or a plain one when none was recorded', () => {
    const reasons = (a: Agent) => run([a]).map((c) => c.reason);
    assert.deepEqual(reasons(cloudAgent({ state: 'draining', reason: 'operator asked' })), ['drained (operator asked)']);
    assert.deepEqual(reasons(cloudAgent({ state: 'draining', reason: '' })), ['drained (draining)']);
    assert.deepEqual(reasons(cloudAgent({ state: 'lost', reason: 'no heartbeat for 12 s' })), [
      'agent lost (no heartbeat for 12 s)',
    ]);
    assert.deepEqual(reasons(cloudAgent({ state: 'lost', reason: '' })), ['agent lost (no heartbeat)']);
  });

  it('terminates only cloud agents that name both their provider and their instance', () => {
    const lost = { state: 'lost', reason: '' } as const;
    const privateWithIds = agent({ ...lost, instanceId: 'i-private', providerId: 'local:test' });
    const noInstance = cloudAgent({ ...lost, instanceId: null });
    const noProvider = cloudAgent({ ...lost, providerId: null });
    assert.deepEqual(run([privateWithIds, noInstance, noProvider]), []);
  });

  it('keeps an agent for idleTtlMs when how long a relaunch takes is unknown', () => {
    assert.equal(idleReleaseAfterMs({ idleTtlMs: 600_000 }, undefined), 600_000);
    assert.equal(idleReleaseAfterMs({ idleTtlMs: 600_000 }, 75_000), 75_000);
  });
});
