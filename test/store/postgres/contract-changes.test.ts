import assert from 'node:assert/strict';
import { beforeEach, it } from 'mocha';
import type { AsyncChangeRepo } from '../../../src/store/postgres/change-repo.ts';
import type { ModelRows } from '../../../src/store/store.ts';
import { T0, launchIntent, newTask, privateAgent, terminateIntent } from '../helpers.ts';
import { describeEachEngine, type ContractStore } from './engines.ts';

/**
 * ChangeRepo's contract (the in-memory model's reads) through the asynchronous port, on both engines. Revisions are
 * compared only with each other: SQLite counts stamped rows, PostgreSQL answers transaction-id watermarks, and the
 * contract is the same either way (an answer's `rev` passed to `since` brings exactly what was written after it).
 */
describeEachEngine('store contract: the change feed', (engine) => {
  let store: ContractStore;
  let changes: AsyncChangeRepo;

  beforeEach(async () => {
    ({ store, changes } = await engine().openWithFeed());
  });

  /**
   * No rows, at a revision no lower than `rev`. Not necessarily `rev` itself: on PostgreSQL any transaction that ends
   * anywhere on the server (another database's, a background ANALYZE's) moves the watermark on.
   */
  function nothingNew(answer: object, rev: number): void {
    const { rev: answered, more, ...rows } = answer as { rev: number; more?: boolean } & Record<string, unknown[]>;
    assert.ok(answered >= rev, `revision ${answered} is below ${rev}`);
    assert.notEqual(more, true);
    for (const [table, list] of Object.entries(rows)) assert.deepEqual(list, [], `no ${table} written since`);
  }

  const ids = (rows: ModelRows): Record<'agents' | 'tasks' | 'intents', string[]> => ({
    agents: rows.agents.map((a) => a.row.id).sort(),
    tasks: rows.tasks.map((t) => t.row.id).sort(),
    intents: rows.intents.map((i) => i.row.id).sort(),
  });

  it('loads live agents, active task headers and open intents, and nothing finished', async () => {
    const live = await store.agents.insert(privateAgent({ name: 'live' }), T0);
    const gone = await store.agents.insert(privateAgent({ name: 'gone' }), T0);
    await store.agents.setState(gone.id, 'terminated', 'retired', T0 + 1);
    const [pending, placed, cancelled] = await store.tasks.insert([newTask(), newTask(), newTask()], T0);
    await store.tasks.place(placed!.id, live.id, T0 + 2);
    await store.tasks.cancel(cancelled!.id, 'not needed', T0 + 3);
    const open = launchIntent();
    const failed = terminateIntent();
    await store.intents.insert(open);
    await store.intents.insert(failed);
    await store.intents.fail(failed.id, 'gave up', T0 + 4);

    const rows = await changes.current();
    assert.deepEqual(ids(rows), {
      agents: [live.id],
      tasks: [pending!.id, placed!.id].sort(),
      intents: [open.id],
    });
    const header = rows.tasks.find((t) => t.row.id === placed!.id)!.row;
    assert.equal(header.state, 'placed');
    assert.equal(header.agentId, live.id);
    assert.ok(!('command' in header), 'a header carries no payload');
    assert.equal(rows.agents[0]!.row.name, 'live');
    assert.ok(!('allocated' in rows.agents[0]!.row), 'an agent record carries no allocation');
    assert.equal(rows.intents[0]!.row.reason, open.reason);
  });

  it('answers nothing new at the revision it gave, then exactly the rows written since, in their new state', async () => {
    const agent = await store.agents.insert(privateAgent(), T0);
    const [a, b] = await store.tasks.insert([newTask(), newTask()], T0);
    const start = await changes.current();
    nothingNew(await changes.since(start.rev), start.rev);

    await store.tasks.noteWaiting([{ taskId: b!.id, reason: 'no room' }]);
    await store.agents.setState(agent.id, 'terminated', 'retired', T0 + 1);
    const page = await changes.since(start.rev);
    assert.ok(page.rev > start.rev);
    assert.equal(page.more, false);
    assert.deepEqual(
      page.tasks.map((t) => [t.row.id, t.row.reason]),
      [[b!.id, 'no room']],
    );
    // A terminated agent still comes, so the reader can drop it.
    assert.deepEqual(
      page.agents.map((x) => [x.row.id, x.row.state]),
      [[agent.id, 'terminated']],
    );
    nothingNew(await changes.since(page.rev), page.rev);
    assert.notEqual(a!.id, b!.id);
  });

  it('brings a finished task and a done intent once, and ignores a write to a task payload alone', async () => {
    const agent = await store.agents.insert(privateAgent(), T0);
    const [task] = await store.tasks.insert([newTask()], T0);
    await store.tasks.place(task!.id, agent.id, T0 + 1);
    const claimed = await store.tasks.claim(agent.id, T0 + 2);
    assert.deepEqual(
      claimed.map((t) => t.id),
      [task!.id],
    );
    const intent = launchIntent({ count: 1 });
    await store.intents.insert(intent);
    const before = await changes.revision();

    await store.tasks.recordOutput(task!.id, agent.id, 'epoch 1 done');
    assert.deepEqual((await changes.since(before)).tasks, [], 'an output tail is payload, not a header');

    await store.tasks.finish(task!.id, agent.id, { exitCode: 0, outputTail: 'done' }, T0 + 3);
    await store.intents.completeLaunch(intent.id, ['i-1'], T0 + 4);
    const page = await changes.since(before);
    assert.deepEqual(
      page.tasks.map((t) => [t.row.id, t.row.state]),
      [[task!.id, 'succeeded']],
    );
    assert.deepEqual(
      page.intents.map((i) => [i.row.id, i.row.state]),
      [[intent.id, 'done']],
    );
    // The launch recorded its cloud agent, and the finished task marked its private agent idle.
    assert.deepEqual(page.agents.map((x) => x.row.instanceId ?? x.row.id).sort(), [agent.id, 'i-1'].sort());
  });

  it('pages by its limit in write order, one write per transaction, and the pages add up to the whole', async () => {
    const tasks = await store.tasks.insert(
      Array.from({ length: 5 }, () => newTask()),
      T0,
    );
    const start = await changes.revision();
    // Written in this order, one transaction each: the pages must follow it, not the insert order.
    const order = [3, 0, 4, 1, 2].map((i) => tasks[i]!.id);
    for (const id of order) await store.tasks.noteWaiting([{ taskId: id, reason: `waits ${id}` }]);

    const first = await changes.since(start, 2);
    assert.deepEqual(
      first.tasks.map((t) => t.row.id),
      order.slice(0, 2),
    );
    assert.equal(first.more, true);
    const second = await changes.since(first.rev, 2);
    assert.deepEqual(
      second.tasks.map((t) => t.row.id),
      order.slice(2, 4),
    );
    assert.equal(second.more, true);
    const third = await changes.since(second.rev, 2);
    assert.deepEqual(
      third.tasks.map((t) => t.row.id),
      order.slice(4),
    );
    assert.equal(third.more, false);
    assert.deepEqual(
      (await changes.since(start)).tasks.map((t) => t.row.id),
      order,
    );
    assert.ok(third.rev <= (await changes.revision()));
  });

  it('pages several tables at once without losing a row of either, whatever the page size', async () => {
    const agents = [];
    for (let i = 0; i < 3; i++) agents.push(await store.agents.insert(privateAgent({ name: `rack-${i}` }), T0));
    const tasks = await store.tasks.insert(
      Array.from({ length: 4 }, () => newTask()),
      T0,
    );
    const start = await changes.revision();
    // One transaction each; the last write to each row is the state the pages must end with.
    const expected = new Map<string, string>();
    // Runs of one table's writes, so a page of one table can end below rows the other table's page leaves out.
    const order = ['agent 0', 'agent 1', 'task 0', 'task 1', 'task 2', 'agent 2', 'task 3'];
    for (const [n, step] of order.entries()) {
      const [table, index] = step.split(' ') as ['agent' | 'task', string];
      if (table === 'task') {
        const task = tasks[Number(index)]!;
        await store.tasks.noteWaiting([{ taskId: task.id, reason: `write ${n}` }]);
        expected.set(task.id, `write ${n}`);
      } else {
        const agent = agents[Number(index)]!;
        await store.agents.heartbeat(agent.id, T0 + 1_000 * (n + 1));
        expected.set(agent.id, String(T0 + 1_000 * (n + 1)));
      }
    }
    for (const limit of [1, 2, 3, undefined]) {
      const seen = new Map<string, string>();
      let rev = start;
      let pages = 0;
      for (let more = true; more; pages++) {
        const page = await changes.since(rev, limit);
        for (const t of page.tasks) seen.set(t.row.id, t.row.reason);
        for (const a of page.agents) seen.set(a.row.id, String(a.row.lastHeartbeatMs));
        assert.ok(page.rev >= rev);
        rev = page.rev;
        more = page.more;
        assert.ok(pages < 20, 'the pages end');
      }
      assert.deepEqual(seen, expected, `pages of ${limit ?? 'any'} rows`);
      assert.ok(rev <= (await changes.revision()));
    }
  });

  it('loads in slices of record order that add up to `current`, and `since` the start catches up what changed', async () => {
    const agents = [];
    for (let i = 0; i < 3; i++) agents.push(await store.agents.insert(privateAgent({ name: `rack-${i}` }), T0));
    const tasks = await store.tasks.insert(
      Array.from({ length: 7 }, () => newTask()),
      T0,
    );
    const start = await changes.revision();
    const seen = new Map<string, string>();
    let slices = 0;
    for (let after = 0, more = true; more; after += 4) {
      const slice = await changes.currentSlice(after, 4);
      for (const t of slice.tasks) seen.set(t.row.id, t.row.reason);
      for (const a of slice.agents) seen.set(a.row.id, a.row.state);
      more = slice.more;
      slices += 1;
      // Written between slices: the catch-up below must bring it.
      if (slices === 1) await store.tasks.noteWaiting([{ taskId: tasks[0]!.id, reason: 'changed mid-load' }]);
    }
    assert.ok(slices >= 2, `read in ${slices} slices`);
    const catchUp = await changes.since(start);
    for (const t of catchUp.tasks) seen.set(t.row.id, t.row.reason);
    const expected = new Map<string, string>([
      ...agents.map((a): [string, string] => [a.id, 'registered']),
      ...tasks.map((t): [string, string] => [t.id, '']),
    ]);
    expected.set(tasks[0]!.id, 'changed mid-load');
    assert.deepEqual(seen, expected);
    const whole = await changes.current();
    assert.deepEqual(ids(whole).tasks, tasks.map((t) => t.id).sort());
    // Record order: an agent recorded earlier has the lower seq.
    const seqs = agents.map((a) => whole.agents.find((x) => x.row.id === a.id)!.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((x, y) => x - y),
    );
  });

  it('reads the ledger window, then only the intervals written since', async () => {
    const intent = launchIntent({ count: 2 });
    await store.intents.insert(intent);
    await store.intents.completeLaunch(intent.id, ['i-1', 'i-2'], T0 + 1_000);
    const window = await changes.ledgerOverlapping(T0, Number.MAX_SAFE_INTEGER);
    assert.deepEqual(window.agents.map((a) => a.row.instanceId).sort(), ['i-1', 'i-2']);
    assert.deepEqual(window.usage, []);
    nothingNew(await changes.ledgerSince(window.rev), window.rev);

    const launched = (await store.agents.byInstance(intent.providerId, 'i-2'))!;
    const agent = await store.agents.register(launched.id, { capacity: launched.capacity, labels: {} }, T0 + 1_500);
    const [task] = await store.tasks.insert([newTask()], T0);
    await store.tasks.place(task!.id, agent.id, T0 + 2_000);
    await store.tasks.claim(agent.id, T0 + 3_000);
    const terminate = terminateIntent({ instanceIds: ['i-1'] });
    await store.intents.insert(terminate);
    await store.intents.completeTerminate(terminate, T0 + 4_000);
    const since = await changes.ledgerSince(window.rev);
    assert.ok(since.rev > window.rev);
    // The terminated agent's interval closed; the task's run on the other opened.
    assert.deepEqual(
      since.agents.map((a) => [a.row.instanceId, a.row.endMs]),
      [['i-1', T0 + 4_000]],
    );
    assert.deepEqual(
      since.usage.map((u) => [u.taskId, u.agentId, u.endMs]),
      [[task!.id, agent.id, null]],
    );
    nothingNew(await changes.ledgerSince(since.rev), since.rev);
  });

  it('sees, from a second handle, what the first one wrote', async () => {
    const other = await engine().openWithFeed();
    const start = await other.changes.revision();
    const [task] = await store.tasks.insert([newTask()], T0);
    const page = await other.changes.since(start);
    assert.deepEqual(
      page.tasks.map((t) => t.row.id),
      [task!.id],
    );
    assert.ok(page.rev <= (await changes.revision()));
  });
});
