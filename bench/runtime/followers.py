#!/usr/bin/env python3
"""Daemon memory with `logs -f` readers that never read (contract Part 2, "Socket limits").

Starts `taskmaster run` on a config with one program, opens READERS raw connections that
each send a `logs -f` request and then never read, makes the program print OUTPUT bytes
(far more than the 1 MiB each reader may have queued, plus what the kernel buffers), waits
until the daemon has taken it all in, and reports the daemon's VmRSS and VmHWM (peak).

Target: under 300 MiB with 250 readers. Each reader may hold 1 MiB unsent, so the expected
figure is about 250 MiB plus the daemon's own few MiB.

    bench/runtime/followers.py --taskmaster target/release/taskmaster [--readers 250]
        [--output-mib 8] [--baseline OLD_BINARY] [--out results/followers-….json]

With --baseline, the same run is made with that binary too, and both are printed side by
side. Standard library only; every process started is killed on the way out.
"""

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time

from bench import cpu_ticks, descendants, status_kib  # the runtime bench's /proc helpers

MIB = 1 << 20


def wait_until(what, timeout, cond, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(interval)
    raise SystemExit(f"timed out after {timeout}s waiting for {what}")


def ask(sock_path, request, timeout=30):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    s.sendall(json.dumps(request).encode() + b"\n")
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return json.loads(data)


def one_run(binary, readers, output_mib, settle):
    work = tempfile.mkdtemp(prefix="tm-followers-")
    sock = os.path.join(work, "t.sock")
    # The program prints OUTPUT bytes of 100-byte lines once `go` exists, then sleeps.
    with open(os.path.join(work, "taskmaster.kdl"), "w") as f:
        f.write(
            'taskmaster { socket "t.sock" }\n'
            'program "chatty" {\n'
            '    cmd "sh" "-c" "while [ ! -e go ]; do sleep 0.05; done; '
            f"head -c {output_mib * MIB} /dev/zero | tr '\\\\000' x | fold -w 99; "
            'touch done; exec sleep 3600"\n'
            "    starttime 0\n"
            "}\n"
        )
    daemon = subprocess.Popen(
        [binary, "run", os.path.join(work, "taskmaster.kdl")],
        cwd=work,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(work, "daemon.err"), "w"),
        start_new_session=True,
    )
    conns = []
    try:
        wait_until("the daemon", 30, lambda: os.path.exists(sock))
        wait_until("chatty to run", 30, lambda: any(
            r["state"] == "RUNNING" for r in ask(sock, {"version": 1, "command": "status"})["processes"]))
        rss_before = status_kib(daemon.pid, "VmRSS")
        for _ in range(readers):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            # The smallest receive buffer the kernel allows: what piles up, piles up in the
            # daemon, which is what is measured.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
            s.connect(sock)
            s.sendall(b'{"version":1,"command":"logs","name":"chatty","follow":true}\n')
            conns.append(s)
        # Every request taken (a status answer comes after them on the same loop).
        ask(sock, {"version": 1, "command": "status"})
        t0 = time.monotonic()
        ticks0 = cpu_ticks(daemon.pid)
        open(os.path.join(work, "go"), "w").close()
        wait_until("the output to be written", 600, lambda: os.path.exists(os.path.join(work, "done")))
        # The daemon has read all but the last pipe-full; give it a moment to queue it.
        time.sleep(settle)
        elapsed = time.monotonic() - t0
        alive = daemon.poll() is None
        answered = alive and ask(sock, {"version": 1, "command": "status"})["type"] == "status"
        # How many readers the daemon still serves: a dropped one reads EOF at once.
        # Measured first; reading everything now does not change the figures above.
        rss = status_kib(daemon.pid, "VmRSS")
        peak = status_kib(daemon.pid, "VmHWM")
        ticks = cpu_ticks(daemon.pid)
        still = 0
        for s in conns:
            s.setblocking(False)
            try:
                while s.recv(1 << 20):
                    pass
                # End of stream: the daemon dropped this reader.
            except BlockingIOError:
                still += 1
            except OSError:
                pass
        return {
            "binary": binary,
            "readers": readers,
            "output_mib": output_mib,
            "rss_before_mib": round((rss_before or 0) / 1024, 1),
            "rss_mib": round((rss or 0) / 1024, 1),
            "peak_rss_mib": round((peak or 0) / 1024, 1),
            "cpu_secs": round((ticks - ticks0) / os.sysconf("SC_CLK_TCK"), 2),
            "secs": round(elapsed, 1),
            "daemon_answers": answered,
            "readers_still_connected": still,
        }
    finally:
        for s in conns:
            s.close()
        left = descendants(daemon.pid)
        try:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--taskmaster", required=True)
    ap.add_argument("--baseline", help="another taskmaster binary to run the same way")
    ap.add_argument("--readers", type=int, default=250)
    ap.add_argument("--output-mib", type=int, default=8)
    ap.add_argument("--settle", type=float, default=2.0)
    ap.add_argument("--out")
    a = ap.parse_args()
    a.taskmaster = os.path.abspath(a.taskmaster)
    if a.baseline:
        a.baseline = os.path.abspath(a.baseline)
    runs = [one_run(a.taskmaster, a.readers, a.output_mib, a.settle)]
    if a.baseline:
        runs.append(one_run(a.baseline, a.readers, a.output_mib, a.settle))
    keys = ["rss_before_mib", "rss_mib", "peak_rss_mib", "cpu_secs", "secs",
            "daemon_answers", "readers_still_connected"]
    print(f"{a.readers} `logs -f` readers that never read, {a.output_mib} MiB of output")
    print(f"{'':28}" + "".join(f"{label:>16}" for label in ["taskmaster", "baseline"][: len(runs)]))
    for k in keys:
        print(f"{k:28}" + "".join(f"{str(r[k]):>16}" for r in runs))
    verdict = runs[0]["peak_rss_mib"] < 300 and runs[0]["readers_still_connected"] == a.readers
    print(f"target (peak < 300 MiB, every reader still followed): {'met' if verdict else 'NOT met'}")
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"machine": platform.uname()._asdict(), "runs": runs,
                       "load": os.getloadavg(), "target_met": verdict}, f, indent=1)
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
