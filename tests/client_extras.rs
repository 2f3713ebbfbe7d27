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
