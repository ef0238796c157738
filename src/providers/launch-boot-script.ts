import { readFileSync } from 'node:fs';
import { ProviderError, errorMessage } from '../core/errors.ts';
import { formatLabelsFlag, renderAgentBootScript } from './boot-script.ts';
import type { LaunchRequest } from './provider.ts';

/** How a cloud adapter renders its boot script: the template and what the instance image provides. */
export interface LaunchBootScriptSettings {
  readonly template: string;
  /** The argv prefix that starts `spillway agent` on the instance. */
  readonly agentCommand: readonly string[];
  /** Where the CA bundle is written on the instance. */
  readonly caFile: string;
}

/**
 * The boot script of one cloud launch (EC2 user data, GCE `startup-script`): the template rendered with the
 * offering's capacity and labels and the intent's bootstrap parameters. A pure function of its inputs, so a retried
 * launch sends identical bytes. Throws a non-retryable ProviderError for a placeholder without a value.
 */
export function renderLaunchBootScript(request: LaunchRequest, settings: LaunchBootScriptSettings): string {
  const { capacity, labels } = request.offering;
  return renderAgentBootScript(
    {
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
    },
    settings.template,
  );
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
