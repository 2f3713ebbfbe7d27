//! Tab completion for the shell: command words, each command's flags, live program and
//! process names (asked of the daemon on demand; any failure just means no candidates),
//! and file names for `diff` and `check`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::CommandFactory;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use super::line::SHELL_COMMANDS;
use crate::cli::Cli;
use crate::cli::client::transport::{Connection, Target, Wait};
use crate::cli::output::natural_cmp;
use crate::protocol::{Request, Response};

/// How long the shell's completion waits for the daemon's names before offering none.
const NAMES_DEADLINE: Duration = Duration::from_secs(2);

/// The same for `__complete-names`, which bash, zsh and fish run on every Tab: shorter,
/// since a shell prompt waits for it.
pub(super) const SCRIPT_NAMES_DEADLINE: Duration = Duration::from_secs(1);

/// The rustyline helper: completion only; no hints, highlighting or validation.
pub(super) struct ShellHelper {
    socket: PathBuf,
    files: FilenameCompleter,
}

impl ShellHelper {
    pub(super) fn new(socket: PathBuf) -> Self {
        ShellHelper {
            socket,
            files: FilenameCompleter::new(),
        }
    }

    /// Every program and process name the daemon knows; none when it cannot be asked.
    fn names(&self) -> Names {
        live_names(&self.socket, NAMES_DEADLINE)
    }
}

/// Every program and process name the daemon at `socket` knows; none when it does not
/// answer within `deadline`.
pub(super) fn live_names(socket: &std::path::Path, deadline: Duration) -> Names {
    let fetch = || -> Option<Names> {
        let target = Target {
            socket: socket.to_owned(),
            timeout: deadline,
        };
        let mut conn = Connection::open(&target, Wait::Answer).ok()?;
        conn.set_deadline(Instant::now() + deadline);
        conn.send(Request::Names).ok()?;
        match conn.expect().ok()? {
            Response::Names {
                programs,
                processes,
            } => Some(Names {
                programs,
                processes,
            }),
            _ => None,
        }
    };
    fetch().unwrap_or_default()
}

/// Names of the daemon's programs and processes.
#[derive(Debug, Default, Clone)]
pub(super) struct Names {
    pub programs: Vec<String>,
    pub processes: Vec<String>,
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = line.get(..pos).unwrap_or(line);
        let start = before.rfind(char::is_whitespace).map_or(0, |i| {
            i + before[i..].chars().next().map_or(1, char::len_utf8)
        });
        let word = &before[start..];
        let previous: Vec<&str> = before[..start].split_whitespace().collect();
        if matches!(previous.first(), Some(&("diff" | "check"))) && !word.starts_with('-') {
            return self.files.complete(line, pos, ctx);
        }
        let candidates = candidates(&previous, word, || self.names());
        Ok((
            start,
            candidates
                .into_iter()
                .map(|c| Pair {
                    display: c.clone(),
                    replacement: c,
                })
                .collect(),
        ))
    }
}

/// What may follow `previous` words, starting with `word`. `names` is called only when
/// names are wanted.
pub(super) fn candidates(
    previous: &[&str],
    word: &str,
    names: impl FnOnce() -> Names,
) -> Vec<String> {
    let mut out: Vec<String> = match previous {
        [] | ["help"] => SHELL_COMMANDS.iter().map(|s| (*s).to_owned()).collect(),
        [command, ..] if word.starts_with('-') => flags(command),
        ["signal"] => SIGNALS.iter().map(|s| (*s).to_owned()).collect(),
        [command, rest @ ..] => match *command {
            "status" | "start" | "stop" | "restart" | "logs" | "signal" | "pid" => {
                let names = names();
                let mut all = names.programs.clone();
                all.extend(names.programs.iter().map(|p| format!("{p}:*")));
                all.extend(names.processes);
                if *command != "logs" {
                    all.push("all".to_owned());
                }
                // A name already given is not offered again; `logs` takes only one.
                all.retain(|n| !rest.contains(&n.as_str()));
                if *command == "logs" && positionals(rest) > 0 {
                    all.clear();
                }
                all
            }
            _ => Vec::new(),
        },
    };
    out.retain(|c| c.starts_with(word));
    out.sort_by(|a, b| natural_cmp(a, b));
    out.dedup();
    out
}

/// The signals `signal` offers first; any other name or number works too.
const SIGNALS: &[&str] = &[
    "HUP", "INT", "QUIT", "KILL", "USR1", "USR2", "TERM", "CONT", "STOP", "TSTP", "WINCH",
];

/// How many of `words` are positional arguments (not flags, nor a flag's value).
fn positionals(words: &[&str]) -> usize {
    let mut count = 0;
    let mut skip_value = false;
    for word in words {
        if skip_value {
            skip_value = false;
        } else if word.starts_with('-') {
            skip_value = matches!(*word, "-n" | "--lines" | "--socket");
        } else {
            count += 1;
        }
    }
    count
}

/// The long flags of a subcommand, from the clap definitions.
fn flags(command: &str) -> Vec<String> {
    let cli = Cli::command();
    let Some(sub) = cli.find_subcommand(command) else {
        return Vec::new();
    };
    sub.get_arguments()
        .filter_map(|arg| arg.get_long())
        .map(|long| format!("--{long}"))
        .chain(std::iter::once("--help".to_owned()))
        .collect()
}

impl Hinter for ShellHelper {
    type Hint = String;
}

impl Highlighter for ShellHelper {}

impl Validator for ShellHelper {}

impl Helper for ShellHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> Names {
        Names {
            programs: vec!["web".into(), "worker".into()],
            processes: vec![
                "web:0".into(),
                "web:10".into(),
                "web:2".into(),
                "worker".into(),
            ],
        }
    }

    fn no_daemon() -> Names {
        panic!("names are not needed here")
    }

    #[test]
    fn first_word_completes_commands() {
        assert_eq!(
            candidates(&[], "st", no_daemon),
            ["start", "status", "stop"]
        );
        assert_eq!(
            candidates(&["help"], "re", no_daemon),
            ["reload", "restart"]
        );
    }

    #[test]
    fn names_complete_from_the_daemon() {
        assert_eq!(
            candidates(&["start"], "w", live),
            [
                "web", "web:0", "web:2", "web:10", "web:*", "worker", "worker:*"
            ]
        );
        assert_eq!(candidates(&["stop"], "a", live), ["all"]);
        assert_eq!(candidates(&["status"], "a", live), ["all"]);
        assert_eq!(candidates(&["logs"], "a", live), Vec::<String>::new());
        assert_eq!(candidates(&["signal"], "U", no_daemon), ["USR1", "USR2"]);
        assert_eq!(
            candidates(&["signal", "HUP"], "wo", live),
            ["worker", "worker:*"]
        );
        assert_eq!(
            candidates(&["pid"], "web:", live),
            ["web:0", "web:2", "web:10", "web:*"]
        );
        assert_eq!(
            candidates(&["stop", "web"], "web", live),
            ["web:0", "web:2", "web:10", "web:*"]
        );
        assert_eq!(
            candidates(&["logs", "-n", "5"], "wo", live),
            ["worker", "worker:*"]
        );
        assert!(candidates(&["logs", "web"], "", live).is_empty());
    }

    #[test]
    fn flags_come_from_clap() {
        let logs = candidates(&["logs"], "--", no_daemon);
        for flag in ["--follow", "--stderr", "--lines", "--socket", "--help"] {
            assert!(logs.contains(&flag.to_owned()), "{flag} in {logs:?}");
        }
        assert_eq!(candidates(&["status"], "--j", no_daemon), ["--json"]);
    }

    #[test]
    fn unreachable_daemon_gives_no_names() {
        let dir = tempfile::tempdir().unwrap();
        let helper = ShellHelper::new(dir.path().join("none.sock"));
        assert!(helper.names().programs.is_empty());
    }
}
