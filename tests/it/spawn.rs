//! What a child is spawned with: argv splitting without a shell, numprocs naming, umask,
//! workingdir, environment, PATH lookup, and relative paths.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::harness::{Config, Daemon, LONG, Program, Sandbox, raw, wait_for};

/// A process that runs once: no restart, RUNNING at once.
fn once(p: Program) -> Program {
    p.autorestart(false).starttime(0)
}

#[test]
fn single_string_cmd_is_split_without_a_shell() {
    let sb = Sandbox::new();
    sb.write_config(Config::new().program("p", |p| {
        once(p.cmd("printf '%s|' 'a b' $HOME * ~")).stdout("out.txt")
    }));
    let d = Daemon::start_in(sb, &[]);
    wait_for("printf's output", LONG, || {
        d.sb.read("out.txt").ends_with("~|")
    });
    // Quotes group words; `$HOME`, `*` and `~` reach printf untouched because no shell runs.
    assert_eq!(d.sb.read("out.txt"), "a b|$HOME|*|~|");
}

#[test]
fn several_cmd_arguments_are_the_argv() {
    let sb = Sandbox::new();
    sb.write_config(Config::new().program("p", |p| {
        once(p.cmd(["printf", "%s|", "a b", "$HOME"])).stdout("out.txt")
    }));
    let d = Daemon::start_in(sb, &[]);
    wait_for("printf's output", LONG, || {
        d.sb.read("out.txt").ends_with("E|")
    });
    assert_eq!(d.sb.read("out.txt"), "a b|$HOME|");
}

#[test]
fn numprocs_names_processes_and_colon_zero_means_the_single_one() {
    let d = Daemon::start(
        Config::new()
            .program("web", |p| p.cmd("sleep 3600").numprocs(3).starttime(0))
            .program("solo", |p| p.cmd("sleep 3600").starttime(0)),
    );
    let mut pids = Vec::new();
    for name in ["web:0", "web:1", "web:2", "solo"] {
        pids.push(d.running_pid(name));
    }
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), 4, "four distinct processes");
    let mut names = d.names();
    names.sort();
    assert_eq!(names, ["solo", "web:0", "web:1", "web:2"]);
    for row in d.status_json() {
        let expected = if row["name"] == "solo" { "solo" } else { "web" };
        assert_eq!(row["program"], expected, "{row}");
    }

    // `solo:0` names `solo`.
    let out = d.ok(&["status", "--json", "solo:0"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["name"], "solo");
    d.ok(&["stop", "solo:0"]);
    assert_eq!(d.state("solo"), "STOPPED");
    // `web` as a name selects every web process.
    let out = d.ok(&["status", "--json", "web"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(rows.len(), 3, "{rows:?}");
}

#[test]
fn umask_sets_the_mode_of_created_files() {
    let d = Daemon::start(
        Config::new()
            .program("octal", |p| {
                once(p.cmd(["sh", "-c", "touch a.txt; mkdir a.dir"])).umask(raw("0o077"))
            })
            .program("string", |p| {
                once(p.cmd(["sh", "-c", "touch b.txt"])).umask("027")
            }),
    );
    wait_for("files created", LONG, || {
        d.path("a.txt").exists() && d.path("a.dir").exists() && d.path("b.txt").exists()
    });
    let mode = |f: &str| fs::metadata(d.path(f)).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode("a.txt"), 0o600, "0o666 & !0o077");
    assert_eq!(mode("a.dir"), 0o700, "0o777 & !0o077");
    assert_eq!(mode("b.txt"), 0o640, "0o666 & !0o027");
}

#[test]
fn workingdir_relative_to_the_config_folder() {
    let sb = Sandbox::new();
    fs::create_dir(sb.path("sub")).expect("mkdir");
    sb.write_config(Config::new().program("p", |p| {
        once(p.cmd(["sh", "-c", "pwd > pwd.txt"])).workingdir("sub")
    }));
    let d = Daemon::start_in(sb, &[]);
    wait_for("pwd.txt", LONG, || d.sb.read("sub/pwd.txt").ends_with('\n'));
    let want = fs::canonicalize(d.path("sub")).expect("canonicalize");
    assert_eq!(d.sb.read("sub/pwd.txt").trim_end(), want.to_str().unwrap());
}

#[test]
fn env_is_added_to_the_daemon_environment() {
    let sb = Sandbox::new();
    sb.write_config(Config::new().program("p", |p| {
        once(p.cmd(["sh", "-c", "env > env.txt"]))
            .env([("GREETING", "hello world"), ("OVERRIDE", "child")])
    }));
    let d = Daemon::start_in(sb, &[("TM_FROM_DAEMON", "outer"), ("OVERRIDE", "daemon")]);
    wait_for("env.txt", LONG, || {
        d.sb.read("env.txt").contains("GREETING")
    });
    let env = d.sb.read("env.txt");
    let lines: Vec<&str> = env.lines().collect();
    assert!(lines.contains(&"GREETING=hello world"), "{env}");
    assert!(
        lines.contains(&"TM_FROM_DAEMON=outer"),
        "daemon's env inherited: {env}"
    );
    assert!(lines.contains(&"OVERRIDE=child"), "program env wins: {env}");
    assert!(!lines.contains(&"OVERRIDE=daemon"), "{env}");
}

#[test]
fn program_is_looked_up_on_the_child_path() {
    let sb = Sandbox::new();
    sb.script("bin/my-tool", "echo found > tool.ran");
    let bin = sb.path("bin");
    let path = format!("{}:/usr/bin:/bin", bin.display());
    sb.write_config(Config::new().program("p", |p| {
        once(p.cmd("my-tool")).env([("PATH", path.as_str())])
    }));
    let d = Daemon::start_in(sb, &[]);
    wait_for("my-tool to run", LONG, || {
        d.sb.read("tool.ran") == "found\n"
    });
    let row = d.wait_state("p", "EXITED");
    assert_eq!(row["exit_code"], 0, "{row}");
}

#[test]
fn relative_paths_are_resolved_against_the_config_folder() {
    let sb = Sandbox::new();
    let elsewhere = Sandbox::new();
    fs::create_dir(sb.path("logs")).expect("mkdir");
    fs::create_dir(elsewhere.path("logs")).expect("mkdir");
    sb.write_config(
        Config::new().program("p", |p| once(p.cmd(["echo", "hi"])).stdout("logs/out.log")),
    );
    // The daemon runs from another folder; the socket and the log still land next to
    // the config (`wait_ready` finds the socket there).
    let d = Daemon::spawn_opts(sb, &[], Some(elsewhere.root()));
    d.wait_ready();
    wait_for("logs/out.log", LONG, || d.sb.read("logs/out.log") == "hi\n");
    assert!(!elsewhere.path("logs/out.log").exists());
    assert!(!elsewhere.path("t.sock").exists());
}
