import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ValidationError, errorMessage } from '../core/errors.ts';
import { DEMO_POLICY } from '../core/policy.ts';
import { configSchema, type Config } from './schema.ts';
import { parseWith } from './validate.ts';

/**
 * The embedded defaults `spillway serve` runs on without a config file: a SQLite store and a local cloud under
 * `.spillway/`, two private agents of 2 CPUs each, and the demo's short policy.
 */
export const DEMO_CONFIG_INPUT = {
  clusterId: 'demo',
  pool: { privateAgents: { count: 2, cpu: 2, memory: '4Gi' } },
  controller: { passIntervalMs: 500, releaseOnShutdown: true },
  providers: [
    {
      kind: 'local',
      name: 'demo',
      bootDelayMs: 1_000,
      offerings: [
        { instanceType: 'local.small', cpu: 2, memory: '4Gi', pricePerHourUsd: 0.0832, spotPricePerHourUsd: 0.031 },
        { instanceType: 'local.large', cpu: 4, memory: '8Gi', pricePerHourUsd: 0.1664, spotPricePerHourUsd: 0.062 },
      ],
    },
  ],
  policy: { ...DEMO_POLICY },
} as const;

/** Validates a config object; errors name the key (`providers.0.offerings.1.memory`). */
export function parseConfig(input: unknown): Config {
  return parseWith(configSchema, input);
}

/**
 * Reads and validates `spillway.yaml`, or returns the embedded demo config when no file is named (its folder is
 * `$SPILLWAY_HOME`, default `.spillway`).
 */
export function loadConfig(file: string | undefined): Config {
  if (file === undefined) {
    // The demo's folder moves with SPILLWAY_HOME, as the CLI's local defaults do.
    const home = process.env.SPILLWAY_HOME;
    return parseConfig(home ? { ...DEMO_CONFIG_INPUT, home } : DEMO_CONFIG_INPUT);
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ValidationError('--config', `cannot read ${file}: ${errorMessage(err)}`);
  }
  let input: unknown;
  try {
    input = parseYaml(text);
  } catch (err) {
    throw new ValidationError('--config', `${file} is not valid YAML: ${errorMessage(err)}`);
  }
  return parseConfig(input ?? {});
}

/** Resolves a path from the config against the home folder. */
export function homePath(config: Config, ...parts: string[]): string {
  const home = resolve(config.home);
  const joined = join(...parts);
  return isAbsolute(joined) ? joined : join(home, joined);
}

/** The SQLite store's file. Throws a ValidationError naming `store.kind` when the store is PostgreSQL. */
export function storePath(config: Config): string {
  if (config.store.kind !== 'sqlite') throw new ValidationError('store.kind', `the ${config.store.kind} store has no file`);
  return config.store.path ? resolve(config.store.path) : homePath(config, 'spillway.db');
}
