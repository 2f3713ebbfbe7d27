//! Every problem found in one config file, as miette diagnostics.
//!
//! A [`Report`] is one miette diagnostic whose `related` children are the [`Problem`]s, all
//! sharing one [`IndexedSource`], so the file name shows in every snippet. Errors and warnings
//! travel together; only errors make a config invalid.

use crate::words::count;
use std::fmt;
use std::sync::Arc;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, Severity, SourceSpan,
};
use serde::Serialize;

use super::codes::Code;
use super::source::IndexedSource;

/// One problem: a code, a message, a labelled span, maybe a help line and a second label.
#[derive(Debug, Clone)]
pub struct Problem {
    pub code: Code,
    pub message: String,
    pub span: SourceSpan,
    pub label: String,
    pub help: Option<String>,
    /// Other places worth showing, e.g. "first defined here" for a duplicate, or every edge
    /// of a dependency cycle.
    pub related: Vec<(SourceSpan, String)>,
    /// The file the spans point into when it is not the config itself (an `env-file`);
    /// `None`: the config.
    pub file: Option<Arc<IndexedSource>>,
}

impl Problem {
    pub fn new(
        code: Code,
        span: SourceSpan,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        Problem {
            code,
            message: message.into(),
            span,
            label: label.into(),
            help: None,
            related: Vec::new(),
            file: None,
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    pub fn also(mut self, span: SourceSpan, label: impl Into<String>) -> Self {
        self.related.push((span, label.into()));
        self
    }

    /// Points the spans into `file` instead of the config (a second miette source).
    pub fn in_file(mut self, file: Arc<IndexedSource>) -> Self {
        self.file = Some(file);
        self
    }

    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}

impl Diagnostic for Problem {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code.as_str()))
    }

    fn severity(&self) -> Option<Severity> {
        Some(self.code.severity())
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.file.as_deref().map(|f| f as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = LabeledSpan::new_primary_with_span(Some(self.label.clone()), self.span);
        let others = self
            .related
            .iter()
            .map(|(span, label)| LabeledSpan::new_with_span(Some(label.clone()), *span));
        Some(Box::new(std::iter::once(primary).chain(others)))
    }
}

/// The diagnostics (errors and warnings) of one config file.
#[derive(Debug, Clone, Default)]
pub struct Report {
    source: Arc<IndexedSource>,
    problems: Vec<Problem>,
}

impl Report {
    /// A report on `source`, in the order the problems were found.
    pub fn new(source: Arc<IndexedSource>, problems: Vec<Problem>) -> Self {
        Report { source, problems }
    }

    /// Whether any diagnostic is an error (warnings alone leave a config valid).
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(Problem::is_error)
    }

    /// Whether there is nothing to report.
    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    /// Every problem, errors and warnings, in source order.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The file name diagnostics show.
    pub fn file_name(&self) -> &str {
        self.source.name()
    }

    pub fn error_count(&self) -> usize {
        self.problems.iter().filter(|p| p.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.problems.len() - self.error_count()
    }

    /// Renders every diagnostic as miette's graphical report, 80 columns wide, without
    /// hyperlinks; colour only when asked.
    pub fn render(&self, color: bool) -> String {
        if self.is_empty() {
            return String::new();
        }
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let mut out = String::new();
        // Rendering into a String cannot fail short of a bug in a Display impl; fall back
        // to the plain messages rather than lose them.
        if GraphicalReportHandler::new_themed(theme)
            .with_width(80)
            .with_links(false)
            .render_report(&mut out, self)
            .is_err()
        {
            out = self
                .problems
                .iter()
                .map(|p| format!("{}: {p}\n", p.code.as_str()))
                .collect();
        }
        out
    }

    /// The `check --format json` object: `{"file","valid","diagnostics":[…]}`.
    pub fn to_json(&self) -> serde_json::Value {
        let diagnostics = self
            .problems
            .iter()
            .map(|p| {
                let source = p.file.as_deref().unwrap_or(&self.source);
                let (line, column) = source.line_column(p.span.offset());
                JsonDiagnostic {
                    file: p.file.as_deref().map(IndexedSource::name),
                    severity: if p.is_error() { "error" } else { "warning" },
                    code: p.code.as_str(),
                    message: &p.message,
                    help: p.help.as_deref(),
                    line,
                    column,
                    offset: p.span.offset(),
                    length: p.span.len(),
                }
            })
            .collect();
        let json = JsonReport {
            file: self.source.name(),
            valid: !self.has_errors(),
            diagnostics,
        };
        serde_json::to_value(json).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    file: &'a str,
    valid: bool,
    diagnostics: Vec<JsonDiagnostic<'a>>,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    /// Only for a problem in another file than the config (an `env-file`).
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
    severity: &'static str,
    code: &'static str,
    message: &'a str,
    help: Option<&'a str>,
    line: usize,
    column: usize,
    offset: usize,
    length: usize,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (errors, warnings) = (self.error_count(), self.warning_count());
        let counts = match (errors, warnings) {
            (0, 0) => "no problems".to_owned(),
            (e, 0) => count(e, "error", "errors"),
            (0, w) => count(w, "warning", "warnings"),
            (e, w) => format!(
                "{} and {}",
                count(e, "error", "errors"),
                count(w, "warning", "warnings")
            ),
        };
        write!(f, "{counts} in {}", self.source.name())
    }
}

impl std::error::Error for Report {}

impl Diagnostic for Report {
    fn severity(&self) -> Option<Severity> {
        Some(if self.has_errors() {
            Severity::Error
        } else {
            Severity::Warning
        })
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&*self.source)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(self.problems.iter().map(|p| p as &dyn Diagnostic)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let src = Arc::new(IndexedSource::new(
            "t.kdl",
            "program web {\n  numprocs 0\n}\n",
        ));
        Report::new(
            src,
            vec![
                Problem::new(
                    Code::NumprocsRange,
                    (25, 1).into(),
                    "numprocs must be at least 1",
                    "here",
                )
                .help("write numprocs 1"),
                Problem::new(Code::UmaskDecimal, (0, 7).into(), "w\u{1b}", "x"),
            ],
        )
    }

    #[test]
    fn counts_and_validity() {
        let r = report();
        assert!(r.has_errors());
        assert_eq!((r.error_count(), r.warning_count()), (1, 1));
        assert_eq!(r.to_string(), "1 error and 1 warning in t.kdl");
        assert!(Report::default().is_empty());
        assert!(!Report::default().has_errors());
    }

    #[test]
    fn json_has_positions_and_survives_control_characters() {
        let json = report().to_json();
        assert_eq!(json["file"], "t.kdl");
        assert_eq!(json["valid"], false);
        let d = &json["diagnostics"][0];
        assert_eq!(d["code"], "taskmaster::numprocs_range");
        assert_eq!(
            (d["line"].as_u64(), d["column"].as_u64()),
            (Some(2), Some(12))
        );
        assert_eq!(
            (d["offset"].as_u64(), d["length"].as_u64()),
            (Some(25), Some(1))
        );
        assert_eq!(json["diagnostics"][1]["severity"], "warning");
        assert!(json["diagnostics"][1]["help"].is_null());
        let text = serde_json::to_string(&json).unwrap();
        assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok());
    }

    #[test]
    fn render_names_the_file_and_the_code() {
        let out = report().render(false);
        assert!(out.contains("t.kdl:2:12"), "{out}");
        assert!(out.contains("taskmaster::numprocs_range"), "{out}");
        assert!(out.contains("write numprocs 1"), "{out}");
    }
}
