//! `taskmaster run` itself: SIGTERM/SIGINT shutdown, SIGHUP reload, refusing a live socket,
//! replacing a stale one, refusing an invalid config, and reaping every child.

use std::os::unix::net::UnixListener;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::harness::{
    Config, Daemon, LONG, Sandbox, descendants, pid_alive, text, wait_for, wait_some,
    zombie_children,
};

fn sleepers() -> Config {
    Config::new()
        .program("web", |p| p.cmd("sleep 3600").numprocs(2).starttime(0))
        .program("tough", |p| {
            // Ignores TERM: shutdown must still get rid of it after stoptime.
            p.cmd(["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"])
                .starttime(0)
                .stoptime("1s")
        })
}

/// `sleep 3600` as program `name`, RUNNING at once.
fn sleeper(config: Config, name: &str) -> Config {
    config.program(name, |p| p.cmd("sleep 3600").starttime(0))
}

fn signal_shuts_down(sig: Signal) {
    let d = Daemon::start(sleepers());
    let pids: Vec<u32> = ["web:0", "web:1", "tough"]
        .iter()
        .map(|n| d.running_pid(n))
        .collect();
    assert!(d.socket().exists());
    d.signal_daemon(sig);
    assert_eq!(d.wait_exit(LONG), Some(0), "{}", d.daemon_output());
    for pid in pids {
        assert!(!pid_alive(pid), "pid {pid} survived {sig}");
    }
    assert!(!d.socket().exists(), "socket file removed on {sig}");
}

#[test]
fn sigterm_stops_everything_and_exits_0() {
    signal_shuts_down(Signal::SIGTERM);
}

#[test]
fn sigint_stops_everything_and_exits_0() {
    signal_shuts_down(Signal::SIGINT);
}

#[test]
fn sighup_reloads_the_config() {
    let d = Daemon::start(sleeper(Config::new(), "keep"));
    let keep = d.running_pid("keep");
    d.sb.write_config(sleeper(sleeper(Config::new(), "keep"), "added"));
    d.signal_daemon(Signal::SIGHUP);
    d.running_pid("added");
    assert_eq!(d.pid_of("keep"), keep, "unchanged program kept its pid");
}

#[test]
fn sighup_with_an_invalid_config_changes_nothing() {
    let d = Daemon::start(sleeper(Config::new(), "keep"));
    let keep = d.running_pid("keep");
    d.sb.write_config(
        Config::new()
            .program("keep", |p| p.numprocs(0))
            .program("new", |p| p.cmd("sleep 1")),
    );
    d.signal_daemon(Signal::SIGHUP);
    // Nothing must happen: check a while that the daemon lives and the pid is the same.
    crate::harness::holds_for("daemon unchanged", Duration::from_millis(1500), || {
        d.try_exit_status().is_none() && d.names() == ["keep"] && d.pid_of("keep") == keep
    });
}

#[test]
fn run_refuses_a_socket_a_live_daemon_answers_on() {
    let d = Daemon::start(sleeper(Config::new(), "a"));
    let a = d.running_pid("a");
    let out = d.sb.taskmaster(&["run", "taskmaster.kdl"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "second run must refuse: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(d.pid_of("a"), a, "the first daemon still serves");
    assert!(d.socket().exists());
}

#[test]
fn run_replaces_a_stale_socket_file() {
    let sb = Sandbox::new();
    drop(UnixListener::bind(sb.socket()).expect("bind"));
    assert!(sb.socket().exists());
    sb.write_config(sleeper(Config::new(), "a"));
    let d = Daemon::start_in(sb, &[]);
    d.running_pid("a");
}

#[test]
fn run_refuses_an_invalid_config_with_exit_1() {
    let sb = Sandbox::new();
    sb.write_config(Config::new().program("a", |p| p.numprocs(0)));
    let out = sb.taskmaster(&["run", "taskmaster.kdl"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).is_empty(), "diagnostics printed");
    assert!(!sb.socket().exists());
}

#[test]
fn run_of_an_unreadable_file_exits_2() {
    let sb = Sandbox::new();
    let out = sb.taskmaster(&["run", "missing.kdl"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = sb.taskmaster(&["run"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "no ./taskmaster.kdl: {}",
        text(&out.stderr)
    );
}

#[test]
fn run_defaults_to_taskmaster_kdl_in_the_working_directory() {
    let sb = Sandbox::new();
    sb.write_config(sleeper(Config::new(), "a"));
    let mut cmd = std::process::Command::new(crate::harness::BIN);
    cmd.arg("run")
        .current_dir(sb.root())
        .env_remove("TASKMASTER_SOCKET")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().expect("spawn run");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for("the daemon to answer", LONG, || {
            sb.taskmaster(&["status", "--json"]).status.code() == Some(0)
        });
        let out = sb.taskmaster(&["shutdown"]);
        assert_eq!(out.status.code(), Some(0));
    }));
    // Whatever happened, leave nothing behind.
    let left = descendants(child.id());
    let _ = child.kill();
    let _ = child.wait();
    for p in left {
        crate::harness::signal(p.pid, Signal::SIGKILL);
    }
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn no_zombies_after_200_crash_restart_cycles() {
    let d = Daemon::start(Config::new().program("crash", |p| {
        p.cmd(["sh", "-c", "exit 1"])
            .starttime(0)
            .autorestart(true)
            // The old immediate restarts, as fast as they come.
            .restart_backoff(0)
    }));
    let mut peak_zombies = 0;
    wait_some("200 restarts", Duration::from_secs(120), || {
        peak_zombies = peak_zombies.max(zombie_children(d.pid()).len());
        let row = d.must_row("crash");
        (row["restarts"].as_u64() >= Some(200)).then_some(())
    });
    assert!(
        peak_zombies <= 2,
        "zombies pile up while crashing: {peak_zombies}"
    );
    d.ok(&["stop", "crash"]);
    wait_for("every child reaped", Duration::from_secs(5), || {
        zombie_children(d.pid()).is_empty()
    });
    assert!(
        descendants(d.pid()).is_empty(),
        "no child left after stop: {:?}",
        descendants(d.pid())
    );
}

#[test]
fn logfile_records_state_changes_with_timestamps() {
    let sb = Sandbox::new();
    sb.write_config(sleeper(
        Config::new().daemon(|d| d.logfile("events.log")),
        "ev",
    ));
    let d = Daemon::start_in(sb, &[]);
    d.running_pid("ev");
    d.ok(&["stop", "ev"]);
    wait_for("the stop in the event log", LONG, || {
        let log = d.sb.read("events.log").to_uppercase();
        log.contains("EV") && log.contains("RUNNING") && log.contains("STOPPED")
    });
    let log = d.sb.read("events.log");
    for line in log.lines().filter(|l| l.contains("ev")) {
        assert!(
            line.chars().take(30).filter(char::is_ascii_digit).count() >= 6,
            "event lines start with a timestamp: {line:?}"
        );
    }
}
