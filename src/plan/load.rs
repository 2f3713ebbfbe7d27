//! Entry points of the compiler: config text or file in, [`Plan`] (plus warnings) out.
//!
//! STUB: signatures agreed for the other modules; the compiler fills them in.

use std::path::{Path, PathBuf};

use super::model::Plan;
use super::report::Report;

/// A config that compiled: its plan and its warnings (possibly none).
#[derive(Debug)]
pub struct Compiled {
    pub plan: Plan,
    pub warnings: Report,
}

/// Why a config file gave no plan.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Missing, unreadable, a directory, or not UTF-8: exit status 2.
    #[error("cannot read {}: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    /// Read, but invalid: every problem (errors and warnings) is in the report; exit status 1.
    #[error("{0}")]
    Invalid(Report),
}

/// Compiles config text. `source_name` names the file in diagnostics; relative paths in the
/// config are resolved against `base_dir`.
pub fn compile(source_name: &str, text: &str, base_dir: &Path) -> Result<Compiled, Report> {
    let _ = (source_name, text, base_dir);
    Err(Report::default())
}

/// Reads and compiles a config file.
pub fn load_file(path: &Path) -> Result<Compiled, LoadError> {
    Err(LoadError::Unreadable {
        path: path.to_owned(),
        reason: "not implemented".into(),
    })
}
