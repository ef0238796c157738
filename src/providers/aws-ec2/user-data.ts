import { ProviderError } from '../../core/errors.ts';
import { AGENT_START_SCRIPT } from '../boot-script.ts';
import { renderLaunchBootScript, type LaunchBootScriptSettings } from '../launch-boot-script.ts';
import type { LaunchRequest } from '../provider.ts';

/**
 * The sh lines that set and export SPILLWAY_METADATA_URL and SPILLWAY_INSTANCE_ID: the instance id through IMDSv2,
 * unless the environment already names it.
 */
export const EC2_INSTANCE_ID_SCRIPT = `SPILLWAY_METADATA_URL=\${SPILLWAY_METADATA_URL:-http://169.254.169.254}
export SPILLWAY_METADATA_URL
if [ -z "\${SPILLWAY_INSTANCE_ID:-}" ]; then
  imds_token=$(curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$SPILLWAY_METADATA_URL/latest/api/token")
  SPILLWAY_INSTANCE_ID=$(curl -fsS -H "X-aws-ec2-metadata-token: $imds_token" "$SPILLWAY_METADATA_URL/latest/meta-data/instance-id")
  unset imds_token
fi
export SPILLWAY_INSTANCE_ID
`;

/**
 * The default EC2 user data: a POSIX sh script cloud-init runs once at first boot. It finds the instance id through
 * IMDSv2 (unless the environment already names it), writes the CA bundle, and starts the agent with the intent's
 * bootstrap credential in its environment, never on a command line. Every instance of a launch gets the same script,
 * so a retried RunInstances sends identical parameters. Placeholders are those of providers/boot-script.ts.
 * `SPILLWAY_METADATA_URL` moves the metadata service (the EC2 emulator serves one per instance); the agent's spot
 * interruption watcher reads it too.
 */
export const EC2_BOOT_TEMPLATE = `#!/bin/sh
# Spillway EC2 user data, rendered once per launch intent. Values are shell-quoted.
set -eu
${EC2_INSTANCE_ID_SCRIPT}${AGENT_START_SCRIPT}`;

/** EC2 refuses user data above 16 KB before base64 encoding. */
export const MAX_USER_DATA_BYTES = 16 * 1024;

export type UserDataSettings = LaunchBootScriptSettings;

/**
 * The base64 user data of one launch: the template, or the settings' renderer (Slurm mode's join script) after
 * EC2_INSTANCE_ID_SCRIPT. A pure function of the request and the settings, so a retry renders the same bytes. Throws a non-retryable ProviderError when the template has a placeholder without a value or the script is
 * too large.
 */
export function renderUserData(request: LaunchRequest, settings: UserDataSettings): string {
  const script = renderLaunchBootScript(request, settings, EC2_INSTANCE_ID_SCRIPT);
  const bytes = Buffer.byteLength(script, 'utf8');
  if (bytes > MAX_USER_DATA_BYTES) {
    throw new ProviderError(
      `rendering user data for intent ${request.intentId}: ${bytes} bytes, above EC2's ${MAX_USER_DATA_BYTES} ` +
        '(a large CA bundle or template?)',
    );
  }
  return Buffer.from(script, 'utf8').toString('base64');
}
