import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { BrowserContext, Page } from 'playwright-core';
import { hashToken, newApiToken } from '../../../src/core/credentials.ts';
import { newId, newIntentId } from '../../../src/core/ids.ts';
import type { Owner } from '../../../src/core/owner.ts';
import { resources } from '../../../src/core/resources.ts';
import { privateAgent } from '../../store/helpers.ts';
import type { TeamScope } from '../../../src/core/team-scope.ts';
import type { Role } from '../../../src/store/store.ts';
import { launchIntent, offering } from '../../fakes/builders.ts';
import { PROVIDER_ID, type ApiHarness } from '../../helpers/api-harness.ts';

export const REPO = resolve(import.meta.dirname, '../../..');
const CLI = join(REPO, 'src/cli/main.ts');
const run = promisify(execFile);

export const REASON_ROOM = 'waits for local.small being launched';
export const REASON_LIMIT = 'burst limit reached (total maxInstances=2)';

/** What `seed` made: task ids by what they are. */
export interface Seed {
  readonly pendingVision: readonly string[];
  readonly pendingMl: readonly string[];
  readonly runningVision: string;
  readonly runningMl: string;
  /** When the cloud agents started costing. */
  readonly startedAtMs: number;
}

/** A token straight in the store, as `spillway token create` makes one. */
export function makeToken(h: ApiHarness, role: Role, name: string, scope?: TeamScope): string {
  const secret = newApiToken();
  h.store.tokens.create(
    { id: newId('tok'), role, name, agentId: null, createdAtMs: h.clock.now(), ...(scope && { scope }) },
    hashToken(secret),
  );
  h.secrets.push(secret);
  return secret;
}

/**
 * A small pool with work in it: a private agent at site `lab`, one cloud agent launched for team vision and one for
 * ml ($0.50 an hour each), a terminate decision, one running task per team, pending tasks of both teams with stored
 * reasons, two budgets; then half an hour passes, so the cloud has cost something.
 */
export function seed(h: ApiHarness): Seed {
  const { store, clock } = h;
  const startedAtMs = clock.now();
  store.agents.insert(
    privateAgent({
      name: 'lab-1',
      location: { kind: 'private', site: 'lab' },
      capacity: resources({ cpuMillis: 4000, memoryMiB: 8192 }),
      labels: {},
    }),
    clock.now(),
  );
  const cloudAgentFor = (team: string, instanceId: string): string => {
    const o = offering({ providerId: PROVIDER_ID, pricePerHourMicros: 500_000 });
    const owner: Owner = { team, project: `${team}-p`, job: 'train' };
    const intent = launchIntent(o, {
      id: newIntentId(),
      count: 1,
      owners: [{ owner, share: 1 }],
      reason: `2 task(s) of ${team} waited over 3 s with no room: the cheapest allowed fit`,
      createdAtMs: clock.now(),
      updatedAtMs: clock.now(),
    });
    store.intents.insert(intent);
    store.intents.completeLaunch(intent.id, [instanceId], clock.now());
    const agent = store.agents.byInstance(PROVIDER_ID, instanceId);
    assert.ok(agent);
    store.agents.register(
      agent.id,
      { capacity: resources({ cpuMillis: 2000, memoryMiB: 4096 }), labels: {} },
      clock.now(),
    );
    return agent.id;
  };
  const visionAgent = cloudAgentFor('vision', 'li-vision-1');
  const mlAgent = cloudAgentFor('ml', 'li-ml-1');
  store.intents.insert({
    id: newIntentId(),
    kind: 'terminate',
    providerId: PROVIDER_ID,
    instanceIds: ['li-old-1'],
    reason: 'idle for 15 s (idleTtlMs 15000)',
    state: 'pending',
    createdAtMs: clock.now() + 1,
    updatedAtMs: clock.now() + 1,
    attempts: 0,
    error: '',
  });
  const insert = (team: string, count: number): string[] =>
    store.tasks
      .insert(
        Array.from({ length: count }, (_, i) => ({
          owner: { team, project: `${team}-p`, job: `job-${i}` },
          resources: resources({ cpuMillis: 1000, memoryMiB: 512 }),
          priority: 0,
          revocable: false,
          constraints: {},
          command: ['sleep', '20'],
        })),
        clock.now(),
      )
      .map((t) => t.id);
  const [runningVision = ''] = insert('vision', 1);
  const [runningMl = ''] = insert('ml', 1);
  store.tasks.place(runningVision, visionAgent, clock.now());
  store.tasks.claim(visionAgent, clock.now());
  store.tasks.place(runningMl, mlAgent, clock.now());
  store.tasks.claim(mlAgent, clock.now());
  const pendingVision = insert('vision', 4);
  const pendingMl = insert('ml', 2);
  store.tasks.noteWaiting([
    ...pendingVision.slice(0, 3).map((taskId) => ({ taskId, reason: REASON_ROOM })),
    { taskId: pendingVision[3] ?? '', reason: REASON_LIMIT },
    ...pendingMl.map((taskId) => ({ taskId, reason: REASON_LIMIT })),
  ]);
  store.budgets.set(
    {
      name: 'vision-day',
      scope: { kind: 'team', team: 'vision' },
      period: 'day',
      capMicros: 5_000_000,
      onCap: 'finish',
    },
    'test',
    clock.now(),
  );
  store.budgets.set(
    { name: 'all-month', scope: { kind: 'global' }, period: 'month', capMicros: 100_000_000, onCap: 'preempt' },
    'test',
    clock.now(),
  );
  clock.advance(30 * 60_000);
  return { pendingVision, pendingMl, runningVision, runningMl, startedAtMs };
}

/** Runs `spillway console` against the server with `token` and returns the link it printed. */
export async function consoleLink(url: string, token: string): Promise<string> {
  const home = mkdtempSync(join(tmpdir(), 'spillway-console-cli-'));
  try {
    const { stdout } = await run(process.execPath, [CLI, 'console', '--url', url], {
      env: { ...process.env, SPILLWAY_TOKEN: token, SPILLWAY_HOME: home },
      cwd: home,
    });
    const link = /^(http\S+\/console\/signin\?code=\S+)$/m.exec(stdout)?.[1];
    assert.ok(link, `spillway console printed no link: ${stdout}`);
    return link;
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** A sign-in link made through the API route `spillway console` calls (faster than starting the CLI each time). */
export async function signInLink(url: string, token: string): Promise<string> {
  const res = await fetch(`${url}/v1/console/codes`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: '{}',
  });
  assert.equal(res.status, 201);
  const { path } = (await res.json()) as { path: string };
  return new URL(path, url).toString();
}

/** A fresh browser context (its own cookies) signed in with `token`, on the Pool view. */
export async function signedIn(
  contextOf: () => Promise<BrowserContext>,
  url: string,
  token: string,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await contextOf();
  const page = await context.newPage();
  const answer = await page.goto(await signInLink(url, token));
  assert.equal(answer?.status(), 200);
  await page.waitForSelector('main[data-view="pool"]');
  return { context, page };
}

/** Reads the API with a bearer token: the test's own view of what the console must show. */
export async function apiGet<T>(url: string, token: string, path: string): Promise<T> {
  const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200, `GET ${path}: ${res.status}`);
  return (await res.json()) as T;
}

/** `$1,234.5` -> 1234.5. */
export function dollars(text: string | null): number {
  return Number((text ?? '').replace(/[^0-9.-]/g, ''));
}
