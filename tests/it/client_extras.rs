//! `completions` and `man`: generated from the clap definitions, non-empty, and naming the
//! client commands.

use std::process::Command;

fn taskmaster(args: &[&str]) -> (String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_taskmaster"))
        .args(args)
        .output()
        .expect("run taskmaster");
    (
        String::from_utf8(out.stdout).expect("utf-8"),
        out.status.code().expect("exit code"),
    )
}

const SUBCOMMANDS: &[&str] = &[
    "check", "run", "diff", "status", "start", "stop", "restart", "reload", "shutdown", "logs",
    "shell", "import",
];

#[test]
fn completions_for_each_shell_name_the_subcommands() {
    for shell in ["bash", "zsh", "fish"] {
        let (script, code) = taskmaster(&["completions", shell]);
        assert_eq!(code, 0, "{shell}");
        assert!(script.len() > 200, "{shell}: {script}");
        for sub in SUBCOMMANDS {
            assert!(script.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    let (bash, _) = taskmaster(&["completions", "bash"]);
    assert!(bash.contains("complete -F"), "not a bash completion script");
}

#[test]
fn man_page_is_roff_with_every_subcommand() {
    let (page, code) = taskmaster(&["man"]);
    assert_eq!(code, 0);
    assert!(
        page.starts_with(".ie") || page.contains(".TH taskmaster"),
        "{page}"
    );
    for sub in SUBCOMMANDS {
        assert!(page.contains(sub), "man page lacks {sub}");
    }
    assert!(page.contains("EXIT STATUS"));
    assert!(page.contains("TASKMASTER_SOCKET"));
}

/// `man --dir` writes one page per command, and every page the main page names exists.
#[test]
fn man_dir_writes_a_page_per_command_and_see_also_names_only_those() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_taskmaster"))
        .args(["man", "--dir"])
        .arg(dir.path())
        .output()
        .expect("run taskmaster");
    assert_eq!(out.status.code(), Some(0));
    let main = std::fs::read_to_string(dir.path().join("taskmaster.1")).expect("main page");
    for sub in SUBCOMMANDS.iter().chain(&["signal", "pid"]) {
        let page = dir.path().join(format!("taskmaster-{sub}.1"));
        assert!(page.exists(), "{page:?}");
    }
    for section in ["FILES", "EXAMPLES", "SIGNALS", "\"SEE ALSO\""] {
        assert!(main.contains(&format!(".SH {section}")), "{section}");
    }
    let see_also = &main[main.find(".SH \"SEE ALSO\"").expect("SEE ALSO")..];
    for reference in see_also.split("\\fBtaskmaster\\-").skip(1) {
        let name = reference
            .split("\\fR")
            .next()
            .expect("name")
            .replace("\\-", "-");
        assert!(
            dir.path().join(format!("taskmaster-{name}.1")).exists(),
            "SEE ALSO names taskmaster-{name}(1), which was not written"
        );
    }
    let (status_page, code) = taskmaster(&["man", "status"]);
    assert_eq!(code, 0);
    assert!(status_page.contains(".TH taskmaster-status"));
}

/// supervisorctl words print what to use instead and exit 2, with no daemon involved.
#[test]
fn supervisorctl_habits_on_the_command_line() {
    for (args, wanted) in [
        (&["reread"][..], "use `taskmaster diff`"),
        (&["update"][..], "use `taskmaster reload`"),
        (&["tail", "-f", "web"][..], "use `taskmaster logs web -f`"),
        (&["avail"][..], "use `taskmaster status`"),
        (&["fg", "web"][..], "use `taskmaster logs web -f`"),
        (&["maintail"][..], "event log"),
        (&["clear", "web"][..], "log-buffer"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_taskmaster"))
            .args(args)
            .env("TASKMASTER_SOCKET", "/nonexistent/t.sock")
            .output()
            .expect("run taskmaster");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(wanted), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty());
    }
}
