#!/bin/sh
# hostdevctl against the real kernel: create the NVMe VFs from config and bind them to vfio-pci
# with autoprobe off; a process holding one VF's group blocks a VF-count change (exit 3, the
# set-numvfs action `blocked` naming the holder's PID, sriov_numvfs untouched); once released the
# change goes through (0, then N). Needs the built hostdevctl (hostdevd.hostdevctl= on the kernel
# command line, default <build>/cli/hostdevctl): when it is missing this scenario FAILS, it is not
# skipped.
. "$(dirname "$0")/lib.sh"
CTL=$VM_HOSTDEVCTL
[ -x "$CTL" ] || fail "hostdevctl not built ($CTL)"
PF=$(sriov_pf)
reset_pf "$PF"
D=$SYS_PCI/devices/$PF
set_numvfs "$PF" 0
CFG=/tmp/hostdevd-config
mkdir -p "$CFG"
write_config() {
    vfio_vf_config "$PF" "$1" >"$CFG/hostdevd.toml"
}

write_config 2
"$CTL" validate --config-dir "$CFG" || fail "hostdevctl validate rejected the config"
"$CTL" apply --config-dir "$CFG"
rc=$?
[ "$rc" -eq 0 ] || fail "first apply exited $rc, expected 0 (converged)"
expect_read numvfs.after_apply "$D/sriov_numvfs" 2
expect_read autoprobe.after_apply "$D/sriov_drivers_autoprobe" 0
for i in 0 1; do
    vf=$(vf_addr "$PF" "$i")
    is_bound_to "$vf" vfio-pci || fail "VF $vf bound to $(driver_of "$vf"), expected vfio-pci"
    g=$(group_of "$vf")
    [ -c "/dev/vfio/$g" ] || fail "/dev/vfio/$g missing for $vf"
done
"$CTL" apply --config-dir "$CFG" || fail "second apply was not a converged no-op (exit $?)"

# Hold VF 0's group, then ask for 1 VF: blocked, nothing written.
VF0=$(vf_addr "$PF" 0)
G=$(group_of "$VF0")
start_holder "/dev/vfio/$G"
write_config 1
"$CTL" apply --config-dir "$CFG" >"$VM_RESULTS/hostdevctl-blocked-apply.txt" 2>&1
rc=$?
[ "$rc" -eq 3 ] || fail "apply with a held group exited $rc, expected 3 (blocked)"
expect_read numvfs.while_held "$D/sriov_numvfs" 2
"$CTL" plan --config-dir "$CFG" --json >"$VM_RESULTS/hostdevctl-plan-blocked.json" || true
python3 - "$VM_RESULTS/hostdevctl-plan-blocked.json" "$HOLDER_PID" <<'PY' || fail "plan --json has no blocked set-numvfs action naming pid $HOLDER_PID"
import json, sys
plan = json.load(open(sys.argv[1]))
pid = sys.argv[2]
hits = [a for a in plan["actions"] if a["action"] == "set-numvfs" and a["verdict"] == "blocked" and pid in json.dumps(a)]
sys.exit(0 if hits else 1)
PY
stop_holder
"$CTL" apply --config-dir "$CFG"
rc=$?
[ "$rc" -eq 0 ] || fail "apply after the holder left exited $rc, expected 0"
expect_read numvfs.after_release "$D/sriov_numvfs" 1
is_bound_to "$(vf_addr "$PF" 0)" vfio-pci || fail "the remaining VF is not on vfio-pci"
set_numvfs "$PF" 0
