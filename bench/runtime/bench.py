#!/usr/bin/env python3
"""Runtime benchmarks: taskmaster against supervisord and a bare fork+exec floor.

Workloads (each system runs the same one, on this machine, in one run):
  spawn      N `sleep 3600` from launch to N exec'd children (/proc) and to all RUNNING (status)
  footprint  daemon VmRSS and idle CPU (utime+stime delta over an idle window) with N running
  status     wall time of one status call with N processes (median of K calls)
  restart    kill -9 of a RUNNING child to the replacement having exec'd `sleep`
  log        a child writing 1 GiB to its stdout file, against a straight `head > file`
  crashloop  `false` restarted for a window (30 s): daemon CPU, event-log growth, restarts

Standard library only. Run through run.sh, which builds/installs what this needs.
Every daemon runs in a session of its own; whatever happens, every process this script
started (and every descendant it saw) is SIGKILLed on the way out.
"""

import argparse
import ctypes
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
GIB = 1 << 30

# ---------------------------------------------------------------------------------------
# /proc helpers


def proc_stat(pid):
    """(comm, state, ppid, utime+stime ticks) of pid, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("latin-1")
    except OSError:
        return None
    open_, close = data.find("("), data.rfind(")")
    rest = data[close + 2 :].split()
    return data[open_ + 1 : close], rest[0], int(rest[1]), int(rest[11]) + int(rest[12])


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            return f.read().strip().decode("latin-1")
    except OSError:
        return None


def children(pid):
    """Child pids of every thread of pid (needs /proc/PID/task/TID/children)."""
    out = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(p) for p in f.read().split())
        except OSError:
            pass
    return out


def all_procs():
    """{pid: ppid} for every process."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st:
                table[int(name)] = st[2]
    return table


def descendants(root):
    table = all_procs()
    kids = {}
    for pid, ppid in table.items():
        kids.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def status_kib(pid, key):
    """A kB field of /proc/PID/status (VmRSS, VmHWM), or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def vmrss_kib(pid):
    return status_kib(pid, "VmRSS")


def cpu_ticks(pid):
    st = proc_stat(pid)
    return st[3] if st else None


def threads(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return None


def set_subreaper():
    """Orphans of killed trees are re-parented here (pid 1 may not reap on this machine)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except OSError:
        pass


TRACKED = set()  # pids of Popen objects we wait for ourselves
SEEN = set()  # every descendant pid we saw, for the final sweep


def reap_strays():
    """Reap zombie children that are not our own Popen objects (adopted orphans)."""
    me = os.getpid()
    for pid in children(me):
        if pid in TRACKED:
            continue
        st = proc_stat(pid)
        if st and st[1] == "Z":
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def kill_pid(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


# ---------------------------------------------------------------------------------------
# Systems under test


class System:
    """A supervisor: writes its config, launches, asks status, stops."""

    name = "?"

    def __init__(self, workdir):
        self.workdir = workdir
        self.proc = None

    def launch(self):
        os.makedirs(self.workdir, exist_ok=True)
        out = open(os.path.join(self.workdir, "daemon.out"), "wb")
        self.proc = subprocess.Popen(
            self.argv(),
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        TRACKED.add(self.proc.pid)
        return self.proc.pid

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=90):
        """SIGTERM, bounded wait, then SIGKILL of the session and every descendant seen."""
        if self.proc is None:
            return None
        seen = set(descendants(self.proc.pid))
        SEEN.update(seen)
        t0 = time.monotonic()
        if self.proc.poll() is None:
            kill_pid(self.proc.pid, signal.SIGTERM)
            while self.proc.poll() is None and time.monotonic() - t0 < timeout:
                seen.update(descendants(self.proc.pid))
                time.sleep(0.05)
        took = time.monotonic() - t0
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            kill_pid(self.proc.pid)
            self.proc.wait()
        for pid in seen:
            kill_pid(pid)
        TRACKED.discard(self.proc.pid)
        reap_strays()
        code = self.proc.returncode
        self.proc = None
        return {"stop_secs": took, "exit_code": code}

    # to override
    def argv(self):
        raise NotImplementedError

    def write_sleepers(self, n):
        raise NotImplementedError

    def write_log(self, path):
        raise NotImplementedError

    def running_count(self):
        """How many processes status reports RUNNING (None if it did not answer)."""
        raise NotImplementedError

    def status_argv(self):
        raise NotImplementedError

    def noop_argv(self):
        return None


class Taskmaster(System):
    name = "taskmaster"

    def __init__(self, workdir, binary):
        super().__init__(workdir)
        self.binary = binary
        self.config = os.path.join(workdir, "taskmaster.kdl")
        self.socket = os.path.join(workdir, "tm.sock")

    def argv(self):
        return [self.binary, "run", self.config]

    def _write(self, programs):
        os.makedirs(self.workdir, exist_ok=True)
        with open(self.config, "w") as f:
            f.write('taskmaster {\n    socket "tm.sock"\n}\n')
            f.write(programs)

    def write_sleepers(self, n, extra=""):
        self._write(
            "".join(
                f'program "s{i:04d}" {{\n    cmd "sleep" "3600"\n    autorestart #true\n'
                f"    starttime 0\n    stoptime 10\n{extra}}}\n"
                for i in range(n)
            )
        )

    def write_restart(self):
        # Kills come 1.2-1.7 s apart: with MAX 1s each one is the first crash of a run, which
        # is restarted at once (the default MAX of 30 s would make them a crash loop, backed
        # off; the crashloop workload measures that).
        self.write_sleepers(1, '    restart-backoff "100ms" "1s"\n')

    def write_log(self, path):
        self._write(
            'program "log" {\n    cmd "head" "-c" "1073741824" "/dev/zero"\n'
            f'    stdout "{path}"\n    stderr "discard"\n    autorestart #false\n'
            "    starttime 0\n}\n"
        )

    def write_crashloop(self, backoff=None):
        extra = f"    restart-backoff {backoff}\n" if backoff is not None else ""
        with open(self.config, "w") as f:
            f.write('taskmaster {\n    socket "tm.sock"\n    logfile "events.log"\n}\n')
            f.write(
                'program "crash" {\n    cmd "false"\n    starttime 0\n    autorestart #true\n'
                f"{extra}}}\n"
            )

    def event_log(self):
        return os.path.join(self.workdir, "events.log")

    def restarts(self):
        r = subprocess.run(self.json_status_argv(), capture_output=True, timeout=60)
        try:
            return sum(row.get("restarts", 0) for row in json.loads(r.stdout))
        except ValueError:
            return None

    def status_argv(self):
        return [self.binary, "status", "--socket", self.socket]

    def json_status_argv(self):
        return [self.binary, "status", "--socket", self.socket, "--json"]

    def noop_argv(self):
        return [self.binary, "--version"]

    def running_count(self):
        r = subprocess.run(self.json_status_argv(), capture_output=True, timeout=60)
        if r.returncode != 0:
            return None
        try:
            rows = json.loads(r.stdout)
        except ValueError:
            return None
        return sum(1 for row in rows if row.get("state") == "RUNNING")


class Supervisord(System):
    name = "supervisord"

    def __init__(self, workdir, venv):
        super().__init__(workdir)
        self.venv = venv
        self.config = os.path.join(workdir, "supervisord.conf")

    def argv(self):
        return [os.path.join(self.venv, "bin", "supervisord"), "-n", "-c", self.config]

    def _write(self, programs):
        os.makedirs(os.path.join(self.workdir, "childlogs"), exist_ok=True)
        d = self.workdir
        with open(self.config, "w") as f:
            f.write(
                f"[unix_http_server]\nfile={d}/supervisor.sock\n\n"
                f"[supervisord]\nlogfile={d}/supervisord.log\npidfile={d}/supervisord.pid\n"
                f"childlogdir={d}/childlogs\nnodaemon=true\n\n"
                "[rpcinterface:supervisor]\n"
                "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
                f"[supervisorctl]\nserverurl=unix://{d}/supervisor.sock\n\n"
            )
            f.write(programs)

    def write_sleepers(self, n):
        self._write(
            "".join(
                f"[program:s{i:04d}]\ncommand=sleep 3600\nautorestart=true\nstartsecs=0\n"
                "stopwaitsecs=10\n\n"
                for i in range(n)
            )
        )

    def write_log(self, path):
        self._write(
            "[program:log]\ncommand=head -c 1073741824 /dev/zero\n"
            f"stdout_logfile={path}\nstdout_logfile_maxbytes=0\nstdout_logfile_backups=0\n"
            "stderr_logfile=NONE\nautorestart=false\nstartsecs=0\n\n"
        )

    def write_crashloop(self, backoff=None):
        self._write("[program:crash]\ncommand=false\nautorestart=true\nstartsecs=0\n\n")

    def event_log(self):
        return os.path.join(self.workdir, "supervisord.log")

    def restarts(self):
        return None

    def status_argv(self):
        return [os.path.join(self.venv, "bin", "supervisorctl"), "-c", self.config, "status"]

    def noop_argv(self):
        return [os.path.join(self.venv, "bin", "supervisorctl"), "-c", self.config, "version"]

    def running_count(self):
        r = subprocess.run(self.status_argv(), capture_output=True, timeout=60)
        if b"RUNNING" not in r.stdout and r.returncode not in (0, 3):
            return None
        return sum(1 for line in r.stdout.decode().splitlines() if " RUNNING " in line)


class Floor(System):
    """spawnloop: fork+exec with pipes, no supervision logic."""

    name = "floor"

    def __init__(self, workdir, binary):
        super().__init__(workdir)
        self.binary = binary
        self.args = []

    def argv(self):
        return [self.binary] + self.args


# ---------------------------------------------------------------------------------------
# Workloads


def wait_exec(daemon_pid, n, timeout, name="sleep"):
    """Polls until n children of daemon_pid have exec'd `name`; returns the time or None."""
    done = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in children(daemon_pid):
            if pid not in done and comm(pid) == name:
                done.add(pid)
        if len(done) >= n:
            return time.monotonic()
        time.sleep(0.01)
    return None


def spawn_run(system, n, timeout, after=None):
    system.write_sleepers(n)
    t0 = time.monotonic()
    pid = system.launch()
    t_proc = wait_exec(pid, n, timeout)
    res = {"n": n, "proc_secs": None if t_proc is None else t_proc - t0}
    if t_proc is not None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            t_issued = time.monotonic()
            count = system.running_count()
            if count is not None and count >= n:
                res["status_secs"] = time.monotonic() - t0
                res["status_issued_secs"] = t_issued - t0
                break
            time.sleep(0.05)
    if after is not None and res.get("status_secs") is not None:
        res.update(after(system))
    return res


def floor_spawn_run(floor, n, timeout):
    floor.args = [str(n), "sleep", "3600"]
    t0 = time.monotonic()
    pid = floor.launch()
    t_proc = wait_exec(pid, n, timeout)
    return {"n": n, "proc_secs": None if t_proc is None else t_proc - t0}


def footprint(system, idle_secs):
    pid = system.pid
    time.sleep(1.0)  # let the last RUNNING transitions settle
    rss = vmrss_kib(pid)
    c0 = cpu_ticks(pid)
    time.sleep(idle_secs)
    c1 = cpu_ticks(pid)
    return {
        "rss_kib": rss,
        "rss_kib_after_idle": vmrss_kib(pid),
        "threads": threads(pid),
        "idle_window_secs": idle_secs,
        "idle_cpu_secs": None if c0 is None or c1 is None else (c1 - c0) / CLK_TCK,
    }


def time_calls(argv, k):
    times = []
    for _ in range(k):
        t = time.perf_counter()
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        times.append(time.perf_counter() - t)
        if r.returncode not in (0, 3):
            return {"error": f"{argv} exited {r.returncode}: {r.stderr[-300:]!r}"}
    return {"calls_secs": times, "median_secs": statistics.median(times), "bytes": len(r.stdout)}


def status_calls(system, k):
    out = {"status": time_calls(system.status_argv(), k)}
    if isinstance(system, Taskmaster):
        out["status_json"] = time_calls(system.json_status_argv(), k)
    if system.noop_argv():
        out["noop_client"] = time_calls(system.noop_argv(), k)
    return out


def restart_latency(system, kills, seed, timeout=10):
    """kill -9 the one `sleep` child; time until a new child has exec'd `sleep`."""
    pid = system.launch() if system.proc is None else system.pid
    rng = random.Random(seed)
    if wait_exec(pid, 1, 30) is None:
        return {"error": "no child exec'd"}
    lat = []
    for _ in range(kills):
        time.sleep(1.2 + rng.uniform(0, 0.5))
        kids = [c for c in children(pid) if comm(c) == "sleep"]
        if not kids:
            return {"error": "no sleep child to kill", "latencies_ms": lat}
        victim = kids[0]
        SEEN.add(victim)
        t0 = time.perf_counter()
        os.kill(victim, signal.SIGKILL)
        deadline = t0 + timeout
        got = None
        while time.perf_counter() < deadline:
            for c in children(pid):
                if c != victim and comm(c) == "sleep":
                    got = time.perf_counter()
                    break
            if got:
                break
            time.sleep(0.0005)
        if got is None:
            return {"error": f"no replacement within {timeout}s", "latencies_ms": lat}
        lat.append((got - t0) * 1000)
        reap_strays()
    return {"latencies_ms": lat, **summary(lat)}


def crash_loop(system, window):
    """`false` restarted for `window` seconds: the daemon's CPU (utime+stime) and how much its
    log grew over the window, which starts once the loop is under way (1 s after launch)."""
    pid = system.launch()
    time.sleep(1.0)
    log_path = system.event_log() if hasattr(system, "event_log") else None
    size = lambda: os.path.getsize(log_path) if log_path and os.path.exists(log_path) else 0  # noqa: E731
    c0, b0, r0 = cpu_ticks(pid), size(), None
    if hasattr(system, "restarts"):
        r0 = system.restarts()
    t0 = time.monotonic()
    time.sleep(window)
    c1, b1 = cpu_ticks(pid), size()
    elapsed = time.monotonic() - t0
    r1 = system.restarts() if hasattr(system, "restarts") else None
    cpu = None if c0 is None or c1 is None else (c1 - c0) / CLK_TCK
    return {
        "window_secs": elapsed,
        "cpu_secs": cpu,
        "cpu_percent": None if cpu is None else 100.0 * cpu / elapsed,
        "log_growth_bytes": (b1 - b0) if log_path else None,
        "restarts": None if r0 is None or r1 is None else r1 - r0,
    }


def wait_size(path, size, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.stat(path).st_size >= size:
                return time.monotonic()
        except OSError:
            pass
        time.sleep(0.005)
    return None


def log_run(system, path, timeout):
    if os.path.exists(path):
        os.unlink(path)
    os.sync()
    system.write_log(path)
    t_launch = time.monotonic()
    pid = system.launch()
    t_seen = wait_exec(pid, 1, 30, name="head")
    if t_seen is None:
        return {"error": "head never ran"}
    t_done = wait_size(path, GIB, timeout)
    res = {
        "secs": None if t_done is None else t_done - t_seen,
        "secs_from_launch": None if t_done is None else t_done - t_launch,
        "peak_rss_kib": vmrss_kib(pid),
        "size": os.path.getsize(path) if os.path.exists(path) else 0,
    }
    return res


def straight_log_run(path, timeout):
    if os.path.exists(path):
        os.unlink(path)
    os.sync()
    t0 = time.monotonic()
    p = subprocess.Popen(["sh", "-c", f"head -c {GIB} /dev/zero > '{path}'"], start_new_session=True)
    TRACKED.add(p.pid)
    try:
        p.wait(timeout=timeout)
    finally:
        TRACKED.discard(p.pid)
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    return {"secs": time.monotonic() - t0, "size": os.path.getsize(path)}


# ---------------------------------------------------------------------------------------
# Summaries


def summary(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return {"median": None}
    s = sorted(xs)
    p95 = s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))]
    return {"median": statistics.median(s), "p95": p95, "min": s[0], "max": s[-1]}


def med(runs, key):
    return summary([r.get(key) for r in runs if isinstance(r, dict)])["median"]


def fmt(v, unit=""):
    if v is None:
        return "—"
    if isinstance(v, float):
        if abs(v) >= 100:
            return f"{v:.0f}{unit}"
        if abs(v) >= 1:
            return f"{v:.2f}{unit}"
        return f"{v:.3f}{unit}"
    return f"{v}{unit}"


def ratio(a, b):
    if a is None or b in (None, 0):
        return "—"
    return f"{a / b:.2f}x"


def kb(b):
    return None if b is None else b / 1000


def build_table(results, targets):
    tm = results.get("taskmaster", {})
    sv = results.get("supervisord", {})
    fl = results.get("floor", {})
    rows = []

    def row(label, f, t, s, target, unit=""):
        rows.append((label, fmt(f, unit), fmt(t, unit), fmt(s, unit), ratio(t, s), target))

    row("spawn N: /proc (s)", med(fl.get("spawn", []), "proc_secs"),
        med(tm.get("spawn", []), "proc_secs"), med(sv.get("spawn", []), "proc_secs"),
        targets["spawn"])
    row("spawn N: status all RUNNING (s)", None, med(tm.get("spawn", []), "status_secs"),
        med(sv.get("spawn", []), "status_secs"), "")
    fp_f, fp_t, fp_s = fl.get("footprint", {}), tm.get("footprint", {}), sv.get("footprint", {})
    mib = lambda k: None if k is None else k / 1024  # noqa: E731
    row("RSS with N running (MiB)", mib(fp_f.get("rss_kib")), mib(fp_t.get("rss_kib")),
        mib(fp_s.get("rss_kib")), targets["rss"])
    window = next((fp["idle_window_secs"] for fp in (fp_t, fp_s, fp_f) if "idle_window_secs" in fp), "?")
    row(f"idle CPU over {window} s (CPU-s)", fp_f.get("idle_cpu_secs"),
        fp_t.get("idle_cpu_secs"), fp_s.get("idle_cpu_secs"), targets["idle"])
    rs_f, rs_t, rs_s = fl.get("restart", {}), tm.get("restart", {}), sv.get("restart", {})
    row("restart after kill -9: median (ms)", rs_f.get("median"), rs_t.get("median"),
        rs_s.get("median"), targets["restart"])
    row("restart after kill -9: p95 (ms)", rs_f.get("p95"), rs_t.get("p95"), rs_s.get("p95"), "")
    row("1 GiB to stdout file (s)", med(fl.get("log", []), "secs"),
        med(tm.get("log", []), "secs"), med(sv.get("log", []), "secs"), targets["log"])
    st_t, st_s = tm.get("status", {}), sv.get("status", {})
    ms = lambda d: None if not d or d.get("median_secs") is None else d["median_secs"] * 1000  # noqa: E731
    row("status with N (ms, median)", None, ms(st_t.get("status")), ms(st_s.get("status")),
        targets["status"])
    row("status --json with N (ms)", None, ms(st_t.get("status_json")), None, "")
    row("no-op client (ms)", None, ms(st_t.get("noop_client")), ms(st_s.get("noop_client")), "")
    cl_f, cl_t, cl_s = fl.get("crashloop", {}), tm.get("crashloop", {}), sv.get("crashloop", {})
    cl_0 = tm.get("crashloop_nobackoff", {})
    if cl_f or cl_t or cl_s:
        w = next((c["window_secs"] for c in (cl_t, cl_s, cl_f) if c.get("window_secs")), 0)
        row(f"crash loop of `false`, {w:.0f} s: daemon CPU (%)", cl_f.get("cpu_percent"),
            cl_t.get("cpu_percent"), cl_s.get("cpu_percent"), targets["crashloop_cpu"])
        row("  ... event log growth (KB)", None, kb(cl_t.get("log_growth_bytes")),
            kb(cl_s.get("log_growth_bytes")), targets["crashloop_log"])
        row("  ... restarts", cl_f.get("restarts"), cl_t.get("restarts"), cl_s.get("restarts"), "")
    if cl_0:
        row("  ... with restart-backoff 0: CPU (%)", None, cl_0.get("cpu_percent"), None, "")
        row("  ... with restart-backoff 0: log (KB)", None, kb(cl_0.get("log_growth_bytes")), None, "")
        row("  ... with restart-backoff 0: restarts", None, cl_0.get("restarts"), None, "")

    head = ("metric", "floor", "taskmaster", "supervisord", "tm/sv", "target (taskmaster)")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths))  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(r) for r in rows])


def verdicts(results, n):
    """The targets, checked against the medians."""
    tm, fl = results.get("taskmaster", {}), results.get("floor", {})
    out = {}
    t_sp, f_sp = med(tm.get("spawn", []), "proc_secs"), med(fl.get("spawn", []), "proc_secs")
    if t_sp is not None and f_sp:
        out["spawn_within_1.5x_floor"] = t_sp <= 1.5 * f_sp
    fp = tm.get("footprint", {})
    if fp.get("rss_kib") is not None:
        out["rss_below_10_mib"] = fp["rss_kib"] < 10 * 1024
    if fp.get("idle_cpu_secs") is not None:
        out["idle_cpu_zero"] = fp["idle_cpu_secs"] < 0.005
    if tm.get("restart", {}).get("median") is not None:
        out["restart_median_below_3ms"] = tm["restart"]["median"] < 3.0
    st = tm.get("status", {}).get("status", {})
    if st.get("median_secs") is not None:
        out["status_below_50ms"] = st["median_secs"] < 0.050
    t_log, f_log = med(tm.get("log", []), "secs"), med(fl.get("log", []), "secs")
    if t_log is not None and f_log:
        out["log_within_1.3x_straight"] = t_log <= 1.3 * f_log
    cl = tm.get("crashloop", {})
    if cl.get("cpu_percent") is not None:
        out["crashloop_cpu_below_1_percent"] = cl["cpu_percent"] < 1.0
    if cl.get("log_growth_bytes") is not None:
        out["crashloop_log_below_100_kb"] = cl["log_growth_bytes"] < 100_000
    return out


# ---------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--taskmaster", required=True, help="the taskmaster binary (release build)")
    ap.add_argument("--supervisor-venv", required=True, help="virtualenv with supervisor installed")
    ap.add_argument("--spawnloop", required=True, help="the compiled spawnloop floor")
    ap.add_argument("--workdir", default="/tmp/taskmaster-bench/work")
    ap.add_argument("--out", required=True, help="where to write the JSON results")
    ap.add_argument("--systems", default="floor,taskmaster,supervisord")
    ap.add_argument("--workloads", default="spawn,footprint,status,restart,log,crashloop",
                    help="comma-separated subset of spawn,footprint,status,restart,log,crashloop")
    ap.add_argument("--crash-window", type=float, help="crash loop window in seconds (default 30)")
    ap.add_argument("--quick", action="store_true", help="N=100, 1 run, 5 kills, 5 s idle")
    ap.add_argument("-n", type=int, help="processes for spawn/footprint/status (default 1000)")
    ap.add_argument("--runs", type=int, help="repetitions of spawn and log (default 3)")
    ap.add_argument("--kills", type=int, help="restart samples (default 20)")
    ap.add_argument("--idle", type=float, help="idle CPU window in seconds (default 30)")
    ap.add_argument("--status-calls", type=int, help="status samples (default 10)")
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()

    n = a.n or (100 if a.quick else 1000)
    runs = a.runs or (1 if a.quick else 3)
    kills = a.kills or (5 if a.quick else 20)
    idle = a.idle or (5.0 if a.quick else 30.0)
    calls = a.status_calls or (5 if a.quick else 10)
    systems = [s for s in a.systems.split(",") if s]
    workloads = set(w for w in a.workloads.split(",") if w)
    crash_window = a.crash_window or (5.0 if a.quick else 30.0)
    unknown = workloads - {"spawn", "footprint", "status", "restart", "log", "crashloop"}
    if unknown:
        ap.error(f"unknown workloads: {sorted(unknown)}")
    timeout = max(60.0, n * 0.1)

    set_subreaper()
    live = []

    def make(name, sub):
        wd = os.path.join(a.workdir, f"{name}-{sub}")
        shutil.rmtree(wd, ignore_errors=True)
        os.makedirs(wd)
        if name == "taskmaster":
            s = Taskmaster(wd, a.taskmaster)
        elif name == "supervisord":
            s = Supervisord(wd, a.supervisor_venv)
        elif name == "floor":
            s = Floor(wd, a.spawnloop)
        else:
            raise SystemExit(f"unknown system {name}")
        live.append(s)
        return s

    def finish(s):
        r = s.stop()
        if s in live:
            live.remove(s)
        return r

    def on_signal(sig, _frame):
        raise KeyboardInterrupt(f"signal {sig}")

    signal.signal(signal.SIGTERM, on_signal)

    results = {name: {} for name in systems}
    meta = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": platform.node(),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "n": n, "runs": runs, "kills": kills, "idle_secs": idle, "status_calls": calls,
        "crash_window_secs": crash_window,
        "quick": a.quick, "workloads": sorted(workloads), "seed": a.seed,
        "loadavg_start": open("/proc/loadavg").read().split()[:3],
    }
    try:
        ver = subprocess.run([a.taskmaster, "--version"], capture_output=True, text=True)
        meta["taskmaster_version"] = ver.stdout.strip()
        ver = subprocess.run([os.path.join(a.supervisor_venv, "bin", "supervisord"), "--version"],
                             capture_output=True, text=True)
        meta["supervisord_version"] = ver.stdout.strip()
    except OSError as e:
        meta["version_error"] = str(e)

    def log(msg):
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    try:
        for name in systems:
            res = results[name]
            if workloads & {"spawn", "footprint", "status"}:
                res["spawn"] = []
                for i in range(runs):
                    s = make(name, f"spawn{i}")
                    if name == "floor":
                        r = floor_spawn_run(s, n, timeout)
                        if i == 0 and "footprint" in workloads:
                            r.update(footprint(s, idle))
                            res["footprint"] = {k: r[k] for k in ("rss_kib", "threads", "idle_cpu_secs", "idle_window_secs")}
                    else:
                        def after(sys_, first=(i == 0)):
                            extra = {}
                            if first and "footprint" in workloads:
                                res["footprint"] = footprint(sys_, idle)
                            if first and "status" in workloads:
                                res["status"] = status_calls(sys_, calls)
                            return extra
                        r = spawn_run(s, n, timeout, after)
                    r.update(finish(s) or {})
                    res["spawn"].append(r)
                    log(f"{name} spawn run {i}: {r.get('proc_secs')} / {r.get('status_secs')}")
                    reap_strays()
            if "restart" in workloads:
                s = make(name, "restart")
                if name == "floor":
                    s.args = ["-r", "1", "sleep", "3600"]
                elif name == "taskmaster":
                    s.write_restart()
                else:
                    s.write_sleepers(1)
                s.launch()
                res["restart"] = restart_latency(s, kills, a.seed)
                finish(s)
                log(f"{name} restart: {res['restart'].get('median')} ms median")
            if "log" in workloads:
                res["log"] = []
                for i in range(runs):
                    path = os.path.join(a.workdir, f"{name}-log.out")
                    if name == "floor":
                        r = straight_log_run(path, 300)
                    else:
                        s = make(name, f"log{i}")
                        r = log_run(s, path, 300)
                        r.update(finish(s) or {})
                    if os.path.exists(path):
                        os.unlink(path)
                    res["log"].append(r)
                    log(f"{name} log run {i}: {r.get('secs')} s")
            if "crashloop" in workloads:
                # The floor is the bare loop: spawnloop -r respawns `false` at once, for ever.
                variants = [("crashloop", None)]
                if name == "taskmaster":
                    variants.append(("crashloop_nobackoff", "0"))
                for key, backoff in variants:
                    s = make(name, key)
                    if name == "floor":
                        s.args = ["-r", "1", "false"]
                    else:
                        s.write_crashloop(backoff)
                    res[key] = crash_loop(s, crash_window)
                    finish(s)
                    log(f"{name} {key}: {res[key]}")
    except KeyboardInterrupt as e:
        meta["interrupted"] = str(e)
    finally:
        for s in list(live):
            finish(s)
        for pid in SEEN:
            kill_pid(pid)
        reap_strays()

    meta["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    targets = {
        "spawn": "<= 1.5x floor", "rss": "< 10 MiB", "idle": "0.00 CPU-s",
        "restart": "< 3 ms", "status": "< 50 ms", "log": "<= 1.3x floor",
        "crashloop_cpu": "< 1 %", "crashloop_log": "< 100 KB",
    }
    doc = {"meta": meta, "results": results, "targets_met": verdicts(results, n)}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=2)
    print(f"N = {n}, {runs} run(s) of spawn and log, {kills} kills, {idle:g} s idle window; "
          f"load average {' '.join(meta['loadavg_start'])} at start, {' '.join(meta['loadavg_end'])} at end")
    print(build_table(results, targets))
    print()
    for k, v in doc["targets_met"].items():
        print(f"  {k}: {'met' if v else 'NOT met'}")
    print(f"\nraw results: {a.out}")
    return 1 if "interrupted" in meta else 0


if __name__ == "__main__":
    sys.exit(main())
