#!/bin/sh
# Every benchmark (docs/benchmarks.md) in one command: installs dependencies, builds the measured
# binaries optimised into build-bench/ (RelWithDebInfo: -O2 -g, so perf has symbols), and runs
# bench/run.sh --real-kernel (the simhost scenarios, then B1 on Debian's kernel in a QEMU guest), which
# prints the table. Needs root (simhost, QEMU's 9p share); arguments go to bench/run.sh (e.g. --only b1,
# --keep).
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build-bench}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" --target simhost hostdevd hostdevctl bench_bus_latency bench_b1_floor bench_describe_flood
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
exec $SUDO bench/run.sh --real-kernel "$@" "$BUILD_DIR"
