//! The identity settings of a program: `user`, `group`, `groups`, `limits` and `env-file`,
//! plus the checks on values that take placeholders (`unknown_placeholder`), on one-string
//! commands holding shell syntax (`shell_syntax`), and the resolution of a relative `cmd`
//! program against the config's folder.
//!
//! Users and groups are looked up here, at compile time (see [`crate::plan::credentials`]
//! for why); env files are read here too, and their problems point into the env file.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use kdl::{KdlEntry, KdlNode, KdlValue};
use miette::SourceSpan;

use super::fields::{self, cover};
use super::{Ctx, paths, suggest};
use crate::parse::syntax::{arguments, name_span, value_repr, value_span};
use crate::plan::codes::Code;
use crate::plan::credentials::{Group, Limit, LimitName, User};
use crate::plan::directive::{Directive, PROGRAM};
use crate::plan::envfile;
use crate::plan::model::ProgramSpec;
use crate::plan::placeholder;
use crate::plan::report::Problem;
use crate::plan::source::IndexedSource;

fn example(field: &str) -> &'static str {
    Directive::find(PROGRAM, field).map_or("", |d| d.example)
}

/// A user or group name or number: a non-empty string, or an integer 0 or more.
fn id_text(ctx: &mut Ctx, entry: &KdlEntry, field: &str) -> Option<String> {
    let ex = example(field);
    let text = match entry.value() {
        KdlValue::String(s) => s.clone(),
        KdlValue::Integer(n) if *n < 0 => {
            ctx.push(fields::negative(entry, field, ex));
            return None;
        }
        KdlValue::Integer(n) => match u32::try_from(*n) {
            Ok(n) => n.to_string(),
            Err(_) => {
                ctx.push(
                    Problem::new(
                        Code::NumberRange,
                        value_span(entry),
                        format!("`{field}` is at most {}", u32::MAX),
                        "too large",
                    )
                    .help(format!("write it as: {ex}")),
                );
                return None;
            }
        },
        _ => {
            ctx.push(fields::wrong_type(entry, field, "a name or a number", ex));
            return None;
        }
    };
    if text.is_empty() || text.contains('\0') {
        ctx.push(
            Problem::new(
                Code::MissingValue,
                value_span(entry),
                format!("`{field}` is empty or holds a NUL character"),
                "not a name",
            )
            .help(format!("write it as: {ex}")),
        );
        return None;
    }
    Some(text)
}

pub(crate) fn user(ctx: &mut Ctx, field: &KdlNode, spec: &mut ProgramSpec) {
    let Some(entry) = fields::one_arg(ctx, field, example("user")) else {
        return;
    };
    let Some(text) = id_text(ctx, entry, "user") else {
        return;
    };
    let user = User::resolve(&text);
    if user.account.is_none() {
        ctx.push(
            Problem::new(
                Code::UnknownUser,
                value_span(entry),
                format!("no user `{text}` on this machine"),
                "unknown user",
            )
            .help(format!(
                "every start fails with `unknown user {text}` until it exists (then `reload`); \
                 check the name, or create the user"
            )),
        );
    }
    spec.user = Some(user);
}

fn group_value(ctx: &mut Ctx, entry: &KdlEntry, field: &str) -> Option<Group> {
    let text = id_text(ctx, entry, field)?;
    let group = Group::resolve(&text);
    if group.gid.is_none() {
        ctx.push(
            Problem::new(
                Code::UnknownGroup,
                value_span(entry),
                format!("no group `{text}` on this machine"),
                "unknown group",
            )
            .help(format!(
                "every start fails with `unknown group {text}` until it exists (then `reload`); \
                 check the name, or create the group"
            )),
        );
    }
    Some(group)
}

pub(crate) fn group(ctx: &mut Ctx, field: &KdlNode, spec: &mut ProgramSpec) {
    if let Some(entry) = fields::one_arg(ctx, field, example("group")) {
        spec.group = group_value(ctx, entry, "group");
    }
}

pub(crate) fn groups(ctx: &mut Ctx, field: &KdlNode, spec: &mut ProgramSpec) {
    let Some(args) = fields::some_args(ctx, field, example("groups")) else {
        return;
    };
    let groups: Vec<Option<Group>> = args.iter().map(|e| group_value(ctx, e, "groups")).collect();
    spec.groups = groups.into_iter().collect();
}

/// Sizes for byte limits: bytes, or a number with a 1024-based unit (`"512MB"`, `"1GiB"`).
fn size_text(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "KB" | "KIB" | "K" => 10,
        "MB" | "MIB" | "M" => 20,
        "GB" | "GIB" | "G" => 30,
        "TB" | "TIB" | "T" => 40,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
}

/// One limit value: `Some(n)`, or `None` for unlimited; `Err(())` once reported.
fn limit_value(ctx: &mut Ctx, entry: &KdlEntry, name: LimitName) -> Result<Option<u64>, ()> {
    let ex = if name.is_bytes() {
        format!("{name} 0, {name} \"512MB\" or {name} \"unlimited\"")
    } else {
        format!("{name} 4096 65536 or {name} \"unlimited\"")
    };
    let parsed = match entry.value() {
        KdlValue::Integer(n) if *n < 0 => {
            ctx.push(fields::negative(entry, name.name(), &ex));
            return Err(());
        }
        KdlValue::Integer(n) => u64::try_from(*n).ok().map(Some),
        KdlValue::String(s) if matches!(s.as_str(), "unlimited" | "infinity") => Some(None),
        KdlValue::String(s) if name.is_bytes() => size_text(s).map(Some),
        KdlValue::String(s) => s.trim().parse::<u64>().ok().map(Some),
        _ => None,
    };
    // RLIM_INFINITY is u64::MAX: a number that large means "unlimited" and says so.
    match parsed {
        Some(Some(n)) if n < u64::MAX => Ok(Some(n)),
        Some(None) => Ok(None),
        _ => {
            let what = if name.is_bytes() {
                "a number of bytes, a size such as \"512MB\", or \"unlimited\""
            } else if name == LimitName::Cpu {
                "a number of seconds, or \"unlimited\""
            } else {
                "a whole number, or \"unlimited\""
            };
            ctx.push(
                Problem::new(
                    Code::BadLimit,
                    value_span(entry),
                    format!("`{name}` takes {what}"),
                    "not a limit",
                )
                .help(format!("write it as: {ex}")),
            );
            Err(())
        }
    }
}

pub(crate) fn limits(ctx: &mut Ctx, field: &KdlNode, spec: &mut ProgramSpec) {
    let ex = example("limits");
    fields::no_properties(ctx, field, ex);
    if let (Some(first), Some(last)) = (arguments(field).next(), arguments(field).last()) {
        ctx.push(
            Problem::new(
                Code::UnexpectedArgument,
                cover(first.span(), last.span()),
                "`limits` takes no argument; its limits go in a block",
                "unexpected",
            )
            .help(format!("write it as: {ex}")),
        );
    }
    let Some(children) = field.children() else {
        ctx.push(fields::missing_value(field, ex));
        return;
    };
    let names: Vec<&str> = LimitName::ALL.iter().map(|l| l.name()).collect();
    let mut seen: HashMap<&str, SourceSpan> = HashMap::new();
    for node in children.nodes() {
        let key = node.name().value();
        let Some(name) = LimitName::from_name(key) else {
            let help = match suggest::closest(key, &names) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("the limits are: {}", names.join(", ")),
            };
            ctx.push(
                Problem::new(
                    Code::UnknownLimit,
                    name_span(node),
                    format!("unknown limit `{key}`"),
                    "unknown limit",
                )
                .help(help),
            );
            continue;
        };
        if fields::is_duplicate(ctx, &mut seen, key, name_span(node), "limit") {
            continue;
        }
        let node_ex = format!("{key} 4096 65536 (soft, then hard)");
        let Some(args) = fields::line_arguments(ctx, node, &node_ex) else {
            continue;
        };
        let (soft, hard) = match args.as_slice() {
            [] => {
                ctx.push(fields::missing_value(node, &node_ex));
                continue;
            }
            [one] => (limit_value(ctx, one, name), None),
            [soft, hard] => (
                limit_value(ctx, soft, name),
                Some(limit_value(ctx, hard, name)),
            ),
            [_, _, extra @ ..] => {
                if let (Some(first), Some(last)) = (extra.first(), extra.last()) {
                    ctx.push(
                        Problem::new(
                            Code::UnexpectedArgument,
                            cover(first.span(), last.span()),
                            format!("`{key}` takes a soft and a hard value at most"),
                            "extra value",
                        )
                        .help(format!("write it as: {node_ex}")),
                    );
                }
                continue;
            }
        };
        let Ok(soft) = soft else { continue };
        let hard = match hard {
            None => soft,
            Some(Ok(h)) => h,
            Some(Err(())) => continue,
        };
        let above = match (soft, hard) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(s), Some(h)) => s > h,
        };
        if above {
            ctx.push(
                Problem::new(
                    Code::LimitSoftAboveHard,
                    cover(args[0].span(), args[args.len() - 1].span()),
                    format!("`{key}`'s soft limit is above its hard limit"),
                    "soft above hard",
                )
                .help("the soft limit comes first and is at most the hard one: nofile 4096 65536"),
            );
            continue;
        }
        spec.limits.insert(name, Limit { soft, hard });
    }
}

pub(crate) fn env_file(ctx: &mut Ctx, field: &KdlNode, spec: &mut ProgramSpec) {
    let ex = example("env-file");
    let Some(args) = fields::some_args(ctx, field, ex) else {
        return;
    };
    for entry in args {
        let Some(path) = paths::path(ctx, entry, "env-file", ex) else {
            continue;
        };
        let text = match envfile::read(&path) {
            Ok(text) => text,
            Err(why) => {
                ctx.push(
                    Problem::new(
                        Code::EnvFileMissing,
                        value_span(entry),
                        format!("cannot read env file {}: {why}", path.display()),
                        "cannot read",
                    )
                    .help(
                        "env files are read when the config is compiled (check, run, reload, \
                         diff): create it, or remove it from `env-file`",
                    ),
                );
                continue;
            }
        };
        match envfile::parse(&text) {
            Ok(vars) => spec.env_file.vars.extend(vars),
            Err(errors) => {
                let source = Arc::new(IndexedSource::new(path.display().to_string(), text));
                for e in errors {
                    ctx.push(
                        Problem::new(
                            Code::EnvFileSyntax,
                            (e.span.start, e.span.len()).into(),
                            e.message,
                            e.label,
                        )
                        .help(
                            "lines are KEY=VALUE (optionally `export KEY=VALUE`), `# comments` \
                             and blank lines; quote a value with '…' or \"…\"",
                        )
                        .in_file(source.clone()),
                    );
                }
            }
        }
        spec.env_file.files.push(path);
    }
}

/// Warns about each near miss of a placeholder in `text`, a string value of `entry`.
pub(crate) fn check_placeholders(ctx: &mut Ctx, entry: &KdlEntry, text: &str) {
    for (range, near) in placeholder::near_misses(text) {
        let written = &text[range.clone()];
        ctx.push(
            Problem::new(
                Code::UnknownPlaceholder,
                inner_span(entry, text, range),
                format!("`{written}` is not a placeholder and is left as written"),
                "not a placeholder",
            )
            .help(format!(
                "did you mean `{{{near}}}`? The placeholders are {{process_num}}, \
                 {{process_num+K}}, {{program}} and {{process}}"
            )),
        );
    }
}

/// The span of `range` of a string value's text: exact for a plain `"…"` literal without
/// escapes, else the whole value.
fn inner_span(entry: &KdlEntry, text: &str, range: std::ops::Range<usize>) -> SourceSpan {
    let span = value_span(entry);
    if value_repr(entry).is_some_and(|r| r.len() == text.len() + 2 && r[1..].starts_with(text)) {
        (span.offset() + 1 + range.start, range.len()).into()
    } else {
        span
    }
}

/// The first shell construct of a one-string `cmd` outside quotes, and its byte offset.
fn shell_construct(text: &str) -> Option<(usize, &'static str)> {
    let bytes = text.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(b'\'') if b == b'\'' => quote = None,
            Some(b'"') if b == b'\\' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None => {
                let next = bytes.get(i + 1).copied();
                let what = match b {
                    b'\\' => {
                        i += 2;
                        continue;
                    }
                    b'\'' | b'"' => {
                        quote = Some(b);
                        None
                    }
                    b'|' => Some("a pipe `|`"),
                    b'>' | b'<' => Some("a redirection"),
                    b'&' if next == Some(b'&') => Some("`&&`"),
                    b';' => Some("`;`"),
                    b'`' => Some("a backquote"),
                    b'$' if next.is_some_and(|n| {
                        n.is_ascii_alphabetic() || n == b'_' || n == b'{' || n == b'('
                    }) =>
                    {
                        Some("a `$` variable")
                    }
                    _ => None,
                };
                if let Some(what) = what {
                    return Some((i, what));
                }
            }
        }
        i += 1;
    }
    None
}

/// Warns when a one-string `cmd` holds shell syntax, which no shell will interpret.
pub(crate) fn check_shell_syntax(ctx: &mut Ctx, entry: &KdlEntry, text: &str) {
    let Some((at, what)) = shell_construct(text) else {
        return;
    };
    let len = if text.as_bytes().get(at) == Some(&b'&') {
        2
    } else {
        1
    };
    ctx.push(
        Problem::new(
            Code::ShellSyntax,
            inner_span(entry, text, at..at + len),
            format!("`cmd` holds shell syntax ({what}), but no shell runs it"),
            "shell syntax",
        )
        .help(format!(
            "the program gets it as plain text; to run it through a shell, write: \
             cmd \"sh\" \"-c\" {text:?}"
        )),
    );
}

/// A relative path as the program (`./run.sh`) means the config's folder when there is no
/// `workingdir` (with one, the spawn resolves it there, where the process starts).
pub(crate) fn resolve_relative_program(base_dir: &Path, spec: &mut ProgramSpec) {
    if spec.workingdir.is_some() {
        return;
    }
    if let Some(program) = spec.cmd.first_mut()
        && program.contains('/')
        && Path::new(program.as_str()).is_relative()
    {
        *program = paths::resolve(base_dir, program).display().to_string();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_constructs_are_found_outside_quotes_only() {
        let found = shell_construct;
        assert_eq!(found("echo hi | tr a-z A-Z"), Some((8, "a pipe `|`")));
        assert_eq!(found("run > out"), Some((4, "a redirection")));
        assert_eq!(found("a && b"), Some((2, "`&&`")));
        assert_eq!(found("echo $HOME"), Some((5, "a `$` variable")));
        assert_eq!(found("echo `date`"), Some((5, "a backquote")));
        assert_eq!(found("a; b"), Some((1, "`;`")));
        assert_eq!(found("grep 'a|b' \"x > y\" c\\;d"), None);
        assert_eq!(found("price $5 & bg"), None);
        assert_eq!(found("python3 -m http.server 8080"), None);
    }

    #[test]
    fn a_relative_program_means_the_config_folder_without_workingdir() {
        let cmd = |text: &str| {
            let c = crate::plan::compile("t.kdl", text, Path::new("/cfg")).unwrap();
            c.plan.programs["a"].cmd.clone()
        };
        assert_eq!(
            cmd("program a { cmd \"./run.sh -v\" }"),
            ["/cfg/run.sh", "-v"]
        );
        assert_eq!(cmd("program a { cmd \"bin/x\" }"), ["/cfg/bin/x"]);
        assert_eq!(
            cmd("program a { cmd \"./run.sh\"; workingdir \"/tmp\" }"),
            ["./run.sh"]
        );
        assert_eq!(cmd("program a { cmd \"sleep 1\" }"), ["sleep", "1"]);
        assert_eq!(cmd("program a { cmd \"/bin/true\" }"), ["/bin/true"]);
    }

    #[test]
    fn sizes() {
        assert_eq!(size_text("512MB"), Some(512 << 20));
        assert_eq!(size_text("1GiB"), Some(1 << 30));
        assert_eq!(size_text("10"), Some(10));
        assert_eq!(size_text("1 XB"), None);
        assert_eq!(size_text("MB"), None);
    }
}
