//! Output capture: stdout/stderr files (appended), "discard", and the in-memory `logs`
//! command with `--stderr`, `-n`, `-f` across restarts, and prefixes for numprocs > 1.

use std::fs;

use crate::harness::{Daemon, LONG, Sandbox, assert_exit, program, text, wait_for};

#[test]
fn stdout_and_stderr_files_are_appended() {
    let sb = Sandbox::new();
    sb.write("out.log", "old out\n");
    sb.write("err.log", "old err\n");
    sb.write_config(&program(
        "p",
        concat!(
            "    cmd \"sh\" \"-c\" \"echo new out; echo new err >&2\"\n",
            "    autorestart #false\n    starttime 0\n",
            "    stdout \"out.log\"\n    stderr \"err.log\""
        ),
    ));
    let d = Daemon::start_in(sb, &[]);
    d.wait_state("p", "EXITED");
    wait_for("both lines written", LONG, || {
        d.sb.read("out.log") == "old out\nnew out\n" && d.sb.read("err.log") == "old err\nnew err\n"
    });
    // A second run appends again.
    d.ok(&["start", "p"]);
    d.wait_state("p", "EXITED");
    wait_for("second run appended", LONG, || {
        d.sb.read("out.log") == "old out\nnew out\nnew out\n"
    });
}

#[test]
fn discard_keeps_nothing() {
    let d = Daemon::start(&program(
        "p",
        concat!(
            "    cmd \"sh\" \"-c\" \"echo visible-out; echo visible-err >&2; echo done > done; sleep 3600\"\n",
            "    starttime 0\n    stdout \"discard\"\n    stderr \"discard\""
        ),
    ));
    wait_for("child wrote", LONG, || d.sb.read("done") == "done\n");
    let out = d.ok(&["logs", "p"]);
    assert!(
        !text(&out.stdout).contains("visible"),
        "{}",
        text(&out.stdout)
    );
    let out = d.ok(&["logs", "p", "--stderr"]);
    assert!(
        !text(&out.stdout).contains("visible"),
        "{}",
        text(&out.stdout)
    );
    let files: Vec<String> = fs::read_dir(d.sb.root())
        .expect("readdir")
        .filter_map(|e| Some(e.ok()?.file_name().to_str()?.to_owned()))
        .collect();
    for f in files {
        // The config names the text, and the daemon's own output may show the command.
        if f.starts_with("daemon.") || f.starts_with(".cmd") || f == "taskmaster.kdl" {
            continue;
        }
        assert!(
            !d.sb.read(&f).contains("visible"),
            "discarded output landed in {f}"
        );
    }
}

#[test]
fn logs_shows_memory_captured_stdout_stderr_and_tail() {
    let d = Daemon::start(&program(
        "p",
        concat!(
            "    cmd \"sh\" \"-c\" \"echo one; echo two; echo three; echo e1 >&2; sleep 3600\"\n",
            "    starttime 0"
        ),
    ));
    wait_for("three lines captured", LONG, || {
        text(&d.ctl(&["logs", "p"]).stdout).contains("three")
    });
    let out = d.ok(&["logs", "p"]);
    assert_eq!(text(&out.stdout), "one\ntwo\nthree\n");
    wait_for("stderr captured", LONG, || {
        text(&d.ctl(&["logs", "p", "--stderr"]).stdout).contains("e1")
    });
    let out = d.ok(&["logs", "p", "--stderr"]);
    assert_eq!(text(&out.stdout), "e1\n");
    let out = d.ok(&["logs", "p", "-n", "1"]);
    assert_eq!(text(&out.stdout), "three\n");
    let out = d.ok(&["logs", "p", "-n", "2"]);
    assert_eq!(text(&out.stdout), "two\nthree\n");
}

#[test]
fn logs_of_a_program_prefixes_each_line_with_the_process() {
    let d = Daemon::start(&program(
        "web",
        "    cmd \"sh\" \"-c\" \"echo hello; sleep 3600\"\n    numprocs 2\n    starttime 0",
    ));
    wait_for("both processes logged", LONG, || {
        text(&d.ctl(&["logs", "web"]).stdout)
            .matches("hello")
            .count()
            == 2
    });
    let out = d.ok(&["logs", "web"]);
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    for proc_name in ["web:0", "web:1"] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(proc_name) && l.ends_with("hello")),
            "a line `{proc_name}… hello`: {stdout}"
        );
    }
}

#[test]
fn logs_follow_continues_across_a_restart() {
    let d = Daemon::start(&program(
        "p",
        "    cmd \"sh\" \"-c\" \"echo pid=$$; sleep 3600\"\n    starttime 0",
    ));
    let first = d.running_pid("p");
    wait_for("first line captured", LONG, || {
        text(&d.ctl(&["logs", "p"]).stdout).contains(&format!("pid={first}"))
    });
    let mut follower = d.follow_logs(&["p", "-f"], "follow.out");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for("logs -f prints the first run", LONG, || {
            d.sb.read("follow.out").contains(&format!("pid={first}"))
        });
        d.ok(&["restart", "p"]);
        let second = d.running_pid("p");
        assert_ne!(first, second);
        wait_for("logs -f prints the second run", LONG, || {
            d.sb.read("follow.out").contains(&format!("pid={second}"))
        });
        assert!(
            follower.try_wait().expect("try_wait").is_none(),
            "logs -f keeps following"
        );
    }));
    let _ = follower.kill();
    let _ = follower.wait();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn logs_of_a_stopped_process_still_shows_its_output() {
    let d = Daemon::start(&program(
        "p",
        "    cmd \"sh\" \"-c\" \"echo bye\"\n    starttime 0\n    autorestart #false",
    ));
    d.wait_state("p", "EXITED");
    wait_for("output kept after exit", LONG, || {
        text(&d.ctl(&["logs", "p"]).stdout) == "bye\n"
    });
    let out = d.ctl(&["logs", "p"]);
    assert_exit(&out, 0, "logs of an exited process");
}
