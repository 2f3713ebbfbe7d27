//! A fake daemon for the client tests: binds a unix socket in a temporary folder, and for
//! each expected connection in turn reads one request line and answers with canned lines.
//! The real binary is then driven against it with `--socket`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long the fake waits for a client to connect (the machine may be loaded).
const ACCEPT_LIMIT: Duration = Duration::from_secs(20);

/// What the fake does on one connection.
pub struct Exchange {
    /// Whole lines to send back (a newline is added to each).
    pub replies: Vec<String>,
    /// Raw bytes sent after the replies, before hanging up (e.g. half a line).
    pub tail: &'static str,
}

impl Exchange {
    pub fn reply(reply: Value) -> Exchange {
        Exchange {
            replies: vec![reply.to_string()],
            tail: "",
        }
    }

    pub fn replies(replies: Vec<Value>) -> Exchange {
        Exchange {
            replies: replies.iter().map(Value::to_string).collect(),
            tail: "",
        }
    }
}

pub struct FakeDaemon {
    _dir: tempfile::TempDir,
    pub socket: PathBuf,
    pub dir: PathBuf,
    server: Option<JoinHandle<Vec<Value>>>,
}

impl FakeDaemon {
    /// Serves `exchanges`, one connection each, in order; then stops listening (and removes
    /// the socket file, so later connections find nothing).
    pub fn serve(exchanges: Vec<Exchange>) -> FakeDaemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("fake.sock");
        let listener = UnixListener::bind(&socket).expect("bind fake socket");
        listener.set_nonblocking(true).expect("nonblocking");
        let path = socket.clone();
        let server = std::thread::spawn(move || {
            let mut requests = Vec::new();
            for exchange in exchanges {
                let deadline = Instant::now() + ACCEPT_LIMIT;
                let stream = loop {
                    match listener.accept() {
                        Ok((stream, _)) => break stream,
                        Err(_) if Instant::now() < deadline => {
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        Err(e) => panic!("no client connected: {e}"),
                    }
                };
                stream.set_nonblocking(false).expect("blocking");
                stream
                    .set_read_timeout(Some(ACCEPT_LIMIT))
                    .expect("read timeout");
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                reader.read_line(&mut line).expect("read request");
                requests.push(serde_json::from_str(&line).expect("request is JSON"));
                let mut stream = stream;
                for reply in &exchange.replies {
                    // The client may have gone (e.g. interrupted): not the fake's problem.
                    let _ = stream.write_all(format!("{reply}\n").as_bytes());
                }
                let _ = stream.write_all(exchange.tail.as_bytes());
            }
            let _ = std::fs::remove_file(&path);
            requests
        });
        FakeDaemon {
            dir: dir.path().to_owned(),
            _dir: dir,
            socket,
            server: Some(server),
        }
    }

    /// The requests received, once every exchange is over.
    pub fn requests(mut self) -> Vec<Value> {
        self.server
            .take()
            .expect("joined once")
            .join()
            .expect("fake daemon thread")
    }
}

/// Runs `taskmaster ARGS --socket SOCKET` in `cwd` with `stdin` as input.
pub fn taskmaster(args: &[&str], socket: &Path, cwd: &Path, stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_taskmaster"))
        .args(args)
        .arg("--socket")
        .arg(socket)
        .current_dir(cwd)
        .env_remove("TASKMASTER_SOCKET")
        .env_remove("NO_COLOR")
        // Keep the shell's history out of the real home.
        .env("XDG_STATE_HOME", cwd.join("state"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn taskmaster");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait taskmaster")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A status row as the daemon sends it.
pub fn row(name: &str, state: &str) -> Value {
    json!({
        "name": name,
        "program": name.split(':').next().unwrap_or(name),
        "state": state,
        "pid": null,
        "exit_code": null,
        "signal": null,
        "uptime_secs": null,
        "restarts": 0,
        "reason": null,
    })
}

/// A running row.
pub fn running(name: &str, pid: u32, uptime: f64) -> Value {
    let mut r = row(name, "RUNNING");
    r["pid"] = json!(pid);
    r["uptime_secs"] = json!(uptime);
    r
}

pub fn error(kind: &str, message: &str) -> Value {
    json!({"type": "error", "kind": kind, "message": message, "diagnostics": null})
}

pub fn empty_diff() -> Value {
    json!({"daemon": [], "programs": [
        {"name": "web", "action": "unchanged", "scale": null, "changes": []}
    ]})
}

pub fn some_diff() -> Value {
    json!({"daemon": [], "programs": [
        {"name": "web", "action": "restart", "scale": null, "changes": [
            {"field": "cmd", "class": "spawn", "old": "sleep 1", "new": "sleep 2"}
        ]},
        {"name": "worker", "action": "added", "scale": null, "changes": []}
    ]})
}
