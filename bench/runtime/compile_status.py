#!/usr/bin/env python3
"""`status` latency while the daemon compiles a big config (online `diff`), against idle.

One taskmaster daemon supervises a sleeper and a program that exits every 0.2 s (so it
keeps reaping and restarting). For each size, a config of that many megabytes is written
(programs with `autostart #false`, one invalid program at the end, so it compiles in full
and changes nothing) and `taskmaster diff BIG` is sent; while it is in progress, `status
--json` is called back to back and each call's wall time is recorded. The same number of
calls with nothing compiling gives the baseline. Reports median and p99 of both, the time
the diff took, and how many restarts happened during it.

Standard library only:

    bench/runtime/compile_status.py --taskmaster target/release/taskmaster [--sizes 30,15]

Results go to --out (JSON) and a table is printed. Not a timed test: the target (status
< 50 ms while compiling) is reported, not asserted.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

MIB = 1 << 20


def big_config(path, size_mib):
    block = 'program "p{i}" {{\n    cmd "sleep 3600"\n    autostart #false\n}}\n'
    with open(path, "w") as f:
        f.write('taskmaster {\n    socket "tm.sock"\n}\n')
        i = 0
        written = 0
        while written < size_mib * MIB:
            text = block.format(i=i)
            f.write(text)
            written += len(text)
            i += 1
        f.write('program "broken" {\n    numprocs 0\n}\n')
    return i


def pct(xs, p):
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))
    return xs[k]


def status_once(binary, socket):
    t = time.perf_counter()
    r = subprocess.run([binary, "status", "--json", "--socket", socket],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    took = time.perf_counter() - t
    if r.returncode != 0:
        raise RuntimeError(f"status exited {r.returncode}: {r.stderr[-300:]!r}")
    return took, json.loads(r.stdout)


def restarts(rows):
    return sum(row.get("restarts") or 0 for row in rows if row.get("name") == "crasher")


def summary(xs):
    return {"n": len(xs), "median_ms": statistics.median(xs) * 1000,
            "p99_ms": pct(xs, 99) * 1000, "max_ms": max(xs) * 1000}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--taskmaster", required=True, help="the taskmaster binary (release build)")
    ap.add_argument("--sizes", default="30,15",
                    help="config sizes in MiB, comma-separated (default 30,15: the issue's "
                         "30 MB, and one under a 16 MiB config cap)")
    ap.add_argument("--out", default=None, help="where to write the JSON results")
    a = ap.parse_args()
    a.taskmaster = os.path.abspath(a.taskmaster)

    work = tempfile.mkdtemp(prefix="tm-compile-bench-")
    config = os.path.join(work, "taskmaster.kdl")
    socket = os.path.join(work, "tm.sock")
    with open(config, "w") as f:
        f.write('taskmaster {\n    socket "tm.sock"\n}\n'
                'program "sleeper" {\n    cmd "sleep 3600"\n    starttime 0\n}\n'
                'program "crasher" {\n    cmd "sh" "-c" "sleep 0.2; exit 1"\n'
                '    starttime 0\n    autorestart #true\n}\n')
    daemon = subprocess.Popen([a.taskmaster, "run", config], cwd=work,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(work, "daemon.err"), "wb"),
                              start_new_session=True)
    results = {"meta": {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "kernel": os.uname().release, "cpus": os.cpu_count(),
        "loadavg_start": open("/proc/loadavg").read().split()[:3],
        "taskmaster_version": subprocess.run([a.taskmaster, "--version"], capture_output=True,
                                             text=True).stdout.strip(),
    }, "sizes": {}}
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status_once(a.taskmaster, socket)
                break
            except (RuntimeError, ValueError):
                if time.monotonic() > deadline:
                    raise SystemExit("the daemon did not answer")
                time.sleep(0.05)
        for size in [float(s) for s in a.sizes.split(",") if s]:
            big = os.path.join(work, f"big-{size:g}.kdl")
            programs = big_config(big, size)
            actual = os.path.getsize(big)
            t0 = time.perf_counter()
            diff = subprocess.Popen([a.taskmaster, "diff", big, "--socket", socket],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            during, first, last = [], None, None
            # Every call sent while the diff is in progress counts, also the one the end of
            # the diff overlaps: a daemon that compiles on its loop answers that one only
            # once the compile is over, and that wait is what its clients see.
            while diff.poll() is None:
                took, rows = status_once(a.taskmaster, socket)
                during.append(took)
                first = rows if first is None else first
                last = rows
            diff_secs = time.perf_counter() - t0
            err = diff.stderr.read().decode(errors="replace")
            idle = [status_once(a.taskmaster, socket)[0] for _ in range(max(len(during), 20))]
            entry = {
                "bytes": actual, "programs": programs, "diff_exit": diff.returncode,
                "diff_secs": diff_secs, "diff_stderr_tail": err[-300:],
                "idle": summary(idle),
                "restarts_during": (restarts(last) - restarts(first)) if first else None,
            }
            if during:
                entry["during"] = summary(during)
                entry["during_calls_secs"] = during
            results["sizes"][f"{size:g}"] = entry
            os.unlink(big)
    finally:
        try:
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()
    results["meta"]["loadavg_end"] = open("/proc/loadavg").read().split()[:3]

    print(f"status --json latency while an online diff compiles (load average "
          f"{' '.join(results['meta']['loadavg_start'])} at start)")
    print("| config | programs | diff took (s) | diff exit | status calls during | "
          "median / p99 during (ms) | median / p99 idle (ms) | crasher restarts during |")
    print("|---|---|---|---|---|---|---|---|")
    for size, e in results["sizes"].items():
        d = e.get("during")
        during = f"{d['median_ms']:.1f} / {d['p99_ms']:.1f}" if d else "—"
        print(f"| {e['bytes'] / MIB:.1f} MiB | {e['programs']} | {e['diff_secs']:.2f} | "
              f"{e['diff_exit']} | {d['n'] if d else 0} | {during} | "
              f"{e['idle']['median_ms']:.1f} / {e['idle']['p99_ms']:.1f} | "
              f"{e['restarts_during']} |")
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out, "w") as f:
            json.dump(results, f, indent=2)
        print(f"\nraw results: {a.out}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
