#!/bin/sh
# Real-kernel facts for mdev on the kernel's sample driver mtty (samples/vfio-mdev/mtty.c, built by
# prepare.sh): drivers/vfio/mdev/mdev_sysfs.c create_store/remove_store and mdev_core.c
# mdev_device_create.
. "$(dirname "$0")/lib.sh"
modprobe mtty || fail "modprobe mtty (prepare.sh installs extra/mtty.ko)"
P=/sys/class/mdev_bus/mtty
wait_until 5 "the mtty mdev parent" test -d "$P/mdev_supported_types"
fact parent "$(readlink -f "$P")"
fact types "$(ls "$P/mdev_supported_types" | tr '\n' ' ')"
T1=$P/mdev_supported_types/mtty-1
T2=$P/mdev_supported_types/mtty-2
for t in "$T1" "$T2"; do
    fact "type.$(basename "$t")" "name '$(cat "$t/name")' device_api '$(cat "$t/device_api")' available $(cat "$t/available_instances") description $([ -e "$t/description" ] && echo present || echo absent)"
done
expect_read mtty-1.available "$T1/available_instances" 24
expect_read mtty-2.available "$T2/available_instances" 12

U1=83b8f4f2-509f-382f-3c1e-e6bfe0fa1001
U2=83B8F4F2-509F-382F-3C1E-E6BFE0FA1002
expect_write create.bad_uuid "$T1/create" "not-a-uuid" EINVAL
expect_write create.bad_hex "$T1/create" "83b8f4f2-509f-382f-3c1e-e6bfe0fa100z" EINVAL
expect_write create.ok "$T1/create" "$U1\n" OK
M=/sys/bus/mdev/devices/$U1
[ -d "$M" ] || fail "$M missing after create"
fact mdev.links "mdev_type -> $(basename "$(readlink "$M/mdev_type")"), iommu_group $(basename "$(readlink "$M/iommu_group")"), driver $(basename "$(readlink "$M/driver" 2>/dev/null)")"
[ -L "$T1/devices/$U1" ] || fail "$T1/devices/$U1 link missing"
expect_read mtty-1.available_after_create "$T1/available_instances" 23
expect_read mtty-2.available_after_create "$T2/available_instances" 11
expect_write create.duplicate "$T1/create" "$U1" EEXIST
expect_write create.duplicate_other_type "$T2/create" "$U1" EEXIST
expect_write create.upper_case "$T2/create" "$U2" OK
lower=$(echo "$U2" | tr 'A-F' 'a-f')
fact create.upper_case_name "$(basename /sys/bus/mdev/devices/*1002)"
[ -d "/sys/bus/mdev/devices/$lower" ] || fail "upper-case create did not appear as $lower"

# A held mdev: its group is open; record what remove does (guarded by a timeout).
G=$(basename "$(readlink "$M/iommu_group")")
wait_until 5 "/dev/vfio/$G" test -c "/dev/vfio/$G"
start_holder "/dev/vfio/$G"
expect_write remove.zero "$M/remove" "0" OK
[ -d "$M" ] || fail "writing 0 to remove removed the mdev"
expect_write remove.garbage "$M/remove" "x" EINVAL
t0=$(now)
got=$(timeout 20 "$VM_TOOL" write "$M/remove" 1 || echo TIMEOUT)
t1=$(now)
fact remove.group_held "$got after $(elapsed_ms "$t0" "$t1") ms, mdev $([ -d "$M" ] && echo present || echo gone)"
stop_holder
[ -d "$M" ] && expect_write remove.after_release "$M/remove" "1" OK
[ ! -d "$M" ] || fail "$M still present after remove"
expect_write remove.other "/sys/bus/mdev/devices/$lower/remove" "1" OK

# Exhaustion: mtty-2 uses 2 of the 24 shared ports; create until the kernel refuses.
n=0
while :; do
    u=$(printf '00000000-0000-0000-0000-%012d' "$n")
    got=$("$VM_TOOL" write "$T2/create" "$u")
    [ "$got" = OK ] || break
    n=$((n + 1))
    [ "$n" -le 24 ] || fail "created more than 24 mtty-2 devices"
done
fact create.exhausted "mtty-2 after $n creates: $got; available now $(cat "$T2/available_instances") / mtty-1 $(cat "$T1/available_instances")"
[ "$n" = 12 ] || fail "created $n mtty-2 devices, expected 12"
[ "$got" = ENOSPC ] || fail "create with no instances left gave $got"
expect_write create.exhausted_other_type "$T1/create" "$U1" ENOSPC
for d in /sys/bus/mdev/devices/*; do echo 1 >"$d/remove"; done
expect_read mtty-1.available_after_cleanup "$T1/available_instances" 24
