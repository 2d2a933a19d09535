#!/bin/sh
# Real-kernel facts for IOMMU group viability (issue 15): two functions of one multifunction slot without
# ACS (QEMU's pci-serial at 00:06.0 and 00:06.1, bound to the built-in 8250_pci driver "serial") share an
# IOMMU group. With one on vfio-pci and the other on its host driver, a VMM cannot take the group:
# VFIO_GROUP_GET_STATUS does not say viable and VFIO_GROUP_SET_CONTAINER fails (6.1:
# iommu_group_claim_dma_owner() returns -EPERM while a host driver uses the group). hostdevctl plans the
# VFIO bind of one function alone as blocked, naming the group; with both on vfio-pci a VMM takes it.
. "$(dirname "$0")/lib.sh"
VIABILITY=$(dirname "$VM_TOOL")/vfio_viability
[ -x "$VIABILITY" ] || fail "vfio_viability not built ($VIABILITY)"
CTL=$VM_HOSTDEVCTL
[ -x "$CTL" ] || fail "hostdevctl not built ($CTL)"

F0=0000:00:06.0
F1=0000:00:06.1
for f in $F0 $F1; do
    [ -e "$SYS_PCI/devices/$f" ] || fail "no PCI function $f (run.sh adds two pci-serial functions)"
    wait_until 20 "serial bound to $f" is_bound_to "$f" serial
done
G=$(group_of $F0)
fact functions "$F0 $(cat $SYS_PCI/devices/$F0/vendor):$(cat $SYS_PCI/devices/$F0/device) group $G driver $(driver_of $F0); $F1 group $(group_of $F1) driver $(driver_of $F1)"
[ "$(group_of $F1)" = "$G" ] || fail "$F0 and $F1 are in groups $G and $(group_of $F1), expected one"

# hostdevd's plan: vfio-pci for function 0 alone leaves the group mixed: blocked, nothing written.
CFG=/tmp/hostdevd-viability
mkdir -p "$CFG"
printf 'version = 1\n[[device]]\nmatch = { address = "%s" }\ndriver = "vfio-pci"\n' "$F0" >"$CFG/10-serial.toml"
modprobe vfio-pci || fail "modprobe vfio-pci"
"$CTL" apply --local --config-dir "$CFG" >/tmp/viability-apply.out 2>&1
rc=$?
fact hostdevctl.mixed_apply "exit $rc, $F0 on $(driver_of $F0): $(grep -o "IOMMU group $G would be mixed[^|]*" /tmp/viability-apply.out | head -n 1 | cut -c1-160)"
[ "$rc" -eq 3 ] || fail "apply of a mixed group exited $rc, expected 3 (blocked): $(cat /tmp/viability-apply.out)"
is_bound_to $F0 serial || fail "$F0 left serial although its group would be mixed"
grep -q "IOMMU group $G would be mixed" /tmp/viability-apply.out || fail "apply did not name the mixed group"

# The kernel's side: one function on vfio-pci, the other on serial.
bind_vfio $F0
wait_until 5 "/dev/vfio/$G" test -c "/dev/vfio/$G"
got=$("$VIABILITY" "/dev/vfio/$G")
fact group.mixed "$got"
case "$got" in
"open=OK viable=no set_container=EPERM") ;;
*) fail "mixed group $G: $got, expected open=OK viable=no set_container=EPERM" ;;
esac
bind_vfio $F1
got=$("$VIABILITY" "/dev/vfio/$G")
fact group.all_vfio "$got"
[ "$got" = "open=OK viable=yes set_container=OK" ] || fail "group $G with both on vfio-pci: $got"

# Back to serial for whatever runs next in this boot.
for f in $F0 $F1; do
    "$VM_TOOL" write "$SYS_PCI/drivers/vfio-pci/unbind" "$f" >/dev/null
    "$VM_TOOL" write "$SYS_PCI/devices/$f/driver_override" "\n" >/dev/null
    "$VM_TOOL" write "$SYS_PCI/drivers_probe" "$f" >/dev/null
done
