#!/bin/sh
# The daemon, unmodified, against the real kernel and the guest's system bus (stage2.sh installs
# dbus/io.hostdevd1.conf before starting dbus-daemon): it creates the NVMe VFs from its config dir and
# binds them to vfio-pci with autoprobe off (/dev/vfio/<group> appears); busctl reads the states the
# simhost tests read; a config edit (picked up through inotify) that would change the VF count while a
# process holds one VF's group is `blocked` naming that PID, sriov_numvfs untouched; after the release
# it waits for consent (destroy = "ask", the default: state consent naming both VFs, sriov_numvfs still
# untouched) and goes through (0, then N) once Approve() is called; and a hand-made `echo 0 > sriov_numvfs` is repaired from the
# real uevents alone. Needs the built hostdevd (<build>/reconciler/daemon/hostdevd): FAILS, not
# skipped, when it is missing.
. "$(dirname "$0")/lib.sh"
HOSTDEVD=${VM_HOSTDEVD:-$VM_BUILD/reconciler/daemon/hostdevd}
[ -x "$HOSTDEVD" ] || fail "hostdevd not built ($HOSTDEVD)"
PF=$(sriov_pf)
reset_pf "$PF"
D=$SYS_PCI/devices/$PF
CFG=/tmp/hostdevd-daemon-config
LOG=$VM_RESULTS/hostdevd-daemon.hostdevd.log
mkdir -p "$CFG"
write_config() {
    # Without destroy = "when-idle": the default, "ask" (issue 16), so the resize waits for consent.
    vfio_vf_config "$PF" "$1" | grep -v '^destroy = ' >"$CFG/.hostdevd.toml.new"
    # One rename, so the daemon's inotify never sees a half-written file (it ignores names that do not
    # end in .toml, such as this temporary one).
    mv "$CFG/.hostdevd.toml.new" "$CFG/hostdevd.toml"
}

# busctl prints `s "converged"`, `u 2`, `as 1 "pid 42 uid 0 (vmtool)"`: the value part only. Every busctl
# call costs a process start under TCG, so the checks fetch several properties per call.
device_prop() { busctl get-property io.hostdevd1 "$(device_path "$1")" io.hostdevd1.Device "$2" 2>&1 | cut -d' ' -f2-; }
# device_props ADDR PROP...: "PROP=value" per property on one line, one busctl call.
device_props() {
    addr=$1
    shift
    busctl get-property io.hostdevd1 "$(device_path "$addr")" io.hostdevd1.Device "$@" 2>&1 |
        cut -d' ' -f2- | awk -v names="$*" 'BEGIN { split(names, n, " ") }
            { printf "%s%s=%s", (NR > 1 ? " " : ""), n[NR], $0 } END { print "" }'
}
device_prop_is() { [ "$(device_prop "$1" "$2")" = "$3" ]; }
numvfs_is() { [ "$(cat "$D/sriov_numvfs")" = "$1" ]; }
# all_vfs_on_vfio N: N VFs exist and every one is bound to vfio-pci with its /dev/vfio node.
all_vfs_on_vfio() {
    numvfs_is "$1" || return 1
    i=0
    while [ "$i" -lt "$1" ]; do
        vf=$(vf_addr "$PF" "$i")
        is_bound_to "$vf" vfio-pci && [ -c "/dev/vfio/$(group_of "$vf")" ] || return 1
        i=$((i + 1))
    done
}
# The FAIL line says what the daemon said, so a failure in CI can be read without the log.
daemon_view() {
    echo "Manager State $(manager_prop State), PF $(device_props "$PF" NumVFs State Reason), plan: $(busctl call io.hostdevd1 /io/hostdevd1 io.hostdevd1.Manager Plan 2>&1 | cut -c1-300)"
}
# expect_props KEY ADDR EXPECTED PROP...: the properties, as device_props prints them, must read EXPECTED.
expect_props() {
    key=$1
    addr=$2
    want=$3
    shift 3
    got=$(device_props "$addr" "$@")
    fact "dbus.$key" "$addr $got"
    [ "$got" = "$want" ] || fail "$key: busctl on $addr read '$got', expected '$want' ($(daemon_view))"
}
step() { echo "[$(now) s] $*"; }
modprobe vfio-pci || fail "modprobe vfio-pci"
WAIT_DETAIL=daemon_view
write_config 2
"$HOSTDEVD" --config-dir "$CFG" --debug >"$LOG" 2>&1 &
DAEMON_PID=$!
stop_daemon() {
    busctl call io.hostdevd1 /io/hostdevd1 io.hostdevd1.Manager Describe >"$VM_RESULTS/hostdevd-daemon.describe.txt" 2>&1
    [ -n "${HOLDER_PID:-}" ] && stop_holder
    kill -TERM "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID"
}
trap stop_daemon EXIT

step "started hostdevd"
wait_until 60 "hostdevd converged with 2 VFs on vfio-pci" manager_state_is converged
all_vfs_on_vfio 2 || fail "daemon says converged but VFs are not all on vfio-pci: numvfs $(cat "$D/sriov_numvfs")"
expect_read numvfs.after_start "$D/sriov_numvfs" 2
expect_read autoprobe.after_start "$D/sriov_drivers_autoprobe" 0
VF0=$(vf_addr "$PF" 0)
VF1=$(vf_addr "$PF" 1)
expect_props pf "$PF" 'Role="pf" NumVFs=2 State="converged"' Role NumVFs State
for vf in "$VF0" "$VF1"; do
    expect_props vf "$vf" "Driver=\"vfio-pci\" DesiredDriver=\"vfio-pci\" PhysFn=\"$PF\" State=\"converged\"" \
        Driver DesiredDriver PhysFn State
done
busctl tree --list io.hostdevd1 >"$VM_RESULTS/hostdevd-daemon.tree.txt" 2>&1

step "converged; checked over D-Bus"
# Hold VF 0's group, then edit the file to ask for 1 VF: the daemon reloads by itself (inotify) and
# reports the change blocked by the holder; sriov_numvfs stays 2.
G=$(group_of "$VF0")
start_holder "/dev/vfio/$G"
generation=$(manager_prop ConfigGeneration)
write_config 1
wait_until 20 "the PF blocked by pid $HOLDER_PID after the edit" device_prop_is "$PF" State '"blocked"'
[ "$(manager_prop ConfigGeneration)" != "$generation" ] || fail "blocked, but ConfigGeneration is still $generation"
manager_state_is blocked || fail "Manager State $(manager_prop State), expected blocked"
step "blocked"
reason=$(device_prop "$PF" Reason)
fact dbus.pf_blocked_reason "$reason"
case "$reason" in *"pid $HOLDER_PID"*) ;; *) fail "PF Reason $reason does not name pid $HOLDER_PID" ;; esac
holders=$(device_props "$VF0" InUse Holders)
fact dbus.vf_holders "$holders"
case "$holders" in "InUse=true Holders="*"pid $HOLDER_PID"*) ;; *) fail "VF $VF0: $holders does not name pid $HOLDER_PID" ;; esac
expect_read numvfs.while_held "$D/sriov_numvfs" 2

# Release. Closing a file descriptor sends no uevent, so the daemon learns of it only by looking again:
# record whether it does so unprompted, then ask for a pass (Reconcile(), root only) if it has not.
stop_holder
if (VM_REASON_FILE=/dev/null wait_until 2 "consent awaited after the release, unprompted" device_prop_is "$PF" State '"consent"') >/dev/null 2>&1; then
    fact release.noticed "unprompted"
else
    fact release.noticed "not within 2 s unprompted; Reconcile() called"
    busctl call io.hostdevd1 /io/hostdevd1 io.hostdevd1.Manager Reconcile || fail "Reconcile() refused"
fi
# Released, nothing in use: the change would destroy both VFs, and destroy = "ask" (the default) keeps
# it waiting for the operator's consent. The real kernel's sriov_numvfs stays 2: nothing was written.
wait_until 20 "the PF awaiting consent after the release" device_prop_is "$PF" State '"consent"'
reason=$(device_prop "$PF" Reason)
fact dbus.pf_consent_reason "$reason"
case "$reason" in *"destroys 2 VFs: $VF0 (driver vfio-pci), $VF1 (driver vfio-pci)"*) ;; *) fail "PF Reason $reason does not name both VFs" ;; esac
manager_state_is blocked || fail "Manager State $(manager_prop State) while awaiting consent, expected blocked"
expect_read numvfs.awaiting_consent "$D/sriov_numvfs" 2
grep -q "sriov_numvfs 2 -> 0 -> 1 applied" "$LOG" && fail "the change was applied without consent"
busctl call io.hostdevd1 /io/hostdevd1 io.hostdevd1.Manager Approve as 1 "$PF" || fail "Approve($PF) refused"
step "approved"
step "released"
wait_until 60 "1 VF on vfio-pci after the release" all_vfs_on_vfio 1
wait_until 20 "Manager State converged after the release" manager_state_is converged
# The change went 2 -> 0 -> 1 (one action, two writes): iov.c sriov_numvfs_store refuses 2 -> 1
# directly (EBUSY).
grep -q "action=sriov_numvfs 2 -> 0 -> 1 applied" "$LOG" ||
    fail "the daemon log has no sriov_numvfs 2 -> 0 -> 1 applied: $(grep -o 'sriov_numvfs.*' "$LOG" | tr '\n' ';')"
expect_props pf_after_release "$PF" 'NumVFs=1 State="converged"' NumVFs State

step "change after release applied"
# Drift repair from real uevents: with the daemon idle, disable the VFs by hand. Nothing but the
# kernel's remove events (and udev's re-broadcast) tells the daemon.
r=$("$VM_TOOL" write "$D/sriov_numvfs" 0)
[ "$r" = OK ] || fail "disabling the VFs by hand gave $r"
t0=$(now)
wait_until 60 "the daemon to re-create 1 VF on vfio-pci after echo 0" all_vfs_on_vfio 1
fact drift.repaired "1 VF back on vfio-pci $(elapsed_ms "$t0" "$(now)") ms after the hand-made disable"
wait_until 20 "Manager State converged after the repair" manager_state_is converged

step "drift repaired"
trap - EXIT
stop_daemon
status=$?
[ "$status" -eq 0 ] || fail "hostdevd exited $status on SIGTERM"
set_numvfs "$PF" 0
