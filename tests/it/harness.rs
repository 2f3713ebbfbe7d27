//! The test fixture: a sandbox folder, a `taskmaster run` daemon living in it, the client
//! commands aimed at its socket, bounded polling, and /proc inspection.
//!
//! Every daemon gets its own temporary folder and socket, so tests run in parallel. On drop the
//! daemon is sent SIGTERM and, whatever happens, every process the test saw or that descends
//! from the daemon is SIGKILLed by pid (checked against its start time, so a reused pid is
//! never hit).
//!
//! Configs are built with [`Config`] (the typed builder in `harness/config.rs`) or, for
//! older tests, written as text after [`PREAMBLE`].

#![allow(dead_code)]

mod config;
pub use config::*;

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;
use tempfile::TempDir;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_taskmaster");

/// The default bound for anything the daemon should do "soon" on a loaded machine.
pub const LONG: Duration = Duration::from_secs(20);

/// The daemon settings every test config starts with: a socket of its own.
pub const PREAMBLE: &str = "taskmaster {\n    socket \"t.sock\"\n}\n";

/// Polls `cond` every 25 ms until it holds; panics naming `what` after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    wait_some(what, timeout, || cond().then_some(()));
}

/// Polls `f` every 25 ms until it returns `Some`; panics naming `what` after `timeout`.
pub fn wait_some<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = f() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Asserts that `cond` keeps holding for the whole `window` (checked every 25 ms): the way to
/// show that something does *not* happen, e.g. no further restart attempt.
pub fn holds_for(what: &str, window: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + window;
    while Instant::now() < deadline {
        assert!(cond(), "{what} stopped holding within {window:?}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// One line of `/proc/PID/stat`, the fields the tests use.
#[derive(Debug, Clone)]
pub struct ProcStat {
    pub pid: u32,
    pub comm: String,
    pub state: char,
    pub ppid: u32,
    pub pgrp: i32,
    pub starttime: u64,
}

pub fn proc_stat(pid: u32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let rest: Vec<&str> = text.get(close + 2..)?.split_whitespace().collect();
    Some(ProcStat {
        pid,
        comm: text[open + 1..close].to_owned(),
        state: rest.first()?.chars().next()?,
        ppid: rest.get(1)?.parse().ok()?,
        pgrp: rest.get(2)?.parse().ok()?,
        starttime: rest.get(19)?.parse().ok()?,
    })
}

/// Every process on the machine.
pub fn all_procs() -> Vec<ProcStat> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(proc_stat)
        .collect()
}

/// Every live (non-zombie) descendant of `root`, found through the ppid links.
pub fn descendants(root: u32) -> Vec<ProcStat> {
    let procs = all_procs();
    let mut children: HashMap<u32, Vec<&ProcStat>> = HashMap::new();
    for p in &procs {
        children.entry(p.ppid).or_default().push(p);
    }
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        for c in children.get(&pid).into_iter().flatten() {
            todo.push(c.pid);
            if c.state != 'Z' {
                out.push((*c).clone());
            }
        }
    }
    out
}

/// The zombie children of `parent` right now.
pub fn zombie_children(parent: u32) -> Vec<u32> {
    all_procs()
        .into_iter()
        .filter(|p| p.ppid == parent && p.state == 'Z')
        .map(|p| p.pid)
        .collect()
}

/// Whether `pid` is a running process (a zombie counts as dead: it runs nothing).
pub fn pid_alive(pid: u32) -> bool {
    proc_stat(pid).is_some_and(|s| s.state != 'Z' && s.state != 'X')
}

pub fn is_zombie(pid: u32) -> bool {
    proc_stat(pid).is_some_and(|s| s.state == 'Z')
}

pub fn signal(pid: u32, sig: Signal) {
    // The pid may have died meanwhile; that is no failure of the test.
    let _ = kill(Pid::from_raw(pid as i32), sig);
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Panics with the command's output unless it exited with `code`.
#[track_caller]
pub fn assert_exit(out: &Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: expected exit {code}, got {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// Runs `cmd` with stdout/stderr captured into files of `dir`, killing it after `timeout`
/// (a hung client must fail the test, not hang the suite).
pub fn run_bounded(
    mut cmd: Command,
    dir: &Path,
    timeout: Duration,
    stdin: Option<&[u8]>,
) -> Output {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let out_path = dir.join(format!(".cmd{n}.out"));
    let err_path = dir.join(format!(".cmd{n}.err"));
    let out_file = fs::File::create(&out_path).expect("create capture file");
    let err_file = fs::File::create(&err_path).expect("create capture file");
    cmd.stdout(out_file).stderr(err_file);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().expect("spawn command");
    if let Some(input) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().expect("stdin pipe");
        let _ = pipe.write_all(input);
    }
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "command {cmd:?} did not finish within {timeout:?}\nstdout so far:\n{}\nstderr so far:\n{}",
                fs::read_to_string(&out_path).unwrap_or_default(),
                fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = fs::read(&out_path).unwrap_or_default();
    let stderr = fs::read(&err_path).unwrap_or_default();
    let _ = fs::remove_file(&out_path);
    let _ = fs::remove_file(&err_path);
    Output {
        status,
        stdout,
        stderr,
    }
}

/// A private folder for one test; the config is `taskmaster.kdl` in it.
pub struct Sandbox {
    pub dir: TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox {
            dir: tempfile::Builder::new()
                .prefix("tm-contract-")
                .tempdir()
                .expect("create temp dir"),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, contents: &str) -> PathBuf {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create parent dir");
        }
        fs::write(&path, contents).expect("write file");
        path
    }

    /// Writes an executable shell script.
    pub fn script(&self, rel: &str, body: &str) -> PathBuf {
        let path = self.write(rel, &format!("#!/bin/sh\n{body}\n"));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    }

    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap_or_default()
    }

    /// Lines of a file, 0 when it does not exist yet.
    pub fn line_count(&self, rel: &str) -> usize {
        self.read(rel).lines().count()
    }

    /// Writes the config file: a [`Config`], or program blocks as text after `PREAMBLE`.
    pub fn write_config(&self, config: impl IntoConfig) -> PathBuf {
        self.write("taskmaster.kdl", &config.into_kdl())
    }

    /// Like [`Sandbox::write_config`], with the daemon's event log also going to `logfile`.
    pub fn write_config_with_logfile(&self, logfile: &str, programs: &str) -> PathBuf {
        self.write(
            "taskmaster.kdl",
            &format!(
                "taskmaster {{\n    socket \"t.sock\"\n    logfile \"{logfile}\"\n}}\n{programs}"
            ),
        )
    }

    pub fn config(&self) -> PathBuf {
        self.path("taskmaster.kdl")
    }

    pub fn socket(&self) -> PathBuf {
        self.path("t.sock")
    }

    /// `taskmaster ARGS` with the sandbox as working directory (no `--socket` added).
    pub fn taskmaster(&self, args: &[&str]) -> Output {
        self.taskmaster_input(args, None)
    }

    /// [`Sandbox::taskmaster`] with `stdin` fed to the command.
    pub fn taskmaster_input(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut cmd = self.client_command();
        cmd.args(args);
        run_bounded(cmd, self.root(), Duration::from_secs(60), stdin)
    }

    /// A bare `taskmaster` command run in the sandbox, as a client: no socket from the
    /// environment, and the shell's history in the sandbox rather than the real home.
    pub fn client_command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(self.root())
            .env_remove("TASKMASTER_SOCKET")
            .env("XDG_STATE_HOME", self.path("state"));
        cmd
    }
}

/// A running `taskmaster run CONFIG`, stopped and cleaned up on drop.
pub struct Daemon {
    pub sb: Sandbox,
    child: Mutex<Option<Child>>,
    pid: u32,
    /// (pid, start time) of every supervised process a status reply showed.
    seen: Mutex<BTreeSet<(u32, u64)>>,
}

impl Daemon {
    /// A daemon over `config` (a [`Config`], or program blocks as text after `PREAMBLE`) in a
    /// fresh sandbox, answering on its socket.
    pub fn start(config: impl IntoConfig) -> Daemon {
        let sb = Sandbox::new();
        sb.write_config(config);
        Daemon::start_in(sb, &[])
    }

    /// A daemon over the sandbox's existing config, with extra environment variables.
    pub fn start_in(sb: Sandbox, env: &[(&str, &str)]) -> Daemon {
        let d = Daemon::spawn_in(sb, env);
        d.wait_ready();
        d
    }

    /// Launches `taskmaster run` without waiting for it to answer.
    pub fn spawn_in(sb: Sandbox, env: &[(&str, &str)]) -> Daemon {
        Daemon::spawn_opts(sb, env, None)
    }

    /// Launches `taskmaster run CONFIG` from working directory `cwd` (default: the sandbox).
    pub fn spawn_opts(sb: Sandbox, env: &[(&str, &str)], cwd: Option<&Path>) -> Daemon {
        Daemon::spawn_custom(sb, &[], |cmd| {
            cmd.envs(env.iter().copied());
            if let Some(dir) = cwd {
                cmd.current_dir(dir);
            }
        })
    }

    /// Launches `WRAPPER… taskmaster run CONFIG` (e.g. `unshare --pid --fork`), letting
    /// `setup` adjust the command (environment, `pre_exec`) before it is spawned.
    pub fn spawn_custom(sb: Sandbox, wrapper: &[&str], setup: impl FnOnce(&mut Command)) -> Daemon {
        let out = fs::File::create(sb.path("daemon.out")).expect("daemon.out");
        let err = fs::File::create(sb.path("daemon.err")).expect("daemon.err");
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(BIN);
                c
            }
            None => Command::new(BIN),
        };
        cmd.arg("run")
            .arg(sb.config())
            .current_dir(sb.root())
            .env_remove("TASKMASTER_SOCKET")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            // Its own group: a signal the test runner gets does not reach it, and the
            // drop can find what is left of it.
            .process_group(0);
        setup(&mut cmd);
        let child = cmd.spawn().expect("spawn taskmaster run");
        Daemon {
            sb,
            pid: child.id(),
            child: Mutex::new(Some(child)),
            seen: Mutex::new(BTreeSet::new()),
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.sb.path(rel)
    }

    pub fn socket(&self) -> PathBuf {
        self.sb.socket()
    }

    /// What the daemon printed so far, for failure messages.
    pub fn daemon_output(&self) -> String {
        format!(
            "daemon stdout:\n{}\ndaemon stderr:\n{}",
            self.sb.read("daemon.out"),
            self.sb.read("daemon.err")
        )
    }

    /// Waits until `status --json` answers; panics with the daemon's output if it exits.
    pub fn wait_ready(&self) {
        let deadline = Instant::now() + LONG;
        loop {
            if let Some(status) = self.try_exit_status() {
                panic!(
                    "taskmaster run exited early with {status:?}\n{}",
                    self.daemon_output()
                );
            }
            if self.ctl(&["status", "--json"]).status.code() == Some(0) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not answer status within {LONG:?}\n{}",
                self.daemon_output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The daemon's exit status if it has exited (reaping it).
    pub fn try_exit_status(&self) -> Option<ExitStatus> {
        let mut child = self
            .child
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        child.as_mut()?.try_wait().ok().flatten()
    }

    /// Waits (bounded) for the daemon to exit and returns its exit code.
    pub fn wait_exit(&self, timeout: Duration) -> Option<i32> {
        let status = wait_some("the daemon to exit", timeout, || self.try_exit_status());
        status.code()
    }

    pub fn signal_daemon(&self, sig: Signal) {
        signal(self.pid(), sig);
    }

    /// `taskmaster ARGS` aimed at this daemon's socket (`--socket` added after the
    /// subcommand), run in the sandbox.
    pub fn ctl(&self, args: &[&str]) -> Output {
        self.ctl_input(args, None)
    }

    pub fn ctl_input(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        run_bounded(
            self.ctl_command(args),
            self.sb.root(),
            Duration::from_secs(60),
            stdin,
        )
    }

    /// `taskmaster logs ARGS` (with `-f`) left running, its stdout going to the sandbox file
    /// `out`; the caller kills and waits for it.
    pub fn follow_logs(&self, args: &[&str], out: &str) -> Child {
        let capture = fs::File::create(self.path(out)).expect("create the capture file");
        let mut cmd = self.ctl_command(&[&["logs"], args].concat());
        cmd.stdin(Stdio::null())
            .stdout(capture)
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn logs -f")
    }

    /// The command behind [`Daemon::ctl`], not yet run.
    pub fn ctl_command(&self, args: &[&str]) -> Command {
        let mut cmd = self.sb.client_command();
        if let Some((sub, rest)) = args.split_first() {
            cmd.arg(sub).arg("--socket").arg(self.socket()).args(rest);
        }
        cmd
    }

    /// Sends one request of the control protocol on a fresh connection and returns its
    /// reply (the pids it names are remembered for the cleanup).
    pub fn request(&self, request: &Value) -> Value {
        let mut stream = self.connect();
        let mut line = serde_json::to_vec(request).expect("serialise the request");
        line.push(b'\n');
        std::io::Write::write_all(&mut stream, &line).expect("send the request");
        let reply = read_reply(&stream);
        if let Some(rows) = reply["processes"].as_array() {
            self.remember(rows);
        }
        reply
    }

    /// Polls `cond` until it holds; panics naming `what`, with the daemon's output, after
    /// [`LONG`].
    #[track_caller]
    pub fn wait_until(&self, what: &str, mut cond: impl FnMut(&Daemon) -> bool) {
        let deadline = Instant::now() + LONG;
        while !cond(self) {
            assert!(
                Instant::now() < deadline,
                "timed out after {LONG:?} waiting until {what}\n{}",
                self.daemon_output()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// `ctl` that must exit 0.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.ctl(args);
        assert_exit(&out, 0, &format!("taskmaster {}", args.join(" ")));
        out
    }

    /// Every row of `status --json`.
    pub fn status_json(&self) -> Vec<Value> {
        let out = self.ctl(&["status", "--json"]);
        assert_exit(&out, 0, "status --json");
        let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "status --json is not a JSON array ({e}):\n{}",
                text(&out.stdout)
            )
        });
        self.remember(&rows);
        rows
    }

    /// Remembers the pid of every status row, for the cleanup.
    fn remember(&self, rows: &[Value]) {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for row in rows {
            if let Some(pid) = row["pid"].as_u64().map(|p| p as u32)
                && let Some(stat) = proc_stat(pid)
            {
                seen.insert((pid, stat.starttime));
            }
        }
    }

    /// The status row of `name`, if the daemon has such a process.
    pub fn row(&self, name: &str) -> Option<Value> {
        self.status_json()
            .into_iter()
            .find(|r| r["name"].as_str() == Some(name))
    }

    /// The status row of `name`; panics when absent.
    #[track_caller]
    pub fn must_row(&self, name: &str) -> Value {
        let rows = self.status_json();
        rows.iter()
            .find(|r| r["name"].as_str() == Some(name))
            .cloned()
            .unwrap_or_else(|| panic!("no process {name} in status: {rows:#?}"))
    }

    pub fn state(&self, name: &str) -> String {
        self.row(name)
            .and_then(|r| r["state"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Process names in status order.
    pub fn names(&self) -> Vec<String> {
        self.status_json()
            .iter()
            .filter_map(|r| r["name"].as_str().map(str::to_owned))
            .collect()
    }

    /// Waits until `name` is in `state`; returns its row.
    pub fn wait_state(&self, name: &str, state: &str) -> Value {
        self.wait_state_for(name, state, LONG)
    }

    pub fn wait_state_for(&self, name: &str, state: &str, timeout: Duration) -> Value {
        let mut last = None;
        let what = format!("{name} to be {state}");
        let deadline = Instant::now() + timeout;
        loop {
            let row = self.row(name);
            if let Some(r) = &row
                && r["state"] == state
            {
                return r.clone();
            }
            last = row.or(last);
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}; last row: {last:?}\n{}",
                self.daemon_output()
            );
            std::thread::sleep(Duration::from_millis(40));
        }
    }

    /// The pid of a process that must have one.
    #[track_caller]
    pub fn pid_of(&self, name: &str) -> u32 {
        let row = self.must_row(name);
        row["pid"]
            .as_u64()
            .unwrap_or_else(|| panic!("{name} has no pid: {row}")) as u32
    }

    /// Waits until `name` is RUNNING and returns its pid.
    pub fn running_pid(&self, name: &str) -> u32 {
        let row = self.wait_state(name, "RUNNING");
        row["pid"]
            .as_u64()
            .unwrap_or_else(|| panic!("RUNNING {name} has no pid: {row}")) as u32
    }

    pub fn connect(&self) -> UnixStream {
        UnixStream::connect(self.socket()).expect("connect to the daemon's socket")
    }

    /// SIGKILLs whatever is left of the daemon and its processes.
    fn cleanup(&mut self) {
        let mut slot = self
            .child
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let mut victims: Vec<ProcStat> = Vec::new();
        if let Some(child) = slot.as_mut()
            && child.try_wait().ok().flatten().is_none()
        {
            let dpid = child.id();
            victims.extend(descendants(dpid));
            signal(dpid, Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(15);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                victims.extend(descendants(dpid));
                std::thread::sleep(Duration::from_millis(20));
            }
            if child.try_wait().ok().flatten().is_none() {
                victims.extend(descendants(dpid));
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        self.kill_seen(&victims);
    }

    fn kill_seen(&self, extra: &[ProcStat]) {
        let mut known: BTreeSet<(u32, u64)> = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        known.extend(extra.iter().map(|p| (p.pid, p.starttime)));
        let groups: BTreeSet<i32> = known.iter().map(|&(pid, _)| pid as i32).collect();
        for p in all_procs() {
            let is_known = known.contains(&(p.pid, p.starttime));
            let in_group = groups.contains(&p.pgrp) && p.pid != std::process::id();
            if (is_known || in_group) && p.state != 'Z' {
                signal(p.pid, Signal::SIGKILL);
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// A program block, for configs built in code.
pub fn program(name: &str, body: &str) -> String {
    format!("program \"{name}\" {{\n{body}\n}}\n")
}

/// Reads one reply line of the control protocol (bounded).
pub fn read_reply(stream: &UnixStream) -> Value {
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .expect("a reply line");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("reply is not JSON ({e}): {line:?}"))
}

/// Whether the peer closed the connection within `timeout` (reading and dropping any data).
pub fn closed_within(stream: &mut UnixStream, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        stream.set_read_timeout(Some(left)).expect("timeout");
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                return false;
            }
            Err(_) => return true,
        }
    }
}
