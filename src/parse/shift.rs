//! Moves every span of a document parsed from a piece of the text to where that piece
//! starts in the whole text.

use kdl::{KdlDocument, KdlEntry, KdlIdentifier, KdlNode};
use miette::SourceSpan;

fn moved(span: SourceSpan, by: usize) -> SourceSpan {
    (span.offset() + by, span.len()).into()
}

fn identifier(id: &mut KdlIdentifier, by: usize) {
    id.set_span(moved(id.span(), by));
}

fn entry(e: &mut KdlEntry, by: usize) {
    e.set_span(moved(e.span(), by));
    if let Some(name) = e.name_mut() {
        identifier(name, by);
    }
    if let Some(ty) = e.ty_mut() {
        identifier(ty, by);
    }
}

fn node(n: &mut KdlNode, by: usize) {
    n.set_span(moved(n.span(), by));
    identifier(n.name_mut(), by);
    if let Some(ty) = n.ty_mut() {
        identifier(ty, by);
    }
    for e in n.entries_mut() {
        entry(e, by);
    }
    if let Some(children) = n.children_mut() {
        document(children, by);
    }
}

/// Shifts every span in `doc` by `by` bytes. Recursion is bounded by the nesting limit.
pub(super) fn document(doc: &mut KdlDocument, by: usize) {
    if by == 0 {
        return;
    }
    doc.set_span(moved(doc.span(), by));
    for n in doc.nodes_mut() {
        node(n, by);
    }
}
