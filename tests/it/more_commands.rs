//! Part 2 "More commands" and the first hour of a supervisorctl user: `signal`, `pid`,
//! `NAME:*`, did-you-mean for unknown names, supervisorctl habits in the shell, what stdout
//! holds when the daemon is down, live-name completion, and the progress line of long waits.

use std::os::unix::net::UnixListener;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{
    BIN, Daemon, LONG, Sandbox, assert_exit, holds_for, pid_alive, program, run_bounded, text,
    wait_for,
};

/// `web` (2 processes) records every SIGHUP it gets in `hup.log`, with its pid; `db` is one
/// sleeper; `idle` is never started.
fn daemon() -> Daemon {
    Daemon::start(&format!(
        "{}{}{}",
        program(
            "web",
            "    cmd \"sh\" \"-c\" \"trap 'echo hup $$ >> hup.log' HUP; \
             while true; do sleep 1 & wait $!; done\"\n    numprocs 2\n    starttime 0\n    \
             stoptime 5\n    workingdir \".\""
        ),
        program("db", "    cmd \"sleep 3600\"\n    starttime 0"),
        program(
            "idle",
            "    cmd \"sleep 3600\"\n    autostart #false\n    starttime 0"
        ),
    ))
}

#[test]
fn signal_reaches_every_named_process_group() {
    let d = daemon();
    let (w0, w1) = (d.running_pid("web:0"), d.running_pid("web:1"));
    let out = d.ctl(&["signal", "HUP", "web"]);
    assert_exit(&out, 0, "signal HUP web");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("web:0") && stdout.contains("web:1") && stdout.contains("SIGHUP"),
        "{stdout}"
    );
    wait_for("both processes to log their SIGHUP", LONG, || {
        d.sb.line_count("hup.log") >= 2
    });
    // The trap caught it: same processes, still running.
    assert_eq!(d.pid_of("web:0"), w0);
    assert_eq!(d.pid_of("web:1"), w1);
    // `sighup`, `SIGHUP` and `1` are the same signal; `web:1` only that process.
    let out = d.ctl(&["signal", "1", "web:1"]);
    assert_exit(&out, 0, "signal 1 web:1");
    let (of_w0, of_w1) = (format!("hup {w0}\n"), format!("hup {w1}\n"));
    wait_for("web:1's second SIGHUP", LONG, || {
        d.sb.read("hup.log").matches(&of_w1).count() == 2
    });
    assert_eq!(d.sb.read("hup.log").matches(&of_w0).count(), 1);
}

#[test]
fn signal_of_a_stopped_process_or_unknown_name_is_exit_1() {
    let d = daemon();
    let db = d.running_pid("db");
    let out = d.ctl(&["signal", "TERM", "db", "idle"]);
    assert_exit(&out, 1, "signal TERM db idle (idle is STOPPED)");
    assert!(text(&out.stderr).contains("idle is not running"), "{out:?}");
    wait_for("db to die from its SIGTERM", LONG, || !pid_alive(db));
    // An unknown name sends nothing at all.
    let w0 = d.running_pid("web:0");
    let before = d.sb.line_count("hup.log");
    let out = d.ctl(&["signal", "HUP", "web", "wbe"]);
    assert_exit(&out, 1, "signal with an unknown name");
    assert!(
        text(&out.stderr).contains("did you mean `web`?"),
        "{}",
        text(&out.stderr)
    );
    holds_for("no SIGHUP arriving", Duration::from_millis(500), || {
        d.sb.line_count("hup.log") == before
    });
    assert_eq!(d.pid_of("web:0"), w0);
    // A signal that does not exist is a usage error.
    assert_exit(&d.ctl(&["signal", "HUPP", "web"]), 2, "signal HUPP");
}

#[test]
fn pid_prints_the_daemon_or_the_named_processes() {
    let d = daemon();
    let (w0, w1, db) = (
        d.running_pid("web:0"),
        d.running_pid("web:1"),
        d.running_pid("db"),
    );
    let out = d.ok(&["pid"]);
    assert_eq!(text(&out.stdout), format!("{}\n", d.pid()));
    let out = d.ok(&["pid", "web:*"]);
    assert_eq!(text(&out.stdout), format!("{w0}\n{w1}\n"));
    let out = d.ok(&["pid", "db", "web:1"]);
    assert_eq!(text(&out.stdout), format!("{db}\n{w1}\n"));
    // A process without a pid prints no line (never a 0 that `kill` would misread).
    let out = d.ok(&["pid", "idle"]);
    assert_eq!(text(&out.stdout), "");
    assert!(text(&out.stderr).contains("idle is not running"));
    for flag in [&["--json"][..], &["--format", "json"][..]] {
        let mut args = vec!["pid"];
        args.extend_from_slice(flag);
        args.push("idle");
        let out = d.ok(&args);
        let json: Value = serde_json::from_slice(&out.stdout).expect("pid --json is JSON");
        assert_eq!(json["daemon"], d.pid());
        assert_eq!(
            json["processes"],
            serde_json::json!([{"name": "idle", "pid": null}])
        );
    }
    let out = d.ctl(&["pid", "dbb"]);
    assert_exit(&out, 1, "pid of an unknown name");
    assert!(text(&out.stderr).contains("did you mean `db`?"));
}

#[test]
fn star_names_every_process_of_a_program_everywhere() {
    let d = daemon();
    let (w0, w1, db) = (
        d.running_pid("web:0"),
        d.running_pid("web:1"),
        d.running_pid("db"),
    );
    let out = d.ok(&["status", "--json", "web:*"]);
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    let names: Vec<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ["web:0", "web:1"]);
    d.ok(&["stop", "web:*"]);
    assert!(!pid_alive(w0) && !pid_alive(w1));
    assert_eq!(d.must_row("web:1")["state"], "STOPPED");
    assert_eq!(d.pid_of("db"), db, "db untouched");
    d.ok(&["start", "db:*", "web:*"]);
    assert_eq!(d.must_row("web:0")["state"], "RUNNING");
    d.ok(&["restart", "db:*"]);
    assert_ne!(d.pid_of("db"), db);
    let out = d.ok(&["logs", "web:*", "-n", "1"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn unknown_names_get_did_you_mean_and_change_nothing() {
    let d = Daemon::start(&format!(
        "{}{}",
        program(
            "ticker",
            "    cmd \"sleep 3600\"\n    numprocs 2\n    starttime 0"
        ),
        program("web", "    cmd \"sleep 3600\"\n    starttime 0"),
    ));
    let t0 = d.running_pid("ticker:0");
    let web = d.running_pid("web");
    for (args, wanted) in [
        (&["stop", "web", "tikcer"][..], "did you mean `ticker`?"),
        (&["restart", "tikcer:1"][..], "did you mean `ticker:1`?"),
        (&["status", "wbe:*"][..], "did you mean `web:*`?"),
        (&["logs", "tickr"][..], "did you mean `ticker`?"),
    ] {
        let out = d.ctl(args);
        assert_exit(&out, 1, &args.join(" "));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("no such program or process") && stderr.contains(wanted),
            "{args:?}: {stderr}"
        );
    }
    // Far from every name: no guess.
    let out = d.ctl(&["stop", "zzzzzzzz"]);
    assert!(!text(&out.stderr).contains("did you mean"));
    assert_eq!(d.pid_of("web"), web, "nothing was stopped");
    assert_eq!(d.pid_of("ticker:0"), t0);
}

#[test]
fn supervisorctl_habits_in_the_shell_say_what_to_use() {
    let d = daemon();
    d.running_pid("db");
    let out = d.ctl_input(&["shell"], Some(b"reread\ntail -f db stderr\nstatus db\n"));
    assert_exit(&out, 1, "shell with habits");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("`reread` is a supervisorctl command"),
        "{stderr}"
    );
    assert!(stderr.contains("use `diff`"), "{stderr}");
    assert!(stderr.contains("use `logs db -f --stderr`"), "{stderr}");
    assert!(
        text(&out.stdout).contains("RUNNING"),
        "later lines still run"
    );
    // And the same words on the command line exit 2.
    for word in ["update", "avail", "clear", "fg", "maintail", "reread"] {
        let out = d.ctl(&[word]);
        assert_exit(&out, 2, word);
        assert!(text(&out.stderr).contains("in taskmaster use"), "{word}");
    }
}

/// Scripts test the status before parsing: with the daemon down, `status --json` and
/// `pid --json` print nothing on stdout (not `[]`, which would read as "no processes").
#[test]
fn json_stdout_is_empty_when_the_daemon_is_down() {
    let sb = Sandbox::new();
    let socket = sb.path("none.sock");
    let socket = socket.to_str().expect("utf-8 path");
    for args in [
        &["status", "--json", "--socket", socket][..],
        &["status", "--format", "json", "--socket", socket][..],
        &["pid", "--json", "--socket", socket][..],
        &["diff", "--json", "--socket", socket][..],
    ] {
        let out = sb.taskmaster(args);
        assert_exit(&out, 3, &args.join(" "));
        assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
        assert!(text(&out.stderr).contains("cannot reach the daemon"));
    }
}

#[test]
fn complete_names_lists_live_names_and_fails_quietly() {
    let d = daemon();
    d.running_pid("db");
    let out = d.ok(&["__complete-names"]);
    let names: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    for wanted in ["web", "web:*", "web:0", "web:1", "db", "idle", "all"] {
        assert!(names.iter().any(|n| n == wanted), "{wanted} in {names:?}");
    }
    // A socket nobody answers on in time: nothing, exit 0, within the short deadline.
    let sb = Sandbox::new();
    let path = sb.path("mute.sock");
    let _mute = UnixListener::bind(&path).expect("bind");
    let started = Instant::now();
    let out = sb.taskmaster(&[
        "__complete-names",
        "--socket",
        path.to_str().expect("utf-8"),
    ]);
    assert_exit(&out, 0, "__complete-names on a mute socket");
    assert!(out.stdout.is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// The bash script completes live names, also after a `web:` that bash splits at the colon.
#[test]
fn bash_completion_offers_live_names() {
    let d = daemon();
    d.running_pid("db");
    let script = d.sb.taskmaster(&["completions", "bash"]);
    assert_exit(&script, 0, "completions bash");
    let script_path = d.sb.write("taskmaster.bash", &text(&script.stdout));
    let bin_dir = std::path::Path::new(BIN)
        .parent()
        .expect("binary folder")
        .to_owned();
    let probe = format!(
        r#"PATH="{bin}:$PATH"
source "{script}"
try() {{
    COMP_LINE="$1"; COMP_POINT=${{#COMP_LINE}}; COMP_WORDS=("${{@:2}}")
    COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )); COMPREPLY=()
    _taskmaster_names taskmaster "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
    echo "${{COMPREPLY[*]}}"
}}
try "taskmaster stop d" taskmaster stop d
try "taskmaster stop --socket {sock} we" taskmaster stop --socket {sock} we
try "taskmaster restart web:" taskmaster restart web :
try "taskmaster signal U" taskmaster signal U
cd /
try "taskmaster pid --config {config} d" taskmaster pid --config {config} d
"#,
        bin = bin_dir.display(),
        script = script_path.display(),
        sock = d.socket().display(),
        config = d.sb.config().display(),
    );
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(&probe)
        .current_dir(d.sb.root())
        .env_remove("TASKMASTER_SOCKET");
    let out = run_bounded(cmd, d.sb.root(), Duration::from_secs(60), None);
    assert_exit(&out, 0, "bash completion probe");
    let lines: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 5, "{lines:?}\n{}", text(&out.stderr));
    assert_eq!(lines[0], "db db:*", "names from the config's socket");
    assert_eq!(lines[1], "web web:0 web:1 web:*", "names from --socket");
    assert_eq!(lines[2], ":0 :1 :*", "the part after bash's colon split");
    assert_eq!(lines[3], "USR1 USR2");
    assert_eq!(
        lines[4], "db db:*",
        "names through --config, from another folder"
    );
}

/// A slow stop shows a progress line on a terminal (here a pseudo-terminal from
/// `script(1)`), erased before the result; piped, stderr stays empty.
#[test]
fn a_long_stop_shows_progress_only_on_a_terminal() {
    let d = Daemon::start(&program(
        "slow",
        "    cmd \"sh\" \"-c\" \"trap '' TERM; while true; do sleep 1; done\"\n    \
         starttime 0\n    stoptime 3",
    ));
    d.running_pid("slow");
    let out = d.ctl(&["stop", "slow"]);
    assert_exit(&out, 0, "piped stop");
    assert_eq!(
        text(&out.stderr),
        "",
        "no progress when stderr is not a terminal"
    );
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("script(1) is not installed: the terminal half is skipped");
        return;
    }
    d.ok(&["start", "slow"]);
    let line = format!("{} stop --socket {} slow", BIN, d.socket().display());
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .current_dir(d.sb.root());
    let out = run_bounded(cmd, d.sb.root(), Duration::from_secs(60), None);
    assert_exit(&out, 0, "stop under a terminal");
    let tty = text(&out.stdout);
    // Which seconds get drawn depends on the machine's load; the shape does not.
    assert!(
        (1..=3).any(|s| tty.contains(&format!("stopping slow (SIGTERM sent, {s}s of 3s)…"))),
        "{tty:?}"
    );
    assert!(tty.contains("\r\x1b[K"), "the line is erased: {tty:?}");
    assert!(tty.contains("STOPPED"), "{tty:?}");
}

/// The pattern the book gives for supervisord's "stop the container" event listeners: the
/// program ends the daemon when it exits, and `run` exits 0 after stopping the rest.
#[test]
fn the_event_listener_replacement_pattern_ends_the_daemon_cleanly() {
    let d = Daemon::start(&format!(
        "{}{}",
        program(
            "worker",
            "    cmd \"sh\" \"-c\" \"sleep 2; kill -TERM $PPID\"\n    autorestart #false\n    \
             starttime 0"
        ),
        program("other", "    cmd \"sleep 3600\"\n    starttime 0"),
    ));
    let other = d.running_pid("other");
    assert_eq!(d.wait_exit(LONG), Some(0), "{}", d.daemon_output());
    assert!(!pid_alive(other), "the other program was stopped first");
}

/// The event log says `1 program`, `2 programs` (not `program(s)`), and a rejected reload
/// says "nothing was changed" once.
#[test]
fn event_log_wording_has_plurals_and_no_repeated_phrase() {
    let d = Daemon::start(&program("web", "    cmd \"sleep 3600\"\n    starttime 0"));
    d.running_pid("web");
    let log = d.sb.read("daemon.err");
    assert!(
        log.contains(": 1 program, 1 process; listening on"),
        "{log}"
    );
    assert!(!log.contains("(s)") && !log.contains("(es)"), "{log}");
    d.sb.write_config(&format!(
        "{}{}",
        program("web", "    cmd \"sleep 3600\"\n    starttime 0"),
        program("api", "    cmd \"sleep 3600\"\n    starttime 0"),
    ));
    d.ok(&["reload"]);
    wait_for("the reload in the event log", LONG, || {
        d.sb.read("daemon.err")
            .contains("reload: 1 program changed")
    });
    d.sb.write_config("program \"web\" {\n    cmd 42\n}\n");
    let out = d.ctl(&["reload"]);
    assert_exit(&out, 1, "reload of an invalid config");
    wait_for("the rejection in the event log", LONG, || {
        d.sb.read("daemon.err").contains("reload rejected")
    });
    let log = d.sb.read("daemon.err");
    let line = log
        .lines()
        .find(|l| l.contains("reload rejected"))
        .expect("rejection line");
    assert_eq!(
        line.matches("nothing").count(),
        1,
        "the phrase is said once: {line}"
    );
}

/// The troubleshooting page quotes what `run` really prints when the socket is taken.
#[test]
fn troubleshooting_quotes_the_socket_in_use_message_as_printed() {
    let d = Daemon::start(&program("web", "    cmd \"sleep 3600\"\n    starttime 0"));
    d.running_pid("web");
    let out = d.sb.taskmaster(&["run", "taskmaster.kdl"]);
    assert_exit(&out, 2, "a second run on the same socket");
    let printed = text(&out.stderr);
    let socket = d.socket().display().to_string();
    let first = printed
        .lines()
        .find(|l| l.contains(&socket))
        .unwrap_or_else(|| panic!("no line names the socket:\n{printed}"));
    let page = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src/troubleshooting.md"),
    )
    .expect("troubleshooting page");
    let pattern = first.replace(&socket, "/run/user/1000/taskmaster.sock");
    assert!(
        page.contains(&pattern),
        "troubleshooting.md should quote `{pattern}`"
    );
}
