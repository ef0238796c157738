import { z } from 'zod';
import { usdToMicros } from '../core/money.ts';
import { BudgetPeriod, OnCap, type BudgetScope, type BudgetSpec } from '../cost-model/budget.ts';

/**
 * How budgets enter Spillway, validated once: `PUT /v1/budgets/{name}` and the config's `budgets` seed. Money comes
 * in as USD (at most six decimals, so it converts to micro-USD exactly) and leaves as integer micro-USD.
 */

/** Largest cap accepted, in USD: far above any real budget, far below where micro-USD lose integer precision. */
export const MAX_CAP_USD = 1_000_000_000;

const ownerName = z.string().min(1).max(200);

/** `ml-daily`, `team.ml`: what `spillway budget set NAME` takes. Not `alerts`, not starting with `bud-` (ids do). */
export const budgetNameSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/,
    'expected a name of letters, digits, dots, dashes and underscores (at most 100), starting with a letter or digit',
  )
  .refine(
    (name) => name !== 'alerts' && !name.startsWith('bud-'),
    'is reserved (`alerts`, and names starting with `bud-`)',
  );

export const budgetScopeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('global') }).strict(),
  z.object({ kind: z.literal('team'), team: ownerName }).strict(),
  z.object({ kind: z.literal('project'), team: ownerName.optional(), project: ownerName }).strict(),
]) satisfies z.ZodType<BudgetScope>;

export const capUsdSchema = z
  .number()
  .nonnegative()
  .max(MAX_CAP_USD)
  .refine((usd) => Math.abs(usd * 1_000_000 - Math.round(usd * 1_000_000)) < 1e-6, 'expected at most 6 decimals');

/** The body of `PUT /v1/budgets/{name}`. */
export const budgetBodySchema = z
  .object({
    scope: budgetScopeSchema,
    /** `hour`, `day`, `month` (calendar, UTC), or `burn`: capUsd is then USD per hour over any trailing hour. */
    period: z.enum(Object.values(BudgetPeriod) as [BudgetPeriod, ...BudgetPeriod[]]),
    capUsd: capUsdSchema,
    onCap: z.enum(Object.values(OnCap) as [OnCap, ...OnCap[]]).default('preempt'),
  })
  .strict();

/** One budget in the config's `budgets` seed list. */
export const budgetSeedSchema = budgetBodySchema.extend({ name: budgetNameSchema }).strict();

/** The stored form of a validated budget. */
export function toBudgetSpec(name: string, body: z.output<typeof budgetBodySchema>): BudgetSpec {
  return { name, scope: body.scope, period: body.period, capMicros: usdToMicros(body.capUsd), onCap: body.onCap };
}
