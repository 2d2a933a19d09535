# Shared helpers for the simhost shell tests. Usage: . lib.sh  (SIMHOST and HOST set by CTest)
set -u
fail() { echo "FAIL: $*" >&2; exit 1; }
# wait_for DEADLINE_SECONDS COMMAND...: poll a condition until it holds or the deadline passes.
wait_for() {
    local deadline=$(( $(date +%s%N) + $1 * 1000000000 )); shift
    until "$@"; do
        [ "$(date +%s%N)" -lt "$deadline" ] || return 1
        sleep 0.02
    done
}
