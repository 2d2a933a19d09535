#!/bin/sh
# The daemon, unmodified, on the real kernel with holders that keep only a VFIO device fd (issue 13):
# a config edit that changes the VF count while VF 1's device fd is held is `blocked` naming the holder,
# and nothing is written (sriov_numvfs unchanged, no action applied in the daemon's log); after the
# holder exits the daemon makes the change by itself (its holder re-check while blocked). The same for an
# mdev removal on mtty. FAILs (not skipped) when hostdevd is not built.
. "$(dirname "$0")/lib.sh"
HOSTDEVD=${VM_HOSTDEVD:-$VM_BUILD/reconciler/daemon/hostdevd}
[ -x "$HOSTDEVD" ] || fail "hostdevd not built ($HOSTDEVD)"
PF=$(sriov_pf)
reset_pf "$PF"
D=$SYS_PCI/devices/$PF
CFG=/tmp/hostdevd-in-use
LOG=$VM_RESULTS/hostdevd-in-use.hostdevd.log
mkdir -p "$CFG"
modprobe vfio-pci || fail "modprobe vfio-pci"
modprobe mtty || fail "modprobe mtty"
write_file() { # NAME CONTENT: one rename, so inotify never sees half a file
    printf '%s' "$2" >"$CFG/.$1.new" && mv "$CFG/.$1.new" "$CFG/$1"
}
mtty() { printf 'version = 1\n[[mdev]]\nparent = { name = "mtty" }\ndestroy = "when-idle"\ntype = "mtty-2"\ncount = %s\n' "$1"; }
U1=64111159-134c-55b6-b36d-2d6c0214e526
device_prop() { busctl get-property io.hostdevd1 "$(device_path "$1")" io.hostdevd1.Device "$2" 2>&1 | cut -d' ' -f2-; }
mdev_prop() { busctl get-property io.hostdevd1 "$(mdev_path "$1")" io.hostdevd1.Mdev "$2" 2>&1 | cut -d' ' -f2-; }
device_prop_is() { [ "$(device_prop "$1" "$2")" = "$3" ]; }
mdev_prop_is() { [ "$(mdev_prop "$1" "$2")" = "$3" ]; }
numvfs_is() { [ "$(cat "$D/sriov_numvfs")" = "$1" ]; }
gone() { [ ! -e "$1" ]; }
daemon_view() { echo "Manager $(manager_prop State); PF $(device_prop "$PF" State) $(device_prop "$PF" Reason)"; }
WAIT_DETAIL=daemon_view

write_file 10-vfs.toml "$(vfio_vf_config "$PF" 2)"
write_file 20-mtty.toml "$(mtty 2)"
"$HOSTDEVD" --config-dir "$CFG" --debug >"$LOG" 2>&1 &
DAEMON_PID=$!
stop_daemon() {
    [ -n "${HOLDER_PID:-}" ] && stop_holder
    kill -TERM "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID"
}
trap stop_daemon EXIT
wait_until 60 "hostdevd converged with 2 VFs and 2 mdevs" manager_state_is converged
VF1=$(vf_addr "$PF" 1)
G1=$(group_of "$VF1")
wait_until 10 "/dev/vfio/$G1" test -c "/dev/vfio/$G1"

start_devfd_holder "/dev/vfio/$G1" "$VF1"
applied_before=$(grep -c " applied" "$LOG")
write_file 10-vfs.toml "$(vfio_vf_config "$PF" 1)"
wait_until 20 "the PF blocked by the device fd holder" device_prop_is "$PF" State '"blocked"'
reason=$(device_prop "$PF" Reason)
fact dbus.pf_blocked_by_device_fd "$reason"
case "$reason" in *"pid $HOLDER_PID uid 0 (vmtool) holds a VFIO device fd the kernel does not attribute"*) ;;
*) fail "PF Reason $reason does not name the device fd holder $HOLDER_PID" ;; esac
expect_read numvfs.while_device_fd_held "$D/sriov_numvfs" 2
[ "$(grep -c " applied" "$LOG")" = "$applied_before" ] || fail "the daemon applied something while blocked: $(grep applied "$LOG" | tail -3)"
stop_holder
t0=$(now)
wait_until 30 "the change after the holder exits, unprompted" numvfs_is 1
fact released.vf_count "sriov_numvfs 1 $(elapsed_ms "$t0" "$(now)") ms after the holder exited"
grep -q "action=sriov_numvfs 2 -> 0 -> 1 applied" "$LOG" || fail "no sriov_numvfs 2 -> 0 -> 1 in the log"

GM=$(basename "$(readlink "/sys/bus/mdev/devices/$U1/iommu_group")")
wait_until 10 "/dev/vfio/$GM" test -c "/dev/vfio/$GM"
start_devfd_holder "/dev/vfio/$GM" "$U1"
write_file 20-mtty.toml "$(mtty 1)"
wait_until 20 "mdev $U1 blocked by the device fd holder" mdev_prop_is "$U1" State '"blocked"'
reason=$(mdev_prop "$U1" Reason)
fact dbus.mdev_blocked_by_device_fd "$reason"
case "$reason" in *"pid $HOLDER_PID uid 0 (vmtool)"*) ;; *) fail "Mdev Reason $reason does not name $HOLDER_PID" ;; esac
[ -e "/sys/bus/mdev/devices/$U1" ] || fail "the held mdev was removed"
stop_holder
t0=$(now)
wait_until 30 "the daemon to remove $U1 after the holder exits" gone "/sys/bus/mdev/devices/$U1"
fact released.mdev "removed $(elapsed_ms "$t0" "$(now)") ms after the holder exited"
wait_until 20 "Manager converged" manager_state_is converged

trap - EXIT
stop_daemon
status=$?
[ "$status" -eq 0 ] || fail "hostdevd exited $status on SIGTERM"
for m in /sys/bus/mdev/devices/*; do [ -e "$m/remove" ] && echo 1 >"$m/remove"; done
rmmod mtty
set_numvfs "$PF" 0
