#!/bin/sh
# Runs inside the simulated host started by demo.sh: a private system bus with hostdevd's policy, the
# unmodified hostdevd configured from examples/config/lab, then what an administrator would look at.
# On exit (normal, error or signal) it stops what it started: hostdevd, the private dbus-daemon and the
# simulated guest.
#   demo-inside.sh TOP [BUILD]      (BUILD defaults to TOP/build; HOSTDEVD_DEMO_DIR to /run/demo)
set -eu
TOP=$1
BUILD=${2:-$TOP/build}
CTL="$BUILD/cli/hostdevctl"
DEMO=${HOSTDEVD_DEMO_DIR:-/run/demo}
CONF=$DEMO/hostdevd # root-owned copy: hostdevd refuses configuration others can write
DAEMON="" BUS_PID="" GUEST=""
cleanup() {
    [ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
    [ -n "$GUEST" ] && simhost ctl release "$GUEST" >/dev/null 2>&1
    [ -n "$BUS_PID" ] && kill "$BUS_PID" 2>/dev/null
    rm -rf "$DEMO"
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
wait_state() { # wait_state STATE...: until the manager reports one of them (30 s at most)
    i=0
    while [ $i -lt 300 ]; do
        s=$(busctl get-property io.hostdevd1 /io/hostdevd1 io.hostdevd1.Manager State 2>/dev/null | cut -d'"' -f2)
        for want in "$@"; do [ "$s" = "$want" ] && return 0; done
        sleep 0.1; i=$((i + 1))
    done
    echo "hostdevd did not reach $* (state: $s)"; return 1
}

mkdir -p "$CONF" && cp "$TOP"/examples/config/lab/*.toml "$CONF"/ && chmod 644 "$CONF"/*.toml
# private-bus.sh prints the bus address, then the dbus-daemon's PID (stopped by cleanup()).
BUS=$("$TOP/scripts/private-bus.sh" "$DEMO/bus")
DBUS_SYSTEM_BUS_ADDRESS=$(echo "$BUS" | sed -n 1p)
BUS_PID=$(echo "$BUS" | sed -n 2p)
export DBUS_SYSTEM_BUS_ADDRESS

step "lspci -nn: the simulated host as any tool sees it"
lspci -nn

step "hostdevctl validate --config-dir examples/config/lab"
"$CTL" validate --config-dir "$CONF"

step "hostdevd starts (private system bus), converges, says READY"
"$BUILD/reconciler/daemon/hostdevd" --config-dir "$CONF" >"$DEMO/hostdevd.log" 2>&1 &
DAEMON=$!
wait_state converged blocked
cat "$DEMO/hostdevd.log"

step "busctl tree io.hostdevd1"
busctl tree io.hostdevd1

step "hostdevctl status"
"$CTL" status || echo "(exit status $?: 3 blocked, 4 still applying, 1 failed; see hostdevctl --help)"

step "hot-plug an E810 PF: hostdevd creates and binds its VFs on its own"
simhost ctl plug 0000:5e:00.0
sleep 0.2
wait_state converged blocked
busctl get-property io.hostdevd1 "$(busctl tree --list io.hostdevd1 | grep '0000_3a5e_3a00_2e0$')" \
    io.hostdevd1.Device NumVFs Driver State

step "a guest (pid below) opens VF 0000:3b:02.5; then the configuration asks for 6 VFs instead of 8 on ens1f0"
GUEST=$(simhost ctl hold 0000:3b:02.5 --comm qemu-system-x86)
echo "$GUEST"
awk 'BEGIN{pf=0} /^\[\[pf\]\]/{pf++} pf==1 && /^vfs = 8/{$0="vfs = 6"} pf==1 && /^index = "0-5"/{$0="index = \"0-3\""}
     pf==1 && /^index = "6-7"/{$0="index = \"4-5\""} {print}' "$CONF/10-nics.toml" >"$CONF/.10-nics.new"
chmod 644 "$CONF/.10-nics.new" && mv "$CONF/.10-nics.new" "$CONF/10-nics.toml"
sleep 0.5 # the daemon reloads on its own (inotify); give it the moment to notice
wait_state blocked converged
"$CTL" plan | grep -E 'VERDICT|sriov_numvfs' || true
echo "sriov_numvfs is still $(cat /sys/bus/pci/devices/0000:3b:00.0/sriov_numvfs): nothing was destroyed"

step "the guest exits: going from 8 to 6 VFs destroys all 8, so hostdevd asks first (destroy = \"ask\")"
simhost ctl release "$GUEST" && GUEST="" # released here: cleanup() must not release it again
busctl call io.hostdevd1 /io/hostdevd1 io.hostdevd1.Manager Reconcile
i=0
until [ "$(busctl get-property io.hostdevd1 "$(busctl tree --list io.hostdevd1 | grep '0000_3a3b_3a00_2e0$')" \
    io.hostdevd1.Device State | cut -d'"' -f2)" = consent ] || [ $i -ge 300 ]; do sleep 0.1; i=$((i + 1)); done
"$CTL" status --state consent || true
echo "sriov_numvfs is still $(cat /sys/bus/pci/devices/0000:3b:00.0/sriov_numvfs): waiting for consent"

step "hostdevctl apply --approve 0000:3b:00.0: the operator consents (D-Bus Approve), hostdevd does it"
"$CTL" apply --approve 0000:3b:00.0 | tail -4 || true
grep -E "approv|lapsed" "$DEMO/hostdevd.log" || true
echo "sriov_numvfs is now $(cat /sys/bus/pci/devices/0000:3b:00.0/sriov_numvfs)"

step "simhost's write log: every sysfs write hostdevd made"
simhost ctl log | tail -8
