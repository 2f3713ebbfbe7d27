//! The client commands against the real daemon (`taskmaster run`), end to end: the socket
//! found through `./taskmaster.kdl`, status, stop/start, logs, a rejected reload, the piped
//! shell, and shutdown.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(20);

const CONFIG: &str = r#"
taskmaster {
    socket "tm.sock"
}
program "web" {
    cmd "sh -c 'echo hello from web; exec sleep 300'"
    numprocs 2
    starttime 0
    stoptime 2
}
program "bad" {
    cmd "/nonexistent/taskmaster-e2e-program"
    startretries 0
    autostart #false
}
"#;

/// A daemon in a temporary folder, stopped (by pid) when dropped.
struct Daemon {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Daemon {
    fn start() -> Daemon {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("taskmaster.kdl"), CONFIG).expect("config");
        let child = Command::new(env!("CARGO_BIN_EXE_taskmaster"))
            .args(["run", "taskmaster.kdl"])
            .current_dir(dir.path())
            .env_remove("TASKMASTER_SOCKET")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn daemon");
        let daemon = Daemon {
            dir,
            child: Some(child),
        };
        // Ready when both web processes run.
        daemon.wait_until(|out| {
            String::from_utf8_lossy(&out.stdout)
                .matches("RUNNING")
                .count()
                == 2
        });
        daemon
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `taskmaster ARGS` in the daemon's folder, finding the socket through taskmaster.kdl.
    fn client(&self, args: &[&str], stdin: &str) -> Output {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_taskmaster"))
            .args(args)
            .current_dir(self.path())
            .env_remove("TASKMASTER_SOCKET")
            .env("XDG_STATE_HOME", self.path().join("state"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn client");
        let _ = child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes());
        child.wait_with_output().expect("client output")
    }

    fn wait_until(&self, done: impl Fn(&Output) -> bool) {
        let deadline = Instant::now() + LIMIT;
        loop {
            let out = self.client(&["status"], "");
            if done(&out) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "gave up waiting; last status:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the daemon to exit by itself; its exit status.
    fn wait_exit(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let deadline = Instant::now() + LIMIT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child = Some(child);
        None
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SIGTERM lets the daemon stop its children; SIGKILL only if it does not exit.
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + LIMIT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn client_commands_against_the_real_daemon() {
    let mut daemon = Daemon::start();

    let out = daemon.client(&["status", "--json"], "");
    assert_eq!(out.status.code(), Some(0));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let names: Vec<&str> = rows
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["bad", "web:0", "web:1"]);

    let out = daemon.client(&["status", "nope"], "");
    assert_eq!(out.status.code(), Some(1));

    let out = daemon.client(&["logs", "web"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let logs = text(&out.stdout);
    assert!(logs.contains("web:0 | hello from web"), "{logs}");
    assert!(logs.contains("web:1 | hello from web"), "{logs}");

    let out = daemon.client(&["stop", "web:1"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("web:1   STOPPED"),
        "{}",
        text(&out.stdout)
    );

    let out = daemon.client(&["start", "web"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).matches("RUNNING").count(), 2);

    let out = daemon.client(&["start", "bad"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("FATAL"));
    assert!(text(&out.stderr).contains("bad did not start"));

    // An invalid config: the client still finds the socket in it, and the daemon's
    // diagnostics come back; nothing changes.
    std::fs::write(
        daemon.path().join("taskmaster.kdl"),
        format!("{CONFIG}\nprogram \"extra\" {{ numprocs 0 }}\n"),
    )
    .expect("rewrite config");
    let out = daemon.client(&["reload"], "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("numprocs"),
        "{}",
        text(&out.stderr)
    );
    let out = daemon.client(&["diff"], "");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));

    std::fs::write(daemon.path().join("taskmaster.kdl"), CONFIG).expect("restore config");
    let out = daemon.client(&["shell"], "status web\nrestart web:0\nstop nope\n");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("web:0   RUNNING"));

    let out = daemon.client(&["shutdown"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(daemon.wait_exit(), Some(0));
    let socket: PathBuf = daemon.path().join("tm.sock");
    assert!(!socket.exists(), "socket file left behind");
    let out = daemon.client(&["status"], "");
    assert_eq!(out.status.code(), Some(3));
}
