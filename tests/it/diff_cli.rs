//! `taskmaster diff OLD NEW` (offline), run as the real binary against the fixture pairs in
//! `tests/fixtures/diff/<case>/{old,new}.kdl`: stdout and exit status for every kind of change.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diff")
}

fn run(args: &[&Path], json: bool) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_taskmaster"));
    cmd.arg("diff").args(args).env_remove("NO_COLOR");
    if json {
        cmd.args(["--format", "json"]);
    }
    cmd.output().expect("the taskmaster binary runs")
}

/// `diff old.kdl new.kdl` of one fixture case (`reversed` swaps them): (stdout, exit status).
fn diff_case(case: &str, reversed: bool) -> (String, i32) {
    let (old, new) = (
        fixtures().join(case).join("old.kdl"),
        fixtures().join(case).join("new.kdl"),
    );
    let out = if reversed {
        run(&[&new, &old], false)
    } else {
        run(&[&old, &new], false)
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "{case}: unexpected stderr:\n{stderr}");
    (
        String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        out.status.code().expect("exited, not killed"),
    )
}

#[test]
fn added_program() {
    let (stdout, code) = diff_case("add", false);
    assert_eq!(
        stdout,
        "+ api (added)\n1 to add, 0 to restart, 0 to update, 0 to remove, 1 unchanged\n"
    );
    assert_eq!(code, 1);
}

#[test]
fn removed_program() {
    let (stdout, code) = diff_case("remove", false);
    assert_eq!(
        stdout,
        "- api (removed)\n0 to add, 0 to restart, 0 to update, 1 to remove, 1 unchanged\n"
    );
    assert_eq!(code, 1);
}

#[test]
fn spawn_change_restarts() {
    let (stdout, code) = diff_case("restart", false);
    assert_eq!(
        stdout,
        concat!(
            "~ web: restart\n",
            "    cmd: \"python3 -m http.server 8080 --bind 127.0.0.1\" → ",
            "\"python3 -m http.server 8081 --bind 127.0.0.1\"\n",
            "    stderr: memory → \"discard\"\n",
            "    env: PORT added (values hidden; --show-values prints them)\n",
            "0 to add, 1 to restart, 0 to update, 0 to remove, 1 unchanged\n",
        )
    );
    assert_eq!(code, 1);
}

/// `env` values are secrets more often than not: the diff names the keys, and prints the
/// values only with `--show-values`, in the text and in the JSON.
#[test]
fn env_values_are_shown_only_when_asked() {
    let case = fixtures().join("restart");
    let (old, new) = (case.join("old.kdl"), case.join("new.kdl"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_taskmaster"));
    let out = cmd
        .args(["diff", "--show-values"])
        .args([&old, &new])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("    env: {GREETING=\"hello\"} → {GREETING=\"hello\"; PORT=\"8081\"}\n"),
        "{text}"
    );
    let hidden = run(&[&old, &new], true);
    let json: serde_json::Value = serde_json::from_slice(&hidden.stdout).expect("JSON");
    let env = json["programs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["name"] == "web")
        .flat_map(|p| p["changes"].as_array().cloned().unwrap_or_default())
        .find(|c| c["field"] == "env")
        .unwrap_or_else(|| panic!("no env change in {json:#}"));
    assert_eq!(env["old"], "(hidden)");
    assert_eq!(env["new"], "(hidden)");
    assert_eq!(
        env["keys"],
        serde_json::json!([{"key": "PORT", "change": "added"}])
    );
    assert!(!String::from_utf8_lossy(&hidden.stdout).contains("PORT=\\\"8081"));
}

/// `--json` is `--format json` for every command that prints JSON.
#[test]
fn json_is_accepted_in_both_spellings() {
    let case = fixtures().join("restart");
    let (old, new) = (case.join("old.kdl"), case.join("new.kdl"));
    let long = run(&[&old, &new], true);
    let short = Command::new(env!("CARGO_BIN_EXE_taskmaster"))
        .args(["diff", "--json"])
        .args([&old, &new])
        .output()
        .expect("runs");
    assert_eq!(long.stdout, short.stdout);
    assert_eq!(short.status.code(), Some(1));
    let check_json = |flag: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_taskmaster"))
            .arg("check")
            .args(flag)
            .arg(&new)
            .output()
            .expect("runs")
    };
    let a = check_json(&["--json"]);
    let b = check_json(&["--format", "json"]);
    assert_eq!(a.stdout, b.stdout);
    assert!(serde_json::from_slice::<serde_json::Value>(&a.stdout).is_ok());
    // Both at once, disagreeing, is a usage error.
    let both = check_json(&["--json", "--format", "human"]);
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn supervision_change_updates_in_place() {
    let (stdout, code) = diff_case("update", false);
    assert_eq!(
        stdout,
        concat!(
            "~ worker: update in place\n",
            "    autorestart: \"unexpected\" → #true\n",
            "    exitcodes: 0 → 0 2\n",
            "    stopsignal: TERM → INT\n",
            "    stoptime: 10s → 500ms\n",
            "0 to add, 0 to restart, 1 to update, 0 to remove, 0 unchanged\n",
        )
    );
    assert_eq!(code, 1);
}

#[test]
fn scale_up_starts_the_new_processes() {
    let (stdout, code) = diff_case("scale_up", false);
    assert_eq!(
        stdout,
        concat!(
            "~ worker: update in place\n",
            "    numprocs: 2 → 4 (start worker:2, worker:3)\n",
            "0 to add, 0 to restart, 1 to update, 0 to remove, 0 unchanged\n",
        )
    );
    assert_eq!(code, 1);
}

#[test]
fn scale_down_stops_the_highest_numbers_first() {
    let (stdout, code) = diff_case("scale_down", false);
    assert_eq!(
        stdout,
        concat!(
            "~ worker: update in place\n",
            "    numprocs: 4 → 2 (stop worker:3, worker:2)\n",
            "0 to add, 0 to restart, 1 to update, 0 to remove, 0 unchanged\n",
        )
    );
    assert_eq!(code, 1);
}

#[test]
fn crossing_one_keeps_the_pid_under_a_new_name() {
    let (up, code) = diff_case("cross_one", false);
    assert_eq!(
        up,
        concat!(
            "~ web: update in place\n",
            "    numprocs: 1 → 3 (web → web:0 keeps its pid; start web:1, web:2)\n",
            "0 to add, 0 to restart, 1 to update, 0 to remove, 0 unchanged\n",
        )
    );
    assert_eq!(code, 1);
    let (down, code) = diff_case("cross_one", true);
    assert_eq!(
        down,
        concat!(
            "~ web: update in place\n",
            "    numprocs: 3 → 1 (stop web:2, web:1; web:0 → web keeps its pid)\n",
            "0 to add, 0 to restart, 1 to update, 0 to remove, 0 unchanged\n",
        )
    );
    assert_eq!(code, 1);
}

#[test]
fn same_meaning_differently_written_is_no_change() {
    let (stdout, code) = diff_case("unchanged", false);
    assert_eq!(stdout, "no changes\n");
    assert_eq!(code, 0);
}

#[test]
fn a_file_against_itself_is_no_change() {
    let file = fixtures().join("restart/new.kdl");
    let out = run(&[&file, &file], false);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "no changes\n");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn daemon_settings_resolve_against_the_file() {
    let (stdout, code) = diff_case("daemon", false);
    let dir = fixtures().join("daemon");
    let path = |name: &str| format!("{:?}", dir.join(name).display().to_string());
    assert_eq!(
        stdout,
        format!(
            "~ taskmaster: daemon settings\n    socket: {} → {}\n    logfile: default → {}\n{}\n",
            path("old.sock"),
            path("new.sock"),
            path("taskmaster.log"),
            "0 to add, 0 to restart, 0 to update, 0 to remove, 1 unchanged, daemon settings changed"
        )
    );
    assert_eq!(code, 1);
}

#[test]
fn json_is_the_diff_object_with_changed() {
    let dir = fixtures().join("scale_up");
    let out = run(&[&dir.join("old.kdl"), &dir.join("new.kdl")], true);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(
        json,
        serde_json::json!({
            "changed": true,
            "daemon": [],
            "programs": [{
                "name": "worker",
                "action": "update",
                "scale": {"from": 2, "to": 4},
                "changes": [{"field": "numprocs", "class": "scale", "old": "2", "new": "4"}],
            }],
        })
    );

    let same = fixtures().join("unchanged");
    let out = run(&[&same.join("old.kdl"), &same.join("new.kdl")], true);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(json["changed"], false);
    assert_eq!(json["programs"][0]["action"], "unchanged");
}

#[test]
fn an_invalid_file_is_an_error_with_its_diagnostics() {
    let dir = fixtures().join("invalid");
    for args in [
        [dir.join("old.kdl"), dir.join("new.kdl")],
        [dir.join("new.kdl"), dir.join("old.kdl")],
    ] {
        let out = run(&[&args[0], &args[1]], false);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            out.stdout.is_empty(),
            "nothing on stdout for an invalid file"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("numprocs"), "{stderr}");
        assert!(
            stderr.contains("autorestart"),
            "every problem is shown: {stderr}"
        );
    }
}

#[test]
fn an_unreadable_file_is_a_one_line_error() {
    let good = fixtures().join("add/old.kdl");
    let missing = fixtures().join("no-such-file.kdl");
    let out = run(&[&good, &missing], false);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no-such-file.kdl"), "{stderr}");

    // A directory is unreadable as a config too.
    let out = run(&[&fixtures(), &good], false);
    assert_eq!(out.status.code(), Some(2));
}
