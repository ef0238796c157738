import assert from 'node:assert/strict';
import { it } from 'mocha';
import { ConflictError, SpillwayError } from '../../../src/core/errors.ts';
import { PRODUCTION_POLICY, type Policy } from '../../../src/core/policy.ts';
import type { BudgetSpec } from '../../../src/cost-model/budget.ts';
import { waitFor } from '../../helpers/wait.ts';
import { T0, newTask, privateAgent } from '../helpers.ts';
import { describeEachEngine, type ContractStore, type Engine } from './engines.ts';

/**
 * Check-then-act paths of the product (a read, a decision, a write, in one transaction) raced by several controllers
 * at once, through the asynchronous port on both engines. SQLite's single writer runs such transactions one after
 * another; on PostgreSQL (READ COMMITTED) the store must lock what the decision read, or two controllers both decide
 * on the same stale read. Each case checks that the outcome is one of the serial ones.
 */
describeEachEngine('store contract: check-then-act races', (engine) => {
  /**
   * `n` controllers. PostgreSQL: a pool each, as separate processes have. SQLite: the one handle a process has (a
   * second connection in this process would wait for the write lock in SQLite's synchronous busy loop, blocking the
   * event loop the first one needs to finish).
   */
  async function controllers(setup: ContractStore, n: number): Promise<ContractStore[]> {
    if (engine().name === 'sqlite') return Array.from({ length: n }, () => setup);
    return Promise.all(Array.from({ length: n }, () => engine().open()));
  }

  /**
   * A gate each of `n` racers passes after its read and before its write: once every racer has read, or waits for a
   * lock another racer holds. So without a lock every racer reads before any writes (the interleaving that loses a
   * change), and with one the racers take turns. SQLite's one handle already runs them one after another.
   */
  function gate(eng: Engine, n: number): () => Promise<void> {
    let arrived = 0;
    return async () => {
      arrived += 1;
      if (eng.name === 'sqlite') return;
      await waitFor('every racer to read or to wait for a lock', async () => arrived + (await eng.lockWaiters()) >= n, {
        intervalMs: 5,
      });
    };
  }

  function retryable(outcome: PromiseSettledResult<unknown>): boolean {
    return outcome.status === 'rejected' && outcome.reason instanceof SpillwayError && outcome.reason.retryable;
  }

  it('keeps both of two policy changes made at once from what each read (a pause during a policy replace)', async () => {
    const setup = await engine().open();
    await setup.policy.seed(PRODUCTION_POLICY, T0);
    const racers = await controllers(setup, 2);
    const pass = gate(engine(), 2);
    // As the API does: POST /v1/pause keeps every field it read, PUT /v1/policy keeps the `paused` it read.
    const changes: { actor: string; change: (p: Policy) => Policy }[] = [
      { actor: 'pauser', change: (p) => ({ ...p, paused: true }) },
      { actor: 'editor', change: (p) => ({ ...PRODUCTION_POLICY, maxProvisionMs: 123_000, paused: p.paused }) },
    ];
    const attempt = (store: ContractStore, i: number): Promise<void> =>
      store.transaction(async () => {
        const policy = await store.policy.get();
        await pass();
        await store.policy.set(changes[i]!.change(policy), changes[i]!.actor, T0 + 1);
      });
    const outcomes = await Promise.allSettled(racers.map(attempt));
    // One may be refused (both read before either wrote: PostgreSQL breaks the wait cycle), retryably; the client
    // sends it again, as it does on a 503.
    assert.ok(
      outcomes.some((o) => o.status === 'fulfilled'),
      JSON.stringify(outcomes),
    );
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.status === 'fulfilled') continue;
      assert.ok(retryable(outcome), String(outcome.reason));
      await attempt(racers[i]!, i);
    }
    assert.deepEqual(await setup.policy.get(), { ...PRODUCTION_POLICY, maxProvisionMs: 123_000, paused: true });
    // Each audited change starts from what the one before it left.
    const entries = (await setup.audit.list()).reverse();
    assert.equal(entries.length, 2);
    const detail = entries.map((e) => e.detail as { before: Policy; after: Policy });
    assert.deepEqual(detail[0]!.before, PRODUCTION_POLICY);
    assert.deepEqual(detail[1]!.before, detail[0]!.after);
  });

  it("lets submissions checking one team's pending quota at once insert only up to it", async () => {
    const setup = await engine().open();
    const maxPendingPerTeam = 2;
    const racers = await controllers(setup, 4);
    const pass = gate(engine(), 4);
    // As POST /v1/tasks does (src/api/admission.ts): count the team's pending tasks, then insert, in one transaction.
    const outcomes = await Promise.allSettled(
      racers.map((store, i) =>
        store.transaction(async () => {
          const pending = await store.tasks.countPending('ml');
          await pass();
          if (pending + 1 > maxPendingPerTeam) return 'refused';
          await store.tasks.insert([newTask({ command: ['echo', String(i)] })], T0);
          return 'accepted';
        }),
      ),
    );
    const accepted = outcomes.filter((o) => o.status === 'fulfilled' && o.value === 'accepted');
    assert.equal(accepted.length, maxPendingPerTeam, JSON.stringify(outcomes));
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 4, JSON.stringify(outcomes));
    assert.equal(await setup.tasks.countPending('ml'), maxPendingPerTeam);
    // Another team's quota is its own.
    await setup.transaction(async () => {
      assert.equal(await setup.tasks.countPending('web'), 0);
      await setup.tasks.insert([newTask({ owner: { team: 'web', project: 'site', job: 'build' } })], T0);
    });
    assert.equal(await setup.tasks.countPending('web'), 1);
  });

  it('never lets a scoped change land on a budget another controller moved out of its scope meanwhile', async () => {
    const setup = await engine().open();
    const gpu: BudgetSpec = {
      name: 'gpu',
      scope: { kind: 'team', team: 'ml' },
      period: 'month',
      capMicros: 100,
      onCap: 'preempt',
    };
    await setup.budgets.set(gpu, 'finance', T0);
    const [scoped, unscoped] = await controllers(setup, 2);
    const pass = gate(engine(), 2);
    // As PUT /v1/budgets/{id} does: read the budget, check the caller's scope on it, then set it.
    const outcomes = await Promise.allSettled([
      scoped!.transaction(async () => {
        const existing = await scoped!.budgets.get('gpu');
        await pass();
        if (existing?.scope.kind !== 'team' || existing.scope.team !== 'ml') return 'not found';
        await scoped!.budgets.set({ ...gpu, capMicros: 200 }, 'ml-finance', T0 + 1);
        return 'set';
      }),
      unscoped!.transaction(async () => {
        const existing = await unscoped!.budgets.get('gpu');
        await pass();
        assert.ok(existing);
        await unscoped!.budgets.set({ ...existing, scope: { kind: 'team', team: 'web' } }, 'finance', T0 + 1);
        return 'set';
      }),
    ]);
    assert.ok(
      outcomes.every((o) => o.status === 'fulfilled'),
      JSON.stringify(outcomes),
    );
    const scopedSet = outcomes[0]!.status === 'fulfilled' && outcomes[0].value === 'set';
    // Serially: the scoped change first (then the move keeps its cap), or the move first (then the scoped one finds
    // no budget of its team and changes nothing).
    const final = await setup.budgets.get('gpu');
    assert.deepEqual(
      { scope: final?.scope, capMicros: final?.capMicros },
      { scope: { kind: 'team', team: 'web' }, capMicros: scopedSet ? 200 : 100 },
    );
    for (const entry of await setup.audit.list()) {
      if (entry.actor !== 'ml-finance') continue;
      assert.deepEqual((entry.detail as { before: BudgetSpec }).before.scope, { kind: 'team', team: 'ml' });
    }
  });

  it("lets a heartbeat requeueing a task and that task's exit report, at once, both settle as one of their orders", async () => {
    const setup = await engine().open();
    const agent = await setup.agents.insert(privateAgent(), T0);
    const [task] = await setup.tasks.insert([newTask()], T0);
    await setup.tasks.place(task!.id, agent.id, T0);
    await setup.tasks.claim(agent.id, T0);
    const [beat, report] = await controllers(setup, 2);
    // As the registry's heartbeat does (src/pool/builtin/registry.ts): record the heartbeat, then requeue a running
    // task the agent no longer reports. Meanwhile the agent's exit report of that task finishes it.
    let heartbeatRecorded: () => void = () => undefined;
    const recorded = new Promise<void>((resolve) => (heartbeatRecorded = resolve));
    const heartbeat = beat!.transaction(async () => {
      await beat!.agents.heartbeat(agent.id, T0 + 1);
      heartbeatRecorded();
      // The exit report is under way and waits for a lock the heartbeat holds.
      if (engine().name !== 'sqlite') {
        await waitFor('the exit report to wait for a lock', async () => (await engine().lockWaiters()) >= 1, {
          intervalMs: 5,
        });
      }
      return beat!.tasks.requeue(task!.id, agent.id, 'returned to pending: the agent does not run it', T0 + 1);
    });
    await recorded;
    const exit = report!.tasks.finish(task!.id, agent.id, { exitCode: 0, outputTail: 'done' }, T0 + 2);
    const [requeued, finished] = await Promise.allSettled([heartbeat, exit]);
    // Neither is refused for the race itself (a lock cycle PostgreSQL breaks by failing one): heartbeat first, the
    // task is pending again and the late exit report changes nothing; exit first, the requeue finds it finished.
    const stored = await setup.tasks.get(task!.id);
    assert.equal(finished.status, 'fulfilled', String(finished.status === 'rejected' && finished.reason));
    if (requeued.status === 'fulfilled') {
      assert.deepEqual({ state: stored?.state, attempts: stored?.attempts }, { state: 'pending', attempts: 1 });
    } else {
      assert.ok(requeued.reason instanceof ConflictError, String(requeued.reason));
      assert.deepEqual({ state: stored?.state, exitCode: stored?.exitCode }, { state: 'succeeded', exitCode: 0 });
    }
  });
});
