#!/bin/bash
# Run every benchmark scenario (B1-B8, /work/shared/design/benchmarks.md, docs/benchmarks.md) on simhost and
# print one table. Needs root (simhost) and a build with simhost, hostdevd and hostdevctl:
#   cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
#   cmake --build build-bench --target simhost hostdevd hostdevctl bench_bus_latency bench_b1_floor bench_describe_flood
#   bench/run.sh build-bench
# Options: --real-kernel (also B1 on Debian's kernel in a QEMU guest: tests/vm/bench/b1-real.sh),
#          --idle SECONDS (B6, default 60), --only NAME[,NAME...] (runs among b1, b1-peer, b1-floor, b3, big,
#          small, burst, blocked, flood, and b1-real with --real-kernel),
#          --keep (keep the generated hosts and raw JSON in the work directory it prints).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
idle=60 only="" keep=0 build="" real_kernel=0
while [ $# -gt 0 ]; do
    case $1 in
    --idle) idle=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --real-kernel) real_kernel=1; shift ;;
    -h|--help) sed -n 2,11p "$0"; exit 0 ;;
    *) build=$1; shift ;;
    esac
done
[ -n "$build" ] || { echo "usage: bench/run.sh [--real-kernel] [--idle S] [--only NAME] [--keep] BUILD_DIR" >&2; exit 2; }
build=$(cd "$build" && pwd)
simhost=$build/simhost/runtime/simhost
for f in "$simhost" "$build/reconciler/daemon/hostdevd" "$build/cli/hostdevctl" "$build/bench/bench_bus_latency" \
    "$build/bench/bench_b1_floor" "$build/bench/bench_describe_flood"; do
    [ -x "$f" ] || { echo "bench: $f missing; build the targets simhost hostdevd hostdevctl bench_bus_latency bench_b1_floor bench_describe_flood" >&2; exit 2; }
done
work=$(mktemp -d /tmp/hostdevd-bench.XXXXXX)
[ $keep = 1 ] && echo "bench: work directory $work" >&2 || trap 'rm -rf "$work"' EXIT

# run NAME SCENARIO GEN_ARGS...: generate the host, run the scenario in a fresh simulated host.
# The scenarios that count what hostdevd asks of /sys (B3 reads, B5 listings, B6 idle requests, and B4's
# small host with its big one) run with simhost's caches off: a read served from the kernel's cache
# never reaches simhost's counters (docs/simhost.md "Caching").
run() {
    local name=$1 scenario=$2 cache=""; shift 2
    [ -z "$only" ] || [[ ",$only," == *",$name,"* ]] || return 0
    case $name in b3|burst|big|small|flood) cache=--uncached-sysfs ;; esac
    mkdir -p "$work/$name"
    python3 "$here/gen_host.py" "$@" "$work/$name"
    echo "bench: $name ($scenario, gen_host.py $*)" >&2
    if ! "$simhost" run --host "$work/$name/host.toml" $cache -- python3 "$here/scenario.py" "$scenario" \
        --build "$build" --dir "$work/$name" --out "$work/$name.json" --idle "$idle" \
        > "$work/$name.log" 2>&1; then
        echo "bench: $name failed:" >&2; tail -20 "$work/$name.log" >&2
    fi
}

run b1 converge-hostdevd --pfs 8 --vfs 64 --mdev-parents 4 --mdevs 16
run b1-peer converge-status-quo --pfs 8 --vfs 64 --mdev-parents 4 --mdevs 16
run b1-floor converge-floor --pfs 8 --vfs 64 --mdev-parents 4 --mdevs 16
run b3 noop --pfs 16 --vfs 256
run big daemon-big --pfs 16 --vfs 256 --mdev-parents 16 --mdevs 64 --hotplug-pf 64
run small daemon-hotplug-only --pfs 0 --vfs 64 --hotplug-pf 64
run burst daemon-burst --pfs 16 --vfs 256 --vf-count-unmanaged
run blocked daemon-blocked --pfs 1 --vfs 4
run flood daemon-flood --pfs 16 --vfs 256 --mdev-parents 16 --mdevs 64 --hotplug-pf 64
# B1 on the real kernel: three NVMe PFs with 64 VFs in a QEMU guest (docs/benchmarks.md "B1 on the real
# kernel"); the guest writes its figures to b1-real.json.
if [ $real_kernel = 1 ] && { [ -z "$only" ] || [[ ",$only," == *",b1-real,"* ]]; }; then
    echo "bench: b1-real (QEMU guest, tests/vm/bench/b1-real.sh)" >&2
    if "$here/../tests/vm/prepare.sh" > "$work/b1-real-prepare.log" 2>&1 &&
        HOSTDEVD_VM_BENCH_PFS=3 HOSTDEVD_BUILD_DIR=$build "$here/../tests/vm/run.sh" --timeout 1200 \
            --results "$work/b1-real" bench/b1-real > "$work/b1-real.log" 2>&1; then
        cp "$work/b1-real/bench/b1-real.json" "$work/b1-real.json"
    else
        echo "bench: b1-real failed:" >&2; tail -20 "$work/b1-real.log" >&2
    fi
fi
python3 "$here/table.py" "$work"
