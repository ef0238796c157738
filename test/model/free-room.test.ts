import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { Agent, AgentState } from '../../src/core/agent.ts';
import { resources, type Resources } from '../../src/core/resources.ts';
import { FreeRoomIndex } from '../../src/model/free-room.ts';

function agent(id: string, allocated: Resources, state: AgentState = 'registered'): Agent {
  return {
    id,
    name: id,
    location: { kind: 'private', site: 'lab' },
    capacity: resources({ cpuMillis: 4000, memoryMiB: 8192 }),
    allocated,
    labels: {},
    lifecycle: 'private',
    pricePerHourMicros: 0,
    state,
    instanceId: null,
    providerId: null,
    intentId: null,
    registeredAtMs: 0,
    lastHeartbeatMs: 0,
    idleSinceMs: null,
    reason: '',
  };
}

const FULL = resources({ cpuMillis: 4000, memoryMiB: 8192 });
const HALF = resources({ cpuMillis: 2000, memoryMiB: 4096 });
const NONE = resources();

describe('free room index', () => {
  it('finds the registered agents whose free room fits a request, and only those', () => {
    const index = new FreeRoomIndex();
    index.set(agent('full', FULL));
    index.set(agent('half', HALF));
    index.set(agent('empty', NONE));
    index.set(agent('empty-draining', NONE, 'draining'));
    index.set(agent('half-2', HALF));
    assert.deepEqual(index.withRoomFor(resources({ cpuMillis: 1000, memoryMiB: 1024 })).sort(), [
      'empty',
      'half',
      'half-2',
    ]);
    assert.deepEqual(index.withRoomFor(resources({ cpuMillis: 3000, memoryMiB: 1024 })), ['empty']);
    assert.deepEqual(index.withRoomFor(resources({ cpuMillis: 5000 })), []);
  });

  it('moves an agent when its room changes and drops it when it leaves the registered state', () => {
    const index = new FreeRoomIndex();
    index.set(agent('a', NONE));
    const request = resources({ cpuMillis: 3000 });
    assert.deepEqual(index.withRoomFor(request), ['a']);
    index.set(agent('a', HALF));
    assert.deepEqual(index.withRoomFor(request), []);
    assert.deepEqual(index.withRoomFor(resources({ cpuMillis: 2000 })), ['a']);
    index.set(agent('a', NONE, 'lost'));
    assert.deepEqual(index.withRoomFor(resources()), []);
    index.set(agent('b', NONE));
    index.delete('b');
    assert.deepEqual(index.withRoomFor(resources()), []);
  });
});
