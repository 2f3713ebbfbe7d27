//! The client commands: send one request to the daemon and print its answer.
//!
//! Each command opens its own connection, so the shell simply reconnects for the next
//! command after the daemon went away. Output formats live in [`super::output`].

use std::path::Path;

use super::output::{self, eprint_block};
use super::progress::{Progress, StopPlan};
use super::{Command, Format, SocketArg, exit};
use crate::plan::render::render_diff;
use crate::protocol::{ErrorKind, ErrorReply, Request, Response};

pub(super) mod interrupt;
mod logs;
mod signal_and_pid;
pub(super) mod transport;

use transport::{ClientError, Connection, Target, Wait};

/// Runs a client command (`status`, `start`, `stop`, `restart`, `reload`, `shutdown`, `logs`);
/// returns its exit status.
pub(super) fn run(command: Command) -> u8 {
    let target = |arg: &SocketArg| Target::from_arg(arg).map_err(|e| client_error(&e));
    let outcome = match command {
        Command::Status {
            names,
            format,
            socket,
        } => target(&socket).map(|t| status(&t, names, format.get())),
        Command::Signal {
            signal,
            names,
            socket,
        } => target(&socket).map(|t| signal_and_pid::signal(&t, signal, names)),
        Command::Pid {
            names,
            format,
            socket,
        } => target(&socket).map(|t| signal_and_pid::pid(&t, names, format.get())),
        Command::Start(args) => target(&args.socket).map(|t| {
            let verb = if args.no_deps {
                Verb::StartNoDeps
            } else {
                Verb::Start
            };
            action(&t, verb, args.names)
        }),
        Command::Wait { names, socket } => target(&socket).map(|t| wait(&t, names, socket.timeout)),
        Command::Stop(args) => target(&args.socket).map(|t| action(&t, Verb::Stop, args.names)),
        Command::Restart(args) => {
            target(&args.socket).map(|t| action(&t, Verb::Restart, args.names))
        }
        Command::Reload { socket } => target(&socket).map(|t| reload(&t)),
        Command::Shutdown { socket } => target(&socket).map(|t| shutdown(&t)),
        Command::Logs {
            name,
            follow,
            stderr,
            both,
            lines,
            socket,
        } => target(&socket).map(|t| {
            logs::run(
                &t,
                Request::Logs {
                    name,
                    stderr,
                    lines,
                    follow,
                    both,
                },
            )
        }),
        other => {
            eprintln!("error: `{}` is not a client command", command_word(&other));
            Ok(exit::USAGE)
        }
    };
    outcome.unwrap_or_else(|code| code)
}

/// Online `diff`: asks the daemon what `reload` would do with `config` (or its own file).
pub(super) fn online_diff(
    config: Option<&Path>,
    format: Format,
    show_values: bool,
    socket: &SocketArg,
) -> u8 {
    // The daemon has its own working directory: send it an absolute path.
    let config = match config.map(std::path::absolute).transpose() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: cannot resolve the config path: {e}");
            return exit::USAGE;
        }
    };
    let target = match Target::from_arg(socket) {
        Ok(target) => target,
        Err(e) => return client_error(&e),
    };
    let socket = &target.socket;
    let (diff, warnings) = match Connection::call(&target, Wait::Answer, Request::Diff { config }) {
        Ok(Response::Diff { diff, warnings }) => (diff, warnings),
        Ok(Response::Error(error)) => {
            report_error(&error);
            // For `diff`, 1 means "changes pending", so every failure is a 2.
            return match error.kind {
                ErrorKind::Busy | ErrorKind::ShuttingDown => exit::UNREACHABLE,
                _ => exit::USAGE,
            };
        }
        Ok(other) => return client_error(&unexpected(socket, &other)),
        Err(e) => return client_error(&e),
    };
    print_warnings(&warnings);
    // The same output as the offline diff, so both read (and parse) alike.
    super::diff::print_diff(&diff, format, show_values);
    if diff.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    }
}

/// The command word a user typed for `command`.
pub(in crate::cli) fn command_word(command: &Command) -> &'static str {
    match command {
        Command::Check { .. } => "check",
        Command::Run { .. } => "run",
        Command::Diff { .. } => "diff",
        Command::Status { .. } => "status",
        Command::Start(_) => "start",
        Command::Wait { .. } => "wait",
        Command::Stop(_) => "stop",
        Command::Restart(_) => "restart",
        Command::Reload { .. } => "reload",
        Command::Shutdown { .. } => "shutdown",
        Command::Logs { .. } => "logs",
        Command::Signal { .. } => "signal",
        Command::Pid { .. } => "pid",
        Command::CompleteNames { .. } => "__complete-names",
        Command::Shell { .. } => "shell",
        Command::Completions { .. } => "completions",
        Command::Man { .. } => "man",
        Command::Import { .. } => "import",
        Command::Export { .. } => "export",
        Command::Probe(_) => "probe",
    }
}

fn status(target: &Target, names: Vec<String>, format: Format) -> u8 {
    let socket = &target.socket;
    let mut rows = match Connection::call(target, Wait::Answer, Request::Status { names }) {
        Ok(Response::Status { processes }) => processes,
        Ok(Response::Error(error)) => return error_exit(&error),
        Ok(other) => return client_error(&unexpected(socket, &other)),
        Err(e) => return client_error(&e),
    };
    output::sort_rows(&mut rows);
    if format == Format::Json {
        match serde_json::to_string_pretty(&rows) {
            Ok(text) => output::write_stdout(&(text + "\n")),
            Err(e) => {
                eprintln!("error: cannot encode the status: {e}");
                return exit::FAILED;
            }
        };
    } else {
        output::write_stdout(&output::status_table(&rows, output::stdout_color()));
    }
    exit::OK
}

#[derive(Clone, Copy)]
enum Verb {
    Start,
    StartNoDeps,
    Stop,
    Restart,
}

fn action(target: &Target, verb: Verb, names: Vec<String>) -> u8 {
    let socket = &target.socket;
    let (request, failed_word) = match verb {
        Verb::Start | Verb::StartNoDeps => (
            Request::Start {
                names: names.clone(),
                no_deps: matches!(verb, Verb::StartNoDeps),
            },
            "did not start",
        ),
        Verb::Stop => (
            Request::Stop {
                names: names.clone(),
            },
            "did not stop",
        ),
        Verb::Restart => (
            Request::Restart {
                names: names.clone(),
            },
            "did not restart",
        ),
    };
    // Only a stop is told what it waits for; a restart's stop is followed by a start.
    let plan = match verb {
        Verb::Stop => StopPlan::fetch(target, &names),
        Verb::Start | Verb::StartNoDeps | Verb::Restart => None,
    };
    let progress = Progress::start(progress_label(verb, &names), plan);
    let answer = Connection::call(target, Wait::Work, request);
    progress.finish();
    let (mut rows, failed) = match answer {
        Ok(Response::Done { processes, failed }) => (processes, failed),
        Ok(Response::Error(error)) => return error_exit(&error),
        Ok(other) => return client_error(&unexpected(socket, &other)),
        Err(e) => return client_error(&e),
    };
    output::sort_rows(&mut rows);
    output::write_stdout(&output::status_table(&rows, output::stdout_color()));
    if failed.is_empty() {
        return exit::OK;
    }
    for name in &failed {
        match rows.iter().find(|r| &r.name == name) {
            Some(row) => eprintln!(
                "error: {name} {failed_word}: {}{}",
                row.state,
                suffix(&output::info_column(row))
            ),
            None => eprintln!("error: {name} {failed_word}"),
        }
    }
    exit::FAILED
}

/// `wait [NAME…] [--timeout D]`: the daemon answers once every process is RUNNING, as soon
/// as one is FATAL, or at the deadline. `--timeout` is that deadline here (the whole wait),
/// not the silence allowed between answers: meanwhile the daemon is pinged as for `start`.
fn wait(target: &Target, names: Vec<String>, deadline: Option<std::time::Duration>) -> u8 {
    let socket = &target.socket;
    let label = if names.is_empty() {
        "waiting for every autostart process".to_owned()
    } else {
        format!("waiting for {}", names.join(", "))
    };
    let request = Request::Wait {
        names,
        timeout_ms: deadline.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    };
    // Pings get the default silence allowance: the deadline is the daemon's to keep.
    let mut pinged = target.clone();
    pinged.timeout = transport::DEFAULT_TIMEOUT;
    let progress = Progress::start(label, None);
    let answer = Connection::call(&pinged, Wait::Work, request);
    progress.finish();
    let (mut rows, failed, timed_out) = match answer {
        Ok(Response::Waited {
            processes,
            failed,
            timed_out,
        }) => (processes, failed, timed_out),
        Ok(Response::Error(error)) => return error_exit(&error),
        Ok(other) => return client_error(&unexpected(socket, &other)),
        Err(e) => return client_error(&e),
    };
    output::sort_rows(&mut rows);
    output::write_stdout(&output::status_table(&rows, output::stdout_color()));
    if failed.is_empty() {
        return exit::OK;
    }
    let why = if timed_out {
        "is not running at the deadline"
    } else {
        "is not running"
    };
    for row in rows.iter().filter(|r| failed.contains(&r.name)) {
        eprintln!(
            "error: {} {why}: {}{}",
            row.name,
            row.state,
            suffix(&output::info_column(row))
        );
    }
    exit::FAILED
}

/// What the progress line says while `verb` waits: `stopping web, db`.
fn progress_label(verb: Verb, names: &[String]) -> String {
    let word = match verb {
        Verb::Start | Verb::StartNoDeps => "starting",
        Verb::Stop => "stopping",
        Verb::Restart => "restarting",
    };
    format!("{word} {}", names.join(", "))
}

/// `" (text)"`, or nothing for an empty text.
fn suffix(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(" ({text})")
    }
}

fn reload(target: &Target) -> u8 {
    let socket = &target.socket;
    match Connection::call(target, Wait::Answer, Request::Reload) {
        Ok(Response::Reloaded { diff, warnings }) => {
            print_warnings(&warnings);
            output::write_stdout(&render_diff(&diff, output::stdout_color()));
            exit::OK
        }
        Ok(Response::Error(error)) => {
            report_error(&error);
            match error.kind {
                ErrorKind::ShuttingDown | ErrorKind::Busy => exit::UNREACHABLE,
                _ => exit::FAILED,
            }
        }
        Ok(other) => client_error(&unexpected(socket, &other)),
        Err(e) => client_error(&e),
    }
}

fn shutdown(target: &Target) -> u8 {
    let socket = &target.socket;
    let plan = StopPlan::fetch(target, &["all".to_owned()]);
    let progress = Progress::start("shutting down: stopping every program".to_owned(), plan);
    let answer = Connection::call(target, Wait::Work, Request::Shutdown);
    progress.finish();
    match answer {
        Ok(Response::ShutDown) => {
            output::write_stdout("shut down\n");
            exit::OK
        }
        Ok(Response::Error(error)) => error_exit(&error),
        Ok(other) => client_error(&unexpected(socket, &other)),
        Err(e) => client_error(&e),
    }
}

/// Prints the config's warnings (already rendered by the daemon) on stderr.
fn print_warnings(warnings: &str) {
    if !warnings.trim().is_empty() {
        eprint_block(warnings);
    }
}

/// Prints a daemon error: its message, then its diagnostics when it has any.
fn report_error(error: &ErrorReply) {
    eprintln!("error: {}", error.message);
    if let Some(diagnostics) = error.diagnostics.as_deref().filter(|d| !d.is_empty()) {
        eprint_block(diagnostics);
    }
}

/// Prints a daemon error and gives the exit status it means for most commands.
pub(super) fn error_exit(error: &ErrorReply) -> u8 {
    report_error(error);
    match error.kind {
        ErrorKind::UnknownName | ErrorKind::InvalidConfig | ErrorKind::BadRequest => exit::FAILED,
        ErrorKind::TooLarge | ErrorKind::Unreadable => exit::USAGE,
        ErrorKind::ShuttingDown | ErrorKind::Busy => exit::UNREACHABLE,
    }
}

/// Prints a transport failure and gives its exit status.
pub(super) fn client_error(error: &ClientError) -> u8 {
    crate::cli::output::eprint_diagnostic(error);
    error.exit_code()
}

/// An error for an answer of the wrong kind.
pub(super) fn unexpected(socket: &Path, response: &Response) -> ClientError {
    ClientError::Protocol {
        socket: socket.to_owned(),
        detail: format!("{response:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_map_to_contract_statuses() {
        let e = |kind| error_exit(&ErrorReply::new(kind, "x"));
        assert_eq!(e(ErrorKind::UnknownName), exit::FAILED);
        assert_eq!(e(ErrorKind::InvalidConfig), exit::FAILED);
        assert_eq!(e(ErrorKind::ShuttingDown), exit::UNREACHABLE);
    }

    #[test]
    fn unreachable_socket_is_exit_3_and_names_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("nothing.sock");
        let err =
            Connection::call(&Target::new(&socket), Wait::Answer, Request::Names).unwrap_err();
        assert_eq!(err.exit_code(), exit::UNREACHABLE);
        let text = err.to_string();
        assert!(text.contains("nothing.sock"), "{text}");
        // What to do is the help, not part of the message.
        assert!(!text.contains("taskmaster run CONFIG"), "{text}");
        let help = miette::Diagnostic::help(&err).map(|h| h.to_string());
        assert!(
            help.as_deref()
                .is_some_and(|h| h.contains("taskmaster run CONFIG")),
            "{help:?}"
        );
    }
}
