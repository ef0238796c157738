import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { startAgent, type AgentHandle, type AgentOptions } from '../../src/agent/agent.ts';
import { bootstrapCredential } from '../../src/core/credentials.ts';
import { ValidationError } from '../../src/core/errors.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { isAlive, killAll } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';
import { FakeController } from './fixtures/fake-controller.ts';

/** A task that prints its pid and runs until killed. */
// System binaries only: as root the agent runs tasks as an unprivileged uid, which may not reach this Node.
const LONG_TASK = ['/bin/sh', '-c', 'echo $$; exec sleep 1000'];

/** Live task processes this test process started: its children that carry SPILLWAY_TASK_ID. */
function taskProcesses(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' || Number(fields[1]) !== process.pid) continue;
      if (
        readFileSync(`/proc/${entry}/environ`, 'latin1')
          .split('\0')
          .some((v) => v.startsWith('SPILLWAY_TASK_ID='))
      ) {
        pids.push(Number(entry));
      }
    } catch {
      // Gone while we looked.
    }
  }
  return pids;
}

describe('agent', function () {
  this.timeout(30_000);
  let controller: FakeController;
  let agents: AgentHandle[];

  beforeEach(async () => {
    controller = await FakeController.start();
    agents = [];
  });

  afterEach(async () => {
    await Promise.all(agents.map((a) => a.stop('test over')));
    await controller.close();
    const leftovers = taskProcesses();
    killAll(leftovers);
    assert.deepEqual(leftovers, [], 'task processes outlived the agent');
  });

  function start(overrides: Partial<AgentOptions> = {}): AgentHandle {
    const agent = startAgent({
      url: controller.url,
      token: controller.registrationToken,
      capacity: { cpuMillis: 2000, memoryMiB: 1024, gpus: 0, netMbps: 100 },
      labels: { rack: '3' },
      name: 'test-agent',
      logger: silentLogger(),
      drainTimeoutMs: 200,
      killGraceMs: 500,
      outputReportIntervalMs: 100,
      backoff: { initialMs: 10, maxMs: 50 },
      ...overrides,
    });
    agents.push(agent);
    return agent;
  }

  /** The pid a LONG_TASK printed, from its output reports. */
  async function taskPid(taskId: string): Promise<number> {
    return waitFor(`the pid of ${taskId}`, () => {
      const output = controller.reportsFor(taskId).find((r) => r.body.kind === 'output');
      return output ? Number(output.body.outputTail.trim()) || undefined : undefined;
    });
  }

  it('registers with the given token, then uses its own for everything else', async () => {
    const agent = start();
    await waitFor(
      'a heartbeat and a pull',
      () => controller.heartbeats.length > 0 && controller.requests.some((r) => r.path.endsWith('/pull')),
    );
    assert.equal(agent.agentId(), controller.agentId);
    const [first, ...rest] = controller.requests;
    assert.equal(first?.path, '/v1/agents/register');
    assert.equal(first?.authorization, `Bearer ${controller.registrationToken}`);
    assert.ok(rest.length > 0);
    for (const request of rest) assert.equal(request.authorization, `Bearer ${controller.agentToken}`, request.path);
    assert.deepEqual(controller.registrations[0], {
      protocolVersion: 1,
      name: 'test-agent',
      capacity: { cpuMillis: 2000, memoryMiB: 1024, gpus: 0, netMbps: 100 },
      labels: { rack: '3' },
      // As root (CI, these machines: cgroup v1) the agent isolates its tasks; otherwise it cannot.
      isolation: process.getuid?.() === 0 ? 'cgroup-v1' : 'none',
    });
  });

  it('runs a task argv without a shell and reports its exit and output', async () => {
    start();
    controller.assign({
      id: 't-argv',
      command: [
        '/usr/bin/python3',
        '-c',
        'import json, os, sys; print(json.dumps([sys.argv[1], os.environ["SPILLWAY_TASK_ID"]]))',
        '$HOME',
      ],
      resources: { cpuMillis: 1_000, memoryMiB: 64, gpus: 0, netMbps: 0 },
    });
    const report = await waitFor('the exit report', () => controller.finalReport('t-argv'));
    assert.equal(report.kind, 'exit');
    assert.equal(report.kind === 'exit' && report.exitCode, 0);
    assert.deepEqual(JSON.parse(report.outputTail), ['$HOME', 't-argv']);
  });

  it('moves to the next controller of its list when the one it uses stops answering, and goes on working', async () => {
    const second = await FakeController.start();
    try {
      const agent = start({ url: [controller.url, second.url] });
      await waitFor('a heartbeat at the first controller', () => controller.heartbeats.length > 0 || undefined);
      assert.equal(controller.registrations.length, 1);
      assert.equal(second.requests.length, 0, 'nothing goes to the second while the first answers');
      await controller.close();
      // The second replica knows the agent (one database behind both): its heartbeats and work go there now.
      second.assign({
        id: 't-after-failover',
        command: ['/bin/sh', '-c', 'echo moved'],
        resources: { cpuMillis: 1, memoryMiB: 64, gpus: 0, netMbps: 0 },
      });
      const report = await waitFor('the exit report at the second controller', () =>
        second.finalReport('t-after-failover'),
      );
      assert.ok(report.kind === 'exit');
      assert.equal(report.exitCode, 0);
      assert.match(report.outputTail, /moved/);
      assert.ok(second.heartbeats.length > 0);
      assert.equal(second.registrations.length, 0, 'it did not register again');
      assert.equal(agent.agentId(), controller.agentId);
    } finally {
      await second.close();
    }
  });

  const exitCases = [
    { name: 'non-zero', command: ['/bin/sh', '-c', 'exit 7'], exitCode: 7, output: /^$/ },
    // Isolated, the command is exec'd by the shell that joined the cgroup; without isolation, spawned directly.
    { name: 'a missing command', command: ['spillway-no-such-command'], exitCode: 127, output: /ENOENT|not found/ },
  ];
  for (const c of exitCases) {
    it(`reports the exit code of ${c.name}`, async () => {
      start();
      controller.assign({
        id: 't-exit',
        command: c.command,
        resources: { cpuMillis: 1, memoryMiB: 64, gpus: 0, netMbps: 0 },
      });
      const report = await waitFor('the exit report', () => controller.finalReport('t-exit'));
      assert.ok(report.kind === 'exit');
      assert.equal(report.exitCode, c.exitCode);
      assert.match(report.outputTail, c.output);
    });
  }

  it('reports only the tail of the output, while the task runs and at its exit', async () => {
    start({ outputTailBytes: 64 });
    const code =
      'import sys, time\nsys.stdout.write("a" * 1000 + "MIDDLE"); sys.stdout.flush(); time.sleep(0.5); sys.stdout.write("b" * 1000 + "END")';
    controller.assign({
      id: 't-tail',
      command: ['/usr/bin/python3', '-c', code],
      // A whole CPU: the test is about output. At 1 millicore the cgroup's CFS quota is its 1 ms floor per 100 ms, and
      // Python's start (about 0.1 s of CPU on a slow VM) then took 10 s, up to the test's timeout in CI.
      resources: { cpuMillis: 1_000, memoryMiB: 64, gpus: 0, netMbps: 0 },
    });
    const report = await waitFor('the exit report', () => controller.finalReport('t-tail'));
    assert.ok(report.kind === 'exit');
    assert.equal(report.outputTail, `${'b'.repeat(61)}END`);
    const outputs = controller.reportsFor('t-tail').filter((r) => r.body.kind === 'output');
    assert.ok(
      outputs.some((r) => r.body.outputTail.endsWith('MIDDLE')),
      'no output report while the task ran',
    );
    assert.ok(outputs.every((r) => r.body.outputTail.length <= 64));
    const kinds = controller.reportsFor('t-tail').map((r) => r.body.kind);
    assert.equal(kinds.at(-1), 'exit', 'an output report came after the exit report');
  });

  it('kills a task the controller lists in stopTaskIds, without reporting it', async () => {
    start();
    controller.assign({
      id: 't-stop',
      command: LONG_TASK,
      resources: { cpuMillis: 1, memoryMiB: 64, gpus: 0, netMbps: 0 },
    });
    const pid = await taskPid('t-stop');
    controller.stopTasks(['t-stop']);
    await waitFor('the task to die', () => !isAlive(pid));
    const count = controller.heartbeats.length;
    await waitFor('a heartbeat without the task', () =>
      controller.heartbeats.slice(count).some((h) => !h.runningTaskIds.includes('t-stop')),
    );
    assert.equal(controller.finalReport('t-stop'), undefined);
  });

  it('lists running tasks in its heartbeats', async () => {
    start();
    controller.assign({
      id: 't-hb',
      command: LONG_TASK,
      resources: { cpuMillis: 1, memoryMiB: 64, gpus: 0, netMbps: 0 },
    });
    await waitFor('a heartbeat with the task', () =>
      controller.heartbeats.some((h) => h.runningTaskIds.includes('t-hb')),
    );
  });

  it('keeps listing a task that ended in its heartbeats until the controller has taken its exit report', async () => {
    start();
    // The controller answers the exit report with 503 for now: the report waits, retried.
    controller.reportFailures = Array.from({ length: 1000 }, () => 503);
    controller.assign({
      id: 't-ended',
      command: ['/bin/true'],
      resources: { cpuMillis: 1, memoryMiB: 64, gpus: 0, netMbps: 0 },
    });
    await waitFor('a refused exit report', () => controller.reportsFor('t-ended').some((r) => r.body.kind === 'exit'));
    // The process is gone, but its outcome has not reached the controller: every later beat must still list it,
    // or the controller would requeue it and run it again.
    const afterExit = controller.heartbeats.length;
    await waitFor('three heartbeats after the task ended', () => controller.heartbeats.length >= afterExit + 3);
    for (const beat of controller.heartbeats.slice(afterExit)) assert.deepEqual(beat.runningTaskIds, ['t-ended']);

    controller.reportFailures = [];
    await waitFor('the accepted exit report', () => controller.finalReport('t-ended'));
    const afterAccepted = controller.heartbeats.length;
    await waitFor('a heartbeat after the report was taken', () => controller.heartbeats.length > afterAccepted + 1);
    assert.deepEqual(controller.heartbeats.at(-1)!.runningTaskIds, []);
  });

  it('echoes in each heartbeat the hand-over time of the latest pull answer it has taken, and lists what it brought', async () => {
    // A slow controller: each pull answered 300 ms after it arrives, beats every 100 ms, so beats go out while
    // answers are on their way.
    controller.heartbeatIntervalMs = 100;
    controller.pollIntervalMs = 150;
    controller.beforePullAnswer = () => new Promise((resolve) => setTimeout(resolve, 300));
    start();
    controller.assign({
      id: 't-held',
      command: LONG_TASK,
      resources: { cpuMillis: 1, memoryMiB: 64, gpus: 0, netMbps: 0 },
    });
    await waitFor('eight answered pulls', () => controller.pulls.length >= 8, { timeoutMs: 20_000 });
    await waitFor('a beat that has taken the eighth', () =>
      controller.heartbeats.some((h) => h.pulledThroughMs === controller.pulls[7]!.pulledAtMs),
    );
    const handedOverAt = controller.pulls.find((p) => p.taskIds.includes('t-held'))!.pulledAtMs;
    const answered = new Set(controller.pulls.map((p) => p.pulledAtMs));
    const beats = controller.heartbeats;
    assert.equal(beats[0]!.pulledThroughMs, undefined, 'the first beat, before any answer, echoes nothing');
    for (const beat of beats) {
      if (beat.pulledThroughMs === undefined) continue;
      assert.ok(answered.has(beat.pulledThroughMs), `echoes ${beat.pulledThroughMs}, a time the controller answered`);
      if (beat.pulledThroughMs >= handedOverAt) assert.ok(beat.runningTaskIds.includes('t-held'));
    }
    // Beats that went out while the eight answers were held echo each answer in turn: never one not yet taken.
    const echoed = beats.map((b) => b.pulledThroughMs ?? 0);
    assert.deepEqual(
      echoed,
      [...echoed].sort((a, b) => a - b),
      'the echo never goes back',
    );
    assert.ok(new Set(echoed).size >= 8, `${new Set(echoed).size} distinct echoes over eight answers`);
  });

  it('retries registration on network failures, 5xx, and 401/403/409 to a bootstrap credential', async () => {
    const credential = bootstrapCredential(Buffer.from('secret'), '7f1c9a52-0000-4000-8000-000000000001');
    controller.registrationToken = credential;
    controller.registerFailures = [409, 0, 401, 503, 409];
    const agent = start({ token: credential, instanceId: 'li-1', name: undefined });
    await waitFor('registration', () => agent.agentId());
    const attempts = controller.requests.filter((r) => r.path === '/v1/agents/register');
    assert.equal(attempts.length, 6);
    for (const attempt of attempts) assert.equal(attempt.authorization, `Bearer ${credential}`);
    assert.equal(controller.registrations[0]?.instanceId, 'li-1');
    assert.equal(controller.registrations[0]?.name, 'li-1', 'an instance agent is named after its instance');
  });

  /** A GCE-style metadata server answering identity requests with a new token each time. */
  async function identityServer(): Promise<{ url: string; audiences: string[]; close(): Promise<void> }> {
    const audiences: string[] = [];
    const server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://metadata');
      const ok =
        url.pathname === '/computeMetadata/v1/instance/service-accounts/default/identity' &&
        req.headers['metadata-flavor'] === 'Google' &&
        url.searchParams.get('format') === 'full';
      if (ok) audiences.push(url.searchParams.get('audience') ?? '');
      res.writeHead(ok ? 200 : 404, { 'metadata-flavor': 'Google' });
      res.end(ok ? `header.token-${audiences.length}.signature` : 'Not Found');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      audiences,
      close: () => {
        server.closeAllConnections();
        return new Promise((resolve) => server.close(() => resolve()));
      },
    };
  }

  it("sends its instance's signed identity with a bootstrap credential: a fresh GCE token for each attempt", async () => {
    const metadata = await identityServer();
    try {
      const credential = bootstrapCredential(Buffer.from('secret'), '7f1c9a52-0000-4000-8000-000000000002');
      controller.registrationToken = credential;
      controller.registerFailures = [409, 409];
      const agent = start({
        token: credential,
        instanceId: 'us-central1-a/spw-1',
        labels: { 'spillway.io/provider': 'gcp-compute:us-central1' },
        metadataUrl: metadata.url,
      });
      await waitFor('registration', () => agent.agentId());
      assert.deepEqual(metadata.audiences, [controller.url, controller.url, controller.url], 'one token per attempt');
      assert.deepEqual(controller.registrations[0]?.identity, { document: 'header.token-3.signature' });
    } finally {
      await metadata.close();
    }
  });

  it('sends no identity with a registration token, even on a cloud metadata server', async () => {
    const metadata = await identityServer();
    try {
      const agent = start({ labels: { 'spillway.io/provider': 'gcp-compute:us-central1' }, metadataUrl: metadata.url });
      await waitFor('registration', () => agent.agentId());
      assert.equal(controller.registrations[0]?.identity, undefined);
      assert.deepEqual(metadata.audiences, []);
    } finally {
      await metadata.close();
    }
  });

  it('gives up at once when the controller refuses a registration token', async () => {
    controller.registerFailures = [409];
    const agent = start();
    await assert.rejects(agent.done, /registering with .*the controller refused after 1 attempts/);
    assert.equal(controller.requests.length, 1);
  });

  it('gives up registering at the deadline', async () => {
    controller.registerFailures = Array.from({ length: 1000 }, () => 503);
    const agent = start({ registerTimeoutMs: 300 });
    await assert.rejects(agent.done, /registering with .*gave up at the registration deadline/);
    assert.ok(controller.requests.length > 1);
  });

  it('retries a report on 5xx until it is accepted, and drops it on 409', async () => {
    start();
    controller.reportFailures = [503, 500];
    controller.assign({
      id: 't-retry',
      command: ['/bin/sh', '-c', 'exit 2'],
      resources: { cpuMillis: 1, memoryMiB: 64, gpus: 0, netMbps: 0 },
    });
    await waitFor('the accepted exit report', () => controller.finalReport('t-retry'));
    assert.deepEqual(
      controller.reportsFor('t-retry').map((r) => r.status),
      [503, 500, 200],
    );

    controller.reportFailures = [409];
    controller.assign({
      id: 't-drop',
      command: ['/bin/true'],
      resources: { cpuMillis: 1, memoryMiB: 64, gpus: 0, netMbps: 0 },
    });
    await waitFor('the refused exit report', () => controller.reportsFor('t-drop').length > 0);
    // Another task's report goes through afterwards: the dropped one is not retried in between.
    controller.assign({
      id: 't-after',
      command: ['/bin/true'],
      resources: { cpuMillis: 1, memoryMiB: 64, gpus: 0, netMbps: 0 },
    });
    await waitFor('the next exit report', () => controller.finalReport('t-after'));
    assert.deepEqual(
      controller.reportsFor('t-drop').map((r) => r.status),
      [409],
    );
  });

  it('on stop, hands back a task that outlives the drain timeout, then leaves', async () => {
    const agent = start({ drainTimeoutMs: 300 });
    controller.assign({
      id: 't-long',
      command: LONG_TASK,
      resources: { cpuMillis: 1, memoryMiB: 64, gpus: 0, netMbps: 0 },
    });
    const pid = await taskPid('t-long');
    const requestsBeforeStop = controller.requests.length;
    await agent.stop('maintenance');
    await agent.done;
    assert.equal(isAlive(pid), false);
    const report = controller.finalReport('t-long');
    assert.equal(report?.kind, 'handback');
    assert.match(report?.kind === 'handback' ? report.reason : '', /maintenance/);
    assert.deepEqual(controller.leaves, [{ reason: 'maintenance' }]);
    const paths = controller.requests.map((r) => r.path);
    assert.ok(
      paths.lastIndexOf(`/v1/agents/${controller.agentId}/tasks/t-long/report`) <
        paths.indexOf(`/v1/agents/${controller.agentId}/leave`),
    );
    // A pull already on its way when stop was called may land; no new one starts.
    const pullsAfterStop = controller.requests.slice(requestsBeforeStop).filter((r) => r.path.endsWith('/pull'));
    assert.ok(pullsAfterStop.length <= 1, `the agent pulled ${pullsAfterStop.length} times while stopping`);
  });

  it('on stop, lets a task that finishes within the drain timeout report its exit', async () => {
    const agent = start({ drainTimeoutMs: 10_000 });
    controller.assign({
      id: 't-short',
      command: ['/bin/sh', '-c', 'echo go; sleep 0.3; exit 4'],
      resources: { cpuMillis: 1, memoryMiB: 64, gpus: 0, netMbps: 0 },
    });
    await waitFor('the task output', () => controller.reportsFor('t-short').length > 0);
    await agent.stop('rollout');
    const report = controller.finalReport('t-short');
    assert.ok(report?.kind === 'exit');
    assert.equal(report.exitCode, 4);
    assert.equal(controller.leaves.length, 1);
  });

  it('hands back unstarted a task that arrives in a pull answered after stop', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spillway-agent-'));
    try {
      const marker = join(dir, 'started');
      const agent = start();
      await waitFor('registration', () => agent.agentId());
      const release = Promise.withResolvers<void>();
      const held = Promise.withResolvers<void>();
      controller.beforePullAnswer = () => {
        held.resolve();
        return release.promise;
      };
      await held.promise;
      controller.assign({
        id: 't-late',
        command: ['/usr/bin/touch', marker],
        resources: { cpuMillis: 1, memoryMiB: 64, gpus: 0, netMbps: 0 },
      });
      const stopped = agent.stop('shutting down');
      release.resolve();
      await stopped;
      assert.deepEqual(controller.finalReport('t-late'), {
        kind: 'handback',
        reason: 'agent stopping: shutting down',
        outputTail: '',
      });
      assert.equal(existsSync(marker), false, 'the task ran');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops everything and fails when the controller no longer accepts its token', async () => {
    const agent = start();
    controller.assign({
      id: 't-revoked',
      command: LONG_TASK,
      resources: { cpuMillis: 1, memoryMiB: 64, gpus: 0, netMbps: 0 },
    });
    const pid = await taskPid('t-revoked');
    controller.heartbeatStatus = 401;
    await assert.rejects(agent.done, /heartbeating: the controller no longer accepts agent/);
    assert.equal(isAlive(pid), false);
    assert.deepEqual(controller.leaves, []);
  });

  it('stops cleanly before it registered', async () => {
    controller.registerFailures = Array.from({ length: 1000 }, () => 503);
    const agent = start();
    await waitFor('a registration attempt', () => controller.requests.length > 0);
    await agent.stop('changed my mind');
    await agent.done;
    assert.equal(agent.agentId(), undefined);
  });

  it('refuses bad options at once, naming the option', () => {
    assert.throws(
      () =>
        startAgent({
          url: controller.url,
          token: 't',
          capacity: { cpuMillis: 1, memoryMiB: 64, gpus: 0, netMbps: 0 },
          labels: {},
          logger: silentLogger(),
          drainTimeoutMs: -1,
        }),
      (err: unknown) => err instanceof ValidationError && err.field === 'drainTimeoutMs',
    );
  });
});
