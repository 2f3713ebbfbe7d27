//! Every problem found in one config file, as miette diagnostics.
//!
//! STUB: API agreed for the other modules; the compiler fills it in.

/// The diagnostics (errors and warnings) of one config file.
#[derive(Debug, Default)]
pub struct Report {}

impl Report {
    /// Whether any diagnostic is an error (warnings alone leave a config valid).
    pub fn has_errors(&self) -> bool {
        false
    }

    /// Whether there is nothing to report.
    pub fn is_empty(&self) -> bool {
        true
    }

    /// Renders every diagnostic as miette's graphical report; colour only when asked.
    pub fn render(&self, color: bool) -> String {
        let _ = color;
        String::new()
    }

    /// The `check --format json` object: `{"file","valid","diagnostics":[…]}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invalid config")
    }
}
