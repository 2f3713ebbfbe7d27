//! Commands people type out of habit from supervisorctl (and process-compose or pm2) that
//! taskmaster spells differently: each gets a one-line pointer to what to use instead, and
//! exit status 2 (a usage error), on the command line and in the shell alike.
//!
//! These words are not subcommands, so `--help`, the man page and completions stay about
//! what exists; they are looked at only before clap parses the line.

use std::ffi::OsString;

use super::exit;

/// Checks a command line (without the program name); when its command word is a habit,
/// prints the pointer on stderr and returns the exit status.
pub(super) fn intercept(args: impl Iterator<Item = OsString>) -> Option<u8> {
    let words: Vec<String> = args.map(|a| a.to_string_lossy().into_owned()).collect();
    let first = words.iter().position(|w| !w.starts_with('-'))?;
    // `taskmaster --version tail` is clap's business.
    if first != 0 {
        return None;
    }
    let text = advice(&words, "taskmaster ")?;
    eprintln!("{text}");
    Some(exit::USAGE)
}

/// The pointer for `words` (command word first), or `None` when the word is no habit.
/// `prefix` is put before every suggested command (`taskmaster ` on the command line,
/// nothing in the shell).
pub(super) fn advice(words: &[String], prefix: &str) -> Option<String> {
    let (word, rest) = words.split_first()?;
    let from = |tool: &str| format!("`{word}` is a {tool} command");
    let (origin, instead, why) = match word.as_str() {
        "tail" => (from("supervisorctl"), tail(rest, prefix), ""),
        "fg" => (
            from("supervisorctl"),
            format!("{prefix}logs {} -f", name_or(rest)),
            " (taskmaster does not attach a terminal to a process; follow its output instead)",
        ),
        "maintail" => (
            from("supervisorctl"),
            "the daemon's event log: the `logfile` setting of the config, or `run`'s stderr"
                .to_owned(),
            "",
        ),
        "reread" => (
            from("supervisorctl"),
            format!("{prefix}diff"),
            " (shows what a reload would change; nothing is applied)",
        ),
        "update" => (
            from("supervisorctl"),
            format!("{prefix}reload"),
            " (applies the config's changes; `diff` shows them first)",
        ),
        "avail" => (
            from("supervisorctl"),
            format!("{prefix}status"),
            " (lists every configured process; `diff` shows programs not loaded yet)",
        ),
        "add" | "remove" => (
            from("supervisorctl"),
            format!("{prefix}reload"),
            " after editing the config (programs come and go with the file)",
        ),
        "clear" => (
            from("supervisorctl"),
            "nothing".to_owned(),
            ": logs kept in memory are bounded (`log-buffer`), files are rotated \
             (`max-size`, `keep`) or reopened after a move by `reload`",
        ),
        "open" => (
            from("supervisorctl"),
            format!("{prefix}COMMAND --socket PATH"),
            " (taskmaster serves a unix socket only)",
        ),
        "version" => (from("supervisorctl"), "taskmaster --version".to_owned(), ""),
        "up" => (from("process-compose"), format!("{prefix}run [CONFIG]"), ""),
        "down" => (from("process-compose"), format!("{prefix}shutdown"), ""),
        "list" | "ls" | "ps" => (
            from("process-compose or pm2"),
            format!("{prefix}status"),
            "",
        ),
        _ => return None,
    };
    Some(format!(
        "error: {origin}; in taskmaster use {instead}{why}",
        instead = quote(&instead)
    ))
}

/// Backquotes a suggested command, but not a sentence.
fn quote(text: &str) -> String {
    if text.starts_with("the ") || text == "nothing" {
        text.to_owned()
    } else {
        format!("`{text}`")
    }
}

/// The first argument that is not an option, or `NAME`.
fn name_or(rest: &[String]) -> &str {
    rest.iter()
        .map(String::as_str)
        .find(|w| !w.starts_with('-'))
        .unwrap_or("NAME")
}

/// supervisorctl's `tail [-f] [-BYTES] NAME [stdout|stderr]` as a `logs` command line.
fn tail(rest: &[String], prefix: &str) -> String {
    let mut follow = false;
    let mut stderr = false;
    let mut name = None;
    for word in rest {
        match word.as_str() {
            "-f" => follow = true,
            "stderr" => stderr = true,
            "stdout" => {}
            w if w.starts_with('-') => {}
            w => name = name.or(Some(w)),
        }
    }
    let mut line = format!("{prefix}logs {}", name.unwrap_or("NAME"));
    if follow {
        line.push_str(" -f");
    }
    if stderr {
        line.push_str(" --stderr");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn say(line: &str) -> Option<String> {
        let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        advice(&words, "taskmaster ")
    }

    #[test]
    fn each_habit_names_what_to_use() {
        for (line, wanted) in [
            ("tail -f web", "`taskmaster logs web -f`"),
            ("tail web stderr", "`taskmaster logs web --stderr`"),
            (
                "tail -f web:1 stderr",
                "`taskmaster logs web:1 -f --stderr`",
            ),
            ("fg web", "`taskmaster logs web -f`"),
            ("reread", "`taskmaster diff`"),
            ("update", "`taskmaster reload`"),
            ("update web", "`taskmaster reload`"),
            ("avail", "`taskmaster status`"),
            ("clear web", "log-buffer"),
            ("maintail -f", "`logfile`"),
            ("add web", "`taskmaster reload`"),
            ("version", "`taskmaster --version`"),
            ("up", "`taskmaster run [CONFIG]`"),
        ] {
            let text = say(line).unwrap_or_else(|| panic!("no advice for {line}"));
            assert!(text.contains(wanted), "{line}: {text}");
            assert!(text.starts_with("error: `"), "{text}");
        }
    }

    #[test]
    fn reread_is_diff_not_reload() {
        let text = say("reread").unwrap();
        assert!(!text.contains("reload`"), "{text}");
    }

    #[test]
    fn real_commands_are_left_to_clap() {
        for line in ["status", "logs web -f", "stop all", "signal HUP web", "pid"] {
            assert_eq!(say(line), None, "{line}");
        }
        let args = ["--version", "tail"].map(OsString::from);
        assert_eq!(intercept(args.into_iter()), None);
    }

    #[test]
    fn the_shell_gets_no_prefix() {
        let words = vec!["update".to_owned()];
        assert!(advice(&words, "").unwrap().contains("use `reload`"));
    }
}
