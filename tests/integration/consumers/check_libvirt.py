#!/usr/bin/python3
"""Checks hostdevd's libvirt-network export with libvirt itself: virt-xml-validate accepts each network,
and a real libvirtd (Debian's libvirt-daemon-system) defines and starts it, and lists its addresses.

Usage: unshare -m --propagation private check_libvirt.py NETWORK_DIR EXPECTED_JSON

EXPECTED_JSON: {NETWORK_NAME: {"managed": "no"|"yes", "addresses": ["0000:3b:02.0", ...]}}

Run inside `simhost run` (libvirt refuses a hostdev network whose addresses are not SR-IOV VFs in sysfs,
so it must see the simulated host) and in a mount namespace of its own: libvirtd's state and
configuration directories are tmpfs mounts that vanish with it, so nothing of the machine's libvirt is
used or changed. Exits 1 with FAIL lines on any mismatch.
"""
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

URI = "qemu:///system"
failures = []


def virsh(*args):
    return subprocess.run(["virsh", "-c", URI] + list(args), capture_output=True, text=True)


def main():
    directory, expected_file = sys.argv[1], sys.argv[2]
    with open(expected_file) as f:
        expected = json.load(f)
    files = sorted(n for n in os.listdir(directory) if n.endswith(".xml"))
    names = [n[:-4] for n in files]
    if sorted(names) != sorted(expected):
        failures.append("network files %s, want %s" % (names, sorted(expected)))

    for name in files:
        r = subprocess.run(["virt-xml-validate", os.path.join(directory, name), "network"], capture_output=True, text=True)
        if r.returncode != 0:
            failures.append("virt-xml-validate %s: %s%s" % (name, r.stdout, r.stderr))

    # A private libvirt: every directory it writes is a fresh tmpfs in this mount namespace.
    for d in ("/etc/libvirt", "/var/lib/libvirt", "/var/cache/libvirt", "/var/log/libvirt", "/run/libvirt"):
        os.makedirs(d, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", d], check=True)
    log = open("/var/log/libvirt/libvirtd-test.log", "w")
    daemon = subprocess.Popen(["/usr/sbin/libvirtd"], stdout=log, stderr=subprocess.STDOUT)
    try:
        # Wait for its socket to answer (a state, with a deadline).
        deadline = time.monotonic() + 60
        while virsh("net-list", "--all").returncode != 0:
            if daemon.poll() is not None or time.monotonic() > deadline:
                failures.append("libvirtd did not come up (exit %s)" % daemon.poll())
                return
            time.sleep(0.1)
        for name in files:
            net = name[:-4]
            for step in (["net-define", os.path.join(directory, name)], ["net-start", net]):
                r = virsh(*step)
                if r.returncode != 0:
                    failures.append("virsh %s: %s%s" % (" ".join(step), r.stdout, r.stderr))
            info = virsh("net-info", net).stdout
            if "Active:         yes" not in info:
                failures.append("network %s is not active: %s" % (net, info))
            dump = virsh("net-dumpxml", net)
            if dump.returncode != 0:
                failures.append("virsh net-dumpxml %s: %s" % (net, dump.stderr))
                continue
            forward = ET.fromstring(dump.stdout).find("forward")
            addresses = ["%s:%s:%s.%s" % (a.get("domain")[2:], a.get("bus")[2:], a.get("slot")[2:], a.get("function")[2:])
                         for a in forward.findall("address")]
            want = expected.get(net, {})
            if forward.get("mode") != "hostdev" or forward.get("managed") != want.get("managed"):
                failures.append("network %s: forward mode=%s managed=%s, want hostdev/%s" %
                                (net, forward.get("mode"), forward.get("managed"), want.get("managed")))
            if addresses != want.get("addresses"):
                failures.append("network %s lists %s, want %s" % (net, addresses, want.get("addresses")))
        print("libvirt: %d networks validated, defined, started and dumped" % len(files))
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        if failures:
            log.close()
            with open("/var/log/libvirt/libvirtd-test.log") as f:
                print("libvirtd log:\n" + f.read()[-4000:])


if __name__ == "__main__":
    main()
    for f in failures:
        print("FAIL: " + f)
    sys.exit(1 if failures else 0)
