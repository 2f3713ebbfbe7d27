//! Part 2, "Hardening", the daemon's side: configs compiled off the event loop, log targets
//! opened without blocking, every catchable signal handled, removed processes visible until
//! gone, stops that another client's start overtook, and an event log that a stalled
//! terminal cannot freeze. Each test reproduces a way the daemon could once be frozen,
//! killed or confused from outside.

use std::fs;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use serde_json::Value;

use crate::harness::{
    BIN, Daemon, LONG, Sandbox, assert_exit, holds_for, pid_alive, program, run_bounded, signal,
    text, wait_for, wait_some,
};

/// How long a client may take to be answered while the daemon is busy elsewhere. Far above
/// the contract's 50 ms (the machine is loaded), far below what a blocked loop takes.
const ANSWER: Duration = Duration::from_secs(10);

/// A config of `programs` valid programs and one invalid one at the end: reading and
/// compiling it takes a while (seconds in a debug build), and a reload of it changes nothing.
fn slow_config(programs: usize) -> String {
    let mut text = String::from(crate::harness::PREAMBLE);
    for i in 0..programs {
        text.push_str(&format!(
            "program \"p{i}\" {{\n    cmd \"sleep 3600\"\n    autostart #false\n}}\n"
        ));
    }
    text.push_str("program \"broken\" {\n    numprocs 0\n}\n");
    text
}

/// `taskmaster ARGS --socket …` started in the background.
fn ctl_spawn(d: &Daemon, args: &[&str]) -> Child {
    d.ctl_command(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn a client")
}

/// `taskmaster ARGS --socket …`, which must finish within `limit`.
fn ctl_within(d: &Daemon, args: &[&str], limit: Duration) -> std::process::Output {
    run_bounded(d.ctl_command(args), d.sb.root(), limit, None)
}

/// Whether the daemon has a thread compiling a config right now.
fn compile_thread_running(pid: u32) -> bool {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks
        .filter_map(Result::ok)
        .any(|t| fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == "tm-compile"))
}

fn still_running(child: &mut Child) -> bool {
    child.try_wait().expect("try_wait").is_none()
}

fn kill_child(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// `status --json` rows, answered within [`ANSWER`].
fn quick_status(d: &Daemon) -> Vec<Value> {
    let out = ctl_within(d, &["status", "--json"], ANSWER);
    assert_exit(&out, 0, "status --json while the daemon is busy");
    serde_json::from_slice(&out.stdout).expect("status --json is JSON")
}

fn restarts_of(rows: &[Value], name: &str) -> u64 {
    rows.iter()
        .find(|r| r["name"] == name)
        .and_then(|r| r["restarts"].as_u64())
        .unwrap_or_default()
}

/// The event log the daemon wrote to its stderr so far.
fn event_log(d: &Daemon) -> String {
    d.sb.read("daemon.err")
}

fn crasher() -> String {
    program(
        "crasher",
        "    cmd \"sh\" \"-c\" \"sleep 0.2; exit 1\"\n    starttime 0\n    autorestart #true",
    )
}

// ---------------------------------------------------------------------------------------
// Configs are compiled off the event loop.

#[test]
fn status_is_answered_and_children_restarted_while_a_reload_compiles() {
    let d = Daemon::start(&crasher());
    d.wait_state("crasher", "RUNNING");
    d.sb.write("taskmaster.kdl", &slow_config(45_000));
    let mut reload = ctl_spawn(&d, &["reload"]);
    wait_for("the reload to begin", LONG, || {
        event_log(&d).contains("reload: reading")
    });
    let first = quick_status(&d);
    let mut last = first.clone();
    wait_for("a restart, or the end of the reload", LONG, || {
        last = quick_status(&d);
        restarts_of(&last, "crasher") > restarts_of(&first, "crasher")
            || !still_running(&mut reload)
    });
    let reload_pending = still_running(&mut reload);
    kill_child(reload);
    assert!(
        reload_pending,
        "status was only answered once the reload had finished compiling\n{}",
        d.daemon_output()
    );
    assert!(
        restarts_of(&last, "crasher") > restarts_of(&first, "crasher"),
        "no restart while the reload compiled: {first:?} then {last:?}"
    );
}

#[test]
fn status_is_answered_while_an_online_diff_compiles() {
    let d = Daemon::start(&crasher());
    d.sb.write("big.kdl", &slow_config(45_000));
    let big = d.path("big.kdl");
    let mut diff = ctl_spawn(&d, &["diff", big.to_str().expect("utf-8 path")]);
    // Nothing is logged for a diff; its compile thread shows it began (or the old daemon,
    // compiling on its loop, never has one and the wait fails).
    wait_for("the diff's compile thread", LONG, || {
        compile_thread_running(d.pid()) || !still_running(&mut diff)
    });
    quick_status(&d);
    let pending = still_running(&mut diff);
    kill_child(diff);
    assert!(
        pending,
        "status waited for the diff to compile\n{}",
        d.daemon_output()
    );
}

#[test]
fn status_is_answered_while_a_sighup_reload_compiles() {
    let d = Daemon::start(&crasher());
    d.sb.write("taskmaster.kdl", &slow_config(45_000));
    d.signal_daemon(Signal::SIGHUP);
    wait_for("the SIGHUP reload to begin", LONG, || {
        event_log(&d).contains("reload: reading")
    });
    quick_status(&d);
    assert!(
        !event_log(&d).contains("reload rejected"),
        "status waited for the SIGHUP reload to compile\n{}",
        d.daemon_output()
    );
}

#[test]
fn a_second_reload_waits_for_the_first() {
    let d = Daemon::start(&crasher());
    d.sb.write("taskmaster.kdl", &slow_config(3_000));
    let first = ctl_spawn(&d, &["reload"]);
    let second = ctl_spawn(&d, &["reload"]);
    for mut client in [first, second] {
        let status = wait_some("a reload to be answered", LONG * 3, || {
            client.try_wait().expect("try_wait")
        });
        assert_eq!(status.code(), Some(1), "an invalid config is rejected");
    }
    // The event log reaches stderr through a writer thread, after the replies went out.
    wait_for("both rejections in the event log", LONG, || {
        event_log(&d).matches("reload rejected").count() >= 2
    });
    let log = event_log(&d);
    let events: Vec<&str> = log
        .lines()
        .filter_map(|l| {
            if l.contains("reload: reading") {
                Some("read")
            } else if l.contains("reload rejected") {
                Some("done")
            } else {
                None
            }
        })
        .collect();
    assert_eq!(events, ["read", "done", "read", "done"], "{log}");
}

// ---------------------------------------------------------------------------------------
// Opening a log target never blocks.

fn mkfifo(path: &Path) {
    nix::unistd::mkfifo(path, Mode::from_bits_truncate(0o600)).expect("mkfifo");
}

#[test]
fn a_fifo_without_a_reader_is_a_failed_attempt_and_the_daemon_keeps_answering() {
    let sb = Sandbox::new();
    mkfifo(&sb.path("out.fifo"));
    sb.write_config(&format!(
        "{}{}",
        program(
            "talker",
            "    cmd \"sh\" \"-c\" \"echo through-the-fifo; sleep 3600\"\n    stdout \"out.fifo\"\n    starttime 0\n    startretries 0"
        ),
        program("other", "    cmd \"sleep 3600\"\n    starttime 0"),
    ));
    let fifo = sb.path("out.fifo");
    let d = Daemon::spawn_in(sb, &[]);
    let row = wait_some("talker to be FATAL", LONG, || {
        let out = ctl_within(&d, &["status", "--json"], ANSWER);
        let rows: Vec<Value> = serde_json::from_slice(&out.stdout).ok()?;
        rows.into_iter()
            .find(|r| r["name"] == "talker" && r["state"] == "FATAL")
    });
    let reason = row["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!("no reader on FIFO {}", fifo.display())),
        "{row}"
    );
    d.wait_state("other", "RUNNING");

    // With a reader, the same target works, and the child writes through it.
    let reader = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(&fifo)
        .expect("open the FIFO for reading");
    d.ok(&["start", "talker"]);
    let mut got = Vec::new();
    wait_for("the child's output through the FIFO", LONG, || {
        let mut buf = [0u8; 256];
        if let Ok(n) = std::io::Read::read(&mut (&reader), &mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        text(&got).contains("through-the-fifo")
    });
}

#[test]
fn a_logfile_fifo_without_a_reader_makes_run_exit_2() {
    let sb = Sandbox::new();
    mkfifo(&sb.path("events.fifo"));
    sb.write_config_with_logfile("events.fifo", &program("p", "    cmd \"sleep 3600\""));
    let mut cmd = Command::new(BIN);
    cmd.arg("run")
        .arg(sb.config())
        .current_dir(sb.root())
        .env_remove("TASKMASTER_SOCKET");
    let out = run_bounded(cmd, sb.root(), ANSWER, None);
    assert_exit(&out, 2, "run with a logfile FIFO nobody reads");
    let expected = format!("no reader on FIFO {}", sb.path("events.fifo").display());
    assert!(
        text(&out.stderr).contains(&expected),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn character_devices_are_log_targets() {
    let sb = Sandbox::new();
    sb.write_config_with_logfile(
        "/dev/stdout",
        &program(
            "quiet",
            "    cmd \"sh\" \"-c\" \"echo hidden; sleep 3600\"\n    stdout \"/dev/null\"\n    starttime 0"
        ),
    );
    let d = Daemon::start_in(sb, &[]);
    d.wait_state("quiet", "RUNNING");
    // The event log went to the daemon's stdout too.
    wait_for("the event log on /dev/stdout", LONG, || {
        d.sb.read("daemon.out")
            .contains("quiet: STARTING -> RUNNING")
    });
}

// ---------------------------------------------------------------------------------------
// Signals.

/// Every catchable signal that does not mean shutdown, reload or reopen, with its name.
fn ignored_signals() -> Vec<(i32, String)> {
    let named = [
        Signal::SIGUSR1,
        Signal::SIGALRM,
        Signal::SIGPIPE,
        Signal::SIGTSTP,
        Signal::SIGTTIN,
        Signal::SIGTTOU,
        Signal::SIGVTALRM,
        Signal::SIGPROF,
        Signal::SIGWINCH,
        Signal::SIGIO,
        Signal::SIGPWR,
        Signal::SIGXCPU,
        Signal::SIGXFSZ,
        Signal::SIGCONT,
        Signal::SIGURG,
        Signal::SIGSYS,
        Signal::SIGTRAP,
        Signal::SIGABRT,
        Signal::SIGSTKFLT,
    ];
    let mut out: Vec<(i32, String)> = named
        .iter()
        .map(|s| (*s as i32, s.as_str().to_owned()))
        .collect();
    let (min, max) = (nix::libc::SIGRTMIN(), nix::libc::SIGRTMAX());
    out.push((min, "SIGRTMIN+0".into()));
    out.push((min + 5, "SIGRTMIN+5".into()));
    out.push((max, "SIGRTMAX".into()));
    out
}

#[test]
fn every_other_catchable_signal_is_ignored_and_noted() {
    let d = Daemon::start(&program("p", "    cmd \"sleep 3600\"\n    starttime 0"));
    let pid = d.running_pid("p");
    for (signo, name) in ignored_signals() {
        // SAFETY: kill(2) with a valid signal number; the daemon is our child.
        unsafe { nix::libc::kill(d.pid() as i32, signo) };
        wait_for(&format!("the event log to note {name}"), LONG, || {
            event_log(&d).contains(&format!("ignored {name} "))
        });
        assert!(
            d.try_exit_status().is_none(),
            "{name} ended the daemon\n{}",
            d.daemon_output()
        );
        assert_eq!(d.pid_of("p"), pid, "{name} touched the program");
    }
    // SIGQUIT is a graceful shutdown.
    d.signal_daemon(Signal::SIGQUIT);
    assert_eq!(d.wait_exit(LONG), Some(0), "{}", d.daemon_output());
    assert!(!pid_alive(pid));
}

#[test]
fn a_second_sigquit_kills_what_is_still_stopping() {
    let d = Daemon::start(&program(
        "stubborn",
        "    cmd \"sh\" \"-c\" \"trap '' TERM; while :; do sleep 0.1; done\"\n    starttime 0\n    stoptime 600",
    ));
    let pid = d.running_pid("stubborn");
    d.signal_daemon(Signal::SIGQUIT);
    d.wait_state("stubborn", "STOPPING");
    d.signal_daemon(Signal::SIGQUIT);
    assert_eq!(d.wait_exit(LONG), Some(0), "{}", d.daemon_output());
    wait_for("the stubborn process to be gone", LONG, || !pid_alive(pid));
}

#[test]
fn sigusr2_reopens_the_logfile() {
    let sb = Sandbox::new();
    sb.write_config_with_logfile(
        "events.log",
        &program(
            "p",
            "    cmd \"sleep 3600\"\n    starttime 0\n    autostart #false",
        ),
    );
    let d = Daemon::start_in(sb, &[]);
    fs::rename(d.path("events.log"), d.path("events.log.1")).expect("rotate the logfile");
    d.signal_daemon(Signal::SIGUSR2);
    wait_for("a new events.log", LONG, || {
        d.sb.read("events.log").contains("reopened")
    });
    d.ok(&["start", "p"]);
    wait_for("new events in the new file", LONG, || {
        d.sb.read("events.log").contains("p: STOPPED -> STARTING")
    });
    assert!(!d.sb.read("events.log.1").contains("p: STOPPED -> STARTING"));
}

#[test]
fn exit_statuses_survive_a_daemon_started_with_sigchld_ignored() {
    let sb = Sandbox::new();
    sb.write_config(&program(
        "once",
        "    cmd \"sh\" \"-c\" \"sleep 0.5; exit 3\"\n    starttime 0\n    exitcodes 3",
    ));
    let d = Daemon::spawn_custom(
        sb,
        &[
            "python3",
            "-c",
            "import os, signal, sys; signal.signal(signal.SIGCHLD, signal.SIG_IGN); \
             os.execv(sys.argv[1], sys.argv[1:])",
        ],
        |_| {},
    );
    d.wait_ready();
    let row = d.wait_state("once", "EXITED");
    assert_eq!(row["exit_code"], 3, "{row}");
    assert_eq!(
        row["restarts"], 0,
        "an expected exit is not restarted: {row}"
    );
}

/// The blocked and ignored signal sets of /proc/self/status as the child saw them, leaving
/// out signals 32 and 33: glibc reserves them for itself, and its posix_spawn hands them
/// to every child ignored (it cannot be asked otherwise); libc installs its own handlers
/// when it needs them.
fn child_signal_masks(d: &Daemon, name: &str) -> (u64, u64) {
    d.wait_state(name, "EXITED");
    let out = d.ok(&["logs", name]);
    let field = |key: &str| {
        let status = text(&out.stdout);
        let line = status
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no {key} in {status}"));
        let hex = line.split_whitespace().nth(1).unwrap_or_default();
        u64::from_str_radix(hex, 16).expect("a hex mask") & !(0b11 << 31)
    };
    (field("SigBlk:"), field("SigIgn:"))
}

#[test]
fn children_get_no_blocked_or_ignored_signals() {
    let sb = Sandbox::new();
    let masks = "    cmd \"cat\" \"/proc/self/status\"\n    starttime 0\n    autorestart #false";
    sb.write_config(&format!(
        "{}{}",
        program("spawned", masks),
        // A workingdir takes the fork path instead of posix_spawn.
        program("forked", &format!("{masks}\n    workingdir \"/\"")),
    ));
    // Started with signals ignored, as `nohup` and some init scripts do.
    let d = Daemon::spawn_custom(
        sb,
        &[
            "python3",
            "-c",
            "import os, signal, sys; [signal.signal(s, signal.SIG_IGN) for s in \
             (signal.SIGCHLD, signal.SIGHUP, signal.SIGUSR1, signal.SIGPIPE, signal.SIGRTMIN)]; \
             os.execv(sys.argv[1], sys.argv[1:])",
        ],
        |_| {},
    );
    d.wait_ready();
    for name in ["spawned", "forked"] {
        let (blocked, ignored) = child_signal_masks(&d, name);
        assert_eq!(
            (blocked, ignored),
            (0, 0),
            "{name}: blocked {blocked:#x}, ignored {ignored:#x}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Reload overlap.

fn stubborn(name: &str, extra: &str) -> String {
    program(
        name,
        &format!(
            "    cmd \"sh\" \"-c\" \"trap '' TERM; while :; do sleep 0.1; done\"\n    starttime 0\n    stoptime 600{extra}"
        ),
    )
}

/// The rows named `name`; never more than one.
fn rows_named(d: &Daemon, name: &str) -> Vec<Value> {
    let rows: Vec<Value> = d
        .status_json()
        .into_iter()
        .filter(|r| r["name"] == name)
        .collect();
    assert!(rows.len() <= 1, "two processes named {name}: {rows:#?}");
    rows
}

#[test]
fn a_removed_program_stays_stopping_and_a_re_added_one_waits_for_it() {
    let keep = program("keep", "    cmd \"sleep 3600\"\n    starttime 0");
    let d = Daemon::start(&format!("{keep}{}", stubborn("slow", "")));
    let old = d.running_pid("slow");

    d.sb.write_config(&keep);
    d.ok(&["reload"]);
    let row = rows_named(&d, "slow");
    assert_eq!(row.len(), 1, "a removed process still stopping is listed");
    assert_eq!(row[0]["state"], "STOPPING", "{row:?}");
    assert_eq!(row[0]["pid"], old);
    // Named too, by itself, as `slow:*` or with `all`.
    for name in ["slow", "slow:*", "all"] {
        let out = d.ok(&["status", name, "--json"]);
        let rows: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON");
        assert!(
            rows.iter()
                .any(|r| r["name"] == "slow" && r["state"] == "STOPPING"),
            "status {name}: {rows:?}"
        );
    }

    d.sb.write_config(&format!("{keep}{}", stubborn("slow", "")));
    d.ok(&["reload"]);
    holds_for(
        "no second `slow` starts",
        Duration::from_millis(500),
        || rows_named(&d, "slow")[0]["pid"] == old,
    );
    assert!(pid_alive(old));
    signal(old, Signal::SIGKILL);
    let row = d.wait_state("slow", "RUNNING");
    assert_ne!(row["pid"], old);
    assert!(!pid_alive(old));
    assert_eq!(rows_named(&d, "slow").len(), 1);
}

#[test]
fn a_scaled_away_process_stays_stopping_and_scaling_back_waits_for_it() {
    let d = Daemon::start(&stubborn("web", "\n    numprocs 3"));
    let old = d.running_pid("web:2");
    d.running_pid("web:1");

    d.sb.write_config(&stubborn("web", "\n    numprocs 2"));
    d.ok(&["reload"]);
    let row = rows_named(&d, "web:2");
    assert_eq!(
        row.len(),
        1,
        "a scaled-away process still stopping is listed"
    );
    assert_eq!(row[0]["state"], "STOPPING");

    d.sb.write_config(&stubborn("web", "\n    numprocs 3"));
    d.ok(&["reload"]);
    holds_for("no second web:2 starts", Duration::from_millis(500), || {
        rows_named(&d, "web:2")[0]["pid"] == old
    });
    signal(old, Signal::SIGKILL);
    let row = d.wait_state("web:2", "RUNNING");
    assert_ne!(row["pid"], old);
}

#[test]
fn a_program_added_back_with_more_processes_takes_its_stopping_one_back_renamed() {
    let keep = program("keep", "    cmd \"sleep 3600\"\n    starttime 0");
    let d = Daemon::start(&format!("{keep}{}", stubborn("web", "")));
    let old = d.running_pid("web");
    d.sb.write_config(&keep);
    d.ok(&["reload"]);
    d.sb.write_config(&format!("{keep}{}", stubborn("web", "\n    numprocs 2")));
    d.ok(&["reload"]);
    let row = rows_named(&d, "web:0");
    assert_eq!(row.len(), 1, "the stopping process is web:0 now");
    assert_eq!(row[0]["pid"], old);
    assert!(rows_named(&d, "web").is_empty());
    d.wait_state("web:1", "RUNNING");
    signal(old, Signal::SIGKILL);
    let row = d.wait_state("web:0", "RUNNING");
    assert_ne!(row["pid"], old);
}

// ---------------------------------------------------------------------------------------
// A stop overtaken by another client's start.

#[test]
fn a_stop_is_answered_when_another_clients_start_overtakes_it() {
    let d = Daemon::start(&program(
        "slowstop",
        "    cmd \"sh\" \"-c\" \"trap 'sleep 2; exit 0' TERM; while :; do sleep 0.1; done\"\n    starttime 0",
    ));
    let old = d.running_pid("slowstop");
    let mut stop = ctl_spawn(&d, &["stop", "slowstop"]);
    d.wait_state("slowstop", "STOPPING");
    let start = ctl_within(&d, &["start", "slowstop"], LONG);
    assert_exit(
        &start,
        0,
        "start while another client's stop is in progress",
    );
    let status = wait_some("the stop to be answered", LONG, || {
        stop.try_wait().expect("try_wait")
    });
    assert_eq!(
        status.code(),
        Some(0),
        "the stop is done: its process was stopped"
    );
    assert!(!pid_alive(old));
    d.wait_state("slowstop", "RUNNING");
}

// ---------------------------------------------------------------------------------------
// The event log never blocks the loop.

/// `start NAME` with a request line of about 55 KB, which the event log records whole.
fn log_a_lot(d: &Daemon, name: &str, times: usize) {
    let mut args = vec!["start"];
    args.extend(std::iter::repeat_n(name, 900));
    for _ in 0..times {
        let out = ctl_within(d, &args, ANSWER);
        assert_exit(&out, 0, "start with a long request line");
    }
}

#[test]
fn a_logfile_that_stops_draining_does_not_freeze_the_daemon() {
    let sb = Sandbox::new();
    mkfifo(&sb.path("events.fifo"));
    // A reader that never reads: the FIFO fills up after 64 KiB.
    let reader = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(sb.path("events.fifo"))
        .expect("open the FIFO for reading");
    let name = "a".repeat(60);
    sb.write_config_with_logfile(
        "events.fifo",
        &program(&name, "    cmd \"sleep 3600\"\n    starttime 0"),
    );
    let d = Daemon::start_in(sb, &[]);
    log_a_lot(&d, &name, 6);
    quick_status(&d);
    drop(reader);
}

#[test]
fn a_terminal_that_stops_draining_does_not_freeze_the_daemon() {
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let sb = Sandbox::new();
    let name = "a".repeat(60);
    sb.write_config(&program(&name, "    cmd \"sleep 3600\"\n    starttime 0"));
    let d = Daemon::spawn_custom(sb, &[], |cmd| {
        cmd.stderr(fs::File::from(pty.slave));
    });
    d.wait_ready();
    // Nobody reads the terminal's other end (a stalled ssh session), and then it is
    // stopped outright, as Ctrl-S does.
    log_a_lot(&d, &name, 3);
    nix::unistd::write(&pty.master, b"\x13").expect("XOFF");
    log_a_lot(&d, &name, 3);
    quick_status(&d);
    drop(pty.master);
}
