/**
 * Zod descriptions of what the API answers, for the OpenAPI document (and for tests that hold the server to it).
 * Objects are not strict: a client must accept fields added later.
 */
import { z } from 'zod';
import { AgentState, Lifecycle, type Agent } from '../core/agent.ts';
import { TaskState, type Task } from '../core/task.ts';
import { policySchema } from '../config/schema.ts';
import { Role, type AuditEntry, type TokenRecord } from '../store/store.ts';
import type {
  BudgetAlertView,
  BudgetView,
  ChargebackResponse,
  CreateTokenResponse,
  BudgetForecastView,
  DecisionView,
  ErrorBody,
  PoolHistory,
  SpendHistory,
  Health,
  ProviderRetry,
  Status,
} from './types.ts';
import { budgetScopeSchema } from '../config/budget-schema.ts';
import type { HeartbeatResponse, PullResponse, RegisterResponse } from '../agent/protocol.ts';

const resources = z.object({ cpuMillis: z.number(), memoryMiB: z.number(), gpus: z.number(), netMbps: z.number() });
const taskState = z.enum(Object.values(TaskState) as [TaskState, ...TaskState[]]);
const agentState = z.enum(Object.values(AgentState) as [AgentState, ...AgentState[]]);
const role = z.enum(Object.values(Role) as [Role, ...Role[]]);
const labels = z.record(z.string(), z.string());

const task = z.object({
  id: z.string(),
  owner: z.object({ team: z.string(), project: z.string(), job: z.string() }),
  resources,
  priority: z.number(),
  revocable: z.boolean(),
  constraints: z.object({
    privateOnly: z.boolean().optional(),
    providers: z.array(z.string()).optional(),
    gpuModels: z.array(z.string()).optional(),
    labels: labels.optional(),
  }),
  command: z.array(z.string()),
  state: taskState,
  agentId: z.string().nullable(),
  attempts: z.number(),
  createdAtMs: z.number(),
  pendingSinceMs: z.number(),
  startedAtMs: z.number().nullable(),
  finishedAtMs: z.number().nullable(),
  exitCode: z.number().nullable(),
  outputTail: z.string(),
  reason: z.string(),
}) satisfies z.ZodType<Task>;

const location = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('private'), site: z.string() }),
  z.object({ kind: z.literal('cloud'), provider: z.string(), region: z.string(), zone: z.string() }),
]);

const agent = z.object({
  id: z.string(),
  name: z.string(),
  location,
  capacity: resources,
  allocated: resources,
  labels,
  lifecycle: z.enum(Object.values(Lifecycle) as [Lifecycle, ...Lifecycle[]]),
  pricePerHourMicros: z.number(),
  state: agentState,
  instanceId: z.string().nullable(),
  providerId: z.string().nullable(),
  intentId: z.string().nullable(),
  registeredAtMs: z.number(),
  lastHeartbeatMs: z.number(),
  idleSinceMs: z.number().nullable(),
  reason: z.string(),
  isolation: z.enum(['cgroup-v1', 'cgroup-v2', 'none']).optional(),
}) satisfies z.ZodType<Agent>;

/** A list page's cursor to the following page (`?cursor=`), null at the end; absent from answers that are not pages. */
const nextCursor = z.string().nullable().optional();

const tokenRecord = z.object({
  id: z.string(),
  role,
  name: z.string(),
  agentId: z.string().nullable(),
  createdAtMs: z.number(),
  revokedAtMs: z.number().nullable(),
  scope: z.object({ teams: z.array(z.string()), projects: z.array(z.string()).optional() }).optional(),
}) satisfies z.ZodType<TokenRecord>;

const auditEntry = z.object({
  id: z.number(),
  atMs: z.number(),
  actor: z.string(),
  action: z.string(),
  detail: z.unknown(),
}) satisfies z.ZodType<AuditEntry>;

const status = z.object({
  clusterId: z.string(),
  paused: z.boolean(),
  leader: z.boolean(),
  agentCounts: z.object({ provisioning: z.number(), registered: z.number(), draining: z.number(), lost: z.number() }),
  isolation: z.record(z.string(), z.number()),
  tasks: z.record(taskState, z.number()),
  locations: z.array(
    z.object({
      location: z.string(),
      kind: z.enum(['private', 'cloud']),
      agents: z.number(),
      capacity: resources,
      allocated: resources,
      free: resources,
      pricePerHourUsd: z.number(),
    }),
  ),
  cloudSpendPerHourUsd: z.number(),
  providers: z.array(
    z.object({
      id: z.string(),
      health: z.enum(['ok', 'degraded', 'refusing', 'unknown']),
      breakers: z.array(
        z.object({
          key: z.string(),
          scope: z.enum(['provider', 'offering']),
          state: z.enum(['open', 'trying']),
          code: z.string().nullable(),
          subject: z.string().nullable(),
          refusals: z.number(),
          openedAtMs: z.number(),
          retryAtMs: z.number(),
          reason: z.string(),
          error: z.string(),
        }),
      ),
      failingTerminations: z.array(
        z.object({
          intentId: z.string(),
          instanceIds: z.array(z.string()),
          attempts: z.number(),
          error: z.string(),
          sinceMs: z.number(),
        }),
      ),
    }),
  ),
}) satisfies z.ZodType<Status>;

const budgetPeriod = z.enum(['hour', 'day', 'month', 'burn']);

const budgetView = z.object({
  id: z.string(),
  name: z.string(),
  scope: budgetScopeSchema,
  period: budgetPeriod,
  capUsd: z.number(),
  onCap: z.enum(['preempt', 'finish']),
  createdAtMs: z.number(),
  updatedAtMs: z.number(),
  status: z.object({
    fromMs: z.number(),
    toMs: z.number(),
    spentUsd: z.number(),
    percent: z.number(),
    overrunUsd: z.number(),
  }),
}) satisfies z.ZodType<BudgetView>;

const budgetAlert = z.object({
  id: z.number(),
  budgetId: z.string(),
  budgetName: z.string(),
  scope: budgetScopeSchema,
  period: budgetPeriod,
  periodStartMs: z.number(),
  percent: z.number(),
  spentUsd: z.number(),
  capUsd: z.number(),
  atMs: z.number(),
}) satisfies z.ZodType<BudgetAlertView>;

const costBreakdown = {
  privateUsd: z.number(),
  onDemandUsd: z.number(),
  spotUsd: z.number(),
  idleUsd: z.number(),
  cloudUsd: z.number(),
  totalUsd: z.number(),
};

const useFigures = z.object({
  requestedCpuHours: z.number(),
  usedCpuHours: z.number(),
  requestedGiBHours: z.number(),
  usedGiBHours: z.number(),
  cpuEfficiency: z.number().nullable(),
  memoryEfficiency: z.number().nullable(),
});

const chargebackReport = z.object({
  by: z.enum(['team', 'project', 'job']),
  fromMs: z.number(),
  toMs: z.number(),
  rows: z.array(
    z.object({
      team: z.string(),
      project: z.string().nullable(),
      job: z.string().nullable(),
      ...costBreakdown,
      use: useFigures.optional(),
    }),
  ),
  totals: z.object(costBreakdown),
  use: useFigures.optional(),
}) satisfies z.ZodType<ChargebackResponse>;

const errorBody = z.object({
  error: z.object({
    code: z.enum([
      'invalid_request',
      'unauthorized',
      'forbidden',
      'not_found',
      'method_not_allowed',
      'conflict',
      'payload_too_large',
      'unsupported_media_type',
      'internal',
    ]),
    message: z.string(),
    field: z.string().optional(),
  }),
}) satisfies z.ZodType<ErrorBody>;

const decision = z.object({
  id: z.string(),
  kind: z.enum(['launch', 'terminate']),
  providerId: z.string(),
  state: z.enum(['pending', 'done', 'failed']),
  reason: z.string(),
  instanceIds: z.array(z.string()),
  attempts: z.number(),
  error: z.string(),
  createdAtMs: z.number(),
  updatedAtMs: z.number(),
  count: z.number().optional(),
  offering: z
    .object({ zone: z.string(), instanceType: z.string(), lifecycle: z.string(), pricePerHourUsd: z.number() })
    .optional(),
  owners: z.array(z.object({ team: z.string(), project: z.string(), job: z.string(), share: z.number() })).optional(),
}) satisfies z.ZodType<DecisionView>;

const historyHead = {
  resolution: z.enum(['minute', 'hour', 'day']),
  bucketMs: z.number(),
  fromMs: z.number(),
  toMs: z.number(),
};

const poolHistory = z.object({
  ...historyHead,
  points: z.array(
    z.object({
      atMs: z.number(),
      locations: z.record(z.string(), z.object({ agents: z.number(), cpus: z.number() })),
    }),
  ),
}) satisfies z.ZodType<PoolHistory>;

const spendHistory = z.object({
  ...historyHead,
  points: z.array(z.object({ atMs: z.number(), cloudSpendUsd: z.record(z.string(), z.number()) })),
}) satisfies z.ZodType<SpendHistory>;

const budgetForecast = z.object({
  id: z.string(),
  name: z.string(),
  scope: budgetScopeSchema,
  period: z.enum(['hour', 'day', 'month', 'burn']),
  capUsd: z.number(),
  fromMs: z.number(),
  toMs: z.number(),
  spentUsd: z.number(),
  ratePerHourUsd: z.number(),
  forecastUsd: z.number(),
  overCap: z.boolean(),
  series: z.array(z.object({ atMs: z.number(), spentUsd: z.number() })),
}) satisfies z.ZodType<BudgetForecastView>;

/** Every answer schema by its name under `components.schemas`. */
export const responseSchemas = {
  Task: task,
  TaskList: z.object({ tasks: z.array(task), next: nextCursor }),
  Agent: agent,
  AgentList: z.object({ agents: z.array(agent), next: nextCursor }),
  Status: status,
  ProviderRetry: z.object({ providerId: z.string(), closed: z.number() }) satisfies z.ZodType<ProviderRetry>,
  Policy: policySchema,
  Paused: z.object({ paused: z.boolean() }),
  TokenRecord: tokenRecord,
  TokenList: z.object({ tokens: z.array(tokenRecord), next: nextCursor }),
  CreateTokenResponse: z.object({
    id: z.string(),
    role,
    name: z.string(),
    token: z.string(),
    maxAgents: z.number().optional(),
    site: z.string().optional(),
    expiresAtMs: z.number().optional(),
  }) satisfies z.ZodType<CreateTokenResponse>,
  AuditList: z.object({ entries: z.array(auditEntry), next: nextCursor }),
  Budget: budgetView,
  BudgetList: z.object({ budgets: z.array(budgetView), next: nextCursor }),
  BudgetAlertList: z.object({ alerts: z.array(budgetAlert), next: nextCursor }),
  ChargebackReport: chargebackReport,
  Health: z.object({ ok: z.boolean(), leader: z.boolean(), version: z.string() }) satisfies z.ZodType<Health>,
  RegisterResponse: z.object({
    protocolVersion: z.number(),
    agentId: z.string(),
    token: z.string(),
    heartbeatIntervalMs: z.number(),
    pollIntervalMs: z.number(),
  }) satisfies z.ZodType<RegisterResponse>,
  HeartbeatResponse: z.object({
    state: agentState,
    stopTaskIds: z.array(z.string()),
  }) satisfies z.ZodType<HeartbeatResponse>,
  PullResponse: z.object({
    tasks: z.array(z.object({ id: z.string(), command: z.array(z.string()), resources })),
    pulledAtMs: z.number(),
  }) satisfies z.ZodType<PullResponse>,
  TaskStateAnswer: z.object({ state: taskState }),
  AgentStateAnswer: z.object({ state: agentState }),
  MungeKey: z.object({ key: z.string() }),
  Error: errorBody,
  ConsoleCode: z.object({ code: z.string(), expiresAtMs: z.number(), path: z.string() }),
  DecisionList: z.object({ decisions: z.array(decision), next: nextCursor }),
  PoolHistory: poolHistory,
  SpendHistory: spendHistory,
  TaskRunList: z.object({
    runs: z.array(z.object({ agentId: z.string(), startMs: z.number(), endMs: z.number().nullable() })),
  }),
  BudgetForecastList: z.object({ forecasts: z.array(budgetForecast) }),
} as const;

export type ResponseSchemaName = keyof typeof responseSchemas;
