#!/bin/sh
# The demo: a simulated virtualization host (examples/hosts/lab.toml) with a private system bus and the
# unmodified hostdevd configured from examples/config/lab/. Needs root for the simulated host
# (namespaces, FUSE); uses sudo when not root. Everything it starts (the private dbus-daemon, hostdevd,
# the simulated guest) is stopped when it ends, however it ends (tests/integration checks this).
# BUILD_DIR (default build) names the build tree; HOSTDEVD_DEMO_NO_BUILD=1 skips installing and
# building (the test suite runs the demo on its own build).
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
if [ "${HOSTDEVD_DEMO_NO_BUILD:-0}" != 1 ]; then
    ./scripts/install-deps.sh
    BUILD_DIR=$BUILD_DIR ./scripts/build.sh
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
TOP=$(pwd)
BUILD=$(cd "$BUILD_DIR" && pwd)
exec $SUDO env PATH="$BUILD/simhost/runtime:$PATH" ${HOSTDEVD_DEMO_DIR:+HOSTDEVD_DEMO_DIR=$HOSTDEVD_DEMO_DIR} \
    "$BUILD/simhost/runtime/simhost" run --host "$TOP/examples/hosts/lab.toml" -- \
    "$TOP/scripts/demo-inside.sh" "$TOP" "$BUILD"
