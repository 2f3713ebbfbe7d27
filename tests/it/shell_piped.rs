//! `taskmaster shell` with stdin piped: one command per line, every line runs, and the exit
//! status says whether any failed.

use crate::client_fake::*;
use serde_json::json;

fn status_reply() -> Exchange {
    Exchange::reply(json!({"type": "status", "processes": [running("web", 9, 5.0)]}))
}

#[test]
fn piped_commands_run_in_order_and_a_failure_makes_exit_1() {
    let daemon = FakeDaemon::serve(vec![
        status_reply(),
        Exchange::reply(error("unknown_name", "no program or process named `nope`")),
        status_reply(),
    ]);
    let script = "status\n\n   # a comment\nstart nope\nstatus web\n";
    let out = taskmaster(&["shell"], &daemon.socket, &daemon.dir, script);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout(&out).matches("web   RUNNING    pid 9").count(), 2);
    assert!(stderr(&out).contains("named `nope`"));
    let requests = daemon.requests();
    let commands: Vec<&str> = requests
        .iter()
        .map(|r| r["command"].as_str().unwrap())
        .collect();
    assert_eq!(commands, ["status", "start", "status"]);
    assert_eq!(requests[2]["names"], json!(["web"]));
}

#[test]
fn all_successful_is_exit_0_and_quit_stops_reading() {
    let daemon = FakeDaemon::serve(vec![status_reply()]);
    let out = taskmaster(
        &["shell"],
        &daemon.socket,
        &daemon.dir,
        "status\nquit\nstatus\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(daemon.requests().len(), 1);
}

#[test]
fn usage_errors_and_refused_commands_count_as_failures() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("none.sock");
    for line in ["start\n", "run x.kdl\n", "frobnicate\n", "status 'web\n"] {
        let out = taskmaster(&["shell"], &socket, dir.path(), line);
        assert_eq!(out.status.code(), Some(1), "{line:?}: {}", stderr(&out));
    }
    // help needs no daemon and is a success.
    let out = taskmaster(&["shell"], &socket, dir.path(), "help\nhelp logs\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("status") && text.contains("exit, quit"),
        "{text}"
    );
    assert!(text.contains("--follow"), "{text}");
}

#[test]
fn a_daemon_gone_mid_session_fails_each_command_but_not_the_shell() {
    // One answer, then the fake stops listening and removes its socket.
    let daemon = FakeDaemon::serve(vec![status_reply()]);
    let socket = daemon.socket.clone();
    let dir = daemon.dir.clone();
    let out = taskmaster(&["shell"], &socket, &dir, "status\nstatus\nstop all\n");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out).matches("RUNNING").count(), 1);
    // Each later command says so, separately ("cannot reach", or "closed the connection"
    // when it raced the fake's listener closing).
    assert_eq!(
        stderr(&out).matches("error: ").count(),
        2,
        "{}",
        stderr(&out)
    );
    assert_eq!(daemon.requests().len(), 1);
}

#[test]
fn socket_given_on_a_line_wins_over_the_shells() {
    let daemon = FakeDaemon::serve(vec![status_reply()]);
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong.sock");
    let line = format!("status --socket {}\n", daemon.socket.display());
    let out = taskmaster(&["shell"], &wrong, dir.path(), &line);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(daemon.requests().len(), 1);
}
