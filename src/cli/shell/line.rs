//! One shell line: split it like a shell would, parse it with the command line's own clap
//! definitions, and run it with the shell's socket unless the line names another.

use std::path::Path;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};

use crate::cli::client::command_word;
use crate::cli::{Cli, Command, SocketArg, exit};

/// What the shell does after a line.
pub(super) enum Outcome {
    /// The line ran (or was empty); its exit status.
    Done(u8),
    /// `exit` or `quit`.
    Quit,
}

/// The command words the shell offers, in the order `help` lists them.
pub(super) const SHELL_COMMANDS: &[&str] = &[
    "status", "start", "stop", "restart", "wait", "signal", "pid", "reload", "shutdown", "logs",
    "diff", "check", "help", "exit", "quit",
];

/// Runs one line of shell input.
pub(super) fn execute(text: &str, socket: &Path) -> Outcome {
    let text = text.trim();
    if text.is_empty() || text.starts_with('#') {
        return Outcome::Done(exit::OK);
    }
    let Some(words) = shlex::split(text) else {
        eprintln!("error: unbalanced quotes in `{text}`");
        return Outcome::Done(exit::USAGE);
    };
    match words.first().map(String::as_str) {
        None => Outcome::Done(exit::OK),
        Some("exit" | "quit") => Outcome::Quit,
        Some("help") => Outcome::Done(help(&words[1..])),
        Some(_) => match crate::cli::habits::advice(&words, "") {
            Some(text) => {
                eprintln!("{text}");
                Outcome::Done(exit::USAGE)
            }
            None => Outcome::Done(run_words(&words, socket)),
        },
    }
}

/// Parses and runs a client command given as words.
fn run_words(words: &[String], socket: &Path) -> u8 {
    let mut cli = match parse(words) {
        Ok(cli) => cli,
        Err(status) => return status,
    };
    let word = command_word(&cli.command);
    if !SHELL_COMMANDS.contains(&word) {
        crate::cli::output::eprint_with_help(
            &format!("`{word}` is not available in the shell"),
            &"`help` lists the shell's commands",
        );
        return exit::USAGE;
    }
    // A line naming its own socket or config talks to that daemon instead.
    if let Some(arg) = socket_arg_mut(&mut cli.command)
        && arg.socket.is_none()
        && arg.config.is_none()
    {
        arg.socket = Some(socket.to_owned());
    }
    crate::cli::dispatch(cli)
}

/// Parses words with the command line's definitions. A `--socket` taken from
/// `TASKMASTER_SOCKET` is dropped, so the shell's own `--socket` wins over the variable
/// exactly as it did when the shell started.
fn parse(words: &[String]) -> Result<Cli, u8> {
    let args = std::iter::once("taskmaster").chain(words.iter().map(String::as_str));
    let matches = match Cli::command().try_get_matches_from(args) {
        Ok(matches) => matches,
        Err(e) => {
            // --help is an "error" to clap; print it where it belongs.
            let status = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return Err(status);
        }
    };
    let from_env = matches.subcommand().is_some_and(|(_, sub)| {
        sub.try_get_raw("socket").is_ok()
            && sub.value_source("socket") == Some(ValueSource::EnvVariable)
    });
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return Err(exit::USAGE);
        }
    };
    if from_env && let Some(arg) = socket_arg_mut(&mut cli.command) {
        arg.socket = None;
    }
    Ok(cli)
}

/// The `--socket` of a command that talks to the daemon.
fn socket_arg_mut(command: &mut Command) -> Option<&mut SocketArg> {
    match command {
        Command::Diff { socket, .. }
        | Command::Status { socket, .. }
        | Command::Reload { socket }
        | Command::Shutdown { socket }
        | Command::Logs { socket, .. }
        | Command::Signal { socket, .. }
        | Command::Pid { socket, .. }
        | Command::CompleteNames { socket }
        | Command::Wait { socket, .. }
        | Command::Shell { socket } => Some(socket),
        Command::Start(args) => Some(&mut args.socket),
        Command::Stop(args) | Command::Restart(args) => Some(&mut args.socket),
        Command::Check { .. }
        | Command::Run { .. }
        | Command::Completions { .. }
        | Command::Man { .. }
        | Command::Import { .. }
        | Command::Export { .. }
        | Command::Probe(_) => None,
    }
}

/// `help`: the shell's commands; `help CMD`: that command's options.
fn help(args: &[String]) -> u8 {
    match args {
        [] => {
            crate::cli::output::write_stdout(&overview());
            exit::OK
        }
        [word] if matches!(word.as_str(), "exit" | "quit") => {
            println!("{word}: leave the shell (Ctrl-D too)");
            exit::OK
        }
        [word] if word == "help" => {
            println!("help [COMMAND]: list the commands, or show one command's options");
            exit::OK
        }
        [word] if SHELL_COMMANDS.contains(&word.as_str()) => {
            let words = [word.clone(), "--help".to_owned()];
            parse(&words).err().unwrap_or(exit::OK)
        }
        [word] => {
            match crate::cli::habits::advice(std::slice::from_ref(word), "") {
                Some(text) => eprintln!("{text}"),
                None => crate::cli::output::eprint_with_help(
                    &format!("no command `{word}`"),
                    &"`help` lists the shell's commands",
                ),
            }
            exit::USAGE
        }
        _ => {
            eprintln!("usage: help [COMMAND]");
            exit::USAGE
        }
    }
}

/// The list `help` prints, from the clap definitions' own one-line descriptions.
fn overview() -> String {
    let cli = Cli::command();
    let mut rows: Vec<(String, String)> = SHELL_COMMANDS
        .iter()
        .filter_map(|word| cli.find_subcommand(word))
        .map(|sub| {
            let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
            let about = about.lines().next().unwrap_or_default();
            // A long description keeps its first clause, so the list stays one line each.
            let about = match about.find(": ").or_else(|| about.find("; ")) {
                Some(cut) if about.len() > 60 => &about[..cut],
                _ => about,
            };
            let about = about.to_owned();
            (sub.get_name().to_owned(), about)
        })
        .collect();
    rows.push((
        "help [COMMAND]".into(),
        "List the commands, or show one command's options".into(),
    ));
    rows.push(("exit, quit".into(), "Leave the shell (Ctrl-D too)".into()));
    let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let mut out = String::from("Commands (the same words as `taskmaster COMMAND`):\n");
    for (name, about) in rows {
        out.push_str(&format!("  {name:<width$}  {about}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        shlex::split(line).unwrap()
    }

    #[test]
    fn client_commands_parse_with_the_cli_definitions() {
        let cli = parse(&words("restart web 'api:1'")).ok().unwrap();
        match cli.command {
            Command::Restart(args) => assert_eq!(args.names, ["web", "api:1"]),
            other => panic!("{other:?}"),
        }
        let cli = parse(&words("logs web -f -n 5 --socket /x.sock"))
            .ok()
            .unwrap();
        match cli.command {
            Command::Logs {
                name,
                follow,
                lines,
                socket,
                ..
            } => {
                assert_eq!(name, "web");
                assert!(follow);
                assert_eq!(lines, Some(5));
                assert_eq!(socket.socket.as_deref(), Some(Path::new("/x.sock")));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn usage_errors_are_status_2() {
        assert_eq!(parse(&words("start")).err(), Some(exit::USAGE));
        assert_eq!(parse(&words("frobnicate")).err(), Some(exit::USAGE));
    }

    #[test]
    fn non_client_commands_are_refused() {
        let socket = Path::new("/nonexistent/taskmaster.sock");
        assert!(matches!(
            execute("run x.kdl", socket),
            Outcome::Done(exit::USAGE)
        ));
        assert!(matches!(
            execute("shell", socket),
            Outcome::Done(exit::USAGE)
        ));
    }

    #[test]
    fn supervisorctl_habits_get_advice_with_status_2() {
        let socket = Path::new("/nonexistent/taskmaster.sock");
        for line in [
            "tail -f web",
            "reread",
            "update",
            "avail",
            "clear web",
            "fg web",
        ] {
            assert!(
                matches!(execute(line, socket), Outcome::Done(exit::USAGE)),
                "{line}"
            );
        }
    }

    #[test]
    fn blank_comment_and_quit_lines() {
        let socket = Path::new("/nonexistent/taskmaster.sock");
        assert!(matches!(execute("   ", socket), Outcome::Done(exit::OK)));
        assert!(matches!(execute("# hi", socket), Outcome::Done(exit::OK)));
        assert!(matches!(execute("quit", socket), Outcome::Quit));
        assert!(matches!(execute(" exit ", socket), Outcome::Quit));
        assert!(matches!(
            execute("status 'web", socket),
            Outcome::Done(exit::USAGE)
        ));
    }

    #[test]
    fn overview_lists_every_shell_command() {
        let text = overview();
        for word in SHELL_COMMANDS {
            assert!(text.contains(word), "{word} missing from\n{text}");
        }
        assert!(!text.contains("  run "));
    }
}
