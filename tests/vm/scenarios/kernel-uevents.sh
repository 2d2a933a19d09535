#!/bin/sh
# Records the uevent sequence of `echo 2 > sriov_numvfs` (autoprobe on and off) and of disabling,
# as the kernel sends it and as udev re-broadcasts it (`udevadm monitor --kernel --udev`). Full
# property dumps go to facts/uevents-*.txt; the condensed order is a fact. The assertions are the
# ones simhost and hostdevd rely on: per VF, kernel "add" precedes kernel "bind".
. "$(dirname "$0")/lib.sh"
PF=$(sriov_pf)
reset_pf "$PF"
D=$SYS_PCI/devices/$PF

# record NAME AUTOPROBE N WAIT_PATTERN WAIT_COUNT: runs the monitor around `echo N > sriov_numvfs`
# and stops it once WAIT_COUNT udev-side lines match WAIT_PATTERN.
record() {
    out=$VM_RESULTS/facts/uevents-$1.txt
    udevadm monitor --kernel --udev --property --subsystem-match=pci >"$out" 2>&1 &
    mon=$!
    wait_until 10 "udevadm monitor to start" grep -q "UDEV - the event" "$out"
    echo "$2" >"$D/sriov_drivers_autoprobe"
    got=$("$VM_TOOL" write "$D/sriov_numvfs" "$3")
    [ "$got" = OK ] || fail "writing $3 to sriov_numvfs gave $got"
    wait_until 20 "$5 udev '$4' events" sh -c "[ \$(grep -c '$4' '$out') -ge $5 ]"
    udevadm settle --timeout=10
    kill "$mon"
    wait "$mon" 2>/dev/null
    order=$(grep -E '^(KERNEL|UDEV) *\[' "$out" | sed -E 's/^(KERNEL|UDEV) *\[[^]]*\] +([a-z]+) +[^ ]*\/([^/ ]+) .*/\1 \2 \3/' | tr '\n' ';')
    fact "uevents.$1" "$order"
}
kernel_line() { grep -n "^KERNEL.* $1 .*/$2 (pci)" "$out" | head -n 1 | cut -d: -f1; }

set_numvfs "$PF" 0
record enable2-autoprobe0 0 2 '^UDEV .* add ' 2
VF0=$(vf_addr "$PF" 0)
[ -n "$(kernel_line add "$VF0")" ] || fail "no kernel add event for $VF0"
record disable2-autoprobe0 0 0 '^UDEV .* remove ' 2
record enable2-autoprobe1 1 2 '^UDEV .* bind ' 2
a=$(kernel_line add "$VF0")
b=$(kernel_line bind "$VF0")
[ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ] || fail "kernel add ($a) does not precede bind ($b) for $VF0"
fact uevents.vf_driver_autoprobe1 "$(driver_of "$VF0")"
set_numvfs "$PF" 0
