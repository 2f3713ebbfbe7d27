//! `taskmaster check`: the summary line, exit codes 0/1/2, and the `--format json` object.

use serde_json::Value;

use crate::harness::{PREAMBLE, Sandbox, assert_exit, text};

fn check_json(sb: &Sandbox) -> (i32, Value) {
    let out = sb.taskmaster(&["check", "--format", "json", "taskmaster.kdl"]);
    let code = out.status.code().unwrap_or(-1);
    let value: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "check --format json did not print one JSON object ({e}):\n{}\nstderr:\n{}",
            text(&out.stdout),
            text(&out.stderr)
        )
    });
    (code, value)
}

#[test]
fn valid_config_prints_a_one_line_summary_and_exits_0() {
    let sb = Sandbox::new();
    sb.write_config(
        "program \"web\" {\n    cmd \"sleep 60\"\n    numprocs 2\n}\nprogram \"db\" {\n    cmd \"sleep\" \"60\"\n}\n",
    );
    let out = sb.taskmaster(&["check", "taskmaster.kdl"]);
    assert_exit(&out, 0, "check of a valid config");
    let stdout = text(&out.stdout);
    assert_eq!(stdout.trim().lines().count(), 1, "one line: {stdout:?}");
    assert!(
        stdout.starts_with("ok:")
            && stdout.contains("2 programs")
            && stdout.contains("3 processes"),
        "summary should read like `ok: 2 programs, 3 processes`, got {stdout:?}"
    );
}

#[test]
fn invalid_config_reports_every_problem_and_exits_1() {
    let sb = Sandbox::new();
    // Two independent errors: numprocs 0 and a program without cmd.
    sb.write_config(
        "program \"web\" {\n    cmd \"sleep 60\"\n    numprocs 0\n}\nprogram \"nocmd\" {\n    numprocs 1\n}\n",
    );
    let out = sb.taskmaster(&["check", "taskmaster.kdl"]);
    assert_exit(&out, 1, "check of an invalid config");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("numprocs"),
        "numprocs problem reported: {stderr}"
    );
    assert!(stderr.contains("cmd"), "missing cmd reported: {stderr}");

    let (code, json) = check_json(&sb);
    assert_eq!(code, 1);
    assert_eq!(json["valid"], false, "{json:#}");
    let diags = json["diagnostics"].as_array().expect("diagnostics array");
    let errors: Vec<&Value> = diags.iter().filter(|d| d["severity"] == "error").collect();
    assert!(errors.len() >= 2, "both errors listed: {json:#}");
}

#[test]
fn json_diagnostics_carry_position_and_all_keys() {
    let sb = Sandbox::new();
    // PREAMBLE is 3 lines; `numprocs 0` is on line 6, after 4 spaces.
    sb.write_config("program \"web\" {\n    cmd \"sleep 60\"\n    numprocs 0\n}\n");
    assert_eq!(PREAMBLE.lines().count(), 3);
    let (code, json) = check_json(&sb);
    assert_eq!(code, 1, "{json:#}");
    assert!(json["file"].is_string(), "file key: {json:#}");
    let diag = json["diagnostics"]
        .as_array()
        .and_then(|d| d.first())
        .unwrap_or_else(|| panic!("one diagnostic: {json:#}"))
        .clone();
    for key in [
        "severity", "code", "message", "help", "line", "column", "offset", "length",
    ] {
        assert!(diag.get(key).is_some(), "diagnostic lacks {key}: {diag:#}");
    }
    assert_eq!(diag["severity"], "error");
    assert_eq!(diag["line"], 6, "1-based line of `numprocs 0`: {diag:#}");
    let column = diag["column"].as_u64().expect("numeric column");
    assert!(
        (5..=14).contains(&column),
        "column points into `numprocs 0` (1-based, starts at 5): {diag:#}"
    );
    let config = sb.read("taskmaster.kdl");
    let offset = diag["offset"].as_u64().expect("numeric offset") as usize;
    let length = diag["length"].as_u64().expect("numeric length") as usize;
    let labelled = config.get(offset..offset + length).unwrap_or("");
    assert!(
        labelled.contains("numprocs") || labelled.contains('0'),
        "offset/length label the bad field, got {labelled:?}"
    );
}

#[test]
fn json_of_a_valid_config_has_empty_diagnostics() {
    let sb = Sandbox::new();
    sb.write_config("program \"a\" {\n    cmd \"sleep 60\"\n}\n");
    let (code, json) = check_json(&sb);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["valid"], true);
    assert_eq!(json["diagnostics"], Value::Array(vec![]), "{json:#}");
}

#[test]
fn misspelled_field_suggests_the_right_one() {
    let sb = Sandbox::new();
    sb.write_config("program \"a\" {\n    cmd \"sleep 60\"\n    autostrat #true\n}\n");
    let (code, json) = check_json(&sb);
    assert_eq!(code, 1, "unknown field is an error: {json:#}");
    let all = json["diagnostics"].to_string();
    assert!(
        all.contains("autostart"),
        "did-you-mean `autostart`: {json:#}"
    );
}

#[test]
fn decimal_umask_is_a_warning_not_an_error() {
    let sb = Sandbox::new();
    sb.write_config("program \"a\" {\n    cmd \"sleep 60\"\n    umask 022\n}\n");
    let (code, json) = check_json(&sb);
    assert_eq!(code, 0, "a warning keeps the config valid: {json:#}");
    assert_eq!(json["valid"], true);
    let diags = json["diagnostics"].as_array().expect("diagnostics");
    assert!(
        diags.iter().any(|d| d["severity"] == "warning"),
        "umask 022 warns: {json:#}"
    );
}

#[test]
fn all_documented_forms_are_accepted() {
    let sb = Sandbox::new();
    sb.write_config(concat!(
        "program \"full\" {\n",
        "    cmd \"python3 -m http.server 8080\"\n",
        "    numprocs 2\n",
        "    umask 0o022\n",
        "    workingdir \"/tmp\"\n",
        "    autostart #true\n",
        "    autorestart \"unexpected\"\n",
        "    exitcodes 0 2\n",
        "    startretries 3\n",
        "    starttime 1\n",
        "    stopsignal \"TERM\"\n",
        "    stoptime 10\n",
        "    stdout \"web.out\"\n",
        "    stderr \"discard\"\n",
        "    env { GREETING \"hello\"; PORT \"8080\"; }\n",
        "}\n",
        "program \"b\" {\n    cmd \"sleep\" \"1\"\n    umask \"022\"\n    autorestart #false\n    stopsignal \"SIGUSR1\"\n    starttime \"500ms\"\n    stoptime \"1.5s\"\n}\n",
        "program \"c\" {\n    cmd \"sleep 1\"\n    autorestart #true\n    stopsignal 10\n    starttime 0\n}\n",
    ));
    let out = sb.taskmaster(&["check", "taskmaster.kdl"]);
    assert_exit(&out, 0, "every documented form");
    assert!(
        text(&out.stdout).contains("3 programs"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stdout).contains("4 processes"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn kdl_v1_documents_are_accepted() {
    let sb = Sandbox::new();
    sb.write(
        "v1.kdl",
        "program \"a\" {\n    cmd \"sleep 60\"\n    autostart true\n}\n",
    );
    let out = sb.taskmaster(&["check", "v1.kdl"]);
    assert_exit(&out, 0, "a KDL 1 document");
}

#[test]
fn unreadable_file_or_bad_usage_exits_2() {
    let sb = Sandbox::new();
    let out = sb.taskmaster(&["check", "does-not-exist.kdl"]);
    assert_exit(&out, 2, "check of a missing file");
    let out = sb.taskmaster(&["check"]);
    assert_exit(&out, 2, "check without a file");
    let out = sb.taskmaster(&["check", "--format", "yaml", "x.kdl"]);
    assert_exit(&out, 2, "check with a bad format");
}
