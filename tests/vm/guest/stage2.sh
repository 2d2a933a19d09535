#!/bin/sh
# PID 1 of the guest after switch_root: the host's root (read-only 9p) under a tmpfs overlay.
# Mounts the pseudo filesystems, starts systemd-udevd and a system dbus-daemon (with hostdevd's bus
# policy), runs every scenario named on the kernel command line, writes one line per scenario to
# /results/results.txt and reports the overall status through isa-debug-exit (port 0xf4: QEMU exits
# with (byte << 1) | 1, so 0 -> 1 "all passed", 1 -> 3 "some failed"). PID 1 must never exit (the
# kernel panics), so everything ends in `poweroff -f`.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
# No tmpfs on /tmp: the overlay upper layer is already a tmpfs, and a checkout (or build tree) under the
# host's /tmp, as CI may use, must stay visible to the scenarios.
mount -t tmpfs tmpfs /dev/shm
mkdir -p /results
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 results /results

say() { echo "HOSTDEVD-VM: $*"; }
finish() {
    sync
    # The byte written to the debug-exit port becomes QEMU's exit status.
    printf "\\$(printf '%03o' "$1")" | dd of=/dev/port bs=1 seek=244 count=1 conv=notrunc 2>/dev/null
    poweroff -f
}

scenarios=
VM_REPO=
VM_CACHE=
VM_BUILD=
VM_HOSTDEVCTL=
for arg in $(cat /proc/cmdline); do
    case "$arg" in
    hostdevd.scenarios=*) scenarios=$(echo "${arg#hostdevd.scenarios=}" | tr ',' ' ') ;;
    hostdevd.repo=*) VM_REPO=${arg#hostdevd.repo=} ;;
    hostdevd.cache=*) VM_CACHE=${arg#hostdevd.cache=} ;;
    hostdevd.build=*) VM_BUILD=${arg#hostdevd.build=} ;;
    hostdevd.hostdevctl=*) VM_HOSTDEVCTL=${arg#hostdevd.hostdevctl=} ;;
    esac
done
export VM_REPO VM_CACHE VM_BUILD VM_HOSTDEVCTL
export VM_RESULTS=/results
export VM_TOOL=/results/vmtool
KVER=$(uname -r)

# kmod (modprobe, and systemd-udevd's module autoload) looks in /lib/modules/$(uname -r): point it
# at the unpacked Debian kernel tree, with modules.dep from prepare.sh.
mkdir -p /usr/lib/modules && rm -rf "/usr/lib/modules/$KVER"
ln -s "$VM_CACHE/root/lib/modules/$KVER" "/usr/lib/modules/$KVER"

# systemd-udevd: names are not resolved (no NSS lookups against a host that is not ours).
/lib/systemd/systemd-udevd --daemon --resolve-names=never >/results/udevd.log 2>&1 || say "systemd-udevd failed to start"
# Coldplug the PCI devices: their "add" events fired before udevd ran, so nothing loaded nvme yet.
udevadm trigger --subsystem-match=pci --action=add
udevadm settle --timeout=30 || say "udevadm settle timed out"
mkdir -p /run/dbus
# hostdevd's bus policy, as the package installs it (the guest's /etc is the tmpfs overlay): root may
# own io.hostdevd1, everyone may read it.
mkdir -p /etc/dbus-1/system.d
cp "$VM_REPO/dbus/io.hostdevd1.conf" /etc/dbus-1/system.d/ || say "cannot install dbus/io.hostdevd1.conf"
dbus-daemon --system --fork --nopidfile >/results/dbus.log 2>&1 || say "dbus-daemon failed to start"
say "guest up: kernel $KVER"

: >/results/results.txt
any_failed=0
for name in $scenarios; do
    # "bench/NAME" is tests/vm/bench/NAME.sh: a measurement, run only when named (tests/vm/run.sh).
    case $name in
    */*) script=$VM_REPO/tests/vm/$name.sh && mkdir -p "/results/$(dirname "$name")" ;;
    *) script=$VM_REPO/tests/vm/scenarios/$name.sh ;;
    esac
    reason_file=/results/$name.reason
    rm -f "$reason_file"
    start=$(cut -d' ' -f1 /proc/uptime)
    if [ ! -f "$script" ]; then
        echo "no such scenario script $script" >"$reason_file"
        rc=127
    else
        limit=150
        case $name in bench/*) limit=900 ;; esac # the status quo's 64 driverctl runs are slow under TCG
        VM_REASON_FILE=$reason_file timeout "$limit" sh "$script" >"/results/$name.log" 2>&1
        rc=$?
    fi
    end=$(cut -d' ' -f1 /proc/uptime)
    if [ "$rc" -eq 0 ]; then
        echo "PASS $name" >>/results/results.txt
    else
        any_failed=1
        why=$(head -n 1 "$reason_file" 2>/dev/null)
        [ "$rc" -eq 124 ] && why="timed out after $limit s${why:+ ($why)}"
        echo "FAIL $name: ${why:-exit status $rc}" >>/results/results.txt
    fi
    say "$(tail -n 1 /results/results.txt) [$start..$end s]"
done
finish "$any_failed"
