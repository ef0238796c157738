import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { dueAfterInterruption, interruptedOfferings } from '../../src/autoscaler/interruptions.ts';
import { INTERRUPTION_REASON } from '../../src/core/interruption.ts';
import { cloudAgent, policy, T0, task } from '../fakes/builders.ts';

describe('interruptions', () => {
  it('counts tasks an interruption requeued as due at once, and leaves others to their grace', () => {
    const p = policy({ pendingGraceMs: 60_000 });
    const now = T0 + 1_000;
    const interrupted = task({ pendingSinceMs: now, reason: INTERRUPTION_REASON });
    const fresh = task({ pendingSinceMs: now, reason: '' });
    const old = task({ pendingSinceMs: T0 - 120_000, reason: INTERRUPTION_REASON });
    const [a, b, c] = dueAfterInterruption([interrupted, fresh, old], now, p);
    assert.equal(a!.pendingSinceMs, now - 60_000);
    assert.equal(b, fresh);
    assert.equal(c, old, 'already due: unchanged');
  });

  it('names the spot pools of agents draining on an interruption notice', () => {
    const spot = {
      location: { kind: 'cloud', provider: 'aws-ec2', region: 'us-east-1', zone: 'us-east-1a' } as const,
      providerId: 'aws-ec2:us-east-1',
      lifecycle: 'spot' as const,
      labels: { 'spillway.io/instance-type': 'c7i.large' },
    };
    const cases = [
      {
        name: 'draining on a notice',
        agent: cloudAgent({ ...spot, state: 'draining', reason: INTERRUPTION_REASON }),
        keys: ['aws-ec2:us-east-1/us-east-1a/c7i.large/spot'],
      },
      {
        name: 'draining when idle',
        agent: cloudAgent({ ...spot, state: 'draining', reason: 'idle for 10 s' }),
        keys: [],
      },
      {
        name: 'registered',
        agent: cloudAgent({ ...spot, state: 'registered', reason: INTERRUPTION_REASON }),
        keys: [],
      },
    ];
    for (const c of cases) assert.deepEqual(interruptedOfferings([c.agent]), c.keys, c.name);
  });
});
