import { DEMO_POLICY } from '../../src/core/policy.ts';
import { resources } from '../../src/core/resources.ts';
import type { ApiHarness } from '../helpers/api-harness.ts';

/** A route that takes a body or a query, with a valid call and the calls that break it. */
export interface MatrixRoute {
  readonly method: string;
  readonly path: string;
  /** A credential of a role allowed to call it. */
  readonly token: string;
  /** A credential of a role that may not. */
  readonly wrongToken: string;
  /** A body it accepts (undefined for query routes). */
  readonly body?: unknown;
  /** Field cases: [name, body or query, field, message]. */
  readonly fields: readonly (readonly [string, unknown, string, RegExp])[];
}

/**
 * Every route of the API that takes a body or a query, with the state it needs set up in `h`'s store: two private
 * agents (one to call as, one whose token is the wrong one), a launched instance, a pending and a placed task.
 */
export async function matrixRoutes(h: ApiHarness): Promise<MatrixRoute[]> {
  const routes: MatrixRoute[] = [];
  const registrationToken = h.store.tokens.list().find((t) => t.name === 'private-agents');
  if (!registrationToken) throw new Error('the harness has no registration token');
  const { agentId, token: agentToken } = await h.registry.register(
    { kind: 'token', token: registrationToken },
    { protocolVersion: 1, name: 'n1', capacity: resources({ cpuMillis: 4000, memoryMiB: 4096 }), labels: {} },
  );
  const other = await h.registry.register(
    { kind: 'token', token: registrationToken },
    { protocolVersion: 1, name: 'n2', capacity: resources({ cpuMillis: 4000, memoryMiB: 4096 }), labels: {} },
  );
  h.secrets.push(agentToken, other.token);
  const { credential } = h.launch(['i-1']);
  const [pending, placed] = h.store.tasks.insert(
    [0, 1].map(() => ({
      owner: { team: 't', project: 'p', job: 'j' },
      resources: resources({ cpuMillis: 100, memoryMiB: 64 }),
      priority: 0,
      revocable: false,
      constraints: {},
      command: ['true'],
    })),
    h.clock.now(),
  );
  h.store.tasks.place(placed?.id ?? '', agentId, h.clock.now());
  const { tokens } = h;
  const task = { command: ['true'], resources: { cpu: 1, memory: '1Gi' } };
  const registration = { protocolVersion: 1, name: 'n3', capacity: resources({ cpuMillis: 1000 }), labels: {} };
  const expectedArray = /expected array, received string/;
  const budget = { scope: { kind: 'team', team: 't' }, period: 'day', capUsd: 10 };
  const unknown = /unknown field$/;
  routes.push(
    {
      method: 'POST',
      path: '/v1/tasks',
      token: tokens.submitter,
      wrongToken: tokens.finance,
      body: { tasks: [task] },
      fields: [
        ['wrong type', { tasks: [{ ...task, command: 'true' }] }, 'tasks.0.command', expectedArray],
        ['missing field', { tasks: [{ command: ['true'] }] }, 'tasks.0.resources', /expected object, received undefined/],
        ['empty command', { tasks: [{ ...task, command: [] }] }, 'tasks.0.command', /required: at least the program to run/],
        [
          'zero CPU',
          { tasks: [{ ...task, resources: { cpu: 0, memory: '1Gi' } }] },
          'tasks.0.resources.cpu',
          /must be more than 0/,
        ],
        [
          'missing quantity',
          { tasks: [{ command: ['true'], resources: { cpu: 1 } }] },
          'tasks.0.resources.memory',
          /required: a number of MiB or a memory quantity/,
        ],
        [
          'bad quantity',
          { tasks: [{ ...task, resources: { cpu: 1, memory: '12 parsecs' } }] },
          'tasks.0.resources.memory',
          /expected a memory quantity such as 512Mi or 4Gi, got "12 parsecs"/,
        ],
        [
          'bad CPU',
          { tasks: [{ ...task, resources: { cpu: true, memory: 1 } }] },
          'tasks.0.resources.cpu',
          /expected a number of cores or a CPU quantity/,
        ],
        ['no tasks', { tasks: [] }, 'tasks', /expected array to have >=1 items/],
        ['unknown field', { tasks: [{ ...task, colour: 'red' }] }, 'tasks.0.colour', unknown],
      ],
    },
    {
      method: 'POST',
      path: `/v1/tasks/${pending?.id}/cancel`,
      token: tokens.submitter,
      wrongToken: tokens.finance,
      body: {},
      fields: [
        ['wrong type', ['x'], '(body)', /expected object, received array/],
        ['unknown field', { reason: 'x' }, 'reason', unknown],
      ],
    },
    {
      method: 'PUT',
      path: '/v1/policy',
      token: tokens.admin,
      wrongToken: tokens.submitter,
      body: DEMO_POLICY,
      fields: [
        ['wrong type', { ...DEMO_POLICY, idleTtlMs: '10m' }, 'idleTtlMs', /expected number, received string/],
        ['missing field', { ...DEMO_POLICY, limits: undefined }, 'limits', /expected object, received undefined/],
        [
          'nested rule',
          { ...DEMO_POLICY, limits: { ...DEMO_POLICY.limits, maxInstances: -1 } },
          'limits.maxInstances',
          /Too small/,
        ],
        ['unknown field', { ...DEMO_POLICY, burst: true }, 'burst', unknown],
      ],
    },
    ...['/v1/pause', '/v1/resume', '/v1/providers/local:test/retry'].map((path): MatrixRoute => ({
      method: 'POST',
      path,
      token: tokens.admin,
      wrongToken: tokens.submitter,
      body: {},
      fields: [
        ['wrong type', 'now', '(body)', /expected object, received string/],
        ['unknown field', { force: true }, 'force', unknown],
      ],
    })),
    {
      method: 'POST',
      path: '/v1/tokens',
      token: tokens.admin,
      wrongToken: tokens.finance,
      body: { role: 'submitter', name: 'frank' },
      fields: [
        ['wrong type', { role: 'root', name: 'x' }, 'role', /expected one of "admin"\|"submitter"\|"finance"\|"agent"/],
        ['missing field', { role: 'admin' }, 'name', /expected string, received undefined/],
        ['unknown field', { role: 'admin', name: 'x', agentId: 'a-1' }, 'agentId', unknown],
      ],
    },
    {
      method: 'POST',
      path: '/v1/agents/register',
      token: tokens.registration,
      wrongToken: tokens.admin,
      body: registration,
      fields: [
        [
          'wrong type',
          { ...registration, capacity: { ...registration.capacity, cpuMillis: '4' } },
          'capacity.cpuMillis',
          /expected number, received string/,
        ],
        ['missing field', { ...registration, capacity: undefined }, 'capacity', /expected object, received undefined/],
        ['unknown field', { ...registration, zone: 'a' }, 'zone', unknown],
      ],
    },
    {
      method: 'POST',
      path: `/v1/agents/${agentId}/heartbeat`,
      token: agentToken,
      wrongToken: other.token,
      body: { runningTaskIds: [] },
      fields: [
        ['wrong type', { runningTaskIds: 'x' }, 'runningTaskIds', expectedArray],
        ['bad notice', { runningTaskIds: [], notice: 'reboot' }, 'notice', /expected one of "interruption"\|"draining"/],
        ['missing field', {}, 'runningTaskIds', /expected array, received undefined/],
        ['unknown field', { runningTaskIds: [], load: 1 }, 'load', unknown],
      ],
    },
    {
      method: 'POST',
      path: `/v1/agents/${agentId}/pull`,
      token: agentToken,
      wrongToken: other.token,
      body: {},
      fields: [
        ['wrong type', [], '(body)', /expected object, received array/],
        ['unknown field', { max: 3 }, 'max', unknown],
      ],
    },
    {
      method: 'POST',
      path: `/v1/agents/${agentId}/tasks/${placed?.id}/report`,
      token: agentToken,
      wrongToken: other.token,
      body: { kind: 'output', outputTail: 'x' },
      fields: [
        ['wrong type', { kind: 'exit', exitCode: '0', outputTail: '' }, 'exitCode', /expected number, received string/],
        ['missing field', { kind: 'exit', outputTail: '' }, 'exitCode', /expected number, received undefined/],
        ['unknown kind', { kind: 'explode', outputTail: '' }, 'kind', /Expected 'output' \| 'exit' \| 'handback'/],
        ['unknown field', { kind: 'output', outputTail: '', bytes: 1 }, 'bytes', unknown],
      ],
    },
    {
      method: 'POST',
      path: `/v1/agents/${agentId}/leave`,
      token: agentToken,
      wrongToken: other.token,
      body: { reason: 'bye' },
      fields: [
        ['wrong type', { reason: 5 }, 'reason', /expected string, received number/],
        ['missing field', {}, 'reason', /expected string, received undefined/],
        ['unknown field', { reason: 'x', now: true }, 'now', unknown],
      ],
    },
    {
      method: 'GET',
      path: '/v1/tasks',
      token: tokens.finance,
      wrongToken: tokens.registration,
      fields: [
        ['wrong type', 'limit=abc', 'query.limit', /expected a whole number/],
        ['out of range', 'limit=0', 'query.limit', /Too small/],
        ['bad state', 'state=pending,sleeping', 'query.state.1', /expected one of "pending"/],
        ['repeated', 'team=a&team=b', 'query.team', /given more than once/],
        ['unknown parameter', 'owner=me', 'query.owner', unknown],
      ],
    },
    {
      method: 'GET',
      path: '/v1/agents',
      token: tokens.admin,
      wrongToken: agentToken,
      fields: [
        ['bad state', 'state=asleep', 'query.state.0', /expected one of "provisioning"/],
        ['unknown parameter', 'site=lab', 'query.site', unknown],
      ],
    },
    {
      method: 'GET',
      path: '/v1/audit',
      token: tokens.admin,
      wrongToken: tokens.submitter,
      fields: [
        ['wrong type', 'limit=-1', 'query.limit', /expected a whole number/],
        ['out of range', 'limit=1001', 'query.limit', /Too big/],
        ['unknown parameter', 'action=policy.set', 'query.action', unknown],
      ],
    },
    {
      method: 'PUT',
      path: '/v1/budgets/matrix-budget',
      token: tokens.finance,
      wrongToken: tokens.submitter,
      body: budget,
      fields: [
        ['wrong type', { ...budget, capUsd: '10' }, 'capUsd', /expected number, received string/],
        ['missing field', { scope: budget.scope, capUsd: 1 }, 'period', /expected one of "hour"\|"day"\|"month"\|"burn"/],
        ['nested field', { ...budget, scope: { kind: 'team' } }, 'scope.team', /expected string, received undefined/],
        ['unknown scope', { ...budget, scope: { kind: 'org', org: 'x' } }, 'scope.kind', /Expected 'global' \| 'team' \| 'project'/],
        ['fraction of a micro-dollar', { ...budget, capUsd: 0.0000001 }, 'capUsd', /expected at most 6 decimals/],
        ['negative cap', { ...budget, capUsd: -1 }, 'capUsd', /Too small/],
        ['bad on-cap', { ...budget, onCap: 'warn' }, 'onCap', /expected one of "preempt"\|"finish"/],
        ['unknown field', { ...budget, currency: 'EUR' }, 'currency', unknown],
      ],
    },
    {
      method: 'GET',
      path: '/v1/budgets',
      token: tokens.finance,
      wrongToken: tokens.submitter,
      fields: [['unknown parameter', 'team=ml', 'query.team', unknown]],
    },
    {
      method: 'GET',
      path: '/v1/budgets/alerts',
      token: tokens.admin,
      wrongToken: tokens.submitter,
      fields: [
        ['out of range', 'limit=0', 'query.limit', /Too small/],
        ['unknown parameter', 'budget=x', 'query.budget', unknown],
      ],
    },
    {
      method: 'GET',
      path: '/v1/reports/chargeback',
      token: tokens.finance,
      wrongToken: tokens.submitter,
      fields: [
        ['bad grouping', 'by=org', 'query.by', /expected one of "team"\|"project"\|"job"/],
        ['bad time', 'from=yesterday', 'query.from', /expected an ISO 8601 date or time with its offset/],
        ['local time', 'to=2026-01-01T12:00:00', 'query.to', /with its offset/],
        ['impossible date', 'from=2026-02-31T00:00:00Z', 'query.from', /expected a real date/],
        ['repeated', 'by=team&by=job', 'query.by', /given more than once/],
        ['unknown parameter', 'format=csv', 'query.format', unknown],
      ],
    },
    {
      method: 'GET',
      path: '/v1/status',
      token: tokens.admin,
      wrongToken: agentToken,
      fields: [['unknown parameter', 'verbose=1', 'query.verbose', unknown]],
    },
  );
  // A bootstrap credential with a bad body must fail validation before it is even checked.
  routes.push({
    method: 'POST',
    path: '/v1/agents/register',
    token: credential,
    wrongToken: tokens.finance,
    body: { ...registration, instanceId: 'i-1', identity: h.identity('i-1') },
    fields: [
      ['wrong type (bootstrap)', { ...registration, instanceId: 7 }, 'instanceId', /expected string, received number/],
    ],
  });
  return routes;
}
