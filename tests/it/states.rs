//! The process states and their transitions: autostart, starttime, autorestart with
//! exitcodes, BACKOFF → FATAL after `1 + startretries` attempts, spawn failures, stopsignal,
//! stoptime, and the null rules of `status --json`.

use std::fs;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::harness::{
    Config, Daemon, LONG, Program, Sandbox, assert_exit, holds_for, pid_alive, signal, wait_for,
    wait_some,
};

#[test]
fn status_json_rows_have_every_key() {
    let d = Daemon::start(Config::new().program("p", |p| p.cmd("sleep 3600").starttime(0)));
    let row = d.wait_state("p", "RUNNING");
    let obj = row.as_object().expect("object");
    for key in [
        "name",
        "program",
        "state",
        "pid",
        "exit_code",
        "signal",
        "uptime_secs",
        "restarts",
        "reason",
    ] {
        assert!(obj.contains_key(key), "status row lacks {key}: {row}");
    }
    assert!(row["pid"].is_u64());
    assert_eq!(row["exit_code"], Value::Null);
    assert_eq!(row["signal"], Value::Null);
    assert!(
        row["uptime_secs"].as_f64().is_some_and(|u| u >= 0.0),
        "{row}"
    );
    assert_eq!(row["restarts"], 0);
    let pid = row["pid"].as_u64().unwrap() as u32;
    let stat = crate::harness::proc_stat(pid).expect("child in /proc");
    assert_eq!(
        stat.pgrp, pid as i32,
        "every process leads its own process group"
    );
}

#[test]
fn autostart_false_is_stopped_without_pid_until_started() {
    let d = Daemon::start(
        Config::new().program("p", |p| p.cmd("sleep 3600").autostart(false).starttime(0)),
    );
    let row = d.must_row("p");
    assert_eq!(row["state"], "STOPPED", "{row}");
    assert_eq!(row["pid"], Value::Null, "{row}");
    assert_eq!(row["uptime_secs"], Value::Null, "{row}");
    d.ok(&["start", "p"]);
    let row = d.must_row("p");
    assert_eq!(row["state"], "RUNNING", "start waits until RUNNING: {row}");
    let pid = row["pid"].as_u64().expect("pid once started") as u32;
    assert!(pid_alive(pid));
}

#[test]
fn starttime_holds_starting_before_running_and_start_waits_for_it() {
    let d = Daemon::start(
        Config::new()
            .program("auto", |p| p.cmd("sleep 3600").starttime(2))
            .program("manual", |p| {
                p.cmd("sleep 3600").starttime("1.5s").autostart(false)
            }),
    );
    let first = wait_some("auto to be spawned", LONG, || {
        let r = d.must_row("auto");
        (r["state"] == "STARTING" || r["state"] == "RUNNING").then_some(r)
    });
    assert_eq!(first["state"], "STARTING", "within 2 s of start: {first}");
    assert!(
        first["pid"].is_u64(),
        "a STARTING process has a pid: {first}"
    );
    let pid = first["pid"].as_u64().unwrap();
    let running = d.wait_state("auto", "RUNNING");
    assert_eq!(running["pid"].as_u64(), Some(pid), "same process");
    assert!(
        running["uptime_secs"].as_f64().is_some_and(|u| u >= 1.9),
        "RUNNING only after starttime: {running}"
    );

    let t0 = Instant::now();
    d.ok(&["start", "manual"]);
    assert!(
        t0.elapsed() >= Duration::from_millis(1400),
        "start returns once RUNNING, after starttime ({:?})",
        t0.elapsed()
    );
    assert_eq!(d.must_row("manual")["state"], "RUNNING");
}

/// A child that appends a line to `file` then exits with `code` after `secs`.
fn counting(p: Program, file: &str, code: i32, secs: &str) -> Program {
    let script = format!("echo x >> {file}; sleep {secs}; exit {code}");
    p.cmd(["sh", "-c", &script])
}

#[test]
fn autorestart_true_restarts_even_after_a_clean_exit() {
    let d = Daemon::start(Config::new().program("p", |p| {
        counting(p, "runs", 0, "0.2").starttime(0).autorestart(true)
    }));
    wait_for("3 runs", LONG, || d.sb.line_count("runs") >= 3);
    let row = wait_some("restarts >= 2", LONG, || {
        let r = d.must_row("p");
        (r["restarts"].as_u64() >= Some(2)).then_some(r)
    });
    assert_ne!(row["state"], "EXITED", "{row}");
    // A manual restart resets the count.
    d.ok(&["restart", "p"]);
    let row = d.must_row("p");
    assert!(
        row["restarts"].as_u64() <= Some(1),
        "restarts counts since the last manual start: {row}"
    );
}

#[test]
fn autorestart_false_leaves_exited_with_the_code() {
    let d = Daemon::start(
        Config::new()
            .program("zero", |p| {
                counting(p, "zero.runs", 0, "0")
                    .starttime(0)
                    .autorestart(false)
            })
            .program("three", |p| {
                counting(p, "three.runs", 3, "0")
                    .starttime(0)
                    .autorestart(false)
            }),
    );
    let row = d.wait_state("zero", "EXITED");
    assert_eq!(row["exit_code"], 0, "{row}");
    assert_eq!(row["pid"], Value::Null, "{row}");
    assert_eq!(row["signal"], Value::Null, "{row}");
    assert_eq!(row["uptime_secs"], Value::Null, "{row}");
    let row = d.wait_state("three", "EXITED");
    assert_eq!(row["exit_code"], 3, "{row}");
    holds_for("no restart", Duration::from_millis(1500), || {
        d.sb.line_count("zero.runs") == 1 && d.sb.line_count("three.runs") == 1
    });
}

#[test]
fn autorestart_unexpected_follows_exitcodes() {
    // First run exits 3 (unexpected: restarted), the second exits 2 (expected: EXITED).
    let d = Daemon::start(Config::new().program("p", |p| {
        p.cmd([
            "sh",
            "-c",
            "echo x >> runs; n=$(wc -l < runs); if [ $n -ge 2 ]; then exit 2; fi; exit 3",
        ])
        .starttime(0)
        .exitcodes([0, 2])
    }));
    let row = d.wait_state("p", "EXITED");
    assert_eq!(row["exit_code"], 2, "{row}");
    assert_eq!(row["restarts"], 1, "{row}");
    assert_eq!(d.sb.line_count("runs"), 2);
    holds_for("no third run", Duration::from_millis(1200), || {
        d.sb.line_count("runs") == 2
    });
}

#[test]
fn default_autorestart_is_unexpected_with_exitcode_0() {
    let d = Daemon::start(
        Config::new()
            .program("clean", |p| counting(p, "clean.runs", 0, "0").starttime(0))
            .program("failing", |p| {
                counting(p, "failing.runs", 1, "0.2").starttime(0)
            }),
    );
    let row = d.wait_state("clean", "EXITED");
    assert_eq!(row["exit_code"], 0, "{row}");
    wait_for("exit 1 restarted", LONG, || {
        d.sb.line_count("failing.runs") >= 2
    });
    assert_eq!(d.sb.line_count("clean.runs"), 1);
    d.ok(&["stop", "failing"]);
}

#[test]
fn death_by_signal_is_unexpected_and_restarted() {
    let d = Daemon::start(Config::new().program("p", |p| p.cmd("sleep 3600").starttime(0)));
    let pid = d.running_pid("p");
    signal(pid, Signal::SIGKILL);
    let row = wait_some("a new pid", LONG, || {
        let r = d.must_row("p");
        (r["state"] == "RUNNING" && r["pid"].as_u64().is_some_and(|p| p as u32 != pid)).then_some(r)
    });
    assert_eq!(row["restarts"], 1, "{row}");
}

#[test]
fn killed_process_reports_its_signal() {
    let d = Daemon::start(
        Config::new().program("p", |p| p.cmd("sleep 3600").starttime(0).autorestart(false)),
    );
    let pid = d.running_pid("p");
    signal(pid, Signal::SIGKILL);
    let row = d.wait_state("p", "EXITED");
    assert_eq!(row["signal"], "SIGKILL", "{row}");
    assert_eq!(row["exit_code"], Value::Null, "{row}");
    assert_eq!(row["pid"], Value::Null, "{row}");
}

#[test]
fn startretries_gives_backoff_then_fatal_after_one_plus_retries_attempts() {
    let t0 = Instant::now();
    let d = Daemon::start(Config::new().program("p", |p| {
        counting(p, "attempts", 1, "0").starttime(5).startretries(2)
    }));
    wait_for("BACKOFF", LONG, || d.state("p") == "BACKOFF");
    let row = d.wait_state("p", "FATAL");
    // Delays 1 s + 2 s between the three attempts.
    assert!(
        t0.elapsed() >= Duration::from_millis(2800),
        "retried after 1 s then 2 s ({:?})",
        t0.elapsed()
    );
    assert_eq!(d.sb.line_count("attempts"), 3, "1 + startretries attempts");
    assert_eq!(row["pid"], Value::Null, "{row}");
    holds_for("FATAL is final", Duration::from_millis(1500), || {
        d.sb.line_count("attempts") == 3
    });
}

#[test]
fn start_exits_1_when_the_process_ends_fatal() {
    let d = Daemon::start(Config::new().program("p", |p| {
        counting(p, "attempts", 1, "0")
            .starttime(2)
            .startretries(0)
            .autostart(false)
    }));
    let out = d.ctl(&["start", "p"]);
    assert_exit(&out, 1, "start of a program that cannot start");
    assert_eq!(d.must_row("p")["state"], "FATAL");
    assert_eq!(d.sb.line_count("attempts"), 1);
    // A manual start of a FATAL process tries again.
    let out = d.ctl(&["start", "p"]);
    assert_exit(&out, 1, "second start of the same program");
    assert_eq!(d.sb.line_count("attempts"), 2);
}

/// Starts a daemon with `p` (autostart off, no retries) whose spawn will fail once
/// `break_it` has run, then starts it: exit 1, FATAL, a reason.
fn spawn_failure(
    body: impl FnOnce(Program) -> Program,
    prepare: impl FnOnce(&Sandbox),
    break_it: impl FnOnce(&Daemon),
) {
    let sb = Sandbox::new();
    prepare(&sb);
    sb.write_config(Config::new().program("p", |p| {
        body(p).autostart(false).startretries(0).starttime(0)
    }));
    let d = Daemon::start_in(sb, &[]);
    break_it(&d);
    let out = d.ctl(&["start", "p"]);
    assert_exit(&out, 1, "start of a program whose spawn fails");
    let row = d.wait_state("p", "FATAL");
    assert_eq!(row["pid"], Value::Null, "{row}");
    let reason = row["reason"].as_str().unwrap_or_default();
    assert!(!reason.is_empty(), "status shows why: {row}");
}

#[test]
fn missing_program_is_a_failed_attempt_with_a_reason() {
    spawn_failure(
        |p| p.cmd("./tool"),
        |sb| {
            sb.script("tool", "sleep 3600");
        },
        |d| fs::remove_file(d.path("tool")).expect("rm tool"),
    );
}

#[test]
fn program_not_on_path_is_a_failed_attempt_with_a_reason() {
    let sb = Sandbox::new();
    sb.write_config(Config::new().program("p", |p| {
        p.cmd("taskmaster-no-such-program-xyz")
            .startretries(0)
            .starttime(0)
    }));
    let d = Daemon::start_in(sb, &[]);
    let row = d.wait_state("p", "FATAL");
    assert!(
        row["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "status shows why: {row}"
    );
}

#[test]
fn bad_workingdir_is_a_failed_attempt_with_a_reason() {
    spawn_failure(
        |p| p.cmd("sleep 3600").workingdir("gone"),
        |sb| fs::create_dir(sb.path("gone")).expect("mkdir"),
        |d| fs::remove_dir(d.path("gone")).expect("rmdir"),
    );
}

#[test]
fn unwritable_log_file_is_a_failed_attempt_with_a_reason() {
    spawn_failure(
        |p| p.cmd("sleep 3600").stdout("logs/out.log"),
        |sb| fs::create_dir(sb.path("logs")).expect("mkdir"),
        |d| fs::remove_dir(d.path("logs")).expect("rmdir"),
    );
}

#[test]
fn stop_sends_stopsignal() {
    let d = Daemon::start(Config::new().program("p", |p| {
        p.cmd([
            "sh",
            "-c",
            "trap 'echo usr1 > got; exit 0' USR1; echo ready > ready; while :; do sleep 0.1; done",
        ])
        .starttime(0)
        .stopsignal("USR1")
        .stoptime(10)
    }));
    wait_for("child ready", LONG, || d.sb.read("ready") == "ready\n");
    let t0 = Instant::now();
    d.ok(&["stop", "p"]);
    assert_eq!(d.sb.read("got"), "usr1\n", "the child got SIGUSR1");
    assert!(
        t0.elapsed() < Duration::from_secs(8),
        "no wait for stoptime"
    );
    let row = d.must_row("p");
    assert_eq!(row["state"], "STOPPED", "{row}");
    assert_eq!(row["pid"], Value::Null, "{row}");
}

#[test]
fn stoptime_then_sigkill_reaches_the_whole_group() {
    let d = Daemon::start(Config::new().program("p", |p| {
        p.cmd([
            "sh",
            "-c",
            "trap '' TERM; sleep 3600 & echo $! > grandchild; while :; do sleep 0.1; done",
        ])
        .starttime(0)
        .stoptime("1500ms")
    }));
    let pid = d.running_pid("p");
    let grandchild: u32 = wait_some("grandchild pid", LONG, || {
        d.sb.read("grandchild").trim().parse().ok()
    });
    assert!(pid_alive(grandchild));

    let t0 = Instant::now();
    std::thread::scope(|s| {
        let stopper = s.spawn(|| d.ctl(&["stop", "p"]));
        wait_for("STOPPING while the child ignores TERM", LONG, || {
            d.state("p") == "STOPPING"
        });
        let out = stopper.join().expect("stop thread");
        assert_exit(&out, 0, "stop");
    });
    assert!(
        t0.elapsed() >= Duration::from_millis(1300),
        "SIGKILL only after stoptime ({:?})",
        t0.elapsed()
    );
    assert!(!pid_alive(pid), "the child was killed");
    wait_for("the grandchild to die", Duration::from_secs(5), || {
        !pid_alive(grandchild)
    });
    let row = d.must_row("p");
    assert_eq!(row["state"], "STOPPED", "{row}");
}
