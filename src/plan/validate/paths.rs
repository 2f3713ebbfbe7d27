//! Path settings: resolved against the config's folder, and checked against the file system
//! mostly for warnings (a folder may well be created before the program starts). Two checks
//! of a file target (`logfile`, `socket`, `stdout`, `stderr`) look at the target itself:
//! an existing directory is an error (`run` would fail to open it), and an existing FIFO is
//! a warning (nothing may be reading it when a program starts). Both come from `stat`, which
//! never opens the target, so checking never blocks on a FIFO.

use std::path::{Path, PathBuf};

use kdl::KdlEntry;

use super::Ctx;
use super::fields;
use crate::parse::syntax::value_span;
use crate::plan::codes::Code;
use crate::plan::report::Problem;

/// Joins a relative path to `base` and drops `.` components, without touching the disk.
pub(crate) fn resolve(base: &Path, path: &str) -> PathBuf {
    base.join(path).components().collect()
}

/// Why a path's text cannot be a path; shared with `taskmaster import`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathFlaw {
    Empty,
    Nul,
}

/// The rules every path setting follows: not empty, no NUL.
pub(crate) fn path_flaw(text: &str) -> Option<PathFlaw> {
    if text.is_empty() {
        Some(PathFlaw::Empty)
    } else if text.contains('\0') {
        Some(PathFlaw::Nul)
    } else {
        None
    }
}

/// A path setting's value, absolute.
pub(super) fn path(ctx: &mut Ctx, entry: &KdlEntry, field: &str, example: &str) -> Option<PathBuf> {
    let text = fields::string(ctx, entry, field, example)?;
    let flaw = path_flaw(text);
    if flaw == Some(PathFlaw::Empty) {
        ctx.push(
            Problem::new(
                Code::EmptyPath,
                value_span(entry),
                format!("`{field}` is an empty path"),
                "empty",
            )
            .help(format!("write it as: {example}")),
        );
        return None;
    }
    if flaw == Some(PathFlaw::Nul) {
        ctx.push(nul(entry, field));
        return None;
    }
    Some(resolve(ctx.base_dir, text))
}

pub(super) fn nul(entry: &KdlEntry, field: &str) -> Problem {
    Problem::new(
        Code::NulByte,
        value_span(entry),
        format!("`{field}` contains a NUL character"),
        "contains \\0",
    )
    .help("the operating system cannot pass NUL characters; remove it")
}

/// Checks a file target: an error when it is an existing directory, a warning when it is a
/// FIFO (a log or output file, not the socket), a warning when its folder does not exist.
pub(super) fn warn_parent_missing(ctx: &mut Ctx, entry: &KdlEntry, field: &str, file: &Path) {
    use std::os::unix::fs::FileTypeExt as _;
    if let Ok(meta) = std::fs::metadata(file) {
        if meta.is_dir() {
            ctx.push(
                Problem::new(
                    Code::PathIsDirectory,
                    value_span(entry),
                    format!("`{field}` is a directory: {}", file.display()),
                    "a directory",
                )
                .help(format!(
                    "name a file in it, e.g. {}",
                    file.join(format!("{field}.log")).display()
                )),
            );
        } else if meta.file_type().is_fifo() && field != "socket" {
            ctx.push(
                Problem::new(
                    Code::FifoTarget,
                    value_span(entry),
                    format!("`{field}` is a FIFO: {}", file.display()),
                    "a FIFO",
                )
                .help("starting fails with `no reader on FIFO` while no process reads it; start its reader first"),
            );
        }
        return;
    }
    if let Some(parent) = file.parent()
        && !parent.is_dir()
    {
        ctx.push(
            Problem::new(
                Code::ParentDirMissing,
                value_span(entry),
                format!(
                    "the folder of `{field}` does not exist: {}",
                    parent.display()
                ),
                "folder missing",
            )
            .help("create the folder before taskmaster needs the file"),
        );
    }
}

/// Warns when a working directory does not exist (yet) or is not a directory.
pub(super) fn warn_dir_missing(ctx: &mut Ctx, entry: &KdlEntry, dir: &Path) {
    if !dir.is_dir() {
        ctx.push(
            Problem::new(
                Code::WorkingdirMissing,
                value_span(entry),
                format!("`workingdir` is not a directory (yet): {}", dir.display()),
                "no such directory",
            )
            .help("the program cannot start until this directory exists"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_join_the_base_and_lose_dots() {
        let base = Path::new("/cfg");
        assert_eq!(resolve(base, "logs/a.log"), Path::new("/cfg/logs/a.log"));
        assert_eq!(resolve(base, "./a/./b"), Path::new("/cfg/a/b"));
        assert_eq!(resolve(base, "/var/x"), Path::new("/var/x"));
        assert_eq!(resolve(base, "../x"), Path::new("/cfg/../x"));
    }
}
