#!/bin/sh
# Real-kernel facts for a held VFIO group (drivers/vfio/group.c vfio_group_fops_open: one opener at
# a time) and for disabling VFs while a process holds a VF's group (iov.c sriov_disable removes the
# VFs; vfio-pci's remove waits only for open *device* fds, not group fds).
. "$(dirname "$0")/lib.sh"
PF=$(sriov_pf)
reset_pf "$PF"
echo 0 >"$SYS_PCI/devices/$PF/sriov_drivers_autoprobe"
set_numvfs "$PF" 2
VF=$(vf_addr "$PF" 0)
bind_vfio "$VF"
G=$(group_of "$VF")
wait_until 5 "/dev/vfio/$G" test -c "/dev/vfio/$G"
start_holder "/dev/vfio/$G"
fact group.holder "pid $HOLDER_PID holds /dev/vfio/$G"
got=$("$VM_TOOL" open "/dev/vfio/$G")
fact group.second_open "$got"
[ "$got" = EBUSY ] || fail "second open of /dev/vfio/$G gave $got, expected EBUSY"
# /proc/PID/fd shows the holder, which is how hostdevd finds it.
for fd in /proc/"$HOLDER_PID"/fd/*; do [ "$(readlink "$fd")" = "/dev/vfio/$G" ] && held=yes; done
[ "${held:-}" = yes ] || fail "holder's /proc/$HOLDER_PID/fd has no /dev/vfio/$G"
fact group.proc_fd "holder fd link -> /dev/vfio/$G"
# Unbinding the held device from vfio-pci (timeout guards against a remove that waits forever).
t0=$(now)
got=$(timeout 20 "$VM_TOOL" write "$SYS_PCI/drivers/vfio-pci/unbind" "$VF" || echo TIMEOUT)
t1=$(now)
fact group.unbind_while_held "$got after $(elapsed_ms "$t0" "$t1") ms, driver now $(driver_of "$VF")"
[ "$got" = OK ] || fail "unbind of $VF while its group is held gave $got"
bind_vfio "$VF"
t0=$(now)
got=$(timeout 20 "$VM_TOOL" write "$SYS_PCI/devices/$PF/sriov_numvfs" 0 || echo TIMEOUT)
t1=$(now)
fact group.disable_vfs_while_held "$got after $(elapsed_ms "$t0" "$t1") ms; numvfs $(cat "$SYS_PCI/devices/$PF/sriov_numvfs")"
[ "$got" = OK ] || fail "disabling VFs while /dev/vfio/$G is held gave $got"
kill -0 "$HOLDER_PID" 2>/dev/null || fail "the holder died when the VFs went away"
fact group.node_after_disable "$([ -e "/dev/vfio/$G" ] && echo "/dev/vfio/$G still present" || echo "/dev/vfio/$G gone") while held"
stop_holder
