//! `taskmaster run [CONFIG] [--socket PATH]`: load the config and supervise in the
//! foreground until SIGTERM/SIGINT or a `shutdown` request.
//!
//! Exit status: 0 after a clean shutdown; 1 invalid config (or the event loop failing);
//! 2 unreadable config, a logfile that cannot be opened, socket in use or not usable.

use std::path::{Path, PathBuf};

use super::exit;
use super::socket_path::{DEFAULT_CONFIG, for_daemon};
use crate::plan::{LoadError, load_file};
use crate::runtime::{self, RunError};

pub(super) fn run(config: Option<PathBuf>, socket: Option<PathBuf>) -> u8 {
    // First of all, before anything could start a thread: block the signals the daemon
    // takes through its signalfd.
    let signals = match runtime::block_signals() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("taskmaster: {e}");
            return exit::FAILED;
        }
    };
    let config = config.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
    // Absolute, so a reload reads the same file whatever happens to the cwd.
    let config = absolute(&config);
    let compiled = match load_file(&config) {
        Ok(c) => c,
        Err(LoadError::Unreadable { path, reason }) => {
            eprintln!("taskmaster: cannot read {}: {reason}", path.display());
            return exit::USAGE;
        }
        Err(LoadError::Invalid(report)) => {
            eprint!("{}", with_newline(report.render(use_color())));
            return exit::FAILED;
        }
    };
    if !compiled.warnings.is_empty() {
        eprint!("{}", with_newline(compiled.warnings.render(use_color())));
    }
    let socket = absolute(&for_daemon(socket.as_deref(), &compiled.plan));
    match runtime::run(signals, config, compiled.plan, socket) {
        Ok(()) => exit::OK,
        Err(e @ (RunError::Bind(_) | RunError::Logfile { .. })) => {
            eprintln!("taskmaster: {e}");
            exit::USAGE
        }
        Err(e) => {
            eprintln!("taskmaster: {e}");
            exit::FAILED
        }
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

fn with_newline(mut s: String) -> String {
    if !s.is_empty() && !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// Colour on stderr, by the rule `check` and `diff` follow: a terminal, and no
/// `NO_COLOR` set to a non-empty value (<https://no-color.org>).
fn use_color() -> bool {
    use std::io::IsTerminal as _;
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}
