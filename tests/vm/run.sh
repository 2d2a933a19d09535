#!/bin/sh
# Boots Debian's kernel (prepared by prepare.sh) in ONE QEMU guest and runs the named scenarios
# (default: every tests/vm/scenarios/*.sh) inside it against real sysfs. The guest sees the host's
# root read-only over 9p (so the repository and build tree are visible at the same paths) under a
# tmpfs overlay; results go to a read-write 9p share.
#
# usage: tests/vm/run.sh [--results DIR] [--timeout SECONDS] [--systemd BOOT] [SCENARIO...]
#        A SCENARIO "bench/NAME" is tests/vm/bench/NAME.sh, a measurement that is never run by default.
#        --systemd BOOT: the guest's PID 1 is Debian's systemd, hostdevd installed from the build tree
#        (guest/systemd-boot.sh, setup BOOT: nomdev or mdev); the scenario defaults to systemd/BOOT
#        (tests/vm/systemd/BOOT.sh). run-systemd.sh runs every systemd boot.
# env:   HOSTDEVD_VM_CACHE  prepared cache (default /var/cache/hostdevd-vm)
#        HOSTDEVD_BUILD_DIR build tree with cli/hostdevctl (default <repo>/build)
#        HOSTDEVCTL         hostdevctl binary (default $HOSTDEVD_BUILD_DIR/cli/hostdevctl)
#        HOSTDEVD_DEB       systemd boots: the Debian package to install in the guest (dpkg -i) instead of
#                           `cmake --install` of the build tree
#        HOSTDEVD_VM_ACCEL  force "kvm" or "tcg" (default: KVM when a probe boot works, else TCG)
#        HOSTDEVD_VM_BENCH_PFS  extra NVMe PFs with 64 VFs each, for tests/vm/bench (default 0)
#
# Output: DIR/results.txt with one line per scenario (`PASS name` / `FAIL name: why`), DIR/NAME.log
# per scenario, DIR/console.log, DIR/facts/ (real-kernel observations). Exit status 0 when every
# scenario passed, 1 when one failed, 2 when the guest never reported (boot failure or timeout).
set -eu

REPO=$(cd "$(dirname "$0")/../.." && pwd)
VMDIR=$REPO/tests/vm
CACHE=${HOSTDEVD_VM_CACHE:-/var/cache/hostdevd-vm}
BUILD=${HOSTDEVD_BUILD_DIR:-$REPO/build}
HOSTDEVCTL=${HOSTDEVCTL:-$BUILD/cli/hostdevctl}
RESULTS=
TIMEOUT=
SYSTEMD_BOOT=

while [ $# -gt 0 ]; do
    case "$1" in
    --results) RESULTS=$2 && shift 2 ;;
    --timeout) TIMEOUT=$2 && shift 2 ;;
    --systemd) SYSTEMD_BOOT=$2 && shift 2 ;;
    -h | --help) sed -n '2,22p' "$0" && exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2 && exit 2 ;;
    *) break ;;
    esac
done
if [ $# -gt 0 ]; then
    SCENARIOS=$*
elif [ -n "$SYSTEMD_BOOT" ]; then
    SCENARIOS=systemd/$SYSTEMD_BOOT
else
    SCENARIOS=$(cd "$VMDIR/scenarios" && ls ./*.sh | sed 's|^\./||; s|\.sh$||' | grep -v '^lib$' | tr '\n' ' ')
fi
for s in $SCENARIOS; do
    case $s in */*) f=$VMDIR/$s.sh ;; *) f=$VMDIR/scenarios/$s.sh ;; esac
    [ -f "$f" ] || { echo "run.sh: no scenario ${f#"$REPO"/}" >&2 && exit 2; }
done

# A systemd boot costs more than the busybox guest's (systemd's own start, then the unit's life cycle).
INIT_ARGS=
if [ -n "$SYSTEMD_BOOT" ]; then
    INIT_ARGS="hostdevd.init=systemd hostdevd.boot=$SYSTEMD_BOOT"
    if [ -n "${HOSTDEVD_DEB:-}" ]; then
        [ -f "$HOSTDEVD_DEB" ] || { echo "run.sh: no package $HOSTDEVD_DEB" >&2 && exit 2; }
        INIT_ARGS="$INIT_ARGS hostdevd.deb=$(cd "$(dirname "$HOSTDEVD_DEB")" && pwd)/$(basename "$HOSTDEVD_DEB")"
    fi
    : "${TIMEOUT:=540}"
fi
: "${TIMEOUT:=300}"

for f in "$CACHE/vmlinux" "$CACHE/initramfs.cpio.gz" "$CACHE/kernel-version"; do
    [ -e "$f" ] || { echo "run.sh: $f missing: run tests/vm/prepare.sh first" >&2 && exit 2; }
done
command -v qemu-system-x86_64 >/dev/null || { echo "run.sh: qemu-system-x86_64 not installed" >&2 && exit 2; }

if [ -z "$RESULTS" ]; then
    RESULTS=$(mktemp -d /tmp/hostdevd-vm.XXXXXX)
else
    mkdir -p "$RESULTS"
    rm -rf "${RESULTS:?}"/*
fi
mkdir -p "$RESULTS/facts"

# The scenarios' exact-syscall helper, compiled for the host userland the guest runs.
gcc -O1 -Wall -Wextra -Werror -o "$RESULTS/vmtool" "$VMDIR/guest/vmtool.c"

# Accelerator: KVM only when a probe boot actually reaches the initramfs (on nested hosts /dev/kvm
# can exist while QEMU aborts on MSR access). The probe's verdict is cached per host kernel + QEMU.
probe_kvm() {
    [ -w /dev/kvm ] || return 1
    key="$(uname -r) $(qemu-system-x86_64 --version | head -n 1)"
    verdict_file=$CACHE/kvm-probe
    if [ -f "$verdict_file" ] && [ "$(sed -n 1p "$verdict_file")" = "$key" ]; then
        [ "$(sed -n 2p "$verdict_file")" = works ]
        return
    fi
    status=0
    timeout 30 qemu-system-x86_64 -accel kvm -cpu host -machine q35 -m 256 -display none -monitor none \
        -serial none -no-reboot -kernel "$CACHE/vmlinux" -initrd "$CACHE/initramfs.cpio.gz" \
        -append "console=ttyS0 quiet panic=-1 hostdevd.probe" \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 >/dev/null 2>&1 || status=$?
    verdict=broken
    [ "$status" -eq 85 ] && verdict=works # (42 << 1) | 1
    printf '%s\n%s\n' "$key" "$verdict" >"$verdict_file"
    [ "$verdict" = works ]
}
case "${HOSTDEVD_VM_ACCEL:-auto}" in
kvm) ACCEL="-accel kvm -cpu host" ;;
tcg) ACCEL="-accel tcg -cpu max" ;;
*) if probe_kvm; then ACCEL="-accel kvm -cpu host"; else ACCEL="-accel tcg -cpu max"; fi ;;
esac

scenario_list=$(echo $SCENARIOS | tr ' ' ',')
echo "run.sh: $(cat "$CACHE/kernel-version"), ${ACCEL%% -cpu*},${SYSTEMD_BOOT:+ systemd boot $SYSTEMD_BOOT,} scenarios: $scenario_list, results: $RESULTS" >&2

# Devices: an IOMMU (vfio-pci refuses devices without one; Debian has no CONFIG_VFIO_NOIOMMU), and
# QEMU's NVMe controller with SR-IOV (4 VFs) behind a PCIe root port: the only SR-IOV device
# QEMU 7.2 emulates; and an empty second root port, whose vfio-pci probe fails (non-normal header
# type), for the "drivers_probe succeeds although the probe failed" fact. The IOMMU must come before
# the devices it translates for.
# For tests/vm/bench: more NVMe PFs with 64 VFs each (QEMU's limits: vq_flexible >= 2 per VF,
# max_ioqpairs >= vq_flexible + 2, msix_qsize >= vi_flexible + 1), each behind its own root port.
BENCH_DEVICES=
n=0
while [ "$n" -lt "${HOSTDEVD_VM_BENCH_PFS:-0}" ]; do
    BENCH_DEVICES="$BENCH_DEVICES -device pcie-root-port,id=brp$n,bus=pcie.0,chassis=$((10 + n)),slot=$((10 + n))"
    BENCH_DEVICES="$BENCH_DEVICES -device nvme-subsys,id=bsubsys$n,nqn=hostdevd-bench-$n"
    BENCH_DEVICES="$BENCH_DEVICES -device nvme,bus=brp$n,serial=bench$n,subsys=bsubsys$n,sriov_max_vfs=64"
    BENCH_DEVICES="$BENCH_DEVICES,sriov_vq_flexible=128,sriov_vi_flexible=64,max_ioqpairs=130,msix_qsize=65"
    n=$((n + 1))
done

status=0
timeout --kill-after=10 "$TIMEOUT" qemu-system-x86_64 $ACCEL -machine q35 -smp 1 -m 1536 \
    -display none -vga none -monitor none -serial stdio -no-reboot -nic none \
    -kernel "$CACHE/vmlinux" -initrd "$CACHE/initramfs.cpio.gz" \
    -append "console=ttyS0 quiet loglevel=4 panic=-1 no_timer_check intel_iommu=on hostdevd.stage2=$VMDIR/guest/stage2.sh hostdevd.repo=$REPO hostdevd.cache=$CACHE hostdevd.build=$BUILD hostdevd.hostdevctl=$HOSTDEVCTL hostdevd.scenarios=$scenario_list $INIT_ARGS" \
    -device intel-iommu \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs local,path="$RESULTS",mount_tag=results,security_model=none,multidevs=remap \
    -device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1 \
    -device nvme-subsys,id=subsys0,nqn=hostdevd-test \
    -device nvme,bus=rp1,serial=deadbeef,subsys=subsys0,sriov_max_vfs=4,sriov_vq_flexible=8,sriov_vi_flexible=4 \
    -device pcie-root-port,id=rp2,bus=pcie.0,chassis=2,slot=2 $BENCH_DEVICES \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 </dev/null >"$RESULTS/console.log" 2>&1 || status=$?

grep '^HOSTDEVD-VM:' "$RESULTS/console.log" >&2 || true
results=$RESULTS/results.txt
expected=$(echo $SCENARIOS | wc -w)
reported=0
[ -f "$results" ] && reported=$(wc -l <"$results")
case "$status" in
1 | 3)
    cat "$results"
    if [ "$reported" -ne "$expected" ]; then
        echo "run.sh: guest reported $reported of $expected scenarios" >&2
        exit 2
    fi
    [ "$status" -eq 1 ] && ! grep -q '^FAIL' "$results" && exit 0
    exit 1
    ;;
124 | 137)
    echo "run.sh: guest timed out after $TIMEOUT s (console: $RESULTS/console.log)" >&2
    [ -s "$results" ] && cat "$results"
    exit 2
    ;;
*)
    echo "run.sh: guest ended without a status (QEMU exit $status); last console lines:" >&2
    tail -n 20 "$RESULTS/console.log" >&2
    exit 2
    ;;
esac
