//! Where the shell keeps its history between sessions, and loading/saving it without ever
//! failing the shell over it.

use std::path::{Path, PathBuf};

use rustyline::Editor;
use rustyline::history::FileHistory;

use super::complete::ShellHelper;

/// `$XDG_STATE_HOME/taskmaster/history`, else `~/.local/state/taskmaster/history`.
pub(super) fn path() -> Option<PathBuf> {
    let non_empty = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    // The XDG spec says a relative XDG_STATE_HOME is invalid and must be ignored.
    let state = non_empty("XDG_STATE_HOME")
        .filter(|p| p.is_absolute())
        .or_else(|| non_empty("HOME").map(|home| home.join(".local/state")))?;
    Some(state.join("taskmaster").join("history"))
}

/// Loads the history; a missing file is the normal first run.
pub(super) fn load(editor: &mut Editor<ShellHelper, FileHistory>, path: &Path) {
    if !path.exists() {
        return;
    }
    if let Err(e) = editor.load_history(path) {
        eprintln!("warning: cannot read the history {}: {e}", path.display());
    }
}

/// Saves the history, creating its folder; a failure is only a warning.
pub(super) fn save(editor: &mut Editor<ShellHelper, FileHistory>, path: &Path) {
    let result = match path.parent() {
        Some(dir) => std::fs::create_dir_all(dir).map_err(rustyline::error::ReadlineError::from),
        None => Ok(()),
    }
    .and_then(|()| editor.save_history(path));
    if let Err(e) = result {
        eprintln!(
            "warning: cannot save the history to {}: {e}",
            path.display()
        );
    }
}
