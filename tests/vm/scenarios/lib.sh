# Shared helpers for the guest scenarios (sourced, POSIX sh). Runs inside the QEMU guest as root,
# against the real kernel's sysfs. Set by stage2.sh: VM_TOOL (guest/vmtool.c), VM_RESULTS,
# VM_REASON_FILE, VM_REPO, VM_BUILD, VM_HOSTDEVCTL.
set -u
SCENARIO=$(basename "$0" .sh)
FACTS=$VM_RESULTS/facts/$SCENARIO.txt
SYS_PCI=/sys/bus/pci
: >"$FACTS"

# Ends the scenario as FAIL with a one-line reason (shown in results.txt).
fail() {
    printf '%s\n' "$*" | tr '\n' ' ' >"$VM_REASON_FILE"
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}

# Records one observed real-kernel fact: `fact KEY VALUE...` appends "KEY: VALUE" to facts/SCENARIO.txt.
fact() {
    key=$1
    shift
    printf '%s: %s\n' "$key" "$*" >>"$FACTS"
    printf 'fact %s: %s\n' "$key" "$*"
}

now() { cut -d' ' -f1 /proc/uptime; }
elapsed_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%d", (b - a) * 1000 }'; }

# expect_write KEY PATH VALUE EXPECTED: one write(2) of VALUE (C escapes allowed); records the
# result (OK or errno name) as fact KEY and fails unless it is EXPECTED.
expect_write() {
    got=$("$VM_TOOL" write "$2" "$3")
    fact "$1" "write '$3' -> $got"
    [ "$got" = "$4" ] || fail "$1: write '$3' to $2 gave $got, expected $4"
}

# expect_read KEY PATH EXPECTED: reads PATH, records it, fails unless it equals EXPECTED.
expect_read() {
    got=$(cat "$2" 2>&1)
    fact "$1" "read '$got'"
    [ "$got" = "$3" ] || fail "$1: $2 reads '$got', expected '$3'"
}

# expect_bytes KEY PATH HEX: like expect_read, but compares the exact bytes (hex, e.g. 610a0a), which
# $(cat) would blur by stripping trailing newlines.
expect_bytes() {
    got=$(od -An -tx1 "$2" | tr -d ' \n')
    fact "$1" "bytes $got"
    [ "$got" = "$3" ] || fail "$1: $2 holds bytes $got, expected $3"
}

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND every 50 ms until it succeeds; fails the
# scenario with DESCRIPTION when SECONDS pass first. Waits for a state, never for a guessed delay.
# When WAIT_DETAIL names a command, its output at the deadline is added to the reason (the state the
# scenario saw instead, so a FAIL line says why without the logs).
WAIT_DETAIL=
wait_until() {
    limit=$1
    what=$2
    shift 2
    deadline=$(awk -v t="$(now)" -v l="$limit" 'BEGIN { print t + l }')
    while ! "$@" >/dev/null 2>&1; do
        if awk -v t="$(now)" -v d="$deadline" 'BEGIN { exit !(t > d) }'; then
            fail "timed out after ${limit}s waiting for $what${WAIT_DETAIL:+ ($($WAIT_DETAIL 2>&1))}"
        fi
        sleep 0.05
    done
}

driver_of() { [ -e "$SYS_PCI/devices/$1/driver" ] && basename "$(readlink "$SYS_PCI/devices/$1/driver")" || echo none; }
group_of() { basename "$(readlink "$SYS_PCI/devices/$1/iommu_group")"; }
is_bound_to() { [ "$(driver_of "$1")" = "$2" ]; }
is_unbound() { [ ! -e "$SYS_PCI/devices/$1/driver" ]; }

# The SR-IOV PF: the one PCI function with sriov_totalvfs (QEMU's NVMe, 1b36:0010).
sriov_pf() {
    for f in "$SYS_PCI"/devices/*/sriov_totalvfs; do
        [ -e "$f" ] || continue
        pf=$(basename "$(dirname "$f")")
        # nvme binds the PF on coldplug (udevd's module autoload); scenarios start from that.
        wait_until 20 "nvme bound to $pf" is_bound_to "$pf" nvme
        echo "$pf"
        return 0
    done
    fail "no SR-IOV PF in the guest"
}

# vf_addr PF INDEX: the VF's address, through the PF's virtfnN link (iov.c pci_iov_sysfs_link).
vf_addr() { basename "$(readlink "$SYS_PCI/devices/$1/virtfn$2")"; }

# set_numvfs PF N: sets sriov_numvfs through 0 (iov.c refuses N>0 while M>0 are enabled) and fails
# the scenario on any error.
set_numvfs() {
    cur=$(cat "$SYS_PCI/devices/$1/sriov_numvfs")
    [ "$cur" = "$2" ] && return 0
    if [ "$cur" != 0 ]; then
        r=$("$VM_TOOL" write "$SYS_PCI/devices/$1/sriov_numvfs" 0)
        [ "$r" = OK ] || fail "disabling VFs on $1 gave $r"
    fi
    [ "$2" = 0 ] && return 0
    r=$("$VM_TOOL" write "$SYS_PCI/devices/$1/sriov_numvfs" "$2")
    [ "$r" = OK ] || fail "enabling $2 VFs on $1 gave $r"
}

# reset_pf PF: the state every scenario starts from, whatever ran before it in the same boot: no VFs,
# sriov_drivers_autoprobe=1 (the kernel's default), no driver_override, PF on nvme.
reset_pf() {
    set_numvfs "$1" 0
    echo 1 >"$SYS_PCI/devices/$1/sriov_drivers_autoprobe"
    echo >"$SYS_PCI/devices/$1/driver_override"
}

# bind_vfio DEV: the libvirt/driverctl sequence (driver_override, unbind, drivers_probe) and a
# re-read of the driver link, because drivers_probe reports success even when the probe failed.
bind_vfio() {
    modprobe vfio-pci || fail "modprobe vfio-pci"
    "$VM_TOOL" write "$SYS_PCI/devices/$1/driver_override" vfio-pci >/dev/null
    [ -e "$SYS_PCI/devices/$1/driver" ] && "$VM_TOOL" write "$SYS_PCI/devices/$1/driver/unbind" "$1" >/dev/null
    "$VM_TOOL" write "$SYS_PCI/drivers_probe" "$1" >/dev/null
    is_bound_to "$1" vfio-pci || fail "$1 did not bind to vfio-pci (driver: $(driver_of "$1"))"
}

# start_holder PATH: opens PATH in a background vmtool and waits until the descriptor is held.
# Sets HOLDER_PID.
start_holder() {
    ready=/tmp/holder.$$.ready
    rm -f "$ready"
    "$VM_TOOL" hold "$1" "$ready" >/tmp/holder.$$.out 2>&1 &
    HOLDER_PID=$!
    wait_until 10 "a holder of $1" test -e "$ready"
}
# start_user_holder PATH: a guest as libvirt runs it: the node given to uid 64055 (libvirt-qemu's), opened
# by a process of that uid, executed after the change of user. Sets HOLDER_PID.
start_user_holder() {
    ready=/tmp/holder.$$.ready
    rm -f "$ready"
    chown 64055:64055 "$1"
    setpriv --reuid=64055 --regid=64055 --clear-groups "$VM_TOOL" hold "$1" "$ready" >/tmp/holder.$$.out 2>&1 &
    HOLDER_PID=$!
    saved_detail=$WAIT_DETAIL
    WAIT_DETAIL="cat /tmp/holder.$$.out"
    wait_until 10 "a uid 64055 holder of $1" test -e "$ready"
    WAIT_DETAIL=$saved_detail
}
# start_devfd_holder GROUP_PATH DEVICE: a process that keeps only a VFIO device fd of DEVICE (a PCI
# address or mdev UUID), obtained through GROUP_PATH, the group and container fds closed again.
# Sets HOLDER_PID.
start_devfd_holder() {
    ready=/tmp/holder.$$.ready
    rm -f "$ready"
    "$VM_TOOL" devfd "$1" "$2" "$ready" >/tmp/holder.$$.out 2>&1 &
    HOLDER_PID=$!
    saved_detail=$WAIT_DETAIL
    WAIT_DETAIL="cat /tmp/holder.$$.out"
    wait_until 10 "a device-fd holder of $2" test -e "$ready"
    WAIT_DETAIL=$saved_detail
}
stop_holder() {
    kill "$HOLDER_PID" 2>/dev/null
    wait "$HOLDER_PID" 2>/dev/null
    HOLDER_PID=
}

# vfio_vf_config PF N: a hostdevd configuration with N VFs of PF, autoprobe off, all on vfio-pci.
vfio_vf_config() {
    cat <<TOML
version = 1

[[pf]]
match = { address = "$1" }
destroy = "when-idle"
vfs = $2
autoprobe = false

[[pf.vf]]
index = "0-$(($2 - 1))"
driver = "vfio-pci"
TOML
}

# ---- hostdevd on D-Bus
# Object paths are sd_bus_path_encode(PREFIX, ID): every byte of ID that is not [A-Za-z0-9], and a
# leading digit, becomes _xx (sd-bus bus-label.c bus_label_escape).
object_path() {
    out=$1/
    first=1
    for h in $(printf '%s' "$2" | od -An -v -tx1); do
        c=$(printf "\\$(printf '%03o' "$((0x$h))")")
        case "$c" in
        [A-Za-z]) out=$out$c ;;
        [0-9]) [ "$first" = 1 ] && out=${out}_$h || out=$out$c ;;
        *) out=${out}_$h ;;
        esac
        first=0
    done
    echo "$out"
}
device_path() { object_path /io/hostdevd1/device "$1"; }
mdev_path() { object_path /io/hostdevd1/mdev "$1"; }
# busctl prints `s "converged"`, `u 2`, `as 1 "pid 42 uid 0 (vmtool)"`: manager_prop gives the value part.
manager_prop() { busctl get-property io.hostdevd1 /io/hostdevd1 io.hostdevd1.Manager "$1" 2>&1 | cut -d' ' -f2-; }
manager_state_is() { [ "$(manager_prop State)" = "\"$1\"" ]; }
