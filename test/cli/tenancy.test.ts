import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { hashToken } from '../../src/core/credentials.ts';
import { resources } from '../../src/core/resources.ts';
import type { Task } from '../../src/core/task.ts';
import { cliAgainstApi } from './helpers/cli-against-api.ts';

/** Scoped tokens and paged lists as a user meets them: the CLI in a child process against the real server. */
describe('cli tenancy and paging (child processes)', function () {
  this.timeout(120_000);
  const suite = cliAgainstApi('spillway-cli-tenancy-');
  const { cli, ok } = suite;

  it('shows one page of 100 tasks by default and every task with --all, newest first', async () => {
    const total = 2_345;
    // Three submission times, so pages cross ties of creation time as well as changes of it.
    for (const size of [1_000, 1_000, 345]) {
      suite.api.store.tasks.insert(
        Array.from({ length: size }, () => ({
          owner: { team: 'paging', project: 'p', job: 'j' },
          resources: resources({ cpuMillis: 100, memoryMiB: 64 }),
          priority: 0,
          revocable: false,
          constraints: {},
          command: ['true'],
        })),
        suite.api.clock.now(),
      );
      suite.api.clock.advance(1_000);
    }
    const expected = suite.api.store.tasks.list({ team: 'paging' }).map((t) => t.id);
    assert.equal(expected.length, total);
    const first = JSON.parse(await ok(['tasks', '--team', 'paging', '--format', 'json'])) as { tasks: Task[] };
    assert.deepEqual(
      first.tasks.map((t) => t.id),
      expected.slice(0, 100),
    );
    const all = JSON.parse(await ok(['tasks', '--team', 'paging', '--all', '--format', 'json'])) as { tasks: Task[] };
    assert.deepEqual(
      all.tasks.map((t) => t.id),
      expected,
    );
  });

  it('creates a team-scoped submitter token that submits for its team and is refused for another', async () => {
    const secret = (
      await ok(['token', 'create', '--role', 'submitter', '--name', 'vision-ci', '--teams', 'vision'])
    ).trim();
    suite.api.secrets.push(secret);
    assert.deepEqual(suite.api.store.tokens.byHash(hashToken(secret))?.scope, { teams: ['vision'] });
    await ok(['submit', '--cpu', '1', '--memory', '64Mi', '--team', 'vision', '--', 'true'], secret);
    const refused = await cli(['submit', '--cpu', '1', '--memory', '64Mi', '--team', 'ml', '--', 'true'], secret);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /tasks\.0\.owner\.team: this token acts for teams vision; it may not submit for team ml/,
    );
    const listed = JSON.parse(await ok(['tasks', '--all', '--format', 'json'], secret)) as { tasks: Task[] };
    assert.ok(listed.tasks.length >= 1);
    assert.deepEqual(new Set(listed.tasks.map((t) => t.owner.team)), new Set(['vision']));
  });
});
