#!/usr/bin/python3
"""Checks hostdevd's sriov-dp export against the SR-IOV network device plugin's documented schema
(sriov-dp.schema.json, written from its README; validated with Debian's python3-jsonschema) and against the
simulated host: one resource per pool, naming exactly the pool's devices.

Usage: check_sriov_dp.py SCHEMA CONFIG_JSON EXPECTED_JSON

EXPECTED_JSON: {"PREFIX/NAME" or "NAME": {"deviceType": ..., "pciAddresses": [...], "isRdma": bool}}
Exits 1 with FAIL lines on any mismatch.
"""
import copy
import json
import os
import sys

import jsonschema

failures = []


def main():
    schema_file, config_file, expected_file = sys.argv[1:4]
    with open(schema_file) as f:
        schema = json.load(f)
    with open(config_file) as f:
        config = json.load(f)
    with open(expected_file) as f:
        expected = json.load(f)
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    for error in validator.iter_errors(config):
        failures.append("schema: %s at %s" % (error.message, list(error.path)))
    # The schema is not vacuous: what the plugin refuses, it refuses too.
    for mutate, what in ((lambda c: c["resourceList"][0].__setitem__("resourceName", "gold.vf"), "a '.' in resourceName"),
                         (lambda c: c["resourceList"][0]["selectors"][0].__setitem__("pciAdresses", []), "an unknown selector"),
                         (lambda c: c["resourceList"][0].__setitem__("deviceType", "netdevice"), "an unknown deviceType")):
        bad = copy.deepcopy(config)
        mutate(bad)
        if validator.is_valid(bad):
            failures.append("the schema accepts %s" % what)

    got = {}
    for r in config["resourceList"]:
        key = (r["resourcePrefix"] + "/" if "resourcePrefix" in r else "") + r["resourceName"]
        if key in got:
            failures.append("resource %s listed twice" % key)
        selectors = r["selectors"]
        got[key] = {"deviceType": r.get("deviceType", "netDevice"),
                    "pciAddresses": selectors[0].get("pciAddresses"),
                    "isRdma": selectors[0].get("isRdma", False)}
        for address in selectors[0].get("pciAddresses", []):
            path = "/sys/bus/pci/devices/%s/class" % address
            if not os.path.exists(path):
                failures.append("%s (%s) is not on the host" % (address, key))
                continue
            with open(path) as f:
                cls = int(f.read().strip(), 16) >> 16
            want_cls = 0x12 if got[key]["deviceType"] == "accelerator" else 0x02
            if cls != want_cls:
                failures.append("%s (%s) has class 0x%02x, not the one its deviceType serves" % (address, key, cls))
    if got != expected:
        failures.append("resources: got %s, want %s" % (json.dumps(got, sort_keys=True), json.dumps(expected, sort_keys=True)))
    print("sriov-dp: %d resources validated" % len(got))


if __name__ == "__main__":
    main()
    for f in failures:
        print("FAIL: " + f)
    sys.exit(1 if failures else 0)
