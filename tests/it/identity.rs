//! Process identity, users, limits and env files (contract Part 2, "Process identity" and
//! "User, groups, limits, environment files"): placeholders in every field that takes them,
//! the `TASKMASTER_*` variables, a relative program, credentials and limits read back from
//! /proc, a non-root daemon refusing another user, and env-file edits on reload.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{
    BIN, Config, Daemon, LONG, Program, Sandbox, assert_exit, run_bounded, text, wait_for,
    wait_some,
};

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The `KEY=value` entries of a process's environment.
fn environ(pid: u32) -> Vec<String> {
    let bytes = fs::read(format!("/proc/{pid}/environ")).expect("read environ");
    bytes
        .split(|&b| b == 0)
        .filter(|kv| !kv.is_empty())
        .map(|kv| String::from_utf8_lossy(kv).into_owned())
        .collect()
}

fn env_var(pid: u32, key: &str) -> Option<String> {
    let prefix = format!("{key}=");
    environ(pid)
        .into_iter()
        .find_map(|kv| kv.strip_prefix(&prefix).map(str::to_owned))
}

/// The fields of a `/proc/PID/status` line (`Uid:\t0\t0\t0\t0` → `["0", "0", "0", "0"]`).
fn status_field(pid: u32, name: &str) -> Vec<String> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Soft and hard values of a `/proc/PID/limits` row (`Max open files`).
fn limit(pid: u32, row: &str) -> (String, String) {
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).expect("read limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with(row))
        .unwrap_or_else(|| panic!("no {row} in /proc/{pid}/limits:\n{limits}"));
    let mut values = line[row.len()..].split_whitespace();
    (
        values.next().unwrap_or_default().to_owned(),
        values.next().unwrap_or_default().to_owned(),
    )
}

#[test]
fn placeholders_expand_per_process_in_every_field() {
    let sb = Sandbox::new();
    fs::create_dir(sb.path("w0")).unwrap();
    fs::create_dir(sb.path("w1")).unwrap();
    sb.write_config(Config::new().program("web", |p| {
        p.cmd([
            "sh",
            "-c",
            "echo {process_num+8000} $INSTANCE $PWD; echo err-{program} >&2; exec sleep 3600",
        ])
        .numprocs(2)
        .starttime(0)
        .workingdir("w{process_num}")
        .stdout("out-{program}-{process_num}.log")
        .stderr("err-{process}.log")
        .env([("INSTANCE", "{process}"), ("JSON", "{\"a\": 1}")])
    }));
    let d = Daemon::start_in(sb, &[]);
    let root = d.sb.root().to_path_buf();
    for (num, port) in [(0, 8000), (1, 8001)] {
        let name = format!("web:{num}");
        let pid = d.running_pid(&name);
        let out = format!("out-web-{num}.log");
        wait_for("the process's own stdout file", LONG, || {
            d.sb.read(&out).ends_with('\n')
        });
        assert_eq!(
            d.sb.read(&out),
            format!("{port} {name} {}\n", root.join(format!("w{num}")).display())
        );
        let err = format!("err-{name}.log");
        wait_for("the process's own stderr file", LONG, || {
            d.sb.read(&err).ends_with('\n')
        });
        assert_eq!(d.sb.read(&err), "err-web\n");
        // Other brace text is left as written.
        assert_eq!(env_var(pid, "JSON").as_deref(), Some("{\"a\": 1}"));
        // Every child knows who it is.
        assert_eq!(env_var(pid, "TASKMASTER_PROGRAM").as_deref(), Some("web"));
        assert_eq!(
            env_var(pid, "TASKMASTER_PROCESS").as_deref(),
            Some(name.as_str())
        );
        assert_eq!(
            env_var(pid, "TASKMASTER_PROCESS_NUM"),
            Some(num.to_string())
        );
    }
}

/// `diff` and `reload` compare what each process gets: a text change that expands to the
/// same values changes nothing (same pid), one that expands differently restarts.
#[test]
fn reload_compares_expanded_values() {
    let d = Daemon::start(Config::new().program("web", |p| p.cmd("sleep 3600").starttime(0)));
    let pid = d.running_pid("web");
    d.sb.write_config(
        Config::new().program("web", |p| p.cmd("sleep {process_num+3600}").starttime(0)),
    );
    let diff = d.ctl(&["diff"]);
    assert_exit(&diff, 0, "diff of an expansion-equal config");
    d.ok(&["reload"]);
    assert_eq!(d.running_pid("web"), pid, "same expansion, same process");

    d.sb.write_config(
        Config::new().program("web", |p| p.cmd("sleep {process_num+3601}").starttime(0)),
    );
    assert_exit(&d.ctl(&["diff"]), 1, "diff of a changed expansion");
    d.ok(&["reload"]);
    let new = wait_some("web restarted", LONG, || {
        d.row("web")
            .filter(|r| r["state"] == "RUNNING")
            .and_then(|r| r["pid"].as_u64())
            .filter(|&p| p as u32 != pid)
    });
    let cmdline = fs::read(format!("/proc/{new}/cmdline")).unwrap();
    assert_eq!(cmdline, b"sleep\x003601\x00");
}

/// `./run.sh` is the config's folder's, not the daemon's working directory's.
#[test]
fn a_relative_program_is_found_from_the_config_folder() {
    let sb = Sandbox::new();
    sb.script("bin/run.sh", "echo ran from $0; exec sleep 3600");
    sb.write_config(Config::new().program("script", |p| {
        p.cmd("./bin/run.sh").starttime(0).stdout("out.log")
    }));
    let elsewhere = tempfile::tempdir().unwrap();
    let d = Daemon::spawn_opts(sb, &[], Some(elsewhere.path()));
    d.wait_ready();
    d.running_pid("script");
    wait_for("the script's output", LONG, || {
        d.sb.read("out.log").ends_with('\n')
    });
    assert_eq!(
        d.sb.read("out.log"),
        format!("ran from {}\n", d.sb.path("bin/run.sh").display())
    );
}

/// As root (CI): `user`, `group`, `groups` and `limits` are what the kernel reports for the
/// process, and its environment has the user's HOME/USER/LOGNAME/SHELL (`env` wins).
#[test]
fn user_group_groups_and_limits_read_back_from_proc() {
    if !is_root() {
        eprintln!("skipped: running a program as nobody needs a root daemon");
        return;
    }
    let d = Daemon::start(
        Config::new()
            .program("who", |p| {
                p.cmd("sleep 3600")
                    .starttime(0)
                    .user("nobody")
                    .group("nogroup")
                    .groups("adm")
                    .limits(|b| b.entry("nofile", (1024, 4096)).entry("core", 0))
                    .env([("SHELL", "/bin/from-env")])
            })
            .program("plain", |p| p.cmd("sleep 3600").starttime(0).user(65534))
            .program("ghost", |p| {
                p.cmd("sleep 3600").user("no-such-user-xyz").startretries(0)
            }),
    );
    let pid = d.running_pid("who");
    assert_eq!(status_field(pid, "Uid"), ["65534"; 4]);
    assert_eq!(status_field(pid, "Gid"), ["65534"; 4]);
    assert_eq!(status_field(pid, "Groups"), ["4"]);
    assert_eq!(limit(pid, "Max open files"), ("1024".into(), "4096".into()));
    assert_eq!(limit(pid, "Max core file size"), ("0".into(), "0".into()));
    assert_eq!(env_var(pid, "USER").as_deref(), Some("nobody"));
    assert_eq!(env_var(pid, "LOGNAME").as_deref(), Some("nobody"));
    assert_eq!(env_var(pid, "HOME").as_deref(), Some("/nonexistent"));
    assert_eq!(env_var(pid, "SHELL").as_deref(), Some("/bin/from-env"));

    // A uid: the user's primary group and its groups from the group database.
    let plain = d.running_pid("plain");
    assert_eq!(status_field(plain, "Uid"), ["65534"; 4]);
    assert_eq!(status_field(plain, "Gid"), ["65534"; 4]);

    // An unknown user: a failed start with the reason.
    let row = d.wait_state("ghost", "FATAL");
    assert!(
        row["reason"]
            .as_str()
            .is_some_and(|r| r.contains("unknown user no-such-user-xyz")),
        "{row}"
    );
    // The daemon itself is still root, every thread of it.
    for task in fs::read_dir(format!("/proc/{}/task", d.pid())).unwrap() {
        let status = fs::read_to_string(task.unwrap().path().join("status")).unwrap();
        assert!(status.contains("Uid:\t0\t0\t0\t0"), "{status}");
    }
}

/// `taskmaster status --json` run as `nobody`, against a daemon run as `nobody`.
fn status_as_nobody(socket: &Path, cwd: &Path) -> Vec<Value> {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", BIN])
        .args(["status", "--json", "--socket"])
        .arg(socket)
        .env_remove("TASKMASTER_SOCKET");
    let out = run_bounded(cmd, cwd, Duration::from_secs(60), None);
    assert_exit(&out, 0, "status --json as nobody");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

/// A daemon that is not root asked for another user: each start fails with the contract's
/// reason. Naming its own user is no switch and runs.
#[test]
fn a_daemon_that_is_not_root_refuses_another_user() {
    if !is_root() {
        eprintln!("skipped: starting the daemon as nobody needs root");
        return;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: setpriv (util-linux) is not installed");
        return;
    }
    let sb = Sandbox::new();
    sb.write_config(
        Config::new()
            .program("asroot", |p| {
                p.cmd("sleep 3600").user("root").startretries(0)
            })
            .program("self", |p| p.cmd("sleep 3600").starttime(0).user("nobody")),
    );
    // The sandbox becomes nobody's: its socket folder must be the daemon's own.
    let chown = |path: &Path| {
        nix::unistd::chown(path, Some(65534.into()), Some(65534.into())).expect("chown");
    };
    chown(sb.root());
    chown(&sb.config());
    fs::set_permissions(sb.root(), fs::Permissions::from_mode(0o700)).unwrap();
    let d = Daemon::spawn_custom(
        sb,
        &[
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
        ],
        |cmd| {
            cmd.env_remove("TASKMASTER_SOCKET");
        },
    );
    let socket = d.socket();
    let root = d.sb.root().to_path_buf();
    let rows = wait_some("asroot FATAL and self RUNNING", LONG, || {
        if !socket.exists() {
            return None;
        }
        let rows = status_as_nobody(&socket, &root);
        let state = |name: &str| {
            rows.iter()
                .find(|r| r["name"] == name)
                .map(|r| r["state"].clone())
        };
        (state("asroot") == Some("FATAL".into()) && state("self") == Some("RUNNING".into()))
            .then_some(rows)
    });
    let asroot = rows.iter().find(|r| r["name"] == "asroot").unwrap();
    assert_eq!(
        asroot["reason"].as_str(),
        Some("gave up after 1 attempt: cannot run as root: taskmaster is not running as root"),
        "{asroot}"
    );
    let own = rows.iter().find(|r| r["name"] == "self").unwrap();
    let pid = own["pid"].as_u64().unwrap() as u32;
    assert_eq!(status_field(pid, "Uid"), ["65534"; 4]);
}

/// Editing an env file and reloading restarts exactly the programs whose environment
/// changed; `diff` names the key; an unchanged file keeps every pid.
#[test]
fn an_env_file_edit_restarts_exactly_the_programs_it_changes() {
    let sb = Sandbox::new();
    sb.write("app.env", "# shared\nA=1\nB=same\n");
    let printer = |p: Program| {
        p.cmd(["sh", "-c", "echo A=$A B=$B; exec sleep 3600"])
            .starttime(0)
            .env_file("app.env")
    };
    sb.write_config(
        Config::new()
            .program("reads", |p| printer(p).stdout("reads.out"))
            .program("overrides", |p| printer(p).env([("A", "mine")]))
            .program("other", |p| p.cmd("sleep 3600").starttime(0)),
    );
    let d = Daemon::start_in(sb, &[]);
    let pids: Vec<u32> = ["reads", "overrides", "other"]
        .iter()
        .map(|n| d.running_pid(n))
        .collect();
    wait_for("the first output", LONG, || {
        d.sb.read("reads.out") == "A=1 B=same\n"
    });

    // Unchanged: nothing restarts.
    assert_exit(&d.ctl(&["diff"]), 0, "diff with the env file unchanged");
    d.ok(&["reload"]);
    assert_eq!(d.pid_of("reads"), pids[0]);

    d.sb.write("app.env", "# shared\nA=2\nB=same\n");
    let diff = d.ctl(&["diff"]);
    assert_exit(&diff, 1, "diff after the env file changed");
    let shown = text(&diff.stdout);
    assert!(shown.contains("~ reads: restart"), "{shown}");
    assert!(shown.contains("A changed"), "{shown}");
    assert!(!shown.contains("overrides"), "`env` overrides A: {shown}");
    assert!(!shown.contains("A=2"), "values stay hidden: {shown}");

    d.ok(&["reload"]);
    let new = wait_some("reads restarted", LONG, || {
        d.row("reads")
            .filter(|r| r["state"] == "RUNNING")
            .and_then(|r| r["pid"].as_u64())
            .filter(|&p| p as u32 != pids[0])
    });
    assert_ne!(new as u32, pids[0]);
    wait_for("the new output", LONG, || {
        d.sb.read("reads.out").ends_with("A=2 B=same\n")
    });
    assert_eq!(d.pid_of("overrides"), pids[1], "its A is its own");
    assert_eq!(d.pid_of("other"), pids[2]);
}

/// A reload whose env file lost its `=` is rejected with the diagnostic pointing into the
/// env file, and changes nothing.
#[test]
fn a_broken_env_file_rejects_the_reload() {
    let sb = Sandbox::new();
    sb.write("app.env", "A=1\n");
    sb.write_config(Config::new().program("p", |p| {
        p.cmd("sleep 3600").starttime(0).env_file("app.env")
    }));
    let d = Daemon::start_in(sb, &[]);
    let pid = d.running_pid("p");
    d.sb.write("app.env", "A=1\nnot a line\n");
    let out = d.ctl(&["reload"]);
    assert_exit(&out, 1, "reload with a broken env file");
    let err = text(&out.stderr);
    assert!(err.contains("taskmaster::env_file_syntax"), "{err}");
    assert!(err.contains("app.env:2:1"), "{err}");
    assert_eq!(d.pid_of("p"), pid);
}
