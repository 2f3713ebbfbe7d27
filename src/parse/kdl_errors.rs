//! The kdl crate's parse errors, re-homed into plain values.
//!
//! A `KdlDiagnostic` carries its own unnamed copy of the source, which would hide the file
//! name in miette's output; [`SyntaxError`] keeps only what the report needs, so the report
//! attaches the named source itself.

use kdl::KdlError;
use miette::SourceSpan;

/// What kind of problem stopped the parse; the compiler maps each to its diagnostic code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntaxKind {
    /// The kdl parser's own error, or the parser itself failing (a caught panic).
    Kdl,
    /// Too many syntax errors: the rest of the file was not parsed.
    TooManyErrors,
    /// Blocks nested deeper than [`super::MAX_DEPTH`].
    NestingTooDeep,
    /// One top-level node longer than [`super::CHUNK_BYTES`].
    NodeTooLarge,
    /// The text is an INI file, not KDL.
    LooksLikeIni,
}

/// One KDL syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub kind: SyntaxKind,
    pub span: SourceSpan,
    pub message: String,
    pub label: String,
    pub help: Option<String>,
}

/// kdl's message for a `{` without its `}`; it points at the `{`.
const UNCLOSED: &str = "No closing '}' for child block";
/// kdl's second message for the same block, spanning its whole content: noise.
const UNCLOSED_AGAIN: &str = "Closing '}' was not found after nodes";

/// Converts every diagnostic of a failed KDL 2 parse of `text`, a piece of the whole file
/// starting at byte `offset`, adding help for KDL 1 habits and unclosed blocks.
pub(super) fn convert(text: &str, offset: usize, err: KdlError) -> Vec<SyntaxError> {
    err.diagnostics
        .into_iter()
        .filter(|d| d.message.as_deref() != Some(UNCLOSED_AGAIN))
        .map(|d| {
            let local = clamp(d.span, text.len());
            let span: SourceSpan = (local.offset() + offset, local.len()).into();
            if d.message.as_deref() == Some(UNCLOSED) {
                return SyntaxError {
                    kind: SyntaxKind::Kdl,
                    span,
                    message: "this block is never closed".into(),
                    label: "opened here".into(),
                    help: Some(
                        "add the `}` that ends it (or the one missing from a block inside it): \
                         the file ended while this block was still open"
                            .into(),
                    ),
                };
            }
            let help = v1_habit_help(span_text(text, local)).or(d.help);
            SyntaxError {
                kind: SyntaxKind::Kdl,
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
        let errs = convert(text, 0, err);
        assert!(
            errs.iter()
                .any(|e| e.help.as_deref().is_some_and(|h| h.contains("#true"))),
            "{errs:?}"
        );
    }

    #[test]
    fn an_unclosed_block_is_one_error_at_its_brace() {
        let text = "program web {\n    cmd x\n";
        let err = kdl::KdlDocument::parse_v2(text).unwrap_err();
        let errs = convert(text, 100, err);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].span, (112, 1).into());
        assert_eq!(errs[0].message, "this block is never closed");
        assert!(errs[0].help.as_deref().unwrap().contains("add the `}`"));
    }

    #[test]
    fn spans_are_clamped_to_the_text() {
        assert_eq!(clamp((10, 5).into(), 12), (10, 2).into());
        assert_eq!(clamp((20, 5).into(), 12), (12, 0).into());
    }
}
