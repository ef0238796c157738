import { ProviderError } from '../../core/errors.ts';
import { renderBootScript, type AgentBootParams } from '../../providers/boot-script.ts';
import type { LaunchRequest } from '../../providers/provider.ts';
import type { SlurmPoolConfig } from './slurm-config.ts';
import { nodeConf, shapeOf } from './slurm-shapes.ts';

/**
 * The boot script of a Slurm cloud node, in POSIX sh: it registers the instance with Spillway (the bootstrap
 * credential in, the agent credential out) and fetches the cluster's munge key with that agent credential (the join
 * step prints the node's name), starts its own munged with the key, and then a configless dynamic slurmd
 * (`slurmd -Z --conf-server ... --conf "CPUs=.. RealMemory=.. Feature=cloud,..."`). The key never travels in the
 * script, and the credential reaches the join step through its environment only.
 *
 * With `netns` names (local instances on one machine), it first takes a network namespace no process uses, under a
 * lock, and runs munged and slurmd there with a /run of their own: one address per node, and the node's munged at
 * the socket path slurm.conf names. If slurmd exits, the instance stays up (as a machine would) until Spillway,
 * seeing the node down in Slurm, terminates it.
 */
export const SLURM_BOOT_TEMPLATE = `#!/bin/sh
# Spillway boot script for a Slurm cloud node, rendered once per launch intent and instance. Values are shell-quoted.
set -eu
sleep {{bootDelaySeconds}}
work={{workDir}}
mkdir -p "$work"
chmod 700 "$work"
ca_bundle={{caBundle}}
if [ -n "$ca_bundle" ]; then
  ca_file={{caFile}}
  (umask 022 && printf '%s\\n' "$ca_bundle" > "$ca_file")
  SPILLWAY_CA_FILE=$ca_file
  export SPILLWAY_CA_FILE
fi
unset ca_bundle
SPILLWAY_TOKEN={{credential}}
export SPILLWAY_TOKEN
node=$({{joinCommand}} --url {{controllerUrl}} --cpu {{cpu}} --memory {{memory}} --labels {{labels}} --node-prefix {{nodePrefix}} --munge-key "$work/munge.key")
unset SPILLWAY_TOKEN
echo "boot: joining Slurm as node $node"
SPW_WORK=$work SPW_NODE=$node SPW_CONF={{nodeConf}} SPW_CONF_SERVER={{confServer}} SPW_MUNGE_SOCKET={{mungeSocket}}
export SPW_WORK SPW_NODE SPW_CONF SPW_CONF_SERVER SPW_MUNGE_SOCKET
run_node='
set -eu
exec 9>&-
if [ "\${SPW_PRIVATE_RUN:-0}" = 1 ]; then mount -t tmpfs -o mode=755 tmpfs /run; fi
mkdir -p "$(dirname "$SPW_MUNGE_SOCKET")" /run/munge
munged -F --force --socket="$SPW_MUNGE_SOCKET" --key-file="$SPW_WORK/munge.key" --pid-file="$SPW_WORK/munged.pid" \\
  --seed-file="$SPW_WORK/munged.seed" --log-file="$SPW_WORK/munged.log" &
if [ "$SPW_MUNGE_SOCKET" != /run/munge/munge.socket.2 ]; then ln -sf "$SPW_MUNGE_SOCKET" /run/munge/munge.socket.2; fi
i=0
while [ ! -S "$SPW_MUNGE_SOCKET" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if [ "\${SPW_PRIVATE_RUN:-0}" = 1 ]; then
  # A local instance ends as a machine would: everything in its network namespace goes (slurmstepd and jobs
  # leave slurmd'"'"'s process group and environment).
  trap '"'"'me=$(readlink /proc/self/ns/net); pids=""; for p in /proc/[0-9]*; do
    [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$me" ] && [ "\${p#/proc/}" != $$ ] && pids="$pids \${p#/proc/}"
  done; kill -9 $pids 2>/dev/null; exit 143'"'"' TERM
fi
env -u SLURM_CONF slurmd -D -Z -N "$SPW_NODE" --conf-server "$SPW_CONF_SERVER" --conf "$SPW_CONF" &
status=0
wait $! || status=$?
echo "boot: slurmd exited with status $status; the node stays up until it is terminated"
while :; do sleep 3600 & wait $!; done
'
set -- {{netns}}
if [ $# -eq 0 ]; then exec sh -c "$run_node"; fi
lock={{netnsLock}}
exec 9>>"$lock"
flock 9
# The free namespace used least recently: slurmctld may still map a just-deleted node's address to its old name.
slot=''
best=''
for ns in "$@"; do
  if [ -z "$(ip netns pids "$ns" 2>/dev/null)" ]; then
    used=$(cat "$lock.$ns" 2>/dev/null || echo 0)
    if [ -z "$slot" ] || [ "$used" -lt "$best" ]; then slot=$ns; best=$used; fi
  fi
done
if [ -z "$slot" ]; then echo "boot: no free network namespace among $*" >&2; exit 1; fi
date +%s%N > "$lock.$slot"
echo "boot: network namespace $slot"
SPW_PRIVATE_RUN=1 exec nsenter --net="/run/netns/$slot" unshare -m --propagation private sh -c "$run_node"
`;

/**
 * Renders SLURM_BOOT_TEMPLATE for one instance: the agent boot values the provider computed, with the shape's
 * `slurmd --conf` and the pool's settings. Throws a non-retryable ProviderError for an offering no shape covers.
 */
export function renderSlurmBootScript(
  config: SlurmPoolConfig,
  joinCommand: readonly string[],
  instanceId: string,
  request: LaunchRequest,
  base: AgentBootParams,
): string {
  const shape = shapeOf(config.shapes, request.offering);
  if (!shape) {
    throw new ProviderError(
      `rendering the Slurm boot script: no shape in pool.shapes covers ${request.offering.instanceType}`,
    );
  }
  return renderBootScript(SLURM_BOOT_TEMPLATE, {
    ...base,
    joinCommand,
    workDir: `${config.nodeWorkDir}/${instanceId}`,
    nodePrefix: config.nodePrefix,
    nodeConf: nodeConf(shape, request.offering),
    confServer: config.confServer,
    mungeSocket: config.mungeSocket,
    netns: config.localNodes?.netns ?? [],
    netnsLock: config.localNodes?.lockFile ?? '/dev/null',
  });
}
