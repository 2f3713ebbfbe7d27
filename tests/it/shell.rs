//! `taskmaster shell` fed from a pipe: each line is a client command.

use crate::harness::{Daemon, assert_exit, program, text};

fn daemon() -> Daemon {
    Daemon::start(&format!(
        "{}{}",
        program("web", "    cmd \"sleep 3600\"\n    starttime 0"),
        program("db", "    cmd \"sleep 3600\"\n    starttime 0"),
    ))
}

#[test]
fn shell_runs_commands_from_piped_stdin() {
    let d = daemon();
    let db = d.running_pid("db");
    d.running_pid("web");
    let out = d.ctl_input(&["shell"], Some(b"status\nstop web\nstatus web\n"));
    assert_exit(&out, 0, "shell with good commands");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("STOPPED"),
        "status after stop shows it: {stdout}"
    );
    assert_eq!(d.must_row("web")["state"], "STOPPED");
    assert_eq!(d.pid_of("db"), db);
}

#[test]
fn shell_exits_1_when_a_piped_command_failed() {
    let d = daemon();
    let db = d.running_pid("db");
    let out = d.ctl_input(&["shell"], Some(b"stop nope\nstop web\n"));
    assert_exit(&out, 1, "shell with an unknown name");
    // The failing line did not stop the next one.
    assert_eq!(d.must_row("web")["state"], "STOPPED");
    assert_eq!(d.pid_of("db"), db);
}
