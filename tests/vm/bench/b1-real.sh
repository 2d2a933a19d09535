#!/bin/sh
# B1 on the real kernel (a measurement, not a test: tests/vm/run.sh runs it only when named, and it
# never fails on a figure). Three extra NVMe PFs with 64 VFs each (HOSTDEVD_VM_BENCH_PFS=3), one per
# contender so that nobody has to disable VFs (the kernel sleeps a second per VF, iov.c):
#   A: hostdevctl apply, configuration "64 VFs, all on vfio-pci";
#   B: the status quo, `echo 64 > sriov_numvfs` + `driverctl --nosave set-override VF vfio-pci` per VF;
#   C: the floor, bench_b1_floor (the minimum writes alone, nothing read).
# Equal start for all three, outside the timings: vfio-pci loaded, sriov_drivers_autoprobe 0 (with
# autoprobe on, nvme would grab every VF as it appears). Wall times (date +%s.%N around each command)
# go to $VM_RESULTS/bench/b1-real.json; every VF is checked on vfio-pci afterwards.
. "$(dirname "$0")/../scenarios/lib.sh"
CTL=$VM_HOSTDEVCTL
FLOOR=$VM_BUILD/bench/bench_b1_floor
[ -x "$CTL" ] || fail "hostdevctl not built ($CTL)"
[ -x "$FLOOR" ] || fail "bench_b1_floor not built ($FLOOR)"
command -v driverctl >/dev/null || fail "driverctl not installed (scripts/install-deps.sh)"

pfs=
for f in "$SYS_PCI"/devices/*/sriov_totalvfs; do
    [ "$(cat "$f")" = 64 ] && pfs="$pfs $(basename "$(dirname "$f")")"
done
set -- $pfs
[ $# -ge 3 ] || fail "3 PFs with 64 VFs needed (HOSTDEVD_VM_BENCH_PFS=3), found $#"
A=$1 B=$2 C=$3
modprobe vfio-pci || fail "modprobe vfio-pci"
for pf in $A $B $C; do
    wait_until 20 "nvme bound to $pf" is_bound_to "$pf" nvme
    echo 0 >"$SYS_PCI/devices/$pf/sriov_drivers_autoprobe"
done

clock() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
all_on_vfio() {
    for i in $(seq 0 63); do
        is_bound_to "$(vf_addr "$1" "$i")" vfio-pci || fail "$2: VF $i of $1 is on $(driver_of "$(vf_addr "$1" "$i")")"
    done
}

CFG=/tmp/b1-config
mkdir -p "$CFG"
vfio_vf_config "$A" 64 >"$CFG/hostdevd.toml"
t0=$(clock)
"$CTL" apply --config-dir "$CFG" >"$VM_RESULTS/bench/b1-real-hostdevctl.txt" 2>&1 || fail "hostdevctl apply exited $?"
t1=$(clock)
all_on_vfio "$A" hostdevctl
hostdevd=$(seconds "$t0" "$t1")
echo "hostdevctl apply: $hostdevd s"

t0=$(clock)
echo 64 >"$SYS_PCI/devices/$B/sriov_numvfs"
numvfs=$(seconds "$t0" "$(clock)") # the kernel's part: enabling 64 VFs (iov.c), the same for everyone
for i in $(seq 0 63); do
    driverctl --nosave set-override "$(vf_addr "$B" "$i")" vfio-pci || fail "driverctl failed on VF $i"
    echo "status quo: VF $i at $(seconds "$t0" "$(clock)") s"
done
t1=$(clock)
all_on_vfio "$B" "status quo"
status_quo=$(seconds "$t0" "$t1")

# The floor needs the VF addresses before they exist: offset and stride place them (iov.c).
FDIR=/tmp/b1-floor
mkdir -p "$FDIR"
echo "$C 64" >"$FDIR/pfs.list"
: >"$FDIR/mdevs.list"
python3 - "$C" "$(cat "$SYS_PCI/devices/$C/sriov_offset")" "$(cat "$SYS_PCI/devices/$C/sriov_stride")" >"$FDIR/vfs.list" <<'PY'
import sys
dom, bus, devfn = sys.argv[1].split(":")[0], int(sys.argv[1].split(":")[1], 16), int(sys.argv[1].split(":")[2].split(".")[0], 16) << 3 | int(sys.argv[1].split(".")[1])
offset, stride = int(sys.argv[2]), int(sys.argv[3])
for i in range(64):
    rid = (bus << 8 | devfn) + offset + stride * i
    print(f"{dom}:{rid >> 8:02x}:{(rid & 0xff) >> 3:02x}.{rid & 7}")
PY
t0=$(clock)
"$FLOOR" "$FDIR" || fail "bench_b1_floor exited $?"
t1=$(clock)
all_on_vfio "$C" floor
floor=$(seconds "$t0" "$t1")

cat >"$VM_RESULTS/bench/b1-real.json" <<JSON
{"vfs": 64, "hostdevd_seconds": $hostdevd, "status_quo_seconds": $status_quo, "floor_seconds": $floor,
 "sriov_numvfs_seconds": $numvfs, "kernel": "$(uname -r)"}
JSON
echo "hostdevd $hostdevd s, status quo $status_quo s, floor $floor s"
