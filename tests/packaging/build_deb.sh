#!/bin/sh
# Builds the Debian package the way the README says (`dpkg-buildpackage -us -uc -b`), from a copy of the
# source tree (the sources as they are, without build trees or git data), into OUT_DIR: the .deb, the
# .changes and the build log. The CTest fixture `hostdevd-deb`: the package test (test_deb.sh) and the
# real-systemd VM tier (which installs it with dpkg -i) use what it leaves.
#   build_deb.sh SOURCE_DIR OUT_DIR
set -u
SRC=$(cd "$1" && pwd)
OUT=$2
say() { printf '%s\n' "$*"; }
die() { say "FAIL: $*"; exit 1; }

for tool in dpkg-buildpackage dh; do
    command -v "$tool" >/dev/null || die "$tool missing (scripts/install-deps.sh installs it)"
done
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd) || die "cannot create $OUT"
rm -f "$OUT"/hostdevd_* "$OUT"/hostdevd-dbgsym_*
# A fixed work directory (the same compiler command lines every run, so ccache can answer); a directory
# left by an interrupted run is replaced.
WORK=$OUT/work
rm -rf "$WORK" && mkdir -p "$WORK" || die "cannot create $WORK"
TREE=$WORK/hostdevd-0.1.0
mkdir -p "$TREE"
tar -C "$SRC" --exclude='./build*' --exclude=./.git --exclude=./.cache --exclude='./obj-*' \
    --exclude=./debian/hostdevd --exclude=./debian/.debhelper -cf - . | tar -C "$TREE" -xf -
start=$(date +%s)
# ccache, when this machine has it, makes rebuilds cheap; the package does not need it.
CC_PATH=""
[ -d /usr/lib/ccache ] && command -v ccache >/dev/null && CC_PATH=/usr/lib/ccache:
if ! (cd "$TREE" && env PATH="$CC_PATH$PATH" CCACHE_BASEDIR="$TREE" CCACHE_NOHASHDIR=1 \
        CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}" DEB_BUILD_OPTIONS="parallel=2 nocheck" \
        dpkg-buildpackage -us -uc -b >"$OUT/build.log" 2>&1); then
    tail -40 "$OUT/build.log"
    die "dpkg-buildpackage failed"
fi
for f in "$WORK"/hostdevd_* "$WORK"/hostdevd-dbgsym_*; do
    [ -e "$f" ] && mv "$f" "$OUT/"
done
rm -rf "$WORK"
DEB=$(ls "$OUT"/hostdevd_*.deb 2>/dev/null | head -1)
[ -n "$DEB" ] && ls "$OUT"/hostdevd_*.changes >/dev/null 2>&1 || die "no .deb/.changes produced"
say "built $(basename "$DEB") in $(($(date +%s) - start)) s"
