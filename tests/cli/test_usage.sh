#!/bin/sh
# hostdevctl's command line: bad arguments get a clear message and exit status 2, an invalid or missing
# configuration exits 1 with FILE:LINE:COL (or FILE:) diagnostics; nothing here touches /sys.
set -u
CTL=$1
fail=0
expect() { # expect STATUS TEXT -- ARGS...
    want=$1; text=$2; shift 3
    out=$("$CTL" "$@" 2>&1); got=$?
    if [ "$got" -ne "$want" ] || ! printf '%s' "$out" | grep -qF -- "$text"; then
        echo "FAIL: hostdevctl $*: exit $got (want $want), output: $out"; fail=1
    fi
}
expect 2 "a command is required" --
expect 2 "unknown command 'frobnicate'" -- frobnicate
expect 2 "--config-dir needs a value" -- plan --config-dir
expect 2 "unknown option --bogus" -- --bogus plan
expect 2 "unexpected argument 'extra'" -- apply extra
expect 2 "import-mdevctl has no --json option" -- import-mdevctl --json
expect 0 "usage: hostdevctl COMMAND" -- --help
expect 1 "/nonexistent-hostdevd: configuration directory does not exist" -- validate --config-dir /nonexistent-hostdevd
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
chmod 755 "$DIR"
printf 'version = 1\n[[pf]]\nmatch = { adress = "0000:3b:00.0" }\n' >"$DIR/10-bad.toml"
chmod 644 "$DIR/10-bad.toml"
expect 1 "$DIR/10-bad.toml:3:" -- validate --config-dir "$DIR"
printf 'version = 1\n[[pf]]\nmatch = { address = "0000:3b:00.0" }\nvfs = 4\n' >"$DIR/10-bad.toml"
expect 0 "valid (1 files, 1 pf" -- validate --config-dir "$DIR"
chmod 664 "$DIR/10-bad.toml"
expect 1 "writable by group" -- validate --config-dir "$DIR"
# export checks the configuration before it reads the host: an invalid one exits 1 with its diagnostics.
printf 'version = 1\n[[pool]]\nname = "gold"\n' >"$DIR/10-bad.toml"
chmod 644 "$DIR/10-bad.toml"
expect 1 "$DIR/10-bad.toml:2:1: no [[pf.vf]] or [[device]] entry has pool = \"gold\"" -- export nova --local --config-dir "$DIR"
[ $fail -eq 0 ] && echo "hostdevctl usage: ok"
exit $fail
