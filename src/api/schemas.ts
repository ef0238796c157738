/**
 * Zod schemas for every request body and query the API takes. Objects are strict (unknown fields are rejected) and
 * parse through `parseWith`, so a 400 names the dotted field. Shapes follow src/api/types.ts and
 * src/agent/protocol.ts; the `satisfies` checks keep them in step.
 */
import { z } from 'zod';
import { AgentState } from '../core/agent.ts';
import { TaskState } from '../core/task.ts';
import { cpuQuantity, memoryQuantity, policySchema } from '../config/schema.ts';
import { budgetBodySchema } from '../config/budget-schema.ts';
import { ChargebackBy } from '../cost-model/chargeback.ts';
import { Role } from '../store/store.ts';
import { RESOURCE_BOUNDS } from './admission.ts';
import { pageQuery } from './paging.ts';
import type { HeartbeatRequest, LeaveRequest, RegisterRequest, ReportRequest } from '../agent/protocol.ts';
import type { CreateTokenRequest, SubmitRequest } from './types.ts';

export { budgetBodySchema, policySchema };

/** At most this many tasks per submission. */
export const MAX_TASKS_PER_SUBMIT = 1_000;

const name = z.string().min(1).max(200);
const count = z.number().int().nonnegative();
const labels = z.record(z.string().min(1).max(200), z.string().max(1_000));
/** The longest output tail kept, in UTF-8 bytes. */
export const MAX_OUTPUT_TAIL_BYTES = 65_536;

/**
 * The agent's output tail is a tail: it never needs to be large. The agent cuts its tail at 64 KiB of raw output,
 * which can take more once decoded (a broken sequence becomes a 3-byte U+FFFD), so the rest is trimmed here, never
 * refused: a task's exit must not be lost over its output.
 */
const outputTail = z
  .string()
  .max(3 * MAX_OUTPUT_TAIL_BYTES)
  .transform(lastUtf8Bytes);

/** The end of `text` that fits in MAX_OUTPUT_TAIL_BYTES of UTF-8, cut on a character boundary. */
function lastUtf8Bytes(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= MAX_OUTPUT_TAIL_BYTES) return text;
  let start = bytes.length - MAX_OUTPUT_TAIL_BYTES;
  // Skip continuation bytes (10xxxxxx) so the cut never splits a character.
  while (start < bytes.length && ((bytes[start] ?? 0) & 0xc0) === 0x80) start += 1;
  return bytes.subarray(start).toString('utf8');
}

function quantity(what: string): z.ZodType<number | string, number | string> {
  return z.union([z.number().nonnegative(), z.string()], {
    error: (issue) => (issue.input === undefined ? `required: ${what}` : `expected ${what}`),
  });
}

export const taskSpecSchema = z
  .object({
    // Each argument may be long; what bounds a command is its total size (api.maxTaskPayloadBytes, checked at submit).
    command: z.array(z.string()).min(1, 'required: at least the program to run').max(1_000),
    resources: z
      .object({
        cpu: quantity('a number of cores or a CPU quantity such as 500m')
          .pipe(cpuQuantity)
          .refine((millis) => millis > 0, 'must be more than 0')
          .refine((millis) => millis <= RESOURCE_BOUNDS.cpuMillis, 'must be at most 4096 cores'),
        memory: quantity('a number of MiB or a memory quantity such as 512Mi or 4Gi')
          .pipe(memoryQuantity)
          .refine((mib) => mib > 0, 'must be more than 0')
          .refine((mib) => mib <= RESOURCE_BOUNDS.memoryMiB, 'must be at most 64Ti'),
        gpus: count.max(RESOURCE_BOUNDS.gpus).optional(),
        netMbps: count.max(RESOURCE_BOUNDS.netMbps).optional(),
      })
      .strict(),
    owner: z.object({ team: name.optional(), project: name.optional(), job: name.optional() }).strict().optional(),
    priority: z.number().int().min(-1_000_000).max(1_000_000).optional(),
    revocable: z.boolean().optional(),
    constraints: z
      .object({
        privateOnly: z.boolean().optional(),
        providers: z.array(name).max(100).optional(),
        gpuModels: z.array(name).max(100).optional(),
        labels: labels.optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export const submitSchema = z
  .object({ tasks: z.array(taskSpecSchema).min(1).max(MAX_TASKS_PER_SUBMIT) })
  .strict() satisfies z.ZodType<unknown, SubmitRequest>;

/** `a,b,c` in a query parameter -> a list of enum values. */
function csvOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z
    .string()
    .transform((text) => text.split(',').map((part) => part.trim()))
    .pipe(z.array(z.enum(values)));
}

const taskStates = Object.values(TaskState) as [TaskState, ...TaskState[]];
const agentStates = Object.values(AgentState) as [AgentState, ...AgentState[]];

export const tasksQuerySchema = z
  .object({
    state: csvOf(taskStates).optional(),
    team: name.optional(),
    project: name.optional(),
    ...pageQuery,
  })
  .strict();

export const agentsQuerySchema = z.object({ state: csvOf(agentStates).optional(), ...pageQuery }).strict();

export const auditQuerySchema = z.object(pageQuery).strict();

export const budgetAlertsQuerySchema = z.object(pageQuery).strict();

/** GET /v1/history/pool. */
export const historyQuerySchema = z
  .object({
    resolution: z.enum(['minute', 'hour', 'day']).optional(),
    /** Only the last N buckets (at most the resolution's reach: 1,440 minutes, 720 hours, 90 days). */
    last: z
      .string()
      .regex(/^\d+$/, 'expected a whole number')
      .transform(Number)
      .pipe(z.number().int().min(1).max(1_440))
      .optional(),
  })
  .strict();

/** List routes that filter nothing: `limit` and `cursor` only. */
export const pageQuerySchema = z.object(pageQuery).strict();

/** `2026-01-01` (UTC midnight) or `2026-01-01T12:00:00Z` / `...+02:00`: a time needs its offset, never a local one. */
const isoTime = z
  .string()
  .regex(
    /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/,
    'expected an ISO 8601 date or time with its offset, such as 2026-01-01 or 2026-01-01T12:00:00Z',
  )
  .transform((text, ctx) => {
    const ms = Date.parse(text);
    if (Number.isNaN(ms) || !isRealDate(text)) {
      ctx.addIssue({ code: 'custom', message: `expected a real date, got ${JSON.stringify(text)}` });
      return z.NEVER;
    }
    return ms;
  });

/** Whether the calendar fields of an ISO text exist (Date.parse rolls 2026-02-31 over to March). */
function isRealDate(text: string): boolean {
  const [year, month, day, hour = 0, minute = 0, second = 0] = (text.match(/\d+/g) ?? []).map(Number);
  if (year === undefined || month === undefined || day === undefined) return false;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour < 24 && minute < 60 && second < 60;
}

/** The longest window one chargeback report covers. */
export const MAX_REPORT_DAYS = 400;

export const chargebackQuerySchema = z
  .object({
    by: z.enum(Object.values(ChargebackBy) as [ChargebackBy, ...ChargebackBy[]]).default('team'),
    from: isoTime.optional(),
    to: isoTime.optional(),
  })
  .strict();

/** Routes whose body carries nothing: `{}` or no body at all. */
export const emptyBodySchema = z.object({}).strict().optional();

/** Routes that take no query parameters. */
export const noQuerySchema = z.object({}).strict();

const scopeNames = z.array(name).min(1).max(100);

/** A scope names teams (projects need teams) and fits only submitter and finance tokens. */
export const createTokenSchema = z
  .object({
    role: z.enum(Object.values(Role) as [Role, ...Role[]]),
    name,
    // Bounds of an agent registration token (role agent only).
    maxAgents: z.number().int().min(1).max(1_000_000).optional(),
    site: name.optional(),
    expiresInMs: z
      .number()
      .int()
      .min(1_000)
      .max(366 * 86_400_000)
      .optional(),
    teams: scopeNames.optional(),
    projects: scopeNames.optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.projects !== undefined && body.teams === undefined) {
      ctx.addIssue({ code: 'custom', path: ['projects'], message: 'a token scoped to projects also names its teams' });
    }
    if (body.teams !== undefined && body.role !== 'submitter' && body.role !== 'finance') {
      ctx.addIssue({
        code: 'custom',
        path: ['teams'],
        message: `only submitter and finance tokens take a team scope, not ${body.role}`,
      });
    }
  }) satisfies z.ZodType<unknown, CreateTokenRequest>;

/** An agent's capacity: the same bounds as a task's, so no figure the planner adds up can overflow. */
const resourcesSchema = z
  .object({
    cpuMillis: count.max(RESOURCE_BOUNDS.cpuMillis),
    memoryMiB: count.max(RESOURCE_BOUNDS.memoryMiB),
    gpus: count.max(RESOURCE_BOUNDS.gpus),
    netMbps: count.max(RESOURCE_BOUNDS.netMbps),
  })
  .strict();

export const registerSchema = z
  .object({
    protocolVersion: z.number().int(),
    name,
    capacity: resourcesSchema,
    labels,
    instanceId: name.optional(),
    site: name.optional(),
    identity: z
      .object({ document: z.string().min(1).max(16_384), signature: z.string().min(1).max(4_096).optional() })
      .strict()
      .optional(),
    isolation: z.enum(['cgroup-v1', 'cgroup-v2', 'none']).optional(),
  })
  .strict() satisfies z.ZodType<RegisterRequest, unknown>;

export const heartbeatSchema = z
  .object({
    runningTaskIds: z.array(name).max(10_000),
    pulledThroughMs: z.number().int().nonnegative().optional(),
    notice: z.enum(['interruption', 'draining']).optional(),
  })
  .strict() satisfies z.ZodType<HeartbeatRequest, unknown>;

export const reportSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('output'), outputTail }).strict(),
  z
    .object({
      kind: z.literal('exit'),
      exitCode: z.number().int(),
      outputTail,
      reason: z.string().max(1_000).optional(),
      usage: z
        .object({
          cpuSeconds: z.number().finite().nonnegative().max(1e12),
          peakMemoryBytes: z
            .number()
            .int()
            .nonnegative()
            .max(2 ** 53 - 1),
        })
        .strict()
        .optional(),
    })
    .strict(),
  z.object({ kind: z.literal('handback'), reason: z.string().max(1_000), outputTail }).strict(),
]) satisfies z.ZodType<ReportRequest, unknown>;

export const leaveSchema = z.object({ reason: z.string().max(1_000) }).strict() satisfies z.ZodType<
  LeaveRequest,
  unknown
>;
