//! The client commands: send one request to the daemon and print its answer.

use std::path::Path;

use super::{Command, Format, SocketArg};

pub(super) fn run(_command: Command) -> u8 {
    eprintln!("not implemented yet");
    super::exit::USAGE
}

/// Online `diff`: asks the daemon what `reload` would do with `config` (or its own file).
pub(super) fn online_diff(_config: Option<&Path>, _format: Format, _socket: &SocketArg) -> u8 {
    eprintln!("diff: not implemented yet");
    super::exit::UNREACHABLE
}
