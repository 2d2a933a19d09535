#!/bin/sh
# Real-kernel facts for sriov_numvfs and sriov_drivers_autoprobe on QEMU's NVMe PF (driver nvme),
# checked against drivers/pci/iov.c (sriov_numvfs_store, sriov_drivers_autoprobe_store) and the
# rows simhost implements (simhost/model). Each expectation here is what Debian's 6.1 kernel did.
. "$(dirname "$0")/lib.sh"
PF=$(sriov_pf)
reset_pf "$PF"
D=$SYS_PCI/devices/$PF
fact pf "$PF vendor $(cat "$D/vendor") device $(cat "$D/device") driver $(driver_of "$PF")"
fact sriov_totalvfs "$(cat "$D/sriov_totalvfs") offset $(cat "$D/sriov_offset") stride $(cat "$D/sriov_stride") vf_device $(cat "$D/sriov_vf_device")"
expect_read autoprobe.initial "$D/sriov_drivers_autoprobe" 1

# iov.c sriov_drivers_autoprobe_store: kstrtobool, -EINVAL otherwise.
expect_write autoprobe.garbage "$D/sriov_drivers_autoprobe" "maybe" EINVAL
expect_write autoprobe.two "$D/sriov_drivers_autoprobe" "2" EINVAL
expect_write autoprobe.off_word "$D/sriov_drivers_autoprobe" "off" OK
expect_read autoprobe.after_off "$D/sriov_drivers_autoprobe" 0
expect_write autoprobe.y "$D/sriov_drivers_autoprobe" "y\n" OK
expect_read autoprobe.after_y "$D/sriov_drivers_autoprobe" 1
expect_write autoprobe.zero "$D/sriov_drivers_autoprobe" "0\n" OK

# iov.c sriov_numvfs_store check order: kstrtou16 (EINVAL), > totalvfs (ERANGE), same value (no-op),
# no driver (ENOENT), N>0 while enabled (EBUSY).
expect_write numvfs.garbage "$D/sriov_numvfs" "abc" EINVAL
expect_write numvfs.negative "$D/sriov_numvfs" "-1" EINVAL
expect_write numvfs.over_u16 "$D/sriov_numvfs" "70000" EINVAL
expect_write numvfs.over_total "$D/sriov_numvfs" "5" ERANGE
expect_write numvfs.same_zero "$D/sriov_numvfs" "0" OK
t0=$(now)
expect_write numvfs.enable_hex "$D/sriov_numvfs" "0x2\n" OK
t1=$(now)
fact numvfs.enable_2_ms "$(elapsed_ms "$t0" "$t1")"
expect_read numvfs.after_enable "$D/sriov_numvfs" 2
[ -L "$D/virtfn0" ] && [ -L "$D/virtfn1" ] && [ ! -e "$D/virtfn2" ] || fail "virtfn0/1 links missing after enabling 2"
VF0=$(vf_addr "$PF" 0)
VF1=$(vf_addr "$PF" 1)
fact vf.addresses "$VF0 $VF1 (physfn -> $(basename "$(readlink "$SYS_PCI/devices/$VF0/physfn")"))"
fact vf.drivers_autoprobe_off "$(driver_of "$VF0") $(driver_of "$VF1")"
fact vf.iommu_groups "$(group_of "$PF") pf, $(group_of "$VF0") $(group_of "$VF1") vfs"
[ "$(group_of "$VF0")" != "$(group_of "$VF1")" ] || fail "VFs share an IOMMU group"
expect_write numvfs.same_two "$D/sriov_numvfs" "2" OK
expect_write numvfs.two_to_three "$D/sriov_numvfs" "3" EBUSY
expect_write numvfs.two_to_one "$D/sriov_numvfs" "1" EBUSY
expect_read numvfs.after_ebusy "$D/sriov_numvfs" 2
t0=$(now)
expect_write numvfs.disable "$D/sriov_numvfs" "0" OK
t1=$(now)
fact numvfs.disable_2_ms "$(elapsed_ms "$t0" "$t1")"
[ ! -e "$SYS_PCI/devices/$VF0" ] || fail "$VF0 still present after disabling VFs"
expect_read numvfs.after_disable "$D/sriov_numvfs" 0

# A PF without a driver: ENOENT (iov.c "no driver bound to device; cannot configure SR-IOV"), and the
# same value still succeeds because that check comes first.
expect_write pf.unbind "$D/driver/unbind" "$PF" OK
fact sriov_totalvfs.unbound "$(cat "$D/sriov_totalvfs")"
expect_write numvfs.unbound "$D/sriov_numvfs" "1" ENOENT
expect_write numvfs.unbound_same "$D/sriov_numvfs" "0" OK
expect_write numvfs.unbound_over_total "$D/sriov_numvfs" "9" ERANGE
# A PF bound to vfio-pci (enable_sriov=0): vfio_pci_sriov_configure refuses with ENOENT.
bind_vfio "$PF"
expect_write numvfs.pf_on_vfio "$D/sriov_numvfs" "1" ENOENT
expect_write pf.unbind_vfio "$D/driver/unbind" "$PF" OK
expect_write pf.clear_override "$D/driver_override" "\n" OK
expect_write pf.rebind_nvme "$SYS_PCI/drivers/nvme/bind" "$PF" OK
is_bound_to "$PF" nvme || fail "PF did not rebind to nvme"
expect_write numvfs.rebound "$D/sriov_numvfs" "1" OK
expect_write numvfs.rebound_disable "$D/sriov_numvfs" "0" OK
