//! `taskmaster check`: compile a config and report every problem.

use std::path::Path;

use super::Format;

pub(super) fn run(_config: &Path, _format: Format) -> u8 {
    eprintln!("check: not implemented yet");
    super::exit::USAGE
}
