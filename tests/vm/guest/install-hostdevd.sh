# Sourced by systemd-boot.sh. install_hostdevd puts hostdevd into the guest's root the way a user installs
# it (README, Installing): `cmake --install` of the build tree under test: /usr/sbin/hostdevd,
# /usr/bin/hostdevctl, the unit, the udev rules, the D-Bus policy and activation file, /etc/hostdevd.
# The one place that knows how hostdevd gets installed: switching the tier to the Debian package means
# replacing this function's body with `dpkg -i`.
install_hostdevd() {
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
