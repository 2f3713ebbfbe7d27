//! The client commands: send one request to the daemon and print its answer.

use super::Command;

pub(super) fn run(_command: Command) -> u8 {
    eprintln!("not implemented yet");
    super::exit::USAGE
}
