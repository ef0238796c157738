import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { Status } from '../../src/api/types.ts';
import { agentTable } from '../../src/cli/commands/agents.ts';
import { renderChanges, renderPolicy } from '../../src/cli/commands/policy.ts';
import { exitCodeForTask } from '../../src/cli/commands/run.ts';
import { renderStatus } from '../../src/cli/commands/status.ts';
import { renderTaskDetail, taskCsvTable, taskListQuery, taskTable } from '../../src/cli/commands/tasks.ts';
import { renderCsv, renderTable } from '../../src/cli/format.ts';
import { DEMO_POLICY } from '../../src/core/policy.ts';
import { resources, ZERO } from '../../src/core/resources.ts';
import { agent, T0, task } from '../fakes/builders.ts';

describe('cli views', () => {
  it('lists tasks with owner, resources, agent, exit code and age', () => {
    const t = task({
      id: 't-1',
      state: 'failed',
      agentId: 'a-9',
      exitCode: 3,
      command: ['sh', '-c', 'exit 3'],
      createdAtMs: T0,
    });
    const text = renderTable(taskTable([t], T0 + 90_000));
    const [header, row] = text.split('\n');
    assert.match(header ?? '', /^ID\s+STATE\s+OWNER\s+RESOURCES\s+PRIO\s+AGENT\s+TRIES\s+EXIT\s+AGE\s+COMMAND$/);
    assert.match(
      row ?? '',
      /^t-1\s+failed\s+ml\/vision\/train\s+cpu=1 mem=1Gi\s+0\s+a-9\s+0\s+3\s+1m\s+sh -c 'exit 3'$/,
    );
  });

  it('puts raw units and ISO times in the task CSV', () => {
    const csv = renderCsv(taskCsvTable([task({ id: 't-1', createdAtMs: T0, reason: 'a, b' })]));
    const [header, row] = csv.split('\r\n');
    assert.ok(header?.startsWith('id,state,team,project,job,cpuMillis,memoryMiB,'));
    assert.ok(
      row?.startsWith('t-1,pending,ml,vision,train,1000,1024,0,0,0,false,,0,,2026-01-01T00:00:00.000Z,,,"a, b",true'),
      row,
    );
  });

  it('shows a task with its output tail as it is', () => {
    const text = renderTaskDetail(task({ id: 't-1', state: 'succeeded', exitCode: 0, outputTail: 'line 1\nline 2' }));
    assert.match(text, /^id\s+t-1$/m);
    assert.match(text, /^exit code\s+0$/m);
    assert.ok(text.endsWith('output (tail):\nline 1\nline 2\n'));
  });

  it('builds the task list query from validated flags', () => {
    assert.equal(taskListQuery({}), '');
    assert.equal(
      taskListQuery({ state: 'pending, running', team: 'ml', limit: '5' }),
      '?state=pending%2Crunning&team=ml&limit=5',
    );
    assert.throws(() => taskListQuery({ limit: '0' }), { field: '--limit' });
  });

  it('lists agents with used/total and price', () => {
    const a = agent({
      id: 'a-1',
      name: 'cloud-1',
      location: { kind: 'cloud', provider: 'local:demo', region: 'local', zone: 'local-a' },
      lifecycle: 'spot',
      capacity: { cpuMillis: 4000, memoryMiB: 8192 },
      allocated: { cpuMillis: 1500, memoryMiB: 512 },
      pricePerHourMicros: 62_000,
      lastHeartbeatMs: T0,
      isolation: 'cgroup-v1',
    });
    const row = renderTable(agentTable([a], T0 + 3_000)).split('\n')[1] ?? '';
    assert.match(
      row,
      /^a-1\s+cloud-1\s+registered\s+local:demo:local-a\s+spot\s+cgroup-v1\s+1\.5\/4\s+512Mi\/8Gi\s+0\/0\s+\$0\.0620\/h\s+3s ago$/,
    );
  });

  const status = (paused: boolean): Status => ({
    clusterId: 'demo',
    paused,
    leader: true,
    agentCounts: { provisioning: 0, registered: 3, draining: 0, lost: 1 },
    isolation: { 'cgroup-v2': 2, none: 1 },
    tasks: { pending: 3, placed: 1, running: 2, succeeded: 10, failed: 0, cancelled: 1 },
    locations: [
      {
        location: 'private:local',
        kind: 'private',
        agents: 2,
        capacity: resources({ cpuMillis: 4000, memoryMiB: 8192 }),
        allocated: resources({ cpuMillis: 3000, memoryMiB: 2048 }),
        free: ZERO,
        pricePerHourUsd: 0,
      },
      {
        location: 'local:demo:local-a',
        kind: 'cloud',
        agents: 1,
        capacity: resources({ cpuMillis: 2000, memoryMiB: 4096 }),
        allocated: resources({ cpuMillis: 1000, memoryMiB: 512 }),
        free: ZERO,
        pricePerHourUsd: 0.0832,
      },
    ],
    cloudSpendPerHourUsd: 0.0832,
    providers: [],
  });

  it('shows the pause switch, spend, task counts by state and one line per location', () => {
    const text = renderStatus(status(true));
    assert.match(text, /^launches\s+PAUSED/m);
    assert.match(text, /^cloud spend\s+\$0\.0832\/h/m);
    assert.match(text, /^tasks\s+pending 3, placed 1, running 2, succeeded 10, failed 0, cancelled 1$/m);
    assert.match(text, /^pending\s+3 task/m);
    assert.match(text, /^agents\s+registered 3, provisioning 0, draining 0, lost 1$/m);
    assert.match(text, /^isolation\s+cgroup-v2 2, none 1$/m);
    assert.match(text, /^LOCATION\s+KIND\s+AGENTS\s+CPU USED\s+MEMORY USED\s+GPUS USED\s+SPEND$/m);
    assert.match(text, /^private:local\s+private\s+2\s+3\/4\s+2Gi\/8Gi\s+0\/0\s+-$/m);
    assert.match(text, /^local:demo:local-a\s+cloud\s+1\s+1\/2\s+512Mi\/4Gi\s+0\/0\s+\$0\.0832\/h$/m);
    assert.match(renderStatus(status(false)), /^launches\s+active$/m);
  });

  it('shows the policy as the dotted keys policy set takes', () => {
    const text = renderPolicy(DEMO_POLICY);
    assert.match(text, new RegExp(`^limits\\.maxInstances\\s+${DEMO_POLICY.limits.maxInstances}$`, 'm'));
    assert.match(text, /^spot\.allowed\s+true$/m);
    assert.match(text, /^regions\s+\[\]$/m);
  });

  it('lists policy changes, or says there are none', () => {
    const after = { ...DEMO_POLICY, spot: { allowed: false } };
    assert.equal(renderChanges(DEMO_POLICY, after, true), 'policy updated:\n  spot.allowed: true -> false\n');
    assert.match(renderChanges(DEMO_POLICY, after, false), /^dry run, nothing sent/);
    assert.equal(renderChanges(DEMO_POLICY, DEMO_POLICY, true), 'policy unchanged\n');
  });

  const exits = [
    { state: 'succeeded', exitCode: 0, want: 0 },
    { state: 'failed', exitCode: 3, want: 3 },
    { state: 'failed', exitCode: null, want: 1 },
    { state: 'failed', exitCode: 0, want: 1 },
    { state: 'failed', exitCode: 300, want: 1 },
    { state: 'failed', exitCode: -9, want: 1 },
    { state: 'cancelled', exitCode: null, want: 130 },
  ] as const;
  for (const c of exits) {
    it(`run exits ${c.want} for a task ${c.state} with exit code ${String(c.exitCode)}`, () => {
      assert.equal(exitCodeForTask({ state: c.state, exitCode: c.exitCode }), c.want);
    });
  }
});
