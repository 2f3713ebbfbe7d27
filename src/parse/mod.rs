//! KDL text to a span-keeping syntax tree (KDL 2; KDL 1 accepted as a fallback).
//!
//! [`parse`] tries KDL 2 first. When that fails and the text is valid KDL 1, the document
//! is accepted and [`Parsed::kdl_v1`] tells the caller to warn. When both fail, the KDL 2
//! errors are returned (KDL 2 is the documented syntax), each as a [`SyntaxError`] at its
//! exact byte span. [`syntax`] gives the spans the kdl crate does not expose directly.
//!
//! **No input may abort the process.** The kdl parser recurses once per nesting level and,
//! in its error recovery, once per place where the top-level document stops parsing (each
//! stray `}` or `)`): 20,000 lines of `}` overflow an 8 MiB stack. So:
//! - [`prescan`] refuses nesting deeper than [`MAX_DEPTH`] (`nesting_too_deep`) before
//!   kdl runs, and cuts the text between top-level nodes into pieces of at most
//!   [`CHUNK_BYTES`], each parsed on its own (spans shifted back into the whole text). The
//!   recovery's depth is at most the length of one piece, so one top-level node longer than
//!   that is refused (`node_too_large`) rather than parsed.
//! - Parsing runs on a thread of its own with a [`PARSE_STACK`] stack, measured to hold the
//!   worst piece (one recursion per byte, about 560 bytes of stack each) three times over;
//!   the memory is only reserved, and touched only by hostile input.
//! - After [`MAX_SYNTAX_ERRORS`] syntax errors the rest of the file is not parsed: one more
//!   error says where checking stopped. This bounds the time and memory a huge broken file
//!   costs, and the size of its report (each error shows its whole line, up to a piece long).
//! - A panic inside kdl is caught at the thread's edge and becomes a syntax error.
//!
//! A text that fails to parse and looks like an INI file (a supervisord.conf) gives one
//! [`SyntaxKind::LooksLikeIni`] error instead of the parser's.

mod ini_shape;
mod kdl_errors;
pub mod prescan;
mod shift;
pub mod syntax;

use kdl::KdlDocument;
use miette::SourceSpan;

pub use kdl_errors::{SyntaxError, SyntaxKind};
pub use prescan::{CHUNK_BYTES, MAX_DEPTH};

/// The parser thread's stack: see the module doc and `tests/it/fuzz_compile.rs`, which parses
/// the worst pieces found.
pub const PARSE_STACK: usize = 128 * 1024 * 1024;

/// Syntax errors reported at most; see the module doc.
pub const MAX_SYNTAX_ERRORS: usize = 100;

/// A document that parsed.
#[derive(Debug)]
pub struct Parsed {
    pub doc: KdlDocument,
    /// `Some(span)` when only KDL 1 accepted the text: the span of the first thing KDL 2
    /// rejected, for the deprecation warning.
    pub kdl_v1: Option<SourceSpan>,
}

/// Parses config text: KDL 2, else KDL 1; on failure the KDL 2 syntax errors. Runs the
/// parser on a thread of its own (see the module doc); may be called from any thread.
pub fn parse(text: &str) -> Result<Parsed, Vec<SyntaxError>> {
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("kdl-parse".into())
            .stack_size(PARSE_STACK)
            .spawn_scoped(scope, || parse_here(text));
        match spawned {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|_| Err(vec![internal("the KDL parser failed on this file")])),
            Err(e) => Err(vec![internal(&format!("cannot start the parser: {e}"))]),
        }
    })
}

fn internal(message: &str) -> SyntaxError {
    SyntaxError {
        kind: SyntaxKind::Kdl,
        span: (0, 0).into(),
        message: message.into(),
        label: "here".into(),
        help: None,
    }
}

/// [`parse`] on the calling thread, whose stack must be [`PARSE_STACK`].
fn parse_here(text: &str) -> Result<Parsed, Vec<SyntaxError>> {
    let pieces = match prescan::scan(text) {
        prescan::Scan::TooDeep(at) => return Err(vec![too_deep(at)]),
        prescan::Scan::Chunks(pieces) => pieces,
    };
    let mut doc = KdlDocument::new();
    let mut errors = Vec::new();
    let mut stopped_at = None;
    for piece in pieces {
        let start = piece.range.start;
        if errors.len() >= MAX_SYNTAX_ERRORS {
            stopped_at = Some(start);
            break;
        }
        if piece.oversized {
            errors.push(too_large(text, piece.range));
            continue;
        }
        let chunk = &text[piece.range];
        match KdlDocument::parse_v2(chunk) {
            Ok(mut part) => {
                shift::document(&mut part, start);
                doc.nodes_mut().append(part.nodes_mut());
            }
            Err(e) => errors.extend(kdl_errors::convert(chunk, start, e)),
        }
    }
    if errors.is_empty() {
        doc.set_span((0, text.len()));
        return Ok(Parsed { doc, kdl_v1: None });
    }
    errors.sort_by_key(|e| e.span.offset());
    if errors.len() > MAX_SYNTAX_ERRORS {
        stopped_at = Some(errors[MAX_SYNTAX_ERRORS].span.offset());
        errors.truncate(MAX_SYNTAX_ERRORS);
    }
    if let Ok(doc) = KdlDocument::parse_v1(text) {
        return Ok(Parsed {
            doc,
            kdl_v1: Some(errors[0].span),
        });
    }
    if let Some(section) = ini_shape::first_section(text) {
        return Err(vec![SyntaxError {
            kind: SyntaxKind::LooksLikeIni,
            span: section.into(),
            message: "this is an INI file (a supervisord config?), not KDL".into(),
            label: "an INI section".into(),
            help: None,
        }]);
    }
    if let Some(at) = stopped_at {
        errors.push(SyntaxError {
            kind: SyntaxKind::TooManyErrors,
            span: (at, 0).into(),
            message: format!(
                "too many syntax errors: checking stopped after the first {MAX_SYNTAX_ERRORS}"
            ),
            label: "not checked from here on".into(),
            help: Some("fix the errors above, then check again".into()),
        });
    }
    Err(errors)
}

fn too_deep(at: usize) -> SyntaxError {
    SyntaxError {
        kind: SyntaxKind::NestingTooDeep,
        span: (at, 1).into(),
        message: format!("blocks nested deeper than {MAX_DEPTH} levels"),
        label: format!("level {} opens here", MAX_DEPTH + 1),
        help: Some(format!(
            "a taskmaster config needs 3 levels at most; {MAX_DEPTH} is the limit. Is a `}}` missing?"
        )),
    }
}

fn too_large(text: &str, range: std::ops::Range<usize>) -> SyntaxError {
    // Underline the first line only: the node may be megabytes long.
    let first_line = text[range.clone()]
        .find(['\n', '\r'])
        .unwrap_or(range.len())
        .min(80);
    SyntaxError {
        kind: SyntaxKind::NodeTooLarge,
        span: (range.start, first_line).into(),
        message: format!(
            "this node is {} bytes long; a top-level node may be at most {} KiB",
            range.len(),
            CHUNK_BYTES / 1024
        ),
        label: "this node".into(),
        help: Some(
            "is a quote, a `}` or a `*/` missing? Everything up to the one that closes it is \
             part of this node"
                .into(),
        ),
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

    #[test]
    fn deep_nesting_is_refused_before_kdl() {
        let text = "a {".repeat(3000);
        let errs = parse(&text).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].kind, SyntaxKind::NestingTooDeep);
        assert_eq!(errs[0].span, (64 * 3 + 2, 1).into());
        let ok = format!("{}{}", "a {".repeat(64), "}".repeat(64));
        assert!(parse(&ok).is_ok());
    }

    /// A big file is parsed in pieces; every span still points into the whole text.
    #[test]
    fn pieces_keep_whole_text_spans() {
        let mut text = String::new();
        for i in 0..3000 {
            text.push_str(&format!(
                "program \"p{i}\" x=(t)1 {{\n    cmd \"sleep\" (u)\"{i}\"\n    env {{ K \"v\" }}\n}}\n"
            ));
        }
        assert!(text.len() > 2 * CHUNK_BYTES);
        let Ok(whole) = KdlDocument::parse_v2(&text) else {
            panic!("the test config is invalid")
        };
        let Ok(Parsed { doc: pieces, .. }) = parse(&text) else {
            panic!("rejected")
        };
        assert_eq!(pieces.span(), (0, text.len()).into());
        assert_eq!(whole.nodes().len(), pieces.nodes().len());
        fn spans(doc: &KdlDocument, out: &mut Vec<SourceSpan>) {
            out.push(doc.span());
            for n in doc.nodes() {
                out.push(n.span());
                out.push(n.name().span());
                out.extend(n.ty().map(kdl::KdlIdentifier::span));
                for e in n.entries() {
                    out.push(e.span());
                    out.extend(e.name().map(kdl::KdlIdentifier::span));
                    out.extend(e.ty().map(kdl::KdlIdentifier::span));
                }
                if let Some(c) = n.children() {
                    spans(c, out);
                }
            }
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        spans(&whole, &mut a);
        spans(&pieces, &mut b);
        assert_eq!(a.len(), b.len());
        // The outer document spans differ (kdl's covers the nodes only); the rest match.
        assert_eq!(a[1..], b[1..]);
    }

    #[test]
    fn errors_in_later_pieces_point_into_the_whole_text() {
        let good = "program a { cmd x }\n".repeat(2 * CHUNK_BYTES / 20);
        let text = format!("{good}program b {{ cmd x; umask 0o9 }}\n");
        let errs = parse(&text).unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        let at = errs[0].span.offset();
        assert!(text[at..].starts_with("0o9"), "{}", &text[at..]);
    }

    #[test]
    fn syntax_errors_are_capped() {
        let text = "}\n".repeat(3 * CHUNK_BYTES);
        let errs = parse(&text).unwrap_err();
        assert_eq!(errs.len(), MAX_SYNTAX_ERRORS + 1);
        let last = errs.last().unwrap();
        assert_eq!(last.kind, SyntaxKind::TooManyErrors);
        assert_eq!(last.span.offset(), 2 * MAX_SYNTAX_ERRORS);
    }

    #[test]
    fn a_huge_node_is_refused_not_parsed() {
        let text = format!("a {{\n{}}}\n", "x )\n".repeat(CHUNK_BYTES));
        let errs = parse(&text).unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].kind, SyntaxKind::NodeTooLarge);
        assert_eq!(errs[0].span, (0, 3).into());
    }

    /// The worst pieces: one recursion per byte, for a whole piece, on top of the deepest
    /// nesting. Each must parse on a third of [`PARSE_STACK`].
    fn worst_pieces() -> Vec<String> {
        let syslog = "Nov 29 15:14:23 host sshd[42]: pam_unix(sshd:session): opened for root(uid=0) by (uid=0)\n";
        let fill = |unit: &str, room: usize| unit.repeat(room / unit.len());
        let nested = "a {".repeat(MAX_DEPTH);
        vec![
            fill("}", CHUNK_BYTES),
            fill(")", CHUNK_BYTES),
            fill("}\n", CHUNK_BYTES),
            fill("a=", CHUNK_BYTES),
            fill("\"", CHUNK_BYTES),
            fill("x )\n", CHUNK_BYTES),
            fill(syslog, CHUNK_BYTES),
            format!("{nested}{}", fill("x )", CHUNK_BYTES - nested.len())),
            format!("{nested}{}", fill("}", CHUNK_BYTES - nested.len())),
        ]
    }

    #[test]
    fn the_worst_pieces_fit_a_third_of_the_stack() {
        for text in worst_pieces() {
            assert!(text.len() <= CHUNK_BYTES);
            let probe = text.clone();
            let result = std::thread::Builder::new()
                .stack_size(PARSE_STACK / 3)
                .spawn(move || parse_here(&probe).map(|_| ()).map_err(|e| e.len()))
                .unwrap()
                .join()
                .unwrap();
            assert!(result.is_err(), "{}", &text[..40]);
        }
    }

    #[test]
    fn ini_files_get_one_error() {
        let text = "[supervisord]\nnodaemon=true\n\n[program:web]\ncommand=sleep 1\n";
        let errs = parse(text).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].kind, SyntaxKind::LooksLikeIni);
        assert_eq!(errs[0].span, (0, 13).into());
    }
}
