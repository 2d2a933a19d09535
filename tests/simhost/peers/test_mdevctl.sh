#!/bin/bash
# Runs inside simhost: mdevctl (unmodified) lists a parent's types and starts an mdev on it.
. "$(dirname "$0")/../cli/lib.sh"
uuid=5a4e1f7c-3a6b-4bd1-9d67-0e0d3a1b2c01
types=$(mdevctl types 2>&1) || fail "mdevctl types failed: $types"
echo "$types"
echo "$types" | grep -q '0000:00:02.0' || fail "parent missing"
echo "$types" | grep -q 'i915-GVTg_V5_4' || fail "type missing"
echo "$types" | grep -q 'Available instances: 4' || fail "available instances missing"
mdevctl start -p 0000:00:02.0 -t i915-GVTg_V5_4 -u $uuid || fail "mdevctl start failed"
[ -e /sys/bus/mdev/devices/$uuid ] || fail "mdev not created"
mdevctl list | grep -q "$uuid 0000:00:02.0 i915-GVTg_V5_4" || fail "mdevctl list: $(mdevctl list)"
mdevctl stop -u $uuid || fail "mdevctl stop failed"
[ ! -e /sys/bus/mdev/devices/$uuid ] || fail "mdev not removed"
echo PASS
