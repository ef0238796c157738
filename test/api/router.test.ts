import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { HttpError } from '../../src/api/errors.ts';
import { Router } from '../../src/api/router.ts';

const routes = [
  { method: 'GET', path: '/v1/tasks' },
  { method: 'POST', path: '/v1/tasks' },
  { method: 'GET', path: '/v1/tasks/{id}' },
  { method: 'POST', path: '/v1/agents/register' },
  { method: 'POST', path: '/v1/agents/{id}/tasks/{taskId}/report' },
  { method: 'POST', path: '/v1/agents/{id}/pull' },
];

function expectHttpError(fn: () => unknown, status: number): HttpError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof HttpError, `expected HttpError ${status}`);
  assert.equal(caught.status, status);
  return caught;
}

describe('router', () => {
  const router = new Router(routes);

  it('matches a route by method and path, decoding path parameters', () => {
    const match = router.match('POST', '/v1/agents/a%2F1/tasks/t-9/report');
    assert.equal(match.route.path, '/v1/agents/{id}/tasks/{taskId}/report');
    assert.deepEqual(match.params, { id: 'a/1', taskId: 't-9' });
  });

  it('prefers a literal segment over a parameter', () => {
    assert.equal(router.match('POST', '/v1/agents/register').route.path, '/v1/agents/register');
  });

  it('answers 404 for unknown paths, trailing slashes and empty or undecodable parameters', () => {
    for (const path of ['/v1/nope', '/v1/tasks/', '/v1/tasks//', '/v1/tasks/%E0%A4%A', '/']) {
      const err = expectHttpError(() => router.match('GET', path), 404);
      assert.equal(err.code, 'not_found');
    }
  });

  it('answers 405 with the allowed methods when the path exists', () => {
    const err = expectHttpError(() => router.match('DELETE', '/v1/tasks'), 405);
    assert.equal(err.headers.allow, 'GET, POST');
    assert.match(err.message, /^calling DELETE \/v1\/tasks: allowed methods are GET, POST$/);
    assert.equal(expectHttpError(() => router.match('GET', '/v1/agents/register'), 405).headers.allow, 'POST');
  });

  it('refuses a route defined twice', () => {
    assert.throws(
      () => new Router([...routes, { method: 'GET', path: '/v1/tasks' }]),
      /GET \/v1\/tasks is defined twice/,
    );
  });
});
