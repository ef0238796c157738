import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'mocha';
import { stringify as toYaml } from 'yaml';
import { hashToken } from '../../src/core/credentials.ts';
import { DEMO_POLICY } from '../../src/core/policy.ts';
import { resources } from '../../src/core/resources.ts';
import type { Task } from '../../src/core/task.ts';
import type { NewTask } from '../../src/store/store.ts';
import { waitFor } from '../helpers/wait.ts';
import { cliAgainstApi } from './helpers/cli-against-api.ts';
import { runCliProcess } from './helpers/cli-process.ts';

/**
 * The CLI as a user runs it (a child process) against the real API server on a real SQLite store, asserting on what
 * the server then holds.
 */
describe('cli against the API server (child processes)', function () {
  this.timeout(60_000);
  const suite = cliAgainstApi('spillway-cli-it-');
  const { cli, ok } = suite;


  /** A pending task's fields as the API would store them; each test makes its own. */
  function newTask(opts: { team: string; command: readonly string[] }): NewTask {
    return {
      owner: { team: opts.team, project: 'default', job: 'default' },
      resources: resources({ cpuMillis: 1000, memoryMiB: 1024 }),
      priority: 0,
      revocable: false,
      constraints: {},
      command: opts.command,
    };
  }

  function tasksWithCommand(command: readonly string[]): Task[] {
    return suite.api.store.tasks.list().filter((t) => JSON.stringify(t.command) === JSON.stringify(command));
  }

  describe('submit and tasks', () => {
    it('submits --count tasks with every flag carried into the store, printing one id per line', async () => {
      const out = await ok([
        'submit',
        '--cpu',
        '500m',
        '--memory',
        '256Mi',
        '--gpus',
        '0',
        '--net-mbps',
        '10',
        '--team',
        'ml',
        '--project',
        'vision',
        '--job',
        'sweep-1',
        '--priority',
        '5',
        '--revocable',
        '--private-only',
        '--count',
        '3',
        '--',
        'echo',
        'hello world',
      ]);
      const ids = out.trim().split('\n');
      assert.equal(ids.length, 3);
      for (const id of ids) {
        const task = suite.api.store.tasks.get(id);
        assert.ok(task, `${id} is not in the store`);
        assert.equal(task.state, 'pending');
        assert.deepEqual(task.owner, { team: 'ml', project: 'vision', job: 'sweep-1' });
        assert.deepEqual(task.resources, resources({ cpuMillis: 500, memoryMiB: 256, gpus: 0, netMbps: 10 }));
        assert.equal(task.priority, 5);
        assert.equal(task.revocable, true);
        assert.equal(task.constraints.privateOnly, true);
        assert.deepEqual(task.command, ['echo', 'hello world']);
      }
    });

    it('passes flags after the command on to the task, with or without --', async () => {
      await ok(['submit', '--cpu', '1', '--memory', '1Gi', '--', 'ls', '-l', '--color']);
      await ok(['submit', '--cpu', '1', '--memory', '1Gi', 'python', 'train.py', '--epochs', '3']);
      assert.equal(tasksWithCommand(['ls', '-l', '--color']).length, 1);
      assert.equal(tasksWithCommand(['python', 'train.py', '--epochs', '3']).length, 1);
    });

    it('prints the created tasks as JSON with --format json', async () => {
      const answer = JSON.parse(
        await ok(['submit', '--cpu', '1', '--memory', '1Gi', '--format', 'json', '--', 'true']),
      ) as { tasks: Task[] };
      assert.equal(answer.tasks.length, 1);
      assert.deepEqual(suite.api.store.tasks.get(answer.tasks[0]?.id ?? ''), answer.tasks[0]);
    });

    it('stores nothing when the server refuses the submission, and exits 1 with its message', async () => {
      const before = suite.api.store.tasks.list().length;
      const result = await cli(['submit', '--cpu', '1', '--memory', '1Gi', '--', 'true'], suite.api.tokens.finance);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^spillway: the server answered 403 forbidden: /);
      assert.equal(suite.api.store.tasks.list().length, before);
    });

    it('lists tasks filtered by state and team, as JSON and CSV', async () => {
      // Its own tasks: three pending and one cancelled of a team no other test uses, and one of another team.
      const team = 'listing-team';
      const mine = suite.api.store.tasks.insert(
        [1, 2, 3, 4].map((n) => newTask({ team, command: ['echo', `listing-${n}`] })),
        suite.api.clock.now(),
      );
      suite.api.store.tasks.insert([newTask({ team: 'other-team', command: ['echo', 'other'] })], suite.api.clock.now());
      const cancelled = mine[3];
      assert.ok(cancelled);
      suite.api.store.tasks.cancel(cancelled.id, 'cancelled by the test', suite.api.clock.now());
      const listed = JSON.parse(await ok(['tasks', '--state', 'pending', '--team', team, '--format', 'json'])) as {
        tasks: Task[];
      };
      assert.deepEqual(
        listed.tasks.map((t) => t.id).sort(),
        mine
          .slice(0, 3)
          .map((t) => t.id)
          .sort(),
      );
      const csv = await ok(['tasks', '--team', team, '--limit', '2', '--format', 'csv']);
      const records = csv.split('\r\n').filter(Boolean);
      assert.ok(records[0]?.startsWith('id,state,team,'));
      assert.equal(records.length, 3);
      for (const record of records.slice(1)) assert.match(record, new RegExp(`^t-[^,]+,(pending|cancelled),${team},`));
    });

    it('shows one task and cancels it', async () => {
      const [task] = suite.api.store.tasks.insert([newTask({ team: 'show-team', command: ['true'] })], suite.api.clock.now());
      assert.ok(task);
      const shown = JSON.parse(await ok(['tasks', 'show', task.id, '--format', 'json'])) as Task;
      assert.deepEqual(shown, suite.api.store.tasks.get(task.id));
      assert.equal(shown.state, 'pending');
      assert.match(await ok(['tasks', 'show', task.id]), new RegExp(`^id\\s+${task.id}$`, 'm'));
      assert.equal(await ok(['tasks', 'cancel', task.id]), `${task.id} cancelled\n`);
      assert.equal(suite.api.store.tasks.get(task.id)?.state, 'cancelled');
    });

    it('exits 1 naming a task that does not exist', async () => {
      const result = await cli(['tasks', 'show', 't-00000000-0000-0000-0000-000000000000']);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^spillway: the server answered 404 not_found: /);
    });
  });

  describe('run', () => {
    function registeredAgent(): string {
      return suite.api.store.agents.insert(
        {
          name: 'box',
          location: { kind: 'private', site: 'local' },
          capacity: resources({ cpuMillis: 8000, memoryMiB: 16_384, netMbps: 1000 }),
          labels: {},
          lifecycle: 'private',
          pricePerHourMicros: 0,
          state: 'registered',
          instanceId: null,
          providerId: null,
          intentId: null,
        },
        suite.api.clock.now(),
      ).id;
    }

    it('waits for the task, prints its output tail and exits with its exit code', async () => {
      const command = ['sh', '-c', 'echo boom; exit 3'];
      const running = cli(['run', '--cpu', '1', '--memory', '1Gi', '--', ...command]);
      const task = await waitFor('the submitted task', () => tasksWithCommand(command)[0]);
      const agentId = registeredAgent();
      suite.api.store.tasks.place(task.id, agentId, suite.api.clock.now());
      suite.api.store.tasks.claim(agentId, suite.api.clock.now());
      suite.api.store.tasks.finish(task.id, agentId, { exitCode: 3, outputTail: 'boom\n' }, suite.api.clock.now());
      const result = await running;
      assert.equal(result.code, 3, result.stderr);
      assert.equal(result.stdout, 'boom\n');
      assert.match(result.stderr, new RegExp(`${task.id} failed with exit code 3`));
    });

    it('exits 130 when the task is cancelled while it waits', async () => {
      const command = ['sleep', '600'];
      const running = cli(['run', '--cpu', '1', '--memory', '1Gi', '--', ...command]);
      const task = await waitFor('the submitted task', () => tasksWithCommand(command)[0]);
      suite.api.store.tasks.cancel(task.id, 'cancelled by the test', suite.api.clock.now());
      const result = await running;
      assert.equal(result.code, 130, result.stderr);
    });
  });

  describe('status', () => {
    it('prints the Status object as is with --format json', async () => {
      const status = JSON.parse(await ok(['status', '--format', 'json'])) as {
        clusterId: string;
        paused: boolean;
        tasks: Record<string, number>;
      };
      assert.equal(status.clusterId, 'test-cluster');
      assert.equal(status.paused, false);
      assert.deepEqual(status.tasks, suite.api.store.tasks.countByState());
    });

    it('prints a table with the task counts and the pause switch', async () => {
      const text = await ok(['status']);
      assert.match(text, /^cluster\s+test-cluster$/m);
      assert.match(text, new RegExp(`^tasks\\s+pending ${suite.api.store.tasks.countByState().pending},`, 'm'));
      assert.match(text, /^launches\s+active$/m);
    });

    it('lists agents', async () => {
      const listed = JSON.parse(await ok(['agents', '--state', 'registered', '--format', 'json'])) as {
        agents: { id: string }[];
      };
      assert.deepEqual(
        listed.agents.map((a) => a.id).sort(),
        suite.api.store.agents
          .list({ states: ['registered'] })
          .map((a) => a.id)
          .sort(),
      );
    });
  });

  describe('policy, pause and resume', () => {
    it('gets the stored policy', async () => {
      assert.deepEqual(JSON.parse(await ok(['policy', 'get', '--format', 'json'])), suite.api.store.policy.get());
      assert.match(await ok(['policy', 'get']), /^limits\.maxInstances\s+\d+$/m);
    });

    it('sets dotted keys, keeps the rest, and the change is audited', async () => {
      const before = suite.api.store.policy.get();
      const out = await ok([
        'policy',
        'set',
        'limits.maxInstances=4',
        'spot.allowed=false',
        'regions=us-east-1,eu-west-1',
      ]);
      assert.match(out, /limits\.maxInstances: \d+ -> 4/);
      const after = suite.api.store.policy.get();
      assert.deepEqual(after, {
        ...before,
        limits: { ...before.limits, maxInstances: 4 },
        spot: { allowed: false },
        regions: ['us-east-1', 'eu-west-1'],
      });
      const [entry] = suite.api.store.audit.list(1);
      assert.equal(entry?.action, 'policy.set');
      assert.match(entry?.actor ?? '', /^alice /);
      assert.deepEqual((entry?.detail as { after: unknown }).after, after);
    });

    it('changes nothing on a dry run or a value that does not validate', async () => {
      const before = suite.api.store.policy.get();
      assert.match(await ok(['policy', 'set', 'limits.maxInstances=7', '--dry-run']), /^dry run, nothing sent/);
      const bad = await cli(['policy', 'set', 'limits.maxInstances=lots']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /^spillway: limits\.maxInstances: /);
      assert.deepEqual(suite.api.store.policy.get(), before);
    });

    it('applies a whole policy from a YAML file, and refuses an incomplete one naming the field', async () => {
      const wanted = { ...DEMO_POLICY, pendingGraceMs: 12_345, instanceFamilies: ['m7i.'] };
      writeFileSync(join(suite.dirPath, 'policy.yaml'), toYaml(wanted));
      await ok(['policy', 'apply', '-f', 'policy.yaml']);
      assert.deepEqual(suite.api.store.policy.get(), wanted);

      const { limits: _limits, ...incomplete } = wanted;
      writeFileSync(join(suite.dirPath, 'partial.json'), JSON.stringify(incomplete));
      const result = await cli(['policy', 'apply', '-f', 'partial.json']);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /^spillway: partial\.json: limits: /);
      assert.deepEqual(suite.api.store.policy.get(), wanted);
    });

    it('pauses and resumes launches', async () => {
      assert.match(await ok(['pause']), /^launches paused/);
      assert.equal(suite.api.store.policy.get().paused, true);
      assert.equal((JSON.parse(await ok(['status', '--format', 'json'])) as { paused: boolean }).paused, true);
      assert.deepEqual(JSON.parse(await ok(['resume', '--format', 'json'])), { paused: false });
      assert.equal(suite.api.store.policy.get().paused, false);
    });

    it("refuses pause to a submitter with the server's 403", async () => {
      const result = await cli(['pause'], suite.api.tokens.submitter);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /403 forbidden/);
      assert.equal(suite.api.store.policy.get().paused, false);
    });
  });

  describe('tokens', () => {
    it('creates a token shown once, which then works, and revokes it so it no longer does', async () => {
      const created = await cli(['token', 'create', '--role', 'submitter', '--name', 'dave']);
      assert.equal(created.code, 0, created.stderr);
      const secret = created.stdout.trim();
      assert.match(secret, /^swt_/);
      assert.match(created.stderr, /shown only this once/);
      const record = suite.api.store.tokens.byHash(hashToken(secret));
      assert.ok(record);
      assert.deepEqual([record.role, record.name, record.revokedAtMs], ['submitter', 'dave', null]);

      await ok(['status', '--format', 'json'], secret);
      const listed = JSON.parse(await ok(['token', 'list', '--format', 'json'])) as {
        tokens: { id: string; name: string }[];
      };
      assert.ok(listed.tokens.some((t) => t.id === record.id && t.name === 'dave'));
      assert.doesNotMatch(JSON.stringify(listed), /swt_/);

      assert.match(await ok(['token', 'revoke', record.id]), new RegExp(`^revoked ${record.id}`));
      assert.notEqual(suite.api.store.tokens.get(record.id)?.revokedAtMs, null);
      const refused = await cli(['status'], secret);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /401 unauthorized/);
    });

    it('creates a bounded registration token (--max-agents, --site, --expires) whose bounds the store keeps', async () => {
      const created = await cli([
        'token',
        'create',
        '--role',
        'agent',
        '--name',
        'rack-3',
        '--max-agents',
        '8',
        '--site',
        'rack-3',
        '--expires',
        '24h',
      ]);
      assert.equal(created.code, 0, created.stderr);
      const record = suite.api.store.tokens.byHash(hashToken(created.stdout.trim()));
      assert.ok(record);
      assert.deepEqual(suite.api.store.registrations.bounds(record.id), {
        maxAgents: 8,
        site: 'rack-3',
        expiresAtMs: suite.api.clock.now() + 24 * 3_600_000,
      });
      assert.match(created.stderr, /registers at most 8 agents, site rack-3 only, until /);
      const bad = await cli(['token', 'create', '--role', 'agent', '--name', 'x', '--expires', '1 day']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--expires: expected a duration such as 90s, 30m, 24h or 7d, got "1 day"/);
    });
  });

  describe('local defaults', () => {
    it('finds the server and the admin token in ./.spillway with nothing in the environment', async () => {
      const home = join(suite.dirPath, 'project');
      mkdirSync(join(home, '.spillway'), { recursive: true });
      writeFileSync(join(home, '.spillway', 'api.url'), `${suite.api.server.url}\n`);
      writeFileSync(join(home, '.spillway', 'admin.token'), `${suite.api.tokens.admin}\n`, { mode: 0o600 });
      const result = await runCliProcess(['status', '--format', 'json'], { cwd: home });
      assert.equal(result.code, 0, result.stderr);
      assert.equal((JSON.parse(result.stdout) as { clusterId: string }).clusterId, 'test-cluster');
    });
  });
});
