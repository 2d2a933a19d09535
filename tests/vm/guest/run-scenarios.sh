#!/bin/sh
# Runs every scenario named on the kernel command line, writes one line per scenario to
# /results/results.txt and reports the overall status through isa-debug-exit (port 0xf4: QEMU exits
# with (byte << 1) | 1, so 0 -> 1 "all passed", 1 -> 3 "some failed"). Run by stage2.sh as PID 1 (the
# busybox-style guest) or by hostdevd-vm-runner.service (the systemd guest, guest/systemd-boot.sh).
# Either way it never returns: QEMU exits on the port write; `poweroff -f` is the fallback.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C
. "$(dirname "$0")/cmdline.sh"

say() { echo "HOSTDEVD-VM: $*" >/dev/console 2>/dev/null || echo "HOSTDEVD-VM: $*"; }
finish() {
    sync
    # The byte written to the debug-exit port becomes QEMU's exit status.
    printf "\\$(printf '%03o' "$1")" | dd of=/dev/port bs=1 seek=244 count=1 conv=notrunc 2>/dev/null
    poweroff -f
}

: >/results/results.txt
any_failed=0
for name in $SCENARIOS; do
    # "DIR/NAME" is tests/vm/DIR/NAME.sh: bench/ (measurements, run only when named) and systemd/ (the
    # systemd guest's scenarios, one per boot setup).
    case $name in
    */*) script=$VM_REPO/tests/vm/$name.sh && mkdir -p "/results/$(dirname "$name")" ;;
    *) script=$VM_REPO/tests/vm/scenarios/$name.sh ;;
    esac
    reason_file=/results/$name.reason
    rm -f "$reason_file"
    start=$(cut -d' ' -f1 /proc/uptime)
    if [ ! -f "$script" ]; then
        echo "no such scenario script $script" >"$reason_file"
        rc=127
    else
        limit=150
        case $name in
        bench/*) limit=900 ;;   # the status quo's 64 driverctl runs are slow under TCG
        systemd/*) limit=420 ;; # a whole boot's worth of service life cycle
        esac
        VM_REASON_FILE=$reason_file timeout "$limit" sh "$script" >"/results/$name.log" 2>&1
        rc=$?
    fi
    end=$(cut -d' ' -f1 /proc/uptime)
    if [ "$rc" -eq 0 ]; then
        echo "PASS $name" >>/results/results.txt
    else
        any_failed=1
        why=$(head -n 1 "$reason_file" 2>/dev/null)
        [ "$rc" -eq 124 ] && why="timed out after $limit s${why:+ ($why)}"
        echo "FAIL $name: ${why:-exit status $rc}" >>/results/results.txt
    fi
    say "$(tail -n 1 /results/results.txt) [$start..$end s]"
done
# Under systemd: the whole boot's journal, for reading a failure without a rerun.
if [ "$VM_INIT" = systemd ]; then
    journalctl -b --no-pager -o short-monotonic >/results/journal.txt 2>&1
    systemctl list-units --all --no-pager >/results/units.txt 2>&1
fi
finish "$any_failed"
