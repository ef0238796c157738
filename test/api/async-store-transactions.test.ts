import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, it } from 'mocha';
import type { CreateTokenResponse } from '../../src/api/types.ts';
import type { Policy } from '../../src/core/policy.ts';
import type { Task } from '../../src/core/task.ts';
import { REPO_NAMES, type AsyncStore } from '../../src/store/async-store.ts';
import { expectApiError, rawRequest, startApiHarness, type ApiHarness } from '../helpers/api-harness.ts';
import { dumpSqlite } from '../helpers/sqlite-dump.ts';
import { newTask } from '../store/helpers.ts';

// The API on the asynchronous store port (src/store/async-store.ts) over the real SQLite file: a state change a request
// makes is still one transaction, and two requests that read and then write the same row never lose an update.
describe('api state changes through the asynchronous store', () => {
  let h: ApiHarness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  /**
   * Makes SQLite itself refuse the rows of `table` that match `when` (a trigger, created through a second connection to
   * the file), so a request's later write fails after its first ones succeeded. Returns what takes them again.
   */
  function refuseInserts(dbPath: string, table: string, when: string): () => void {
    const exec = (sql: string): void => {
      const db = new DatabaseSync(dbPath);
      try {
        db.exec(sql);
      } finally {
        db.close();
      }
    };
    exec(
      `CREATE TRIGGER refuse_${table} BEFORE INSERT ON ${table} WHEN ${when} ` +
        `BEGIN SELECT RAISE(ABORT, '${table} refused for the test'); END`,
    );
    return () => exec(`DROP TRIGGER refuse_${table}`);
  }

  const submit = (count: number) => ({
    tasks: Array.from({ length: count }, (_, i) => ({
      command: ['echo', String(i)],
      resources: { cpu: 500, memory: 256 },
      owner: { team: 'vision', project: 'p' },
    })),
  });

  // Each route writes its rows, then its audit entry (the write SQLite refuses here): nothing of the first may stay.
  // `prepare` sets up what the request needs (committed before the snapshot) and returns the request.
  const cases: {
    name: string;
    action: string;
    prepare: (h: ApiHarness) => () => Promise<unknown>;
  }[] = [
    {
      name: 'POST /v1/tasks inserts the tasks, then audits the submission',
      action: 'task.submit',
      prepare: (h) => () => h.client(h.tokens.submitter).post('/v1/tasks', submit(3)),
    },
    {
      name: 'POST /v1/tasks/{id}/cancel cancels the task, then audits it',
      action: 'task.cancel',
      prepare: (h) => {
        const [task] = h.store.tasks.insert([newTask({ owner: { team: 'vision', project: 'p', job: '' } })], 0);
        return () => h.client(h.tokens.submitter).post(`/v1/tasks/${task!.id}/cancel`);
      },
    },
    {
      name: 'POST /v1/tokens creates the token, sets its registration bounds, then audits it',
      action: 'token.create',
      prepare: (h) => () =>
        h
          .client(h.tokens.admin)
          .post<CreateTokenResponse>('/v1/tokens', { role: 'agent', name: 'racks', maxAgents: 3 }),
    },
    {
      name: 'DELETE /v1/tokens/{id} revokes the token, then audits it',
      action: 'token.revoke',
      prepare: (h) => {
        const record = h.store.tokens.list().find((t) => t.name === 'bob');
        return () => h.client(h.tokens.admin).delete(`/v1/tokens/${record!.id}`);
      },
    },
  ];
  for (const c of cases) {
    it(`undoes every write of a request whose last write fails: ${c.name}`, async () => {
      const harness = (h = await startApiHarness());
      const request = c.prepare(harness);
      const allowAudit = refuseInserts(harness.dbPath, 'audit', `NEW.action = '${c.action}'`);
      const before = dumpSqlite(harness.dbPath);
      const err = await expectApiError(request(), 500, /handling the request failed on the server/);
      assert.equal(err.code, 'internal');
      assert.deepEqual(dumpSqlite(harness.dbPath), before, 'the failed request left none of its writes');
      assert.ok(
        harness.logs
          .lines()
          .some((l) => l.message === 'failed handling request' && /audit refused/.test(JSON.stringify(l))),
        'the cause is logged',
      );
      // The same request once SQLite takes the audit entry: it writes (so the equality above was not vacuous).
      allowAudit();
      await request();
      const after = dumpSqlite(harness.dbPath);
      assert.notDeepEqual(after, before);
      assert.equal(
        after.audit?.filter((row) => (JSON.parse(row) as { action: string }).action === c.action).length,
        1,
        'the successful request is audited once',
      );
    });
  }

  it('signs in by a link in one transaction: a session that cannot be opened leaves the link and the old session', async () => {
    const harness = (h = await startApiHarness());
    const admin = harness.client(harness.tokens.admin);
    const open = (path: string, cookie?: string) =>
      rawRequest(harness.server.url, { method: 'GET', path, headers: cookie === undefined ? {} : { cookie } });
    const first = await admin.post<{ path: string }>('/v1/console/codes');
    const cookie = (await open(first.path)).headers['set-cookie']?.[0]?.split(';')[0] ?? '';
    assert.equal((await open('/console/session', cookie)).status, 200, 'the browser holds a session');
    const second = await admin.post<{ path: string }>('/v1/console/codes');
    // The link is used and the browser's session ended before the new session's row is written, which SQLite refuses.
    const allowSessions = refuseInserts(harness.dbPath, 'console_sessions', '1');
    const before = dumpSqlite(harness.dbPath);
    assert.equal((await open(second.path, cookie)).status, 500);
    assert.deepEqual(dumpSqlite(harness.dbPath), before, 'the failed sign-in left none of its writes');
    assert.equal((await open('/console/session', cookie)).status, 200, 'the old session still works');
    allowSessions();
    const signedIn = await open(second.path, cookie);
    assert.equal(signedIn.status, 303, 'the link was left unused');
    assert.match(signedIn.headers['set-cookie']?.[0] ?? '', /^spillway_session=/);
    assert.equal((await open('/console/session', cookie)).status, 401, 'signing in again ended the old session');
  });

  it('keeps a pause made while a policy replacement is between its read and its write (no lost update)', async () => {
    let probe: ReadProbe | undefined;
    const harness = (h = await startApiHarness({
      serverStore: (store) => (probe = holdFirstRead(store, 'policy', 'get')).store,
    }));
    const admin = harness.client(harness.tokens.admin);
    const current = harness.store.policy.get();
    assert.equal(current.paused, false);
    const replacement: Policy = { ...current, idleTtlMs: current.idleTtlMs + 60_000 };
    // The replacement reads the policy (to keep its kill switch) and is held right after that read...
    const put = admin.put<Policy>('/v1/policy', replacement);
    await probe!.held;
    // ...while an admin pauses. Its pause may wait for the replacement's transaction, or run inside the gap when the
    // read and the write are not one transaction: then the replacement writes back the switch it read, unpaused.
    const pause = admin.post<{ paused: boolean }>('/v1/pause');
    const [replaced, paused] = await Promise.all([put, pause]);
    assert.equal(replaced.idleTtlMs, replacement.idleTtlMs);
    assert.deepEqual(paused, { paused: true });
    const after = harness.store.policy.get();
    assert.equal(after.paused, true, 'the pause is kept');
    assert.equal(after.idleTtlMs, replacement.idleTtlMs, 'the replacement is kept');
    assert.deepEqual(
      harness.store.audit.list(10).map((e) => e.action),
      ['policy.set', 'policy.set'],
      'both changes are audited',
    );
  });

  it('lets only one of two concurrent submissions pass a team quota both would reach (no lost update)', async () => {
    let probe: ReadProbe | undefined;
    const harness = (h = await startApiHarness({
      serverStore: (store) => (probe = holdFirstRead(store, 'tasks', 'countPending')).store,
    }));
    const policy = harness.store.policy.get();
    harness.store.policy.set({ ...policy, limits: { ...policy.limits, maxPendingPerTeam: 5 } }, 'test', 0);
    const submitter = harness.client(harness.tokens.submitter);
    // Three and three pass a quota of five one at a time, never both.
    const first = submitter.post<{ tasks: Task[] }>('/v1/tasks', submit(3));
    await probe!.held;
    const second = submitter.post<{ tasks: Task[] }>('/v1/tasks', submit(3));
    const outcomes = await Promise.allSettled([first, second]);
    assert.equal(outcomes[0].status, 'fulfilled', 'the first submission passes');
    assert.equal(outcomes[1].status, 'rejected', 'the second finds the first one counted');
    await expectApiError(second, 429, /team vision: it has 3 pending and policy\.limits\.maxPendingPerTeam is 5/);
    assert.equal(harness.store.tasks.countPending('vision'), 3);
  });
});

interface ReadProbe {
  /** What the server is given. */
  readonly store: AsyncStore;
  /** Settles once the first matching read has run and its answer is being held. */
  readonly held: Promise<void>;
}

/**
 * A view of `store` that holds back the answer of the first `repo.method` call, to let another request run in the
 * gap between that read and the write its caller makes next. The answer is released as soon as the other request
 * shows which way the gap goes, so neither a right nor a wrong implementation can hang:
 * - a call arrives from outside a transaction that is open (the holder's): the real store makes it wait for that
 *   transaction, so the read and the write are protected (released, the holder finishes first);
 * - a transaction of another caller ends: it ran inside the gap (released, the holder then writes what it read).
 * Every call still goes to the real store; the view only delays one answer.
 */
function holdFirstRead(store: AsyncStore, repo: (typeof REPO_NAMES)[number], method: string): ReadProbe {
  const inTransaction = new AsyncLocalStorage<number>();
  const open = new Set<number>();
  let lastTransaction = 0;
  let holding: { readonly transaction: number | undefined; readonly release: () => void } | undefined;
  let done = false;
  let reached: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (reached = resolve));
  const release = (): void => {
    holding?.release();
    holding = undefined;
  };
  const view = (name: (typeof REPO_NAMES)[number]): unknown =>
    new Proxy(store[name], {
      get(target, property) {
        const value: unknown = Reflect.get(target, property, target);
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          const transaction = inTransaction.getStore();
          if (holding !== undefined && [...open].some((id) => id !== transaction)) release();
          const result: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          if (!done && name === repo && property === method) {
            done = true;
            await new Promise<void>((resolve) => {
              holding = { transaction, release: resolve };
              reached();
            });
          }
          return result;
        };
      },
    });
  const wrapped = {
    ...Object.fromEntries(REPO_NAMES.map((name) => [name, view(name)])),
    transaction: async <T>(fn: () => Promise<T>): Promise<T> => {
      if (inTransaction.getStore() !== undefined) return store.transaction(fn);
      const id = (lastTransaction += 1);
      open.add(id);
      try {
        return await inTransaction.run(id, () => store.transaction(fn));
      } finally {
        open.delete(id);
        if (holding !== undefined && holding.transaction !== id) release();
      }
    },
    close: () => store.close(),
  } as AsyncStore;
  return { store: wrapped, held };
}
