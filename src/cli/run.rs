//! `taskmaster run [CONFIG] [--socket PATH]`: load the config and supervise in the
//! foreground until SIGTERM/SIGINT or a `shutdown` request.
//!
//! Exit status: 0 after a clean shutdown; 1 invalid config (or the event loop failing);
//! 2 unreadable config, a logfile that cannot be opened, socket in use or not usable.

use std::path::{Path, PathBuf};

use super::exit;
use super::output::load_config;
use super::socket_path::{DEFAULT_CONFIG, fallback_folder, fallback_socket, for_daemon};
use crate::runtime::{self, RunError};

pub(super) fn run(config: Option<PathBuf>, socket: Option<PathBuf>) -> u8 {
    // First of all, before anything could start a thread: one malloc arena (the parser's
    // thread would otherwise keep a freed config resident) and the signals the daemon takes
    // through its signalfd blocked.
    runtime::use_one_arena();
    let signals = match runtime::block_signals() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::FAILED;
        }
    };
    let config = config.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
    // Absolute, so a reload reads the same file whatever happens to the cwd.
    let config = absolute(&config);
    let compiled = match load_config(&config) {
        Ok(c) => c,
        Err(status) => return status,
    };
    let socket = absolute(&for_daemon(socket.as_deref(), &compiled.plan));
    // The last-resort socket lives in a private folder under /tmp, made here.
    if socket == fallback_socket()
        && let Err(e) = runtime::socket::private_folder(&fallback_folder())
    {
        crate::cli::output::eprint_diagnostic(&e);
        return exit::USAGE;
    }
    match runtime::run(signals, config, compiled.plan, socket) {
        Ok(()) => exit::OK,
        Err(e @ (RunError::Bind(_) | RunError::Logfile { .. })) => {
            crate::cli::output::eprint_diagnostic(&e);
            exit::USAGE
        }
        Err(e) => {
            crate::cli::output::eprint_diagnostic(&e);
            exit::FAILED
        }
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}
