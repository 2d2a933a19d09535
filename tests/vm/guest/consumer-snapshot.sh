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
    # hostdevd's [export] files as this consumer finds them (mdev boot: guest/systemd-boot.sh), copied
    # with their modes to /run/hostdevd-vm/exports/.
    for f in /etc/nova/nova.conf.d/50-hostdevd.conf /var/lib/hostdevd/networks/nvme.xml \
        /var/lib/prometheus/node-exporter/hostdevd.prom; do
        if [ -e "$f" ]; then
            echo "export $f: $(stat -c '%a %U' "$f")"
            mkdir -p /run/hostdevd-vm/exports
            cp -p "$f" /run/hostdevd-vm/exports/
        else
            echo "export $f: missing"
        fi
    done
} >"$out.tmp"
mv "$out.tmp" "$out"
