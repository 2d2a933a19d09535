#!/bin/sh
# hostdevctl's help, version and suggestions (issue 18): --version, help per command, did-you-mean for
# commands, options and values, option values checked, validate --json. Nothing here touches /sys.
set -u
CTL=$1
fail=0
# expect STATUS TEXT -- ARGS...: the exit status and a text in stdout+stderr.
expect() {
    want=$1; text=$2; shift 3
    out=$("$CTL" "$@" 2>&1); got=$?
    if [ "$got" -ne "$want" ] || ! printf '%s' "$out" | grep -qF -- "$text"; then
        echo "FAIL: hostdevctl $*: exit $got (want $want, text '$text'), output: $out"; fail=1
    fi
}
# expect_not TEXT -- ARGS...: the text is not in the output.
expect_not() {
    text=$1; shift 2
    if "$CTL" "$@" 2>&1 | grep -qF -- "$text"; then
        echo "FAIL: hostdevctl $*: output has '$text'"; fail=1
    fi
}

expect 0 "hostdevctl 0." -- --version
expect 0 "hostdevctl 0." -- status --version
# Help per command: the command's own synopsis, options and exit statuses, not the global list.
expect 0 "usage: hostdevctl plan [OPTIONS]" -- plan --help
expect 0 "4  apply would make changes now" -- plan --help
expect_not "import-mdevctl [DIR]" -- plan --help
expect 0 "usage: hostdevctl status [OPTIONS]" -- help status
expect 0 "--state STATE" -- status -h
expect 0 "usage: hostdevctl apply [OPTIONS]" -- --help apply
expect 0 "--timeout SECONDS" -- apply --help
expect 0 "usage: hostdevctl validate [OPTIONS]" -- validate --help
expect 0 "usage: hostdevctl import-mdevctl [DIR]" -- import-mdevctl --help
# The global help lists every command and the exit statuses.
expect 0 "4  pending" -- --help
expect_not "complete" -- --help
# Did you mean: commands, options, option values.
expect 2 "unknown command 'stauts'; did you mean status?" -- stauts
expect 2 "unknown command 'aply'; did you mean apply?" -- aply
expect 2 "unknown command 'imp'; did you mean import-mdevctl?" -- imp
expect 2 "unknown command 'xyzzy' (commands: validate, plan, apply, devices, status, export, import-mdevctl)" -- xyzzy
expect 2 "unknown option --jsno; did you mean --json?" -- plan --jsno
expect 2 "unknown option --conf; did you mean --config-dir?" -- plan --conf /tmp
expect 2 "unknown option --sumary; did you mean --summary?" -- status --sumary
expect 2 "status has no --config-dir option (validate, plan, apply, export have it)" -- status --config-dir /tmp
expect 2 "import-mdevctl has no --json option" -- import-mdevctl --json
expect 2 "--state: unknown state 'blokced'; did you mean blocked?" -- status --state blokced
expect 2 "--state: unknown state 'fialed'; did you mean failed?" -- status --state blocked,fialed
expect 2 "--pf needs a PCI address such as 0000:3b:00.0, not 'ens1f0'" -- status --pf ens1f0
# export: the format is required, checked, and suggested when mistyped.
expect 0 "usage: hostdevctl export FORMAT [OPTIONS]" -- export --help
expect 0 "libvirt-network" -- export --help
expect 2 "export needs a FORMAT: nova, libvirt-network, sriov-dp, prometheus" -- export
expect 2 "unknown export format 'novaa'; did you mean 'nova'?" -- export novaa
expect 2 "unknown export format 'xml' (nova, libvirt-network, sriov-dp, prometheus)" -- export xml
expect 2 "unexpected argument 'prometheus'" -- export nova prometheus
expect 2 "--timeout needs a whole number of SECONDS, not 'soon'" -- apply --timeout soon
expect 2 "option --json takes no value" -- plan --json=yes
expect 2 "--summary and --all exclude each other" -- status --summary --all

# validate --json: the result as JSON, exit status 0 / 1.
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
chmod 755 "$DIR"
printf 'version = 1\n[[pf]]\nmatch = { address = "0000:3b:00.0" }\nvfs = 4\n' >"$DIR/10-ok.toml"
chmod 644 "$DIR/10-ok.toml"
out=$("$CTL" validate --json --config-dir "$DIR"); got=$?
if [ $got -ne 0 ] || ! printf '%s' "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["valid"] is True and d["errors"] == [] and d["entries"] == {"pf": 1, "device": 0, "mdev": 0, "pool": 0} and d["exports"] == {}, d
assert d["files"] == [sys.argv[1] + "/10-ok.toml"], d' "$DIR"; then
    echo "FAIL: validate --json of a valid directory: exit $got, $out"; fail=1
fi
printf 'version = 1\n[[pf]]\nmatch = { adress = "0000:3b:00.0" }\n' >"$DIR/20-bad.toml"
chmod 644 "$DIR/20-bad.toml"
out=$("$CTL" validate --json --config-dir "$DIR" 2>/dev/null); got=$?
if [ $got -ne 1 ] || ! printf '%s' "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["valid"] is False and d["entries"] is None, d
e = d["errors"][0]
assert e["file"] == sys.argv[1] + "/20-bad.toml" and e["line"] == 3 and e["column"] > 0, e
assert "did you mean `address`" in e["message"] and e["text"].startswith(e["file"] + ":3:"), e' "$DIR"; then
    echo "FAIL: validate --json of an invalid directory: exit $got, $out"; fail=1
fi
[ $fail -eq 0 ] && echo "hostdevctl help and suggestions: ok"
exit $fail
