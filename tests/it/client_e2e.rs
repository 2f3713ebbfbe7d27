//! The client commands against the real daemon (`taskmaster run`), end to end: the socket
//! found through `./taskmaster.kdl`, status, stop/start, logs, a rejected reload, the piped
//! shell, and shutdown.

use crate::harness::{Config, Daemon, LONG, Sandbox, text};

fn config() -> Config {
    Config::new()
        .program("web", |p| {
            p.cmd("sh -c 'echo hello from web; exec sleep 300'")
                .numprocs(2)
                .starttime(0)
                .stoptime(2)
        })
        .program("bad", |p| {
            p.cmd("/nonexistent/taskmaster-e2e-program")
                .startretries(0)
                .autostart(false)
        })
}

/// `taskmaster ARGS` in the daemon's folder, finding the socket through `./taskmaster.kdl`.
fn client(sb: &Sandbox, args: &[&str], stdin: &str) -> std::process::Output {
    sb.taskmaster_input(args, Some(stdin.as_bytes()))
}

#[test]
fn client_commands_against_the_real_daemon() {
    let daemon = Daemon::start(config());
    let sb = &daemon.sb;
    daemon.wait_until("both web processes run", |_| {
        text(&client(sb, &["status"], "").stdout)
            .matches("RUNNING")
            .count()
            == 2
    });

    let out = client(sb, &["status", "--json"], "");
    assert_eq!(out.status.code(), Some(0));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let names: Vec<&str> = rows
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["bad", "web:0", "web:1"]);

    let out = client(sb, &["status", "nope"], "");
    assert_eq!(out.status.code(), Some(1));

    let out = client(sb, &["logs", "web"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let logs = text(&out.stdout);
    assert!(logs.contains("web:0 | hello from web"), "{logs}");
    assert!(logs.contains("web:1 | hello from web"), "{logs}");

    let out = client(sb, &["stop", "web:1"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("web:1   STOPPED"),
        "{}",
        text(&out.stdout)
    );

    let out = client(sb, &["start", "web"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).matches("RUNNING").count(), 2);

    let out = client(sb, &["start", "bad"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("FATAL"));
    assert!(text(&out.stderr).contains("bad did not start"));

    // An invalid config: the client still finds the socket in it, and the daemon's
    // diagnostics come back; nothing changes.
    sb.write_config(config().line("program \"extra\" { numprocs 0 }"));
    let out = client(sb, &["reload"], "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("numprocs"),
        "{}",
        text(&out.stderr)
    );
    let out = client(sb, &["diff"], "");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));

    sb.write_config(config());
    let out = client(sb, &["shell"], "status web\nrestart web:0\nstop nope\n");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("web:0   RUNNING"));

    let out = client(sb, &["shutdown"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(daemon.wait_exit(LONG), Some(0));
    assert!(!daemon.socket().exists(), "socket file left behind");
    let out = client(sb, &["status"], "");
    assert_eq!(out.status.code(), Some(3));
}
