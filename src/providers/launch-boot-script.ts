import { readFileSync } from 'node:fs';
import { ProviderError, errorMessage } from '../core/errors.ts';
import { formatLabelsFlag, renderAgentBootScript, type AgentBootParams } from './boot-script.ts';
import type { LaunchRequest } from './provider.ts';

/**
 * Renders an instance's boot script from the agent boot values, in place of the provider's own template (Slurm
 * mode's node join script, slurm-setup.ts's slurmBootRenderer). `scriptId` names the instance's files on its machine:
 * the local provider passes the instance id; a cloud launch, whose instances all get one script, passes the intent
 * id. Must be a pure function of its arguments: a retried cloud launch must send identical bytes.
 */
export type BootScriptRenderer = (scriptId: string, request: LaunchRequest, base: AgentBootParams) => string;

/** How a cloud adapter renders its boot script: the template and what the instance image provides. */
export interface LaunchBootScriptSettings {
  readonly template: string;
  /** The argv prefix that starts `spillway agent` on the instance. */
  readonly agentCommand: readonly string[];
  /** Where the CA bundle is written on the instance. */
  readonly caFile: string;
  /** Renders the script instead of `template` (Slurm mode); the bootstrap credential reaches it in `base` only. */
  readonly render?: BootScriptRenderer | undefined;
}

/**
 * The boot script of one cloud launch (EC2 user data, GCE `startup-script`): the template, or the settings' renderer,
 * given the offering's capacity and labels and the intent's bootstrap parameters. A renderer's script gets
 * `instanceIdScript` (the cloud's sh lines that set and export SPILLWAY_METADATA_URL and SPILLWAY_INSTANCE_ID from
 * its metadata service) right after its `#!` line, under `set -eu`: the adapter's own template does the same, and a
 * renderer's script (a local instance's, whose environment names its id) need not know the cloud. A pure function of
 * its inputs, so a retried launch sends identical bytes. Throws a non-retryable ProviderError for a placeholder
 * without a value, or what the renderer throws.
 */
export function renderLaunchBootScript(
  request: LaunchRequest,
  settings: LaunchBootScriptSettings,
  instanceIdScript: string,
): string {
  const { capacity, labels } = request.offering;
  const base: AgentBootParams = {
    bootDelaySeconds: 0,
    caBundle: request.bootstrap.caBundle,
    caFile: settings.caFile,
    credential: request.bootstrap.credential,
    agentCommand: settings.agentCommand,
    controllerUrl: request.bootstrap.controllerUrl,
    cpu: `${capacity.cpuMillis}m`,
    memory: `${capacity.memoryMiB}Mi`,
    netMbps: capacity.netMbps,
    gpuFlags: capacity.gpus > 0 ? ['--gpus', String(capacity.gpus)] : [],
    labels: formatLabelsFlag(labels),
  };
  if (!settings.render) return renderAgentBootScript(base, settings.template);
  return withInstanceId(settings.render(request.intentId, request, base), instanceIdScript);
}

/** `script` with `instanceIdScript` (and `set -eu`) after its `#!` line; a script without one gets `#!/bin/sh`. */
function withInstanceId(script: string, instanceIdScript: string): string {
  const newline = script.indexOf('\n');
  const hasShebang = script.startsWith('#!') && newline >= 0;
  const shebang = hasShebang ? script.slice(0, newline + 1) : '#!/bin/sh\n';
  const body = hasShebang ? script.slice(newline + 1) : script;
  const lines = instanceIdScript.endsWith('\n') ? instanceIdScript : `${instanceIdScript}\n`;
  return `${shebang}# Spillway: this instance's id, from the cloud's metadata service.\nset -eu\n${lines}${body}`;
}

/** A provider config's `bootScript`: an inline template, a template file, or neither (the built-in one). */
export interface BootScriptConfig {
  readonly template?: string | undefined;
  readonly templateFile?: string | undefined;
}

/** The configured template (inline or file), else `builtIn`. Throws a non-retryable ProviderError on a bad file. */
export function bootTemplateOf(config: BootScriptConfig, builtIn: string): string {
  const { template, templateFile } = config;
  if (template !== undefined) return template;
  if (templateFile === undefined) return builtIn;
  try {
    return readFileSync(templateFile, 'utf8');
  } catch (err) {
    throw new ProviderError(`reading bootScript.templateFile ${templateFile}: ${errorMessage(err)}`);
  }
}
