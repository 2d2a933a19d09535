#!/bin/sh
# hostdevd-vm-late-driver.service (the `mdev` boot): the PF's driver arrives only after hostdevd's first
# pass found the PF without one, as a driver still probing (or loaded by a later unit) does at boot on a
# real host. nvme is kept from autoloading in this boot (guest/systemd-boot.sh). Not ordered against
# hostdevd: it waits for what hostdevd publishes. Records what it saw in /run/hostdevd-vm/late-driver.txt.
# The waits below are bounded by the unit's TimeoutStartSec.
out=/run/hostdevd-vm/late-driver.txt
mkdir -p /run/hostdevd-vm
plan() { busctl call io.hostdevd1 /io/hostdevd1 io.hostdevd1.Manager Plan 2>/dev/null; }
# A pass has ended with the VF count waiting for the PF's driver and nothing it could do itself.
until p=$(plan) && echo "$p" | grep -q '"waiting"' && ! echo "$p" | grep -q '"safe"'; do
    sleep 0.1
done
state=$(systemctl show -p ActiveState --value hostdevd.service)
echo "hostdevd at the pass that found the PF without a driver: $state" >"$out"
# READY=1 already sent with the PF still driverless (what the fix prevents): let the consumer see it
# before the driver comes, so the scenario's check does not depend on who is faster.
if [ "$state" = active ]; then
    until [ "$(systemctl show -p ActiveState --value hostdevd-vm-consumer.service)" = active ]; do
        sleep 0.1
    done
fi
modprobe nvme
echo "nvme loaded at $(cut -d' ' -f1 /proc/uptime) s" >>"$out"
