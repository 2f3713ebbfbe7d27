//! `completions`, `man` and `import`: the commands that help people adopt taskmaster.

use std::path::Path;

pub(super) fn completions(_shell: clap_complete::Shell) -> u8 {
    super::exit::USAGE
}

pub(super) fn man() -> u8 {
    super::exit::USAGE
}

pub(super) fn import(_file: &Path) -> u8 {
    super::exit::USAGE
}
