import { fileURLToPath } from 'node:url';
import type { Logger } from '../../log/logger.ts';
import type { AgentBootParams } from '../../providers/boot-script.ts';
import type { CloudProvider, LaunchRequest } from '../../providers/provider.ts';
import type { AsyncStore } from '../../store/async-store.ts';
import { renderSlurmBootScript } from './slurm-boot.ts';
import { childProcessRunner, SlurmCommands } from './slurm-commands.ts';
import type { SlurmPoolConfig } from './slurm-config.ts';
import { SlurmPool } from './slurm-pool.ts';
import { SlurmShapedProvider } from './slurm-shapes.ts';

/** The argv prefix of the join step on the Node running this process (local instances); config may override it. */
export function defaultJoinCommand(): string[] {
  const entry = import.meta.url.endsWith('.ts') ? './join-main.ts' : './join-main.js';
  return [process.execPath, fileURLToPath(new URL(entry, import.meta.url))];
}

/** The local provider's boot script renderer in Slurm mode. */
export function slurmBootRenderer(
  config: SlurmPoolConfig,
): (instanceId: string, request: LaunchRequest, base: AgentBootParams) => string {
  const join = config.joinCommand ?? defaultJoinCommand();
  return (instanceId, request, base) => renderSlurmBootScript(config, join, instanceId, request, base);
}

/**
 * Slurm mode's pool (over Slurm's commands, SLURM_CONF from config) and the providers as its planner sees them:
 * only the configured shapes, labelled with their nodes' features and partitions.
 */
export function createSlurmPool(opts: {
  readonly config: SlurmPoolConfig;
  readonly store: AsyncStore;
  readonly logger: Logger;
  readonly providers: readonly CloudProvider[];
}): { pool: SlurmPool; providers: CloudProvider[] } {
  const { config } = opts;
  const commands = new SlurmCommands(
    childProcessRunner({
      slurmConf: config.slurmConf,
      timeoutMs: config.commandTimeoutMs,
      ...(config.binDir ? { binDir: config.binDir } : {}),
    }),
  );
  const pool = new SlurmPool({
    store: opts.store,
    logger: opts.logger,
    commands,
    config,
    providerKinds: [...new Set(opts.providers.map((p) => p.kind))],
  });
  const providers = opts.providers.map((p) => new SlurmShapedProvider(p, config.shapes, () => pool.cloudPartitions()));
  return { pool, providers };
}
