# Helpers for the systemd guest's scenarios (sourced after scenarios/lib.sh). PID 1 is Debian's systemd;
# hostdevd is the installed unit (guest/systemd-boot.sh), talked to through systemctl, journalctl, udevadm
# and busctl as an administrator would.
UNIT=hostdevd.service
step() { echo "[$(now) s] $*"; }
unit_prop() { systemctl show -p "$2" --value "$1"; }
unit_state_is() { [ "$(unit_prop "$1" ActiveState)" = "$2" ]; }
no_job_for() { ! systemctl list-jobs --no-legend 2>/dev/null | grep -q " $1 "; }
# Seconds since boot (CLOCK_MONOTONIC in µs, as systemd and the journal record it) with millisecond figures.
usec_to_s() { awk -v u="$1" 'BEGIN { printf "%.3f", u / 1000000 }'; }

# The journal cursor now: `journalctl --after-cursor` then shows only what came later.
journal_cursor() { journalctl -n 0 --show-cursor -q 2>/dev/null | sed -n 's/^-- cursor: //p'; }
# hostdevd's journal messages after CURSOR.
unit_journal_since() { journalctl -q --no-pager -o cat -u "$UNIT" --after-cursor="$1" 2>/dev/null; }
# journal_count MATCH...: how many entries of this boot match every journalctl MATCH (FIELD=value).
journal_count() { journalctl -q --no-pager -b -o cat "$@" 2>/dev/null | grep -c .; }

# uevent_barrier: returns once systemd has processed every uevent udev broadcast before it (and enqueued
# any job those wanted). `udevadm settle` drains udev's queue; then a synthetic change of a PCIe root
# port with a fresh SYNTH_UUID wants hostdevd-vm-sync@<uuid>.service (guest/systemd/
# 99-hostdevd-vm-sync.rules); systemd reads udev's events in order, so when that unit has run, the
# events before it have been dispatched. Checks of "nothing happened" wait for this, not for a delay.
uevent_barrier() {
    udevadm settle --timeout=30 || fail "udevadm settle timed out"
    port=
    for d in "$SYS_PCI"/devices/*; do
        [ "$(cat "$d/class" 2>/dev/null)" = 0x060400 ] && port=$d && break
    done
    [ -n "$port" ] || fail "no PCIe root port for the uevent barrier"
    uuid=$(udevadm trigger --uuid --action=change "$port" 2>/dev/null | head -n 1)
    [ -n "$uuid" ] || fail "udevadm trigger --uuid printed no uuid"
    wait_until 30 "the uevent barrier $uuid" test -e "/run/hostdevd-vm/sync/$uuid"
}

# journal_has_no_sandbox_errors: nothing in hostdevd's journal of this boot says the sandbox refused it
# something (a read-only path, a missing capability, a filtered system call), and systemd never had to
# restart it.
journal_has_no_sandbox_errors() {
    bad=$(journalctl -q --no-pager -b -u "$UNIT" -o cat 2>/dev/null |
        grep -E 'EROFS|EPERM|EACCES|SIGSYS|Read-only file system|Operation not permitted|Permission denied|Bad system call|errno (1|13|30)([^0-9]|$)|status=226|Scheduled restart job|Start request repeated' |
        head -n 3 | tr '\n' ';')
    [ -z "$bad" ] || fail "hostdevd's journal shows the sandbox or a restart getting in the way: $bad"
    restarts=$(unit_prop "$UNIT" NRestarts)
    [ "$restarts" = 0 ] || fail "systemd restarted hostdevd $restarts times"
}

# security_figure: the `systemd-analyze security` verdict of the installed unit, as the note records it.
security_figure() {
    systemd-analyze security --no-pager "$UNIT" >"$VM_RESULTS/$SCENARIO.security.txt" 2>&1
    figure=$(tail -n 1 "$VM_RESULTS/$SCENARIO.security.txt")
    fact security "$figure"
}

# mount_option PID MOUNTPOINT: rw or ro, as PID's mount namespace has MOUNTPOINT (the last mount there
# wins: systemd stacks a unit's ReadOnlyPaths=/ReadWritePaths= on top of each other).
mount_option() {
    awk -v m="$2" '$5 == m { split($6, o, ","); opt = o[1] } END { print opt }' "/proc/$1/mountinfo"
}

# sandbox_in_force SCENARIO: what the unit's hardening promises (docs/security.md), as the running
# hostdevd has it: no CAP_SYS_MODULE (bounding set: only CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE), /sys
# read-only but for the paths it writes, /sys/devices/system and /proc read-only, the resource limits.
sandbox_in_force() {
    pid=$(unit_prop "$UNIT" MainPID)
    bnd=$(awk '/^CapBnd:/ { print $2 }' "/proc/$pid/status")
    # CAP_DAC_READ_SEARCH is bit 2, CAP_SYS_PTRACE bit 19 (linux/capability.h)
    [ "$bnd" = 0000000000080004 ] || fail "hostdevd's capability bounding set is $bnd, expected 0000000000080004 (CAP_DAC_READ_SEARCH CAP_SYS_PTRACE)"
    views=
    for m in /sys:ro /sys/devices:rw /sys/devices/system:ro /sys/bus/pci/drivers:rw /sys/bus/pci/drivers_probe:rw /proc:ro; do
        got=$(mount_option "$pid" "${m%%:*}")
        views="$views ${m%%:*}=$got"
        [ "$got" = "${m##*:}" ] || fail "${m%%:*} is '$got' in hostdevd's mount namespace, expected ${m##*:}"
    done
    # Not only the mount options: a write outside what hostdevd writes fails in its mount namespace. Each
    # write puts back the value already there, so where it is allowed (main's unit left /proc and /sys
    # writable) nothing changes; a read-only mount refuses it whoever writes (EROFS). /proc/PID/ entries
    # are all hostdevd sees of /proc; its own oom_score_adj stands for them.
    # (/proc/sys is not even there: ProcSubset=pid.)
    nsenter -t "$pid" -m test -e /proc/sys/kernel && fail "hostdevd's namespace has /proc/sys (ProcSubset=pid not in force)"
    writes=" /proc/sys: absent;"
    for f in "/proc/$pid/oom_score_adj" /sys/module/printk/parameters/time \
        /sys/devices/system/clocksource/clocksource0/current_clocksource /etc/hostname; do
        nsenter -t "$pid" -m test -e "$f" || fail "$f does not exist in hostdevd's namespace: choose another probe"
        err=$(nsenter -t "$pid" -m sh -c 'v=$(cat "$1") && printf "%s\n" "$v" >"$1"' sh "$f" 2>&1) && err=written
        writes="$writes $f: ${err##*: }"
        case "$err" in *"Read-only file system"*) ;; *) fail "hostdevd's namespace could write $f ($err)" ;; esac
    done
    fact sandbox.writes "$writes"
    [ "$(unit_prop "$UNIT" MemoryMax)" = 268435456 ] || fail "MemoryMax is $(unit_prop "$UNIT" MemoryMax)"
    [ "$(unit_prop "$UNIT" TasksMax)" = 64 ] || fail "TasksMax is $(unit_prop "$UNIT" TasksMax)"
    fact sandbox "CapBnd $bnd;$views; MemoryMax 256M, TasksMax 64"
}

# resource_peaks SCENARIO: the cgroup's memory peak and task count now, for the note (MemoryMax=256M,
# TasksMax=64 in the unit).
resource_peaks() {
    cg=/sys/fs/cgroup/system.slice/$UNIT
    fact resources "memory.peak $(($(cat "$cg/memory.peak" 2>/dev/null || echo 0) / 1024)) KiB, tasks now $(unit_prop "$UNIT" TasksCurrent) (threads of the main process: $(awk '/^Threads:/ { print $2 }' "/proc/$(unit_prop "$UNIT" MainPID)/status" 2>/dev/null))"
}

# ready_seconds: when hostdevd became active (READY=1 for Type=notify), in seconds since the kernel
# started, and since systemd did (the guest's own setup before systemd is not part of a real boot).
ready_seconds() {
    ready=$(unit_prop "$UNIT" ActiveEnterTimestampMonotonic)
    pid1=$(systemctl show -p UserspaceTimestampMonotonic --value)
    echo "$(usec_to_s "$ready") s after boot, $(usec_to_s "$((ready - pid1))") s after systemd started"
}

# ---- hostdevd's view over D-Bus (busctl prints `s "converged"`, `u 2`: the value part only)
device_prop() { busctl get-property io.hostdevd1 "$(device_path "$1")" io.hostdevd1.Device "$2" 2>&1 | cut -d' ' -f2-; }
device_prop_is() { [ "$(device_prop "$1" "$2")" = "$3" ]; }
# device_props ADDR PROP...: "PROP=value" per property on one line, one busctl call.
device_props() {
    addr=$1
    shift
    busctl get-property io.hostdevd1 "$(device_path "$addr")" io.hostdevd1.Device "$@" 2>&1 |
        cut -d' ' -f2- | awk -v names="$*" 'BEGIN { split(names, n, " ") }
            { printf "%s%s=%s", (NR > 1 ? " " : ""), n[NR], $0 } END { print "" }'
}
# all_vfs_on_vfio PF N: N VFs exist and every one is bound to vfio-pci with its /dev/vfio node.
all_vfs_on_vfio() {
    [ "$(cat "$SYS_PCI/devices/$1/sriov_numvfs" 2>/dev/null)" = "$2" ] || return 1
    i=0
    while [ "$i" -lt "$2" ]; do
        vf=$(vf_addr "$1" "$i")
        is_bound_to "$vf" vfio-pci && [ -c "/dev/vfio/$(group_of "$vf")" ] || return 1
        i=$((i + 1))
    done
}
# The MESSAGE_IDs of docs/daemon.md (reconciler/daemon/journal.cpp).
MSG_APPLIED=4968c26988d74652b4c27230c305d3de
MSG_CONVERGED=85e40103647a473fa7c01a6dd5f055c6
MSG_BLOCKED=942ff42c56064ba4a1b957ac11b752da
MSG_FAILED=9c667f213a6441a4ab3c36c1fb715e80
MSG_DESTROYED=ba4b4efef6ee4ec2a53dbdf80b807e31
MSG_CONFIG_INVALID=d072086be53a4d4d8dad3d682761dfd8
MSG_EXPORT_WRITTEN=84a8d11a761e4892829b65062a240fae
MSG_EXPORT_FAILED=25ffde48bf66402d8187d930b9055f38
