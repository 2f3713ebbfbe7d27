//! `taskmaster shell`: the interactive control shell.
//!
//! Each line is one client command with the same words as on the command line, parsed by the
//! same clap definitions ([`line`]). On a terminal it runs on rustyline with history and tab
//! completion; with stdin piped it reads one command per line and reports whether any failed.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{CompletionType, Config, Editor};

use super::client::interrupt;
use super::{SocketArg, exit};

mod complete;
mod history;
mod line;

use line::Outcome;

const PROMPT: &str = "taskmaster> ";

/// `taskmaster __complete-names`: what the bash, zsh and fish completion scripts offer
/// after a command that takes names. Always exit 0; an unreachable daemon gives no names.
pub(super) fn complete_names(socket: &SocketArg) -> u8 {
    let Ok(socket) =
        super::socket_path::for_client(socket.socket.as_deref(), socket.config.as_deref())
    else {
        return exit::OK;
    };
    let names = complete::live_names(&socket, complete::SCRIPT_NAMES_DEADLINE);
    if names.programs.is_empty() && names.processes.is_empty() {
        // No daemon (or no programs): no `all` either.
        return exit::OK;
    }
    let words = complete::candidates(&["start"], "", || names);
    let mut text = String::new();
    for word in words {
        text.push_str(&word);
        text.push('\n');
    }
    super::output::write_stdout(&text);
    exit::OK
}

pub(super) fn run(socket: &SocketArg) -> u8 {
    if let Some(timeout) = socket.timeout {
        super::client::transport::set_default_timeout(timeout);
    }
    let socket =
        match super::socket_path::for_client(socket.socket.as_deref(), socket.config.as_deref()) {
            Ok(socket) => socket,
            Err(e) => {
                eprintln!("error: {e}");
                return super::exit::USAGE;
            }
        };
    if std::io::stdin().is_terminal() {
        interactive(socket)
    } else {
        piped(&socket)
    }
}

/// Commands from a script or a pipe: every line runs, failures are counted, not fatal.
fn piped(socket: &std::path::Path) -> u8 {
    let mut failed = false;
    for text in std::io::stdin().lock().lines() {
        let text = match text {
            Ok(text) => text,
            Err(e) => {
                eprintln!("error: cannot read stdin: {e}");
                failed = true;
                break;
            }
        };
        match line::execute(&text, socket) {
            Outcome::Done(status) => failed |= status != exit::OK,
            Outcome::Quit => break,
        }
    }
    if failed { exit::FAILED } else { exit::OK }
}

fn interactive(socket: PathBuf) -> u8 {
    if let Err(e) = interrupt::install() {
        eprintln!("warning: cannot catch Ctrl-C ({e}); it will end the shell");
    }
    let config = Config::builder()
        .auto_add_history(false)
        .history_ignore_space(true)
        .history_ignore_dups(true)
        .map(|b| b.completion_type(CompletionType::List).build());
    let config = match config {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: cannot configure the line editor: {e}");
            return exit::USAGE;
        }
    };
    let mut editor: Editor<complete::ShellHelper, FileHistory> = match Editor::with_config(config) {
        Ok(editor) => editor,
        Err(e) => {
            eprintln!("error: cannot start the line editor: {e}");
            return exit::USAGE;
        }
    };
    editor.set_helper(Some(complete::ShellHelper::new(socket.clone())));
    println!(
        "taskmaster shell for the daemon at {}: `help` lists the commands, Ctrl-D leaves",
        socket.display()
    );
    let history = history::path();
    if let Some(path) = &history {
        history::load(&mut editor, path);
    }
    loop {
        match editor.readline(PROMPT) {
            Ok(text) => {
                if !text.trim().is_empty() {
                    // A history that cannot grow is not worth a message per line.
                    let _ = editor.add_history_entry(text.as_str());
                }
                interrupt::clear();
                if let Outcome::Quit = line::execute(&text, &socket) {
                    break;
                }
            }
            // Ctrl-C cancels the line being typed.
            Err(ReadlineError::Interrupted) => {}
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("error: cannot read a line: {e}");
                break;
            }
        }
    }
    if let Some(path) = &history {
        history::save(&mut editor, path);
    }
    exit::OK
}
