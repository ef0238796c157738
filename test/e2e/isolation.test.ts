import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'mocha';
import type { ApiClient } from '../../src/api/client.ts';
import type { Agent } from '../../src/core/agent.ts';
import type { Task } from '../../src/core/task.ts';
import { isAlive } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';
import { Ec2Emulator } from '../emulators/ec2/ec2-emulator.ts';
import { adminClient, cleanup, CLI, makeCluster, Serves, type Cluster } from './harness.ts';

/** The agent's pids limit for this test: small, so the fork bomb is kind to a shared machine. */
const PIDS_LIMIT = 64;
const MiB = 1_048_576;

/**
 * Issue 12 on the real thing: `spillway serve`, a private `spillway agent` running as root (so it isolates with the
 * kernel's cgroup v1 and task uids), and tasks submitted through the API.
 */
(process.getuid?.() === 0 ? describe : describe.skip)('end to end: tasks run isolated from their agent', function () {
  this.timeout(120_000);
  let cluster: Cluster | undefined;
  const serves = new Serves();
  let agent: ChildProcess | undefined;
  let agentToken = '';
  let admin: ApiClient;
  let storePath = '';
  let emulator: Ec2Emulator | undefined;
  let metadataUrl = '';

  before(async () => {
    const storeDir = join(tmpdir(), `spillway-iso-store-${process.pid}-${Date.now()}`);
    cluster = await makeCluster({ providers: [], store: { path: join(storeDir, 'store.db') } });
    storePath = join(storeDir, 'store.db');
    // The test's own folder is 0700 under /tmp: opened up, so only the controller's home guards what it holds.
    chmodSync(cluster.dir, 0o755);
    await serves.startHealthy(cluster, 'serve');
    admin = adminClient(cluster);
    // The metadata endpoint the agent's watcher uses: the EC2 emulator's, on loopback.
    emulator = await Ec2Emulator.start({});
    metadataUrl = `${emulator.url}/_imds/i-0123456789abcdef0`;
    agentToken = (await admin.post<{ token: string }>('/v1/tokens', { role: 'agent', name: 'lab' })).token;
    agent = spawn(
      process.execPath,
      [CLI, 'agent', '--url', cluster.url, '--cpu', '2', '--memory', '2Gi', '--name', 'lab-1', '--site', 'lab',
        '--task-pids-limit', String(PIDS_LIMIT), '--task-folder-keep-ms', '0', '--metadata-url', metadataUrl],
      { env: { ...process.env, SPILLWAY_TOKEN: agentToken }, stdio: 'ignore' },
    );
    await waitFor('the agent to register', async () => {
      const { agents } = await admin.get<{ agents: Agent[] }>('/v1/agents');
      return agents.find((a) => a.name === 'lab-1' && a.state === 'registered');
    });
  });

  after(async () => {
    admin?.close();
    // The agent first, with SIGTERM: it kills its tasks and leaves; then the controller.
    if (agent && agent.exitCode === null) {
      const exited = new Promise((resolve) => agent!.once('exit', resolve));
      agent.kill('SIGTERM');
      await exited;
    }
    await cleanup(cluster, [agent, ...(await serves.stopAll())]);
    await emulator?.close();
    if (storePath) rmSync(dirname(storePath), { recursive: true, force: true });
  });

  async function submit(command: readonly string[], memory = '256Mi', cpu = 1): Promise<string> {
    const { tasks } = await admin.post<{ tasks: Task[] }>('/v1/tasks', {
      tasks: [{ command, resources: { cpu, memory }, constraints: { privateOnly: true } }],
    });
    return tasks[0]!.id;
  }

  const get = (id: string): Promise<Task> => admin.get<Task>(`/v1/tasks/${id}`);

  async function finished(id: string, timeoutMs = 60_000): Promise<Task> {
    return waitFor(`task ${id} to finish`, async () => {
      const task = await get(id);
      return ['succeeded', 'failed', 'cancelled'].includes(task.state) ? task : undefined;
    }, { timeoutMs, intervalMs: 200 });
  }

  it('registers the agent with cgroup isolation', async () => {
    const { agents } = await admin.get<{ agents: Agent[] }>('/v1/agents');
    assert.equal(agents.find((a) => a.name === 'lab-1')?.isolation, 'cgroup-v1');
  });

  it("keeps the controller's home 0700 and its files 0600, the store and its -wal and -shm included", () => {
    const modeOf = (p: string): number => statSync(p).mode & 0o777;
    assert.equal(modeOf(cluster!.home), 0o700);
    const homeFiles = readdirSync(cluster!.home, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    assert.ok(homeFiles.some((e) => e.name === 'admin.token'));
    for (const e of homeFiles) assert.equal(modeOf(join(e.parentPath, e.name)), 0o600, e.name);
    assert.equal(modeOf(dirname(storePath)), 0o700, 'the store folder it created');
    const storeFiles = readdirSync(dirname(storePath)).sort();
    assert.deepEqual(storeFiles, ['store.db', 'store.db-shm', 'store.db-wal']);
    for (const f of storeFiles) assert.equal(modeOf(join(dirname(storePath), f)), 0o600, f);
  });

  it("gives a task nothing secret from its parent's environ, the controller's home or the agent's folders", async () => {
    const script = [
      'echo "uid $(id -u)"',
      'echo "--- parent environ"; tr "\\0" "\\n" </proc/$PPID/environ',
      `echo "--- home"; find ${cluster!.home} -type f -exec cat {} \\;`,
      `ls ${cluster!.home}`,
      'echo "--- task folders"; ls /var/lib/spillway/tasks; find /var/lib/spillway/tasks -type f -exec cat {} \\;',
      'echo "--- leases"; ls /run/spillway/task-uids',
      'echo "--- agent cmdline"; tr "\\0" " " </proc/$PPID/cmdline; echo',
      'echo done',
    ].join('\n');
    const task = await finished(await submit(['/bin/sh', '-c', script]));
    const out = task.outputTail;
    assert.match(out, /uid 6\d{4}\n/);
    assert.match(out, /\/proc\/\d+\/environ: Permission denied/);
    assert.match(out, new RegExp(`ls: cannot open directory '${cluster!.home}': Permission denied`));
    assert.match(out, /ls: cannot open directory '\/var\/lib\/spillway\/tasks': Permission denied/);
    assert.match(out, /ls: cannot (open directory|access) '\/run\/spillway\/task-uids': Permission denied/);
    assert.match(out, /done\n?$/);
    const secrets = [
      agentToken,
      readFileSync(join(cluster!.home, 'admin.token'), 'utf8').trim(),
      ...storeSecrets(storePath),
    ];
    for (const secret of secrets) assert.ok(!out.includes(secret), 'a secret reached the task');
  });

  it('stops the exploit chain at its first step: the task cannot read the agent token from /proc', async () => {
    // Issue 12's chain: read the agent's SPILLWAY_TOKEN from the parent's environ, register a fake agent with it.
    const script = 'tr "\\0" "\\n" </proc/$PPID/environ | grep SPILLWAY_TOKEN || echo "no token"';
    const task = await finished(await submit(['/bin/sh', '-c', script]));
    assert.match(task.outputTail, /Permission denied/);
    assert.match(task.outputTail, /no token/);
    assert.ok(!task.outputTail.includes(agentToken));
  });

  it('ends a task past its memory limit as out of memory, while its neighbour runs on and succeeds', async () => {
    const neighbour = await submit(['/bin/sh', '-c', 'sleep 4; echo neighbour ok'], '128Mi');
    await waitFor('the neighbour to run', async () => (await get(neighbour)).state === 'running');
    const hog = await submit(['/usr/bin/python3', '-c', 'b = bytearray(1 << 30); print("allocated")'], '256Mi');
    const hogTask = await finished(hog);
    assert.equal(hogTask.state, 'failed');
    assert.match(hogTask.reason, /^out of memory: exceeded its 256Mi limit/);
    assert.doesNotMatch(hogTask.outputTail, /allocated/);
    assert.equal((await get(neighbour)).state, 'running', 'the neighbour runs on');
    const n = await finished(neighbour);
    assert.equal(n.state, 'succeeded');
    assert.equal(n.agentId, hogTask.agentId, 'both ran on the same agent');
    assert.match(n.outputTail, /neighbour ok/);
  });

  it('stops a fork bomb at the pids limit and the agent stays healthy', async () => {
    const bomb = [
      'import os, time',
      'n = 0',
      'while n < 100000:',
      '    try:',
      '        pid = os.fork()',
      '    except OSError as e:',
      '        print("refused", e.errno, flush=True)',
      '        break',
      '    if pid == 0:',
      '        time.sleep(60)',
      '        os._exit(0)',
      '    n += 1',
      'print("forked", n, flush=True)',
    ].join('\n');
    const task = await finished(await submit(['/usr/bin/python3', '-c', bomb]));
    assert.match(task.outputTail, /refused 11\n/);
    assert.equal(Number(/forked (\d+)/.exec(task.outputTail)?.[1]), PIDS_LIMIT - 1);
    const after = await finished(await submit(['/bin/sh', '-c', 'echo still here']));
    assert.equal(after.state, 'succeeded');
    const { agents } = await admin.get<{ agents: Agent[] }>('/v1/agents');
    assert.equal(agents.find((a) => a.name === 'lab-1')?.state, 'registered');
  });

  it('leaves no process behind when a task that double-forked a sleep 1000 is cancelled', async () => {
    // The escaped sleep ignores SIGTERM (inherited): only the cgroup-wide SIGKILL ends it.
    const id = await submit(['/bin/sh', '-c', '(setsid sh -c \'trap "" TERM; sleep 1000 & echo "escaped $!"\' &); sleep 1000']);
    const pid = Number(
      (await waitFor('the escaped pid in the output', async () => /escaped (\d+)/.exec((await get(id)).outputTail) ?? undefined))[1],
    );
    assert.ok(isAlive(pid), 'the escaped sleep runs');
    await admin.post(`/v1/tasks/${id}/cancel`, {});
    await waitFor('the escaped sleep to be killed', () => !isAlive(pid), { timeoutMs: 15_000 });
    assert.equal((await get(id)).state, 'cancelled');
  });

  it("does not let a task signal another task's process (EPERM)", async () => {
    const victim = await submit(['/bin/sh', '-c', 'sleep 30 & echo "pid $!"; wait'], '64Mi');
    const pid = Number(
      (await waitFor('the victim pid', async () => /pid (\d+)/.exec((await get(victim)).outputTail) ?? undefined))[1],
    );
    const attacker = await finished(await submit(['/bin/sh', '-c', `kill -9 ${pid}; echo "rc=$?"`], '64Mi'));
    assert.match(attacker.outputTail, /Operation not permitted/);
    assert.match(attacker.outputTail, /rc=1/);
    assert.ok(isAlive(pid));
    await admin.post(`/v1/tasks/${victim}/cancel`, {});
  });

  it('measures the CPU seconds of a 2 s busy loop within 20%', async () => {
    const loop = 'import time\nend = time.process_time() + 2.0\nwhile time.process_time() < end: pass';
    const task = await finished(await submit(['/usr/bin/python3', '-c', loop]));
    assert.equal(task.state, 'succeeded', task.outputTail);
    const db = new DatabaseSync(storePath, { readOnly: true });
    const run = db
      .prepare('SELECT cpu_seconds, peak_memory_bytes FROM ledger_usage WHERE task_id = ?')
      .get(task.id) as { cpu_seconds: number; peak_memory_bytes: number } | undefined;
    db.close();
    assert.ok(Math.abs(run!.cpu_seconds - 2) <= 0.4, `measured ${run!.cpu_seconds} s`);
    assert.ok(run!.peak_memory_bytes > 1 * MiB && run!.peak_memory_bytes < 256 * MiB, `peak ${run!.peak_memory_bytes}`);
  });

  it('keeps a task from the metadata endpoint its agent uses, which the agent itself still reaches', async () => {
    const probe = [
      'import urllib.request, urllib.error',
      'try:',
      `    urllib.request.urlopen(${JSON.stringify(metadataUrl + '/latest/api/token')}, timeout=5)`,
      '    print("reached")',
      'except urllib.error.HTTPError as e:',
      '    print("reached", e.code)',
      'except Exception as e:',
      '    print("blocked", e)',
    ].join('\n');
    const task = await finished(await submit(['/usr/bin/python3', '-c', probe]));
    assert.match(task.outputTail, /blocked .*Connection refused/);
    // Not a dead emulator: root (the agent's user) gets an HTTP answer from the same URL.
    const res = await fetch(`${metadataUrl}/latest/api/token`, { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' } });
    assert.equal(res.status, 404, 'the emulator answers (no such instance)');
  });

  it('removes its packet filter rules when the agent exits', async () => {
    const chain = `SPILLWAY-META-${agent!.pid}`;
    assert.match(execFileSync('iptables', ['-w', '-S'], { encoding: 'utf8' }), new RegExp(`-N ${chain}\n`));
    const exited = new Promise((resolve) => agent!.once('exit', resolve));
    agent!.kill('SIGTERM');
    await exited;
    assert.doesNotMatch(execFileSync('iptables', ['-w', '-S'], { encoding: 'utf8' }), new RegExp(chain));
    assert.doesNotMatch(execFileSync('ip6tables', ['-w', '-S'], { encoding: 'utf8' }), new RegExp(chain));
  });
});

/** The server secret and other meta values, read from the store file as committed. */
function storeSecrets(path: string): string[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return (db.prepare("SELECT value FROM meta WHERE key = 'server_secret'").all() as { value: unknown }[]).map((r) =>
      Buffer.isBuffer(r.value) || r.value instanceof Uint8Array ? Buffer.from(r.value).toString('hex') : String(r.value),
    );
  } finally {
    db.close();
  }
}

/** An agent that is not root cannot isolate: it says so, registers `isolation: none`, and the policy decides. */
(process.getuid?.() === 0 ? describe : describe.skip)('end to end: an agent without isolation', function () {
  this.timeout(120_000);
  let cluster: Cluster | undefined;
  const serves = new Serves();
  let agent: ChildProcess | undefined;
  let admin: ApiClient;
  let agentLog = '';

  before(async () => {
    cluster = await makeCluster({ providers: [] });
    chmodSync(cluster.dir, 0o755);
    await serves.startHealthy(cluster, 'serve');
    admin = adminClient(cluster);
    const { token } = await admin.post<{ token: string }>('/v1/tokens', { role: 'agent', name: 'desk' });
    // As nobody, the way someone runs an agent as themselves.
    agent = spawn(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, 'agent', '--url', cluster.url,
        '--cpu', '1', '--memory', '1Gi', '--name', 'desk-1', '--site', 'lab'],
      { env: { ...process.env, SPILLWAY_TOKEN: token, HOME: '/tmp' }, stdio: ['ignore', 'pipe', 'pipe'], cwd: '/tmp' },
    );
    agent.stdout!.on('data', (chunk: Buffer) => (agentLog += chunk.toString()));
    agent.stderr!.on('data', (chunk: Buffer) => (agentLog += chunk.toString()));
    await waitFor('the agent to register', async () => {
      const { agents } = await admin.get<{ agents: Agent[] }>('/v1/agents');
      return agents.find((a) => a.name === 'desk-1' && a.state === 'registered');
    });
  });

  after(async () => {
    admin?.close();
    if (agent && agent.exitCode === null) {
      const exited = new Promise((resolve) => agent!.once('exit', resolve));
      agent.kill('SIGTERM');
      await exited;
    }
    await cleanup(cluster, [agent, ...(await serves.stopAll())]);
  });

  it('says so once, registers isolation none, and gets no task until the policy allows it', async () => {
    assert.equal(agentLog.match(/running tasks without isolation/g)?.length, 1, agentLog);
    assert.match(agentLog, /the agent is not root/);
    const { agents } = await admin.get<{ agents: Agent[] }>('/v1/agents');
    assert.equal(agents.find((a) => a.name === 'desk-1')?.isolation, 'none');

    const { tasks } = await admin.post<{ tasks: Task[] }>('/v1/tasks', {
      tasks: [{ command: ['/bin/sh', '-c', 'id -u'], resources: { cpu: 1, memory: '64Mi' }, constraints: { privateOnly: true } }],
    });
    const id = tasks[0]!.id;
    const waiting = await waitFor('the wait reason to name isolation', async () => {
      const t = await admin.get<Task>(`/v1/tasks/${id}`);
      return /desk-1 has room but runs tasks without isolation, which the policy forbids \(requireIsolation\)/.test(t.reason) ? t : undefined;
    });
    assert.equal(waiting.state, 'pending');

    const policy = await admin.get<Record<string, unknown>>('/v1/policy');
    await admin.put('/v1/policy', { ...policy, requireIsolation: false });
    const done = await waitFor('the task to run once the policy allows it', async () => {
      const t = await admin.get<Task>(`/v1/tasks/${id}`);
      return t.state === 'succeeded' ? t : undefined;
    });
    assert.match(done.outputTail, /^65534\n/, "it ran as the agent's own user");
  });
});
