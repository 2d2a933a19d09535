#!/bin/sh
# PID 1 of the guest after switch_root: the host's root (read-only 9p) under a tmpfs overlay.
# Two kinds of guest, chosen by run.sh on the kernel command line (guest/cmdline.sh):
#  - the default: this script stays PID 1, mounts the pseudo filesystems, starts systemd-udevd and a
#    system dbus-daemon (with hostdevd's bus policy) and runs the scenarios (guest/run-scenarios.sh);
#  - hostdevd.init=systemd: guest/systemd-boot.sh installs hostdevd as a user would and execs Debian's
#    systemd as PID 1, which boots the guest and runs the scenarios from a unit.
# PID 1 must never exit (the kernel panics), so everything ends in `poweroff -f`.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C
GUEST=$(dirname "$0")

mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev
mkdir -p /results
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 results /results
. "$GUEST/cmdline.sh"
say() { echo "HOSTDEVD-VM: $*"; }
KVER=$(uname -r)

# kmod (modprobe, and systemd-udevd's module autoload) looks in /lib/modules/$(uname -r): point it
# at the unpacked Debian kernel tree, with modules.dep from prepare.sh.
mkdir -p /usr/lib/modules && rm -rf "/usr/lib/modules/$KVER"
ln -s "$VM_CACHE/root/lib/modules/$KVER" "/usr/lib/modules/$KVER"

if [ "$VM_INIT" = systemd ]; then
    . "$GUEST/systemd-boot.sh" # execs systemd; returns only on a setup failure
    say "systemd guest setup failed"
    printf '\002' | dd of=/dev/port bs=1 seek=244 count=1 conv=notrunc 2>/dev/null
    poweroff -f
fi

mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
# No tmpfs on /tmp: the overlay upper layer is already a tmpfs, and a checkout (or build tree) under the
# host's /tmp, as CI may use, must stay visible to the scenarios.
mount -t tmpfs tmpfs /dev/shm

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
. "$GUEST/run-scenarios.sh" # never returns
