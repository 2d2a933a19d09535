#!/bin/sh
# Runs inside the simulated host started by demo.sh.
set -eu
TOP=$1
CTL="$TOP/build/cli/hostdevctl"
CONF="$TOP/examples/config/lab"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "lspci -nn (the simulated host, as any tool sees it)"
lspci -nn
step "hostdevctl validate --config-dir examples/config/lab"
"$CTL" validate --config-dir "$CONF"
step "hostdevctl plan (what would happen, and why)"
"$CTL" plan --config-dir "$CONF"
step "hostdevctl apply"
"$CTL" apply --config-dir "$CONF" || true
step "hostdevctl devices"
"$CTL" devices
step "a guest holds VF 0 of ens1f0; asking for 4 VFs instead of 8 is refused, nothing is written"
simhost ctl hold 0000:3b:02.0 --comm qemu-system-x86 >/dev/null
sed 's/^vfs = 8/vfs = 4/' "$CONF/10-nics.toml" > /run/demo-10-nics.toml
mkdir -p /run/demo-conf && cp /run/demo-10-nics.toml /run/demo-conf/10-nics.toml
"$CTL" plan --config-dir /run/demo-conf | grep -E 'set-numvfs|VERDICT' || true
