import { invalid } from './gce-fault.ts';
import type { NewInstance } from './gce-world.ts';

interface Props {
  machineType?: unknown;
  labels?: unknown;
  metadata?: { items?: Array<{ key?: unknown; value?: unknown }> };
  scheduling?: { provisioningModel?: unknown; instanceTerminationAction?: unknown; preemptible?: unknown };
}

/** `zones/z/machineTypes/x`, a full URL, or (in bulkInsert's instanceProperties) the bare name -> `x`. */
function machineTypeOf(value: unknown): string {
  const text = typeof value === 'string' ? value : '';
  if (text === '') throw invalid("Invalid value for field 'resource.machineType': ''. Must be specified.");
  return text.split('/').pop()!;
}

function properties(p: Props, template: string): Omit<NewInstance, 'name'> {
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries((p.labels ?? {}) as Record<string, unknown>)) {
    if (!/^[a-z][a-z0-9_-]{0,62}$/.test(key) || typeof value !== 'string' || !/^[a-z0-9_-]{0,63}$/.test(value)) {
      throw invalid(
        `Invalid value for field 'resource.labels': '${key}=${String(value)}'. Label keys and values must conform to regex.`,
      );
    }
    labels[key] = value;
  }
  const metadata = new Map<string, string>();
  for (const item of p.metadata?.items ?? []) metadata.set(String(item.key ?? ''), String(item.value ?? ''));
  const spot = p.scheduling?.provisioningModel === 'SPOT' || p.scheduling?.preemptible === true;
  return {
    machineType: machineTypeOf(p.machineType),
    labels,
    metadata,
    spot,
    terminationAction: spot ? String(p.scheduling?.instanceTerminationAction ?? 'STOP') : '',
    template,
  };
}

/** The instances an insert (an Instance body) or a bulkInsert (a BulkInsertInstanceResource body) asks for. */
export function newInstancesOf(
  body: Record<string, unknown>,
  template: string,
  action: 'insert' | 'bulkInsert',
): NewInstance[] {
  if (action === 'insert') return [{ name: String(body.name ?? ''), ...properties(body as Props, template) }];
  const count = Number(body.count ?? 0);
  const minCount = Number(body.minCount ?? count);
  if (!Number.isInteger(count) || count < 1 || count > 1_000) {
    throw invalid(`Invalid value for field 'resource.count': '${String(body.count)}'. Must be between 1 and 1000.`);
  }
  if (minCount !== count)
    throw invalid("Invalid value for field 'resource.minCount': the emulator creates all or none");
  const names = Object.keys((body.perInstanceProperties ?? {}) as Record<string, unknown>);
  if (names.length !== count) {
    throw invalid(
      `Invalid value for field 'resource.perInstanceProperties': ${names.length} names for count ${count}.`,
    );
  }
  const props = properties((body.instanceProperties ?? {}) as Props, template);
  return names.map((name) => ({ name, ...props }));
}
