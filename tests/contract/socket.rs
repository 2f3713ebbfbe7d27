//! Control socket safety: owner-only mode, malformed and oversized requests, and slow
//! clients that must not delay anyone else.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Daemon, program};

fn daemon() -> Daemon {
    Daemon::start(&program("a", "    cmd \"sleep 3600\"\n    starttime 0"))
}

/// Reads one reply line (bounded).
fn reply(stream: &UnixStream) -> Value {
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .expect("a reply line");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("reply is not JSON ({e}): {line:?}"))
}

/// Whether the daemon closed the connection: reads until EOF or an error (bounded).
fn closed_within(stream: &mut UnixStream, timeout: Duration) -> bool {
    stream.set_read_timeout(Some(timeout)).expect("timeout");
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + timeout;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                return false;
            }
            Err(_) => return true,
        }
        if Instant::now() >= deadline {
            return false;
        }
    }
}

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
        let r = reply(&s);
        assert_eq!(r["type"], "error", "{bad:?} → {r}");
    }
    // A good request on a raw connection still works, and so does the client.
    let mut s = d.connect();
    s.write_all(b"{\"version\":1,\"command\":\"status\"}\n")
        .expect("write");
    let r = reply(&s);
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
    let r = reply(&s);
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
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod")
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
