#!/bin/bash
# Killing simhost with SIGKILL leaves nothing behind on the host: COMMAND dies (PR_SET_PDEATHSIG),
# holder processes die, and no mount appears in the host's mount table.
. "$(dirname "$0")/lib.sh"
SIMHOST=$1 HOST=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mounts_before=$(cut -d' ' -f5 /proc/self/mountinfo | sort)

"$SIMHOST" run --host "$HOST" -- bash -c "
    modprobe vfio-pci && cd /sys/bus/pci/devices/0000:3b:00.0 && echo 0 > sriov_drivers_autoprobe &&
    echo 1 > sriov_numvfs && echo vfio-pci > ../0000:3b:02.0/driver_override &&
    echo 0000:3b:02.0 > /sys/bus/pci/drivers_probe && \"$SIMHOST\" ctl hold 0000:3b:02.0 > $tmp/holder &&
    grep -c ' /sys ' /proc/self/mountinfo > $tmp/inside && echo \$\$ > $tmp/command && exec sleep 1000" &
simhost_pid=$!
wait_for 10 test -s "$tmp/command" || fail "COMMAND did not start"
command_pid=$(cat "$tmp/command") holder_pid=$(cat "$tmp/holder")
[ "$(cat "$tmp/inside")" -ge 1 ] || fail "no /sys mount inside"
grep -q fuse.simhost /proc/$simhost_pid/mountinfo || fail "simhost's namespace has no FUSE /sys"
kill -0 "$holder_pid" || fail "holder not running"

kill -KILL $simhost_pid
wait $simhost_pid 2>/dev/null
wait_for 10 sh -c "! kill -0 $command_pid 2>/dev/null" || fail "COMMAND $command_pid survived simhost"
wait_for 10 sh -c "! kill -0 $holder_pid 2>/dev/null" || fail "holder $holder_pid survived simhost"
mounts_after=$(cut -d' ' -f5 /proc/self/mountinfo | sort)
[ "$mounts_before" = "$mounts_after" ] || fail "host mounts changed: $(diff <(echo "$mounts_before") <(echo "$mounts_after"))"
! grep -q fuse.simhost /proc/self/mountinfo || fail "a simhost FUSE mount is visible on the host"
echo PASS
