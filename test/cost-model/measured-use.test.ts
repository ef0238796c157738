import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { measuredUse, useGroupKey, type MeasuredRun } from '../../src/cost-model/measured-use.ts';

const H = 3_600_000;
const GiB = 1_073_741_824;
const run = (over: Partial<MeasuredRun> = {}): MeasuredRun => ({
  owner: { team: 'ml', project: 'vision', job: 'train' },
  cpuMillis: 2_000,
  memoryMiB: 2_048,
  startMs: 0,
  endMs: 2 * H,
  cpuSeconds: 3_600,
  peakMemoryBytes: GiB,
  ...over,
});

describe('measured use', () => {
  const cases = [
    {
      name: 'a whole measured run: asked 2 CPU x 2 h, used 1 CPU-h; asked 2 GiB x 2 h, peaked at 1 GiB',
      runs: [run()],
      window: { fromMs: 0, toMs: 10 * H },
      want: { requestedCpuHours: 4, usedCpuHours: 1, requestedGiBHours: 4, usedGiBHours: 2, cpuEfficiency: 0.25, memoryEfficiency: 0.5 },
    },
    {
      name: 'half a run inside the window holds half of everything',
      runs: [run()],
      window: { fromMs: H, toMs: 3 * H },
      want: { requestedCpuHours: 2, usedCpuHours: 0.5, requestedGiBHours: 2, usedGiBHours: 1, cpuEfficiency: 0.25, memoryEfficiency: 0.5 },
    },
    {
      name: 'an unmeasured run counts as asked but not in the efficiency',
      runs: [run(), run({ cpuSeconds: null, peakMemoryBytes: null })],
      window: { fromMs: 0, toMs: 2 * H },
      want: { requestedCpuHours: 8, usedCpuHours: 1, requestedGiBHours: 8, usedGiBHours: 2, cpuEfficiency: 0.25, memoryEfficiency: 0.5 },
    },
    {
      name: 'no measured run: no efficiency',
      runs: [run({ cpuSeconds: null, peakMemoryBytes: null, endMs: null })],
      window: { fromMs: 0, toMs: H },
      want: { requestedCpuHours: 2, usedCpuHours: 0, requestedGiBHours: 2, usedGiBHours: 0, cpuEfficiency: null, memoryEfficiency: null },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { total, groups } = measuredUse(c.runs, c.window, 2 * H, 'team');
      assert.deepEqual(total, c.want);
      assert.deepEqual(groups.get(useGroupKey({ team: 'ml', project: null, job: null }, 'team')), c.want);
    });
  }

  it('groups by project and job as the chargeback does', () => {
    const runs = [run(), run({ owner: { team: 'ml', project: 'nlp', job: 'x' } })];
    const { groups } = measuredUse(runs, { fromMs: 0, toMs: 2 * H }, 2 * H, 'project');
    assert.deepEqual([...groups.keys()].sort(), ['["ml","nlp",null]', '["ml","vision",null]']);
  });
});
