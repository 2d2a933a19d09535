#!/usr/bin/python3
"""Reads hostdevd's `[pci]` export with nova's own code (Debian's python3-nova) and checks that it selects
exactly the intended devices of the simulated host, and no others.

Usage: check_nova.py NOVA_CONF EXPECTED_JSON

EXPECTED_JSON: {"pools": {POOL: {"addresses": [...], "managed": "no", "physical_network": ...,
"resource_class": ..., "traits": [...]}}, "aliases": {ALIAS: [addresses]}}

Nova's device dicts are built from the host's sysfs (run inside `simhost run`), the way its libvirt driver
describes PCI devices: vendor_id, product_id, address, parent_addr, dev_type. Exits 1 with FAIL lines on
any mismatch. Must run with Debian's /usr/bin/python3 (the one that has python3-nova).
"""
import json
import os
import sys

import nova.conf
from nova import objects
from nova.compute import pci_placement_translator as translator
from nova.objects import fields
from nova.pci import request, stats, whitelist
import os_traits

SYSFS = "/sys/bus/pci/devices"
failures = []


def check(ok, message):
    if not ok:
        failures.append(message)


def read(path):
    with open(path) as f:
        return f.read().strip()


def host_devices():
    """Every PCI device of the host as nova's libvirt driver reports it."""
    devices = []
    for address in sorted(os.listdir(SYSFS)):
        path = os.path.join(SYSFS, address)
        parent = None
        if os.path.exists(os.path.join(path, "physfn")):
            dev_type = fields.PciDeviceType.SRIOV_VF
            parent = os.path.basename(os.readlink(os.path.join(path, "physfn")))
        elif os.path.exists(os.path.join(path, "sriov_totalvfs")) and int(read(os.path.join(path, "sriov_totalvfs"))) > 0:
            dev_type = fields.PciDeviceType.SRIOV_PF
        else:
            dev_type = fields.PciDeviceType.STANDARD
        devices.append({
            "address": address,
            "vendor_id": read(os.path.join(path, "vendor"))[2:],
            "product_id": read(os.path.join(path, "device"))[2:],
            "dev_type": dev_type,
            "parent_addr": parent,
            "numa_node": None,
            "label": "label_%s_%s" % (read(os.path.join(path, "vendor"))[2:], read(os.path.join(path, "device"))[2:]),
            "dev_id": "pci_" + address.replace(":", "_").replace(".", "_"),
        })
    return devices


def main():
    conf_file, expected_file = sys.argv[1], sys.argv[2]
    with open(expected_file) as f:
        expected = json.load(f)
    objects.register_all()
    conf = nova.conf.CONF
    # nova's own option parsing: [pci] device_spec and alias are MultiStrOpts of the file.
    conf(["--config-file", conf_file], project="nova", default_config_files=[], default_config_dirs=[])

    spec_filter = whitelist.Whitelist(conf.pci.device_spec)
    devices = host_devices()
    check(len(devices) > 10, "the simulated host shows only %d PCI devices" % len(devices))
    by_address = {d["address"]: d for d in devices}
    pci_objects = {d["address"]: objects.PciDevice.create(None, d) for d in devices}

    # device_spec: exactly the pools' devices are assignable, each with its pool's tags.
    want = {a for p in expected["pools"].values() for a in p["addresses"]}
    got = {a for a, d in by_address.items() if spec_filter.device_assignable(d)}
    check(got == want, "assignable devices: got %s, want %s" % (sorted(got), sorted(want)))
    for name, pool in expected["pools"].items():
        for address in pool["addresses"]:
            if address not in pci_objects:
                failures.append("pool %s: %s is not on the host" % (name, address))
                continue
            spec = spec_filter.get_devspec(pci_objects[address])
            if spec is None:
                failures.append("pool %s: no device_spec matches %s" % (name, address))
                continue
            tags = dict(spec.get_tags())
            for key in ("managed", "physical_network", "resource_class"):
                check(tags.get(key) == pool.get(key),
                      "%s (pool %s): tag %s = %r, want %r" % (address, name, key, tags.get(key), pool.get(key)))
            # nova's placement translation of the tags leaves hostdevd's normalized names as they are.
            rc = translator._get_rc_for_dev(pci_objects[address], tags)
            want_rc = pool.get("resource_class") or ("CUSTOM_PCI_%s_%s" % (by_address[address]["vendor_id"],
                                                                         by_address[address]["product_id"])).upper()
            check(rc == want_rc, "%s: nova's resource class %s, want %s" % (address, rc, want_rc))
            traits = translator._get_traits_for_dev(tags)
            want_traits = set(pool.get("traits", [])) | {os_traits.COMPUTE_MANAGED_PCI_DEVICE}
            check(traits == want_traits, "%s: nova's traits %s, want %s" % (address, sorted(traits), sorted(want_traits)))

    # The scheduler's view: nova's pools of the whitelisted devices, and what a request selects from them.
    pci_stats = stats.PciDeviceStats(None, dev_filter=spec_filter)
    for obj in pci_objects.values():
        pci_stats.add_device(obj)

    def selected(req):
        return {dev.address for pool in pci_stats._filter_pools_for_spec(pci_stats.pools, req) for dev in pool["devices"]}

    aliases = request._get_alias_from_config()  # validates every alias against nova's schema
    check(set(aliases) == set(expected["aliases"]), "aliases: got %s, want %s" % (sorted(aliases), sorted(expected["aliases"])))
    for name, addresses in expected["aliases"].items():
        if name not in aliases:
            continue
        got = set()
        for req in request._translate_alias_to_requests("%s:1" % name):
            got |= selected(req)
        check(got == set(addresses), "alias %s selects %s, want %s" % (name, sorted(got), sorted(addresses)))
    # A neutron SR-IOV port asks for its physical network: that selects exactly the pool's devices.
    for name, pool in expected["pools"].items():
        if not pool.get("physical_network"):
            continue
        req = objects.InstancePCIRequest(count=1, spec=[{"physical_network": pool["physical_network"]}])
        got = selected(req)
        check(got == set(pool["addresses"]), "physical_network %s selects %s, want %s"
              % (pool["physical_network"], sorted(got), sorted(pool["addresses"])))

    for f in failures:
        print("FAIL: " + f)
    print("nova: %d device_spec entries, %d aliases, %d host devices checked" %
          (len(spec_filter.specs), len(aliases), len(devices)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
