import { z } from 'zod';

const nonEmpty = z.string().min(1);
const durationMs = z.number().int().nonnegative();
const perMinute = z.number().int().positive();

/** Compute Engine's documented default rate quotas (requests per minute per project, "Compute Engine rate quotas"). */
export const GCE_DEFAULT_RATE_LIMITS = Object.freeze({
  /** instances.insert, bulkInsert and delete. */
  mutationsPerMinute: 1_500,
  /** instances.list. */
  listsPerMinute: 1_500,
  /** zoneOperations.wait. */
  operationReadsPerMinute: 1_500,
});

/**
 * A Google Compute Engine project and region to burst to (src/providers/gcp-compute/). Built by a factory from the
 * allowed-type and boot-script schemas the EC2 provider uses too, so this file need not import schema.ts (which
 * imports it). `bootScript` is the `startup-script` metadata: placeholders as in providers/boot-script.ts.
 */
export function gcpComputeProviderSchemaWith<T extends z.ZodType, B extends z.ZodType>(
  instanceTypeSchema: T,
  bootScriptSchema: B,
) {
  return z
    .object({
      kind: z.literal('gcp-compute'),
      /** Names the provider `gcp-compute:<name>`; default the region. */
      name: nonEmpty.regex(/^[a-z0-9-]+$/, 'use lowercase letters, digits and dashes').optional(),
      project: nonEmpty.regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'expected a GCP project id such as my-project-123'),
      region: nonEmpty.regex(/^[a-z]+-[a-z]+\d+$/, 'expected a GCE region such as us-central1'),
      /** Zones of the region to launch in: the zones offered. */
      zones: z.array(nonEmpty.regex(/^[a-z]+-[a-z]+\d+-[a-z]$/, 'expected a zone such as us-central1-a')).min(1),
      /** Overrides the Compute API endpoint (a Private Service Connect endpoint); tests point it at the emulator. */
      endpoint: z
        .object({
          host: nonEmpty,
          port: z.number().int().min(1).max(65_535).default(443),
          protocol: z.enum(['http', 'https']).default('https'),
        })
        .strict()
        .optional(),
      /**
       * A file holding an OAuth access token, read for each call (a sidecar or `gcloud auth print-access-token`
       * keeps it current). Default: Application Default Credentials.
       */
      accessTokenFile: nonEmpty.optional(),
      /**
       * The instance template every launch starts from (from the Pulumi outputs): image, disk, network, service
       * account, network tags. A name (`spillway-agents`, global) or a partial URL (`global/instanceTemplates/x`,
       * `projects/p/regions/r/instanceTemplates/x`).
       */
      instanceTemplate: nonEmpty,
      /** The machine types allowed, with capacity and prices unless the price catalog has them. */
      instanceTypes: z.array(instanceTypeSchema).min(1),
      /** Expected time from launch to a registered agent. */
      bootMs: durationMs.default(90_000),
      /** The `startup-script` metadata: a boot-script template (placeholders as in providers/boot-script.ts). */
      bootScript: bootScriptSchema,
      /**
       * Google's certificates that verify the instances' identity tokens (required for their agents to register):
       * a JSON file of key id to PEM, or a URL serving it (https://www.googleapis.com/oauth2/v1/certs), cached.
       */
      identity: z
        .object({ certificatesFile: nonEmpty.optional(), certificatesUrl: z.url().optional() })
        .strict()
        .refine(
          (i) => (i.certificatesFile === undefined) !== (i.certificatesUrl === undefined),
          'give exactly one of certificatesFile and certificatesUrl',
        )
        .optional(),
      /** How long one Compute call may take before it fails as a network error. */
      requestTimeoutMs: durationMs.min(100).default(30_000),
      /** How long an operation is waited for before the launch is left to a later pass (same requestId). */
      operationTimeoutMs: durationMs.min(100).default(300_000),
      /**
       * How long after this controller first sent an intent a retry relies on requestId deduplication alone; older
       * intents, and every intent after a restart, are first looked up by their label (GCE keeps request ids for a
       * limited time only).
       */
      requestIdTrustMs: durationMs.default(600_000),
      /** Client-side rate limits per region; default Compute Engine's documented quotas. */
      rateLimits: z
        .object({
          mutationsPerMinute: perMinute.default(GCE_DEFAULT_RATE_LIMITS.mutationsPerMinute),
          listsPerMinute: perMinute.default(GCE_DEFAULT_RATE_LIMITS.listsPerMinute),
          operationReadsPerMinute: perMinute.default(GCE_DEFAULT_RATE_LIMITS.operationReadsPerMinute),
        })
        .strict()
        .default(GCE_DEFAULT_RATE_LIMITS),
      /** Most instances one bulkInsert asks for; larger launches are split into several calls. */
      maxBulkInsert: z.number().int().min(1).max(1_000).default(1_000),
    })
    .strict()
    .superRefine((c, ctx) => {
      for (const [i, zone] of c.zones.entries()) {
        if (!zone.startsWith(`${c.region}-`)) {
          ctx.addIssue({ code: 'custom', path: ['zones', i], message: `${zone} is not a zone of ${c.region}` });
        }
      }
    });
}
