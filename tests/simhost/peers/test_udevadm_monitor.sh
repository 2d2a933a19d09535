#!/bin/bash
# Runs inside simhost: `udevadm monitor` (unmodified) receives the events of `echo 4 > sriov_numvfs`,
# both the udev and the kernel flavour.
. "$(dirname "$0")/../cli/lib.sh"
out=$(mktemp); trap 'kill $monitor 2>/dev/null; rm -f "$out"' EXIT
stdbuf -oL udevadm monitor --udev --kernel --subsystem-match=pci > "$out" 2>&1 &
monitor=$!
# udevadm prints the "KERNEL - ..." line after binding both sockets: from then on nothing is missed.
wait_for 10 grep -q '^KERNEL - ' "$out" || fail "udevadm monitor did not start: $(cat "$out")"
echo 4 > /sys/bus/pci/devices/0000:3b:00.0/sriov_numvfs
for vf in 0 1 2 3; do
    for source in UDEV KERNEL; do
        wait_for 10 grep -Eq "^$source *\[[0-9.]+\] add +/devices/.*/0000:3b:02\.$vf \(pci\)" "$out" ||
            fail "no $source add for VF $vf: $(cat "$out")"
    done
done
# udev events arrive in model order
order=$(grep -Eo '^UDEV .* add .*0000:3b:02\.[0-3]' "$out" | grep -Eo '02\.[0-3]$' | tr '\n' ' ')
[ "$order" = "02.0 02.1 02.2 02.3 " ] || fail "udev add order: $order"
# udevadm info reads the device through the FUSE /sys (SYSTEMD_DEVICE_VERIFY_SYSFS=0 lets sd-device
# accept a /sys that is not sysfs).
info=$(udevadm info /sys/bus/pci/devices/0000:3b:02.1) || fail "udevadm info failed: $info"
echo "$info" | grep -q '^E: PCI_SLOT_NAME=0000:3b:02.1$' || fail "udevadm info: $info"
echo PASS
