#!/bin/bash
# bash completion for hostdevctl (completion/hostdevctl.bash), driven as bash drives it: the real
# bash-completion library loaded, COMP_WORDS/COMP_CWORD/COMP_LINE/COMP_POINT set as readline sets them
# (':' breaks words, so "0000:3b" is three words), the completion function called, COMPREPLY checked.
# Runs inside a simulated host (the lab host): PF addresses come from its /sys.
# Pools come from the running hostdevd: the test starts one (lab configuration) on a private bus.
#   test_completion.sh DIR_WITH_HOSTDEVCTL SOURCE_DIR HOSTDEVD
set -u
CTL_DIR=$1
SRC=$2
HOSTDEVD=$3
export PATH="$CTL_DIR:$PATH"
fail=0
WORK=$(mktemp -d /tmp/hostdevd-completion-XXXXXX)
BUS_PID="" DAEMON_PID=""
cleanup() {
    [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
    [ -n "$BUS_PID" ] && kill "$BUS_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
BASH_COMPLETION=/usr/share/bash-completion/bash_completion
[ -r "$BASH_COMPLETION" ] || { echo "FAIL: $BASH_COMPLETION missing (package bash-completion)"; exit 1; }
# shellcheck disable=SC1090
. "$BASH_COMPLETION"
# shellcheck disable=SC1091
. "$SRC/completion/hostdevctl.bash"

# complete LINE: sets COMPREPLY for the cursor at the end of LINE, splitting words as readline does.
complete_line() {
    COMP_LINE=$1
    COMP_POINT=${#COMP_LINE}
    local words
    # readline's split: blanks separate words, and each character of COMP_WORDBREAKS that is not a
    # blank or a quote (here ':' and '=') is a word of its own.
    words=$(printf '%s' "$1" | sed -e 's/\([:=]\)/ \1 /g')
    # shellcheck disable=SC2206
    COMP_WORDS=($words)
    [[ $1 == *" " || $1 == *":" || $1 == *"=" ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    _hostdevctl hostdevctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
}

# expect LINE WANT...: COMPREPLY holds exactly these candidates (in any order).
expect() {
    local line=$1; shift
    complete_line "$line"
    local got want
    got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')
    want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
    if [ "$got" != "$want" ]; then
        echo "FAIL: completing '$line': got '$got', want '$want'"; fail=1
    fi
}

# The lab host's SR-IOV PFs, from its sysfs (what `complete pfs` must find).
pfs=$(for d in /sys/bus/pci/devices/*; do [ -e "$d/sriov_totalvfs" ] && basename "$d"; done | sort)
[ -n "$pfs" ] || { echo "FAIL: the simulated host shows no SR-IOV PF"; exit 1; }
[ "$(hostdevctl complete pfs)" = "$pfs" ] || { echo "FAIL: complete pfs: $(hostdevctl complete pfs) != $pfs"; fail=1; }

# Commands.
expect "hostdevctl sta" status
expect "hostdevctl " validate plan apply devices status export import-mdevctl
expect "hostdevctl --config-dir /tmp pl" plan
# The formats of `export`.
expect "hostdevctl export " nova libvirt-network sriov-dp prometheus
expect "hostdevctl export li" libvirt-network
# Options of the command under the cursor.
expect "hostdevctl status --st" --state
expect "hostdevctl plan --" --config-dir --json --local --help
# A device address: "0000:3b" is completed to the PFs on bus 3b. Bash replaces only the word after
# the last ':', so the candidates are what follows "0000:" (__ltrim_colon_completions).
want=$(printf '%s\n' $pfs | grep '^0000:3b:' | sed 's/^0000://')
[ -n "$want" ] || { echo "FAIL: the lab host has no PF on bus 3b"; exit 1; }
# shellcheck disable=SC2086
expect "hostdevctl status --pf 0000:3b" $want
# shellcheck disable=SC2086
expect "hostdevctl status --pf=0000:3b" $want
# shellcheck disable=SC2086
expect "hostdevctl status --pf " $(printf '%s\n' $pfs)
# States, also after a comma.
expect "hostdevctl status --state bl" blocked
expect "hostdevctl status --state blocked,fa" blocked,failed
# Pools: from the running daemon.
mkdir -m 755 "$WORK/conf" && cp "$SRC"/examples/config/lab/*.toml "$WORK/conf/" && chmod 644 "$WORK"/conf/*.toml
{ read -r DBUS_SYSTEM_BUS_ADDRESS; read -r BUS_PID; } < <("$SRC/scripts/private-bus.sh" "$WORK/bus")
export DBUS_SYSTEM_BUS_ADDRESS
"$HOSTDEVD" --config-dir "$WORK/conf" 2>"$WORK/hostdevd.log" &
DAEMON_PID=$!
# Until the daemon has published its first pass (the devices and their pools): State converged, 30 s at
# most.
for _ in $(seq 300); do
    busctl get-property io.hostdevd1 /io/hostdevd1 io.hostdevd1.Manager State 2>/dev/null | grep -q '"converged"' &&
        break
    sleep 0.1
done
expect "hostdevctl status --pool g" gold
expect "hostdevctl status --pool=" gold
[ $fail -eq 0 ] && echo "bash completion: ok"
exit $fail
