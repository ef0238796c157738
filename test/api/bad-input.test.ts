import assert from 'node:assert/strict';
import { after, before, describe, it } from 'mocha';
import { responseSchemas } from '../../src/api/response-schemas.ts';
import { rawRequest, startApiHarness, type ApiHarness, type RawRequest } from '../helpers/api-harness.ts';
import { dumpSqlite } from '../helpers/sqlite-dump.ts';
import { matrixRoutes, type MatrixRoute } from './bad-input-routes.ts';

const MAX_BODY_BYTES = 64 * 1024;

/** One bad request and what it must get. */
interface Case {
  readonly name: string;
  readonly request: RawRequest;
  readonly status: number;
  readonly message: RegExp;
  readonly field?: string;
}

const CODES: Record<number, string> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

describe('api bad input', () => {
  let h: ApiHarness;
  const routes: MatrixRoute[] = [];

  before(async () => {
    h = await startApiHarness({ maxBodyBytes: MAX_BODY_BYTES });
    routes.push(...(await matrixRoutes(h)));
  });

  after(async () => {
    await h.close();
  });

  function casesOf(route: MatrixRoute): Case[] {
    const auth = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
    const json = { 'content-type': 'application/json' };
    const base = { method: route.method, path: route.path };
    const valid = route.body === undefined ? undefined : JSON.stringify(route.body);
    const withValid = (headers: Record<string, string>): RawRequest => ({
      ...base,
      headers: { ...json, ...headers },
      body: valid,
    });
    const cases: Case[] = [
      {
        name: 'no token',
        request: withValid({}),
        status: 401,
        message: /^authenticating: send an Authorization: Bearer <token> header$/,
      },
      {
        name: 'not a bearer header',
        request: withValid({ authorization: 'Basic YWxpY2U6cHc=' }),
        status: 401,
        message: /not of the form Bearer <token>/,
      },
      {
        name: 'bad token',
        request: withValid(auth('swt_notarealtoken')),
        status: 401,
        message: /^authenticating: the bearer token is not known$/,
      },
      {
        name: 'revoked token',
        request: withValid(auth(h.tokens.revoked)),
        status: 401,
        message: /^authenticating: the bearer token was revoked$/,
      },
      {
        name: 'wrong role',
        request: withValid(auth(route.wrongToken)),
        status: 403,
        message: /may not|only the routes of the agent it was issued to/,
      },
    ];
    if (valid === undefined) {
      for (const [name, query, field, message] of route.fields) {
        cases.push({
          name,
          request: { ...base, path: `${route.path}?${String(query)}`, headers: auth(route.token) },
          status: 400,
          message,
          field,
        });
      }
      return cases;
    }
    const authed = { ...json, ...auth(route.token) };
    const padding = 'x'.repeat(MAX_BODY_BYTES);
    const oversized = JSON.stringify({ ...(route.body as object), padding });
    cases.push(
      {
        name: 'malformed JSON',
        request: { ...base, headers: authed, body: '{"tasks": [' },
        status: 400,
        message: /^body: not valid JSON \(.+\)$/,
        field: 'body',
      },
      {
        name: 'oversized body',
        request: { ...base, headers: authed, body: oversized },
        status: 413,
        message: /^reading the body: it is \d+ bytes, over the limit of 65536$/,
      },
      {
        name: 'oversized chunked body',
        request: { ...base, headers: authed, body: oversized, chunked: true },
        status: 413,
        message: /^reading the body: it passed the limit of 65536 bytes$/,
      },
      {
        name: 'not JSON',
        request: { ...base, headers: { ...authed, 'content-type': 'text/plain' }, body: valid },
        status: 415,
        message: /^reading the body: send it as application\/json in UTF-8; got "text\/plain"$/,
      },
      {
        name: 'no content type',
        request: { ...base, headers: auth(route.token), body: valid },
        status: 415,
        message: /no Content-Type was given/,
      },
      {
        name: 'another charset',
        request: { ...base, headers: { ...authed, 'content-type': 'application/json; charset=latin1' }, body: valid },
        status: 415,
        message: /got charset "latin1"/,
      },
    );
    if (
      route.body !== undefined &&
      !(route.body && typeof route.body === 'object' && Object.keys(route.body).length === 0)
    ) {
      cases.push({
        name: 'no body',
        request: { ...base, headers: authed },
        status: 400,
        message: /^\(body\): .*expected object, received undefined$/,
        field: '(body)',
      });
    }
    for (const [name, body, field, message] of route.fields) {
      cases.push({
        name,
        request: { ...base, headers: authed, body: JSON.stringify(body) },
        status: 400,
        message: new RegExp(`^${escape(field)}: .*${message.source.replace(/^\^/, '')}`),
        field,
      });
    }
    return cases;
  }

  it('answers every bad request with the right 4xx naming the problem, and changes nothing in the store', async function () {
    let checked = 0;
    const failures: string[] = [];
    for (const route of routes) {
      for (const c of casesOf(route)) {
        const before = dumpSqlite(h.dbPath);
        const res = await rawRequest(h.server.url, c.request);
        const label = `${route.method} ${route.path} [${c.name}]`;
        const body = res.json as { error?: { code: string; message: string; field?: string } } | undefined;
        try {
          assert.equal(res.status, c.status, `${label}: status (${res.text})`);
          responseSchemas.Error.parse(body);
          assert.equal(body?.error?.code, CODES[c.status], `${label}: code`);
          assert.match(
            body?.error?.message ?? '',
            c.message,
            `${label}: message ${JSON.stringify(body?.error?.message)}`,
          );
          if (c.field !== undefined) assert.equal(body?.error?.field, c.field, `${label}: field`);
          assert.deepEqual(dumpSqlite(h.dbPath), before, `${label}: the store changed`);
        } catch (err) {
          failures.push((err as Error).message);
        }
        checked += 1;
      }
    }
    assert.deepEqual(failures, []);
    assert.ok(checked > 150, `checked ${checked} cases`);
  });

  it('still accepts each route’s valid request afterwards (the matrix cases differ from it in one thing only)', async () => {
    for (const route of routes.filter((r) => r.body !== undefined)) {
      const res = await rawRequest(h.server.url, {
        method: route.method,
        path: route.path,
        headers: { authorization: `Bearer ${route.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(route.body),
      });
      if (typeof (res.json as { token?: unknown })?.token === 'string')
        h.secrets.push((res.json as { token: string }).token);
      assert.ok(res.status < 300, `${route.method} ${route.path}: ${res.status} ${res.text}`);
    }
  });

  it('logs one line per request without headers, bodies or any token or bootstrap credential', () => {
    const lines = h.logs.lines().filter((l) => l.message === 'handled request');
    assert.ok(lines.length > 150);
    for (const line of lines) {
      assert.deepEqual(Object.keys(line).sort(), [
        'durationMs',
        'level',
        'message',
        'method',
        'route',
        'status',
        'timestamp',
      ]);
    }
    const text = h.logs.text();
    assert.ok(h.secrets.length >= 8);
    for (const secret of h.secrets) assert.ok(!text.includes(secret), 'a secret was logged');
    assert.doesNotMatch(text, /swt_|swb_|authorization|bearer/i);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
