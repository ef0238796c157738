import { ValidationError } from '../core/errors.ts';
import { shellQuote } from './boot-script.ts';

/** The clouds a boot-script template can be made for: they differ only in how an instance learns its own id. */
export const BootCloud = { awsEc2: 'aws-ec2', gcpCompute: 'gcp-compute' } as const;
export type BootCloud = (typeof BootCloud)[keyof typeof BootCloud];

/** A file the boot script downloads, pinned by its SHA-256 digest. */
export interface PinnedDownload {
  /** `https://...` (or `http://` on a trusted private network, as the tests do). */
  readonly url: string;
  /** 64 lowercase hex digits. */
  readonly sha256: string;
}

/** What a deployment bakes into its boot-script template (the infra program's stack config gives these). */
export interface CloudBootSettings {
  readonly cloud: BootCloud;
  /** A Node.js 24 Linux tarball for the instances' architecture (`node-v24.x.y-linux-x64.tar.xz`). */
  readonly node: PinnedDownload;
  /**
   * The Spillway package: the `.tgz` that `npm run build && npm pack` makes, whose `package/` folder holds bin/,
   * dist/, data/ and its production dependencies (bundled), so instances need no package registry. It holds no secret.
   */
  readonly agentPackage: PinnedDownload;
  /** Where Node.js and Spillway are installed on the instance (`/opt/spillway`). */
  readonly installDir: string;
}

const SHA256 = /^[0-9a-f]{64}$/;
const URL_SCHEME = /^https?:\/\/\S+$/;

/**
 * Checks the settings; throws a ValidationError naming the field (`node.sha256`). No value may contain `{{`, or the
 * adapter's rendering would take it for a placeholder.
 */
export function validateCloudBootSettings(settings: CloudBootSettings, prefix = ''): void {
  const field = (name: string): string => `${prefix}${name}`;
  if (!Object.values(BootCloud).includes(settings.cloud)) {
    throw new ValidationError(field('cloud'), `expected aws-ec2 or gcp-compute, got ${JSON.stringify(settings.cloud)}`);
  }
  for (const [name, download] of [
    ['node', settings.node],
    ['agentPackage', settings.agentPackage],
  ] as const) {
    if (!URL_SCHEME.test(download.url) || download.url.includes('{{')) {
      throw new ValidationError(field(`${name}.url`), `expected an http(s) URL, got ${JSON.stringify(download.url)}`);
    }
    if (!SHA256.test(download.sha256)) {
      throw new ValidationError(
        field(`${name}.sha256`),
        `expected 64 lowercase hex digits (sha256sum's output), got ${JSON.stringify(download.sha256)}`,
      );
    }
  }
  if (!settings.installDir.startsWith('/') || /[{}\s]/.test(settings.installDir)) {
    throw new ValidationError(
      field('installDir'),
      `expected an absolute path without spaces or braces, got ${JSON.stringify(settings.installDir)}`,
    );
  }
}

/**
 * How an instance learns its id (as its adapter reports it) when the environment does not name it: EC2's instance id
 * through IMDSv2, GCE's `zone/name` from its metadata server.
 */
const INSTANCE_ID: Record<BootCloud, string> = {
  'aws-ec2': `SPILLWAY_METADATA_URL=\${SPILLWAY_METADATA_URL:-http://169.254.169.254}
export SPILLWAY_METADATA_URL
if [ -z "\${SPILLWAY_INSTANCE_ID:-}" ]; then
  imds_token=$(curl -fsS --retry 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$SPILLWAY_METADATA_URL/latest/api/token")
  SPILLWAY_INSTANCE_ID=$(curl -fsS --retry 5 -H "X-aws-ec2-metadata-token: $imds_token" "$SPILLWAY_METADATA_URL/latest/meta-data/instance-id")
  unset imds_token
fi`,
  'gcp-compute': `SPILLWAY_METADATA_URL=\${SPILLWAY_METADATA_URL:-http://metadata.google.internal}
export SPILLWAY_METADATA_URL
if [ -z "\${SPILLWAY_INSTANCE_ID:-}" ]; then
  zone=$(curl -fsS --retry 5 -H 'Metadata-Flavor: Google' "$SPILLWAY_METADATA_URL/computeMetadata/v1/instance/zone")
  name=$(curl -fsS --retry 5 -H 'Metadata-Flavor: Google' "$SPILLWAY_METADATA_URL/computeMetadata/v1/instance/name")
  SPILLWAY_INSTANCE_ID="\${zone##*/}/$name"
fi`,
};

/**
 * The boot-script template of one cloud deployment: a POSIX sh script, run as root at first boot, that installs
 * Node.js 24 and the Spillway package (each download checked against its pinned SHA-256), writes the controller's CA
 * bundle, and starts `spillway agent`, which registers with the launch intent's bootstrap credential. The
 * deployment's values are baked in, shell-quoted; the per-launch values stay `{{placeholders}}` (those of
 * providers/boot-script.ts), which the adapter renders into each launch's user data or metadata. The credential is
 * the only secret in it: it reaches the agent through its environment only, is usable once per instance of its
 * intent, and expires; no long-lived secret is ever in the script. Downloads trust the system CAs plus the
 * controller's CA bundle, so the package can be served by the controller over TLS.
 * Throws a ValidationError naming the bad setting.
 */
export function cloudBootTemplate(settings: CloudBootSettings): string {
  validateCloudBootSettings(settings);
  const q = (value: string): string => shellQuote(value);
  return `#!/bin/sh
# Spillway ${settings.cloud} boot script: installs Node.js 24 and Spillway, then starts the agent. Rendered once per
# launch intent; values are shell-quoted.
set -eu
umask 022
install_dir=${q(settings.installDir)}
node_url=${q(settings.node.url)}
node_sha256=${q(settings.node.sha256)}
package_url=${q(settings.agentPackage.url)}
package_sha256=${q(settings.agentPackage.sha256)}
${INSTANCE_ID[settings.cloud]}
export SPILLWAY_INSTANCE_ID
ca_bundle={{caBundle}}
trust=
if [ -n "$ca_bundle" ]; then
  ca_file={{caFile}}
  mkdir -p "$(dirname "$ca_file")"
  printf '%s\\n' "$ca_bundle" > "$ca_file"
  SPILLWAY_CA_FILE=$ca_file
  export SPILLWAY_CA_FILE
  trust="$install_dir/trust.pem"
  mkdir -p "$install_dir"
  for system_cas in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; do
    if [ -r "$system_cas" ]; then cat "$system_cas"; break; fi
  done > "$trust"
  cat "$ca_file" >> "$trust"
fi
unset ca_bundle
# fetch URL FILE SHA256: downloads URL to FILE and checks its digest; a mismatch stops the boot.
fetch() {
  if [ -n "$trust" ]; then
    curl -fsSL --retry 5 --cacert "$trust" -o "$2" "$1"
  else
    curl -fsSL --retry 5 -o "$2" "$1"
  fi
  if ! printf '%s  %s\\n' "$3" "$2" | sha256sum -c - >/dev/null 2>&1; then
    echo "spillway boot: $1 does not match its pinned SHA-256; stopping" >&2
    exit 1
  fi
}
if [ ! -x "$install_dir/bin/spillway" ]; then
  work=$(mktemp -d)
  fetch "$node_url" "$work/node.tar" "$node_sha256"
  fetch "$package_url" "$work/spillway.tgz" "$package_sha256"
  rm -rf "$install_dir/node" "$install_dir/spillway"
  mkdir -p "$install_dir/node" "$install_dir/spillway" "$install_dir/bin"
  tar -xf "$work/node.tar" -C "$install_dir/node" --strip-components=1
  tar -xf "$work/spillway.tgz" -C "$install_dir/spillway" --strip-components=1
  ln -sf "$install_dir/spillway/bin/spillway.js" "$install_dir/bin/spillway"
  rm -rf "$work"
fi
PATH="$install_dir/bin:$install_dir/node/bin:$PATH"
export PATH
node --version | grep -q '^v24\\.' || { echo 'spillway boot: Node.js 24 is required' >&2; exit 1; }
SPILLWAY_TOKEN={{credential}}
export SPILLWAY_TOKEN
exec {{agentCommand}} --url {{controllerUrl}} --cpu {{cpu}} --memory {{memory}} --net-mbps {{netMbps}} {{gpuFlags}} --labels {{labels}}
`;
}
