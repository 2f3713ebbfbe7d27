//! `taskmaster diff`: the plan diff between two files (offline), or what `reload` would do
//! to the running daemon (online, in [`super::client`]).
//!
//! Exit status: 0 no change, 1 changes, 2 error (an unreadable or invalid file, whose
//! problems go to stderr; nothing is printed on stdout then). `--format json` (or `--json`)
//! prints the object described at [`diff_json`]; warnings of valid files go to stderr either
//! way. `env` values are hidden unless `--show-values`.

use std::path::{Path, PathBuf};

use crate::plan::render::{diff_json, render_diff_with};
use crate::plan::{self, Compiled, LoadError, PlanDiff};

use super::output::{stderr_color, stdout_color};
use super::{Format, SocketArg, exit};

pub(super) fn run(
    configs: &[PathBuf],
    format: Format,
    show_values: bool,
    socket: &SocketArg,
) -> u8 {
    match configs {
        [old, new] => offline(old, new, format, show_values),
        [] => super::client::online_diff(None, format, show_values, socket),
        [config] => super::client::online_diff(Some(config), format, show_values, socket),
        _ => {
            // clap allows at most two; stay graceful should that ever change.
            eprintln!("error: diff takes OLD NEW, one CONFIG, or none");
            exit::USAGE
        }
    }
}

/// `diff OLD NEW`: both files are compiled; either failing is an error (exit 2) whose
/// problems are printed, so a broken NEW is caught before any reload is tried.
fn offline(old: &Path, new: &Path, format: Format, show_values: bool) -> u8 {
    let (Some(old), Some(new)) = (load(old), load(new)) else {
        return exit::USAGE;
    };
    let diff = plan::diff(&old.plan, &new.plan);
    print_diff(&diff, format, show_values);
    if diff.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    }
}

/// Prints a diff on stdout in the chosen format, coloured by [`stdout_color`]'s rule, `env`
/// values only when `show_values`.
pub(super) fn print_diff(diff: &PlanDiff, format: Format, show_values: bool) {
    let text = match format {
        Format::Human => render_diff_with(diff, stdout_color(), show_values),
        Format::Json => format!("{:#}\n", diff_json(diff, show_values)),
    };
    super::output::write_stdout(&text);
}

/// Loads one config, printing its problems (and any warnings) on stderr.
fn load(path: &Path) -> Option<Compiled> {
    match plan::load_file(path) {
        Ok(compiled) => {
            if !compiled.warnings.is_empty() {
                eprint!("{}", compiled.warnings.render(stderr_color()));
            }
            Some(compiled)
        }
        Err(LoadError::Unreadable { path, reason }) => {
            eprintln!("error: cannot read {}: {reason}", path.display());
            None
        }
        Err(LoadError::Invalid(report)) => {
            eprint!("{}", report.render(stderr_color()));
            None
        }
    }
}
