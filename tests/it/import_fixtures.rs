//! `taskmaster import` on every supervisord config under tests/fixtures/supervisord: the
//! output is a config taskmaster accepts, and everything left behind is a warning.

use std::path::{Path, PathBuf};
use std::process::Command;

use taskmaster::plan::OutputTarget;

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/supervisord");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures folder")
        .map(|e| e.expect("fixture entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "fixtures missing in {}", dir.display());
    files
}

fn import(file: &Path) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_taskmaster"))
        .arg("import")
        .arg(file)
        .env_remove("TASKMASTER_IMPORT_FIXTURE_UNSET")
        .output()
        .expect("run taskmaster import");
    (
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8(out.stderr).expect("utf-8 stderr"),
        out.status.code().expect("exit code"),
    )
}

#[test]
fn every_fixture_imports_to_a_valid_config() {
    for file in fixtures() {
        let (kdl, stderr, code) = import(&file);
        assert_eq!(code, 0, "{}: {stderr}", file.display());
        let base = file.parent().expect("fixture folder");
        match taskmaster::plan::compile("imported.kdl", &kdl, base) {
            Ok(compiled) => assert!(!compiled.plan.programs.is_empty(), "{kdl}"),
            Err(report) => panic!(
                "{}: the import does not compile:\n{}\n{kdl}",
                file.display(),
                report.render(false)
            ),
        }
        // Every warning on stderr is also a comment in the output.
        let warnings = stderr
            .lines()
            .filter(|l| l.starts_with("warning: "))
            .count();
        assert_eq!(
            kdl.matches("// warning: ").count(),
            warnings,
            "{kdl}\n{stderr}"
        );
    }
}

#[test]
fn sample_maps_counterparts_and_warns_on_the_rest() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/supervisord/sample.conf");
    let (kdl, stderr, _) = import(&file);
    for line in [
        "socket \"/tmp/supervisor.sock\"",
        "logfile \"/tmp/supervisord.log\"",
        "program \"cat\" {",
        "cmd \"/bin/cat\"",
        "umask 0o022",
        "workingdir \"/tmp\"",
        "stopsignal \"QUIT\"",
        "stoptime 10",
        "starttime 1",
        // redirect_stderr=true: stderr goes where stdout goes; its rotation written out.
        "stdout \"/tmp/cat.out\" { max-size \"1MB\"; keep 10; }",
        "stderr \"stdout\"",
        "env { A \"1\"; B \"2\"; }",
        "user \"chrism\"",
        // From the [include]d conf.d/worker.ini.
        "program \"worker\" {",
        "autostart #false",
        "stderr \"discard\"",
    ] {
        assert!(kdl.contains(line), "missing `{line}` in\n{kdl}");
    }
    for key in [
        "priority",
        "[group:thegroupname]",
        "[eventlistener:",
        "stdout_capture_maxbytes",
        "pidfile",
        // Daemon-level warnings name their section, key and value.
        "[supervisord] pidfile = /tmp/supervisord.pid: ",
    ] {
        assert!(stderr.contains(key), "no warning about {key}:\n{stderr}");
    }
    assert!(!kdl.contains("theeventlistenername\" {"), "{kdl}");

    // And it means what supervisord meant.
    let plan = taskmaster::plan::compile("imported.kdl", &kdl, file.parent().unwrap())
        .expect("compiles")
        .plan;
    let cat = &plan.programs["cat"];
    assert_eq!(cat.cmd, ["/bin/cat"]);
    assert_eq!(cat.umask, Some(0o022));
    assert_eq!(cat.workingdir.as_deref(), Some(Path::new("/tmp")));
    assert_eq!(cat.stopsignal.to_string(), "QUIT");
    assert_eq!(cat.stderr, OutputTarget::SameAsStdout);
    assert_eq!(
        cat.stdout,
        OutputTarget::Written(
            "/tmp/cat.out".into(),
            taskmaster::plan::model::LogOptions {
                max_size: Some(1 << 20),
                keep: 10,
                timestamps: false
            }
        )
    );
    assert_eq!(cat.env.get("B").map(String::as_str), Some("2"));
    assert_eq!(
        cat.user.as_ref().map(|u| u.written.as_str()),
        Some("chrism")
    );
    let worker = &plan.programs["worker"];
    assert!(!worker.autostart);
    assert_eq!(worker.stdout, OutputTarget::Memory);
    assert_eq!(worker.stderr, OutputTarget::Discard);
    assert_eq!(
        plan.daemon.socket.as_deref(),
        Some(Path::new("/tmp/supervisor.sock"))
    );
}

#[test]
fn unreadable_file_is_exit_2() {
    let (stdout, stderr, code) = import(Path::new("/nonexistent/supervisord.conf"));
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(stderr.contains("/nonexistent/supervisord.conf"), "{stderr}");
}

/// Values supervisord takes but taskmaster bounds are clamped or left out with a warning,
/// never turned into a config the compiler refuses.
#[test]
fn out_of_range_values_are_bounded_with_warnings() {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/supervisord/out_of_range.conf");
    let (kdl, stderr, code) = import(&file);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("a bug in"), "{stderr}");
    let base = file.parent().expect("fixture folder");
    let plan = match taskmaster::plan::compile("imported.kdl", &kdl, base) {
        Ok(compiled) => compiled.plan,
        Err(report) => panic!("{}\n{kdl}", report.render(false)),
    };
    let huge = &plan.programs["huge"];
    assert_eq!(huge.numprocs, 1);
    assert_eq!(huge.starttime, std::time::Duration::from_secs(86_400));
    assert_eq!(huge.stoptime, std::time::Duration::from_secs(86_400));
    assert_eq!(huge.workingdir, None);
    assert!(!plan.programs.contains_key("quoted"), "{kdl}");
    assert_eq!(plan.programs["ok"].numprocs, 10_000);
    for expected in [
        ":4: numprocs = 20000: not a whole number from 1 to 10000",
        ":5: startsecs = 100000: longer than taskmaster's maximum",
        ":6: stopwaitsecs = 86401: longer than taskmaster's maximum",
        ":7: directory = : empty; not converted",
        ":12: command = '' x: names no program",
    ] {
        assert!(stderr.contains(expected), "{expected} missing:\n{stderr}");
        assert!(kdl.contains(expected), "{expected} missing:\n{kdl}");
    }
}

/// supervisord has no crash backoff and no crash limit (`startretries` counts failed starts
/// only, as taskmaster's does): import writes neither setting, so an imported program gets
/// taskmaster's defaults, and `startretries` stays `startretries`.
#[test]
fn import_maps_nothing_to_restart_backoff_or_crash_limit() {
    use taskmaster::plan::model::RestartBackoff;
    for file in fixtures() {
        let (kdl, stderr, _) = import(&file);
        assert!(
            !kdl.contains("restart-backoff") && !kdl.contains("crash-limit"),
            "{}: {kdl}",
            file.display()
        );
        let base = file.parent().expect("fixture folder");
        let plan = taskmaster::plan::compile("imported.kdl", &kdl, base)
            .unwrap_or_else(|r| panic!("{}\n{stderr}", r.render(false)))
            .plan;
        for spec in plan.programs.values() {
            assert_eq!(
                spec.restart_backoff,
                RestartBackoff::default(),
                "{}",
                spec.name
            );
            assert_eq!(spec.crash_limit, None, "{}", spec.name);
        }
    }
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/supervisord/sample.conf");
    let text = std::fs::read_to_string(&file).expect("sample.conf");
    let retries: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("startretries"))
        .collect();
    assert!(!retries.is_empty(), "the sample sets startretries");
    let (kdl, _, _) = import(&file);
    assert!(kdl.contains("startretries "), "{kdl}");
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/supervisord")
        .join(rel)
}

/// `%(ENV_X)s` takes `[supervisord] environment=` before the importing shell's variable.
#[test]
fn env_expansions_look_in_the_supervisord_environment_first() {
    let out = Command::new(env!("CARGO_BIN_EXE_taskmaster"))
        .arg("import")
        .arg(fixture("env_from_supervisord.conf"))
        .env("SHOP_HOME", "/from/the/shell")
        .output()
        .expect("run taskmaster import");
    let (kdl, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        kdl.contains("cmd \"/opt/shop/bin/orders --log-dir /var/log/shop\""),
        "{kdl}"
    );
    assert!(kdl.contains("workingdir \"/opt/shop\""), "{kdl}");
    assert!(!kdl.contains("/from/the/shell"), "{kdl}");
    // Values that come from the file itself are exact: no warning about them.
    assert!(!stderr.contains("ENV_SHOP"), "{stderr}");
}

/// What supervisord refuses to start with, import refuses too, naming the file and line,
/// and prints no config.
#[test]
fn what_supervisord_rejects_is_rejected_with_file_and_line() {
    for (file, line, wanted) in [
        ("rejected/percent_home.conf", 4, "directory = %HOME%"),
        (
            "rejected/semicolon_env.conf",
            3,
            "separated by `,`, not `;`",
        ),
        (
            "rejected/include_without_files.conf",
            4,
            "[include] has no `files =`",
        ),
    ] {
        let path = fixture(file);
        let (kdl, stderr, code) = import(&path);
        assert_eq!(code, 1, "{file}: {stderr}");
        assert!(kdl.is_empty(), "{file}: no output when refused: {kdl}");
        let location = format!("{}:{line}: ", path.display());
        assert!(
            stderr.contains(&location) && stderr.contains(wanted),
            "{file}: wanted `{location}` and `{wanted}` in:\n{stderr}"
        );
        assert!(stderr.contains("supervisord would not start"), "{stderr}");
    }
}

/// `redirect_stderr=true` makes supervisord ignore `stderr_logfile`: import says so instead
/// of dropping the line silently, and stderr follows stdout.
#[test]
fn stderr_logfile_ignored_under_redirect_stderr_is_a_warning() {
    let (kdl, stderr, code) = import(&fixture("container.conf"));
    assert_eq!(code, 0, "{stderr}");
    // Never rotated: supervisord's rotation of /dev/stdout fails.
    assert!(kdl.contains("stdout \"/dev/stdout\"\n"), "{kdl}");
    assert!(kdl.contains("stderr \"stdout\""), "{kdl}");
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("stderr_logfile = /dev/stderr") && l.contains("redirect_stderr")),
        "{stderr}"
    );
}

/// `[supervisord] user=` is about who runs the daemon: the advice says how to start it as
/// that user, not something about umask.
#[test]
fn supervisord_user_warning_says_how_to_run_as_that_user() {
    let (_, stderr, _) = import(&fixture("container.conf"));
    let line = stderr
        .lines()
        .find(|l| l.contains("[supervisord] user = app"))
        .unwrap_or_else(|| panic!("no warning about user:\n{stderr}"));
    assert!(line.contains("sudo -u USER taskmaster run"), "{line}");
    assert!(!line.contains("umask"), "{line}");
}

/// An `[eventlistener:x]` is not imported, and the warning says what to do instead.
#[test]
fn eventlistener_warning_offers_the_documented_pattern() {
    let (kdl, stderr, _) = import(&fixture("container.conf"));
    let line = stderr
        .lines()
        .find(|l| l.contains("[eventlistener:halt-on-fatal]"))
        .unwrap_or_else(|| panic!("no warning about the listener:\n{stderr}"));
    assert!(line.contains("kill -TERM $PPID"), "{line}");
    assert!(line.contains("event listeners"), "{line}");
    assert!(!kdl.contains("program \"halt-on-fatal\""), "{kdl}");
}

/// supervisord's rotation settings become log blocks, with its defaults written out; no
/// rotation of a device (supervisord's fails there) and none with maxbytes=0.
#[test]
fn log_rotation_maps_to_log_blocks() {
    let (kdl, stderr, code) = import(&fixture("rotation.conf"));
    assert_eq!(code, 0, "{stderr}");
    for line in [
        "stdout \"/var/log/api.out\" { max-size \"50MB\"; keep 10; }",
        "stderr \"/var/log/api.err\" { max-size \"10KB\"; keep 0; }",
        "stdout \"/var/log/plain.out\"\n",
        "stdout \"/dev/stdout\"\n",
        "stderr \"stdout\"",
    ] {
        assert!(kdl.contains(line), "missing `{line}` in\n{kdl}");
    }
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("stdout_logfile_maxbytes = 1MB") && l.contains("not rotated")),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("stdout_logfile_backups = 3") && l.contains("log-buffer")),
        "{stderr}"
    );
    taskmaster::plan::compile("imported.kdl", &kdl, Path::new("/"))
        .expect("the imported config compiles");
}

/// `user` becomes `user`, and `%(process_num)d` in a program of several processes becomes a
/// placeholder, so each process keeps its own port and log file as under supervisord.
#[test]
fn user_and_process_num_map_to_user_and_placeholders() {
    let file = fixture("identity.conf");
    let (kdl, stderr, code) = import(&file);
    assert_eq!(code, 0, "{stderr}");
    for line in [
        // numprocs_start=1: supervisord's processes 1 and 2 on 8001 and 8002.
        "cmd \"python3 -m http.server {process_num+8001}\"",
        "user \"www-data\"",
        "stdout \"/var/log/web/web-{process_num+1}.log\"",
        "stderr \"/var/log/web/{process}.err\"",
        "env { INSTANCE \"{process_num+1}\"; }",
    ] {
        assert!(kdl.contains(line), "missing `{line}` in\n{kdl}");
    }
    assert!(
        !stderr.contains("user ="),
        "user is mapped, not warned about:\n{stderr}"
    );
    assert!(stderr.contains("%(process_name)"), "{stderr}");
    let plan = taskmaster::plan::compile("imported.kdl", &kdl, file.parent().unwrap())
        .expect("compiles")
        .plan;
    let web = &plan.programs["web"];
    let who = taskmaster::plan::placeholder::Who {
        program: "web",
        process: "web:1",
        num: 1,
    };
    let web1 = taskmaster::plan::placeholder::expand_spec(web, &who);
    assert_eq!(web1.cmd, ["python3", "-m", "http.server", "8002"]);
    // supervisord rotates by default (50MB, 10 backups), so the import writes a log block:
    // the path is what the placeholder decides.
    assert_eq!(
        web1.stdout.path(),
        Some(std::path::Path::new("/var/log/web/web-2.log"))
    );
    assert_eq!(web1.env["INSTANCE"], "2");
}

/// supervisord-dependent-startup's `dependent_startup_wait_for` becomes `depends-on` with the
/// matching conditions; `priority` gets a warning that points at `depends-on`.
#[test]
fn dependent_startup_maps_to_depends_on() {
    use taskmaster::plan::model::Condition;
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/supervisord/dependent_startup.conf");
    let (kdl, stderr, code) = import(&file);
    assert_eq!(code, 0, "{stderr}");
    let plan = taskmaster::plan::compile("imported.kdl", &kdl, file.parent().unwrap())
        .expect("compiles")
        .plan;
    let web = &plan.programs["web"].depends_on;
    assert_eq!(web.get("db"), Some(&Condition::Ready), "{kdl}");
    assert_eq!(web.get("migrate"), Some(&Condition::Completed), "{kdl}");
    assert_eq!(web.len(), 2, "{kdl}");
    assert_eq!(
        plan.programs["migrate"].depends_on.get("db"),
        Some(&Condition::Ready)
    );
    assert!(
        stderr.contains("cache:running: no program `cache`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("db:fatal: taskmaster waits for"),
        "{stderr}"
    );
    assert!(
        stderr.contains("priority = 10: ") && stderr.contains("depends-on"),
        "{stderr}"
    );
    assert!(!stderr.contains("dependent_startup = "), "{stderr}");
}
