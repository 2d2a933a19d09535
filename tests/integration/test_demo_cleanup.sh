#!/bin/sh
# ./scripts/demo.sh stops everything it started (issue 18: its private dbus-daemon used to survive every
# run): after the demo, no process refers to its run directory (the dbus-daemon's --config-file, the
# hostdevd's --config-dir), and the directory is gone. The demo runs on the suite's own build
# (HOSTDEVD_DEMO_NO_BUILD=1) with a run directory of its own, so nothing else can match.
#   test_demo_cleanup.sh SOURCE_DIR BUILD_DIR
set -u
SRC=$1
BUILD=$2
DEMO=$(mktemp -u /tmp/hostdevd-demo-test-XXXXXX)
out=$(HOSTDEVD_DEMO_NO_BUILD=1 BUILD_DIR=$BUILD HOSTDEVD_DEMO_DIR=$DEMO "$SRC/scripts/demo.sh" 2>&1)
status=$?
fail=0
if [ $status -ne 0 ]; then
    printf '%s\n' "$out" | tail -30
    echo "FAIL: the demo exited $status"; fail=1
fi
printf '%s\n' "$out" | grep -q "nothing was destroyed" || { echo "FAIL: the demo did not run to its end"; fail=1; }
# Every process whose command line names the demo's directory was started by the demo.
left=$(ps -eo pid=,args= | grep -F -- "$DEMO" | grep -v -e "grep -F" -e "$0")
if [ -n "$left" ]; then
    echo "FAIL: still running after the demo:"; echo "$left"; fail=1
    # Stop exactly those (by PID), so a failing run leaves this machine as it found it.
    echo "$left" | while read -r pid _; do kill "$pid" 2>/dev/null; done
fi
[ -e "$DEMO" ] && { echo "FAIL: $DEMO is left behind"; rm -rf "$DEMO"; fail=1; }
[ $fail -eq 0 ] && echo "demo cleanup: ok (nothing left running)"
exit $fail
