#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, when they are missing: openssl makes the TLS tests'
# certificates; slurmctld, slurmd, slurm-client and munge are the real Slurm the Slurm pool's tests run against;
# iproute2 makes their network namespaces; iptables is the packet filter agents use to keep task uids away from the
# cloud metadata service; chromium is the browser the web console's tests drive (through playwright-core); postgresql
# is the server the PostgreSQL store's tests start in temporary folders (as Debian's postgres user). Runs before `npm test` (pretest). Needs root for apt-get; prints what it
# would install otherwise. A policy-rc.d keeps the packages from starting services: the tests start munged and
# slurmctld themselves, with their own state, and stop them by pid.
set -euo pipefail
packages=(openssl slurmctld slurmd slurm-client munge iproute2 util-linux iptables chromium postgresql)
missing=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  # exit 101: "action forbidden" for every service (invoke-rc.d); removed again below.
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  own_policy=1
fi
trap '[ "$own_policy" = 1 ] && rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
