#!/bin/sh
# The whole test suite: installs dependencies, builds, runs every test with CTest.
# Tests that build simulated hosts need root (mount and network namespaces, FUSE); when not root the
# suite is run through sudo. `--sanitize` builds into build-asan/ with ASan+UBSan and runs there.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
BUILD_DIR=build
EXTRA=""
if [ "${1:-}" = "--sanitize" ]; then
    BUILD_DIR=build-asan
    EXTRA="-DHOSTDEVD_SANITIZE=ON"
    shift
fi
BUILD_DIR=$BUILD_DIR ./scripts/build.sh $EXTRA
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
cd "$BUILD_DIR"
$SUDO ctest --output-on-failure -j2 "$@"
