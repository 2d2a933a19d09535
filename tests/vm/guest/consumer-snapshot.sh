#!/bin/sh
# hostdevd-vm-consumer.service: records what a consumer ordered after hostdevd.service finds when it
# starts (systemd/hostdevd-vm-consumer.service). One "key: value" line each.
out=/run/hostdevd-vm/consumer.txt
mkdir -p /run/hostdevd-vm
{
    echo "uptime: $(cut -d' ' -f1 /proc/uptime)"
    echo "hostdevd: $(systemctl show hostdevd.service -p ActiveState --value)"
    for f in /sys/bus/pci/devices/*/sriov_totalvfs; do
        pf=$(dirname "$f")
        echo "numvfs $(basename "$pf"): $(cat "$pf/sriov_numvfs")"
        for vf in "$pf"/virtfn*; do
            [ -e "$vf" ] || continue
            d=none
            [ -e "$vf/driver" ] && d=$(basename "$(readlink "$vf/driver")")
            echo "vf $(basename "$(readlink "$vf")"): $d"
        done
    done
    echo "mdevs: $(ls /sys/bus/mdev/devices 2>/dev/null | tr '\n' ' ')"
} >"$out.tmp"
mv "$out.tmp" "$out"
