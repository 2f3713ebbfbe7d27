//! Log settings: a program's `stdout`/`stderr` target with its optional `{ max-size; keep;
//! timestamps }` block, `stderr "stdout"`, and the daemon's `log-buffer`.
//!
//! A target without a block is handed to the child as before; with a block the daemon
//! writes it ([`OutputTarget::Written`]). Sizes are bytes, or text with a 1024-based unit
//! (`"10KB"`, `"50MB"`, `"1GB"`; `KiB`, `MiB`, `GiB`, `TB`, `TiB` and `B` too).

use std::collections::HashMap;
use std::path::Path;

use kdl::{KdlEntry, KdlNode, KdlValue};
use miette::SourceSpan;

use super::fields;
use super::{Ctx, paths, suggest};
use crate::parse::syntax::{arguments, name_span, value_span};
use crate::plan::codes::Code;
use crate::plan::model::{DaemonSettings, LogBuffer, LogOptions, OutputTarget};
use crate::plan::report::Problem;

/// The settings a target's block takes.
const BLOCK: &[&str] = &["max-size", "keep", "timestamps"];

/// Why a size was refused; its text is the diagnostic's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SizeError {
    #[error("a size cannot be negative")]
    Negative,
    #[error("a size is a whole number of bytes or a string such as \"50MB\"")]
    NotASize,
    #[error("`{0}` does not start with a whole number")]
    NoNumber(String),
    #[error("unknown size unit `{0}`")]
    UnknownUnit(String),
    #[error("`{0}` is too large")]
    Overflow(String),
}

/// A size text: `"1024"`, `"10KB"`, `"50MB"`, `"1GB"` (1024-based; `KiB`… too).
pub(crate) fn size_text(text: &str) -> Result<u64, SizeError> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    if number.is_empty() {
        return Err(if t.starts_with('-') {
            SizeError::Negative
        } else {
            SizeError::NoNumber(t.to_owned())
        });
    }
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        other => return Err(SizeError::UnknownUnit(other.to_owned())),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1u64 << shift))
        .ok_or_else(|| SizeError::Overflow(t.to_owned()))
}

/// A size value (integer bytes or a string), within `min..=max`.
fn size(ctx: &mut Ctx, entry: &KdlEntry, field: &str, min: u64, max: u64) -> Option<u64> {
    let parsed = match entry.value() {
        KdlValue::Integer(n) if *n < 0 => Err(SizeError::Negative),
        KdlValue::Integer(n) => u64::try_from(*n).map_err(|_| SizeError::Overflow(n.to_string())),
        KdlValue::String(s) => size_text(s),
        _ => Err(SizeError::NotASize),
    };
    let bytes = match parsed {
        Ok(bytes) => bytes,
        Err(e) => {
            ctx.push(
                Problem::new(
                    Code::BadSize,
                    value_span(entry),
                    format!("bad `{field}`: {e}"),
                    "not a size",
                )
                .help(format!(
                    "write bytes, or a number and a 1024-based unit (B, KB, MB, GB, TB): {field} \"50MB\""
                )),
            );
            return None;
        }
    };
    if !(min..=max).contains(&bytes) {
        ctx.push(
            Problem::new(
                Code::NumberRange,
                value_span(entry),
                format!(
                    "`{field}` is between {} and {}",
                    crate::plan::model::format_size(min),
                    crate::plan::model::format_size(max)
                ),
                if bytes < min {
                    "too small"
                } else {
                    "too large"
                },
            )
            .help(format!("write it as: {field} \"50MB\"")),
        );
        return None;
    }
    Some(bytes)
}

/// The parse function of `stdout` and `stderr`: a path, `"discard"`, `"stdout"` (stderr
/// only), and for a path an optional block.
pub(crate) fn target(ctx: &mut Ctx, node: &KdlNode, stream: &str) -> Option<OutputTarget> {
    let ex = if stream == "stdout" {
        "stdout \"web.out\" or stdout \"discard\""
    } else {
        "stderr \"web.err\", stderr \"stdout\" or stderr \"discard\""
    };
    fields::no_properties(ctx, node, ex);
    let args: Vec<&KdlEntry> = arguments(node).collect();
    let entry = match args.as_slice() {
        [] => {
            ctx.push(fields::missing_value(node, ex));
            return None;
        }
        [one] => *one,
        [_, extra @ ..] => {
            let help = format!("write it as: {ex}");
            if let Some(problem) = fields::extra_values(stream, extra, "extra values", help) {
                ctx.push(problem);
            }
            return None;
        }
    };
    let block = node.children().map(|c| {
        let span = if c.span().is_empty() {
            name_span(node)
        } else {
            c.span()
        };
        (c.nodes(), span)
    });
    let special = match entry.value().as_string() {
        Some("discard") => Some(OutputTarget::Discard),
        Some("stdout") if stream == "stderr" => Some(OutputTarget::SameAsStdout),
        _ => None,
    };
    if let Some(special) = special {
        if let Some((_, span)) = block {
            let what = if special == OutputTarget::Discard {
                "\"discard\""
            } else {
                "stderr \"stdout\""
            };
            ctx.push(
                Problem::new(
                    Code::OptionsOnDiscard,
                    span,
                    format!("{what} takes no `{{ … }}` block"),
                    "not a file",
                )
                .help(if special == OutputTarget::Discard {
                    "only a file is rotated or timestamped: remove the block, or name a file"
                } else {
                    "stderr then goes wherever stdout goes: put the block on stdout's file"
                }),
            );
        }
        return Some(special);
    }
    let file = paths::path(ctx, entry, stream, ex)?;
    let text = entry.value().as_string().unwrap_or_default();
    super::identity::check_placeholders(ctx, entry, text);
    // With a placeholder each process has its own file: none of them is this text.
    if !crate::plan::placeholder::has_placeholder(text) {
        paths::warn_parent_missing(ctx, entry, stream, &file);
    }
    let Some((nodes, _)) = block else {
        return Some(OutputTarget::File(file));
    };
    let options = options(ctx, nodes, &file, entry);
    Some(OutputTarget::Written(file, options))
}

/// The settings of a target's block.
fn options(ctx: &mut Ctx, nodes: &[KdlNode], file: &Path, target: &KdlEntry) -> LogOptions {
    let mut options = LogOptions::default();
    let mut seen: HashMap<&str, SourceSpan> = HashMap::new();
    let mut keep_at = None;
    for node in nodes {
        let name = node.name().value();
        if !BLOCK.contains(&name) {
            let help = suggest::closest(name, BLOCK).map_or_else(
                || format!("a log file's block takes: {}", BLOCK.join(", ")),
                |near| format!("did you mean `{near}`?"),
            );
            ctx.push(
                Problem::new(
                    Code::UnknownField,
                    name_span(node),
                    format!("unknown log setting `{name}`"),
                    "unknown setting",
                )
                .help(help),
            );
            continue;
        }
        if fields::is_duplicate(ctx, &mut seen, name, name_span(node), "setting") {
            continue;
        }
        let ex = match name {
            "max-size" => "max-size \"50MB\"",
            "keep" => "keep 10",
            _ => "timestamps #true",
        };
        let Some(entry) = fields::one_arg(ctx, node, ex) else {
            continue;
        };
        match name {
            "max-size" => {
                if let Some(max) =
                    size(ctx, entry, name, LogOptions::MIN_SIZE, LogOptions::MAX_SIZE)
                {
                    options.max_size = Some(max);
                }
            }
            "keep" => {
                keep_at = Some(name_span(node));
                if let Some(keep) = fields::count(ctx, entry, name, LogOptions::MAX_KEEP, ex) {
                    options.keep = keep;
                }
            }
            _ => {
                if let Some(on) = fields::boolean(ctx, entry, name, ex) {
                    options.timestamps = on;
                }
            }
        }
    }
    if let (Some(span), None) = (keep_at, seen.get("max-size")) {
        ctx.push(
            Problem::new(
                Code::KeepWithoutMaxSize,
                span,
                "`keep` without `max-size`: the file never rotates",
                "nothing to keep",
            )
            .help("add max-size \"50MB\" to the block, or remove keep"),
        );
    }
    if options.max_size.is_some() && is_special(file) {
        ctx.push(
            Problem::new(
                Code::RotationOnSpecialFile,
                value_span(target),
                format!(
                    "{} is not a regular file: it is never rotated",
                    file.display()
                ),
                "not rotated",
            )
            .help("a device, FIFO or /proc file is written as it is; remove max-size and keep"),
        );
    }
    options
}

/// Under /dev or /proc, or an existing FIFO, socket or device: `stat` only, never opened.
fn is_special(file: &Path) -> bool {
    if file.starts_with("/dev") || file.starts_with("/proc") {
        return true;
    }
    std::fs::metadata(file).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// The parse function of `log-buffer`.
pub(crate) fn log_buffer(ctx: &mut Ctx, node: &KdlNode, d: &mut DaemonSettings) {
    if let Some(entry) = fields::one_arg(ctx, node, "log-buffer \"1MB\"")
        && let Some(bytes) = size(ctx, entry, "log-buffer", LogBuffer::MIN, LogBuffer::MAX)
    {
        d.log_buffer = LogBuffer(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_bytes_or_1024_based_units() {
        assert_eq!(size_text("1024"), Ok(1024));
        assert_eq!(size_text("10KB"), Ok(10 * 1024));
        assert_eq!(size_text("50MB"), Ok(50 << 20));
        assert_eq!(size_text("1GB"), Ok(1 << 30));
        assert_eq!(size_text("2 MiB"), Ok(2 << 20));
        assert_eq!(size_text("7b"), Ok(7));
        assert_eq!(size_text("1TB"), Ok(1 << 40));
        assert!(matches!(size_text("50XB"), Err(SizeError::UnknownUnit(_))));
        assert!(matches!(size_text("MB"), Err(SizeError::NoNumber(_))));
        assert_eq!(size_text("-5MB"), Err(SizeError::Negative));
        assert!(matches!(
            size_text("99999999999999GB"),
            Err(SizeError::Overflow(_))
        ));
    }
}
