import { ProviderError } from '../../core/errors.ts';
import { AGENT_START_SCRIPT } from '../boot-script.ts';
import { renderLaunchBootScript, type LaunchBootScriptSettings } from '../launch-boot-script.ts';
import type { LaunchRequest } from '../provider.ts';

/** The metadata key GCE's guest environment runs at every boot. */
export const STARTUP_SCRIPT_KEY = 'startup-script';

/**
 * The sh lines that set and export SPILLWAY_METADATA_URL and SPILLWAY_INSTANCE_ID: the instance's `zone/name` through
 * the metadata server, unless the environment already names it.
 */
export const GCE_INSTANCE_ID_SCRIPT = `SPILLWAY_METADATA_URL=\${SPILLWAY_METADATA_URL:-http://metadata.google.internal}
export SPILLWAY_METADATA_URL
if [ -z "\${SPILLWAY_INSTANCE_ID:-}" ]; then
  zone=$(curl -fsS -H 'Metadata-Flavor: Google' "$SPILLWAY_METADATA_URL/computeMetadata/v1/instance/zone")
  name=$(curl -fsS -H 'Metadata-Flavor: Google' "$SPILLWAY_METADATA_URL/computeMetadata/v1/instance/name")
  SPILLWAY_INSTANCE_ID="\${zone##*/}/$name"
fi
export SPILLWAY_INSTANCE_ID
`;

/**
 * The default `startup-script`: POSIX sh. It finds the instance's `zone/name` through the metadata server (unless the
 * environment already names it), writes the CA bundle, and starts the agent with the intent's bootstrap credential in
 * its environment, never on a command line. Every instance of a launch gets the same script, so a retried insert sends
 * identical parameters. `SPILLWAY_METADATA_URL` moves the metadata server (the GCE emulator serves one per instance);
 * the agent's preemption watcher reads it too. Placeholders are those of providers/boot-script.ts.
 */
export const GCE_BOOT_TEMPLATE = `#!/bin/sh
# Spillway GCE startup script, rendered once per launch intent. Values are shell-quoted.
set -eu
${GCE_INSTANCE_ID_SCRIPT}${AGENT_START_SCRIPT}`;

/** GCE refuses a single metadata value above 256 KB. */
export const MAX_METADATA_VALUE_BYTES = 256 * 1024;

export type StartupScriptSettings = LaunchBootScriptSettings;

/**
 * The startup script of one launch: the template, or the settings' renderer (Slurm mode's join script) after
 * GCE_INSTANCE_ID_SCRIPT. A pure function of the request and the settings, so a retry renders the same bytes. Throws a non-retryable ProviderError when the template has a placeholder without a value or the script is
 * too large.
 */
export function renderStartupScript(request: LaunchRequest, settings: StartupScriptSettings): string {
  const script = renderLaunchBootScript(request, settings, GCE_INSTANCE_ID_SCRIPT);
  const bytes = Buffer.byteLength(script, 'utf8');
  if (bytes > MAX_METADATA_VALUE_BYTES) {
    throw new ProviderError(
      `rendering the startup script for intent ${request.intentId}: ${bytes} bytes, above GCE's ` +
        `${MAX_METADATA_VALUE_BYTES} per metadata value (a large CA bundle or template?)`,
    );
  }
  return script;
}
