import { ValidationError } from '../core/errors.ts';
import { awsEc2ProviderSchema, gcpComputeProviderSchema } from './schema.ts';
import { parseWith } from './validate.ts';

/** What `pulumi stack output --json` prints for a secret output unless `--show-secrets` is given. */
export const SECRET_PLACEHOLDER = '[secret]';

/** The providers section made from a stack's outputs, and what a person should know about it. */
export interface ProvidersFromPulumi {
  /** The cluster id the stack was deployed for: spillway.yaml's `clusterId` must be the same. */
  readonly clusterId: string | undefined;
  /** Provider entries in spillway.yaml's input form (defaults left out), validated. */
  readonly providers: Record<string, unknown>[];
  /** Outputs that were `[secret]` and are not needed (listed so nobody wonders). */
  readonly secretOutputsSkipped: string[];
}

type Outputs = Readonly<Record<string, unknown>>;

/**
 * Turns the infra program's stack outputs (`pulumi stack output --json`: one JSON object of output names to values)
 * into spillway.yaml's `providers` entries: `aws-ec2` when the `aws*` outputs are there, `gcp-compute` when the
 * `gcp*` ones are. A needed output that reads `[secret]` (the outputs were printed without `--show-secrets`) is
 * refused with a ValidationError naming it; secret outputs that are not needed are skipped. Each entry is checked
 * against the provider's config schema, so an error names the output and the config field.
 */
export function providersFromPulumi(input: unknown, source = 'outputs'): ProvidersFromPulumi {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ValidationError(
      source,
      'expected one JSON object of output names to values, as `pulumi stack output --json` prints',
    );
  }
  const outputs = input as Outputs;
  const used = new Set<string>();
  const get = <T>(name: string, check: (v: unknown) => v is T, expected: string): T => {
    used.add(name);
    const value = outputs[name];
    if (value === SECRET_PLACEHOLDER) {
      throw new ValidationError(
        `${source}.${name}`,
        'is a secret output printed as [secret]: run `pulumi stack output --json --show-secrets` to include its value',
      );
    }
    if (!check(value))
      throw new ValidationError(`${source}.${name}`, `expected ${expected}, got ${JSON.stringify(value)}`);
    return value;
  };
  const providers: Record<string, unknown>[] = [];
  if (outputs.awsRegion !== undefined) {
    const entry = {
      kind: 'aws-ec2',
      region: get('awsRegion', isString, 'a region'),
      launchTemplate: { id: get('awsLaunchTemplateId', isString, 'a launch template id') },
      subnets: get('awsSubnets', isArray, 'a list of { id, zone }'),
      instanceTypes: get('awsInstanceTypes', isStringArray, 'a list of instance types').map((instanceType) => ({
        instanceType,
      })),
      bootScript: { template: get('awsBootScriptTemplate', isString, 'the boot-script template') },
    };
    parseWith(awsEc2ProviderSchema, entry, `providers.${providers.length}`);
    providers.push(entry);
  }
  if (outputs.gcpProject !== undefined) {
    const entry = {
      kind: 'gcp-compute',
      project: get('gcpProject', isString, 'a project id'),
      region: get('gcpRegion', isString, 'a region'),
      zones: get('gcpZones', isStringArray, 'a list of zones'),
      instanceTemplate: partialUrl(get('gcpInstanceTemplate', isString, 'an instance template self link')),
      instanceTypes: get('gcpMachineTypes', isStringArray, 'a list of machine types').map((instanceType) => ({
        instanceType,
      })),
      bootScript: { template: get('gcpBootScriptTemplate', isString, 'the boot-script template') },
    };
    parseWith(gcpComputeProviderSchema, entry, `providers.${providers.length}`);
    providers.push(entry);
  }
  if (providers.length === 0) {
    throw new ValidationError(
      source,
      'holds neither awsRegion nor gcpProject: is it the output of Spillway’s infra/ stack?',
    );
  }
  const clusterId = outputs.clusterId;
  return {
    clusterId: typeof clusterId === 'string' && clusterId !== SECRET_PLACEHOLDER ? clusterId : undefined,
    providers,
    secretOutputsSkipped: Object.keys(outputs)
      .filter((name) => !used.has(name) && outputs[name] === SECRET_PLACEHOLDER)
      .sort(),
  };
}

/** `https://www.googleapis.com/compute/v1/projects/p/global/instanceTemplates/t` -> `projects/p/global/instanceTemplates/t`. */
function partialUrl(selfLink: string): string {
  const at = selfLink.indexOf('projects/');
  return at > 0 ? selfLink.slice(at) : selfLink;
}

function isString(v: unknown): v is string {
  return typeof v === 'string' && v !== '';
}

function isArray(v: unknown): v is unknown[] {
  return Array.isArray(v);
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every(isString);
}
