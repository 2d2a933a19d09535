#!/bin/bash
# Runs inside simhost: lspci (pciutils, unmodified) lists the simulated devices with their IDs.
. "$(dirname "$0")/../cli/lib.sh"
out=$(lspci -nn 2>&1) || fail "lspci failed: $out"
echo "$out"
echo "$out" | grep -Eq '^3b:00\.0 .*\[0200\]: .*\[8086:1572\]' || fail "X710 PF missing"
echo "$out" | grep -Eq '^00:02\.0 .*\[0300\]: .*\[8086:3e92\]' || fail "iGPU missing"
echo "$out" | grep -Eq '^ca:00\.4 .*\[10de:27b8\]' || fail "GPU VF missing"
! echo "$out" | grep -q '^af:00\.0' || fail "a not-present device is listed"
echo 2 > /sys/bus/pci/devices/0000:3b:00.0/sriov_numvfs
lspci -nn -s 3b:02.1 | grep -q '\[8086:154c\]' || fail "new VF not listed: $(lspci -nn)"
echo PASS
