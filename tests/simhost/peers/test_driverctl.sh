#!/bin/bash
# Runs inside simhost: driverctl (unmodified script) binds a VF to vfio-pci, modprobe-ing vfio-pci
# through simhost's shim, and its own checks on the driver link pass.
. "$(dirname "$0")/../cli/lib.sh"
pf=/sys/bus/pci/devices/0000:3b:00.0
echo 0 > $pf/sriov_drivers_autoprobe
echo 1 > $pf/sriov_numvfs
[ ! -e /sys/module/vfio_pci ] || fail "vfio_pci should start unloaded"
driverctl --nosave set-override 0000:3b:02.0 vfio-pci || fail "driverctl set-override failed"
[ "$(basename "$(readlink /sys/bus/pci/devices/0000:3b:02.0/driver)")" = vfio-pci ] || fail "VF not bound"
[ -e /sys/module/vfio_pci ] || fail "vfio_pci not loaded by modprobe"
[ -e /dev/vfio/100 ] || fail "/dev/vfio/100 missing"
driverctl list-overrides | grep -q '0000:3b:02.0 vfio-pci' || fail "list-overrides: $(driverctl list-overrides)"
# Without an override a VF is probed only when its PF allows autoprobe (pci_device_can_probe() in
# drivers/pci/pci-driver.c), so driverctl's own check fails while autoprobe is off...
! driverctl --nosave unset-override 0000:3b:02.0 2>/dev/null || fail "unset-override bound a VF without autoprobe"
[ ! -e /sys/bus/pci/devices/0000:3b:02.0/driver ] || fail "VF bound without autoprobe"
# ...and succeeds, giving the VF back to iavf, once autoprobe is on again.
echo 1 > $pf/sriov_drivers_autoprobe
driverctl --nosave unset-override 0000:3b:02.0 || fail "unset-override failed"
[ "$(cat /sys/bus/pci/devices/0000:3b:02.0/driver_override)" = "(null)" ] || fail "override not cleared"
[ "$(basename "$(readlink /sys/bus/pci/devices/0000:3b:02.0/driver)")" = iavf ] || fail "VF not back on iavf"
echo PASS
