import assert from 'node:assert/strict';
import { after, before, describe, it } from 'mocha';
import type { Health } from '../../src/api/types.ts';
import { responseSchemas } from '../../src/api/response-schemas.ts';
import { rawRequest, startApiHarness, type ApiHarness } from '../helpers/api-harness.ts';

/** Every route of src/api/types.ts, as `METHOD path`. */
const ROUTES = [
  'GET /healthz',
  'GET /metrics',
  'GET /v1/openapi.json',
  'POST /v1/tasks',
  'GET /v1/tasks',
  'GET /v1/tasks/{id}',
  'POST /v1/tasks/{id}/cancel',
  'GET /v1/agents',
  'GET /v1/agents/{id}/slurm/munge-key',
  'GET /v1/status',
  'GET /v1/policy',
  'PUT /v1/policy',
  'POST /v1/pause',
  'POST /v1/providers/{name}/retry',
  'POST /v1/resume',
  'GET /v1/audit',
  'POST /v1/tokens',
  'GET /v1/tokens',
  'DELETE /v1/tokens/{id}',
  'GET /v1/budgets',
  'GET /v1/budgets/alerts',
  'GET /v1/budgets/{id}',
  'PUT /v1/budgets/{id}',
  'DELETE /v1/budgets/{id}',
  'GET /v1/reports/chargeback',
  'POST /v1/agents/register',
  'POST /v1/agents/{id}/heartbeat',
  'POST /v1/agents/{id}/pull',
  'POST /v1/agents/{id}/tasks/{taskId}/report',
  'POST /v1/agents/{id}/leave',
  'POST /v1/console/codes',
  'GET /v1/decisions',
  'GET /v1/history/pool',
  'GET /v1/history/spend',
  'GET /v1/budgets/forecasts',
  'GET /v1/tasks/{id}/runs',
];

describe('api service routes', () => {
  let h: ApiHarness;
  before(async () => {
    h = await startApiHarness();
  });
  after(async () => {
    await h.close();
  });

  it('answers /healthz without a token, with leadership and version', async () => {
    const health = await h.client().get<Health>('/healthz');
    assert.deepEqual(health, { ok: true, leader: true, version: '9.9.9-test' });
  });

  it('serves Prometheus metrics with request counts by route template, not raw path', async () => {
    await h
      .client(h.tokens.submitter)
      .get('/v1/tasks/t-unknown')
      .catch(() => undefined);
    h.metrics.pendingTasks.set(7);
    h.metrics.launches.inc({ provider: 'local:test', outcome: 'launched' });
    const res = await rawRequest(h.server.url, { method: 'GET', path: '/metrics' });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    assert.match(res.text, /spillway_http_requests_total\{method="GET",route="\/v1\/tasks\/\{id\}",status="404"\} 1/);
    assert.doesNotMatch(res.text, /t-unknown/);
    assert.match(res.text, /spillway_http_request_duration_seconds_bucket/);
    assert.match(res.text, /spillway_pending_tasks 7/);
    assert.match(res.text, /spillway_launches_total\{provider="local:test",outcome="launched"\} 1/);
    for (const name of [
      'spillway_agents',
      'spillway_cloud_spend_per_hour_usd',
      'spillway_terminations_total',
      'spillway_decisions_total',
    ]) {
      assert.match(res.text, new RegExp(`# TYPE ${name} `));
    }
  });

  it('publishes an OpenAPI 3.1 document describing every route', async () => {
    const doc = await h.client().get<{
      openapi: string;
      paths: Record<
        string,
        Record<string, { security: unknown[]; requestBody?: unknown; responses: Record<string, unknown> }>
      >;
      components: { schemas: Record<string, unknown> };
    }>('/v1/openapi.json');
    assert.equal(doc.openapi, '3.1.0');
    const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`),
    );
    assert.deepEqual(documented.sort(), [...ROUTES].sort());
    assert.ok(doc.paths['/v1/tasks']?.post?.requestBody, 'POST /v1/tasks documents its body');
    assert.deepEqual(doc.paths['/healthz']?.get?.security, []);
    assert.deepEqual(doc.paths['/v1/policy']?.put?.security, [{ bearer: [] }]);
    for (const name of Object.keys(responseSchemas))
      assert.ok(doc.components.schemas[name], `schema ${name} is in the document`);
    const body = JSON.stringify(doc.paths['/v1/tasks']?.post?.requestBody);
    assert.match(body, /"additionalProperties":false/, 'unknown fields are documented as rejected');
  });

  it('answers 404 for an unknown path and 405 with Allow for a wrong method', async () => {
    const missing = await rawRequest(h.server.url, { method: 'GET', path: '/v1/nothing-here' });
    assert.equal(missing.status, 404);
    assert.deepEqual((missing.json as { error: { code: string } }).error.code, 'not_found');
    const wrong = await rawRequest(h.server.url, { method: 'DELETE', path: '/v1/tasks' });
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.allow, 'GET, POST');
    assert.match((wrong.json as { error: { message: string } }).error.message, /allowed methods are GET, POST/);
  });
});

describe('api internal errors', () => {
  it('answers 500 with a generic message, logs the real one, and reports an unhealthy store', async () => {
    const h = await startApiHarness();
    try {
      h.store.close();
      const res = await rawRequest(h.server.url, {
        method: 'GET',
        path: '/v1/tasks',
        headers: { authorization: `Bearer ${h.tokens.admin}` },
      });
      assert.equal(res.status, 500);
      assert.deepEqual(res.json, {
        error: { code: 'internal', message: 'handling the request failed on the server; the server log has the details' },
      });
      const logged = h.logs.lines().find((l) => l.message === 'failed handling request');
      assert.equal(logged?.route, '/v1/tasks');
      assert.match(String(logged?.error), /database is not open/i);
      const health = await rawRequest(h.server.url, { method: 'GET', path: '/healthz' });
      assert.equal(health.status, 503);
      assert.deepEqual(health.json, { ok: false, leader: true, version: '9.9.9-test' });
    } finally {
      await h.close();
    }
  });
});
