//! Reload: the plan diff rules, applied through `reload`, and the online/offline `diff`
//! that predicts them.

use std::collections::BTreeMap;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::harness::{
    Daemon, LONG, Sandbox, assert_exit, holds_for, pid_alive, program, signal, text, wait_for,
};

fn sleeper(name: &str, extra: &str) -> String {
    program(
        name,
        &format!("    cmd \"sleep 3600\"\n    starttime 0{extra}"),
    )
}

/// name → action from `diff --format json`.
fn diff_actions(out: &std::process::Output) -> BTreeMap<String, String> {
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "diff --format json is not JSON ({e}): {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        )
    });
    json["programs"]
        .as_array()
        .unwrap_or_else(|| panic!("diff object has a programs array: {json:#}"))
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_owned(),
                p["action"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn old_config() -> String {
    [
        sleeper("keep", ""),
        sleeper("respawn", ""),
        sleeper("supervise", "\n    autorestart #true"),
        program(
            "gone",
            "    cmd \"sh\" \"-c\" \"trap 'echo graceful > gone.term; exit 0' TERM; while :; do sleep 0.1; done\"\n    starttime 0",
        ),
    ]
    .concat()
}

fn new_config() -> String {
    [
        sleeper("keep", ""),
        program("respawn", "    cmd \"sleep\" \"3601\"\n    starttime 0"),
        sleeper(
            "supervise",
            "\n    autorestart #false\n    stoptime 3\n    startretries 7",
        ),
        sleeper("added", ""),
        sleeper("dormant", "\n    autostart #false"),
    ]
    .concat()
}

#[test]
fn reload_applies_what_diff_announced() {
    let d = Daemon::start(&old_config());
    let pid: BTreeMap<&str, u32> = ["keep", "respawn", "supervise", "gone"]
        .into_iter()
        .map(|n| (n, d.running_pid(n)))
        .collect();

    let out = d.ctl(&["diff", "--format", "json"]);
    assert_exit(&out, 0, "online diff without changes");
    d.sb.write_config(&new_config());
    let out = d.ctl(&["diff", "--format", "json"]);
    assert_exit(&out, 1, "online diff with changes");
    let actions = diff_actions(&out);
    let want: BTreeMap<String, String> = [
        ("added", "added"),
        ("dormant", "added"),
        ("gone", "removed"),
        ("keep", "unchanged"),
        ("respawn", "restart"),
        ("supervise", "update"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    assert_eq!(actions, want);
    // diff alone applies nothing.
    assert_eq!(d.pid_of("respawn"), pid["respawn"]);
    assert!(d.row("added").is_none());

    d.ok(&["reload"]);
    assert_eq!(d.pid_of("keep"), pid["keep"], "unchanged: same pid");
    let respawned = d.running_pid("respawn");
    assert_ne!(respawned, pid["respawn"], "cmd change restarts");
    assert!(!pid_alive(pid["respawn"]));
    assert_eq!(
        d.pid_of("supervise"),
        pid["supervise"],
        "supervision-only change keeps the pid"
    );
    d.running_pid("added");
    let dormant = d.must_row("dormant");
    assert_eq!(
        dormant["state"], "STOPPED",
        "added without autostart: {dormant}"
    );
    wait_for("removed program gone from status", LONG, || {
        d.row("gone").is_none()
    });
    assert!(!pid_alive(pid["gone"]), "removed program stopped");
    assert_eq!(
        d.sb.read("gone.term"),
        "graceful\n",
        "stopped with its stopsignal"
    );

    let out = d.ctl(&["diff"]);
    assert_exit(&out, 0, "nothing left to apply");

    // The supervision change is in force: autorestart is now off.
    signal(pid["supervise"], Signal::SIGKILL);
    let row = d.wait_state("supervise", "EXITED");
    assert_eq!(row["signal"], "SIGKILL", "{row}");
}

/// Writes a config with an event log and `web` at `numprocs`.
fn logged_web(sb: &Sandbox, numprocs: u32) {
    sb.write(
        "taskmaster.kdl",
        &format!(
            "taskmaster {{\n    socket \"t.sock\"\n    logfile \"events.log\"\n}}\n{}",
            sleeper("web", &format!("\n    numprocs {numprocs}"))
        ),
    );
}

#[test]
fn numprocs_up_and_down_touch_only_the_difference() {
    let sb = Sandbox::new();
    logged_web(&sb, 3);
    let d = Daemon::start_in(sb, &[]);
    let before: Vec<u32> = (0..3).map(|i| d.running_pid(&format!("web:{i}"))).collect();

    logged_web(&d.sb, 5);
    d.ok(&["reload"]);
    for (i, pid) in before.iter().enumerate() {
        assert_eq!(d.pid_of(&format!("web:{i}")), *pid, "web:{i} kept");
    }
    let added: Vec<u32> = (3..5).map(|i| d.running_pid(&format!("web:{i}"))).collect();

    logged_web(&d.sb, 2);
    let out = d.ctl(&["diff"]);
    assert_exit(&out, 1, "diff of a scale-down");
    d.ok(&["reload"]);
    wait_for("web:2..4 gone", LONG, || d.names().len() == 2);
    let mut names = d.names();
    names.sort();
    assert_eq!(names, ["web:0", "web:1"]);
    assert_eq!(d.pid_of("web:0"), before[0]);
    assert_eq!(d.pid_of("web:1"), before[1]);
    for pid in [before[2], added[0], added[1]] {
        assert!(!pid_alive(pid), "scaled-down process {pid} stopped");
    }
    // The highest numbers go first: the event log shows web:4 stopping before web:3,
    // and web:3 before web:2.
    let log = d.sb.read("events.log").to_uppercase();
    let first_stop = |name: &str| {
        log.lines()
            .position(|l| l.contains(&format!("{name}:")) && l.contains("STOPPING"))
            .unwrap_or_else(|| panic!("no stop of {name} in the event log:\n{log}"))
    };
    let (w4, w3, w2) = (
        first_stop("WEB:4"),
        first_stop("WEB:3"),
        first_stop("WEB:2"),
    );
    assert!(
        w4 <= w3 && w3 <= w2,
        "stop order 4, 3, 2 (lines {w4}, {w3}, {w2}):\n{log}"
    );
}

#[test]
fn numprocs_crossing_one_keeps_the_pid_and_renames() {
    let d = Daemon::start(&sleeper("web", ""));
    let solo = d.running_pid("web");

    d.sb.write_config(&sleeper("web", "\n    numprocs 3"));
    d.ok(&["reload"]);
    assert_eq!(
        d.running_pid("web:0"),
        solo,
        "web became web:0 with its pid"
    );
    let w1 = d.running_pid("web:1");
    let w2 = d.running_pid("web:2");
    assert!(
        d.row("web").is_none(),
        "no process named plain `web` any more"
    );

    d.sb.write_config(&sleeper("web", "\n    numprocs 1"));
    d.ok(&["reload"]);
    wait_for("back to one process", LONG, || d.names() == ["web"]);
    assert_eq!(d.pid_of("web"), solo, "web:0 became web with its pid");
    for pid in [w1, w2] {
        assert!(!pid_alive(pid));
    }
}

#[test]
fn invalid_config_reload_changes_nothing_and_reports() {
    let d = Daemon::start(&sleeper("keep", ""));
    let keep = d.running_pid("keep");
    d.sb.write_config(&format!(
        "{}{}",
        sleeper("keep", "\n    numprocs 0"),
        sleeper("new", "")
    ));
    let out = d.ctl(&["reload"]);
    assert_exit(&out, 1, "reload of an invalid config");
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        said.contains("numprocs"),
        "diagnostics reach the client: {said}"
    );
    holds_for("nothing changed", Duration::from_millis(800), || {
        d.names() == ["keep"] && d.pid_of("keep") == keep
    });
}

#[test]
fn online_diff_against_another_file_applies_nothing() {
    let d = Daemon::start(&sleeper("keep", ""));
    let keep = d.running_pid("keep");
    let other = d.sb.write(
        "other.kdl",
        &format!("{}{}", crate::harness::PREAMBLE, sleeper("other", "")),
    );
    let out = d.ctl(&["diff", other.to_str().unwrap(), "--format", "json"]);
    assert_exit(&out, 1, "diff against other.kdl");
    let actions = diff_actions(&out);
    assert_eq!(actions.get("keep").map(String::as_str), Some("removed"));
    assert_eq!(actions.get("other").map(String::as_str), Some("added"));
    assert_eq!(d.names(), ["keep"]);
    assert_eq!(d.pid_of("keep"), keep);
}

#[test]
fn offline_diff_exit_codes() {
    let sb = Sandbox::new();
    sb.write("a.kdl", &sleeper("web", ""));
    sb.write("same.kdl", &sleeper("web", ""));
    sb.write("b.kdl", &sleeper("web", "\n    numprocs 2"));
    assert_exit(
        &sb.taskmaster(&["diff", "a.kdl", "same.kdl"]),
        0,
        "no change",
    );
    let out = sb.taskmaster(&["diff", "a.kdl", "b.kdl"]);
    assert_exit(&out, 1, "a change");
    assert!(text(&out.stdout).contains("web"), "{}", text(&out.stdout));
    let out = sb.taskmaster(&["diff", "a.kdl", "b.kdl", "--format", "json"]);
    assert_exit(&out, 1, "a change, as JSON");
    assert_eq!(
        diff_actions(&out).get("web").map(String::as_str),
        Some("update")
    );
    assert_exit(
        &sb.taskmaster(&["diff", "a.kdl", "missing.kdl"]),
        2,
        "unreadable file",
    );
}

#[test]
fn each_spawn_field_restarts_and_each_supervision_field_does_not() {
    let sb = Sandbox::new();
    std::fs::create_dir(sb.path("wd1")).expect("mkdir");
    std::fs::create_dir(sb.path("wd2")).expect("mkdir");
    // (program, old extra lines, new extra lines, restarts?)
    let cases: &[(&str, &str, &str, bool)] = &[
        ("umask", "umask 0o022", "umask 0o077", true),
        (
            "workingdir",
            "workingdir \"wd1\"",
            "workingdir \"wd2\"",
            true,
        ),
        ("env", "env { A \"1\"; }", "env { A \"2\"; }", true),
        ("stdout", "stdout \"a.out\"", "stdout \"b.out\"", true),
        ("stderr", "stderr \"a.err\"", "stderr \"discard\"", true),
        (
            "autorestart",
            "autorestart #true",
            "autorestart #false",
            false,
        ),
        ("exitcodes", "exitcodes 0", "exitcodes 0 2", false),
        ("startretries", "startretries 3", "startretries 5", false),
        ("starttime", "starttime 0", "starttime 2", false),
        (
            "stopsignal",
            "stopsignal \"TERM\"",
            "stopsignal \"INT\"",
            false,
        ),
        ("stoptime", "stoptime 10", "stoptime 3", false),
        ("autostart", "autostart #true", "autostart #false", false),
    ];
    let config = |new: bool| {
        cases
            .iter()
            .map(|(name, old_line, new_line, _)| {
                let line = if new { new_line } else { old_line };
                // starttime is the field under test for one program; the others start at once.
                let starttime = if *name == "starttime" {
                    ""
                } else {
                    "\n    starttime 0"
                };
                program(
                    name,
                    &format!("    cmd \"sleep 3600\"{starttime}\n    {line}"),
                )
            })
            .collect::<String>()
    };
    sb.write_config(&config(false));
    let d = Daemon::start_in(sb, &[]);
    let before: Vec<u32> = cases.iter().map(|c| d.running_pid(c.0)).collect();
    d.sb.write_config(&config(true));
    let out = d.ctl(&["diff", "--format", "json"]);
    assert_exit(&out, 1, "diff");
    let actions = diff_actions(&out);
    d.ok(&["reload"]);
    for ((name, _, _, restarts), old) in cases.iter().zip(before) {
        let now = d.running_pid(name);
        if *restarts {
            assert_ne!(now, old, "a {name} change restarts the process");
            assert_eq!(actions[*name], "restart", "diff says restart for {name}");
        } else {
            assert_eq!(now, old, "a {name} change keeps the process");
            assert_eq!(actions[*name], "update", "diff says update for {name}");
        }
    }
}
