#!/usr/bin/env python3
"""N processes with a tcp liveness check every second, against the same N without, in one run.

  bench/runtime/liveness.py --taskmaster target/release/taskmaster [-n 1000] [--runs 3] [--window 20]

Two configs of N `sleep 3600` programs (as bench.py's spawn workload: autorestart #true,
starttime 0), launched alternately:

  plain     nothing else
  liveness  `liveness { tcp PORT; interval "1s" }`, every process against one loopback port

PORT is served by this script (a thread that accepts and closes every connection), so the
checks pass and nothing restarts. Each run waits until /proc shows N children that have
exec'd `sleep`, lets the checks settle (--settle seconds), then measures over --window
seconds of wall time: the daemon's CPU (utime+stime, children excluded) as a share of one
core, its VmRSS at the end, and how many connections the listener accepted (the checks
actually done). Targets for the liveness variant: CPU < 5 % of one core, RSS < 32 MiB.
Standard library only; reuses bench.py's harness (daemon sessions, /proc polling, cleanup).
"""

import argparse
import json
import os
import platform
import resource
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


class Listener:
    """Accepts and closes connections on a loopback port, counting them."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4096)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self):
        self.stopped = True
        self.sock.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--taskmaster", required=True)
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--window", type=float, default=20, help="measured seconds of wall time")
    ap.add_argument("--settle", type=float, default=3, help="seconds after the spawn before measuring")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--workdir", default="/tmp/taskmaster-bench/work-liveness")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    bench.set_subreaper()
    listener = Listener()
    variants = {
        "plain": "",
        "liveness": f'    liveness {{ tcp {listener.port}; interval "1s" }}\n',
    }
    tick = os.sysconf("SC_CLK_TCK")
    samples = {k: [] for k in variants}
    try:
        for run in range(a.runs):
            for name, cfg in variants.items():
                tm = bench.Taskmaster(os.path.join(a.workdir, name), a.taskmaster)
                tm.write_sleepers(a.n, cfg)
                pid = tm.launch()
                t = bench.wait_exec(pid, a.n, a.timeout)
                sample = {"spawned": t is not None}
                if t is not None:
                    time.sleep(a.settle)
                    accepted0 = listener.accepted
                    ticks0 = bench.cpu_ticks(pid)
                    w0 = time.monotonic()
                    time.sleep(a.window)
                    ticks1 = bench.cpu_ticks(pid)
                    wall = time.monotonic() - w0
                    sample.update({
                        "wall_secs": wall,
                        "cpu_secs": (ticks1 - ticks0) / tick,
                        "cpu_share": (ticks1 - ticks0) / tick / wall,
                        "rss_mib": bench.vmrss_kib(pid) / 1024,
                        "checks_per_sec": (listener.accepted - accepted0) / wall,
                    })
                tm.stop()
                samples[name].append(sample)
                print(f"run {run + 1}/{a.runs} {name:9} {sample}", file=sys.stderr)
    finally:
        listener.close()
        bench.reap_strays()

    def median(name, key):
        vals = [s[key] for s in samples[name] if key in s]
        return statistics.median(vals) if vals else None

    keys = ["cpu_share", "rss_mib", "checks_per_sec"]
    medians = {k: {key: median(k, key) for key in keys} for k in variants}
    live = medians["liveness"]
    met = (live["cpu_share"] is not None and live["cpu_share"] < 0.05
           and live["rss_mib"] is not None and live["rss_mib"] < 32)
    result = {
        "n": a.n, "runs": a.runs, "window_secs": a.window,
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                    "load": os.getloadavg()},
        "samples": samples, "medians": medians,
        "target": "liveness: daemon CPU < 5% of one core, RSS < 32 MiB",
        "met": met,
    }
    out = a.out or os.path.join(
        os.path.dirname(a.workdir), "results",
        time.strftime("liveness-%Y%m%dT%H%M%SZ.json", time.gmtime()))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"{'variant':9} {'CPU % of a core':>16} {'RSS (MiB)':>10} {'checks/s':>9}")
    for k, m in medians.items():
        cpu = "-" if m["cpu_share"] is None else f"{100 * m['cpu_share']:.2f}"
        rss = "-" if m["rss_mib"] is None else f"{m['rss_mib']:.1f}"
        cps = "-" if m["checks_per_sec"] is None else f"{m['checks_per_sec']:.0f}"
        print(f"{k:9} {cpu:>16} {rss:>10} {cps:>9}")
    print(f"target (liveness): CPU < 5 %, RSS < 32 MiB: {'met' if met else 'NOT met'}; results in {out}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
