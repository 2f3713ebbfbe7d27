//! `taskmaster check`: compile a config and report every problem.
//!
//! Human output: the summary line on stdout, every diagnostic (miette graphical, coloured by
//! [`output::stderr_color`]'s rule) on stderr. `--format json`: one object
//! on stdout, whatever the outcome; for an unreadable file that object has `"valid": false`,
//! an `"error"` string and no diagnostics, and the one-line error also goes to stderr.

use crate::words::count;
use std::path::Path;

use super::{Format, exit, output};
use crate::plan::{LoadError, load_file};

pub(super) fn run(config: &Path, format: Format) -> u8 {
    let color = output::stderr_color();
    match (load_file(config), format) {
        (Ok(compiled), Format::Human) => {
            eprint!("{}", compiled.warnings.render(color));
            println!(
                "ok: {}, {}",
                count(compiled.plan.programs.len(), "program", "programs"),
                count(compiled.plan.process_count(), "process", "processes")
            );
            exit::OK
        }
        (Ok(compiled), Format::Json) => {
            println!("{}", compiled.warnings.to_json());
            exit::OK
        }
        (Err(LoadError::Invalid(report)), Format::Human) => {
            eprint!("{}", report.render(color));
            exit::FAILED
        }
        (Err(LoadError::Invalid(report)), Format::Json) => {
            println!("{}", report.to_json());
            exit::FAILED
        }
        (Err(err @ LoadError::Unreadable { .. }), format) => {
            eprintln!("error: {err}");
            if format == Format::Json {
                let json = serde_json::json!({
                    "file": config.display().to_string(),
                    "valid": false,
                    "error": err.to_string(),
                    "diagnostics": [],
                });
                println!("{json}");
            }
            exit::USAGE
        }
    }
}
