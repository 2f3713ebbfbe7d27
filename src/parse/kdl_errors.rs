//! The kdl crate's parse errors, re-homed into plain values.
//!
//! A `KdlDiagnostic` carries its own unnamed copy of the source, which would hide the file
//! name in miette's output; [`SyntaxError`] keeps only what the report needs, so the report
//! attaches the named source itself.

use kdl::KdlError;
use miette::SourceSpan;

/// One KDL syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub span: SourceSpan,
    pub message: String,
    pub label: String,
    pub help: Option<String>,
}

/// Converts every diagnostic of a failed KDL 2 parse, adding help for KDL 1 habits.
pub(super) fn convert(text: &str, err: KdlError) -> Vec<SyntaxError> {
    err.diagnostics
        .into_iter()
        .map(|d| {
            let span = clamp(d.span, text.len());
            let help = v1_habit_help(span_text(text, span)).or(d.help);
            SyntaxError {
                span,
                message: d.message.unwrap_or_else(|| "invalid KDL syntax".into()),
                label: d.label.unwrap_or_else(|| "here".into()),
                help,
            }
        })
        .collect()
}

/// Keeps a span inside the text so no renderer ever reads past its end.
fn clamp(span: SourceSpan, len: usize) -> SourceSpan {
    let offset = span.offset().min(len);
    (offset, span.len().min(len - offset)).into()
}

fn span_text(text: &str, span: SourceSpan) -> &str {
    text.get(span.offset()..span.offset() + span.len())
        .unwrap_or("")
        .trim()
}

/// Help for the KDL 1 spellings that KDL 2 rejects with a generic message.
fn v1_habit_help(found: &str) -> Option<String> {
    match found {
        "true" | "false" | "null" => Some(format!(
            "KDL 2 spells booleans #true/#false and null #null: write #{found}"
        )),
        _ if found.starts_with("r#\"") || found.starts_with("r\"") => {
            Some("KDL 2 writes raw strings as #\"…\"# (no leading r)".into())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_booleans_get_kdl2_help() {
        let text = "program web { autostart true; x #true }";
        let err = kdl::KdlDocument::parse_v2(text).unwrap_err();
        let errs = convert(text, err);
        assert!(
            errs.iter()
                .any(|e| e.help.as_deref().is_some_and(|h| h.contains("#true"))),
            "{errs:?}"
        );
    }

    #[test]
    fn spans_are_clamped_to_the_text() {
        assert_eq!(clamp((10, 5).into(), 12), (10, 2).into());
        assert_eq!(clamp((20, 5).into(), 12), (12, 0).into());
    }
}
