#!/bin/sh
# The real-systemd tier: boots the guest once per systemd setup with Debian's systemd as PID 1 and
# hostdevd installed from the build tree as a user installs it (guest/systemd-boot.sh), and runs that
# boot's scenario (systemd/BOOT.sh). Default: both setups, `nomdev` (no mdev module, installed not
# enabled) and `mdev` (mtty loaded at boot, enabled, a consumer ordered after it).
#
# usage: tests/vm/run-systemd.sh [--results DIR] [BOOT...]
# env:   as run.sh (HOSTDEVD_BUILD_DIR, HOSTDEVD_VM_CACHE, HOSTDEVD_VM_ACCEL, HOSTDEVD_DEB: install this
#        .deb with dpkg -i, as an administrator does, instead of `cmake --install` of the build tree)
# Output: DIR/BOOT/ as run.sh leaves it (results.txt, systemd/BOOT.log, facts/, journal.txt, ...).
# Exit status: the worst of the boots (0 all passed, 1 a scenario failed, 2 a guest never reported).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
RESULTS=
while [ $# -gt 0 ]; do
    case "$1" in
    --results) RESULTS=$2 && shift 2 ;;
    -h | --help) sed -n '2,11p' "$0" && exit 0 ;;
    -*) echo "run-systemd.sh: unknown option $1" >&2 && exit 2 ;;
    *) break ;;
    esac
done
BOOTS=${*:-nomdev mdev}
[ -n "$RESULTS" ] || RESULTS=$(mktemp -d /tmp/hostdevd-vm-systemd.XXXXXX)
worst=0
for boot in $BOOTS; do
    start=$(date +%s)
    status=0
    "$HERE/run.sh" --systemd "$boot" --results "$RESULTS/$boot" || status=$?
    echo "run-systemd.sh: boot $boot: exit $status after $(($(date +%s) - start)) s" >&2
    for f in "$RESULTS/$boot"/facts/*.txt; do
        [ -s "$f" ] && sed "s|^|  $boot: |" "$f" >&2
    done
    [ "$status" -gt "$worst" ] && worst=$status
done
exit "$worst"
