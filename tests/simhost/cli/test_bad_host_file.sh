#!/bin/bash
# A bad host file is reported as FILE:LINE:COL: message with exit status 2, before anything is set up;
# and without root simhost says why it cannot run.
. "$(dirname "$0")/lib.sh"
SIMHOST=$1 HOST=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf '[host]\nname = "x"\nbogus_key = 1\n' > "$tmp/bad.toml"
out=$("$SIMHOST" run --host "$tmp/bad.toml" -- true 2>&1); rc=$?
[ $rc -eq 2 ] || fail "exit status $rc, expected 2"
echo "$out" | grep -Eq "^$tmp/bad.toml:3:1: .*bogus_key" || fail "message was: $out"

out=$("$SIMHOST" run --host "$tmp/missing.toml" -- true 2>&1); rc=$?
[ $rc -eq 2 ] || fail "missing file: exit status $rc"
echo "$out" | grep -q "missing.toml" || fail "missing file message was: $out"

chmod 755 "$tmp"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$SIMHOST" run --host "$HOST" -- true 2>&1); rc=$?
[ $rc -eq 2 ] || fail "non-root: exit status $rc"
echo "$out" | grep -q "simhost needs root (mount/network namespaces, FUSE)" || fail "non-root message: $out"
echo PASS
