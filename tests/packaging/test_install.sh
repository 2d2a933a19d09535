#!/bin/sh
# `cmake --install` puts every file where Debian expects it, and the installed unit is well formed and
# hardened ("OK" or better in systemd-analyze security: an exposure of at most 4.9).
set -eu
BUILD=$1
DEST=$(mktemp -d /tmp/hostdevd-install-XXXXXX)
trap 'rm -rf "$DEST"' EXIT
DESTDIR=$DEST cmake --install "$BUILD" >/dev/null
fail=0
for f in usr/sbin/hostdevd usr/bin/hostdevctl lib/systemd/system/hostdevd.service \
         lib/udev/rules.d/70-hostdevd.rules usr/share/dbus-1/system.d/io.hostdevd1.conf \
         usr/share/dbus-1/system-services/io.hostdevd1.service usr/share/dbus-1/interfaces/io.hostdevd1.xml \
         usr/share/doc/hostdevd/README.md usr/share/doc/hostdevd/examples/lab/10-nics.toml etc/hostdevd \
         usr/share/man/man8/hostdevd.8 usr/share/man/man8/hostdevctl.8 usr/share/man/man5/hostdevd.toml.5 \
         usr/share/bash-completion/completions/hostdevctl; do
    if [ ! -e "$DEST/$f" ]; then echo "missing: /$f"; fail=1; fi
done
# User documentation only (issue 18): no developer material, and no reference to a document that is
# not installed (a `name.md` or a relative link must exist next to the installed file).
for dev in simhost.md simhost-hosts.md fuzzing.md vm-tier.md benchmarks.md device-breadth.md; do
    [ ! -e "$DEST/usr/share/doc/hostdevd/$dev" ] || { echo "developer doc installed: $dev"; fail=1; }
done
for doc in $(find "$DEST/usr/share/doc/hostdevd" -name '*.md'); do
    for ref in $(grep -o -e '](\([^)#:]*\))' -e '`[A-Za-z0-9_./-]*\.md`' "$doc" | sed -e 's/^](//' -e 's/)$//' -e 's/`//g'); do
        [ -e "$(dirname "$doc")/$ref" ] || { echo "${doc#$DEST}: refers to $ref, which is not installed"; fail=1; }
    done
done
unit=$DEST/lib/systemd/system/hostdevd.service
grep -q '^ExecStart=/usr/sbin/hostdevd$' "$unit" || { echo "ExecStart does not name /usr/sbin/hostdevd"; fail=1; }
grep -q '^Type=notify$' "$unit" || { echo "unit is not Type=notify"; fail=1; }
# systemd-analyze rates the unit offline; --threshold fails above the given exposure (x10).
if ! systemd-analyze security --offline=yes --threshold=49 "$unit" >"$DEST/security.txt" 2>&1; then
    tail -3 "$DEST/security.txt"; echo "exposure above 4.9"; fail=1
fi
tail -1 "$DEST/security.txt"
# The bus policy is valid XML that dbus-daemon accepts (it refuses to start on a broken include).
cat >"$DEST/bus.conf" <<XML
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path=$DEST/bus.sock</listen>
<include>$DEST/usr/share/dbus-1/system.d/io.hostdevd1.conf</include></busconfig>
XML
if ! out=$(dbus-daemon --config-file="$DEST/bus.conf" --fork --print-pid=1 --nopidfile 2>&1); then
    echo "dbus-daemon rejects the policy: $out"; fail=1
else
    kill "$out" 2>/dev/null || true
fi
[ $fail -eq 0 ] && echo "install layout ok"
exit $fail
