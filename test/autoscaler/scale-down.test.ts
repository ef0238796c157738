import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { scaleDown } from '../../src/autoscaler/scale-down.ts';
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
