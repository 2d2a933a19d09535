# Sourced by systemd-boot.sh. install_hostdevd puts hostdevd into the guest's root the way a user installs
# it (README, Installing):
# - with VM_DEB (the CTest tier: the package the `package` fixture built from this tree), `dpkg -i` of the
#   Debian package: its maintainer scripts enable the unit as they do on a real host (systemd is not
#   running yet here, so nothing is started), and the boot setups that want it not enabled disable it;
# - without (a developer's run of run-systemd.sh), `cmake --install` of the build tree under test.
# Either way: /usr/sbin/hostdevd, /usr/bin/hostdevctl, the unit, the udev rules, the D-Bus policy and
# activation file, /etc/hostdevd.
install_hostdevd() {
    if [ -n "${VM_DEB:-}" ]; then
        [ -f "$VM_DEB" ] || {
            say "no package at $VM_DEB"
            return 1
        }
        dpkg -i "$VM_DEB" >/results/install.log 2>&1 || {
            say "dpkg -i $VM_DEB failed (results/install.log)"
            return 1
        }
        say "installed $(basename "$VM_DEB") with dpkg -i"
        return 0
    fi
    [ -f "$VM_BUILD/cmake_install.cmake" ] || {
        say "no build tree at $VM_BUILD (cmake_install.cmake missing)"
        return 1
    }
    # cmake --install writes install_manifest.txt into the build tree: that lands in the overlay.
    cmake --install "$VM_BUILD" >/results/install.log 2>&1 || {
        say "cmake --install $VM_BUILD failed (results/install.log)"
        return 1
    }
}
