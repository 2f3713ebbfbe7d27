//! `taskmaster run`: load the config and supervise in the foreground.

use std::path::PathBuf;

pub(super) fn run(_config: Option<PathBuf>, _socket: Option<PathBuf>) -> u8 {
    eprintln!("run: not implemented yet");
    super::exit::USAGE
}
