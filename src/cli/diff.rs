//! `taskmaster diff`: the plan diff between two files, or against the running daemon.

use std::path::PathBuf;

use super::{Format, SocketArg};

pub(super) fn run(_configs: &[PathBuf], _format: Format, _socket: &SocketArg) -> u8 {
    eprintln!("diff: not implemented yet");
    super::exit::USAGE
}
