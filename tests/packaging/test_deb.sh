#!/bin/sh
# The Debian package, end to end (issue 18): takes the package build_deb.sh built with
# `dpkg-buildpackage -us -uc -b` from a copy of the source tree, runs lintian (errors and warnings fail; its whole output is printed), installs it
# with `dpkg -i` into this machine's /, checks what it installed (files, conffile, the unit enabled,
# hostdevctl and the man pages working), purges it with `dpkg --purge` and shows that no file is left:
# the listing of /etc, /usr, /lib, /opt and /var/lib (but dpkg's own database) is the same before and
# after.
#
# Why the real / and not a chroot: CI runs on a throw-away machine as root, and a debootstrap'ed chroot
# with the runtime libraries would cost minutes of downloads for no extra proof. The test makes sure it
# never leaves the machine changed: the service is never started (no systemd runs here, and a temporary
# policy-rc.d denies starts in case one does), it refuses to run when hostdevd is already installed (it
# would purge someone's installation), and every exit path purges what it installed.
#   test_deb.sh DEB_DIR
set -u
DEB_DIR=$1
fail=0
say() { printf '%s\n' "$*"; }
die() { say "FAIL: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (dpkg -i)"
for tool in lintian dpkg; do
    command -v "$tool" >/dev/null || die "$tool missing (scripts/install-deps.sh installs it)"
done
if dpkg-query -W -f='${Status}' hostdevd 2>/dev/null | grep -qv "not-installed"; then
    die "a hostdevd package is installed here; this test installs and purges one: remove it first"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hostdevd-deb-test.XXXXXX") || die "cannot create a work directory"
POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=0
INSTALLED=0
cleanup() {
    [ $INSTALLED = 1 ] && dpkg --purge hostdevd >/dev/null 2>&1
    [ $OWN_POLICY = 1 ] && rm -f "$POLICY"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# What the package may touch, listed the same way before and after. dpkg's database (/var/lib/dpkg)
# changes by design and is checked separately; caches and logs are not files the package owns.
snapshot() {
    find /etc /usr /lib /opt /var/lib -xdev \( -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/lib/ucf \
        -o -path /var/lib/man-db \) -prune -o -print 2>/dev/null | LC_ALL=C sort
}

# 1. The package, built by build_deb.sh (the CTest fixture `hostdevd-deb`) into DEB_DIR.
DEB=$(ls "$DEB_DIR"/hostdevd_*.deb 2>/dev/null | head -1)
CHANGES=$(ls "$DEB_DIR"/hostdevd_*.changes 2>/dev/null | head -1)
[ -n "$DEB" ] && [ -n "$CHANGES" ] || die "no .deb/.changes in $DEB_DIR (tests/packaging/build_deb.sh builds them)"
say "testing $(basename "$DEB")"

# 2. lintian: errors and warnings fail; info and pedantic tags are shown for the record (overrides, each
# with its reason, are in debian/hostdevd.lintian-overrides).
say "lintian --info --pedantic $(basename "$CHANGES"):"
lintian --info --pedantic --fail-on error,warning "$CHANGES" >"$WORK/lintian.txt" 2>&1
lintian_status=$?
sed 's/^/  /' "$WORK/lintian.txt"
[ $lintian_status -eq 0 ] || { say "FAIL: lintian reports errors or warnings"; fail=1; }
[ -s "$WORK/lintian.txt" ] || say "  (no tags)"

# 3. Install. The service must not start in this test: deny it through policy-rc.d unless one exists.
snapshot >"$WORK/before.txt"
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$POLICY" && chmod 755 "$POLICY" && OWN_POLICY=1
fi
INSTALLED=1
if ! dpkg -i "$DEB" >"$WORK/install.log" 2>&1; then
    cat "$WORK/install.log"
    die "dpkg -i failed"
fi
say "dpkg -i: ok; installed files:"
dpkg -L hostdevd | sed 's/^/  /'
for f in /usr/sbin/hostdevd /usr/bin/hostdevctl /lib/systemd/system/hostdevd.service \
    /lib/udev/rules.d/70-hostdevd.rules /usr/share/dbus-1/system.d/io.hostdevd1.conf \
    /usr/share/dbus-1/system-services/io.hostdevd1.service /usr/share/dbus-1/interfaces/io.hostdevd1.xml \
    /etc/hostdevd/00-example.toml /usr/share/man/man8/hostdevd.8.gz /usr/share/man/man8/hostdevctl.8.gz \
    /usr/share/man/man5/hostdevd.toml.5.gz /usr/share/bash-completion/completions/hostdevctl \
    /usr/share/doc/hostdevd/README.md.gz /usr/share/doc/hostdevd/copyright /usr/share/doc/hostdevd/examples/lab/10-nics.toml; do
    dpkg -L hostdevd | grep -qx "$f" || { say "FAIL: the package does not install $f"; fail=1; }
done
# User docs only: no developer material.
if dpkg -L hostdevd | grep -E '/usr/share/doc/hostdevd/.*(simhost|fuzzing|vm-tier|benchmarks|device-breadth)'; then
    say "FAIL: developer documentation is installed"; fail=1
fi
dpkg-query -W -f='${Conffiles}\n' hostdevd | grep -q '^ /etc/hostdevd/00-example.toml ' ||
    { say "FAIL: /etc/hostdevd/00-example.toml is not a conffile"; fail=1; }
[ -L /etc/systemd/system/multi-user.target.wants/hostdevd.service ] ||
    { say "FAIL: hostdevd.service is not enabled (no multi-user.target.wants link)"; fail=1; }
ps -eo args= | grep -q '^/usr/sbin/hostdevd' && { say "FAIL: the service was started by the test"; fail=1; }
# The installed programs and pages work: the shipped configuration is valid (and asks for nothing).
/usr/bin/hostdevctl --version | grep -q '^hostdevctl 0\.' || { say "FAIL: hostdevctl --version"; fail=1; }
/usr/sbin/hostdevd --version | grep -q '^hostdevd 0\.' || { say "FAIL: hostdevd --version"; fail=1; }
/usr/bin/hostdevctl validate || { say "FAIL: the shipped /etc/hostdevd does not validate"; fail=1; }
for page in "8 hostdevd" "8 hostdevctl" "5 hostdevd.toml"; do
    # shellcheck disable=SC2086
    MANWIDTH=80 man -P cat $page 2>/dev/null | grep -q "^NAME" || { say "FAIL: man $page"; fail=1; }
done

# 4. Purge: nothing left behind, also what the service makes when it runs: its StateDirectory= with the
# libvirt network files of an [export] table (as systemd and hostdevd would have made them).
mkdir -p /var/lib/hostdevd/networks && echo "<network/>" >/var/lib/hostdevd/networks/pool.xml
if ! dpkg --purge hostdevd >"$WORK/purge.log" 2>&1; then
    cat "$WORK/purge.log"; say "FAIL: dpkg --purge failed"; fail=1
fi
INSTALLED=0
[ $OWN_POLICY = 1 ] && rm -f "$POLICY" && OWN_POLICY=0
snapshot >"$WORK/after.txt"
if ! diff -u "$WORK/before.txt" "$WORK/after.txt" >"$WORK/diff.txt"; then
    say "FAIL: files differ after dpkg --purge:"; sed -n '3,$p' "$WORK/diff.txt" | grep '^[-+]'; fail=1
else
    say "dpkg --purge: the listing of /etc /usr /lib /opt /var/lib is as before ($(wc -l <"$WORK/before.txt") entries)"
fi
ls /var/lib/dpkg/info/hostdevd.* >/dev/null 2>&1 && { say "FAIL: dpkg still has hostdevd's control files"; fail=1; }
dpkg-query -W -f='${Status}' hostdevd 2>/dev/null | grep -qv "not-installed" && { say "FAIL: hostdevd is still known to dpkg"; fail=1; }
[ $fail -eq 0 ] && say "package: ok"
exit $fail
