//! The client commands: start/stop/restart of a program, a process or `all`; unknown names;
//! shutdown; unreachable daemon (exit 3); how the client finds the socket.

use std::os::unix::net::UnixListener;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{
    BIN, Daemon, LONG, Sandbox, assert_exit, pid_alive, program, run_bounded, text,
};

fn web_and_db() -> Daemon {
    Daemon::start(&format!(
        "{}{}",
        program(
            "web",
            "    cmd \"sleep 3600\"\n    numprocs 2\n    starttime 0\n    stoptime 5"
        ),
        program(
            "db",
            "    cmd \"sleep 3600\"\n    starttime 0\n    stoptime 5"
        ),
    ))
}

fn pids(d: &Daemon) -> [u32; 3] {
    [
        d.running_pid("web:0"),
        d.running_pid("web:1"),
        d.running_pid("db"),
    ]
}

#[test]
fn stop_and_start_one_process() {
    let d = web_and_db();
    let [w0, w1, db] = pids(&d);
    d.ok(&["stop", "web:1"]);
    let row = d.must_row("web:1");
    assert_eq!(row["state"], "STOPPED", "stop waits until STOPPED: {row}");
    assert_eq!(row["pid"], Value::Null);
    assert!(!pid_alive(w1), "the process is gone once stop returns");
    assert_eq!(d.pid_of("web:0"), w0, "siblings untouched");
    assert_eq!(d.pid_of("db"), db);
    d.ok(&["start", "web:1"]);
    let row = d.must_row("web:1");
    assert_eq!(row["state"], "RUNNING", "{row}");
    assert_ne!(row["pid"].as_u64(), Some(u64::from(w1)));
}

#[test]
fn restart_a_program_restarts_all_its_processes_only() {
    let d = web_and_db();
    let [w0, w1, db] = pids(&d);
    d.ok(&["restart", "web"]);
    for (name, old) in [("web:0", w0), ("web:1", w1)] {
        let row = d.must_row(name);
        assert_eq!(row["state"], "RUNNING", "{row}");
        assert_ne!(
            row["pid"].as_u64(),
            Some(u64::from(old)),
            "{name} got a new process"
        );
        assert!(!pid_alive(old));
    }
    assert_eq!(d.pid_of("db"), db);
}

#[test]
fn stop_all_start_all_restart_all() {
    let d = web_and_db();
    let before = pids(&d);
    d.ok(&["stop", "all"]);
    for row in d.status_json() {
        assert_eq!(row["state"], "STOPPED", "{row}");
        assert_eq!(row["pid"], Value::Null, "{row}");
    }
    for pid in before {
        assert!(!pid_alive(pid));
    }
    d.ok(&["start", "all"]);
    let started = pids(&d);
    d.ok(&["restart", "all"]);
    let restarted = pids(&d);
    for (a, b) in started.iter().zip(restarted.iter()) {
        assert_ne!(a, b, "restart all gives new processes");
    }
}

#[test]
fn start_of_a_running_process_keeps_it() {
    let d = web_and_db();
    let db = d.running_pid("db");
    let out = d.ctl(&["start", "db"]);
    assert_exit(&out, 0, "start of a RUNNING process");
    assert_eq!(d.pid_of("db"), db);
}

#[test]
fn unknown_name_exits_1_and_changes_nothing() {
    let d = web_and_db();
    let before = pids(&d);
    for args in [
        vec!["stop", "web", "nope"],
        vec!["restart", "db", "web:7"],
        vec!["start", "nope"],
        vec!["status", "nope"],
        vec!["logs", "nope"],
    ] {
        let out = d.ctl(&args);
        assert_exit(&out, 1, &args.join(" "));
    }
    assert_eq!(pids(&d), before, "nothing changed");
    for row in d.status_json() {
        assert_eq!(row["state"], "RUNNING", "{row}");
    }
}

#[test]
fn status_of_named_processes_only() {
    let d = web_and_db();
    pids(&d);
    let out = d.ok(&["status", "--json", "db", "web:1"]);
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    let mut names: Vec<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["db", "web:1"]);
    let out = d.ok(&["status"]);
    let table = text(&out.stdout);
    for name in ["web:0", "web:1", "db", "RUNNING"] {
        assert!(table.contains(name), "human status shows {name}: {table}");
    }
}

#[test]
fn shutdown_stops_everything_and_the_daemon_exits() {
    let d = Daemon::start(&format!(
        "{}{}",
        program(
            "web",
            "    cmd \"sleep 3600\"\n    numprocs 3\n    starttime 0"
        ),
        program(
            "family",
            "    cmd \"sh\" \"-c\" \"sleep 3600 & echo $! > grandchild; wait\"\n    starttime 0"
        ),
    ));
    let all: Vec<u32> = ["web:0", "web:1", "web:2", "family"]
        .iter()
        .map(|n| d.running_pid(n))
        .collect();
    let gc: u32 = crate::harness::wait_some("grandchild pid", LONG, || {
        d.sb.read("grandchild").trim().parse().ok()
    });
    let out = d.ctl(&["shutdown"]);
    assert_exit(&out, 0, "shutdown");
    assert_eq!(d.wait_exit(LONG), Some(0), "{}", d.daemon_output());
    for pid in all {
        assert!(!pid_alive(pid), "supervised pid {pid} survived shutdown");
    }
    // The grandchild got the group's SIGTERM; it may take a moment to die, but die it must.
    crate::harness::wait_for("the grandchild to die", Duration::from_secs(2), || {
        !pid_alive(gc)
    });
    assert!(!d.socket().exists(), "socket file removed");
}

#[test]
fn unreachable_daemon_exits_3() {
    let sb = Sandbox::new();
    let missing = sb.path("none.sock");
    // A socket file nobody listens on.
    let stale = sb.path("stale.sock");
    drop(UnixListener::bind(&stale).expect("bind"));
    for sock in [&missing, &stale] {
        let sock = sock.to_str().unwrap();
        for args in [
            vec!["status"],
            vec!["status", "--json"],
            vec!["start", "x"],
            vec!["stop", "all"],
            vec!["restart", "x"],
            vec!["reload"],
            vec!["shutdown"],
            vec!["logs", "x"],
            vec!["diff"],
        ] {
            let mut cmd = Command::new(BIN);
            cmd.args(&args)
                .arg("--socket")
                .arg(sock)
                .current_dir(sb.root())
                .env_remove("TASKMASTER_SOCKET");
            let out = run_bounded(cmd, sb.root(), Duration::from_secs(30), None);
            assert_exit(&out, 3, &format!("{} against {sock}", args.join(" ")));
        }
    }
}

#[test]
fn client_finds_the_socket_by_env_and_by_local_config() {
    let d = web_and_db();
    pids(&d);
    // TASKMASTER_SOCKET
    let mut cmd = Command::new(BIN);
    cmd.args(["status", "--json"])
        .env("TASKMASTER_SOCKET", d.socket())
        .current_dir("/");
    let out = run_bounded(cmd, d.sb.root(), LONG, None);
    assert_exit(&out, 0, "status via TASKMASTER_SOCKET");
    // ./taskmaster.kdl's socket setting, relative to that file.
    let out = d.sb.taskmaster(&["status", "--json"]);
    assert_exit(&out, 0, "status via ./taskmaster.kdl");
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(rows.len(), 3);
}

#[test]
fn default_socket_is_in_xdg_runtime_dir() {
    let sb = Sandbox::new();
    let xdg = sb.path("xdg");
    std::fs::create_dir(&xdg).expect("mkdir");
    // No `taskmaster { socket … }`: both sides fall back to $XDG_RUNTIME_DIR.
    sb.write(
        "taskmaster.kdl",
        &program("a", "    cmd \"sleep 3600\"\n    starttime 0"),
    );
    let xdg_str = xdg.to_str().expect("utf-8 path").to_owned();
    let d = Daemon::spawn_in(sb, &[("XDG_RUNTIME_DIR", &xdg_str)]);
    let status = || {
        let mut cmd = Command::new(BIN);
        cmd.args(["status", "--json"])
            .env("XDG_RUNTIME_DIR", &xdg_str)
            .env_remove("TASKMASTER_SOCKET")
            .current_dir("/");
        run_bounded(cmd, d.sb.root(), LONG, None)
    };
    crate::harness::wait_for(
        "the daemon on $XDG_RUNTIME_DIR/taskmaster.sock",
        LONG,
        || status().status.code() == Some(0),
    );
    assert!(xdg.join("taskmaster.sock").exists());
    let rows: Vec<Value> = serde_json::from_slice(&status().stdout).expect("json");
    assert_eq!(rows.len(), 1);
    // Record the child for cleanup, then stop the daemon through the same socket.
    let mut cmd = Command::new(BIN);
    cmd.arg("shutdown")
        .env("XDG_RUNTIME_DIR", &xdg_str)
        .current_dir("/");
    assert_exit(&run_bounded(cmd, d.sb.root(), LONG, None), 0, "shutdown");
    assert_eq!(d.wait_exit(LONG), Some(0));
}

#[test]
fn restart_of_a_stopped_process_starts_it() {
    let d = web_and_db();
    pids(&d);
    d.ok(&["stop", "db"]);
    d.ok(&["restart", "db"]);
    let row = d.must_row("db");
    assert_eq!(row["state"], "RUNNING", "{row}");
}
