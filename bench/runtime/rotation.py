#!/usr/bin/env python3
"""1 GiB through a daemon-written, rotating log file (issue 10, "Logs").

The program `yes | head -c SIZE; echo <marker>` runs under `taskmaster run` with

    stdout "w.log" { max-size "64MB"; keep 3 }

so every byte passes through the daemon's pipe, its line framing, the in-memory buffer and
the exact rotation. Measured: from launching the daemon until the marker line (written
after the SIZE bytes) is in w.log; the daemon's RSS sampled every 50 ms during the run and
its VmHWM (peak) at the end. The floor is the same line-ful source written straight to a
file, `sh -c 'yes | head -c SIZE > f'`, from launch to exit. Both run alternately, RUNS
times each, in one invocation, and the rotated files are checked (none over max-size,
every rotated one ends with a newline, at most keep of them).

    bench/runtime/rotation.py --taskmaster target/release/taskmaster [--size-mib 1024]
        [--runs 3] [--dir /tmp/taskmaster-bench/rotation] [--out results/rotation-….json]

Target: within 2x the floor, daemon memory flat (peak RSS no higher than a few MiB over
its RSS before the output began). Standard library only; every process it started is
killed on the way out.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time

from bench import descendants, status_kib, vmrss_kib  # the runtime bench's /proc helpers

MIB = 1 << 20
MARKER = "__rotation_bench_done__"


def ends_with_marker(path):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64))
            return f.read().endswith((MARKER + "\n").encode())
    except OSError:
        return False


def check_files(log, max_size, keep):
    problems = []
    names = [log] + [f"{log}.{i}" for i in range(1, keep + 2)]
    present = [n for n in names if os.path.exists(n)]
    if os.path.exists(f"{log}.{keep + 1}"):
        problems.append(f"{log}.{keep + 1} exists")
    for n in present:
        size = os.path.getsize(n)
        if size > max_size:
            problems.append(f"{n} is {size} bytes")
        if n != log and size:
            with open(n, "rb") as f:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    problems.append(f"{n} does not end with a newline")
    return {"files": len(present), "problems": problems}


def taskmaster_run(binary, work, size, max_mib, keep, timeout):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    log = os.path.join(work, "w.log")
    cmd = f"yes | head -c {size}; echo {MARKER}"
    with open(os.path.join(work, "taskmaster.kdl"), "w") as f:
        f.write(
            f'taskmaster {{ socket "tm.sock" }}\n'
            f'program "w" {{\n'
            f'    cmd "sh" "-c" "{cmd}; exec sleep 3600"\n'
            f"    starttime 0\n"
            f'    stdout "w.log" {{ max-size "{max_mib}MB"; keep {keep} }}\n'
            f"}}\n"
        )
    os.sync()
    t0 = time.monotonic()
    daemon = subprocess.Popen(
        [binary, "run", "taskmaster.kdl"],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    rss, done = [], None
    try:
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            r = vmrss_kib(daemon.pid)
            # From 0.3 s on: the daemon has exec'd and the output is flowing.
            if r and time.monotonic() - t0 >= 0.3:
                rss.append(r)
            if ends_with_marker(log):
                done = time.monotonic()
                break
            time.sleep(0.05)
        hwm = status_kib(daemon.pid, "VmHWM")
    finally:
        for pid in descendants(daemon.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.killpg(daemon.pid, signal.SIGKILL)
        except OSError:
            pass
        daemon.wait()
    checked = check_files(log, max_mib * MIB, keep)
    return {
        "secs": None if done is None else done - t0,
        "rss_first_kib": rss[0] if rss else None,
        "rss_median_kib": statistics.median(rss) if rss else None,
        "rss_max_sampled_kib": max(rss) if rss else None,
        "rss_last_kib": rss[-1] if rss else None,
        "vmhwm_kib": hwm,
        **checked,
    }


def floor_run(work, size, timeout):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    out = os.path.join(work, "f")
    os.sync()
    t0 = time.monotonic()
    p = subprocess.Popen(["sh", "-c", f"yes | head -c {size} > '{out}'"], start_new_session=True)
    try:
        p.wait(timeout=timeout)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    return {"secs": time.monotonic() - t0, "size": os.path.getsize(out)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--taskmaster", required=True)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--max-mib", type=int, default=64)
    ap.add_argument("--keep", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--dir", default="/tmp/taskmaster-bench/rotation")
    ap.add_argument("--out")
    a = ap.parse_args()
    size = a.size_mib * MIB
    binary = os.path.abspath(a.taskmaster)
    runs = {"floor": [], "taskmaster": []}
    for i in range(a.runs):
        runs["floor"].append(floor_run(os.path.join(a.dir, "floor"), size, a.timeout))
        runs["taskmaster"].append(
            taskmaster_run(binary, os.path.join(a.dir, "tm"), size, a.max_mib, a.keep, a.timeout)
        )
        print(f"run {i + 1}: floor {runs['floor'][-1]['secs']:.2f}s, "
              f"taskmaster {runs['taskmaster'][-1]}", file=sys.stderr)
    shutil.rmtree(a.dir, ignore_errors=True)

    def med(system, key):
        xs = [r[key] for r in runs[system] if r.get(key) is not None]
        return statistics.median(xs) if xs else None

    floor, tm = med("floor", "secs"), med("taskmaster", "secs")
    result = {
        "size_mib": a.size_mib,
        "max_mib": a.max_mib,
        "keep": a.keep,
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release()},
        "runs": runs,
        "median_secs": {"floor": floor, "taskmaster": tm},
        "ratio": None if not (floor and tm) else tm / floor,
        "median_vmhwm_kib": med("taskmaster", "vmhwm_kib"),
        "median_rss_first_kib": med("taskmaster", "rss_first_kib"),
        "problems": [p for r in runs["taskmaster"] for p in r["problems"]],
    }
    print(f"{'':12} {'median s':>9} {'peak RSS':>10}")
    print(f"{'floor':12} {floor:9.2f} {'-':>10}")
    hwm = result["median_vmhwm_kib"]
    print(f"{'taskmaster':12} {tm if tm else float('nan'):9.2f} "
          f"{(hwm or 0) / 1024:8.1f}MiB  (RSS 0.3 s in {(result['median_rss_first_kib'] or 0) / 1024:.1f} MiB)")
    print(f"ratio taskmaster/floor: {result['ratio'] and round(result['ratio'], 2)} (target ≤ 2)")
    print(f"rotation problems: {result['problems'] or 'none'}")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
