# Sourced by stage2.sh (PID 1; /proc, /dev and /results mounted) when run.sh asked for a systemd guest
# (hostdevd.init=systemd). Makes the guest a Debian server with hostdevd installed the way a user installs
# it, then execs Debian's systemd as PID 1, which boots it and runs the scenarios
# (hostdevd-vm-runner.service). hostdevd.boot=NAME picks the setup a boot's scenario (systemd/NAME.sh)
# needs:
#   nomdev  hostdevd installed, not enabled (udev's SYSTEMD_WANTS must start it); no mdev module loaded,
#           so /sys/bus/mdev does not exist (most SR-IOV hosts).
#   mdev    mtty (which pulls in mdev) loaded at boot by systemd-modules-load; hostdevd enabled
#           (`systemctl enable`, as the README says) with a consumer unit ordered after it; the PF's
#           driver (nvme) loaded only after hostdevd's first pass found the PF without one; [export]
#           files for nova, libvirt and node_exporter in their usual directories.
# Returns only when the setup failed.
. "$GUEST/install-hostdevd.sh"
UNITS=/etc/systemd/system
say "systemd-boot: setup starts at $(cut -d' ' -f1 /proc/uptime) s"

# The host's own enablement (its services, timers, gettys), generators (its fstab, init scripts, other
# packages' generators) and boot-time module lists are not this guest's: start from Debian's defaults
# in /lib, with nothing enabled locally. Everything here lands in the tmpfs overlay, not on the host.
rm -rf "$UNITS" /etc/systemd/system-generators /etc/modules-load.d /etc/udev/rules.d
mkdir -p "$UNITS" /etc/systemd/system-generators /etc/modules-load.d /etc/udev/rules.d
for g in /lib/systemd/system-generators/* /usr/lib/systemd/system-generators/*; do
    [ -e "$g" ] && ln -sf /dev/null "/etc/systemd/system-generators/$(basename "$g")"
done
# Units of a full Debian boot that this guest has no use for (no consoles to log in on, no network, no
# persistent disk), masked to keep the boot short under TCG.
for u in getty.target systemd-logind.service systemd-timesyncd.service systemd-pstore.service \
    systemd-firstboot.service systemd-random-seed.service systemd-ask-password-wall.path \
    systemd-ask-password-console.path systemd-binfmt.service proc-sys-fs-binfmt_misc.automount \
    systemd-update-utmp.service systemd-update-utmp-runlevel.service systemd-user-sessions.service \
    e2scrub_reap.service apt-daily.timer apt-daily-upgrade.timer man-db.timer modprobe@dm_mod.service \
    modprobe@loop.service modprobe@drm.service; do
    ln -sf /dev/null "$UNITS/$u"
done
# /tmp is the host's, seen through the overlay, and may hold the checkout or the build tree (CI): Debian's
# `D /tmp` (tmpfiles.d/tmp.conf) would hide it at boot, walking all of it over 9p first.
mkdir -p /etc/tmpfiles.d
: >/etc/tmpfiles.d/tmp.conf
# Drivers for QEMU's q35 chipset, SATA/DVD, input, watchdog and CPU features: udev's coldplug would load
# every one of them (under TCG ~15 s before it reaches the NVMe PF); this guest uses none of them.
# `blacklist` stops only udev's alias-based loading; nvme's own dependencies still load.
mkdir -p /etc/modprobe.d
for m in ahci libata sr_mod cdrom sg i2c_i801 lpc_ich iTCO_wdt iTCO_vendor_support parport_pc ppdev \
    parport pcspkr psmouse serio_raw evdev button kvm kvm_amd kvm_intel ccp aesni_intel crc32_pclmul \
    crc32c_intel ghash_clmulni_intel sha512_ssse3 sha256_ssse3 sha1_ssse3 qemu_fw_cfg bochs drm; do
    echo "blacklist $m"
done >/etc/modprobe.d/hostdevd-vm.conf
mkdir -p /etc/systemd/journald.conf.d
# Volatile journal; no rate limit, so that no line of a debug run is dropped.
printf '[Journal]\nStorage=volatile\nRateLimitBurst=0\n' >/etc/systemd/journald.conf.d/hostdevd-vm.conf

say "systemd-boot: guest configured at $(cut -d' ' -f1 /proc/uptime) s"
install_hostdevd || return 1
say "systemd-boot: hostdevd installed at $(cut -d' ' -f1 /proc/uptime) s"

# The tier's own units: the runner, its target (the default), the uevent barrier and the consumer.
for f in hostdevd-vm-runner.service hostdevd-vm.target hostdevd-vm-sync@.service hostdevd-vm-consumer.service \
    hostdevd-vm-late-driver.service; do
    sed "s|@GUEST@|$GUEST|g" "$GUEST/systemd/$f" >"$UNITS/$f" || return 1
done
cp "$GUEST/systemd/99-hostdevd-vm-sync.rules" /etc/udev/rules.d/ || return 1
ln -sf hostdevd-vm.target "$UNITS/default.target"

# The SR-IOV PF, for the configuration (sysfs is mounted only for this look).
mount -t sysfs sysfs /sys
PF=
for f in /sys/bus/pci/devices/*/sriov_totalvfs; do
    [ -e "$f" ] && PF=$(basename "$(dirname "$f")")
done
umount /sys
[ -n "$PF" ] || {
    say "systemd-boot: no SR-IOV PF in the guest"
    return 1
}
# What the user configured: two VFs on vfio-pci, autoprobe off (the NVMe VFs are useless to the host).
cat >/etc/hostdevd/10-nvme.toml <<TOML
version = 1

[[pf]]
match = { address = "$PF" }
destroy = "when-idle"   # the boot test goes 2 -> 0 -> 1 and back without asking
vfs = 2
autoprobe = false

[[pf.vf]]
index = "0-1"
driver = "vfio-pci"
TOML

case "$VM_BOOT" in
nomdev)
    # Installed but not enabled, so that udev's SYSTEMD_WANTS has to start it: the package enables the unit
    # (as it does on a real host), so this setup disables it again.
    if [ -n "${VM_DEB:-}" ]; then
        systemctl disable hostdevd.service >/results/disable.log 2>&1 || {
            say "systemctl disable failed (results/disable.log)"
            return 1
        }
    fi
    ;;
mdev)
    echo mtty >/etc/modules-load.d/hostdevd-vm.conf
    # The VFs are pool "nvme", and hostdevd keeps exports for its consumers (docs/consumers.md) in the
    # directories the unit makes writable: nova's drop-ins and node_exporter's textfile directory
    # (ReadWritePaths=, where they exist), /var/lib/hostdevd (StateDirectory=) for libvirt's networks.
    echo 'pool = "nvme"' >>/etc/hostdevd/10-nvme.toml
    mkdir -p /etc/nova/nova.conf.d /var/lib/prometheus/node-exporter
    cat >/etc/hostdevd/40-export.toml <<'TOML'
version = 1

[export]
nova = "/etc/nova/nova.conf.d/50-hostdevd.conf"
libvirt-network = "/var/lib/hostdevd/networks"
prometheus = "/var/lib/prometheus/node-exporter/hostdevd.prom"
TOML
    # The PF's driver comes late (hostdevd-vm-late-driver.service), after hostdevd's first pass.
    echo "blacklist nvme" >>/etc/modprobe.d/hostdevd-vm.conf
    cat >/etc/hostdevd/20-mtty.toml <<'TOML'
version = 1

[[mdev]]
parent = { name = "mtty" }
destroy = "when-idle"
type = "mtty-2"
count = 1
TOML
    systemctl enable hostdevd.service hostdevd-vm-consumer.service hostdevd-vm-late-driver.service \
        >/results/enable.log 2>&1 || {
        say "systemctl enable failed (results/enable.log)"
        return 1
    }
    ;;
*)
    say "systemd-boot: unknown boot setup '$VM_BOOT'"
    return 1
    ;;
esac
say "exec systemd at $(cut -d' ' -f1 /proc/uptime) s (boot setup $VM_BOOT, PF $PF)"
umount /proc
exec /lib/systemd/systemd
