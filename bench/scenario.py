#!/usr/bin/python3
"""One benchmark scenario, run INSIDE a simulated host by bench/run.sh:

    simhost run --host DIR/host.toml -- bench/scenario.py SCENARIO --build BUILD --dir DIR --out FILE

DIR comes from bench/gen_host.py. Prints nothing useful on stdout; writes one JSON object of figures to
FILE. Every figure is measured here, from outside the program measured: wall clocks around whole
commands, simhost's write log and access counters (`simhost ctl log --json`, `simhost ctl stats`), /proc.
"""
import argparse
import glob
import json
import os
import socket
import subprocess
import sys
import threading
import time

ARGS = None
SIMHOST = None


def ctl(*words):
    return subprocess.run([SIMHOST, "ctl", *words], check=True, capture_output=True, text=True).stdout


def stats(path=None):
    out = ctl("stats", *([path] if path else []))
    return {k: int(v) for k, v in (line.split() for line in out.splitlines())}


def writes_ok():
    """Successful writes in simhost's write log."""
    return [r for r in json.loads(ctl("log", "--json")) if r["result"] == "OK"]


def manifest():
    with open(os.path.join(ARGS.dir, "manifest.json")) as f:
        return json.load(f)


def vf_driver(vf):
    try:
        return os.path.basename(os.readlink(f"/sys/bus/pci/devices/{vf}/driver"))
    except OSError:
        return None


def check_converged(m, pfs=None):
    """The host state the configuration asks for, checked through /sys (not through the tool measured)."""
    for pf in pfs if pfs is not None else m["pfs"]:
        with open(f"/sys/bus/pci/devices/{pf['address']}/sriov_numvfs") as f:
            if int(f.read()) != len(pf["vfs"]):
                return f"{pf['address']}: sriov_numvfs is not {len(pf['vfs'])}"
        for vf in pf["vfs"]:
            if vf_driver(vf) != "vfio-pci":
                return f"{vf}: not bound to vfio-pci"
    if pfs is None:
        for md in m["mdevs"]:
            if not os.path.exists(f"/sys/bus/mdev/devices/{md['uuid']}"):
                return f"mdev {md['uuid']} missing"
    return None


def timed(cmd, **kw):
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return elapsed


def hostdevctl(*args):
    return [os.path.join(ARGS.build, "cli/hostdevctl"), *args, "--local", "--config-dir",
            os.path.join(ARGS.dir, "config")]


def minimum_writes(m):
    # One sriov_numvfs per PF, driver_override + drivers_probe per VF, one create per mdev.
    return len(m["pfs"]) + 2 * sum(len(pf["vfs"]) for pf in m["pfs"]) + len(m["mdevs"])


def scenario_converge(tool):
    """B1/B2: cold converge with hostdevctl apply, the status-quo script, or the floor (bench/b1_floor.cpp:
    the minimum writes alone, nothing read, which no tool can beat)."""
    m = manifest()
    ctl("log", "clear")
    if tool == "hostdevd":
        elapsed = timed(hostdevctl("apply"))
    elif tool == "floor":
        elapsed = timed([os.path.join(ARGS.build, "bench/bench_b1_floor"), ARGS.dir])
    else:
        elapsed = timed([os.path.join(os.path.dirname(__file__), "status_quo.sh"), ARGS.dir])
    if err := check_converged(m):
        sys.exit(f"{tool} did not converge: {err}")
    return {"seconds": elapsed, "writes": len(writes_ok()), "minimum_writes": minimum_writes(m)}


def scenario_noop():
    """B3: a converged host, one more pass: reads per VF and writes."""
    m = manifest()
    nvfs = sum(len(pf["vfs"]) for pf in m["pfs"])
    cold = timed(hostdevctl("apply"))
    if err := check_converged(m):
        sys.exit(f"not converged: {err}")
    ctl("stats", "clear")
    noop = timed(hostdevctl("apply"))
    s = stats()
    ctl("stats", "clear")
    peer = timed(["driverctl", "list-overrides"])
    p = stats()
    return {"vfs": nvfs, "cold_seconds": cold, "noop_seconds": noop, "counts": s, "writes": s["writes"],
            "reads_per_vf": (s["reads"] + s["readlinks"] + s["readdirs"]) / nvfs,
            "peer_reads_per_vf": (p["reads"] + p["readlinks"] + p["readdirs"]) / nvfs, "peer_seconds": peer}


# A private system bus with the policy of tests/integration/support/daemon_fixture.hpp: anyone may call,
# root may own names.
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path=/run/bench-bus.sock</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><deny own="*"/><allow send_type="method_call"/>
<allow send_type="signal"/><allow send_requested_reply="true" send_type="method_return"/>
<allow send_requested_reply="true" send_type="error"/><allow receive_type="method_call"/>
<allow receive_type="method_return"/><allow receive_type="error"/><allow receive_type="signal"/>
<allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/></policy>
<policy user="root"><allow own="*"/></policy>
</busconfig>
"""


class Daemon:
    """hostdevd on a private system bus inside the simulated host (as /tmp/daemon-try.sh)."""

    def __init__(self, env=None):
        conf = "/run/bench-bus.conf"
        with open(conf, "w") as f:
            f.write(BUS_CONFIG)
        self.bus = subprocess.Popen(["dbus-daemon", "--config-file=" + conf, "--nofork", "--nopidfile",
                                     "--print-address=1"], stdout=subprocess.PIPE, text=True)
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = self.bus.stdout.readline().strip()
        self.log = open("/run/hostdevd.log", "w")
        self.started = time.monotonic()
        self.proc = subprocess.Popen([os.path.join(ARGS.build, "reconciler/daemon/hostdevd"), "--config-dir",
                                      os.path.join(ARGS.dir, "config")], stdout=self.log, stderr=self.log,
                                     env={**os.environ, **(env or {})})

    def state(self):
        out = subprocess.run(["busctl", "get-property", "io.hostdevd1", "/io/hostdevd1", "io.hostdevd1.Manager",
                              "State"], capture_output=True, text=True)
        return out.stdout.split('"')[1] if out.returncode == 0 else None

    def wait(self, predicate, what, timeout=300.0, interval=0.02):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"hostdevd exited ({self.proc.returncode}) while waiting for {what}")
            if predicate():
                return time.monotonic()
            time.sleep(interval)
        sys.exit(f"timed out after {timeout}s waiting for {what}")

    def wakeups(self):
        total = 0
        for status in glob.glob(f"/proc/{self.proc.pid}/task/*/status"):
            with open(status) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        return total

    def memory_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f)
        return {k: int(fields[k].split()[0]) for k in ("VmRSS", "VmHWM")}

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.bus.terminate()
        self.bus.wait(timeout=10)


def passes():
    """Reconcile passes so far: each pass observes once, the whole host (observe_host) or what events
    pointed at (refresh_devices), and both list /sys/bus/pci/drivers exactly once (observe.cpp)."""
    return stats("/sys/bus/pci/drivers")["readdirs"]


def converged_state(d):
    return d.state() == "converged"


def scenario_daemon_big():
    """B4 (big side), B6, B7 on the large host with mdevs and one hot-pluggable PF."""
    m = manifest()
    d = Daemon()
    try:
        done = d.wait(lambda: converged_state(d) and check_converged(m) is None, "cold converge", timeout=900,
                      interval=0.2)
        result = {"cold_seconds": done - d.started, "memory_kib_converged": d.memory_kib()}
        # B6: idle for IDLE seconds. Nothing may be asked of the daemon meanwhile (no D-Bus calls).
        ctl("stats", "clear")
        before = d.wakeups()
        time.sleep(ARGS.idle)
        result["idle_seconds"] = ARGS.idle
        result["idle_wakeups"] = d.wakeups() - before
        s = stats()
        result["idle_reads"] = s["reads"] + s["readlinks"] + s["readdirs"]
        result["idle_getattrs"] = s["getattrs"]
        result.update(hotplug(d, m))
        result["memory_kib_end"] = d.memory_kib()
        return result
    finally:
        d.stop()


def hotplug(d, m):
    """B4: plug the PF, time until all its VFs are bound to vfio-pci."""
    pf = m["hotplug"]
    # Profiling aid (docs/benchmarks.md): BENCH_PERF_OUT=FILE records `perf record -a -g` of this window.
    perf = None
    if os.environ.get("BENCH_PERF_OUT"):
        perf = subprocess.Popen(["perf", "record", "-a", "-g", "-o", os.environ["BENCH_PERF_OUT"]],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
    p0 = passes()
    start = time.monotonic()
    ctl("plug", pf["address"])
    end = d.wait(lambda: os.path.exists(f"/sys/bus/pci/devices/{pf['vfs'][-1]}") and
                 check_converged(m, [pf]) is None, "the hot-plugged PF", timeout=600, interval=0.005)
    if perf:
        perf.send_signal(2)
        perf.wait()
    return {"hotplug_seconds": end - start, "hotplug_passes": passes() - p0}


def scenario_daemon_hotplug_only():
    """B4 (small side): the same hot-plug on a host with only that PF."""
    m = manifest()
    d = Daemon()
    try:
        d.wait(lambda: converged_state(d), "start", timeout=60)
        return hotplug(d, m)
    finally:
        d.stop()


def scenario_daemon_burst():
    """B5: VFs created by someone else in a burst (4096 VF add uevents); count the daemon's passes."""
    m = manifest()
    d = Daemon()
    try:
        d.wait(lambda: converged_state(d), "start", timeout=120)
        p0 = passes()
        start = time.monotonic()
        for pf in m["pfs"]:
            with open(f"/sys/bus/pci/devices/{pf['address']}/sriov_numvfs", "w") as f:
                f.write(str(len(pf["vfs"])))
        burst = time.monotonic() - start
        end = d.wait(lambda: check_converged(m) is None and converged_state(d), "all VFs bound", timeout=600,
                     interval=0.05)
        return {"vfs": sum(len(pf["vfs"]) for pf in m["pfs"]), "burst_seconds": burst,
                "converge_seconds": end - start, "passes": passes() - p0}
    finally:
        d.stop()


def scenario_daemon_blocked():
    """B8: a write blocked in the kernel for BLOCK seconds; busctl get-property latency meanwhile."""
    m = manifest()
    pf = m["pfs"][0]["address"]
    ctl("fault", "block", f"/sys/bus/pci/devices/{pf}/sriov_numvfs", str(ARGS.block))
    d = Daemon()
    try:
        # The daemon's first pass writes sriov_numvfs and blocks; wait until that write is in progress
        # (simhost logs a write when it finishes, so look for the daemon being up on the bus instead).
        d.wait(lambda: d.state() is not None, "the daemon on the bus", timeout=30)
        # A long-lived in-process client first (what libvirt or an exporter waits for), then busctl, one
        # process per call (the design's figure; dominated by starting busctl).
        window = ARGS.block * 0.4
        in_process = json.loads(subprocess.run(
            [os.path.join(ARGS.build, "bench/bench_bus_latency"), str(window), "io.hostdevd1", "/io/hostdevd1",
             "io.hostdevd1.Manager", "State"], capture_output=True, text=True, check=True).stdout)
        latencies = []
        first = time.monotonic()
        while time.monotonic() - first < window:
            t = time.monotonic()
            if d.state() is None:
                sys.exit("get-property failed while the write was blocked")
            latencies.append(time.monotonic() - t)
        blocked_during = not any(r["path"].endswith("sriov_numvfs") for r in json.loads(ctl("log", "--json")))
        # The peer figure: the same busctl call against dbus-daemon itself (process start + round trip).
        base = []
        for _ in range(50):
            t = time.monotonic()
            subprocess.run(["busctl", "get-property", "org.freedesktop.DBus", "/org/freedesktop/DBus",
                            "org.freedesktop.DBus", "Features"], capture_output=True, check=True)
            base.append(time.monotonic() - t)
        base_in_process = json.loads(subprocess.run(
            [os.path.join(ARGS.build, "bench/bench_bus_latency"), "2", "org.freedesktop.DBus",
             "/org/freedesktop/DBus", "org.freedesktop.DBus", "Features"],
            capture_output=True, text=True, check=True).stdout)
        latencies.sort()
        base.sort()
        return {"calls": len(latencies), "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
                "max_ms": 1000 * latencies[-1], "median_ms": 1000 * latencies[len(latencies) // 2],
                "dbus_daemon_p99_ms": 1000 * base[int(0.99 * (len(base) - 1))],
                "in_process": in_process, "dbus_daemon_in_process": base_in_process,
                "write_still_blocked_during_calls": blocked_during}
    finally:
        d.stop()


class NotifySocket:
    """The notify socket systemd would give the daemon: records when each WATCHDOG=1 arrived."""

    def __init__(self, path="/run/bench-notify.sock"):
        self.path = path
        if os.path.exists(path):
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.pings = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            data = self.sock.recv(4096)
            if b"WATCHDOG=1" in data.split(b"\n"):
                self.pings.append(time.monotonic())


def flood_counts(status):
    try:
        with open(status) as f:
            replies, errors = (int(x) for x in f.read().split())
        return replies, errors
    except (OSError, ValueError):
        return 0, 0


def scenario_daemon_flood():
    """B9: hot-plug a PF while an unprivileged client keeps 128 Describe() calls in flight (and again with
    four such clients), against the same hot-plug without the flood, on the big host; the watchdog pings
    (WATCHDOG_USEC=1 s, a ping every 0.5 s) while the flood runs."""
    m = manifest()
    pf = m["hotplug"]
    watchdog_s = 1.0
    notify = NotifySocket()
    d = Daemon(env={"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": str(int(watchdog_s * 1e6))})
    result = {"watchdog_seconds": watchdog_s}
    try:
        d.wait(lambda: converged_state(d) and check_converged(m) is None, "cold converge", timeout=900,
               interval=0.2)
        result["unloaded"] = hotplug(d, m)
        # The size of one answer, measured before the floods: after one, the calls of the flood that were
        # already queued are still being answered (to no one) for a while.
        result["describe_bytes"] = len(subprocess.run(
            ["busctl", "call", "io.hostdevd1", "/io/hostdevd1", "io.hostdevd1.Manager", "Describe"],
            capture_output=True, check=True).stdout)
        for clients in (1, 4):
            ctl("unplug", pf["address"])
            d.wait(lambda: not os.path.exists(f"/sys/bus/pci/devices/{pf['address']}") and converged_state(d),
                   "the unplug", timeout=120)
            status = f"/run/bench-flood-{clients}.status"
            with open(status, "w"):
                pass
            os.chmod(status, 0o666)
            flood = subprocess.Popen(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                      os.path.join(ARGS.build, "bench/bench_describe_flood"), "--clients",
                                      str(clients), "--in-flight", "128", "--status", status],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            d.wait(lambda: flood_counts(status)[0] >= 128 * clients, "the flood to be answered once",
                   timeout=300, interval=0.05)
            on = time.monotonic()
            plugged = hotplug(d, m)
            # A few more watchdog intervals of flood, so that the gaps are measured over a while.
            time.sleep(4 * watchdog_s)
            off = time.monotonic()
            flood.terminate()
            totals = json.loads(flood.communicate(timeout=60)[0].strip().splitlines()[-1])
            pings = [t for t in notify.pings if on <= t <= off]
            before = [t for t in notify.pings if t < on]
            edges = ([before[-1]] if before else [on]) + pings + [off]
            result[f"flood{clients}"] = {**plugged, "flood_seconds": off - on, "pings": len(pings),
                                         "longest_gap_seconds": max(b - a for a, b in zip(edges, edges[1:])),
                                         "flood": totals}
        return result
    finally:
        d.stop()


SCENARIOS = {
    "converge-hostdevd": lambda: scenario_converge("hostdevd"),
    "converge-status-quo": lambda: scenario_converge("status-quo"),
    "converge-floor": lambda: scenario_converge("floor"),
    "noop": scenario_noop,
    "daemon-big": scenario_daemon_big,
    "daemon-hotplug-only": scenario_daemon_hotplug_only,
    "daemon-burst": scenario_daemon_burst,
    "daemon-blocked": scenario_daemon_blocked,
    "daemon-flood": scenario_daemon_flood,
}


def main():
    global ARGS, SIMHOST
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--build", required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--idle", type=float, default=60.0, help="B6 idle time, seconds")
    parser.add_argument("--block", type=float, default=10.0, help="B8 blocked write, seconds")
    ARGS = parser.parse_args()
    ARGS.build = os.path.abspath(ARGS.build)
    SIMHOST = os.path.join(ARGS.build, "simhost/runtime/simhost")
    result = SCENARIOS[ARGS.scenario]()
    with open(ARGS.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
