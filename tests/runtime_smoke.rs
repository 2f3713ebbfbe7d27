//! Real-process smoke tests of the daemon, talking the JSON protocol directly over the
//! control socket (independent of the CLI client).

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_taskmaster");

struct Daemon {
    child: Child,
    dir: tempfile::TempDir,
    socket: PathBuf,
    /// Every child pid seen, killed in cleanup in case a test failed half-way.
    seen: Vec<u32>,
}

impl Daemon {
    fn start(config: &str) -> Daemon {
        Daemon::start_with_stderr(config, None)
    }

    /// `stderr`: where the daemon's stderr goes (default: a file the test can show).
    fn start_with_stderr(config: &str, stderr: Option<Stdio>) -> Daemon {
        Daemon::launch(config, stderr, Command::new(BIN))
    }

    /// Starts the daemon the way a careless script might: with `signals` ignored, which
    /// exec passes on (`trap "" INT; taskmaster run … &`).
    fn start_ignoring(config: &str, signals: &str) -> Daemon {
        let mut sh = Command::new("sh");
        sh.arg("-c")
            .arg(format!("trap '' {signals}; exec \"$0\" \"$@\""))
            .arg(BIN);
        Daemon::launch(config, None, sh)
    }

    fn launch(config: &str, stderr: Option<Stdio>, mut command: Command) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("taskmaster.kdl"), config).unwrap();
        let socket = dir.path().join("tm.sock");
        let child = command
            .arg("run")
            .arg(dir.path().join("taskmaster.kdl"))
            .arg("--socket")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr.unwrap_or_else(|| {
                Stdio::from(std::fs::File::create(dir.path().join("daemon.err")).unwrap())
            }))
            .spawn()
            .unwrap();
        let mut d = Daemon {
            child,
            dir,
            socket,
            seen: Vec::new(),
        };
        d.wait_until("the socket answers", |d| {
            UnixStream::connect(&d.socket).is_ok()
        });
        d
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("taskmaster.kdl")
    }

    /// Sends one request on a fresh connection and returns its one reply line.
    fn request(&mut self, request: Value) -> Value {
        let mut s = UnixStream::connect(&self.socket).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut line = serde_json::to_vec(&request).unwrap();
        line.push(b'\n');
        s.write_all(&line).unwrap();
        let mut reply = String::new();
        BufReader::new(s).read_line(&mut reply).unwrap();
        let value: Value = serde_json::from_str(&reply)
            .unwrap_or_else(|e| panic!("bad reply {reply:?}: {e}; log:\n{}", self.log()));
        self.remember_pids(&value);
        value
    }

    fn remember_pids(&mut self, value: &Value) {
        if let Some(list) = value.get("processes").and_then(Value::as_array) {
            for p in list {
                if let Some(pid) = p["pid"].as_u64() {
                    self.seen.push(pid as u32);
                }
            }
        }
    }

    fn status(&mut self) -> Vec<Value> {
        let reply = self.request(json!({"version": 1, "command": "status"}));
        reply["processes"].as_array().cloned().unwrap_or_default()
    }

    fn proc(&mut self, name: &str) -> Value {
        self.status()
            .into_iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no process {name}"))
    }

    fn wait_until(&mut self, what: &str, mut cond: impl FnMut(&mut Daemon) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if cond(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("timed out waiting until {what}; log:\n{}", self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.err")).unwrap_or_default()
    }

    /// Waits for the daemon to exit; returns its status code.
    fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("daemon did not exit; log:\n{}", self.log());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Learn the current children, then let the daemon stop them; SIGKILL as a last resort.
        if self.child.try_wait().ok().flatten().is_none() {
            if let Ok(mut s) = UnixStream::connect(&self.socket) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = s.write_all(b"{\"version\":1,\"command\":\"status\"}\n");
                let mut reply = String::new();
                if BufReader::new(s).read_line(&mut reply).is_ok()
                    && let Ok(value) = serde_json::from_str::<Value>(&reply)
                {
                    self.remember_pids(&value);
                }
            }
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline && self.child.try_wait().ok().flatten().is_none() {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for &pid in &self.seen {
            if is_alive(pid) {
                // Each supervised process leads its own group: take its children along.
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{pid}"), &pid.to_string()])
                    .status();
            }
        }
    }
}

/// Alive and not a zombie.
fn is_alive(pid: u32) -> bool {
    proc_state(pid).is_some_and(|s| s != 'Z')
}

fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// Zombie children of `parent`.
fn zombies_of(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split(' ').collect();
        if fields.first() == Some(&"Z") && fields.get(1) == Some(&parent.to_string().as_str()) {
            out.push(pid);
        }
    }
    out
}

fn pid_of(p: &Value) -> u32 {
    p["pid"].as_u64().unwrap_or_else(|| panic!("no pid in {p}")) as u32
}

const TWO_PROGRAMS: &str = r#"
program "sleeper" {
    cmd "sleep" "1000"
    starttime 0
    stoptime 20
}
program "web" {
    cmd "sleep 1000"
    numprocs 2
    starttime "100ms"
}
"#;

#[test]
fn status_stop_start_restart_and_shutdown() {
    let mut d = Daemon::start(TWO_PROGRAMS);
    d.wait_until("everything runs", |d| {
        d.status().iter().all(|p| p["state"] == "RUNNING")
    });
    let names: Vec<Value> = d.status().iter().map(|p| p["name"].clone()).collect();
    assert_eq!(names, ["sleeper", "web:0", "web:1"]);

    let reply = d.request(json!({"version":1,"command":"stop","names":["web:1"]}));
    assert_eq!(reply["type"], "done", "{reply}");
    assert_eq!(reply["processes"][0]["state"], "STOPPED");
    assert_eq!(reply["processes"][0]["pid"], Value::Null);
    assert_eq!(d.proc("web:0")["state"], "RUNNING");

    let reply = d.request(json!({"version":1,"command":"start","names":["web"]}));
    assert_eq!(reply["type"], "done", "{reply}");
    assert_eq!(reply["failed"], json!([]));
    assert!(
        reply["processes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["state"] == "RUNNING")
    );

    let before = pid_of(&d.proc("sleeper"));
    let reply = d.request(json!({"version":1,"command":"restart","names":["sleeper:0"]}));
    assert_eq!(reply["processes"][0]["state"], "RUNNING", "{reply}");
    assert_ne!(pid_of(&reply["processes"][0]), before);
    assert!(!is_alive(before));

    let reply = d.request(json!({"version":1,"command":"stop","names":["web", "nope"]}));
    assert_eq!(reply["type"], "error");
    assert_eq!(reply["kind"], "unknown_name");
    assert_eq!(
        d.proc("web:0")["state"],
        "RUNNING",
        "an unknown name changes nothing"
    );

    let pids: Vec<u32> = d.status().iter().map(pid_of).collect();
    let reply = d.request(json!({"version":1,"command":"shutdown"}));
    assert_eq!(reply["type"], "shut_down");
    assert_eq!(d.wait_exit(), Some(0));
    assert!(!d.socket.exists(), "socket removed on shutdown");
    for pid in pids {
        assert!(!is_alive(pid), "child {pid} survived the shutdown");
    }
}

#[test]
fn direct_exec_child_gets_sigterm_and_an_empty_mask() {
    let mut d = Daemon::start(TWO_PROGRAMS);
    d.wait_until("sleeper runs", |d| d.proc("sleeper")["state"] == "RUNNING");
    let pid = pid_of(&d.proc("sleeper"));
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let blocked = status.lines().find(|l| l.starts_with("SigBlk:")).unwrap();
    assert!(blocked.ends_with("0000000000000000"), "{blocked}");
    let started = Instant::now();
    let reply = d.request(json!({"version":1,"command":"stop","names":["sleeper"]}));
    // stoptime is 20 s: a quick stop means SIGTERM worked, no SIGKILL was needed.
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(reply["processes"][0]["signal"], "SIGTERM", "{reply}");
}

#[test]
fn children_get_default_signal_dispositions_back() {
    let mut d = Daemon::start_ignoring(
        "program \"sleeper\" {\n cmd \"sleep\" \"1000\"\n starttime 0\n stopsignal \"USR1\"\n stoptime 20\n}\n",
        "USR1 QUIT",
    );
    d.wait_until("sleeper runs", |d| d.proc("sleeper")["state"] == "RUNNING");
    let pid = pid_of(&d.proc("sleeper"));
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let ignored = status.lines().find(|l| l.starts_with("SigIgn:")).unwrap();
    let mask = u64::from_str_radix(ignored.trim_start_matches("SigIgn:").trim(), 16).unwrap();
    let (usr1, quit) = (1u64 << (10 - 1), 1u64 << (3 - 1));
    assert_eq!(mask & (usr1 | quit), 0, "{ignored}");
    let started = Instant::now();
    let reply = d.request(json!({"version":1,"command":"stop","names":["sleeper"]}));
    // An inherited SIG_IGN would leave only the SIGKILL after stoptime (20 s).
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(reply["processes"][0]["signal"], "SIGUSR1", "{reply}");
}

#[test]
fn sigterm_stops_everything_and_exits_zero() {
    let mut d = Daemon::start(TWO_PROGRAMS);
    d.wait_until("everything runs", |d| {
        d.status().iter().all(|p| p["state"] == "RUNNING")
    });
    let pids: Vec<u32> = d.status().iter().map(pid_of).collect();
    let daemon = d.child.id();
    Command::new("kill")
        .arg("-TERM")
        .arg(daemon.to_string())
        .status()
        .unwrap();
    assert_eq!(d.wait_exit(), Some(0));
    assert!(!d.socket.exists());
    for pid in pids {
        assert!(!is_alive(pid), "child {pid} survived");
    }
}

#[test]
fn reload_keeps_unchanged_pids_and_applies_the_diff() {
    let mut d = Daemon::start(TWO_PROGRAMS);
    d.wait_until("everything runs", |d| {
        d.status().iter().all(|p| p["state"] == "RUNNING")
    });
    let sleeper = pid_of(&d.proc("sleeper"));
    let web0 = pid_of(&d.proc("web:0"));
    let web1 = pid_of(&d.proc("web:1"));
    let config = TWO_PROGRAMS.replace("numprocs 2", "numprocs 1")
        + "program \"extra\" {\n cmd \"sleep\" \"1000\"\n starttime 0\n}\n";
    std::fs::write(d.config_path(), config).unwrap();
    let reply = d.request(json!({"version":1,"command":"reload"}));
    assert_eq!(reply["type"], "reloaded", "{reply}");
    d.wait_until("web:1 is gone and extra runs", |d| {
        let s = d.status();
        s.len() == 3 && s.iter().all(|p| p["state"] == "RUNNING")
    });
    assert_eq!(
        pid_of(&d.proc("sleeper")),
        sleeper,
        "unchanged program untouched"
    );
    assert_eq!(pid_of(&d.proc("web")), web0, "web:0 keeps its pid as `web`");
    d.wait_until("the highest index was stopped", |_| !is_alive(web1));

    // SIGHUP reloads too.
    let config = std::fs::read_to_string(d.config_path()).unwrap()
        + "program \"late\" {\n cmd \"sleep\" \"1000\"\n starttime 0\n}\n";
    std::fs::write(d.config_path(), config).unwrap();
    Command::new("kill")
        .arg("-HUP")
        .arg(d.child.id().to_string())
        .status()
        .unwrap();
    d.wait_until("late runs", |d| {
        d.status()
            .iter()
            .any(|p| p["name"] == "late" && p["state"] == "RUNNING")
    });
    assert_eq!(pid_of(&d.proc("sleeper")), sleeper);

    // An invalid config changes nothing and says why.
    std::fs::write(d.config_path(), "program \"x\" { numprocs 0 }").unwrap();
    let reply = d.request(json!({"version":1,"command":"reload"}));
    assert_eq!(reply["kind"], "invalid_config", "{reply}");
    assert!(!reply["diagnostics"].as_str().unwrap_or("").is_empty());
    assert_eq!(d.status().len(), 4);
}

#[test]
fn crash_restart_cycles_leave_no_zombie() {
    let mut d = Daemon::start(
        r#"
program "crasher" {
    cmd "false"
    starttime 0
    autorestart #true
    restart-backoff 0
}
"#,
    );
    d.wait_until("200 restarts", |d| {
        d.proc("crasher")["restarts"].as_u64().unwrap_or(0) >= 200
    });
    let reply = d.request(json!({"version":1,"command":"stop","names":["crasher"]}));
    assert_eq!(reply["type"], "done", "{reply}");
    let daemon = d.child.id();
    d.wait_until("no zombie children", |_| zombies_of(daemon).is_empty());
    assert_eq!(d.proc("crasher")["state"], "STOPPED");
}

#[test]
fn backoff_then_fatal_with_the_spawn_error_as_reason() {
    let mut d = Daemon::start(
        r#"
program "ghost" {
    cmd "no-such-program-anywhere"
    startretries 1
}
"#,
    );
    d.wait_until("ghost is FATAL", |d| d.proc("ghost")["state"] == "FATAL");
    let p = d.proc("ghost");
    assert!(p["reason"].as_str().unwrap().contains("not found"), "{p}");
    let reply = d.request(json!({"version":1,"command":"start","names":["ghost"]}));
    assert_eq!(reply["failed"], json!(["ghost"]), "{reply}");
}

#[test]
fn fatal_reason_counts_attempts_in_good_english() {
    let mut d = Daemon::start(
        "program \"ghost\" {\n    cmd \"no-such-program-anywhere\"\n    startretries 0\n}\n",
    );
    d.wait_until("ghost is FATAL", |d| d.proc("ghost")["state"] == "FATAL");
    let p = d.proc("ghost");
    let reason = p["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("gave up after 1 attempt: "), "{p}");
}

/// An attempt that could not be spawned has no exit code, even when an earlier attempt of
/// the same start sequence exited with one.
#[test]
fn a_spawn_failure_after_an_exit_shows_no_exit_code() {
    let mut d = Daemon::start(
        r#"
program "flaky" {
    cmd "./tool"
    workingdir "."
    autostart #false
    startretries 1
    starttime 5
}
"#,
    );
    // The first attempt exits 1 and takes its program away, so the retry cannot spawn.
    let tool = d.dir.path().join("tool");
    std::fs::write(&tool, "#!/bin/sh\nrm -f \"$0\"\nexit 1\n").unwrap();
    std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let reply = d.request(json!({"version":1,"command":"start","names":["flaky"]}));
    assert_eq!(reply["failed"], json!(["flaky"]), "{reply}");
    let p = d.proc("flaky");
    assert_eq!(p["state"], "FATAL", "{p}");
    assert_eq!(p["exit_code"], Value::Null, "{p}");
    assert_eq!(p["signal"], Value::Null, "{p}");
    let reason = p["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("tool"),
        "the spawn error is the reason: {p}"
    );
}

/// A `diff` naming a FIFO is refused instead of blocking the daemon until someone writes.
#[test]
fn diff_of_a_fifo_is_refused_and_the_daemon_keeps_answering() {
    let mut d = Daemon::start(TWO_PROGRAMS);
    let fifo = d.dir.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let reply = d.request(json!({"version":1,"command":"diff","config":fifo}));
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["kind"], "unreadable", "{reply}");
    assert!(!d.status().is_empty());
}

#[test]
fn a_second_daemon_on_a_live_socket_exits_2() {
    let d = Daemon::start(TWO_PROGRAMS);
    let out = Command::new(BIN)
        .arg("run")
        .arg(d.config_path())
        .arg("--socket")
        .arg(&d.socket)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already"));
    assert!(
        UnixStream::connect(&d.socket).is_ok(),
        "first daemon still answers"
    );
}

#[test]
fn bad_requests_get_errors_and_oversized_ones_close_the_connection() {
    let d = Daemon::start(TWO_PROGRAMS);
    let mut s = UnixStream::connect(&d.socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    s.write_all(b"not json\n{\"version\":1,\"command\":\"names\"}\n")
        .unwrap();
    r.read_line(&mut line).unwrap();
    assert!(line.contains("bad_request"), "{line}");
    line.clear();
    r.read_line(&mut line).unwrap();
    assert!(line.contains("\"names\""), "connection kept: {line}");
    line.clear();
    s.write_all(&vec![b'x'; 70 * 1024]).unwrap();
    r.read_line(&mut line).unwrap();
    assert!(line.contains("too_large"), "{line}");
    line.clear();
    assert_eq!(r.read_line(&mut line).unwrap(), 0, "closed after too_large");
}

#[test]
fn logs_keep_output_and_follow_new_lines() {
    let mut d = Daemon::start(
        r#"
program "talker" {
    cmd "sh" "-c" "echo one; echo two; sleep 1000"
    starttime 0
}
"#,
    );
    d.wait_until("output captured", |d| {
        let r = d.request(json!({"version":1,"command":"logs","name":"talker"}));
        r["type"] == "log" && r["text"] == "one\ntwo\n"
    });
    let r = d.request(json!({"version":1,"command":"logs","name":"talker","lines":1}));
    assert_eq!(r["text"], "two\n");

    let mut s = UnixStream::connect(&d.socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(
        b"{\"version\":1,\"command\":\"logs\",\"name\":\"talker\",\"follow\":true,\"lines\":0}\n",
    )
    .unwrap();
    let mut r = BufReader::new(s);
    // A restart's output reaches the follower.
    d.request(json!({"version":1,"command":"restart","names":["talker"]}));
    let mut text = String::new();
    while !text.ends_with("two\n") {
        let mut line = String::new();
        assert!(r.read_line(&mut line).unwrap() > 0, "stream ended early");
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["type"], "log", "{v}");
        text.push_str(v["text"].as_str().unwrap());
    }
    assert_eq!(text, "one\ntwo\n");
}

#[test]
fn a_stalled_client_is_dropped_after_5_s_without_delaying_others() {
    let mut d = Daemon::start(TWO_PROGRAMS);
    let mut slow = UnixStream::connect(&d.socket).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    slow.write_all(b"{\"version\":1,").unwrap();
    let started = Instant::now();
    // Others are served meanwhile.
    assert_eq!(d.status().len(), 3);
    assert!(started.elapsed() < Duration::from_secs(4));
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut slow, &mut rest).unwrap();
    let waited = started.elapsed();
    assert!(rest.is_empty(), "no reply to half a request");
    assert!(
        waited >= Duration::from_secs(4) && waited < Duration::from_secs(15),
        "{waited:?}"
    );
}

#[test]
fn followed_logs_of_several_processes_name_each_process() {
    let mut d = Daemon::start(
        r#"
program "duo" {
    cmd "sh" "-c" "sleep 0.3; echo hi; sleep 1000"
    numprocs 2
    starttime 0
}
"#,
    );
    let mut s = UnixStream::connect(&d.socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"{\"version\":1,\"command\":\"logs\",\"name\":\"duo\",\"follow\":true}\n")
        .unwrap();
    let mut r = BufReader::new(s);
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 2 {
        let mut line = String::new();
        assert!(r.read_line(&mut line).unwrap() > 0);
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["type"], "log", "{v}");
        assert_eq!(v["text"], "hi\n");
        seen.insert(v["process"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["duo:0", "duo:1"]);
    d.status();
}

#[test]
fn an_unread_stderr_pipe_never_blocks_the_daemon() {
    // 300 processes log far more than a pipe holds; nobody reads the daemon's stderr.
    let mut d = Daemon::start_with_stderr(
        "program \"many\" {\n cmd \"sleep\" \"1000\"\n numprocs 300\n starttime 0\n}\n",
        Some(Stdio::piped()),
    );
    d.wait_until("all 300 run", |d| {
        d.status()
            .iter()
            .filter(|p| p["state"] == "RUNNING")
            .count()
            == 300
    });
    let reply = d.request(json!({"version":1,"command":"stop","names":["all"]}));
    assert_eq!(reply["failed"], json!([]), "{reply}");
    let reply = d.request(json!({"version":1,"command":"shutdown"}));
    assert_eq!(reply["type"], "shut_down");
    assert_eq!(d.wait_exit(), Some(0));
}
