import * as pulumi from '@pulumi/pulumi';
import { parseInfraSettings, SETTING_KEYS, type InfraSettings } from './settings.ts';

/**
 * Reads the `spillway` namespace of the stack config (`spillway:clusterId`, `spillway:aws`, ...) and validates it.
 * Values that are objects or lists are set as JSON or with `pulumi config set --path`.
 */
export function readStackSettings(config: pulumi.Config = new pulumi.Config('spillway')): InfraSettings {
  const input: Record<string, unknown> = {};
  for (const key of SETTING_KEYS) {
    const raw = config.get(key);
    if (raw === undefined) continue;
    input[key] = parseValue(raw);
  }
  return parseInfraSettings(input);
}

/** Config values arrive as strings: JSON ones (objects, lists, numbers, booleans) are parsed, the rest stay text. */
function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}
