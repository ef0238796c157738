import { z } from 'zod';
import { PRODUCTION_POLICY, type Policy } from '../core/policy.ts';
import { parseCpuMillis, parseMemoryMiB } from '../core/resources.ts';
import { budgetSeedSchema } from './budget-schema.ts';
import { storeSchema } from './store-schema.ts';
import { gcpComputeProviderSchemaWith } from './gcp-compute-schema.ts';
import { slurmPoolSchema } from '../pool/slurm/slurm-config.ts';
import { DEFAULT_PRIVATE_RATES, type PrivateRates } from '../cost-model/private-rates.ts';

/** `2`, `0.5`, `"500m"` -> millicores. */
export const cpuQuantity = z.union([z.number().nonnegative(), z.string()]).transform((value, ctx) => {
  try {
    return typeof value === 'number' ? Math.round(value * 1000) : parseCpuMillis(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^cpu: /, '') });
    return z.NEVER;
  }
});

/** `"4Gi"`, `"512Mi"`, or a number of MiB. */
export const memoryQuantity = z.union([z.number().nonnegative(), z.string()]).transform((value, ctx) => {
  try {
    return typeof value === 'number' ? Math.ceil(value) : parseMemoryMiB(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^memory: /, '') });
    return z.NEVER;
  }
});

const durationMs = z.number().int().nonnegative();
const nonEmpty = z.string().min(1);

export const limitsSchema = z
  .object({
    maxInstances: z.number().int().nonnegative(),
    maxVcpus: z.number().int().nonnegative(),
    maxGpus: z.number().int().nonnegative(),
  })
  .strict();

/** The whole policy, as `PUT /v1/policy` and `policy apply` take it. */
export const policySchema = z
  .object({
    paused: z.boolean(),
    pendingGraceMs: durationMs,
    idleTtlMs: durationMs,
    maxProvisionMs: durationMs.min(1_000),
    unknownInstanceGraceMs: durationMs,
    providers: z.array(nonEmpty),
    regions: z.array(nonEmpty),
    instanceFamilies: z.array(nonEmpty),
    spot: z.object({ allowed: z.boolean() }).strict(),
    limits: limitsSchema.extend({ maxPendingPerTeam: z.number().int().positive().optional() }),
    providerLimits: z.record(z.string(), limitsSchema),
    requireIsolation: z.boolean().optional(),
    metadataAccessTeams: z.array(nonEmpty).max(1_000).optional(),
  })
  .strict() satisfies z.ZodType<Policy>;

/** A policy in a config file: any key left out takes its default. */
export const policyOverridesSchema = policySchema.partial();

const offeringSchema = z
  .object({
    instanceType: nonEmpty,
    cpu: cpuQuantity,
    memory: memoryQuantity,
    gpus: z.number().int().nonnegative().default(0),
    gpuModel: nonEmpty.optional(),
    netMbps: z.number().int().nonnegative().default(1000),
    pricePerHourUsd: z.number().nonnegative(),
    /** When set, the type is also offered as spot at this price. */
    spotPricePerHourUsd: z.number().nonnegative().optional(),
    labels: z.record(z.string(), z.string()).default({}),
  })
  .strict();

/**
 * An allowed EC2 instance type. Capacity (network included) and on-demand price may be left out: they then come from
 * the price catalog for the provider's region (a type the catalog lacks must give them here).
 */
const ec2InstanceTypeSchema = offeringSchema
  .extend({ netMbps: z.number().int().nonnegative().optional() })
  .partial({ cpu: true, memory: true, pricePerHourUsd: true });

export const localProviderSchema = z
  .object({
    kind: z.literal('local'),
    name: nonEmpty.regex(/^[a-z0-9-]+$/, 'use lowercase letters, digits and dashes').default('local'),
    region: nonEmpty.default('local'),
    zones: z.array(nonEmpty).min(1).default(['local-a']),
    /** How long an instance takes from launch to running its boot script. */
    bootDelayMs: durationMs.default(1_000),
    /** Where the provider keeps its instances' records; default `<home>/local-cloud/<name>`. */
    stateDir: nonEmpty.optional(),
    /** Instances the provider holds per offering and zone before it answers with a capacity error. */
    capacityPerZone: z.number().int().positive().default(16),
    offerings: z.array(offeringSchema).min(1),
  })
  .strict();

const awsEc2LaunchTemplateSchema = z
  .object({
    id: nonEmpty.optional(),
    name: nonEmpty.optional(),
    /** A version number, `$Default` or `$Latest`. */
    version: nonEmpty.default('$Default'),
  })
  .strict()
  .refine((t) => (t.id === undefined) !== (t.name === undefined), 'give exactly one of id and name');

/** A cloud provider's boot script (EC2 user data, GCE startup-script): a template and what the image provides. */
const cloudBootScriptSchema = z
  .object({
    template: nonEmpty.optional(),
    templateFile: nonEmpty.optional(),
    /** The argv prefix that starts `spillway agent` on the instance. */
    agentCommand: z.array(nonEmpty).min(1).default(['spillway', 'agent']),
    /** Where the CA bundle is written on the instance. */
    caFile: nonEmpty.default('/etc/spillway/ca.pem'),
  })
  .strict()
  .refine((b) => b.template === undefined || b.templateFile === undefined, 'give template or templateFile, not both')
  .default({ agentCommand: ['spillway', 'agent'], caFile: '/etc/spillway/ca.pem' });

/** An AWS EC2 account and region to burst to (src/providers/aws-ec2/). Credentials come from the SDK's default chain. */
export const awsEc2ProviderSchema = z
  .object({
    kind: z.literal('aws-ec2'),
    /** Names the provider `aws-ec2:<name>`; default the region. */
    name: nonEmpty.regex(/^[a-z0-9-]+$/, 'use lowercase letters, digits and dashes').optional(),
    region: nonEmpty.regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'expected an AWS region such as us-east-1'),
    /** Overrides the regional endpoint (a VPC interface endpoint); tests point it at the EC2 emulator. */
    endpoint: z.url().optional(),
    /** The launch template (from the Pulumi outputs) every launch starts from: image, security groups, profile. */
    launchTemplate: awsEc2LaunchTemplateSchema,
    /** Subnets to launch into, one zone each: the zones offered are theirs. */
    subnets: z.array(z.object({ id: nonEmpty, zone: nonEmpty }).strict()).min(1),
    /** The instance types allowed, with capacity and prices until a price refresh updates them. */
    instanceTypes: z.array(ec2InstanceTypeSchema).min(1),
    /** Expected time from launch to a registered agent. */
    bootMs: durationMs.default(90_000),
    /** The user data: a boot-script template (placeholders as in providers/boot-script.ts); default the built-in one. */
    bootScript: cloudBootScriptSchema,
    /** How long one EC2 call may take before it fails as a network error. */
    requestTimeoutMs: durationMs.min(100).default(30_000),
    /** How often spot prices and instance specs are refreshed from EC2; 0 never. */
    priceRefreshMs: durationMs.default(600_000),
    /**
     * How the controller verifies the instances' identity documents (required for their agents to register): the
     * AWS "RSA" public certificate of the region (PEM file) and the account the instances run in.
     */
    identity: z
      .object({
        certificateFile: nonEmpty,
        accountId: nonEmpty.regex(/^\d{12}$/, 'expected a 12-digit AWS account id'),
      })
      .strict()
      .optional(),
  })
  .strict();

/** A Google Compute Engine project and region to burst to (src/providers/gcp-compute/); see gcp-compute-schema.ts. */
export const gcpComputeProviderSchema = gcpComputeProviderSchemaWith(ec2InstanceTypeSchema, cloudBootScriptSchema);

const providerSchema = z.discriminatedUnion('kind', [
  localProviderSchema,
  awsEc2ProviderSchema,
  gcpComputeProviderSchema,
]);

const privateAgentsSchema = z
  .object({
    count: z.number().int().nonnegative(),
    cpu: cpuQuantity,
    memory: memoryQuantity,
    site: nonEmpty.default('local'),
  })
  .strict();

const rate = z.number().nonnegative();
const privateRatesSchema = z
  .object({
    usdPerCpuHour: rate.default(DEFAULT_PRIVATE_RATES.usdPerCpuHour),
    usdPerGiBHour: rate.default(DEFAULT_PRIVATE_RATES.usdPerGiBHour),
    usdPerGpuHour: rate.default(DEFAULT_PRIVATE_RATES.usdPerGpuHour),
  })
  .strict() satisfies z.ZodType<PrivateRates>;

export const configSchema = z
  .object({
    clusterId: nonEmpty.regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'use lowercase letters, digits and dashes (at most 63)'),
    /** The folder for the store, the local cloud's state and the admin token. */
    home: nonEmpty.default('.spillway'),
    store: storeSchema,
    api: z
      .object({
        host: nonEmpty.default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535).default(7070),
        /** The URL agents use to reach the controller; default derived from host and port. */
        publicUrl: z.url().optional(),
        /**
         * With several controllers on one PostgreSQL store: every controller's URL, the same list in each one's config.
         * New instances get them all (an agent moves to the next when one stops answering), and the first is the
         * audience a GCE identity token must name on every controller. Default: `[publicUrl]`.
         */
        agentUrls: z
          .array(z.url().refine((u) => !u.includes(','), 'a URL without commas (the list is joined with them)'))
          .min(1)
          .max(16)
          .optional(),
        tls: z.object({ certFile: nonEmpty, keyFile: nonEmpty, caFile: nonEmpty.optional() }).strict().optional(),
        maxBodyBytes: z.number().int().positive().default(1_048_576),
        /** A task's command plus environment, in UTF-8 bytes; more is refused with 400 naming the task. */
        maxTaskPayloadBytes: z.number().int().positive().default(65_536),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 7070, maxBodyBytes: 1_048_576, maxTaskPayloadBytes: 65_536 }),
    pool: z
      .union([
        z
          .object({
            kind: z.literal('builtin').default('builtin'),
            heartbeatIntervalMs: durationMs.min(100).default(1_000),
            lostAfterMs: durationMs.min(500).default(10_000),
            /** Private agents that `serve` starts itself as local processes (the demo's private cluster). */
            privateAgents: privateAgentsSchema.optional(),
          })
          .strict(),
        /** Slurm is the pool (src/pool/slurm/). */
        slurmPoolSchema,
      ])
      .default({ kind: 'builtin', heartbeatIntervalMs: 1_000, lostAfterMs: 10_000 }),
    controller: z
      .object({
        passIntervalMs: durationMs.min(50).default(1_000),
        /** Reconcile with every provider at start and every N passes. */
        reconcileEveryPasses: z.number().int().positive().default(10),
        leaseTtlMs: durationMs.min(1_000).default(15_000),
        /** How long a capacity error keeps an offering out of plans. */
        unavailableForMs: durationMs.default(180_000),
        /**
         * Terminate every cloud instance when `serve` stops cleanly. Off in production (instances outlive a
         * controller restart and are reconciled); on in the local demo, whose cloud is this machine.
         */
        releaseOnShutdown: z.boolean().default(false),
        /** A refused launch (bad subnet, template or type, credentials) backs off this long first, then doubling. */
        refusalBackoffMs: durationMs.min(1_000).default(60_000),
        /** The longest backoff of a refused launch; at least refusalBackoffMs. */
        refusalBackoffMaxMs: durationMs.min(1_000).default(1_800_000),
      })
      .strict()
      .refine((c) => c.refusalBackoffMaxMs >= c.refusalBackoffMs, {
        path: ['refusalBackoffMaxMs'],
        message: 'must be at least controller.refusalBackoffMs',
      })
      .default({
        passIntervalMs: 1_000,
        reconcileEveryPasses: 10,
        leaseTtlMs: 15_000,
        unavailableForMs: 180_000,
        releaseOnShutdown: false,
        refusalBackoffMs: 60_000,
        refusalBackoffMaxMs: 1_800_000,
      }),
    providers: z.array(providerSchema).default([]),
    policy: policyOverridesSchema.default({}),
    /** Budgets that seed the store on its first start; later changes go through the API and CLI (audited). */
    budgets: z
      .array(budgetSeedSchema)
      .refine((list) => new Set(list.map((b) => b.name)).size === list.length, 'budget names must be unique')
      .default([]),
    /** Amortized USD per resource-hour of private capacity (chargeback; see cost-model/private-rates.ts). */
    privateRates: privateRatesSchema.default(DEFAULT_PRIVATE_RATES),
    /** A price catalog file to use instead of the bundled `data/catalog.json` (built by scripts/build-catalog.ts). */
    priceCatalog: nonEmpty.optional(),
    log: z
      .object({ level: z.enum(['error', 'warn', 'info', 'debug']).default('info') })
      .strict()
      .default({ level: 'info' }),
  })
  .strict()
  .superRefine((config, ctx) => {
    // An agent's beats come an interval apart (src/agent/agent.ts): one or two late beats must not make a healthy agent
    // lost, and its tasks run again elsewhere.
    const { heartbeatIntervalMs, lostAfterMs } = config.pool;
    if (lostAfterMs < 3 * heartbeatIntervalMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['pool', 'lostAfterMs'],
        message: `must be at least 3 x pool.heartbeatIntervalMs (${3 * heartbeatIntervalMs} ms): an agent's heartbeats may come two intervals apart`,
      });
    }
    // A cloud instance's boot script carries the controller's URL, and a retried launch must send the same bytes: a
    // port picked anew at every start would change them.
    const cloud = config.providers.find((p) => p.kind !== 'local');
    if (config.api.port === 0 && config.api.publicUrl === undefined && cloud) {
      ctx.addIssue({
        code: 'custom',
        path: ['api', 'port'],
        message:
          `api.port 0 picks a new port at every start, so the controller URL in ${cloud.kind} boot scripts would ` +
          'change between a launch and its retry: set a fixed api.port, or api.publicUrl',
      });
    }
  });

export type Config = z.output<typeof configSchema>;
export type LocalProviderConfig = z.output<typeof localProviderSchema>;
export type AwsEc2ProviderConfig = z.output<typeof awsEc2ProviderSchema>;
export type GcpComputeProviderConfig = z.output<typeof gcpComputeProviderSchema>;
export type ProviderConfig = z.output<typeof providerSchema>;

/** The policy a config seeds the store with: its keys over the production defaults. */
export function effectivePolicy(config: Config): Policy {
  return { ...PRODUCTION_POLICY, ...config.policy };
}
