#!/bin/sh
# The daemon, unmodified, with mdevs on the kernel's sample mtty (a parent that is not a PCI device,
# selected as `parent = { name = "mtty" }`): with mtty not loaded the entry waits; `modprobe mtty`
# registers the parent (a uevent under class mtty with MDEV_STATE=registered) and the daemon creates the
# two instances with their deterministic UUIDs (UUIDv5 of "mtty/0", "mtty/1"); busctl reads them
# converged; lowering `count` while a process holds the second one's group leaves it in place,
# `blocked` naming that PID; after the release it is removed. Needs the built hostdevd: FAILS, not
# skipped, when it is missing.
. "$(dirname "$0")/lib.sh"
HOSTDEVD=${VM_HOSTDEVD:-$VM_BUILD/reconciler/daemon/hostdevd}
[ -x "$HOSTDEVD" ] || fail "hostdevd not built ($HOSTDEVD)"
CFG=/tmp/hostdevd-mdev-config
LOG=$VM_RESULTS/hostdevd-mdev.hostdevd.log
P=/sys/class/mdev_bus/mtty
# Python: uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_DNS, "mdev.hostdevd.io"), "mtty/0") and "mtty/1"
U0=026cf2e5-2041-5f4b-9370-d8df4379d246
U1=64111159-134c-55b6-b36d-2d6c0214e526
mkdir -p "$CFG"
write_config() {
    printf 'version = 1\n\n[[mdev]]\nparent = { name = "mtty" }\ndestroy = "when-idle"\ntype = "mtty-2"\ncount = %s\n' "$1" \
        >"$CFG/.mtty.toml.new"
    mv "$CFG/.mtty.toml.new" "$CFG/mtty.toml" # one rename: inotify never sees half a file
}
mdev_prop() { busctl get-property io.hostdevd1 "$(mdev_path "$1")" io.hostdevd1.Mdev "$2" 2>&1 | cut -d' ' -f2-; }
mdev_prop_is() { [ "$(mdev_prop "$1" "$2")" = "$3" ]; }
mdev_is() { [ "$(basename "$(readlink "/sys/bus/mdev/devices/$1/mdev_type" 2>/dev/null)")" = "$2" ]; }
both_created() { mdev_is "$U0" mtty-2 && mdev_is "$U1" mtty-2; }
gone() { [ ! -e "/sys/bus/mdev/devices/$1" ]; }
daemon_view() {
    echo "Manager State $(manager_prop State); mdevs: $(ls /sys/bus/mdev/devices 2>/dev/null | tr '\n' ' '); $U1: $(mdev_prop "$U1" State) $(mdev_prop "$U1" Reason); plan: $(busctl call io.hostdevd1 /io/hostdevd1 io.hostdevd1.Manager Plan 2>&1 | cut -c1-300)"
}

# Start from mtty unloaded: no mdevs of ours or anyone's on it.
if [ -d "$P" ]; then
    for m in /sys/bus/mdev/devices/*; do
        [ -e "$m/remove" ] && echo 1 >"$m/remove"
    done
    rmmod mtty || fail "rmmod mtty"
fi
[ ! -e "$P" ] || fail "$P still there after rmmod mtty"
modprobe vfio-pci || fail "modprobe vfio-pci" # vfio core for the mdev groups

write_config 2
"$HOSTDEVD" --config-dir "$CFG" --debug >"$LOG" 2>&1 &
DAEMON_PID=$!
stop_daemon() {
    [ -n "${HOLDER_PID:-}" ] && stop_holder
    kill -TERM "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID"
}
trap stop_daemon EXIT
WAIT_DETAIL=daemon_view
# With no parent the entry is absent and the daemon has nothing to do: converged.
wait_until 60 "hostdevd running and converged without mtty" manager_state_is converged
[ -z "$(ls /sys/bus/mdev/devices)" ] || fail "mdevs exist before mtty is loaded"

t0=$(now)
modprobe mtty || fail "modprobe mtty (prepare.sh installs extra/mtty.ko)"
wait_until 30 "the daemon to create $U0 and $U1 (mtty-2) after modprobe mtty" both_created
fact created "both mtty-2 instances $(elapsed_ms "$t0" "$(now)") ms after modprobe mtty"
grep -q "uevent change /devices/virtual/mtty/mtty" "$LOG" ||
    fail "the daemon log shows no MDEV_STATE change uevent of mtty: $(grep -o 'uevent [a-z]* /devices/virtual[^ ]*' "$LOG" | head -3 | tr '\n' ';')"
expect_read mtty-1.available "$P/mdev_supported_types/mtty-1/available_instances" 20
wait_until 20 "Mdev $U1 converged on D-Bus" mdev_prop_is "$U1" State '"converged"'
got="$(mdev_prop "$U0" Parent) $(mdev_prop "$U0" Type) $(mdev_prop "$U0" State)"
fact dbus.mdev "$U0 $got"
[ "$got" = '"mtty" "mtty-2" "converged"' ] || fail "Mdev $U0 reads $got"

# A guest holds the second instance; count = 1 must leave it in place and say who holds it.
G=$(basename "$(readlink "/sys/bus/mdev/devices/$U1/iommu_group")")
wait_until 10 "/dev/vfio/$G" test -c "/dev/vfio/$G"
start_holder "/dev/vfio/$G"
write_config 1
wait_until 20 "Mdev $U1 blocked by pid $HOLDER_PID" mdev_prop_is "$U1" State '"blocked"'
reason=$(mdev_prop "$U1" Reason)
fact dbus.mdev_blocked_reason "$reason"
case "$reason" in *"pid $HOLDER_PID"*) ;; *) fail "Mdev $U1 Reason $reason does not name pid $HOLDER_PID" ;; esac
mdev_is "$U1" mtty-2 || fail "the held mdev $U1 was removed"

# Released: the daemon re-checks holders while something is blocked, and removes it by itself.
stop_holder
t0=$(now)
wait_until 30 "the daemon to remove $U1 after the release" gone "$U1"
fact released "removed $(elapsed_ms "$t0" "$(now)") ms after the release, unprompted"
mdev_is "$U0" mtty-2 || fail "$U0 went too"
wait_until 20 "Manager State converged after the release" manager_state_is converged

trap - EXIT
stop_daemon
status=$?
[ "$status" -eq 0 ] || fail "hostdevd exited $status on SIGTERM"
echo 1 >"/sys/bus/mdev/devices/$U0/remove"
