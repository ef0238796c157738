import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { Instance } from '../../src/core/instance.ts';
import { splitOwned, type Ownership } from '../../src/providers/ownership.ts';

function instance(id: string, clusterId: string | null, intentId: string | null): Instance {
  return {
    id,
    providerId: 'p',
    instanceType: 't',
    zone: 'z',
    lifecycle: 'on-demand',
    state: 'running',
    intentId,
    clusterId,
    launchedAtMs: 0,
  };
}

const LISTED = [
  instance('z/spw-a-1', 'c1', 'a'),
  instance('z/spw-a-0', 'c1', 'a'),
  instance('z/spw-a-2', 'c1', 'a'),
  instance('z/web', 'c2', 'a'),
  instance('z/db', null, null),
  instance('z/copy', 'c1', 'a'),
  instance('z/spw-b-0', 'c1', 'b'),
];

const cases: Array<{ name: string; ownership: Ownership; owned: string[]; foreign: string[] }> = [
  {
    name: 'a list keeps the cluster tag only',
    ownership: { clusterId: 'c1' },
    owned: ['z/spw-a-1', 'z/spw-a-0', 'z/spw-a-2', 'z/copy', 'z/spw-b-0'],
    foreign: ['z/web', 'z/db'],
  },
  {
    name: "a lookup keeps the intent's tag and names too",
    ownership: { clusterId: 'c1', intentId: 'a', expectedIds: new Set(['z/spw-a-0', 'z/spw-a-1', 'z/spw-a-2']) },
    owned: ['z/spw-a-1', 'z/spw-a-0', 'z/spw-a-2'],
    foreign: ['z/web', 'z/db', 'z/copy', 'z/spw-b-0'],
  },
  {
    name: 'a lookup returns at most count, in id order; the extra are not foreign',
    ownership: {
      clusterId: 'c1',
      intentId: 'a',
      expectedIds: new Set(['z/spw-a-0', 'z/spw-a-1', 'z/spw-a-2']),
      atMost: 2,
    },
    owned: ['z/spw-a-0', 'z/spw-a-1'],
    foreign: ['z/web', 'z/db', 'z/copy', 'z/spw-b-0'],
  },
  {
    name: 'another cluster owns nothing of ours',
    ownership: { clusterId: 'c3' },
    owned: [],
    foreign: LISTED.map((i) => i.id),
  },
];

describe('splitOwned: what a list answer holds that is ours', () => {
  for (const c of cases) {
    it(c.name, () => {
      const { owned, foreign } = splitOwned(LISTED, c.ownership);
      assert.deepEqual(
        owned.map((i) => i.id),
        c.owned,
      );
      assert.deepEqual(
        foreign.map((i) => i.id),
        c.foreign,
      );
    });
  }
});
