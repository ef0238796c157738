import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'mocha';
import type { CliContext, OutputStream } from '../../src/cli/context.ts';
import { runCli } from '../../src/cli/program.ts';
import { LOWER_BOUND_RELATIVE_TOLERANCE } from '../../src/cost-model/lower-bound.ts';
import { ProgressBar } from '../../src/sim/progress.ts';
import type { SimulationReport } from '../../src/sim/simulate.ts';

const REPO = new URL('../../', import.meta.url).pathname;
const KTH = 'data/traces/KTH-SP2-1996-2.1-cln.swf.gz';

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function simulate(args: readonly string[], cwd = REPO): Promise<Result> {
  let stdout = '';
  let stderr = '';
  const ctx: CliContext = {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    env: {},
    cwd,
  };
  const code = await runCli(['simulate', ...args], ctx);
  return { code, stdout, stderr };
}

describe('spillway simulate', function () {
  this.timeout(180_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-simulate-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reports a slice of the KTH SP2 year: Spillway costs at least the bound and waits less than private-only', async () => {
    const result = await simulate(['--trace', KTH, '--limit', '1500', '--format', 'json']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '', 'no progress bar off a terminal');
    const report = JSON.parse(result.stdout) as SimulationReport;
    assert.deepEqual(
      report.runs.map((r) => r.name),
      ['spillway', 'private-only', 'fixed-node-group'],
    );
    assert.equal(report.privateCpus, 100, "the trace header's MaxProcs");
    const [spillway, privateOnly, fixed] = report.runs;
    for (const run of report.runs) {
      assert.equal(run.tasks.submitted, 1500);
      assert.equal(run.tasks.finished, 1500, `${run.name} ran every task`);
      assert.ok(run.privateUsd > 0, 'private capacity at its amortized rate');
    }
    assert.equal(privateOnly!.cloudUsd, 0);
    assert.equal(privateOnly!.cloudInstanceHours, 0);
    assert.ok(spillway!.cloudUsd > 0, 'Spillway bursts');
    assert.ok(report.lowerBound.usd > 0 && report.lowerBound.taskHours > 0);
    assert.ok(
      spillway!.cloudUsd >= report.lowerBound.usd * (1 - LOWER_BOUND_RELATIVE_TOLERANCE),
      `cloud ${spillway!.cloudUsd} below the bound ${report.lowerBound.usd}`,
    );
    assert.ok(
      spillway!.waitS.p95 < privateOnly!.waitS.p95,
      `p95 wait ${spillway!.waitS.p95} s, private-only ${privateOnly!.waitS.p95} s`,
    );
    assert.ok(fixed!.cloud.length === 1, 'one node group: one provider and lifecycle');
    assert.ok(spillway!.cloudUsd < fixed!.cloudUsd, 'packing onto the cheapest fit beats one node type');
    const sumLines = spillway!.cloud.reduce((s, l) => s + l.usd, 0);
    assert.ok(Math.abs(sumLines - spillway!.cloudUsd) < 1e-6, 'cloud lines add up to the cloud cost');
    for (const run of report.runs) {
      const p = run.cloudParts;
      const sum =
        p.bootUsd + p.idleBetweenTasksUsd + p.idleBeforeReleaseUsd + p.minimumsUsd + p.packingLossUsd + p.workUsd;
      assert.ok(Math.abs(sum - run.cloudUsd) < 1e-6, `${run.name}: the cloud parts add up to its cloud cost`);
      const late = Object.values(run.waits.pastGraceByCause).reduce((s, n) => s + n, 0);
      assert.equal(late, run.waitedPastGrace, `${run.name}: every late task has one cause`);
      assert.ok(run.waits.maxS >= run.waits.p99S && run.waits.p99S === run.waitS.p99);
    }
    assert.ok(privateOnly!.waits.pastGraceByCause.paused > 0, 'private-only waits while bursting is paused');
    const over = report.overBound!;
    assert.ok(Math.abs(over.cloudUsd - spillway!.cloudUsd) < 1e-6 && over.boundUsd === report.lowerBound.usd);
    const causes =
      over.bootUsd + over.idleBetweenTasksUsd + over.idleBeforeReleaseUsd + over.minimumsUsd + over.packingLossUsd;
    assert.ok(
      Math.abs(causes + over.priceGapUsd - over.overUsd) < 1e-6,
      'the causes add up to the cost over the bound',
    );
    assert.ok(
      over.priceGapUsd >= -report.lowerBound.usd * LOWER_BOUND_RELATIVE_TOLERANCE,
      `the capacity used costs at least the bound (price gap ${over.priceGapUsd})`,
    );
  });

  it('prints the comparison as a table', async () => {
    const result = await simulate(['--trace', KTH, '--limit', '200', '--private-cpus', '16']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^private cluster +16 CPUs$/m);
    assert.match(result.stdout, /^ +SPILLWAY +PRIVATE-ONLY +FIXED-NODE-GROUP$/m);
    for (const label of [
      'total cost',
      'cloud instance-hours',
      'wait p50',
      'wait p95',
      'wait p99',
      'waited past grace',
      'budget alerts',
      'cloud lower bound',
      'wait max',
      'cloud: idle before release',
      'cloud: packing loss',
      'spillway cloud over the bound',
      'price gap to the bound',
    ]) {
      assert.match(result.stdout, new RegExp(`^ *${label} `, 'm'));
    }
    assert.match(result.stdout, /^RUN +PROVIDER +LIFECYCLE +INSTANCES +INSTANCE-HOURS +COST$/m);
    assert.match(result.stdout, /^fixed-node-group: one node group of \S+ \(/m);
  });

  it('names the line of a malformed trace, or skips it with --on-malformed skip', async () => {
    const path = join(dir, 'bad.swf');
    writeFileSync(
      path,
      [
        '; MaxProcs: 4',
        '1 0 0 60 2 -1 -1 2 -1 -1 1 1 1 -1 -1 -1 -1 -1',
        '2 10 0 60 2 -1 -1',
        '3 20 0 60 1 -1 -1 1 -1 -1 1 1 1 -1 -1 -1 -1 -1',
      ].join('\n'),
    );
    const failed = await simulate(['--trace', path]);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /bad\.swf line 3: expected 18 fields, got 7/);
    assert.equal(failed.stdout, '');
    const skipped = await simulate(['--trace', path, '--on-malformed', 'skip', '--format', 'json']);
    assert.equal(skipped.code, 0, skipped.stderr);
    assert.match(skipped.stderr, /skipped reading .*bad\.swf line 3/);
    const report = JSON.parse(skipped.stdout) as SimulationReport;
    assert.equal(report.runs[0]!.tasks.submitted, 2);
  });

  it('refuses bad flags naming them, before replaying anything', async () => {
    const missing = await simulate(['--trace', join(dir, 'none.swf')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--trace: no such file/);
    const cpus = await simulate(['--trace', KTH, '--private-cpus', '0']);
    assert.equal(cpus.code, 2);
    assert.match(cpus.stderr, /--private-cpus/);
    const noSize = join(dir, 'nosize.swf');
    writeFileSync(noSize, '1 0 0 60 2 -1 -1 2 -1 -1 1 1 1 -1 -1 -1 -1 -1\n');
    const unknown = await simulate(['--trace', noSize]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--private-cpus: the trace does not say how large its cluster was/);
  });
});

describe('progress bar', () => {
  function stream(isTTY: boolean): OutputStream & { text: string } {
    const s = { text: '', isTTY, write: (t: string) => (s.text += t) };
    return s;
  }

  it('draws in place on a terminal, at most every 100 ms, and clears its line', () => {
    let now = 0;
    const tty = stream(true);
    const bar = new ProgressBar(tty, 200, () => now);
    now = 200;
    bar.update('spillway', 100);
    bar.update('spillway', 150); // within 100 ms: not drawn
    assert.equal(tty.text, `\rspillway          [${'#'.repeat(15)}${'.'.repeat(15)}] 100/200 tasks`);
    now = 400;
    bar.update('spillway', 200);
    assert.match(tty.text, /\[#{30}\] 200\/200 tasks$/);
    bar.done();
    assert.match(tty.text, /\r {70}\r$/);
  });

  it('writes nothing to a pipe or a file', () => {
    const pipe = stream(false);
    const bar = new ProgressBar(pipe, 10, () => 1_000);
    bar.update('spillway', 5);
    bar.done();
    assert.equal(pipe.text, '');
  });
});
