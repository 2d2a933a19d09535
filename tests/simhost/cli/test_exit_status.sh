#!/bin/bash
# simhost run passes COMMAND's exit status through, 128+signal when it was killed, and forwards SIGTERM.
. "$(dirname "$0")/lib.sh"
SIMHOST=$1 HOST=$2

"$SIMHOST" run --host "$HOST" -- sh -c 'exit 7'; rc=$?
[ $rc -eq 7 ] || fail "exit 7 gave $rc"
"$SIMHOST" run --host "$HOST" -- sh -c 'kill -KILL $$'; rc=$?
[ $rc -eq 137 ] || fail "SIGKILL gave $rc"
"$SIMHOST" run --host "$HOST" -- /no/such/program; rc=$?
[ $rc -eq 127 ] || fail "missing program gave $rc"
"$SIMHOST" run --host "$HOST"; rc=$?
[ $rc -eq 2 ] || fail "missing COMMAND gave $rc"

# SIGTERM to simhost reaches COMMAND, which decides how to exit.
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$SIMHOST" run --host "$HOST" -- sh -c "trap 'exit 42' TERM; touch $tmp/ready; while :; do sleep 0.05; done" &
simhost_pid=$!
wait_for 10 test -e "$tmp/ready" || fail "COMMAND did not start"
kill -TERM $simhost_pid
wait $simhost_pid; rc=$?
[ $rc -eq 42 ] || fail "SIGTERM forwarding gave $rc"
echo PASS
