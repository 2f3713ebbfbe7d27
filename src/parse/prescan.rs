//! One linear, non-recursive pass over config text before the kdl crate sees it.
//!
//! It finds two things:
//! - **nesting deeper than [`MAX_DEPTH`]**: the span of the first `{` that opens level
//!   `MAX_DEPTH + 1`. kdl recurses once per level, so this is refused before kdl runs.
//! - **where the text may be cut into chunks** for [`super::parse`]: newlines at depth 0 that
//!   end a top-level node. Chunks of at most [`CHUNK_BYTES`] bound how deep kdl's error
//!   recovery can recurse (see the parent module).
//!
//! The scanner knows just enough KDL to keep braces and newlines inside strings and comments
//! from counting: quoted strings with escapes (`"…"`, also over several lines as KDL 1
//! allows), multi-line strings (`"""…"""`), raw strings (`#"…"#`, `##"""…"""##`, KDL 1's
//! `r#"…"#`), `//` and nested `/* */` comments, and `\` line continuations. A slashdash
//! (`/-`) comments out a node that kdl still parses, so its braces count; the newlines and
//! comments between it and that node do not end a node. Where the scanner
//! could be wrong (text that is not valid KDL anyway) it can only count a brace kdl would
//! not see, or miss a cut point: it never lets nesting through unseen in valid KDL, and a
//! cut point it reports is always a real node boundary in valid KDL.

use std::ops::Range;

/// The deepest nesting of `{ }` blocks a config may use. taskmaster's own schema needs 3.
pub const MAX_DEPTH: usize = 64;

/// The largest piece of text handed to the kdl parser in one call (see the parent module).
pub const CHUNK_BYTES: usize = 64 * 1024;

/// What the scan found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// The byte offset of the `{` that opens level `MAX_DEPTH + 1`.
    TooDeep(usize),
    /// Nesting is fine; the text cut into pieces.
    Chunks(Vec<Piece>),
}

/// A range of the text made of whole top-level nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub range: Range<usize>,
    /// One top-level node longer than [`CHUNK_BYTES`]: too long to parse safely.
    pub oversized: bool,
}

/// Scans `text`; see the module doc.
pub fn scan(text: &str) -> Scan {
    let b = text.as_bytes();
    let mut chunker = Chunker::default();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Scan::TooDeep(i);
                }
                i += 1;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'"' => i = skip_quoted(b, i, 0),
            b'#' => {
                let hashes = count(b, i, b'#');
                i = if b.get(i + hashes) == Some(&b'"') {
                    skip_quoted(b, i + hashes, hashes)
                } else {
                    i + hashes
                };
            }
            // KDL 1's raw strings, `r"…"` and `r#"…"#`, when the `r` starts a token.
            b'r' if i == 0 || !is_ident_byte(b[i - 1]) => {
                let hashes = count(b, i + 1, b'#');
                i = if b.get(i + 1 + hashes) == Some(&b'"') {
                    skip_raw(b, i + 1 + hashes, hashes)
                } else {
                    i + 1
                };
            }
            // A slashdash may be followed by newlines before what it comments out: none of
            // them ends a node.
            b'/' if b.get(i + 1) == Some(&b'-') => i = skip_line_space(b, i + 2),
            b'/' if b.get(i + 1) == Some(&b'/') => i = line_end(b, i),
            b'/' if b.get(i + 1) == Some(&b'*') => i = skip_block_comment(b, i),
            b'\\' => i = skip_continuation(b, i),
            b'\n' | b'\r' => {
                i += 1;
                if depth == 0 {
                    chunker.boundary(i);
                }
            }
            _ => i += 1,
        }
    }
    Scan::Chunks(chunker.finish(b.len()))
}

fn count(b: &[u8], from: usize, byte: u8) -> usize {
    b[from.min(b.len())..]
        .iter()
        .take_while(|&&c| c == byte)
        .count()
}

/// Bytes that may continue a bare identifier (enough to tell `r"…"` from `foo"`).
fn is_ident_byte(c: u8) -> bool {
    !matches!(
        c,
        b' ' | b'\t'
            | b'\n'
            | b'\r'
            | b'{'
            | b'}'
            | b'('
            | b')'
            | b'['
            | b']'
            | b';'
            | b'='
            | b'"'
            | b'/'
            | b'\\'
            | b','
    )
}

/// Past a string opening at `b[q] == '"'` after `hashes` `#`s: a quoted string with escapes
/// when there are none, else a raw string. A missing end runs to the end of the text.
fn skip_quoted(b: &[u8], q: usize, hashes: usize) -> usize {
    if hashes > 0 {
        return skip_raw(b, q, hashes);
    }
    let multi = b[q..].starts_with(b"\"\"\"");
    let mut i = q + if multi { 3 } else { 1 };
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' if !multi => return i + 1,
            b'"' if b[i..].starts_with(b"\"\"\"") => return i + 3,
            _ => i += 1,
        }
    }
    b.len()
}

/// Past a raw string whose opening quote is at `q`: no escapes; it ends at `"` (or `"""`
/// when it opened with three) followed by `hashes` `#`s.
fn skip_raw(b: &[u8], q: usize, hashes: usize) -> usize {
    let quotes = if b[q..].starts_with(b"\"\"\"") { 3 } else { 1 };
    let mut i = q + quotes;
    while i < b.len() {
        if b[i..].starts_with(&b"\"\"\""[..quotes]) && count(b, i + quotes, b'#') >= hashes {
            return i + quotes + hashes;
        }
        i += 1;
    }
    b.len()
}

/// The offset of the newline ending the line `i` is on (the newline is not skipped: it
/// still ends a node).
fn line_end(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|&c| c == b'\n' || c == b'\r')
        .map_or(b.len(), |p| i + p)
}

/// Past blanks, newlines and comments.
fn skip_line_space(b: &[u8], mut i: usize) -> usize {
    loop {
        match b.get(i) {
            Some(b' ' | b'\t' | b'\n' | b'\r') => i += 1,
            Some(b'/') if b.get(i + 1) == Some(&b'/') => i = line_end(b, i),
            Some(b'/') if b.get(i + 1) == Some(&b'*') => i = skip_block_comment(b, i),
            _ => return i,
        }
    }
}

/// Past a `/* … */` comment, nested ones included.
fn skip_block_comment(b: &[u8], start: usize) -> usize {
    let mut level = 0usize;
    let mut i = start;
    while i < b.len() {
        if b[i..].starts_with(b"/*") {
            level += 1;
            i += 2;
        } else if b[i..].starts_with(b"*/") {
            level -= 1;
            i += 2;
            if level == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// Past a `\` line continuation (`\`, blanks, maybe a `//` comment, a newline), so that
/// newline does not end the node. Anything else after the `\` is left to kdl.
fn skip_continuation(b: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
        j += 1;
    }
    if b[j..].starts_with(b"//") {
        j = line_end(b, j);
    }
    if b[j..].starts_with(b"\r\n") {
        j + 2
    } else if j < b.len() && (b[j] == b'\n' || b[j] == b'\r') {
        j + 1
    } else {
        i + 1
    }
}

/// Groups top-level nodes into pieces of at most [`CHUNK_BYTES`].
#[derive(Default)]
struct Chunker {
    pieces: Vec<Piece>,
    /// Where the piece being built starts.
    start: usize,
    /// Where the node being read starts (the last boundary).
    node_start: usize,
}

impl Chunker {
    /// A top-level node ends at `at`.
    fn boundary(&mut self, at: usize) {
        if at - self.start > CHUNK_BYTES {
            if self.node_start > self.start {
                self.cut(self.node_start, false);
            }
            if at - self.start > CHUNK_BYTES {
                self.cut(at, true);
            }
        }
        self.node_start = at;
    }

    fn cut(&mut self, at: usize, oversized: bool) {
        self.pieces.push(Piece {
            range: self.start..at,
            oversized,
        });
        self.start = at;
    }

    fn finish(mut self, len: usize) -> Vec<Piece> {
        self.boundary(len);
        if self.start < len || self.pieces.is_empty() {
            self.cut(len, false);
        }
        self.pieces
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_error(text: &str) -> Option<usize> {
        match scan(text) {
            Scan::TooDeep(at) => Some(at),
            Scan::Chunks(_) => None,
        }
    }

    #[test]
    fn the_65th_brace_is_found() {
        let text = "a {".repeat(64);
        assert_eq!(depth_error(&text), None);
        let text = "a {".repeat(3000);
        assert_eq!(depth_error(&text), Some(64 * 3 + 2));
        // Closing braces give levels back.
        let text = "a { }\n".repeat(1000);
        assert_eq!(depth_error(&text), None);
    }

    #[test]
    fn braces_in_strings_and_comments_do_not_count() {
        let deep = "{".repeat(100);
        for wrap in [
            format!("a \"{deep}\""),
            format!("a \"\"\"\n{deep}\" \"\n\"\"\""),
            format!("a #\"{deep}\\\"#"),
            format!("a ##\"{deep}\"#\"##"),
            format!("a r#\"{deep}\\\"#"),
            format!("a r\"{deep}\\\""),
            format!("a \"x\\\"{deep}\""),
            format!("// {deep}\n"),
            format!("/* /* {deep} */ {deep} */"),
        ] {
            assert_eq!(depth_error(&wrap), None, "{wrap}");
        }
    }

    #[test]
    fn slashdashed_and_unclosed_things_still_count() {
        let deep = "a {".repeat(65);
        assert!(depth_error(&format!("/-{deep}")).is_some());
        // `r` inside an identifier does not start a raw string.
        assert!(depth_error(&format!("bar\"x\" {deep}")).is_some());
        // An unclosed string swallows the rest: kdl rejects the file anyway.
        assert_eq!(depth_error(&format!("a \"{deep}")), None);
    }

    fn pieces(text: &str) -> Vec<(Range<usize>, bool)> {
        match scan(text) {
            Scan::Chunks(p) => p.into_iter().map(|p| (p.range, p.oversized)).collect(),
            Scan::TooDeep(_) => panic!("too deep"),
        }
    }

    #[test]
    fn small_texts_are_one_piece() {
        assert_eq!(pieces(""), [(0..0, false)]);
        assert_eq!(pieces("a\nb {\n c\n}\n"), [(0..11, false)]);
    }

    #[test]
    fn big_texts_are_cut_between_top_level_nodes_only() {
        let node = "program \"p\" {\n    cmd \"x\\\n  y\" // }\n    env {\n A \"{\"\n }\n}\n";
        let text = node.repeat(5000);
        let got = pieces(&text);
        assert!(got.len() > 2, "{}", got.len());
        let mut at = 0;
        for (range, oversized) in got {
            assert!(!oversized);
            assert_eq!(range.start, at);
            assert!(range.len() <= CHUNK_BYTES);
            assert!(text[range.clone()].starts_with("program"), "{range:?}");
            assert!(kdl::KdlDocument::parse_v2(&text[range.clone()]).is_ok());
            at = range.end;
        }
        assert_eq!(at, text.len());
    }

    #[test]
    fn no_cut_between_a_slashdash_and_what_it_comments_out() {
        let node = "a 1\n/-\n// note\n\n  b {\n}\n";
        let text = node.repeat(CHUNK_BYTES / node.len() * 3);
        let got = pieces(&text);
        assert!(got.len() > 2);
        for (range, _) in got {
            let piece = &text[range.clone()];
            assert!(
                piece.starts_with("a 1") || piece.starts_with("/-"),
                "{range:?}"
            );
            assert!(kdl::KdlDocument::parse_v2(piece).is_ok(), "{range:?}");
        }
    }

    #[test]
    fn a_node_longer_than_a_chunk_is_a_piece_of_its_own() {
        let huge = format!("a \"{}\"\n", "x".repeat(CHUNK_BYTES));
        let text = format!("b\n{huge}c\n");
        assert_eq!(
            pieces(&text),
            [
                (0..2, false),
                (2..2 + huge.len(), true),
                (2 + huge.len()..text.len(), false)
            ]
        );
        let text = ")".repeat(3 * CHUNK_BYTES);
        assert_eq!(pieces(&text), [(0..text.len(), true)]);
    }
}
