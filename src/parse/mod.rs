//! KDL text to a span-keeping syntax tree (KDL 2; KDL 1 accepted as a fallback).
//!
//! [`parse`] tries KDL 2 first. When that fails and the text is valid KDL 1, the document
//! is accepted and [`Parsed::kdl_v1`] tells the caller to warn. When both fail, every KDL 2
//! error is returned (KDL 2 is the documented syntax), each as a [`SyntaxError`] at its exact
//! byte span. [`syntax`] gives the spans the kdl crate does not expose directly.

mod kdl_errors;
pub mod syntax;

use kdl::KdlDocument;
use miette::SourceSpan;

pub use kdl_errors::SyntaxError;

/// A document that parsed.
#[derive(Debug)]
pub struct Parsed {
    pub doc: KdlDocument,
    /// `Some(span)` when only KDL 1 accepted the text: the span of the first thing KDL 2
    /// rejected, for the deprecation warning.
    pub kdl_v1: Option<SourceSpan>,
}

/// Parses config text: KDL 2, else KDL 1; on failure every KDL 2 syntax error.
pub fn parse(text: &str) -> Result<Parsed, Vec<SyntaxError>> {
    let v2_err = match KdlDocument::parse_v2(text) {
        Ok(doc) => return Ok(Parsed { doc, kdl_v1: None }),
        Err(e) => e,
    };
    let errors = kdl_errors::convert(text, v2_err);
    match KdlDocument::parse_v1(text) {
        Ok(doc) => Ok(Parsed {
            doc,
            kdl_v1: Some(errors.first().map_or((0, 0).into(), |e| e.span)),
        }),
        Err(_) => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kdl2_parses_without_warning() {
        let p = parse("program web { autostart #true }").unwrap();
        assert!(p.kdl_v1.is_none());
        assert_eq!(p.doc.nodes().len(), 1);
    }

    #[test]
    fn kdl1_is_accepted_and_flagged_at_the_first_v2_error() {
        let text = "program \"web\" {\n    autostart true\n}\n";
        let p = parse(text).unwrap();
        let span = p.kdl_v1.unwrap();
        assert_eq!(&text[span.offset()..span.offset() + 4], "true");
    }

    #[test]
    fn kdl1_keeps_spans() {
        let text = "program \"web\" {\n    autostart true\n    numprocs 2\n}\n";
        let p = parse(text).unwrap();
        let children = p.doc.nodes()[0].children().unwrap();
        let numprocs = &children.nodes()[1];
        let name = numprocs.name().span();
        assert_eq!(&text[name.offset()..name.offset() + name.len()], "numprocs");
        let v = syntax::value_span(&numprocs.entries()[0]);
        assert_eq!(&text[v.offset()..v.offset() + v.len()], "2");
    }

    #[test]
    fn every_v2_error_is_reported() {
        let errs = parse("a 1.\nb {\n").unwrap_err();
        assert!(errs.len() >= 2, "{errs:?}");
    }
}
