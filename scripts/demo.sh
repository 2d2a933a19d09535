#!/bin/sh
# The demo: a simulated virtualization host (examples/hosts/lab.toml) configured from
# examples/config/lab/. Shows the devices, the plan with its verdicts, applies it, and shows the result.
# Needs root for the simulated host (namespaces, FUSE); uses sudo when not root.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
TOP=$(pwd)
exec $SUDO "$TOP/build/simhost/runtime/simhost" run --host "$TOP/examples/hosts/lab.toml" -- \
    "$TOP/scripts/demo-inside.sh" "$TOP"
