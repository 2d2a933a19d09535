#!/usr/bin/python3
"""Checks hostdevd's metrics through a real node_exporter (Debian's prometheus-node-exporter): its textfile
collector reads the directory hostdevd writes to, it serves the metrics over loopback, and the scraped
text parses (python3-prometheus-client's parser) with the expected series.

Usage: check_prometheus.py TEXTFILE_DIR EXPECTED_JSON

EXPECTED_JSON: {"samples": [[NAME, {LABELS}, VALUE], ...], "device_states": {ADDRESS: [POOL, STATE]}}

Run inside `simhost run`: its network namespace is the test's own, so the port is free and nothing
outside sees it. Exits 1 with FAIL lines on any mismatch.
"""
import json
import subprocess
import sys
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

ADDRESS = "127.0.0.1:9100"
failures = []


def main():
    directory, expected_file = sys.argv[1], sys.argv[2]
    with open(expected_file) as f:
        expected = json.load(f)
    # A fresh network namespace has its loopback down.
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    exporter = subprocess.Popen(["prometheus-node-exporter", "--web.listen-address=" + ADDRESS,
                                 "--collector.disable-defaults", "--collector.textfile",
                                 "--collector.textfile.directory=" + directory],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        text = None
        deadline = time.monotonic() + 60
        while text is None:
            try:
                with urllib.request.urlopen("http://%s/metrics" % ADDRESS, timeout=5) as r:
                    text = r.read().decode()
            except OSError:
                if exporter.poll() is not None or time.monotonic() > deadline:
                    failures.append("node_exporter did not answer (exit %s)" % exporter.poll())
                    return
                time.sleep(0.1)
        samples = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                samples[(s.name, tuple(sorted(s.labels.items())))] = s.value

        def value(name, **labels):
            return samples.get((name, tuple(sorted(labels.items()))))

        # node_exporter read hostdevd's file without complaint.
        if value("node_textfile_scrape_error") != 0:
            failures.append("node_textfile_scrape_error = %s" % value("node_textfile_scrape_error"))
        if not any(n == "node_textfile_mtime_seconds" and dict(l).get("file", "").endswith("hostdevd.prom")
                   for (n, l) in samples):
            failures.append("node_exporter does not list hostdevd.prom")
        for name, labels, want in expected["samples"]:
            got = value(name, **labels)
            if got != want:
                failures.append("%s%s = %s, want %s" % (name, labels, got, want))
        for address, (pool, state) in expected["device_states"].items():
            found = [dict(l) for (n, l), v in samples.items()
                     if n == "hostdevd_device_state" and dict(l).get("address") == address and v == 1]
            if len(found) != 1 or found[0].get("pool") != pool or found[0].get("state") != state:
                failures.append("hostdevd_device_state for %s: %s, want pool %s state %s" % (address, found, pool, state))
        hostdevd = sorted({n for (n, _) in samples if n.startswith("hostdevd_")})
        print("prometheus: %d series scraped, hostdevd families: %s" % (len(samples), ", ".join(hostdevd)))
    finally:
        exporter.terminate()
        out, _ = exporter.communicate(timeout=20)
        if failures:
            print("node_exporter output:\n" + out[-3000:])


if __name__ == "__main__":
    main()
    for f in failures:
        print("FAIL: " + f)
    sys.exit(1 if failures else 0)
