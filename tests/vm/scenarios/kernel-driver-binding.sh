#!/bin/sh
# Real-kernel facts for driver_override, bind/unbind and drivers_probe (drivers/base/bus.c, dd.c,
# driver.c driver_set_override, pci-sysfs.c driver_override_show, pci-driver.c pci_match_device),
# on VFs of QEMU's NVMe PF with sriov_drivers_autoprobe=0.
. "$(dirname "$0")/lib.sh"
PF=$(sriov_pf)
reset_pf "$PF"
echo 0 >"$SYS_PCI/devices/$PF/sriov_drivers_autoprobe"
set_numvfs "$PF" 2
VF=$(vf_addr "$PF" 0)
D=$SYS_PCI/devices/$VF
modprobe vfio-pci || fail "modprobe vfio-pci"

is_unbound "$VF" || fail "$VF is bound to $(driver_of "$VF") with autoprobe=0"
expect_read override.initial "$D/driver_override" "(null)"
expect_write override.set_newline "$D/driver_override" "vfio-pci\n" OK
expect_read override.newline_stripped "$D/driver_override" "vfio-pci"
expect_write override.clear_newline "$D/driver_override" "\n" OK
expect_read override.cleared_by_newline "$D/driver_override" "(null)"
expect_write override.set_plain "$D/driver_override" "vfio-pci" OK
expect_write override.clear_nul "$D/driver_override" "\0" OK
expect_read override.cleared_by_nul "$D/driver_override" "(null)"
expect_write override.set_again "$D/driver_override" "nvme" OK
# driver.c driver_set_override cuts the value at the FIRST newline (strnchr), not just one trailing.
expect_write override.two_newlines "$D/driver_override" "a\n\n" OK
expect_bytes override.two_newlines_read "$D/driver_override" "610a"
expect_write override.inner_newline "$D/driver_override" "vfio-pci\nxyz" OK
expect_read override.inner_newline_read "$D/driver_override" "vfio-pci"
expect_write override.clear "$D/driver_override" "\n" OK

# bind/unbind (bus.c): ENODEV for unknown devices, for a driver the device is not bound to, and
# for a driver whose id table does not match (vfio-pci's entry is override_only).
expect_write unbind.not_bound "$SYS_PCI/drivers/nvme/unbind" "$VF" ENODEV
expect_write bind.unknown_device "$SYS_PCI/drivers/vfio-pci/bind" "0000:09:00.0" ENODEV
expect_write bind.no_override "$SYS_PCI/drivers/vfio-pci/bind" "$VF" ENODEV
expect_write probe.unknown_device "$SYS_PCI/drivers_probe" "0000:09:00.0" ENODEV
# drivers_probe with an override naming no loaded driver: success, nothing bound.
expect_write override.nonexistent "$D/driver_override" "nosuchdriver" OK
expect_write probe.no_such_driver "$SYS_PCI/drivers_probe" "$VF" OK
is_unbound "$VF" || fail "$VF bound to $(driver_of "$VF") with driver_override=nosuchdriver"
# The vfio-pci bind: override + drivers_probe, then /dev/vfio/<group>.
expect_write override.vfio "$D/driver_override" "vfio-pci" OK
expect_write probe.vfio "$SYS_PCI/drivers_probe" "$VF" OK
is_bound_to "$VF" vfio-pci || fail "$VF not bound to vfio-pci after drivers_probe"
G=$(group_of "$VF")
wait_until 5 "/dev/vfio/$G" test -c "/dev/vfio/$G"
fact vfio.group_node "/dev/vfio/$G appears ($(stat -c '%t:%T' "/dev/vfio/$G"))"
expect_write bind.already_bound "$SYS_PCI/drivers/vfio-pci/bind" "$VF" EBUSY
expect_write bind.other_driver_bound "$SYS_PCI/drivers/nvme/bind" "$VF" ENODEV
expect_write probe.already_bound "$SYS_PCI/drivers_probe" "$VF" OK
expect_write unbind.wrong_driver "$SYS_PCI/drivers/nvme/unbind" "$VF" ENODEV
expect_write unbind.vfio "$SYS_PCI/drivers/vfio-pci/unbind" "$VF" OK
[ ! -e "/dev/vfio/$G" ] || fail "/dev/vfio/$G still present after unbinding the only device"
fact vfio.group_node_after_unbind "gone"
# bind with override set: the per-driver bind file works too (pci_match_device returns the
# generic id for an override match).
expect_write bind.with_override "$SYS_PCI/drivers/vfio-pci/bind" "$VF" OK
is_bound_to "$VF" vfio-pci || fail "bind with override did not bind"
expect_write unbind.vfio_again "$SYS_PCI/drivers/vfio-pci/unbind" "$VF" OK

# drivers_probe returns success even when the probe fails: vfio-pci refuses a non-normal header
# type (vfio_pci.c vfio_pci_probe: hdr_type != PCI_HEADER_TYPE_NORMAL -> -EINVAL). The spare empty
# pcie-root-port (run.sh's rp2) is such a device.
RP=
for d in "$SYS_PCI"/devices/*; do
    a=$(basename "$d")
    [ "$(cat "$d/class")" = 0x060400 ] && [ -z "$(ls -d "$d"/????:??:??.? 2>/dev/null)" ] && RP=$a && break
done
[ -n "$RP" ] || fail "no empty PCIe root port (run.sh adds rp2)"
fact probe_fail.device "$RP class 0x060400 driver $(driver_of "$RP")"
[ -e "$SYS_PCI/devices/$RP/driver" ] && "$VM_TOOL" write "$SYS_PCI/devices/$RP/driver/unbind" "$RP" >/dev/null
expect_write probe_fail.override "$SYS_PCI/devices/$RP/driver_override" "vfio-pci" OK
expect_write probe_fail.drivers_probe "$SYS_PCI/drivers_probe" "$RP" OK
fact probe_fail.driver_after "$(driver_of "$RP")"
is_unbound "$RP" || fail "root port $RP bound to $(driver_of "$RP")"
expect_write probe_fail.bind_file "$SYS_PCI/drivers/vfio-pci/bind" "$RP" EINVAL
"$VM_TOOL" write "$SYS_PCI/devices/$RP/driver_override" "\n" >/dev/null
set_numvfs "$PF" 0
