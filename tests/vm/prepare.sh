#!/bin/sh
# Prepares everything the real-kernel tier boots, in a cache outside the repository:
#   - Debian's current amd64 kernel package (the one linux-image-amd64 depends on), unpacked with
#     `dpkg -x`, with modules.dep built by depmod (the .deb ships none);
#   - the uncompressed vmlinux cut out of vmlinuz (QEMU boots it directly through PVH, ~3x faster
#     under TCG than the compressed image);
#   - the kernel's sample mdev driver samples/vfio-mdev/mtty.c, built out of tree against the
#     unpacked headers and installed as extra/mtty.ko so modprobe finds it;
#   - a busybox-static initramfs that mounts the host's root over 9p with a tmpfs overlay.
# Idempotent: each step leaves a stamp file and is skipped when its stamp exists. Nothing outside
# $HOSTDEVD_VM_CACHE is written. Needs: apt-get, dpkg, gcc, make, xz, cpio, busybox-static, kmod.
set -eu

CACHE=${HOSTDEVD_VM_CACHE:-/var/cache/hostdevd-vm}
HERE=$(cd "$(dirname "$0")" && pwd)
log() { echo "prepare: $*" >&2; }
die() {
    echo "prepare: error: $*" >&2
    exit 1
}

for tool in apt-get apt-cache dpkg dpkg-deb gcc make xz depmod modprobe; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' is not installed (see tests/vm/README.md)"
done
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] && file_is_static=$(ldd "$BUSYBOX" 2>&1 | grep -c "not a dynamic" || true)
[ "${file_is_static:-0}" -ge 1 ] || die "/bin/busybox must be busybox-static (apt-get install busybox-static)"

mkdir -p "$CACHE/debs" "$CACHE/root" "$CACHE/stamps"

# The kernel package name changes with every Debian point release (linux-image-6.1.0-NN-amd64).
KPKG=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$KPKG" ] || die "cannot find the kernel package through 'apt-cache depends linux-image-amd64'"
KVER=${KPKG#linux-image-}             # 6.1.0-NN-amd64
KABI=${KVER%-amd64}                   # 6.1.0-NN
KSERIES=$(echo "$KVER" | cut -d. -f1-2) # 6.1
ROOT=$CACHE/root
echo "$KVER" >"$CACHE/kernel-version.tmp" && mv "$CACHE/kernel-version.tmp" "$CACHE/kernel-version"

# 1. Download (apt-get download writes into the current directory).
PKGS="$KPKG linux-headers-$KVER linux-headers-$KABI-common linux-kbuild-$KSERIES linux-source-$KSERIES"
if [ ! -e "$CACHE/stamps/download-$KVER" ]; then
    log "downloading $PKGS"
    (cd "$CACHE/debs" && apt-get download -q $PKGS) || die "apt-get download failed"
    touch "$CACHE/stamps/download-$KVER"
fi

# 2. Unpack everything except the source tarball into one tree.
if [ ! -e "$CACHE/stamps/unpack-$KVER" ]; then
    for p in $KPKG linux-headers-$KVER linux-headers-$KABI-common linux-kbuild-$KSERIES; do
        deb=$(ls "$CACHE/debs/${p}_"*.deb | tail -n 1)
        log "unpacking $(basename "$deb")"
        dpkg -x "$deb" "$ROOT"
    done
    touch "$CACHE/stamps/unpack-$KVER"
fi
MODDIR=$ROOT/lib/modules/$KVER
[ -d "$MODDIR" ] || die "no $MODDIR after unpacking $KPKG"

# 3. vmlinux: vmlinuz is a bzImage whose payload is an xz stream (magic fd 37 7a 58 5a 00). The ELF
#    inside has a PVH note (CONFIG_PVH=y), so `qemu -kernel vmlinux` boots it without decompression.
if [ ! -s "$CACHE/vmlinux-$KVER" ]; then
    vmlinuz=$ROOT/boot/vmlinuz-$KVER
    off=$(LC_ALL=C grep -aboP '\xfd7zXZ\x00' "$vmlinuz" | head -n 1 | cut -d: -f1) || true
    [ -n "$off" ] || die "no xz payload in $vmlinuz"
    tail -c +"$((off + 1))" "$vmlinuz" | xz -dc --single-stream >"$CACHE/vmlinux.tmp" 2>/dev/null || true
    head -c 4 "$CACHE/vmlinux.tmp" | grep -q "ELF" || die "the payload of $vmlinuz is not an ELF image"
    mv "$CACHE/vmlinux.tmp" "$CACHE/vmlinux-$KVER"
    log "extracted vmlinux ($(du -m "$CACHE/vmlinux-$KVER" | cut -f1) MiB)"
fi

# 4. mtty.ko from the kernel's own sample, built against the unpacked headers. The headers' top
#    Makefile includes the -common one by absolute /usr/src path: point it at our copy.
if [ ! -e "$CACHE/stamps/mtty-$KVER" ]; then
    src=$(ls "$CACHE/debs/linux-source-${KSERIES}_"*.deb | tail -n 1)
    work=$CACHE/mtty-build
    rm -rf "$work" && mkdir -p "$work"
    log "extracting samples/vfio-mdev/mtty.c from $(basename "$src")"
    dpkg-deb --fsys-tarfile "$src" | tar -x -C "$work" --wildcards '*/linux-source-*.tar.xz'
    tar -xJf "$work"/usr/src/linux-source-*.tar.xz -C "$work" --wildcards '*/samples/vfio-mdev/mtty.c'
    mv "$work"/linux-source-*/samples/vfio-mdev/mtty.c "$work/mtty.c"
    rm -rf "${work:?}/usr" "$work"/linux-source-*
    echo "obj-m := mtty.o" >"$work/Kbuild"
    hdr=$ROOT/usr/src/linux-headers-$KVER
    sed -i "s|/usr/src/linux-headers-$KABI-common|$ROOT/usr/src/linux-headers-$KABI-common|g" "$hdr/Makefile"
    log "building mtty.ko"
    make -s -C "$hdr" M="$work" modules >"$work/build.log" 2>&1 || {
        cat "$work/build.log" >&2
        die "building mtty.ko failed"
    }
    mkdir -p "$MODDIR/extra"
    cp "$work/mtty.ko" "$MODDIR/extra/mtty.ko"
    rm -f "$CACHE/stamps/depmod-$KVER"
    touch "$CACHE/stamps/mtty-$KVER"
fi

# 5. modules.dep and the binary indexes, which systemd-udevd's kmod needs to autoload modules.
if [ ! -e "$CACHE/stamps/depmod-$KVER" ]; then
    log "depmod"
    depmod -b "$ROOT" "$KVER"
    touch "$CACHE/stamps/depmod-$KVER"
fi

# 6. initramfs: busybox-static, the modules needed to reach the 9p root (in load order, resolved by
#    modprobe --show-depends against the unpacked tree) and tests/vm/guest/initramfs-init. Rebuilt
#    whenever the init script changes.
init_src=$HERE/guest/initramfs-init
init_sum=$(cat "$init_src" "$0" | sha256sum | cut -c1-16)
if [ ! -s "$CACHE/initramfs-$KVER-$init_sum.cpio.gz" ]; then
    ird=$CACHE/initramfs-tree
    rm -rf "$ird" && mkdir -p "$ird/bin" "$ird/modules" "$ird/proc" "$ird/sys" "$ird/dev" "$ird/newroot"
    cp "$BUSYBOX" "$ird/bin/busybox"
    for applet in sh mount umount mkdir insmod switch_root cat echo printf dd sleep poweroff ls; do
        ln -s busybox "$ird/bin/$applet"
    done
    : >"$ird/modules/order"
    for mod in virtio_pci 9pnet_virtio 9p overlay; do
        modprobe -d "$ROOT" -S "$KVER" --show-depends "$mod" | while read -r kind path _; do
            [ "$kind" = insmod ] || continue
            name=$(basename "$path")
            grep -qx "$name" "$ird/modules/order" && continue
            case "$path" in
            *.ko.xz) xz -dc "$path" >"$ird/modules/${name%.xz}" && name=${name%.xz} ;;
            *) cp "$path" "$ird/modules/$name" ;;
            esac
            echo "$name" >>"$ird/modules/order"
        done
    done
    cp "$init_src" "$ird/init"
    chmod 755 "$ird/init"
    rm -f "$CACHE"/initramfs-"$KVER"-*.cpio.gz
    (cd "$ird" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null | gzip -1) >"$CACHE/initramfs.tmp"
    mv "$CACHE/initramfs.tmp" "$CACHE/initramfs-$KVER-$init_sum.cpio.gz"
    log "initramfs with modules: $(tr '\n' ' ' <"$ird/modules/order")"
fi
ln -sf "initramfs-$KVER-$init_sum.cpio.gz" "$CACHE/initramfs.cpio.gz"
ln -sf "vmlinux-$KVER" "$CACHE/vmlinux"
log "ready: kernel $KVER in $CACHE"
