//! The client commands against a fake daemon: what they send, what they print, and the
//! contract's exit statuses.

use crate::client_fake::*;
use serde_json::json;

fn run(daemon: &FakeDaemon, args: &[&str]) -> std::process::Output {
    taskmaster(args, &daemon.socket, &daemon.dir, "")
}

#[test]
fn status_prints_an_aligned_table_in_natural_order() {
    let mut exited = row("web:2", "EXITED");
    exited["exit_code"] = json!(1);
    exited["expected"] = json!(false);
    let mut fatal = row("db", "FATAL");
    fatal["reason"] = json!("spawn error: No such file or directory");
    let daemon = FakeDaemon::serve(vec![Exchange::reply(json!({
        "type": "status",
        "processes": [running("web:10", 4242, 3723.4), exited, fatal],
    }))]);
    let out = run(&daemon, &["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "db       FATAL      -          spawn error: No such file or directory\n\
         web:2    EXITED     -          exited 1 (unexpected)\n\
         web:10   RUNNING    pid 4242   uptime 1:02:03\n"
    );
    assert_eq!(
        daemon.requests(),
        [json!({"version": 1, "command": "status", "names": []})]
    );
}

#[test]
fn status_json_is_the_contract_array() {
    let daemon = FakeDaemon::serve(vec![Exchange::reply(json!({
        "type": "status",
        "processes": [running("web:10", 7, 1.5), row("web:9", "STOPPED")],
    }))]);
    let out = run(&daemon, &["status", "web", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON stdout");
    let rows = rows.as_array().expect("an array");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["name"], "web:9");
    assert_eq!(rows[0]["pid"], serde_json::Value::Null);
    assert_eq!(rows[1]["state"], "RUNNING");
    assert_eq!(rows[1]["pid"], 7);
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
        assert!(rows[0].get(key).is_some(), "missing {key}");
    }
    assert_eq!(daemon.requests()[0]["names"], json!(["web"]));
}

#[test]
fn unknown_name_is_exit_1_with_the_daemons_message() {
    let daemon = FakeDaemon::serve(vec![Exchange::reply(error(
        "unknown_name",
        "no program or process named `nope`",
    ))]);
    let out = run(&daemon, &["status", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no program or process named `nope`"));
    assert!(stdout(&out).is_empty());
}

#[test]
fn unreachable_daemon_is_exit_3_naming_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    // No file at all.
    let missing = dir.path().join("missing.sock");
    // A plain file where the socket should be.
    let plain = dir.path().join("plain.sock");
    std::fs::write(&plain, "").unwrap();
    // A stale socket file nobody listens on.
    let stale = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    for socket in [&missing, &plain, &stale] {
        for args in [
            &["status"][..],
            &["stop", "all"],
            &["reload"],
            &["logs", "web"],
        ] {
            let out = taskmaster(args, socket, dir.path(), "");
            assert_eq!(out.status.code(), Some(3), "{args:?} {}", socket.display());
            let err = stderr(&out);
            assert!(err.contains(&socket.display().to_string()), "{err}");
            assert!(err.contains("taskmaster run CONFIG"), "{err}");
        }
    }
}

#[test]
fn start_prints_each_state_and_fails_when_one_did_not_start() {
    let mut fatal = row("web:1", "FATAL");
    fatal["reason"] = json!("exited too quickly");
    let daemon = FakeDaemon::serve(vec![Exchange::reply(json!({
        "type": "done",
        "processes": [running("web:0", 11, 1.0), fatal],
        "failed": ["web:1"],
    }))]);
    let out = run(&daemon, &["start", "web"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.starts_with("web:0   RUNNING"), "{text}");
    assert!(text.contains("web:1   FATAL"), "{text}");
    assert!(
        stderr(&out).contains("web:1 did not start: FATAL (exited too quickly)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        daemon.requests(),
        [json!({"version": 1, "command": "start", "names": ["web"]})]
    );
}

#[test]
fn stop_and_restart_succeed_with_exit_0() {
    let daemon = FakeDaemon::serve(vec![
        Exchange::reply(
            json!({"type": "done", "processes": [row("web", "STOPPED")], "failed": []}),
        ),
        Exchange::reply(
            json!({"type": "done", "processes": [running("web", 5, 0.0)], "failed": []}),
        ),
    ]);
    let out = run(&daemon, &["stop", "all"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "web   STOPPED    -\n");
    let out = run(&daemon, &["restart", "web"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "web   RUNNING    pid 5   uptime 0:00:00\n");
    let requests = daemon.requests();
    assert_eq!(requests[0]["command"], "stop");
    assert_eq!(requests[0]["names"], json!(["all"]));
    assert_eq!(requests[1]["command"], "restart");
}

#[test]
fn reload_rejected_prints_the_diagnostics_and_exits_1() {
    let mut reply = error(
        "invalid_config",
        "taskmaster.kdl is invalid; nothing changed",
    );
    reply["diagnostics"] = json!("  × `numprocs` must be at least 1\n   ╭─[taskmaster.kdl:3:14]");
    let daemon = FakeDaemon::serve(vec![Exchange::reply(reply)]);
    let out = run(&daemon, &["reload"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("nothing changed"), "{err}");
    assert!(err.contains("`numprocs` must be at least 1"), "{err}");
    assert!(err.contains("taskmaster.kdl:3:14"), "{err}");
}

#[test]
fn reload_applied_prints_the_diff() {
    let daemon = FakeDaemon::serve(vec![Exchange::reply(
        json!({"type": "reloaded", "diff": some_diff(), "warnings": "warning: umask 022 is decimal"}),
    )]);
    let out = run(&daemon, &["reload"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("web") && text.contains("worker"), "{text}");
    assert!(stderr(&out).contains("umask 022 is decimal"));
    assert_eq!(
        daemon.requests()[0],
        json!({"version": 1, "command": "reload"})
    );
}

#[test]
fn shutdown_is_exit_0() {
    let daemon = FakeDaemon::serve(vec![Exchange::reply(json!({"type": "shut_down"}))]);
    let out = run(&daemon, &["shutdown"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(daemon.requests()[0]["command"], "shutdown");
}

#[test]
fn a_connection_dropped_mid_answer_is_exit_3() {
    let daemon = FakeDaemon::serve(vec![Exchange {
        replies: vec![],
        tail: "{\"type\":\"sta",
    }]);
    let out = run(&daemon, &["status"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("closed the connection"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn logs_are_written_raw() {
    let daemon = FakeDaemon::serve(vec![Exchange::replies(vec![
        json!({"type": "log", "process": null, "text": "hello\n"}),
        json!({"type": "log", "process": null, "text": "wor"}),
        json!({"type": "log", "process": null, "text": "ld\n"}),
        json!({"type": "log_end"}),
    ])]);
    let out = run(&daemon, &["logs", "web", "-n", "2", "--stderr"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello\nworld\n");
    assert_eq!(
        daemon.requests()[0],
        json!({"version": 1, "command": "logs", "name": "web", "stderr": true, "lines": 2, "follow": false})
    );
}

#[test]
fn logs_of_several_processes_are_prefixed() {
    let daemon = FakeDaemon::serve(vec![Exchange::replies(vec![
        json!({"type": "log", "process": "web:0", "text": "a\nb\n"}),
        json!({"type": "log", "process": "web:1", "text": "c\n"}),
        json!({"type": "log_end"}),
    ])]);
    let out = run(&daemon, &["logs", "web"]);
    assert_eq!(stdout(&out), "web:0 | a\nweb:0 | b\nweb:1 | c\n");
}

#[test]
fn logs_follow_ends_when_the_daemon_goes() {
    let daemon = FakeDaemon::serve(vec![Exchange::replies(vec![json!(
        {"type": "log", "process": null, "text": "tick\n"}
    )])]);
    let out = run(&daemon, &["logs", "web", "-f"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "tick\n");
    assert_eq!(daemon.requests()[0]["follow"], true);
}

#[test]
fn logs_without_end_marker_is_a_dropped_connection() {
    let daemon = FakeDaemon::serve(vec![Exchange::replies(vec![json!(
        {"type": "log", "process": null, "text": "partial\n"}
    )])]);
    let out = run(&daemon, &["logs", "web"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stdout(&out), "partial\n");
}

#[test]
fn logs_unknown_name_is_exit_1() {
    let daemon = FakeDaemon::serve(vec![Exchange::reply(error("unknown_name", "no `x`"))]);
    let out = run(&daemon, &["logs", "x"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn online_diff_exit_statuses() {
    let daemon = FakeDaemon::serve(vec![
        Exchange::reply(json!({"type": "diff", "diff": empty_diff(), "warnings": ""})),
        Exchange::reply(json!({"type": "diff", "diff": some_diff(), "warnings": ""})),
        Exchange::reply(json!({"type": "diff", "diff": some_diff(), "warnings": ""})),
        Exchange::reply(error("invalid_config", "new.kdl is invalid")),
        Exchange::reply(error("unreadable", "cannot read new.kdl")),
    ]);
    let out = run(&daemon, &["diff"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(&daemon, &["diff", "new.kdl"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("worker"));
    let out = run(&daemon, &["diff", "new.kdl", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let diff: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON diff");
    assert_eq!(diff["programs"][1]["action"], "added");
    let out = run(&daemon, &["diff", "new.kdl"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("new.kdl is invalid"));
    let out = run(&daemon, &["diff", "new.kdl"]);
    assert_eq!(out.status.code(), Some(2));
    let dir = daemon.dir.clone();
    let requests = daemon.requests();
    assert_eq!(
        requests[0],
        json!({"version": 1, "command": "diff", "config": null})
    );
    // The daemon has its own working folder: the client sends an absolute path.
    assert_eq!(
        requests[1]["config"],
        json!(dir.join("new.kdl").display().to_string())
    );
    let out = taskmaster(&["diff"], &dir.join("gone.sock"), &std::env::temp_dir(), "");
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn a_daemon_hanging_up_without_reading_is_exit_3_not_a_signal() {
    // As the daemon does to a peer of another uid: accept, then close at once.
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("rude.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let server = std::thread::spawn(move || {
        for _ in 0..3 {
            let (stream, _) = listener.accept().expect("accept");
            drop(stream);
        }
    });
    for _ in 0..3 {
        let out = taskmaster(&["status"], &socket, dir.path(), "");
        // SIGPIPE would end the client with no exit code at all.
        assert_eq!(out.status.code(), Some(3), "{out:?}");
        assert!(
            stderr(&out).contains("closed the connection"),
            "{}",
            stderr(&out)
        );
    }
    server.join().unwrap();
}
