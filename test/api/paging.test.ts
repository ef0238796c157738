import assert from 'node:assert/strict';
import { after, before, describe, it } from 'mocha';
import { resources } from '../../src/core/resources.ts';
import { expectApiError, startApiHarness, type ApiHarness } from '../helpers/api-harness.ts';

interface Page {
  readonly next: string | null;
  readonly [key: string]: unknown;
}

/** Every list route pages: `limit` (default 100, at most 1,000) and the opaque `cursor` of the previous page's `next`. */
describe('api paging', () => {
  let h: ApiHarness;
  before(async () => {
    h = await startApiHarness();
  });
  after(async () => {
    await h.close();
  });

  /** Follows `next` from the first page of `path` at `limit` a page; returns the ids of every page in order. */
  async function walk(
    path: string,
    key: string,
    limit: number,
    idOf: (item: never) => string | number,
  ): Promise<(string | number)[][]> {
    const client = h.client(h.tokens.admin);
    const pages: (string | number)[][] = [];
    let cursor: string | null = null;
    const sep = path.includes('?') ? '&' : '?';
    do {
      const page: Page = await client.get<Page>(
        `${path}${sep}limit=${limit}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
      );
      pages.push((page[key] as never[]).map(idOf));
      cursor = page.next;
      assert.ok(pages.length < 1_000, 'the pages end');
    } while (cursor !== null);
    return pages;
  }

  function insertTasks(team: string, count: number): void {
    h.store.tasks.insert(
      Array.from({ length: count }, () => ({
        owner: { team, project: 'p', job: 'j' },
        resources: resources({ cpuMillis: 100, memoryMiB: 64 }),
        priority: 0,
        revocable: false,
        constraints: {},
        command: ['true'],
      })),
      h.clock.now(),
    );
  }

  it('pages tasks newest first, each exactly once, across equal creation times, with a default of 100', async () => {
    for (const size of [150, 7, 93]) {
      insertTasks('pg', size);
      h.clock.advance(10);
    }
    const expected = h.store.tasks.list({ team: 'pg' }).map((t) => t.id);
    const pages = await walk('/v1/tasks?team=pg', 'tasks', 40, (t: { id: string }) => t.id);
    assert.deepEqual(
      pages.map((p) => p.length),
      [40, 40, 40, 40, 40, 40, 10],
    );
    assert.deepEqual(pages.flat(), expected);
    const first = await h.client(h.tokens.admin).get<{ tasks: unknown[]; next: string | null }>('/v1/tasks?team=pg');
    assert.equal(first.tasks.length, 100);
    assert.equal(typeof first.next, 'string');
  });

  it('does not repeat or skip a task when newer ones arrive between pages', async () => {
    insertTasks('pg2', 30);
    h.clock.advance(10);
    const expected = h.store.tasks.list({ team: 'pg2' }).map((t) => t.id);
    const client = h.client(h.tokens.admin);
    const one = await client.get<{ tasks: { id: string }[]; next: string }>('/v1/tasks?team=pg2&limit=10');
    insertTasks('pg2', 5);
    const two = await client.get<{ tasks: { id: string }[]; next: string | null }>(
      `/v1/tasks?team=pg2&limit=100&cursor=${one.next}`,
    );
    assert.deepEqual(
      [...one.tasks, ...two.tasks].map((t) => t.id),
      expected,
    );
    assert.equal(two.next, null);
  });

  it('pages agents in record order, with a state filter', async () => {
    for (let i = 0; i < 25; i++) {
      const agent = await h
        .client(h.tokens.registration)
        .post<{ agentId: string; token: string }>('/v1/agents/register', {
          protocolVersion: 1,
          name: `n${i}`,
          capacity: { cpuMillis: 1000, memoryMiB: 1024, gpus: 0, netMbps: 0 },
          labels: {},
        });
      h.secrets.push(agent.token);
      if (i % 3 === 0) h.store.agents.setState(agent.agentId, 'draining', 'test', h.clock.now());
    }
    const all = await walk('/v1/agents', 'agents', 7, (a: { id: string }) => a.id);
    assert.deepEqual(
      all.flat(),
      h.store.agents.list().map((a) => a.id),
    );
    assert.deepEqual(
      all.map((p) => p.length),
      [7, 7, 7, 4],
    );
    const draining = await walk('/v1/agents?state=draining', 'agents', 4, (a: { id: string }) => a.id);
    assert.deepEqual(
      draining.flat(),
      h.store.agents.list({ states: ['draining'] }).map((a) => a.id),
    );
    assert.equal(draining.flat().length, 9);
  });

  it('pages the audit log, tokens, budgets and budget alerts', async () => {
    for (let i = 0; i < 11; i++) {
      await h.client(h.tokens.admin).post('/v1/tokens', { role: 'submitter', name: `s${i}` });
      h.store.budgets.set(
        {
          name: `b${String(i).padStart(2, '0')}`,
          scope: { kind: 'global' },
          period: 'day',
          capMicros: 1,
          onCap: 'finish',
        },
        'test',
        h.clock.now(),
      );
      const budget = h.store.budgets.get(`b${String(i).padStart(2, '0')}`);
      assert.ok(budget);
      h.store.budgets.recordAlert({
        budgetId: budget.id,
        budgetName: budget.name,
        scope: budget.scope,
        period: budget.period,
        periodStartMs: 0,
        percent: 50,
        spentMicros: 1,
        capMicros: 1,
        atMs: h.clock.now(),
      });
    }
    const audit = await walk('/v1/audit', 'entries', 4, (e: { id: number }) => e.id);
    assert.deepEqual(
      audit.flat(),
      h.store.audit.list().map((e) => e.id),
    );
    const tokens = await walk('/v1/tokens', 'tokens', 4, (t: { id: string }) => t.id);
    assert.deepEqual(
      tokens.flat(),
      h.store.tokens.list().map((t) => t.id),
    );
    const budgets = await walk('/v1/budgets', 'budgets', 4, (b: { name: string }) => b.name);
    assert.deepEqual(
      budgets.flat(),
      h.store.budgets.list().map((b) => b.name),
    );
    const alerts = await walk('/v1/budgets/alerts', 'alerts', 4, (a: { id: number }) => a.id);
    assert.deepEqual(
      alerts.flat(),
      h.store.budgets.alerts().map((a) => a.id),
    );
    assert.equal(alerts.flat().length, 11);
  });

  it('refuses a page size over 1,000 or under 1, and a cursor that is not one of this list', async () => {
    const client = h.client(h.tokens.admin);
    await expectApiError(client.get('/v1/tasks?limit=1001'), 400, /query\.limit/, 'query.limit');
    await expectApiError(client.get('/v1/agents?limit=0'), 400, /query\.limit/, 'query.limit');
    await expectApiError(client.get('/v1/tasks?cursor=garbage'), 400, /not a cursor of this list/, 'query.cursor');
    const tasks = await client.get<{ next: string }>('/v1/tasks?limit=1');
    await expectApiError(client.get(`/v1/agents?cursor=${tasks.next}`), 400, /not a cursor/, 'query.cursor');
    await expectApiError(client.get(`/v1/audit?cursor=${tasks.next}`), 400, /not a cursor/, 'query.cursor');
    // A forged cursor of the right list but a position before its start (slice would count from the end).
    const forged = Buffer.from(JSON.stringify(['budgets', -1])).toString('base64url');
    await expectApiError(client.get(`/v1/budgets?cursor=${forged}`), 400, /not a cursor/, 'query.cursor');
    const forgedTokens = Buffer.from(JSON.stringify(['tokens', -2])).toString('base64url');
    await expectApiError(client.get(`/v1/tokens?cursor=${forgedTokens}`), 400, /not a cursor/, 'query.cursor');
    const thousand = await client.get<{ tasks: unknown[] }>('/v1/tasks?limit=1000');
    assert.equal(thousand.tasks.length, Math.min(1_000, h.store.tasks.list().length));
  });
});
