import { z } from 'zod';

const nonEmpty = z.string().min(1);

/** The embedded default: one SQLite file (`path`, default `<home>/spillway.db`), for one machine. */
const sqliteStoreSchema = z
  .object({
    kind: z.literal('sqlite'),
    path: nonEmpty.optional(),
  })
  .strict();

/**
 * PostgreSQL, for two or three controllers on separate machines (see the README's high-availability section). The
 * password never sits in the config or the URL: a file (read at every new connection, so it can rotate) or an
 * environment variable names it. `src/store/postgres/pg-connection.ts` checks the URL itself (scheme, no password, no
 * `sslmode`) when the store opens.
 */
const postgresStoreSchema = z
  .object({
    kind: z.literal('postgres'),
    /** `postgresql://user@host:5432/spillway`, or `postgresql://user@/spillway?host=/run/postgresql` (a socket folder). */
    url: nonEmpty,
    passwordFile: nonEmpty.optional(),
    passwordEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name: letters, digits and _')
      .optional(),
    tls: z
      .object({
        mode: z.enum(['verify-full', 'require']).default('verify-full'),
        caFile: nonEmpty.optional(),
        certFile: nonEmpty.optional(),
        keyFile: nonEmpty.optional(),
      })
      .strict()
      .refine((tls) => (tls.certFile === undefined) === (tls.keyFile === undefined), {
        message: 'give certFile and keyFile together, or neither',
        path: ['certFile'],
      })
      .optional(),
    maxConnections: z.number().int().min(1).max(1_000).default(10),
    connectTimeoutMs: z.number().int().min(100).max(600_000).default(5_000),
    /** A query with no answer this long fails, retryably, and its connection is dropped (a link cut silently). */
    queryTimeoutMs: z.number().int().min(100).max(3_600_000).default(30_000),
  })
  .strict()
  .refine((pg) => !(pg.passwordFile !== undefined && pg.passwordEnv !== undefined), {
    message: 'give passwordFile or passwordEnv, not both',
    path: ['passwordEnv'],
  });

/**
 * `store:` in the config. `kind` defaults to `sqlite`, so a config written before PostgreSQL existed (`store: {path}`)
 * keeps its meaning.
 */
export const storeSchema = z
  .preprocess(
    (value) =>
      value !== null && typeof value === 'object' && !Array.isArray(value) && !('kind' in value)
        ? { ...value, kind: 'sqlite' }
        : value,
    z.discriminatedUnion('kind', [sqliteStoreSchema, postgresStoreSchema]),
  )
  .default({ kind: 'sqlite' });

export type StoreConfig = z.output<typeof storeSchema>;
export type PostgresStoreConfig = Extract<StoreConfig, { kind: 'postgres' }>;
