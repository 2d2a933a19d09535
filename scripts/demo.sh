#!/bin/sh
# The demo: a simulated virtualization host (examples/hosts/lab.toml) with a private system bus and the
# unmodified hostdevd configured from examples/config/lab/. Needs root for the simulated host
# (namespaces, FUSE); uses sudo when not root.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
TOP=$(pwd)
exec $SUDO env PATH="$TOP/build/simhost/runtime:$PATH" "$TOP/build/simhost/runtime/simhost" run \
    --host "$TOP/examples/hosts/lab.toml" -- "$TOP/scripts/demo-inside.sh" "$TOP"
