//! The config compiler against its fixtures, and `taskmaster check` end to end.
//!
//! `tests/fixtures/invalid/*.kdl` each fail to compile; their rendered diagnostics are
//! snapshots. `tests/fixtures/valid/*.kdl` each compile; their warnings and plan (as JSON)
//! are snapshots. Everything compiles against the fixed folder `/cfg` so paths are stable.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use taskmaster::plan::{Code, Report, compile};

const BASE: &str = "/cfg";

fn fixture(path: &Path) -> (String, String) {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    (name, text)
}

fn render(report: &Report) -> String {
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .with_width(80)
        .with_links(false)
        .render_report(&mut out, report)
        .unwrap();
    out
}

#[test]
fn invalid_configs() {
    insta::glob!("../fixtures/invalid", "*.kdl", |path| {
        let (name, text) = fixture(path);
        let Err(report) = compile(&name, &text, Path::new(BASE)) else {
            panic!("{name} compiled but is in fixtures/invalid")
        };
        assert!(report.has_errors());
        assert_eq!(render(&report), report.render(false));
        insta::assert_snapshot!(render(&report));
    });
}

#[test]
fn valid_configs() {
    insta::glob!("../fixtures/valid", "*.kdl", |path| {
        let (name, text) = fixture(path);
        let compiled = match compile(&name, &text, Path::new(BASE)) {
            Ok(c) => c,
            Err(report) => panic!("{name} is invalid:\n{}", render(&report)),
        };
        let plan = serde_json::to_string_pretty(&compiled.plan).unwrap();
        let warnings = if compiled.warnings.is_empty() {
            "(no warnings)\n".to_owned()
        } else {
            render(&compiled.warnings)
        };
        insta::assert_snapshot!(format!("{warnings}\n{plan}\n"));
    });
}

/// Every diagnostic code is exercised by at least one fixture, so each has an example.
#[test]
fn every_code_has_a_fixture() {
    let mut seen = BTreeSet::new();
    for dir in ["tests/fixtures/invalid", "tests/fixtures/valid"] {
        for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)).unwrap() {
            let (name, text) = fixture(&entry.unwrap().path());
            let report = match compile(&name, &text, Path::new(BASE)) {
                Ok(c) => c.warnings,
                Err(r) => r,
            };
            seen.extend(report.problems().iter().map(|p| p.code.name()));
        }
    }
    // These need more than a fixture's text: a file over 16 MiB, a node over 64 KiB, a
    // FIFO on disk, an env file with a bad line. Tests below raise each of them for real.
    const NOT_FROM_TEXT: &[&str] = &[
        "config_too_large",
        "node_too_large",
        "fifo_target",
        "env_file_syntax",
    ];
    let missing: Vec<_> = Code::ALL
        .iter()
        .map(|c| c.name())
        .filter(|c| !seen.contains(c) && !NOT_FROM_TEXT.contains(c))
        .collect();
    assert!(missing.is_empty(), "codes without a fixture: {missing:?}");
}

fn check(args: &[&str], dir: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_taskmaster"))
        .arg("check")
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn check_reports_a_summary_for_a_valid_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.kdl"),
        "program a { cmd \"sleep 1\"; numprocs 2 }\nprogram b { cmd x; umask 022 }\n",
    )
    .unwrap();
    let (code, stdout, stderr) = check(&["t.kdl"], dir.path());
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "ok: 2 programs, 3 processes\n");
    assert!(stderr.contains("umask_decimal"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "colour while NO_COLOR is set: {stderr}"
    );

    let (code, stdout, _) = check(&["--format", "json", "t.kdl"], dir.path());
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["valid"], true);
    assert_eq!(json["file"], "t.kdl");
    assert_eq!(json["diagnostics"][0]["severity"], "warning");
    assert_eq!(json["diagnostics"][0]["line"], 2);
}

#[test]
fn check_reports_every_problem_of_an_invalid_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.kdl"),
        "program a { numprocs 0 }\nprogam b { cmd x }\n",
    )
    .unwrap();
    let (code, stdout, stderr) = check(&["bad.kdl"], dir.path());
    assert_eq!(code, 1);
    assert!(stdout.is_empty(), "{stdout}");
    for expected in [
        "taskmaster::numprocs_range",
        "taskmaster::missing_cmd",
        "taskmaster::unknown_node",
        "did you mean `program`?",
        "bad.kdl:1:22",
    ] {
        assert!(
            stderr.contains(expected),
            "{expected} missing from:\n{stderr}"
        );
    }

    let (code, stdout, _) = check(&["--format", "json", "bad.kdl"], dir.path());
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["valid"], false);
    let diags = json["diagnostics"].as_array().unwrap();
    assert_eq!(diags.len(), 3);
    let first = &diags[0];
    assert_eq!(first["code"], "taskmaster::missing_cmd");
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        (first["offset"].as_u64(), first["length"].as_u64()),
        (Some(0), Some(7))
    );
    assert_eq!(diags[1]["code"], "taskmaster::numprocs_range");
    assert_eq!(diags[1]["column"], 22);
}

/// One diagnostic per bad value, also within a single setting, each at its own value.
#[test]
fn every_bad_value_of_one_setting_is_reported() {
    let text = "program w {\n    cmd \"sleep\" 10 #true\n    exitcodes 256 0 -1 \"2\" 300\n}\n";
    let report = compile("t.kdl", text, Path::new(BASE)).unwrap_err();
    let found: Vec<(&str, &str)> = report
        .problems()
        .iter()
        .map(|p| {
            (
                p.code.name(),
                &text[p.span.offset()..p.span.offset() + p.span.len()],
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("wrong_type", "10"),
            ("wrong_type", "#true"),
            ("exitcode_range", "256"),
            ("exitcode_range", "-1"),
            ("wrong_type", "\"2\""),
            ("exitcode_range", "300"),
        ]
    );
}

#[test]
fn check_exits_2_on_an_unreadable_file() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = check(&["missing.kdl"], dir.path());
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert_eq!(stderr, "error: cannot read missing.kdl: no such file\n");

    let (code, stdout, _) = check(&["--format", "json", "."], dir.path());
    assert_eq!(code, 2);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["valid"], false);
    assert!(json["error"].as_str().unwrap().contains("directory"));
}

/// A config of `n` programs using every setting; `warn` adds a warning to each program.
fn big_config(n: usize, warn: bool) -> String {
    let mut text = String::from("taskmaster { socket \"/tmp/tm.sock\" }\n");
    for i in 0..n {
        text.push_str(&format!(
            "program \"p{i}\" {{\n    cmd \"sleep {i}\"\n    numprocs 2\n    umask {}\n    \
             workingdir \"/tmp\"\n    autostart #true\n    autorestart \"unexpected\"\n    \
             exitcodes 0 2\n    startretries 3\n    starttime \"500ms\"\n    stopsignal \"TERM\"\n    \
             stoptime 10\n    stdout \"/tmp/p{i}.out\"\n    stderr \"discard\"\n    \
             env {{ GREETING \"hello\"; PORT \"8080\" }}\n}}\n",
            if warn { "022" } else { "0o022" }
        ));
    }
    text
}

/// What taskmaster adds on top of the bare KDL parse must stay small and linear.
/// Run with `cargo test --release --test it -- --ignored --nocapture compile::overhead`.
#[test]
#[ignore = "timing; run by hand in release mode"]
fn overhead_over_the_kdl_parse() {
    use std::time::Instant;
    for n in [2_500, 5_000, 10_000] {
        for warn in [false, true] {
            let text = big_config(n, warn);
            // The fastest of three runs each, to keep a loaded machine's noise out.
            let best = |f: &dyn Fn()| {
                (0..3)
                    .map(|_| {
                        let t = Instant::now();
                        f();
                        t.elapsed()
                    })
                    .min()
                    .unwrap()
            };
            let parse = best(&|| drop(kdl::KdlDocument::parse_v2(&text).unwrap()));
            let total = best(&|| drop(compile("big.kdl", &text, Path::new("/cfg")).unwrap()));
            let compiled = compile("big.kdl", &text, Path::new("/cfg")).unwrap();
            let report = best(&|| {
                compiled.warnings.render(false);
                compiled.warnings.to_json();
            });
            let rendered = compiled.warnings.render(false);
            let json = compiled.warnings.to_json();
            assert_eq!(compiled.plan.programs.len(), n);
            assert!(json["valid"].as_bool().unwrap() && (rendered.is_empty() != warn));
            let overhead = total.saturating_sub(parse) + report;
            println!(
                "{n:>6} programs, {:>7} KiB, warnings {warn:>5}: parse {parse:>10.1?}, \
                 compile {total:>10.1?}, render+json {report:>9.1?}, overhead {:>5.1}%",
                text.len() / 1024,
                100.0 * overhead.as_secs_f64() / parse.as_secs_f64()
            );
        }
    }
}

/// `taskmaster check --format json CONFIG | head -c 10`: a reader that goes away ends the
/// command quietly by SIGPIPE, as with any Unix tool, instead of a panic in `println!`.
#[test]
fn check_dies_quietly_when_its_reader_goes_away() {
    use std::os::unix::process::ExitStatusExt as _;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.kdl"), "program a { cmd x }\n").unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_taskmaster"))
        .args(["check", "--format", "json", "t.kdl"])
        .current_dir(dir.path())
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.signal(), Some(nix::libc::SIGPIPE), "{stderr}");
}

/// `taskmaster check` on a file in `dir`, with a bounded wait: a check that hangs fails the
/// test instead of hanging it.
fn check_bounded(args: &[&str], dir: &Path) -> (i32, String, String) {
    use std::io::Read as _;
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let mut child = Command::new(env!("CARGO_BIN_EXE_taskmaster"))
        .arg("check")
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drain both pipes on threads so a chatty check never blocks on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("check {args:?} still running after 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = String::from_utf8_lossy(&out.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
    (status.code().unwrap_or(-1), stdout, stderr)
}

/// The codes of `check --format json`'s diagnostics.
fn json_codes(stdout: &str) -> Vec<String> {
    let json: serde_json::Value =
        serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout:.300}"));
    json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            d["code"]
                .as_str()
                .unwrap()
                .trim_start_matches("taskmaster::")
                .to_owned()
        })
        .collect()
}

/// Runs `check` (JSON, then human) on `bytes` written to a file; both must end in 0, 1 or 2
/// and agree. Returns the exit status and the codes.
fn check_bytes(bytes: &[u8]) -> (i32, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hostile.kdl"), bytes).unwrap();
    let (code, stdout, stderr) = check_bounded(&["--format", "json", "hostile.kdl"], dir.path());
    assert!([0, 1, 2].contains(&code), "exit {code}: {stderr:.2000}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("overflow"),
        "{stderr:.2000}"
    );
    let codes = if code == 2 {
        Vec::new()
    } else {
        json_codes(&stdout)
    };
    let (human, _, stderr) = check_bounded(&["hostile.kdl"], dir.path());
    assert_eq!(human, code, "{stderr:.2000}");
    (code, codes)
}

fn syslog_lines(n: usize) -> String {
    (0..n)
        .map(|i| match i % 4 {
            0 => format!("Nov 29 15:14:{:02} host systemd[1]: Started Session {i} of user root.\n", i % 60),
            1 => format!("Nov 29 15:14:{:02} host sshd[{i}]: pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)\n", i % 60),
            2 => format!("Nov 29 15:14:{:02} host kernel: [{i}.123] eth0: link up\n", i % 60),
            _ => format!("Nov 29 15:14:{:02} host CRON[{i}]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)\n", i % 60),
        })
        .collect()
}

/// Issue 7: each of these aborted `check` (exit 134, stack overflow) or read forever.
#[test]
fn check_survives_hostile_files() {
    let (code, codes) = check_bytes("a {".repeat(3000).as_bytes());
    assert_eq!((code, codes), (1, vec!["nesting_too_deep".to_owned()]));

    let (code, codes) = check_bytes("}\n".repeat(20_000).as_bytes());
    assert_eq!(code, 1);
    assert_eq!(codes.len(), 101, "capped at 100 errors and a note");
    assert!(codes.iter().all(|c| c == "syntax"));

    let (code, codes) = check_bytes(syslog_lines(7_500).as_bytes());
    assert_eq!(code, 1);
    assert!(
        !codes.is_empty() && codes.iter().all(|c| c == "syntax"),
        "{codes:?}"
    );

    let (code, codes) = check_bytes(b"program \"a\0b\" { cmd \"x\0\" }\0\0\n");
    assert_eq!(code, 1);
    assert!(codes.iter().all(|c| c == "syntax"), "{codes:?}");

    let (code, codes) = check_bytes(b"program \"w\xffeb\" { cmd x }\n");
    assert_eq!(
        (code, codes),
        (2, vec![]),
        "invalid UTF-8 is an unreadable file"
    );

    // One line of 16 MiB: too long a node to parse.
    let (code, codes) = check_bytes(")".repeat(16 * 1024 * 1024).as_bytes());
    assert_eq!((code, codes), (1, vec!["node_too_large".to_owned()]));
}

/// The worst input exactly at the size cap: a piece of `}` lines after another, up to 16 MiB.
#[test]
fn check_survives_16_mib_of_closing_braces() {
    let mut text = "}\n".repeat(8 * 1024 * 1024);
    text.truncate(16 * 1024 * 1024);
    let (code, codes) = check_bytes(text.as_bytes());
    assert_eq!(code, 1);
    assert_eq!(codes.len(), 101);
}

#[test]
fn check_refuses_configs_over_16_mib_without_reading_them() {
    let dir = tempfile::tempdir().unwrap();
    // 17 MiB, sparse: the size alone refuses it.
    let big = std::fs::File::create(dir.path().join("big.kdl")).unwrap();
    big.set_len(17 * 1024 * 1024).unwrap();
    let (code, stdout, stderr) = check_bounded(&["--format", "json", "big.kdl"], dir.path());
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(json_codes(&stdout), ["config_too_large"]);
    let (code, _, stderr) = check_bounded(&["big.kdl"], dir.path());
    assert_eq!(code, 1);
    assert!(stderr.contains("taskmaster::config_too_large"), "{stderr}");
    assert!(stderr.contains("over 16 MiB (17825792 bytes)"), "{stderr}");

    // A device that never ends: read up to the cap, then refused.
    let (code, stdout, stderr) = check_bounded(&["--format", "json", "/dev/zero"], dir.path());
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(json_codes(&stdout), ["config_too_large"]);
    let (_, _, stderr) = check_bounded(&["/dev/zero"], dir.path());
    assert!(stderr.contains("the config is over 16 MiB;"), "{stderr}");
}

/// Issue 12: `check` without CONFIG reads ./taskmaster.kdl, as `run` does.
#[test]
fn check_defaults_to_taskmaster_kdl() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = check_bounded(&[], dir.path());
    assert_eq!(code, 2, "{stdout}");
    assert_eq!(stderr, "error: cannot read taskmaster.kdl: no such file\n");
    std::fs::write(dir.path().join("taskmaster.kdl"), "program a { cmd x }\n").unwrap();
    let (code, stdout, _) = check_bounded(&[], dir.path());
    assert_eq!((code, stdout.as_str()), (0, "ok: 1 program, 1 process\n"));
}

/// Issue 12: a supervisord.conf gives one error that names `taskmaster import`.
#[test]
fn check_recognises_a_supervisord_config() {
    let dir = tempfile::tempdir().unwrap();
    let conf = "[supervisord]\nnodaemon=true\n\n[program:web]\ncommand=python3 -m http.server\n\
                autostart=true\nstdout_logfile=/dev/stdout\nstdout_logfile_maxbytes=0\n";
    std::fs::write(dir.path().join("supervisord.conf"), conf).unwrap();
    let (code, stdout, _) = check_bounded(&["--format", "json", "supervisord.conf"], dir.path());
    assert_eq!(code, 1);
    assert_eq!(json_codes(&stdout), ["ini_file"]);
    let (_, _, stderr) = check_bounded(&["supervisord.conf"], dir.path());
    assert!(
        stderr.contains("taskmaster import supervisord.conf"),
        "{stderr}"
    );
}

/// Issue 12 and the contract: a log target that is a directory is an error at its span; one
/// that is a FIFO is a warning, and checking it never opens (so never blocks on) the FIFO.
#[test]
fn check_looks_at_what_log_targets_are() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    nix::unistd::mkfifo(&dir.path().join("out.pipe"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let text = "taskmaster { logfile \"logs\" }\nprogram a {\n    cmd x\n    stdout \"out.pipe\"\n    stderr \"logs/\"\n}\n";
    std::fs::write(dir.path().join("t.kdl"), text).unwrap();
    let (code, stdout, stderr) = check_bounded(&["--format", "json", "t.kdl"], dir.path());
    assert_eq!(code, 1, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let found: Vec<(String, String)> = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let (o, l) = (
                d["offset"].as_u64().unwrap() as usize,
                d["length"].as_u64().unwrap() as usize,
            );
            (
                d["code"].as_str().unwrap().to_owned(),
                text[o..o + l].to_owned(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                "taskmaster::path_is_directory".to_owned(),
                "\"logs\"".to_owned()
            ),
            (
                "taskmaster::fifo_target".to_owned(),
                "\"out.pipe\"".to_owned()
            ),
            (
                "taskmaster::path_is_directory".to_owned(),
                "\"logs/\"".to_owned()
            ),
        ]
    );
    assert_eq!(json["diagnostics"][1]["severity"], "warning");
}

/// Offline `diff` goes through the same loader: hostile files are errors (exit 2), never an
/// abort.
#[test]
fn offline_diff_survives_hostile_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.kdl"), "program a { cmd x }\n").unwrap();
    std::fs::write(dir.path().join("deep.kdl"), "a {".repeat(3000)).unwrap();
    std::fs::write(dir.path().join("braces.kdl"), "}\n".repeat(20_000)).unwrap();
    for bad in ["deep.kdl", "braces.kdl", "/dev/zero"] {
        let out = Command::new(env!("CARGO_BIN_EXE_taskmaster"))
            .args(["diff", "good.kdl", bad])
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr:.2000}");
        assert!(stderr.contains("taskmaster::"), "{bad}: {stderr:.2000}");
    }
}

/// `run` compiles through the same loader: a hostile config is an invalid one (exit 1),
/// before any socket or program exists.
#[test]
fn run_refuses_hostile_configs_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("deep.kdl", "a {".repeat(3000)),
        ("braces.kdl", "}\n".repeat(20_000)),
        ("syslog.kdl", syslog_lines(7_500)),
    ] {
        std::fs::write(dir.path().join(name), text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_taskmaster"))
            .args(["run", name, "--socket", "tm.sock"])
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr:.2000}");
        assert!(!dir.path().join("tm.sock").exists());
    }
}

/// Issue 7's first case: an online `diff` (and a `reload`) of a 9 KB file aborted the daemon
/// with a stack overflow, orphaning its children. Now both are rejected and the daemon and
/// its program live on.
#[test]
fn the_daemon_survives_diff_and_reload_of_hostile_configs() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("taskmaster.kdl");
    std::fs::write(&config, "program sleeper { cmd \"sleep 300\" }\n").unwrap();
    let socket = dir.path().join("tm.sock");
    let client = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_taskmaster"))
            .args(args)
            .arg("--socket")
            .arg(&socket)
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    /// Kills what the test started, by pid, also when an assertion fails half-way.
    struct Guard(std::process::Child, Option<i32>);
    impl Drop for Guard {
        fn drop(&mut self) {
            use nix::sys::signal::{Signal, kill};
            let _ = self.0.kill();
            let _ = self.0.wait();
            if let Some(pid) = self.1 {
                let _ = kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
    let mut daemon = Guard(
        Command::new(env!("CARGO_BIN_EXE_taskmaster"))
            .arg("run")
            .arg(&config)
            .arg("--socket")
            .arg(&socket)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
        None,
    );
    let sleeper_pid = || -> Option<i32> {
        let (code, out) = client(&["status", "--json"]);
        let rows: serde_json::Value = serde_json::from_str(&out).ok().filter(|_| code == 0)?;
        rows[0]["pid"].as_i64().map(|p| p as i32)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let pid = loop {
        if let Some(pid) = sleeper_pid() {
            break pid;
        }
        assert!(Instant::now() < deadline, "the daemon never ran sleeper");
        std::thread::sleep(Duration::from_millis(50));
    };
    daemon.1 = Some(pid);

    std::fs::write(dir.path().join("evil.kdl"), "a {".repeat(3000)).unwrap();
    std::fs::write(dir.path().join("braces.kdl"), "}\n".repeat(20_000)).unwrap();
    let (code, _) = client(&["diff", "evil.kdl"]);
    assert_eq!(code, 2, "an invalid config is an error for diff");
    let (code, _) = client(&["diff", "braces.kdl"]);
    assert_eq!(code, 2);
    std::fs::write(&config, syslog_lines(7_500)).unwrap();
    let (code, _) = client(&["reload"]);
    assert_eq!(code, 1, "reload rejects an invalid config");

    assert!(daemon.0.try_wait().unwrap().is_none(), "the daemon died");
    assert_eq!(sleeper_pid(), Some(pid), "sleeper was disturbed");

    let (code, _) = client(&["shutdown"]);
    assert_eq!(code, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    while daemon.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the daemon did not shut down");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A bad line of an env file is reported in that file (a second source): its name, line
/// and column, in the graphical report and in the JSON one; every bad line at once.
#[test]
fn env_file_errors_point_into_the_env_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("app.env"),
        "# settings\nA=1\nnot a line\nB=\"open\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("t.kdl"),
        "program a {\n    cmd \"true\"\n    env-file \"app.env\"\n    numprocs 0\n}\n",
    )
    .unwrap();
    let (code, _, stderr) = check(&["t.kdl"], dir.path());
    assert_eq!(code, 1, "{stderr}");
    for expected in [
        "taskmaster::env_file_syntax",
        "app.env:3:1",
        "app.env:4:3",
        "expected KEY=VALUE",
        "t.kdl:4:14",
    ] {
        assert!(stderr.contains(expected), "no {expected:?} in:\n{stderr}");
    }
    let (_, stdout, _) = check(&["--format", "json", "t.kdl"], dir.path());
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let diags = json["diagnostics"].as_array().unwrap();
    let codes: Vec<&str> = diags.iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(
        codes,
        [
            "taskmaster::numprocs_range",
            "taskmaster::env_file_syntax",
            "taskmaster::env_file_syntax"
        ]
    );
    assert!(
        diags[0].get("file").is_none(),
        "the config's own: {:#}",
        diags[0]
    );
    let env = &diags[1];
    assert!(
        env["file"].as_str().unwrap().ends_with("app.env"),
        "{env:#}"
    );
    assert_eq!(
        (env["line"].as_u64(), env["column"].as_u64()),
        (Some(3), Some(1))
    );
}
