/**
 * How the console signs people in and keeps other sites out: one-time links, pasted tokens, the session cookie's
 * flags, the CSRF token and Origin check on every state-changing call, a strict Content-Security-Policy, and a
 * cross-site form post in real Chromium.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'mocha';
import type { BrowserContext } from 'playwright-core';
import { CONSOLE_CSP } from '../../src/console/pages.ts';
import { SESSION_TTL_MS } from '../../src/console/session.ts';
import { hashToken } from '../../src/core/credentials.ts';
import { rawRequest, startApiHarness, type ApiHarness } from '../helpers/api-harness.ts';
import { selfSignedCertificate } from '../helpers/self-signed.ts';
import { launchChromium, type TestBrowser } from './helpers/browser.ts';
import { signInLink, signedIn } from './helpers/fixture.ts';

describe('web console sign-in and cross-site protection', function () {
  this.timeout(60_000);
  let h: ApiHarness;
  let chromium: TestBrowser;
  let contexts: BrowserContext[] = [];
  const newContext = async (): Promise<BrowserContext> => {
    const context = await chromium.browser.newContext();
    contexts.push(context);
    return context;
  };

  before(async () => {
    h = await startApiHarness();
    chromium = await launchChromium();
  });
  after(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    contexts = [];
    await chromium?.close();
    await h?.close();
  });

  /** Opens a sign-in link over raw HTTP; returns the session cookie (`name=value`) and the session's CSRF token. */
  async function session(token: string): Promise<{ cookie: string; csrf: string }> {
    const link = new URL(await signInLink(h.server.url, token));
    const res = await rawRequest(h.server.url, { method: 'GET', path: `${link.pathname}${link.search}` });
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, '/#/pool');
    const setCookie = res.headers['set-cookie']?.[0] ?? '';
    const cookie = setCookie.split(';')[0] ?? '';
    const me = await rawRequest(h.server.url, { method: 'GET', path: '/console/session', headers: { cookie } });
    assert.equal(me.status, 200);
    return { cookie, csrf: (me.json as { csrfToken: string }).csrfToken };
  }

  it('sets an HttpOnly, SameSite=Strict, Path=/ session cookie carrying the role of the token that made the link', async () => {
    const link = new URL(await signInLink(h.server.url, h.tokens.finance));
    const res = await rawRequest(h.server.url, { method: 'GET', path: `${link.pathname}${link.search}` });
    const setCookie = res.headers['set-cookie']?.[0] ?? '';
    assert.match(setCookie, /^spillway_session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=43200; HttpOnly; SameSite=Strict$/);
    // Only the code's and the session's hashes are stored.
    const code = link.searchParams.get('code') ?? '';
    const secret = /=([^;]+)/.exec(setCookie)?.[1] ?? '';
    assert.equal(h.store.console.useCode(hashToken(code), h.clock.now()), undefined, 'the code was used');
    assert.ok(h.store.console.session(hashToken(secret), h.clock.now()));
    const me = await rawRequest(h.server.url, {
      method: 'GET',
      path: '/console/session',
      headers: { cookie: setCookie.split(';')[0] ?? '' },
    });
    assert.equal((me.json as { role: string }).role, 'finance');
  });

  it('refuses a state-changing call of a session without its CSRF token or from another origin; takes it with both', async () => {
    const { cookie, csrf } = await session(h.tokens.admin);
    const pause = (headers: Record<string, string>) =>
      rawRequest(h.server.url, {
        method: 'POST',
        path: '/v1/pause',
        headers: { cookie, 'content-type': 'application/json', ...headers },
        body: '{}',
      });
    const origin = h.server.url;
    const refused = [
      await pause({ origin }),
      await pause({ origin, 'x-csrf-token': 'x'.repeat(43) }),
      await pause({ 'x-csrf-token': csrf }),
      await pause({ origin: 'http://127.0.0.1:1', 'x-csrf-token': csrf }),
      await pause({ origin, 'x-csrf-token': csrf, 'sec-fetch-site': 'cross-site' }),
    ];
    assert.deepEqual(
      refused.map((r) => r.status),
      [403, 403, 403, 403, 403],
    );
    assert.equal(h.store.policy.get().paused, false);
    const ok = await pause({ origin, 'x-csrf-token': csrf, 'sec-fetch-site': 'same-origin' });
    assert.equal(ok.status, 200);
    assert.equal(h.store.policy.get().paused, true);
    h.store.policy.set({ ...h.store.policy.get(), paused: false }, 'test', h.clock.now());
    // Reading needs neither.
    const status = await rawRequest(h.server.url, { method: 'GET', path: '/v1/status', headers: { cookie } });
    assert.equal(status.status, 200);
  });

  it('leaves bearer-token calls as they were: no Origin or CSRF token needed', async () => {
    const res = await rawRequest(h.server.url, {
      method: 'POST',
      path: '/v1/pause',
      headers: { authorization: `Bearer ${h.tokens.admin}`, 'content-type': 'application/json', origin: 'http://elsewhere' },
      body: '{}',
    });
    assert.equal(res.status, 200);
    h.store.policy.set({ ...h.store.policy.get(), paused: false }, 'test', h.clock.now());
  });

  it('ends a session when it expires, and when its token is revoked', async () => {
    const first = await session(h.tokens.submitter);
    const status = (cookie: string) => rawRequest(h.server.url, { method: 'GET', path: '/v1/status', headers: { cookie } });
    assert.equal((await status(first.cookie)).status, 200);
    h.clock.advance(SESSION_TTL_MS);
    assert.equal((await status(first.cookie)).status, 401);

    const doomed = h.createToken('finance', 'doomed');
    const second = await session(doomed);
    assert.equal((await status(second.cookie)).status, 200);
    const record = h.store.tokens.byHash(hashToken(doomed));
    assert.ok(record);
    h.store.tokens.revoke(record.id, h.clock.now());
    assert.equal((await status(second.cookie)).status, 401);
  });

  it('serves the pages with a strict Content-Security-Policy, no inline script, and nothing loaded from elsewhere', async () => {
    const shell = await rawRequest(h.server.url, { method: 'GET', path: '/' });
    assert.equal(shell.headers['content-security-policy'], CONSOLE_CSP);
    assert.match(CONSOLE_CSP, /default-src 'self'/);
    assert.match(CONSOLE_CSP, /script-src 'self';/);
    assert.doesNotMatch(CONSOLE_CSP, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(shell.headers['x-frame-options'], 'DENY');
    for (const path of ['/', '/console/signin']) {
      const page = await rawRequest(h.server.url, { method: 'GET', path });
      assert.doesNotMatch(page.text, /<script(?![^>]*\bsrc=)[^>]*>/, `${path} has an inline script`);
      assert.doesNotMatch(page.text, /\sstyle=|<style/, `${path} has inline style`);
    }
    const { page } = await signedIn(newContext, h.server.url, h.tokens.admin);
    const requested: string[] = [];
    const violations: string[] = [];
    page.on('request', (r) => requested.push(r.url()));
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    await page.reload();
    await page.waitForSelector('main[data-view="pool"] table');
    assert.ok(requested.some((u) => u.endsWith('/console/vendor/preact.mjs')));
    assert.deepEqual(
      requested.filter((u) => !u.startsWith(`${h.server.url}/`)),
      [],
    );
    assert.deepEqual(violations, []);
  });

  it('signs in with a pasted token, and refuses an unknown, revoked or agent token', async () => {
    const page = await (await newContext()).newPage();
    const tryToken = async (token: string) => {
      await page.goto(`${h.server.url}/console/signin`);
      await page.fill('#token', token);
      const [answer] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/console/signin') && r.request().method() === 'POST'),
        page.click('button[type="submit"]'),
      ]);
      return answer.status();
    };
    for (const bad of ['spw_not-a-token', h.tokens.revoked, h.tokens.registration]) {
      assert.equal(await tryToken(bad), 401);
      assert.match(await page.locator('[role="alert"]').innerText(), /not known, was revoked, or is an agent token/);
      assert.equal((await page.context().cookies()).length, 0);
    }
    assert.equal(await tryToken(h.tokens.submitter), 303);
    await page.waitForSelector('main[data-view="pool"]');
    assert.match(await page.locator('[data-session-role]').innerText(), /bob \(submitter\)/);
  });

  it('refuses a cross-site form post: another origin’s page cannot pause launches with the signed-in session', async () => {
    const { context } = await signedIn(newContext, h.server.url, h.tokens.admin);
    // Another origin on the same machine (another port of 127.0.0.1 is the same *site*, so the SameSite=Strict cookie
    // is sent: the Origin and CSRF checks are what must refuse it).
    const evil = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(
        `<!doctype html><html><body><form id="f" method="post" action="${h.server.url}/v1/pause" enctype="text/plain">` +
          `<input name='{"x":"' value='"}'></form><script>document.getElementById('f').submit()</script></body></html>`,
      );
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    try {
      const page = await context.newPage();
      const [answer] = await Promise.all([
        page.waitForResponse((r) => r.url() === `${h.server.url}/v1/pause`),
        page.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`),
      ]);
      const sent = await answer.request().allHeaders();
      assert.match(sent.cookie ?? '', /spillway_session=/, 'the browser sent the session cookie');
      assert.equal(answer.status(), 403);
      assert.equal(h.store.policy.get().paused, false);
    } finally {
      evil.closeAllConnections();
      await new Promise<void>((resolve) => evil.close(() => resolve()));
    }
  });

  it('a page elsewhere cannot sign its visitor in as its own token: the link it opens asks before it signs in', async () => {
    const context = await newContext();
    // Another origin on the same machine makes a link with its own (submitter) token and sends its visitor there.
    const link = await signInLink(h.server.url, h.tokens.submitter);
    const evil = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><html><body><script>location.href = ${JSON.stringify(link)}</script></body></html>`);
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    try {
      const page = await context.newPage();
      const [answer] = await Promise.all([
        page.waitForResponse((r) => r.url() === link),
        page.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`),
      ]);
      assert.equal((await answer.request().allHeaders())['sec-fetch-site'], 'same-site');
      assert.equal(answer.status(), 200);
      await page.waitForSelector('button:has-text("Continue signing in")');
      assert.deepEqual(await context.cookies(h.server.url), [], 'no session was opened');
      // The user who did mean it continues: a same-origin form post signs in.
      await page.click('button:has-text("Continue signing in")');
      await page.waitForSelector('main[data-view="pool"]');
      const [cookie] = await context.cookies(h.server.url);
      assert.equal(cookie?.name, 'spillway_session');
    } finally {
      evil.closeAllConnections();
      await new Promise<void>((resolve) => evil.close(() => resolve()));
    }
  });

  it('marks the session cookie Secure when the server speaks HTTPS', async () => {
    const tls = selfSignedCertificate();
    const secure = await startApiHarness({ tls });
    try {
      const code = await new Promise<string>((resolve, reject) => {
        const req = https.request(
          new URL('/v1/console/codes', secure.server.url),
          {
            method: 'POST',
            ca: tls.cert,
            headers: { authorization: `Bearer ${secure.tokens.admin}`, 'content-type': 'application/json' },
          },
          (r) => {
            let text = '';
            r.on('data', (c: Buffer) => (text += c.toString()));
            r.on('end', () => resolve((JSON.parse(text) as { path: string }).path));
          },
        );
        req.on('error', reject);
        req.end('{}');
      });
      const setCookie = await new Promise<string>((resolve, reject) => {
        https
          .get(new URL(code, secure.server.url), { ca: tls.cert }, (r) => {
            r.resume();
            resolve(r.headers['set-cookie']?.[0] ?? '');
          })
          .on('error', reject);
      });
      assert.match(setCookie, /; HttpOnly; SameSite=Strict; Secure$/);
    } finally {
      await secure.close();
    }
  });
});
