//! `taskmaster diff`: the plan diff between two files (offline), or what `reload` would do
//! to the running daemon (online).

use std::path::PathBuf;

use super::{Format, SocketArg};

pub(super) fn run(configs: &[PathBuf], format: Format, socket: &SocketArg) -> u8 {
    match configs {
        [old, new] => offline(old, new, format),
        [] => super::client::online_diff(None, format, socket),
        [config] => super::client::online_diff(Some(config), format, socket),
        _ => unreachable!("clap allows at most two configs"),
    }
}

fn offline(_old: &std::path::Path, _new: &std::path::Path, _format: Format) -> u8 {
    eprintln!("diff: not implemented yet");
    super::exit::USAGE
}
