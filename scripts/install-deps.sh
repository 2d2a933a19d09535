#!/bin/sh
# Installs, with apt, everything hostdevd needs to build, test and run its demo on Debian 12, and to
# build its Debian package (debian/control's Build-Depends are a subset of this list). The consumers whose
# own code checks hostdevd's exports in the tests (tests/integration/consumers/) come from here too: nova's
# Python package, libvirt (libvirtd, virsh, virt-xml-validate), node_exporter, the Prometheus client's
# parser and jsonschema.
# Idempotent: does nothing when every package is already installed. Uses sudo when not root.
set -eu

PACKAGES="build-essential cmake ninja-build pkg-config clang \
  libudev-dev libsystemd-dev libfuse3-dev fuse3 libtomlplusplus-dev libsdbus-c++-dev libsdbus-c++-bin \
  libspdlog-dev catch2 libkmod-dev nlohmann-json3-dev uuid-dev libvirt-dev libxml2-dev \
  udev dbus kmod pciutils driverctl mdevctl util-linux iproute2 python3 systemd \
  libvirt-daemon-system libvirt-clients \
  qemu-system-x86 busybox-static xz-utils \
  scdoc bash-completion man-db bsdextrautils dpkg-dev debhelper lintian \
  python3-nova libvirt-daemon-system libvirt-clients prometheus-node-exporter python3-prometheus-client \
  python3-jsonschema"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing:$missing" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
