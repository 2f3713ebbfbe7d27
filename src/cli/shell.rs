//! `taskmaster shell`: the interactive control shell.

use super::SocketArg;

pub(super) fn run(_socket: &SocketArg) -> u8 {
    eprintln!("shell: not implemented yet");
    super::exit::USAGE
}
