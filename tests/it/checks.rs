//! Readiness and liveness checks against real listeners and real children: each check
//! kind passing and failing, the readiness deadline (BACKOFF, then FATAL with the reason),
//! a liveness restart, an exec check killed at its timeout, a `log` readiness, and a reload
//! that adds checks in place.

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Block, Config, Daemon, LONG, pid_alive, wait_for, wait_some};

/// A loopback port nothing listens on (bound, then released).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// A python3 program that sleeps `delay_s`, then accepts (and closes) connections on `port`.
fn listener_cmd(port: u16, delay_s: f64) -> Vec<String> {
    let script = format!(
        "import socket, time\n\
         time.sleep({delay_s})\n\
         s = socket.socket()\n\
         s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('127.0.0.1', {port}))\n\
         s.listen(64)\n\
         while True:\n    c, _ = s.accept()\n    c.close()\n"
    );
    vec!["python3".into(), "-c".into(), script]
}

fn tcp(port: u16, interval: &str) -> impl FnOnce(Block) -> Block {
    let interval = interval.to_owned();
    move |b| b.entry("tcp", i64::from(port)).entry("interval", interval)
}

fn field<'r>(row: &'r Value, key: &str) -> &'r Value {
    row.get(key)
        .unwrap_or_else(|| panic!("status row has no {key}: {row}"))
}

#[test]
fn a_tcp_readiness_check_holds_starting_until_the_port_listens() {
    let port = free_port();
    let d = Daemon::start(Config::new().program("db", |p| {
        p.cmd(listener_cmd(port, 2.0))
            .starttime(0)
            .readiness(tcp(port, "100ms"))
    }));
    let row = d.must_row("db");
    assert_eq!(row["state"], "STARTING", "{row}");
    assert_eq!(*field(&row, "ready"), Value::Bool(false), "{row}");
    assert_eq!(*field(&row, "healthy"), Value::Null, "no liveness: {row}");
    let table = d.ok(&["status"]);
    assert!(
        String::from_utf8_lossy(&table.stdout).contains("not ready"),
        "{}",
        String::from_utf8_lossy(&table.stdout)
    );
    let row = d.wait_state("db", "RUNNING");
    assert_eq!(row["ready"], Value::Bool(true), "{row}");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "RUNNING before the port listened"
    );
}

#[test]
fn not_ready_within_the_deadline_is_a_failed_attempt_then_fatal() {
    let port = free_port();
    let d = Daemon::start(Config::new().program("api", |p| {
        p.cmd(["sh", "-c", "echo $$ >> pids; exec sleep 100"])
            .starttime(0)
            .startretries(1)
            .stoptime(1)
            .readiness(|b| {
                b.entry("tcp", i64::from(port))
                    .entry("interval", "100ms")
                    .entry("deadline", "1s")
            })
    }));
    d.wait_state("api", "BACKOFF");
    let row = d.wait_state("api", "FATAL");
    let reason = row["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!(
            "not ready within 1s (last check: connect 127.0.0.1:{port}: connection refused)"
        )),
        "{row}"
    );
    let pids = d.sb.read("pids");
    let pids: Vec<&str> = pids.lines().collect();
    assert_eq!(pids.len(), 2, "two attempts: {pids:?}");
    assert_ne!(pids[0], pids[1]);
    for pid in pids {
        let pid: u32 = pid.parse().expect("a pid");
        wait_for("a not-ready attempt to be stopped", LONG, || {
            !pid_alive(pid)
        });
    }
}

#[test]
fn an_http_liveness_failure_restarts_the_process() {
    let port = free_port();
    let config = Config::new().daemon(|d| d.logfile("events.log"));
    let d = Daemon::start(config.program("web", |p| {
        p.cmd(format!(
            "python3 -m http.server {port} --bind 127.0.0.1 --directory www"
        ))
        .starttime(0)
        .stopsignal("INT")
        .readiness(|b| {
            b.entry("http", format!("http://127.0.0.1:{port}/ok"))
                .entry("interval", "100ms")
        })
        .liveness(|b| {
            b.entry("http", format!("http://localhost:{port}/ok"))
                .entry("interval", "200ms")
                .entry("threshold", 2)
        })
    }));
    // Before the directory exists, nothing answers 200: the gate holds.
    std::fs::create_dir(d.sb.path("www")).expect("mkdir www");
    d.sb.write("www/ok", "ok");
    let pid = d.running_pid("web");
    d.wait_until("the liveness check to pass", |d| {
        d.must_row("web")["healthy"] == Value::Bool(true)
    });
    std::fs::remove_file(d.sb.path("www/ok")).expect("rm www/ok");
    let row = wait_some("a liveness restart", LONG, || {
        let row = d.must_row("web");
        (row["restarts"].as_u64() >= Some(1)).then_some(row)
    });
    assert_ne!(row["pid"].as_u64(), Some(u64::from(pid)), "{row}");
    wait_for("the event log to say why", LONG, || {
        d.sb.read("events.log")
            .contains("web: RUNNING -> STOPPING (liveness check failed 2 times in a row: HTTP 404)")
    });
    wait_for("the old server to be gone", LONG, || !pid_alive(pid));
}

#[test]
fn an_exec_check_is_killed_at_its_timeout_and_the_process_restarted() {
    let d = Daemon::start(Config::new().program("worker", |p| {
        p.cmd("sleep 100").starttime(0).liveness(|b| {
            b.entry("exec", ["sh", "-c", "echo $$ >> checks; exec sleep 30"])
                .entry("timeout", "300ms")
                .entry("threshold", 1)
        })
    }));
    let first = d.running_pid("worker");
    let row = wait_some("a liveness restart", LONG, || {
        let row = d.must_row("worker");
        (row["restarts"].as_u64() >= Some(1)).then_some(row)
    });
    assert_eq!(row["check"], "liveness: timed out after 300ms", "{row}");
    let check: u32 =
        d.sb.read("checks")
            .lines()
            .next()
            .and_then(|l| l.parse().ok())
            .expect("the check wrote its pid");
    wait_for("the timed-out check to be killed", LONG, || {
        !pid_alive(check)
    });
    wait_for("the first worker to be gone", LONG, || !pid_alive(first));
}

#[test]
fn an_exec_readiness_check_passes_on_exit_0() {
    let d = Daemon::start(Config::new().program("app", |p| {
        p.cmd("sleep 100")
            .starttime(0)
            .readiness(|b| b.entry("exec", "test -e flag").entry("interval", "100ms"))
    }));
    // The check runs in the program's workingdir: the daemon's, the sandbox.
    let row = d.must_row("app");
    assert_eq!(row["state"], "STARTING", "{row}");
    assert_eq!(row["check"], "readiness: exit code 1", "{row}");
    d.sb.write("flag", "");
    let row = d.wait_state("app", "RUNNING");
    assert_eq!(row["ready"], Value::Bool(true), "{row}");
}

#[test]
fn a_log_readiness_passes_on_a_matching_line() {
    let d = Daemon::start(Config::new().program("svc", |p| {
        p.cmd([
            "sh",
            "-c",
            "echo booting; sleep 1; echo 'server ready'; exec sleep 100",
        ])
        .starttime(0)
        .readiness(|b| b.entry("log", "ready$"))
    }));
    let spawned = Instant::now();
    assert_eq!(d.state("svc"), "STARTING");
    d.wait_state("svc", "RUNNING");
    assert!(
        spawned.elapsed() >= Duration::from_millis(800),
        "RUNNING before the line was printed"
    );
}

#[test]
fn a_log_readiness_that_never_matches_backs_off() {
    let d = Daemon::start(Config::new().program("svc", |p| {
        p.cmd(["sh", "-c", "echo booting; exec sleep 100"])
            .starttime(0)
            .stoptime(1)
            .readiness(|b| b.entry("log", "never").entry("deadline", "1s"))
    }));
    let row = d.wait_state("svc", "BACKOFF");
    assert!(
        row["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("not ready within 1s (last check: no output line matched \"never\")"),
        "{row}"
    );
}

#[test]
fn a_tcp_liveness_check_passes_against_a_listener() {
    let port = free_port();
    let d = Daemon::start(Config::new().program("db", |p| {
        p.cmd(listener_cmd(port, 0.0))
            .starttime(0)
            .readiness(tcp(port, "100ms"))
            .liveness(tcp(port, "200ms"))
    }));
    let pid = d.running_pid("db");
    d.wait_until("the tcp liveness check to pass", |d| {
        d.must_row("db")["healthy"] == Value::Bool(true)
    });
    // Several more rounds, and still the same process.
    std::thread::sleep(Duration::from_millis(600));
    let row = d.must_row("db");
    assert_eq!(row["pid"].as_u64(), Some(u64::from(pid)), "{row}");
    assert_eq!(row["healthy"], Value::Bool(true), "{row}");
    assert_eq!(row["restarts"], 0, "{row}");
}

#[test]
fn adding_checks_by_reload_applies_in_place() {
    let plain = |p: crate::harness::Program| p.cmd("sleep 100").starttime(0);
    let d = Daemon::start(Config::new().program("app", plain));
    let pid = d.running_pid("app");
    let row = d.must_row("app");
    for key in ["ready", "healthy", "check"] {
        assert_eq!(*field(&row, key), Value::Null, "null without checks: {row}");
    }
    let port = free_port();
    d.sb.write_config(Config::new().program("app", |p| {
        plain(p)
            .readiness(tcp(port, "100ms"))
            .liveness(|b| b.entry("exec", "true").entry("interval", "200ms"))
    }));
    d.ok(&["reload"]);
    d.wait_until("the new liveness check to pass", |d| {
        d.must_row("app")["healthy"] == Value::Bool(true)
    });
    let row = d.must_row("app");
    assert_eq!(row["state"], "RUNNING", "{row}");
    assert_eq!(
        row["pid"].as_u64(),
        Some(u64::from(pid)),
        "not restarted: {row}"
    );
    assert_eq!(row["ready"], Value::Bool(true), "{row}");
}
