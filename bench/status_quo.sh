#!/bin/bash
# The status quo for B1/B2: what administrators run today to get the same host state as hostdevd's
# configuration, one tool invocation per object:
#   echo N > sriov_numvfs                       per PF   (iov.c sriov_numvfs_store())
#   driverctl --nosave set-override VF vfio-pci per VF   (driver_override + drivers_probe, unbind if bound)
#   mdevctl start -u UUID -p PARENT -t TYPE     per mdev (mdev_sysfs.c create_store())
# Usage: status_quo.sh DIR   (DIR from bench/gen_host.py: pfs.list, vfs.list, mdevs.list)
set -eu
dir=$1
while read -r pf n; do
    echo "$n" > "/sys/bus/pci/devices/$pf/sriov_numvfs"
done < "$dir/pfs.list"
while read -r vf; do
    driverctl --nosave set-override "$vf" vfio-pci
done < "$dir/vfs.list"
while read -r uuid parent type; do
    mdevctl start -u "$uuid" -p "$parent" -t "$type"
done < "$dir/mdevs.list"
