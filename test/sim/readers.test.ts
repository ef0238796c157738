import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'mocha';
import { readAlibabaNodes, readAlibabaPods } from '../../src/sim/alibaba-reader.ts';
import { readSwf, readSwfHeader } from '../../src/sim/swf-reader.ts';
import { TraceLineError, type TraceTask } from '../../src/sim/trace.ts';

const TRACES = new URL('../../data/traces/', import.meta.url).pathname;
const KTH = join(TRACES, 'KTH-SP2-1996-2.1-cln.swf.gz');
const PODS = join(TRACES, 'alibaba-gpu-v2023/openb_pod_list_first4000.csv');
const NODES = join(TRACES, 'alibaba-gpu-v2023/openb_node_list_all_node.csv');

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of source) items.push(item);
  return items;
}

describe('trace readers', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-traces-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('SWF', () => {
    it('reads the header of the gzipped KTH SP2 log', async () => {
      const header = await readSwfHeader(KTH);
      assert.equal(header.maxProcs, 100);
      assert.equal(header.unixStartTime, 843_480_031);
      assert.equal(header.maxJobs, 28_490);
      assert.equal(header.fields['Computer'], 'IBM SP2');
    });

    it('streams every job of the KTH SP2 year as a task, with its fields', async () => {
      let count = 0;
      let cpuMillis = 0;
      let first: TraceTask | undefined;
      let last: TraceTask | undefined;
      let lastSubmit = -1;
      let ordered = true;
      for await (const task of readSwf(KTH)) {
        first ??= task;
        last = task;
        count++;
        cpuMillis += task.resources.cpuMillis;
        if (task.submitS < lastSubmit) ordered = false;
        lastSubmit = task.submitS;
      }
      assert.equal(count, 27_992);
      assert.equal(cpuMillis, 215_453_000, 'the requested processors of every job, one core each');
      assert.ok(ordered, 'in submission order');
      assert.deepEqual(first, {
        id: '15',
        line: 25,
        submitS: 599_850,
        runS: 3_477,
        owner: { team: 'g12', project: 'u12', job: 'job-15' },
        resources: { cpuMillis: 4_000, memoryMiB: 4 * 1024, gpus: 0, netMbps: 0 },
        revocable: false,
        constraints: {},
      });
      assert.equal(last!.id, '28490');
      assert.equal(last!.submitS, 29_363_618);
      assert.equal(last!.runS, 8);
      assert.deepEqual(last!.owner, { team: 'g198', project: 'u98', job: 'job-28490' });
    });

    it('reads a plain log with memory fields, defaults and revocable as told', async () => {
      const path = join(dir, 'mem.swf');
      writeFileSync(
        path,
        [
          '; MaxProcs: 8',
          '1 0 0 60 2 -1 -1 -1 -1 2048 1 3 4 -1 -1 -1 -1 -1', // allocated only; requested memory 2 MiB per processor
          '2 5 0 30 -1 -1 4096 4 -1 -1 1 -1 -1 -1 -1 -1 -1 -1', // used memory 4 MiB per processor; unknown ids
          '3 9 0 10 1 -1 -1 1 -1 -1 1 1 1 -1 -1 -1 -1 -1', // no memory at all: the default
          '',
        ].join('\n'),
      );
      const tasks = await collect(readSwf(path, { memoryPerProcessorMiB: 512, revocable: true }));
      assert.deepEqual(
        tasks.map((t) => [t.resources.cpuMillis, t.resources.memoryMiB, t.owner.team, t.owner.project, t.revocable]),
        [
          [2000, 4, 'g4', 'u3', true],
          [4000, 16, 'unknown', 'unknown', true],
          [1000, 512, 'g1', 'u1', true],
        ],
      );
      assert.equal((await readSwfHeader(path)).maxProcs, 8);
    });

    it('fails on a malformed line naming the line and the field, or skips it when told', async () => {
      const path = join(dir, 'bad.swf.gz');
      const lines = [
        '; MaxProcs: 4',
        '1 0 0 60 2 -1 -1 2 -1 -1 1 1 1 -1 -1 -1 -1 -1',
        '2 10 0 sixty 2 -1 -1 2 -1 -1 1 1 1 -1 -1 -1 -1 -1',
        '3 20 0 60 2 -1 -1 2',
        '4 30 0 60 -1 -1 -1 -1 -1 -1 1 1 1 -1 -1 -1 -1 -1',
        '5 40 0 60 1 -1 -1 1 -1 -1 1 1 1 -1 -1 -1 -1 -1',
      ];
      writeFileSync(path, gzipSync(lines.join('\n')));
      await assert.rejects(collect(readSwf(path)), (err: unknown) => {
        assert.ok(err instanceof TraceLineError);
        assert.equal(err.line, 3);
        assert.match(err.message, /bad\.swf\.gz line 3: field 4 \(run time\) is not a number: "sixty"/);
        return true;
      });
      const skipped: TraceLineError[] = [];
      const tasks = await collect(readSwf(path, { onMalformed: 'skip', onSkip: (e) => skipped.push(e) }));
      assert.deepEqual(
        tasks.map((t) => t.id),
        ['1', '5'],
      );
      assert.deepEqual(
        skipped.map((e) => e.line),
        [3, 4, 5],
      );
      assert.match(skipped[1]!.message, /expected 18 fields, got 8/);
      assert.match(skipped[2]!.message, /requested processors.*allocated processors.*unknown/);
    });

    it('rejects a file that does not exist', async () => {
      await assert.rejects(collect(readSwf(join(dir, 'none.swf'))), { code: 'ENOENT' });
    });
  });

  describe('Alibaba GPU trace', () => {
    it('streams the 4,000 pods of the copied pod list as tasks', async () => {
      const pods = await collect(readAlibabaPods(PODS));
      assert.equal(pods.length, 4_000);
      assert.deepEqual(pods[0], {
        id: 'openb-pod-0000',
        line: 2,
        submitS: 0,
        runS: 12_537_496,
        owner: { team: 'alibaba', project: 'LS', job: 'openb-pod-0000' },
        resources: { cpuMillis: 12_000, memoryMiB: 16_384, gpus: 1, netMbps: 0 },
        revocable: false,
        constraints: {},
      });
      assert.equal(pods[2]!.resources.memoryMiB, 24_576);
      assert.equal(pods[2]!.submitS, 1_558_381);
      assert.equal(
        pods.reduce((s, p) => s + p.resources.cpuMillis, 0),
        39_986_582,
      );
      assert.equal(pods.filter((p) => p.revocable).length, 1_071 + 175 + 686, 'best-effort pods are revocable');
    });

    it('reads the node list as the private cluster', async () => {
      const nodes = await collect(readAlibabaNodes(NODES));
      assert.equal(nodes.length, 1_523);
      assert.deepEqual(nodes[0], {
        name: 'openb-node-0000',
        capacity: { cpuMillis: 32_000, memoryMiB: 262_144, gpus: 0, netMbps: 0 },
        gpuModel: null,
      });
      assert.equal(nodes.filter((n) => n.gpuModel === 'T4').length, 404);
    });

    it('takes GPU models as constraints, a shared GPU as a whole one, and names a malformed line', async () => {
      const path = join(dir, 'pods.csv');
      writeFileSync(
        path,
        [
          'name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time',
          'p0,4000,8192,0,500,V100M16|V100M32,BE,Running,10,110,20',
          'p1,4000,8192,1,1000,,LS,Running,10,,20',
          'p2,1000,1024,0,0,,LS,Running,30,40',
          'p3,1000,1024,0,0,,LS,Running,30,40,',
        ].join('\r\n'),
      );
      await assert.rejects(
        collect(readAlibabaPods(path)),
        /pods\.csv line 3: deletion_time is not a non-negative number/,
      );
      const skipped: number[] = [];
      const pods = await collect(readAlibabaPods(path, { onMalformed: 'skip', onSkip: (e) => skipped.push(e.line) }));
      assert.deepEqual(skipped, [3, 4]);
      assert.deepEqual(
        pods.map((p) => [p.id, p.resources.gpus, p.constraints.gpuModels, p.runS, p.revocable]),
        [
          ['p0', 1, ['V100M16', 'V100M32'], 90, true],
          ['p3', 0, undefined, 10, false],
        ],
      );
    });
  });
});
