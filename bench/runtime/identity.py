#!/usr/bin/env python3
"""Spawning N processes that use `user` and `limits`, against N that do not, in one run.

  bench/runtime/identity.py --taskmaster target/release/taskmaster [-n 1000] [--runs 3]

Three configs of N `sleep 3600` programs (as bench.py's spawn workload: autorestart #true,
starttime 0), launched alternately, each run timed from launching `taskmaster run` until
/proc shows N children that have exec'd `sleep`:

  plain       no identity setting: posix_spawn (the default path)
  identity    `user "nobody"`, `group "nogroup"`, `limits { nofile 1024 4096; core 0 }`:
              clone(CLONE_VM|CLONE_VFORK) + setrlimit/setgroups/setgid/setuid + exec
  workingdir  `workingdir "/tmp"` only: the same clone path without the switch, to tell the
              cost of the path from the cost of the switch

Target: identity within 2x of plain. Needs root for `user "nobody"`; run as another user it
names the daemon's own user instead (a no-op switch) and says so. Standard library only;
reuses bench.py's harness (daemon sessions, /proc polling, cleanup).
"""

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def identity_extra():
    if os.geteuid() == 0:
        return ('    user "nobody"\n    group "nogroup"\n'
                "    limits { nofile 1024 4096; core 0 }\n"), "nobody"
    import pwd
    me = pwd.getpwuid(os.geteuid()).pw_name
    return f'    user "{me}"\n    limits {{ nofile 1024 4096; core 0 }}\n', me


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--taskmaster", required=True)
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--workdir", default="/tmp/taskmaster-bench/work-identity")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    bench.set_subreaper()
    extra, who = identity_extra()
    variants = {
        "plain": "",
        "identity": extra,
        "workingdir": '    workingdir "/tmp"\n',
    }
    samples = {k: [] for k in variants}
    try:
        for run in range(a.runs):
            for name, cfg in variants.items():
                tm = bench.Taskmaster(os.path.join(a.workdir, name), a.taskmaster)
                tm.write_sleepers(a.n, cfg)
                t0 = time.monotonic()
                pid = tm.launch()
                t = bench.wait_exec(pid, a.n, a.timeout)
                secs = None if t is None else t - t0
                tm.stop()
                samples[name].append(secs)
                print(f"run {run + 1}/{a.runs} {name:10} {secs if secs is None else round(secs, 3)} s",
                      file=sys.stderr)
    finally:
        bench.reap_strays()
    medians = {k: statistics.median(v) if v and None not in v else None for k, v in samples.items()}
    ratio = (medians["identity"] / medians["plain"]
             if medians["identity"] and medians["plain"] else None)
    result = {
        "n": a.n, "runs": a.runs, "user": who, "root": os.geteuid() == 0,
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                    "load": os.getloadavg()},
        "samples_secs": samples, "median_secs": medians,
        "identity_over_plain": ratio, "target": "identity within 2x of plain",
        "met": ratio is not None and ratio <= 2.0,
    }
    out = a.out or os.path.join(
        os.path.dirname(a.workdir), "results",
        time.strftime("identity-%Y%m%dT%H%M%SZ.json", time.gmtime()))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"{'variant':11} {'median (s)':>10}")
    for k, v in medians.items():
        print(f"{k:11} {v if v is None else round(v, 3):>10}")
    print(f"identity / plain = {ratio if ratio is None else round(ratio, 2)} "
          f"(target <= 2: {'met' if result['met'] else 'NOT met'}); results in {out}")
    return 0 if result["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
