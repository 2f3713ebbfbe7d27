//! Control socket safety: owner-only mode, malformed and oversized requests, and slow
//! clients that must not delay anyone else.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use crate::harness::{Daemon, closed_within, program, read_reply};

fn daemon() -> Daemon {
    Daemon::start(&program("a", "    cmd \"sleep 3600\"\n    starttime 0"))
}

/// Whether the daemon closed the connection: reads until EOF or an error (bounded).

#[test]
fn socket_is_owner_only() {
    let d = daemon();
    let mode = std::fs::metadata(d.socket())
        .expect("stat socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "socket mode {:o}", mode & 0o777);
}

#[test]
fn malformed_requests_get_an_error_and_the_daemon_keeps_serving() {
    let d = daemon();
    let pid = d.running_pid("a");
    for bad in [
        "this is not json\n",
        "{\"version\":1,\"command\":\"fly\"}\n",
        "{\"version\":999,\"command\":\"status\"}\n",
        "[1,2,3]\n",
    ] {
        let mut s = d.connect();
        s.write_all(bad.as_bytes()).expect("write");
        let r = read_reply(&s);
        assert_eq!(r["type"], "error", "{bad:?} → {r}");
    }
    // A good request on a raw connection still works, and so does the client.
    let mut s = d.connect();
    s.write_all(b"{\"version\":1,\"command\":\"status\"}\n")
        .expect("write");
    let r = read_reply(&s);
    assert_eq!(r["type"], "status", "{r}");
    assert_eq!(d.pid_of("a"), pid);
}

#[test]
fn oversized_request_gets_an_error_and_is_closed() {
    let d = daemon();
    let mut s = d.connect();
    let big = format!(
        "{{\"version\":1,\"command\":\"status\",\"names\":[\"{}\"]}}\n",
        "x".repeat(70 * 1024)
    );
    // The daemon may close before reading it all; a write error is then fine.
    let _ = s.write_all(big.as_bytes());
    let r = read_reply(&s);
    assert_eq!(r["type"], "error", "{r}");
    assert!(
        closed_within(&mut s, Duration::from_secs(10)),
        "connection closed after an oversized request"
    );
    assert_eq!(d.must_row("a")["state"], "RUNNING");
}

#[test]
fn silent_and_slow_clients_are_dropped_without_delaying_others() {
    let d = daemon();
    d.running_pid("a");
    let t0 = Instant::now();
    let mut silent = d.connect();
    let mut partial = d.connect();
    partial
        .write_all(b"{\"version\":1,\"comm")
        .expect("write half a request");
    // While both hang, other clients are answered promptly.
    for _ in 0..3 {
        let t = Instant::now();
        d.ok(&["status", "--json"]);
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "status took {:?} while a client was silent",
            t.elapsed()
        );
    }
    assert!(
        closed_within(&mut silent, Duration::from_secs(15)),
        "a silent client is disconnected"
    );
    assert!(
        closed_within(&mut partial, Duration::from_secs(5)),
        "a client that sent half a request is disconnected"
    );
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_secs(4),
        "disconnected after about 5 s, not at once ({waited:?})"
    );
    assert!(waited <= Duration::from_secs(15), "{waited:?}");
}

#[test]
fn a_peer_of_another_uid_is_refused() {
    use std::os::unix::process::CommandExt;
    if !nix::unistd::getuid().is_root() {
        eprintln!("skipped: needs root to connect as another uid");
        return;
    }
    let d = daemon();
    d.running_pid("a");
    // Open the way for uid 65534 on purpose, so only the daemon's peer check stands.
    let open = |p: &std::path::Path, mode| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
    };
    open(d.sb.root(), 0o755);
    open(&d.socket(), 0o666);
    let as_nobody = |args: &[&str]| {
        let mut cmd = std::process::Command::new(crate::harness::BIN);
        cmd.args(args).current_dir("/").uid(65534).gid(65534);
        crate::harness::run_bounded(cmd, d.sb.root(), Duration::from_secs(30), None)
    };
    if as_nobody(&["--version"]).status.code() != Some(0) {
        eprintln!("skipped: uid 65534 cannot run the binary here");
        return;
    }
    let sock = d.socket();
    let out = as_nobody(&["status", "--json", "--socket", sock.to_str().unwrap()]);
    assert_ne!(
        out.status.code(),
        Some(0),
        "a client of another uid must be refused: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("\"a\""));
    // The owner is still served.
    assert_eq!(d.must_row("a")["state"], "RUNNING");
}

/// `taskmaster ARGS` in the sandbox with `env` set (TASKMASTER_SOCKET removed otherwise).
fn in_sandbox(
    sb: &crate::harness::Sandbox,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut cmd = std::process::Command::new(crate::harness::BIN);
    cmd.args(args)
        .current_dir(sb.root())
        .env_remove("TASKMASTER_SOCKET")
        .envs(env.iter().copied());
    crate::harness::run_bounded(cmd, sb.root(), Duration::from_secs(60), None)
}

#[test]
fn taskmaster_socket_wins_over_the_config_for_run_and_clients_alike() {
    use crate::harness::{Sandbox, assert_exit, wait_for};
    let sb = Sandbox::new();
    sb.write_config(&program("a", "    cmd \"sleep 3600\"\n    starttime 0"));
    let env_sock = sb.path("env.sock");
    let env_sock = env_sock.to_str().expect("utf-8").to_owned();
    let d = Daemon::spawn_in(sb, &[("TASKMASTER_SOCKET", &env_sock)]);
    wait_for(
        "the daemon to listen on TASKMASTER_SOCKET",
        crate::harness::LONG,
        || std::path::Path::new(&env_sock).exists() || d.try_exit_status().is_some(),
    );
    assert!(!d.socket().exists(), "run listened on the config's socket");
    let out = in_sandbox(
        &d.sb,
        &["status", "--json"],
        &[("TASKMASTER_SOCKET", &env_sock)],
    );
    assert_exit(&out, 0, "status in the same shell and folder");
    // Without the variable, the config's socket (nobody there) is the one tried.
    let out = in_sandbox(&d.sb, &["status"], &[]);
    assert_exit(&out, 3, "status by the config's socket");
    // --socket beats both; --config names the config to read the socket from.
    let sock = env_sock.as_str();
    let out = in_sandbox(
        &d.sb,
        &["status", "--socket", sock],
        &[("TASKMASTER_SOCKET", "/nope")],
    );
    assert_exit(&out, 0, "--socket first");
    d.sb.write("other/o.kdl", "taskmaster { socket \"../env.sock\" }\n");
    let out = in_sandbox(&d.sb, &["status", "--config", "other/o.kdl"], &[]);
    assert_exit(&out, 0, "--config CONFIG");
    let out = in_sandbox(&d.sb, &["status", "--config", "missing.kdl"], &[]);
    assert_exit(&out, 2, "--config of a missing file");
}

#[test]
fn run_refuses_a_socket_in_a_folder_others_can_write_to() {
    use crate::harness::{Sandbox, assert_exit};
    let sb = Sandbox::new();
    sb.write_config(&program(
        "a",
        "    cmd \"sleep 3600\"\n    autostart #false",
    ));
    let shared = sb.path("shared");
    std::fs::create_dir(&shared).expect("mkdir");
    let chmod = |mode| {
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(mode)).expect("chmod");
    };
    chmod(0o777);
    let sock = shared.join("t.sock");
    let sock = sock.to_str().expect("utf-8");
    let out = in_sandbox(&sb, &["run", "taskmaster.kdl", "--socket", sock], &[]);
    assert_exit(&out, 2, "run in a world-writable folder");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("other users can write"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Sticky, like /tmp, and the path free: fine.
    chmod(0o1777);
    let d = Daemon::spawn_in(sb, &[("TASKMASTER_SOCKET", sock)]);
    crate::harness::wait_for(
        "the daemon in a sticky folder",
        crate::harness::LONG,
        || {
            assert!(d.try_exit_status().is_none(), "{}", d.daemon_output());
            in_sandbox(&d.sb, &["status", "--socket", sock], &[])
                .status
                .code()
                == Some(0)
        },
    );
}

#[test]
fn run_waits_for_no_one_while_another_daemon_takes_the_socket_over() {
    use crate::harness::{Sandbox, assert_exit};
    let sb = Sandbox::new();
    sb.write_config(&program(
        "a",
        "    cmd \"sleep 3600\"\n    autostart #false",
    ));
    // A stale socket, and its lock held as by a daemon in the middle of taking it over.
    drop(std::os::unix::net::UnixListener::bind(sb.socket()).expect("bind"));
    let lock = std::fs::File::create(sb.path("t.sock.lock")).expect("lock file");
    let held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|(_, e)| e)
        .expect("flock");
    let d = Daemon::spawn_in(sb, &[]);
    let code = d.wait_exit(crate::harness::LONG);
    assert_eq!(code, Some(2), "{}", d.daemon_output());
    assert!(
        d.daemon_output().contains("t.sock.lock"),
        "{}",
        d.daemon_output()
    );
    drop(held);
    let out = in_sandbox(&d.sb, &["status"], &[]);
    assert_exit(&out, 3, "nobody serves the socket");
}

#[test]
fn two_daemons_starting_together_on_a_stale_socket_do_not_both_run() {
    use crate::harness::Sandbox;
    for _ in 0..3 {
        let sb = Sandbox::new();
        sb.write_config(&program(
            "a",
            "    cmd \"sleep 3600\"\n    autostart #false",
        ));
        drop(std::os::unix::net::UnixListener::bind(sb.socket()).expect("bind"));
        let sb2 = Sandbox::new();
        let config = sb.config();
        let config = config.to_str().expect("utf-8");
        let a = Daemon::spawn_in(sb, &[]);
        // The second runs the same config, so it aims at the same socket.
        let mut b = std::process::Command::new(crate::harness::BIN);
        b.args(["run", config])
            .current_dir(sb2.root())
            .env_remove("TASKMASTER_SOCKET")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut b = b.spawn().expect("spawn the second daemon");
        // One of the two exits 2 and the other keeps serving.
        let deadline = Instant::now() + crate::harness::LONG;
        let (loser, a_lost) = loop {
            if let Some(status) = b.try_wait().expect("try_wait") {
                break (status, false);
            }
            if let Some(status) = a.try_exit_status() {
                break (status, true);
            }
            assert!(Instant::now() < deadline, "both daemons run on one socket");
            std::thread::sleep(Duration::from_millis(25));
        };
        assert_eq!(loser.code(), Some(2), "the daemon that lost the socket");
        let survivor_alive = if a_lost {
            b.try_wait().ok().flatten().is_none()
        } else {
            a.try_exit_status().is_none()
        };
        assert!(survivor_alive, "the other daemon keeps running");
        let out = in_sandbox(&a.sb, &["status", "--socket", "t.sock"], &[]);
        crate::harness::assert_exit(&out, 0, "the survivor answers");
        if b.try_wait().ok().flatten().is_none() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(b.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = b.wait();
        }
    }
}

#[test]
fn a_config_of_another_user_in_the_current_folder_is_not_followed() {
    use crate::harness::assert_exit;
    if !nix::unistd::getuid().is_root() {
        eprintln!("skipped: needs root to give a file to another uid");
        return;
    }
    let d = daemon();
    d.running_pid("a");
    let xdg = d.sb.path("xdg");
    std::fs::create_dir(&xdg).expect("mkdir");
    let xdg = xdg.to_str().expect("utf-8");
    let env = [("XDG_RUNTIME_DIR", xdg)];
    let out = in_sandbox(&d.sb, &["status"], &env);
    assert_exit(&out, 0, "status by our own ./taskmaster.kdl");
    nix::unistd::chown(
        &d.sb.config(),
        Some(nix::unistd::Uid::from_raw(65534)),
        None,
    )
    .expect("chown");
    let out = in_sandbox(&d.sb, &["status"], &env);
    assert_exit(&out, 3, "status by another user's ./taskmaster.kdl");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("belongs to uid 65534"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
