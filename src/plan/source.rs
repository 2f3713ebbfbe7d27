//! A named config text with a line-start index, shared by every diagnostic of one file.
//!
//! miette's `SourceCode` for `str` scans the text from its start for every diagnostic it
//! renders, which is quadratic when a big file has many diagnostics. [`IndexedSource`] finds
//! the lines around a span by binary search and hands miette only that window, so rendering
//! and line/column lookups stay linear in the number of diagnostics.

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

/// A config's name (as shown in diagnostics), its text, and where each line starts.
#[derive(Debug, Clone, Default)]
pub struct IndexedSource {
    name: String,
    text: String,
    /// Byte offset of the first byte of each line; always starts with 0.
    line_starts: Vec<usize>,
}

impl IndexedSource {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let mut line_starts = vec![0];
        let bytes = text.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            // "\r\n" counts once, at its '\n'; a lone '\r' ends a line too (as miette does).
            if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
                line_starts.push(i + 1);
            }
        }
        IndexedSource {
            name: name.into(),
            text,
            line_starts,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// 0-based line of a byte offset.
    fn line_of(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&s| s <= offset) - 1
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_of(offset);
        let start = self.line_starts[line];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line + 1, column + 1)
    }
}

impl SourceCode for IndexedSource {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let len = self.text.len();
        if span.offset() > len {
            return Err(MietteError::OutOfBounds);
        }
        // A window of whole lines around the span, with a spare line on each side (miette
        // looks one byte back for empty spans), gives miette's own scan exactly what it
        // would have seen in the whole text.
        let first = self
            .line_of(span.offset())
            .saturating_sub(context_lines_before + 1);
        let last_byte = (span.offset() + span.len()).saturating_sub(1).min(len);
        let end_line = self.line_of(last_byte) + context_lines_after + 2;
        let win_start = self.line_starts[first];
        let win_end = self.line_starts.get(end_line).copied().unwrap_or(len);
        let window = &self.text.as_bytes()[win_start..win_end];
        let local: SourceSpan = (span.offset() - win_start, span.len()).into();
        let inner = window.read_span(&local, context_lines_before, context_lines_after)?;
        let inner_span = inner.span();
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            (inner_span.offset() + win_start, inner_span.len()).into(),
            inner.line() + first,
            inner.column(),
            inner.line_count() + first,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_is_one_based_in_characters() {
        let src = IndexedSource::new("f", "ab\r\néé x\nlast");
        assert_eq!(src.line_column(0), (1, 1));
        assert_eq!(src.line_column(4), (2, 1));
        assert_eq!(src.line_column(9), (2, 4));
        assert_eq!(src.line_column(11), (3, 1));
        assert_eq!(src.line_column(999), (3, 5));
    }

    /// The windowed read must give miette exactly what a whole-text read gives.
    #[test]
    fn windowed_reads_match_miettes_own() {
        let text = "a\nbb {\n  ccc 1\n\n  dd \"x\"\r\n}\ne\n\nf";
        let src = IndexedSource::new("f.kdl", text);
        for offset in 0..=text.len() {
            for len in 0..=(text.len() - offset) {
                for (before, after) in [(0, 0), (1, 1), (2, 3)] {
                    let span: SourceSpan = (offset, len).into();
                    let ours = src.read_span(&span, before, after);
                    let theirs = text.read_span(&span, before, after);
                    match (ours, theirs) {
                        (Ok(a), Ok(b)) => {
                            let what = format!("{offset}+{len} ctx {before}/{after}");
                            assert_eq!(a.data(), b.data(), "{what}");
                            assert_eq!(a.span(), b.span(), "{what}");
                            assert_eq!(a.line(), b.line(), "{what}");
                            assert_eq!(a.column(), b.column(), "{what}");
                            assert_eq!(a.line_count(), b.line_count(), "{what}");
                            assert_eq!(a.name(), Some("f.kdl"));
                        }
                        (Err(_), Err(_)) => {}
                        (a, b) => panic!("{offset}+{len}: {:?} vs {:?}", a.is_ok(), b.is_ok()),
                    }
                }
            }
        }
    }
}
