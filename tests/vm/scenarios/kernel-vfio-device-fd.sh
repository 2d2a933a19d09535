#!/bin/sh
# Real-kernel facts behind hostdevd's in-use detection (issue 13, 17), the ones simhost models:
#  - a VFIO device fd kept without its group (VFIO_GROUP_GET_DEVICE_FD, then group and container
#    closed): /proc shows anon_inode:[vfio-device], 6.1's fdinfo names no device, and the group stays
#    busy (a second open is EBUSY);
#  - the `enable` count of a VF on vfio-pci: 0 idle or with only the group fd open, 1 with a device fd
#    (vfio_pci_core_enable/disable), the only passive sign of an open device on 6.1;
#  - /sys/class/vfio/<N>/dev is the group node's device number; 6.1 has class vfio-dev without `dev`;
#  - disabling VFs while a VF's device fd is held removes the lower VFs first, then blocks, holding the
#    PF's device lock: reads of its sriov_numvfs, driver_override and uevent block, others answer;
#  - a stuck mdev `remove` takes the mdev off /sys/bus/mdev/devices while the write still blocks;
#  - an O_PATH fd's fdinfo flags carry 010000000; a /dev/null bound over /dev/vfio/N in a user
#    namespace reads as that path in /proc but is character device 1:3.
# "Blocks" is observed as: not answered within 1 s while reads that take no lock answered at once.
. "$(dirname "$0")/lib.sh"
PF=$(sriov_pf)
reset_pf "$PF"
D=$SYS_PCI/devices/$PF
echo 0 >"$D/sriov_drivers_autoprobe"
set_numvfs "$PF" 2
VF0=$(vf_addr "$PF" 0)
VF1=$(vf_addr "$PF" 1)
bind_vfio "$VF0"
bind_vfio "$VF1"
G1=$(group_of "$VF1")
wait_until 5 "/dev/vfio/$G1" test -c "/dev/vfio/$G1"

# Device numbers: sysfs says what the node is.
node=$(printf '%d:%d' "0x$(stat -c %t "/dev/vfio/$G1")" "0x$(stat -c %T "/dev/vfio/$G1")")
expect_read class.vfio.dev "/sys/class/vfio/$G1/dev" "$node"
fact class.vfio-dev "$(ls /sys/class/vfio-dev | tr '\n' ' ')(dev attribute: $([ -e "$SYS_PCI/devices/$VF1/vfio-dev/$(ls "$SYS_PCI/devices/$VF1/vfio-dev")/dev" ] && echo present || echo absent))"
[ -e /dev/vfio/devices ] && fail "/dev/vfio/devices exists on this kernel"

expect_read enable.idle "$SYS_PCI/devices/$VF1/enable" 0
start_holder "/dev/vfio/$G1"
expect_read enable.group_fd "$SYS_PCI/devices/$VF1/enable" 0
stop_holder

start_devfd_holder "/dev/vfio/$G1" "$VF1"
links=$(for fd in /proc/"$HOLDER_PID"/fd/*; do readlink "$fd"; done | sort | tr '\n' ' ')
fact devfd.links "$links"
case "$links" in *"anon_inode:[vfio-device]"*) ;; *) fail "device fd holder shows no anon_inode:[vfio-device]: $links" ;; esac
case "$links" in *"/dev/vfio/"*) fail "device fd holder still has a /dev/vfio file: $links" ;; esac
for fd in /proc/"$HOLDER_PID"/fd/*; do
    [ "$(readlink "$fd")" = "anon_inode:[vfio-device]" ] && info=$(tr '\t\n' ' ;' <"/proc/$HOLDER_PID/fdinfo/$(basename "$fd")")
done
fact devfd.fdinfo "$info"
case "$info" in *vfio-device-syspath*) fail "6.1 names the device in fdinfo: $info" ;; esac
case "$info" in *"flags: 02000002"*) ;; *) fail "device fd flags: $info" ;; esac
got=$("$VM_TOOL" open "/dev/vfio/$G1")
fact devfd.group_second_open "$got"
[ "$got" = EBUSY ] || fail "the group of a held device fd opened again: $got"
expect_read enable.device_fd "$SYS_PCI/devices/$VF1/enable" 1
expect_read enable.other_vf "$SYS_PCI/devices/$VF0/enable" 0

# Disable the VFs: the lower VF goes, then the write blocks on the held one.
rm -f /tmp/disable.done
t0=$(now)
("$VM_TOOL" write "$D/sriov_numvfs" 0 >/tmp/disable.out && touch /tmp/disable.done) &
gone() { [ ! -e "$SYS_PCI/devices/$1" ]; }
wait_until 10 "$VF0 removed while $VF1 is held" gone "$VF0"
[ -e "$SYS_PCI/devices/$VF1" ] || fail "$VF1 went although its device fd is held"
[ -e /tmp/disable.done ] && fail "disabling VFs returned ($(cat /tmp/disable.out)) with a device fd held"
fact partial_removal "$VF0 removed $(elapsed_ms "$t0" "$(now)") ms after the write began, $VF1 present, write blocked; virtfn links: $(ls "$D" | grep -c virtfn)"
# Readers: the lock-free ones answer at once; which block?
i=0
for f in "$D/vendor" "$D/enable" "$D/sriov_totalvfs" "$D/sriov_drivers_autoprobe" "$D/sriov_numvfs" \
    "$D/driver_override" "$D/uevent" "$SYS_PCI/devices/$VF1/enable" "$SYS_PCI/devices/$VF1/driver_override"; do
    i=$((i + 1))
    rm -f "/tmp/read.$i.done"
    (cat "$f" >/dev/null 2>&1 && touch "/tmp/read.$i.done") &
done
wait_until 5 "the lock-free reads" test -e /tmp/read.1.done -a -e /tmp/read.2.done -a -e /tmp/read.3.done -a -e /tmp/read.4.done -a -e /tmp/read.8.done
t1=$(now)
while awk -v t="$(now)" -v s="$t1" 'BEGIN { exit !(t - s < 1) }'; do sleep 0.1; done # the 1 s window
blocked=
i=0
for f in vendor enable sriov_totalvfs sriov_drivers_autoprobe sriov_numvfs driver_override uevent vf.enable vf.driver_override; do
    i=$((i + 1))
    [ -e "/tmp/read.$i.done" ] || blocked="$blocked $f"
done
fact reads_blocked_during_stuck_disable "${blocked# }"
[ "${blocked# }" = "sriov_numvfs driver_override uevent vf.driver_override" ] ||
    fail "reads blocked during the stuck disable: '${blocked# }'"
dmesg | grep -q "No device request channel registered, blocked until released by user" &&
    fact stuck.kernel_log "vfio-pci: No device request channel registered, blocked until released by user"
stop_holder
wait_until 20 "the disable to return after the release" test -e /tmp/disable.done
fact partial_removal.after_release "$(cat /tmp/disable.out) after $(elapsed_ms "$t0" "$(now)") ms; numvfs $(cat "$D/sriov_numvfs")"
wait

# O_PATH, and a /dev/null in a user namespace, as nobody.
set_numvfs "$PF" 1
VF0=$(vf_addr "$PF" 0)
bind_vfio "$VF0"
G0=$(group_of "$VF0")
wait_until 5 "/dev/vfio/$G0" test -c "/dev/vfio/$G0"
rm -f /tmp/opath.ready /tmp/ns.ready
setpriv --reuid=nobody --regid=nogroup --clear-groups "$VM_TOOL" opath "/dev/vfio/$G0" /tmp/opath.ready >/dev/null 2>&1 &
OP=$!
wait_until 5 "an O_PATH opener" test -e /tmp/opath.ready
opath=$(grep flags "/proc/$OP/fdinfo/3" | tr -d '\t')
fact opath.fdinfo "fd 3 -> $(readlink "/proc/$OP/fd/3"), $opath, $(stat -L -c '%F %t:%T' "/proc/$OP/fd/3")"
[ "$opath" = "flags:010000000" ] || fail "O_PATH fdinfo: $opath"
kill "$OP"
setpriv --reuid=nobody --regid=nogroup --clear-groups unshare -Urm sh -c \
    "mount --bind /dev/null /dev/vfio/$G0 && exec $VM_TOOL hold /dev/vfio/$G0 /tmp/ns.ready" >/tmp/ns.out 2>&1 &
NS=$!
wait_until 5 "a /dev/null opener in a user namespace ($(cat /tmp/ns.out))" test -e /tmp/ns.ready
fact userns_devnull "fd 3 -> $(readlink "/proc/$NS/fd/3"), $(stat -L -c '%F %t:%T' "/proc/$NS/fd/3")"
[ "$(stat -L -c '%t:%T' "/proc/$NS/fd/3")" = "1:3" ] || fail "the bound /dev/null is not 1:3"
kill "$NS"
wait

# mdev: a device fd only, then remove.
modprobe mtty || fail "modprobe mtty"
P=/sys/class/mdev_bus/mtty
wait_until 5 "mtty" test -d "$P/mdev_supported_types"
U=83b8f4f2-509f-382f-3c1e-e6bfe0fa1009
echo "$U" >"$P/mdev_supported_types/mtty-1/create"
M=/sys/bus/mdev/devices/$U
GM=$(basename "$(readlink "$M/iommu_group")")
wait_until 5 "/dev/vfio/$GM" test -c "/dev/vfio/$GM"
start_devfd_holder "/dev/vfio/$GM" "$U"
rm -f /tmp/mremove.done
t0=$(now)
("$VM_TOOL" write "$M/remove" 1 >/tmp/mremove.out && touch /tmp/mremove.done) &
wait_until 10 "the mdev off /sys/bus/mdev/devices" test ! -e "$M"
[ -e /tmp/mremove.done ] && fail "mdev remove returned ($(cat /tmp/mremove.out)) with a device fd held"
fact mdev.stuck_remove "$U gone from /sys/bus/mdev/devices $(elapsed_ms "$t0" "$(now)") ms after remove began, write blocked; type devices/: '$(ls "$P/mdev_supported_types/mtty-1/devices" | tr '\n' ' ')'"
stop_holder
wait_until 20 "the mdev remove to return" test -e /tmp/mremove.done
fact mdev.after_release "$(cat /tmp/mremove.out) after $(elapsed_ms "$t0" "$(now)") ms"
wait
rmmod mtty
set_numvfs "$PF" 0
