#!/bin/sh
# The installed service under Debian's systemd on a host with the mdev module (the kernel's mtty sample,
# loaded at boot by systemd-modules-load, pulls it in), enabled as the README says, with a consumer unit
# ordered after it as libvirtd is (guest/systemd-boot.sh, setup `mdev`; /etc/hostdevd/ asks for 2 VFs on
# vfio-pci and one mtty-2 mdev; nvme, the PF's driver, is loaded only once hostdevd's first pass has
# found the PF without a driver, as a slow driver probe at boot). What an administrator sees:
#  1. hostdevd was still activating when its pass found the PF driverless, and the consumer found what
#     hostdevd was configured to provide when it started (READY=1 came after the PF's driver, the VFs,
#     their binds and the mdev), including the [export] files listing the VFs (nova, libvirt network,
#     metrics; written under ProtectSystem=strict, logged at info), and busctl says converged.
#  2. An mdev parent registering (`modprobe mtty`: a change with MDEV_STATE=registered under SUBSYSTEM
#     mtty) is tagged by udev and pulls the stopped service in, which creates the mdev again.
#  3. The journal of the boot: no sandbox refusal, no restart; the security figure.
. "$VM_REPO/tests/vm/scenarios/lib.sh"
. "$VM_REPO/tests/vm/systemd/lib.sh"
PF=$(sriov_pf)
D=$SYS_PCI/devices/$PF
# Python: uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_DNS, "mdev.hostdevd.io"), "mtty/0")
U0=026cf2e5-2041-5f4b-9370-d8df4379d246
mdev_is() { [ "$(basename "$(readlink "/sys/bus/mdev/devices/$1/mdev_type" 2>/dev/null)")" = "$2" ]; }
daemon_view() {
    echo "unit $(unit_prop $UNIT ActiveState)/$(unit_prop $UNIT SubState), Manager State $(manager_prop State), numvfs $(cat "$D/sriov_numvfs" 2>/dev/null), mdevs: $(ls /sys/bus/mdev/devices 2>/dev/null | tr '\n' ' ')"
}
WAIT_DETAIL=daemon_view

# ---- 1. the boot: what a consumer ordered after hostdevd found
step "1. boot"
[ -d /sys/bus/mdev ] || fail "/sys/bus/mdev does not exist: mtty was not loaded at boot"
[ "$(systemctl is-enabled $UNIT 2>&1)" = enabled ] || fail "hostdevd is $(systemctl is-enabled $UNIT 2>&1), expected enabled"
wait_until 120 "hostdevd.service active" unit_state_is $UNIT active
fact boot.ready "hostdevd READY $(ready_seconds) (enabled, mdev loaded)"
wait_until 60 "the consumer ordered after hostdevd to have run" test -e /run/hostdevd-vm/consumer.txt
cp /run/hostdevd-vm/consumer.txt "$VM_RESULTS/mdev.consumer.txt"
fact consumer "$(tr '\n' ';' </run/hostdevd-vm/consumer.txt)"
late=$(cat /run/hostdevd-vm/late-driver.txt 2>&1)
fact late_driver "$(echo "$late" | tr '\n' ';')"
VF0=$(vf_addr "$PF" 0)
VF1=$(vf_addr "$PF" 1)
for want in "hostdevd: active" "numvfs $PF: 2" "vf $VF0: vfio-pci" "vf $VF1: vfio-pci" "mdevs: $U0 "; do
    grep -qxF "$want" /run/hostdevd-vm/consumer.txt ||
        fail "a consumer ordered after hostdevd.service did not find '$want' when it started: $(tr '\n' ';' </run/hostdevd-vm/consumer.txt)"
done
# The [export] files were written before READY=1, in the directories the unit makes writable
# (ProtectSystem=strict): the consumer found the VFs in them, readable by everyone (mode 0644 despite the
# daemon's UMask=0077).
E=/run/hostdevd-vm/exports
for f in /etc/nova/nova.conf.d/50-hostdevd.conf /var/lib/hostdevd/networks/nvme.xml \
    /var/lib/prometheus/node-exporter/hostdevd.prom; do
    grep -qxF "export $f: 644 root" /run/hostdevd-vm/consumer.txt ||
        fail "a consumer ordered after hostdevd.service did not find $f (mode 644): $(grep "export $f" /run/hostdevd-vm/consumer.txt)"
done
for vf in "$VF0" "$VF1"; do
    grep -qF "{\"address\":\"$vf\"," "$E/50-hostdevd.conf" ||
        fail "the nova export the consumer found lacks $vf: $(grep device_spec "$E/50-hostdevd.conf")"
    grep -qF "hostdevd_device_state{address=\"$vf\",role=\"vf\",pf=\"$PF\",pool=\"nvme\",state=\"converged\"} 1" "$E/hostdevd.prom" ||
        fail "the metrics the consumer found do not have $vf converged"
done
grep -qF '"managed":"no"' "$E/50-hostdevd.conf" || fail "the nova export does not say managed \"no\" for VFs hostdevd binds to vfio-pci"
[ "$(grep -c "<address type='pci'" "$E/nvme.xml")" = 2 ] || fail "the libvirt network the consumer found does not list 2 VFs: $(cat "$E/nvme.xml")"
fact exports "$(grep '^export ' /run/hostdevd-vm/consumer.txt | tr '\n' ';') nova: $(grep -o '"address"' "$E/50-hostdevd.conf" | wc -l) devices"
# Each file written is one journal entry at info under its MESSAGE_ID and format (the metrics, rewritten
# at every pass, at debug); nothing failed.
for format in nova libvirt-network; do
    [ "$(journal_count -u $UNIT -p 6..6 MESSAGE_ID=$MSG_EXPORT_WRITTEN HOSTDEVD_EXPORT_FORMAT=$format)" -ge 1 ] ||
        fail "no export-written entry at info for $format in the journal"
done
[ "$(journal_count -u $UNIT MESSAGE_ID=$MSG_EXPORT_FAILED)" = 0 ] ||
    fail "an export failed: $(journalctl -q --no-pager -b -u $UNIT MESSAGE_ID=$MSG_EXPORT_FAILED -o cat | head -n 3 | tr '\n' ';')"
fact journal.exports "$(journalctl -q --no-pager -b -u $UNIT MESSAGE_ID=$MSG_EXPORT_WRITTEN -p 6..6 -o cat | head -n 3 | tr '\n' ';')"
# The PF had no driver when hostdevd's first pass ended (nvme came later): READY=1 had to wait for it.
case "$late" in *"without a driver: activating"*) ;; *) fail "READY=1 was sent while the PF had no driver: $late" ;; esac
wait_until 30 "Manager State converged" manager_state_is converged
mdev_is "$U0" mtty-2 || fail "mdev $U0 is not an mtty-2"

# ---- 2. an mdev parent registering pulls the stopped service in
step "2. mdev parent registration"
systemctl stop $UNIT
echo 1 >"/sys/bus/mdev/devices/$U0/remove"
rmmod mtty || fail "rmmod mtty"
[ -d /sys/bus/mdev ] || fail "/sys/bus/mdev went with mtty"
udevadm monitor --udev --property --tag-match=hostdevd >"$VM_RESULTS/mdev.monitor.txt" 2>&1 &
MONITOR=$!
wait_until 10 "udevadm monitor listening" grep -q '^UDEV' "$VM_RESULTS/mdev.monitor.txt"
t0=$(now)
modprobe mtty || fail "modprobe mtty"
wait_until 60 "hostdevd started by mtty's registration" unit_state_is $UNIT active
wait_until 60 "mdev $U0 created again" mdev_is "$U0" mtty-2
fact registration "modprobe mtty -> hostdevd active and $U0 created in $(elapsed_ms "$t0" "$(now)") ms"
udevadm settle --timeout=30
kill "$MONITOR" 2>/dev/null
wait "$MONITOR" 2>/dev/null
record=$(awk -v RS= 'index($0, "ACTION=change\n") && index($0, "MDEV_STATE=registered\n")' "$VM_RESULTS/mdev.monitor.txt")
[ -n "$record" ] || fail "udev did not tag mtty's MDEV_STATE=registered change hostdevd (monitor: $(grep '^UDEV' "$VM_RESULTS/mdev.monitor.txt" | tr '\n' ';'))"
fact udev.registered "$(echo "$record" | grep -E '^(ACTION|SUBSYSTEM|MDEV_STATE|TAGS|SYSTEMD_WANTS)=' | tr '\n' ' ')"
echo "$record" | grep -q '^SUBSYSTEM=mtty$' || fail "the registration event is not the mtty parent's: $record"
echo "$record" | grep -q '^SYSTEMD_WANTS=hostdevd.service$' || fail "the registration event does not want hostdevd.service"
wait_until 30 "Manager State converged after the registration" manager_state_is converged

# ---- 3. the whole boot's journal
step "3. journal"
journal_has_no_sandbox_errors
sandbox_in_force mdev
resource_peaks mdev
security_figure
step "done"
