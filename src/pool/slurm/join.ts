import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { PROTOCOL_VERSION } from '../../agent/protocol.ts';
import { fetchInstanceIdentity } from '../../agent/identity.ts';
import { register } from '../../agent/registration.ts';
import { LABEL_PROVIDER } from '../../providers/local/offerings.ts';
import { DEFAULT_BACKOFF } from '../../agent/retry.ts';
import { ApiClient } from '../../api/client.ts';
import { ValidationError } from '../../core/errors.ts';
import { parseCpuMillis, parseMemoryMiB } from '../../core/resources.ts';
import { parseLabels } from '../../cli/flags.ts';
import { createLogger } from '../../log/logger.ts';

/** The Slurm node name of a cloud instance: the prefix and a short hash of its instance id (stable, name-safe). */
export function cloudNodeName(prefix: string, instanceId: string): string {
  return `${prefix}${createHash('sha256').update(instanceId).digest('hex').slice(0, 10)}`;
}

/** The answer of GET /v1/agents/{id}/slurm/munge-key. */
export interface MungeKeyResponse {
  /** The cluster's munge key, base64. */
  readonly key: string;
}

/**
 * The join step of a Slurm cloud node's boot script: registers the instance with the bootstrap credential from
 * `SPILLWAY_TOKEN` (instance id from `SPILLWAY_INSTANCE_ID`), fetches the munge key with the agent credential it got
 * back, writes the key to `--munge-key` (mode 0600) and prints the node's name. Exits non-zero with a message when
 * the controller refuses or the registration deadline passes.
 */
export async function joinMain(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      url: { type: 'string' },
      cpu: { type: 'string' },
      memory: { type: 'string' },
      labels: { type: 'string', default: '' },
      'node-prefix': { type: 'string', default: 'spw-' },
      'munge-key': { type: 'string' },
      'deadline-ms': { type: 'string', default: '120000' },
    },
  });
  const logger = createLogger({ level: 'info' });
  const url = required(values.url, '--url');
  const keyFile = required(values['munge-key'], '--munge-key');
  const credential = required(env.SPILLWAY_TOKEN, 'SPILLWAY_TOKEN');
  const instanceId = required(env.SPILLWAY_INSTANCE_ID, 'SPILLWAY_INSTANCE_ID');
  const ca = env.SPILLWAY_CA_FILE ? readFileSync(env.SPILLWAY_CA_FILE, 'utf8') : undefined;
  const name = cloudNodeName(values['node-prefix'], instanceId);
  const bootstrap = new ApiClient({ url, token: credential, ...(ca ? { ca } : {}) });
  let registered;
  try {
    registered = await register({
      client: bootstrap,
      token: credential,
      request: {
        name,
        instanceId,
        capacity: {
          cpuMillis: parseCpuMillis(required(values.cpu, '--cpu'), '--cpu'),
          memoryMiB: parseMemoryMiB(required(values.memory, '--memory'), '--memory'),
          gpus: 0,
          netMbps: 0,
        },
        labels: parseLabels('--labels', values.labels),
      },
      identity: () =>
        fetchInstanceIdentity({
          providerId: parseLabels('--labels', values.labels)[LABEL_PROVIDER],
          metadataUrl: env.SPILLWAY_METADATA_URL || undefined,
          audience: url,
          env,
          signal: new AbortController().signal,
        }),
      backoff: DEFAULT_BACKOFF,
      deadlineMs: Number(values['deadline-ms']),
      logger,
      signal: new AbortController().signal,
    });
  } finally {
    bootstrap.close();
  }
  if (registered.protocolVersion !== PROTOCOL_VERSION)
    throw new ValidationError('protocolVersion', 'protocol mismatch');
  const agent = new ApiClient({ url, token: registered.token, ...(ca ? { ca } : {}) });
  try {
    const { key } = await agent.get<MungeKeyResponse>(`/v1/agents/${registered.agentId}/slurm/munge-key`);
    writeFileSync(keyFile, Buffer.from(key, 'base64'), { mode: 0o600 });
  } finally {
    agent.close();
  }
  logger.info('joined as slurm node', { agentId: registered.agentId, node: name });
  process.stdout.write(`${name}\n`);
  return 0;
}

function required(value: string | undefined, what: string): string {
  if (!value) throw new ValidationError(what, 'required');
  return value;
}
