//! Spans the kdl crate does not hand out directly, and small typed views of entries.
//!
//! kdl gives spans for nodes, node names and whole entries (`key=value` for a property);
//! a value's own span has to be derived from its source representation.

use kdl::{KdlEntry, KdlNode, KdlValue};
use miette::SourceSpan;

/// The span of just an entry's value (`numprocs=0` → `0`, `(u8)5` → `5`).
pub fn value_span(entry: &KdlEntry) -> SourceSpan {
    let whole = entry.span();
    let repr = entry.format().map_or(0, |f| f.value_repr.len());
    if repr == 0 || repr > whole.len() {
        return whole;
    }
    (whole.offset() + whole.len() - repr, repr).into()
}

/// The span of a node's name.
pub fn name_span(node: &KdlNode) -> SourceSpan {
    node.name().span()
}

/// The value as written in the source (`022`, `0o022`, `"x"`), when known.
pub fn value_repr(entry: &KdlEntry) -> Option<&str> {
    entry.format().map(|f| f.value_repr.as_str())
}

/// A node's positional arguments (entries without a key).
pub fn arguments(node: &KdlNode) -> impl Iterator<Item = &KdlEntry> {
    node.entries().iter().filter(|e| e.name().is_none())
}

/// A node's properties (`key=value` entries).
pub fn properties(node: &KdlNode) -> impl Iterator<Item = &KdlEntry> {
    node.entries().iter().filter(|e| e.name().is_some())
}

/// A value as KDL 2 would write it, strings quoted (`"always"`, `#true`, `3`).
pub fn show(value: &KdlValue) -> String {
    match value {
        KdlValue::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// What kind of value this is, for "expected X, found Y" messages.
pub fn kind(value: &KdlValue) -> &'static str {
    match value {
        KdlValue::String(_) => "a string",
        KdlValue::Integer(_) => "an integer",
        KdlValue::Float(_) => "a float",
        KdlValue::Bool(_) => "a boolean",
        KdlValue::Null => "#null",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kdl::KdlDocument;

    fn slice(text: &str, s: SourceSpan) -> &str {
        &text[s.offset()..s.offset() + s.len()]
    }

    #[test]
    fn value_spans() {
        let text = "n 0o022 key=(u8)5 \"s\"";
        let doc = KdlDocument::parse_v2(text).unwrap();
        let e = doc.nodes()[0].entries();
        assert_eq!(slice(text, value_span(&e[0])), "0o022");
        assert_eq!(slice(text, value_span(&e[1])), "5");
        assert_eq!(slice(text, value_span(&e[2])), "\"s\"");
        assert_eq!(value_repr(&e[0]), Some("0o022"));
        assert_eq!(arguments(&doc.nodes()[0]).count(), 2);
        assert_eq!(properties(&doc.nodes()[0]).count(), 1);
    }
}
