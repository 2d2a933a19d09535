#!/usr/bin/python3
"""Print the benchmark table from the JSON files bench/scenario.py wrote (bench/table.py WORKDIR).

Each row: the figure for hostdevd, the peer's figure from the same run, the ratio, the goal, and whether
the goal is met. Rows whose run failed say so instead of disappearing.
"""
import json
import os
import sys


def load(work, name):
    try:
        with open(os.path.join(work, name + ".json")) as f:
            return json.load(f)
    except OSError:
        return None


def rows(work):
    b1, peer, floor, b3 = load(work, "b1"), load(work, "b1-peer"), load(work, "b1-floor"), load(work, "b3")
    big, small, burst, blocked, flood = (load(work, n) for n in ("big", "small", "burst", "blocked", "flood"))
    out = []

    def row(ident, figure, ours, peer_text, ratio, goal, met):
        out.append((ident, figure, ours, peer_text, ratio, goal, "-" if met is None else "yes" if met else "NO"))

    def missing(ident, figure, goal, run):
        # A run that was not asked for (bench/run.sh --only) left no log; one that failed left its log.
        ran = all(os.path.exists(os.path.join(work, name + ".log")) for name in run.split(" or "))
        out.append((ident, figure, "run failed" if ran else "not run", "-", "-", goal,
                    f"see {run}.log" if ran else "-"))

    if b1 and peer:
        r = peer["seconds"] / b1["seconds"]
        row("B1", "cold converge 8x64 VFs + 64 mdevs, s", f"{b1['seconds']:.3f}",
            f"{peer['seconds']:.2f} (echo+driverctl+mdevctl)", f"{r:.0f}x faster", ">= 50x", r >= 50)
    else:
        missing("B1", "cold converge", ">= 50x", "b1 or b1-peer")
    if floor and peer:
        # The floor (bench/b1_floor.cpp) issues the minimum writes and reads nothing: no tool is faster,
        # so status quo / floor is the largest B1 ratio reachable on this host and machine.
        ceiling = peer["seconds"] / floor["seconds"]
        ours = f"hostdevd at {floor['seconds'] / b1['seconds']:.2f} of its speed" if b1 else "-"
        row("B1", "  floor: the minimum writes alone, nothing read, s", f"{floor['seconds']:.3f}",
            f"{ceiling:.0f}x faster than the status quo: the most any tool can reach here", ours, "-", None)
    else:
        missing("B1", "  floor", "-", "b1-floor")
    real = load(work, "b1-real")
    if real:
        r = real["status_quo_seconds"] / real["hostdevd_seconds"]
        ceiling = real["status_quo_seconds"] / real["floor_seconds"]
        row("B1", f"  real kernel {real['kernel']} (QEMU guest), 1 PF x {real['vfs']} VFs, s",
            f"{real['hostdevd_seconds']:.3f}",
            f"{real['status_quo_seconds']:.2f} (echo+driverctl); floor {real['floor_seconds']:.3f} ({ceiling:.0f}x)",
            f"{r:.0f}x faster", ">= 50x", r >= 50)
    elif os.path.exists(os.path.join(work, "b1-real.log")):
        missing("B1", "  real kernel (QEMU guest)", ">= 50x", "b1-real")
    if b1 and peer:
        r = b1["writes"] / b1["minimum_writes"]
        row("B2", "sysfs writes vs minimum", f"{b1['writes']} / {b1['minimum_writes']}",
            f"{peer['writes']} / {peer['minimum_writes']}", f"{r:.2f}", "1.00", b1["writes"] == b1["minimum_writes"])
    else:
        missing("B2", "writes vs minimum", "1.00", "b1")
    if b3:
        row("B3", f"no-op pass, {b3['vfs']} VFs: reads/VF; writes", f"{b3['reads_per_vf']:.2f}; {b3['writes']}",
            f"{b3['peer_reads_per_vf']:.2f} (driverctl list-overrides; checks overrides only)",
            f"{b3['reads_per_vf'] / 8:.2f} of budget", "<= 8; 0", b3["reads_per_vf"] <= 8 and b3["writes"] == 0)
    else:
        missing("B3", "no-op pass", "<= 8; 0", "b3")
    if big and small:
        r = big["hotplug_seconds"] / small["hotplug_seconds"]
        row("B4", "hot-plug PF, 64 VFs: big host vs PF alone, s", f"{big['hotplug_seconds']:.3f}",
            f"{small['hotplug_seconds']:.3f} (hostdevd, PF alone); peers: none creates VFs on plug",
            f"{r:.2f}", "<= 1.5", r <= 1.5)
    else:
        missing("B4", "hot-plug", "<= 1.5", "big or small")
    if burst:
        row("B5", f"{burst['vfs']} VF add uevents in a burst: passes", str(burst["passes"]),
            "n/a (no peer reacts to uevents)", f"{burst['passes'] / 10:.2f} of budget", "<= 10",
            burst["passes"] <= 10)
    else:
        missing("B5", "burst", "<= 10", "burst")
    if big:
        w = big["idle_wakeups"] * 60 / big["idle_seconds"]
        row("B6", f"idle converged daemon {big['idle_seconds']:.0f} s: reads; wake-ups/60 s",
            f"{big['idle_reads']}; {w:.0f}", "n/a (no peer daemon)", "-", "0; <= 2",
            big["idle_reads"] == 0 and w <= 2)
        rss = big["memory_kib_end"]["VmRSS"] / 1024
        hwm = big["memory_kib_end"]["VmHWM"] / 1024
        row("B7", "daemon RSS, 4096+64 VFs + 1024 mdevs, MiB", f"{rss:.1f} (peak {hwm:.1f})",
            "n/a (no peer daemon)", f"{rss / 32:.2f} of budget", "<= 32", rss <= 32)
    else:
        missing("B6", "idle", "0; <= 2", "big")
        missing("B7", "RSS", "<= 32", "big")
    if blocked:
        row("B8", f"busctl get-property during a 10 s blocked write, p99 ms ({blocked['calls']} calls)",
            f"{blocked['p99_ms']:.1f}", f"{blocked['dbus_daemon_p99_ms']:.1f} (same call to dbus-daemon)",
            f"{blocked['p99_ms'] / 50:.2f} of budget", "< 50",
            blocked["p99_ms"] < 50 and blocked["write_still_blocked_during_calls"])
        ip, base = blocked["in_process"], blocked["dbus_daemon_in_process"]
        row("B8", f"  the same from one sd-bus connection, p99 ms ({ip['calls']} calls)",
            f"{ip['p99_ms']:.2f}", f"{base['p99_ms']:.2f} (dbus-daemon's own property)",
            f"{ip['p99_ms'] / 50:.3f} of budget", "< 50",
            ip["p99_ms"] < 50 and ip["errors"] == 0 and blocked["write_still_blocked_during_calls"])
    else:
        missing("B8", "latency", "< 50", "blocked")
    if flood:
        base = flood["unloaded"]["hotplug_seconds"]
        for clients in (1, 4):
            f = flood[f"flood{clients}"]
            r = f["hotplug_seconds"] / base
            ok = r <= 2 and f["flood"]["errors"] == 0 and f["longest_gap_seconds"] < flood["watchdog_seconds"]
            row("B9" if clients == 1 else "", f"hot-plug PF under {clients} x 128 Describe() in flight (nobody), s",
                f"{f['hotplug_seconds']:.3f}", f"{base:.3f} (hostdevd, no flood)", f"{r:.2f}", "<= 2", ok)
            row("", f"  watchdog pings during {f['flood_seconds']:.1f} s of it; longest gap, s "
                f"({f['flood']['replies']} replies, {flood['describe_bytes'] // 1024} KiB each)",
                f"{f['pings']}; {f['longest_gap_seconds']:.2f}", f"WatchdogSec {flood['watchdog_seconds']:.1f}",
                f"{f['longest_gap_seconds'] / flood['watchdog_seconds']:.2f} of it", "no missed ping",
                f["longest_gap_seconds"] < flood["watchdog_seconds"])
    else:
        missing("B9", "hot-plug under a Describe() flood", "<= 2", "flood")
    return out


def main():
    table = [("#", "figure", "hostdevd", "peer (same run)", "ratio", "goal", "met")] + rows(sys.argv[1])
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for n, r in enumerate(table):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


if __name__ == "__main__":
    main()
