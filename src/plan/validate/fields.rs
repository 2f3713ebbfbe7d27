//! Shape checks shared by every setting node: arguments only, no properties, no children,
//! the right number of values of the right type. Each check reports its own problem and
//! returns `None`, so one mistake gives one diagnostic.

use kdl::{KdlEntry, KdlNode, KdlValue};
use miette::SourceSpan;

use super::Ctx;
use crate::parse::syntax::{arguments, kind, name_span, properties, value_span};
use crate::plan::codes::Code;
use crate::plan::report::Problem;

/// Reports properties on a setting node (settings take plain arguments).
pub(super) fn no_properties(ctx: &mut Ctx, node: &KdlNode, example: &str) {
    for prop in properties(node) {
        let key = prop.name().map_or("", |n| n.value());
        ctx.push(
            Problem::new(
                Code::UnexpectedProperty,
                prop.span(),
                format!("`{}` takes no property `{key}`", node.name().value()),
                "unexpected property",
            )
            .help(format!("settings are written without `=`: {example}")),
        );
    }
}

/// Reports a `{ … }` block on a setting that takes none.
pub(super) fn no_children(ctx: &mut Ctx, node: &KdlNode) {
    if let Some(children) = node.children() {
        let span = if children.span().is_empty() {
            name_span(node)
        } else {
            children.span()
        };
        ctx.push(
            Problem::new(
                Code::UnexpectedChildren,
                span,
                format!("`{}` takes no `{{ … }}` block", node.name().value()),
                "unexpected block",
            )
            .help("remove the block; a setting's value follows its name"),
        );
    }
}

/// The span from the start of `first` to the end of `last`.
/// The arguments of a `KEY value…` line inside a block (`env`, `limits`), after refusing
/// children on it; `None` when it has properties (their error is pushed).
pub(super) fn line_arguments<'n>(
    ctx: &mut Ctx,
    node: &'n KdlNode,
    example: &str,
) -> Option<Vec<&'n KdlEntry>> {
    no_children(ctx, node);
    if properties(node).next().is_some() {
        no_properties(ctx, node, example);
        return None;
    }
    Some(arguments(node).collect())
}

pub(super) fn cover(first: SourceSpan, last: SourceSpan) -> SourceSpan {
    let end = (last.offset() + last.len()).max(first.offset());
    (first.offset(), end - first.offset()).into()
}

/// All the arguments of a setting that takes one or more (`exitcodes 0 2`, `cmd "a" "b"`).
pub(super) fn some_args<'n>(
    ctx: &mut Ctx,
    node: &'n KdlNode,
    example: &str,
) -> Option<Vec<&'n KdlEntry>> {
    no_properties(ctx, node, example);
    no_children(ctx, node);
    let args: Vec<_> = arguments(node).collect();
    if args.is_empty() {
        // `numprocs n=2` already got an unexpected-property error; one is enough.
        if properties(node).next().is_none() {
            ctx.push(missing_value(node, example));
        }
        return None;
    }
    Some(args)
}

/// The single argument of a setting.
pub(super) fn one_arg<'n>(ctx: &mut Ctx, node: &'n KdlNode, example: &str) -> Option<&'n KdlEntry> {
    let args = some_args(ctx, node, example)?;
    if let [_, extra @ ..] = args.as_slice() {
        let label = if extra.len() == 1 {
            "extra value"
        } else {
            "extra values"
        };
        let help = format!("write it as: {example}");
        if let Some(problem) = extra_values(node.name().value(), extra, label, help) {
            ctx.push(problem);
            return None;
        }
    }
    args.first().copied()
}

/// `NAME` given values after the one it takes: the problem, on those extra values (`None`
/// when there are none).
pub(super) fn extra_values(
    name: &str,
    extra: &[&KdlEntry],
    label: &'static str,
    help: String,
) -> Option<Problem> {
    let (first, last) = (extra.first()?, extra.last()?);
    Some(
        Problem::new(
            Code::UnexpectedArgument,
            cover(first.span(), last.span()),
            format!("`{name}` takes one value"),
            label,
        )
        .help(help),
    )
}

pub(super) fn missing_value(node: &KdlNode, example: &str) -> Problem {
    Problem::new(
        Code::MissingValue,
        name_span(node),
        format!("`{}` has no value", node.name().value()),
        "value missing",
    )
    .help(format!("write it as: {example}"))
}

/// A wrong-type problem on an entry's value.
pub(super) fn wrong_type(entry: &KdlEntry, field: &str, expected: &str, example: &str) -> Problem {
    let found = kind(entry.value());
    let mut help = format!("write it as: {example}");
    if let KdlValue::String(s) = entry.value()
        && matches!(s.as_str(), "true" | "false")
    {
        help = format!("booleans are not quoted: write #{s}");
    }
    Problem::new(
        Code::WrongType,
        value_span(entry),
        format!("`{field}` takes {expected}, found {found}"),
        found,
    )
    .help(help)
}

pub(super) fn string<'e>(
    ctx: &mut Ctx,
    entry: &'e KdlEntry,
    field: &str,
    example: &str,
) -> Option<&'e str> {
    match entry.value() {
        KdlValue::String(s) => Some(s),
        _ => {
            ctx.push(wrong_type(entry, field, "a string", example));
            None
        }
    }
}

pub(super) fn integer(ctx: &mut Ctx, entry: &KdlEntry, field: &str, example: &str) -> Option<i128> {
    match entry.value() {
        KdlValue::Integer(i) => Some(*i),
        _ => {
            ctx.push(wrong_type(entry, field, "an integer", example));
            None
        }
    }
}

/// A whole number in `0..=max`; negatives and overflows get their own codes.
pub(super) fn count(
    ctx: &mut Ctx,
    entry: &KdlEntry,
    field: &str,
    max: u32,
    example: &str,
) -> Option<u32> {
    let n = integer(ctx, entry, field, example)?;
    if n < 0 {
        ctx.push(negative(entry, field, example));
        return None;
    }
    match u32::try_from(n) {
        Ok(v) if v <= max => Some(v),
        _ => {
            ctx.push(
                Problem::new(
                    Code::NumberRange,
                    value_span(entry),
                    format!("`{field}` is at most {max}"),
                    "too large",
                )
                .help(format!("write it as: {example}")),
            );
            None
        }
    }
}

pub(super) fn negative(entry: &KdlEntry, field: &str, example: &str) -> Problem {
    Problem::new(
        Code::NegativeNumber,
        value_span(entry),
        format!("`{field}` cannot be negative"),
        "negative",
    )
    .help(format!("write it as: {example}"))
}

pub(super) fn boolean(ctx: &mut Ctx, entry: &KdlEntry, field: &str, example: &str) -> Option<bool> {
    match entry.value() {
        KdlValue::Bool(b) => Some(*b),
        _ => {
            ctx.push(wrong_type(entry, field, "#true or #false", example));
            None
        }
    }
}

/// Reports a second occurrence of a setting; returns whether `node` is a duplicate.
pub(super) fn is_duplicate<'d>(
    ctx: &mut Ctx,
    seen: &mut std::collections::HashMap<&'d str, SourceSpan>,
    name: &'d str,
    span: SourceSpan,
    what: &str,
) -> bool {
    match seen.get(name) {
        Some(&first) => {
            ctx.push(
                Problem::new(
                    Code::DuplicateField,
                    span,
                    format!("{what} `{name}` is given twice"),
                    "given again here",
                )
                .also(first, "first given here")
                .help("keep one of them"),
            );
            true
        }
        None => {
            seen.insert(name, span);
            false
        }
    }
}
