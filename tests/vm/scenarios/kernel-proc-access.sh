#!/bin/sh
# Real-kernel facts behind hostdevd's capabilities (issue 17, docs/security.md "Capabilities"): what root
# needs on 6.1 to see another process's open files (list /proc/PID/fd, read its links, read fdinfo), for
#  - a guest as libvirt runs it: another user (uid 64055, libvirt-qemu's), executed after the change of
#    user, so dumpable;
#  - the same guest made undumpable (prctl(PR_SET_DUMPABLE, 0));
#  - a guest run by root with every capability (a QEMU or a DPDK program started by hand);
# each with no capability, CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE, both, and the file-system-uid trick
# (CAP_SETUID + CAP_SETGID, setfsuid to the holder's uid). And what a read-only /proc (a unit's
# ReadOnlyPaths=/proc) leaves: writing /proc/PID/mem, and reaching a file through /proc/PID/root.
# Each probe is root (uid 0) with exactly the named capabilities (setpriv's bounding set).
. "$(dirname "$0")/lib.sh"
PF=$(sriov_pf)
reset_pf "$PF"
echo 0 >"$SYS_PCI/devices/$PF/sriov_drivers_autoprobe"
set_numvfs "$PF" 1
VF=$(vf_addr "$PF" 0)
bind_vfio "$VF"
G=$(group_of "$VF")
wait_until 5 "/dev/vfio/$G" test -c "/dev/vfio/$G"
chown 64055:64055 "/dev/vfio/$G" # libvirt gives the node to its qemu user for the guest's lifetime

# start_as WHO: a holder of the group as the named kind of guest; sets HOLDER_PID and HOLDER_FD.
start_as() {
    case $1 in
    user) start_user_holder "/dev/vfio/$G" ;;
    undumpable | root)
        ready=/tmp/holder.$$.ready
        rm -f "$ready"
        if [ "$1" = root ]; then
            "$VM_TOOL" hold "/dev/vfio/$G" "$ready" >/tmp/holder.$$.out 2>&1 &
        else
            setpriv --reuid=64055 --regid=64055 --clear-groups "$VM_TOOL" hold-undumpable "/dev/vfio/$G" "$ready" \
                >/tmp/holder.$$.out 2>&1 &
        fi
        HOLDER_PID=$!
        WAIT_DETAIL="cat /tmp/holder.$$.out"
        wait_until 10 "a $1 holder of /dev/vfio/$G" test -e "$ready"
        WAIT_DETAIL=
        ;;
    esac
    HOLDER_FD=
    for fd in /proc/"$HOLDER_PID"/fd/*; do
        [ "$(readlink "$fd")" = "/dev/vfio/$G" ] && HOLDER_FD=$(basename "$fd")
    done
    [ -n "$HOLDER_FD" ] || fail "the $1 holder's group fd is not in /proc/$HOLDER_PID/fd"
}

# probe CAPS [--fsuid UID:GID]: "list LINK FDINFO" results of a root process with exactly CAPS.
probe() {
    caps=$1
    shift
    out=
    for path in "/proc/$HOLDER_PID/fd" "/proc/$HOLDER_PID/fd/$HOLDER_FD" "/proc/$HOLDER_PID/fdinfo/$HOLDER_FD"; do
        r=$(setpriv --bounding-set="-all$caps" -- "$VM_TOOL" probe "$@" "$path" | cut -d' ' -f1)
        out="$out${out:+ }$r"
    done
    echo "$out"
}

# expect_probe KEY CAPS EXPECTED [--fsuid UID:GID]
expect_probe() {
    key=$1 caps=$2 want=$3
    shift 3
    got=$(probe "$caps" "$@")
    fact "$key" "list/link/fdinfo: $got"
    [ "$got" = "$want" ] || fail "$key: root with {${caps#,}}$*: list/link/fdinfo gave '$got', expected '$want'"
}

start_as user
fact user.fd_dir "$(stat -c '%U %a' "/proc/$HOLDER_PID/fd") fdinfo $(stat -c '%U %a' "/proc/$HOLDER_PID/fdinfo")"
expect_probe user.none "" "EACCES EACCES EACCES"
expect_probe user.dac_read_search ",+dac_read_search" "OK EACCES EACCES"
# fdinfo is dr-xr-xr-x on 6.1, guarded by the ptrace check alone (proc_fdinfo_permission): it says
# which fds there are and their flags, never which file (the links do).
expect_probe user.sys_ptrace ",+sys_ptrace" "EACCES EACCES OK"
expect_probe user.both ",+sys_ptrace,+dac_read_search" "OK OK OK"
expect_probe user.fsuid ",+setuid,+setgid" "OK OK OK" --fsuid 64055:64055
stop_holder

start_as undumpable
fact undumpable.fd_dir "$(stat -c '%U %a' "/proc/$HOLDER_PID/fd")"
expect_probe undumpable.dac_read_search ",+dac_read_search" "OK EACCES EACCES"
expect_probe undumpable.fsuid ",+setuid,+setgid" "EACCES EACCES EACCES" --fsuid 64055:64055
expect_probe undumpable.both ",+sys_ptrace,+dac_read_search" "OK OK OK"
stop_holder

start_as root
expect_probe root.none "" "OK EACCES EACCES"
expect_probe root.dac_read_search ",+dac_read_search" "OK EACCES EACCES"
expect_probe root.both ",+sys_ptrace,+dac_read_search" "OK OK OK"

# A read-only /proc (ReadOnlyPaths=/proc in a unit): a mount of this namespace, bind and remount.
echo "outside" >/tmp/proc-root-target
mem=$(unshare -m sh -c "mount -o remount,bind,ro /proc && '$VM_TOOL' probe-write /proc/$HOLDER_PID/mem")
fact proc_ro.mem_write "$mem"
[ "$mem" = EROFS ] || fail "writing /proc/PID/mem with /proc read-only gave $mem, expected EROFS"
via_root=$(unshare -m sh -c "mount -o remount,bind,ro /proc && '$VM_TOOL' probe-write /proc/$HOLDER_PID/root/tmp/proc-root-target")
fact proc_ro.root_link_write "$via_root"
[ "$via_root" = OK ] || fail "opening a file through /proc/PID/root for writing with /proc read-only gave $via_root (expected OK: the link leaves the read-only mount)"
stop_holder
chown root:root "/dev/vfio/$G"
reset_pf "$PF"
