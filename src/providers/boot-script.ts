import { ProviderError } from '../core/errors.ts';

/**
 * A placeholder's value. A string or number renders as one shell word; a list renders as one word per element
 * (an argv prefix, or optional flags that render as nothing when empty).
 */
export type BootScriptValue = string | number | readonly string[];

/** The values of a template's `{{name}}` placeholders. */
export type BootScriptParams = Readonly<Record<string, BootScriptValue>>;

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** One shell word that sh reads back as exactly `value`: single quotes, with `'` written as `'\''`. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * Renders a boot-script template: every `{{name}}` becomes its value, shell-quoted, in one pass (a value that
 * contains `{{x}}` is not expanded again). Throws a non-retryable ProviderError naming the first placeholder
 * that has no value: a template and its caller disagree, and no retry fixes that.
 */
export function renderBootScript(template: string, params: BootScriptParams): string {
  return template.replace(PLACEHOLDER, (_match, name: string) => {
    if (!Object.hasOwn(params, name)) {
      const known = Object.keys(params).sort().join(', ');
      throw new ProviderError(
        `rendering the boot script: the template uses {{${name}}}, which has no value (known: ${known})`,
      );
    }
    const value = params[name] as BootScriptValue;
    if (typeof value === 'number') return shellQuote(String(value));
    if (typeof value === 'string') return shellQuote(value);
    return value.map(shellQuote).join(' ');
  });
}

/** The placeholders LOCAL_BOOT_TEMPLATE uses; cloud templates rendered from infra outputs use the same names. */
export interface AgentBootParams {
  /** Seconds the instance "boots" before the agent starts (`0.5`). */
  readonly bootDelaySeconds: number;
  /** PEM CA bundle; empty over plain HTTP. */
  readonly caBundle: string;
  /** Where the CA bundle is written on the instance. */
  readonly caFile: string;
  /** The intent's bootstrap credential: reaches the agent through its environment only. */
  readonly credential: string;
  /** The argv prefix that starts an agent (`node`, `.../main.ts`, `agent`). */
  readonly agentCommand: readonly string[];
  readonly controllerUrl: string;
  /** A CPU quantity (`2000m`). */
  readonly cpu: string;
  /** A memory quantity (`4096Mi`). */
  readonly memory: string;
  readonly netMbps: number;
  /** `['--gpus', '1']`, or empty. */
  readonly gpuFlags: readonly string[];
  /** `key=value,key=value`, keys sorted. */
  readonly labels: string;
}

/**
 * The lines every agent boot script ends with (local, EC2 user data, GCE startup-script): write the CA bundle, put
 * the intent's bootstrap credential in the environment (never on a command line, so it does not show in `ps`), and
 * start the agent. Placeholders as in AgentBootParams.
 */
export const AGENT_START_SCRIPT = `ca_bundle={{caBundle}}
if [ -n "$ca_bundle" ]; then
  ca_file={{caFile}}
  mkdir -p "$(dirname "$ca_file")"
  (umask 022 && printf '%s\\n' "$ca_bundle" > "$ca_file")
  SPILLWAY_CA_FILE=$ca_file
  export SPILLWAY_CA_FILE
fi
unset ca_bundle
SPILLWAY_TOKEN={{credential}}
export SPILLWAY_TOKEN
exec {{agentCommand}} --url {{controllerUrl}} --cpu {{cpu}} --memory {{memory}} --net-mbps {{netMbps}} {{gpuFlags}} --labels {{labels}}
`;

/**
 * The boot script of a local instance: what cloud user data does, in POSIX sh. The credential is exported, never
 * put on a command line, so it does not show in `ps`.
 */
export const LOCAL_BOOT_TEMPLATE = `#!/bin/sh
# Spillway boot script, rendered once per launch intent and instance. Values are shell-quoted.
set -eu
sleep {{bootDelaySeconds}}
${AGENT_START_SCRIPT}`;

/** Renders LOCAL_BOOT_TEMPLATE (or a cloud template with the same placeholders) for one instance. */
export function renderAgentBootScript(params: AgentBootParams, template: string = LOCAL_BOOT_TEMPLATE): string {
  return renderBootScript(template, { ...params });
}

/** Formats labels for the agent's `--labels` flag: `key=value` pairs joined by commas, keys sorted. */
export function formatLabelsFlag(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .sort()
    .map((key) => `${key}=${labels[key] ?? ''}`)
    .join(',');
}
