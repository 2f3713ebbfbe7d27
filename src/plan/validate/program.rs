//! One `program "name" { … }` node into a [`ProgramSpec`], every setting checked.

use std::collections::{BTreeSet, HashMap};

use kdl::{KdlEntry, KdlNode, KdlValue};
use miette::SourceSpan;

use super::fields::{self, cover};
use super::{Ctx, identity, paths, unknown_setting, values};
use crate::parse::syntax::{arguments, name_span, show, value_repr, value_span};
use crate::plan::codes::Code;
use crate::plan::directive::{Directive, PROGRAM};
use crate::plan::model::format_duration;
use crate::plan::model::{AutoRestart, CrashLimit, ProgramSpec, RestartBackoff, StopSignal};
use crate::plan::placeholder;
use crate::plan::report::Problem;

/// Most crash restarts `crash-limit` may allow in its window (it keeps one time per restart).
pub(crate) const MAX_CRASH_LIMIT: u32 = 10_000;

/// Settings that may be given several times, each node adding to the last.
const REPEATABLE: &[&str] = &["depends-on"];

/// How to write a program setting, for help lines.
fn example(field: &str) -> &'static str {
    Directive::find(PROGRAM, field).map_or("", |d| d.example)
}

/// A program node after validation: its name (when usable) and its spec (when complete).
pub(crate) struct Program {
    pub name: Option<(String, SourceSpan)>,
    pub spec: Option<ProgramSpec>,
}

/// Validates one program node. Problems go to `ctx`.
pub(crate) fn program(ctx: &mut Ctx, node: &KdlNode) -> Program {
    let name = program_name(ctx, node);
    let mut spec =
        ProgramSpec::with_defaults(name.as_ref().map_or("", |(n, _)| n.as_str()), Vec::new());
    let mut seen: HashMap<&str, SourceSpan> = HashMap::new();
    let mut has_cmd = false;
    for field in node.children().map_or(&[][..], |c| c.nodes()) {
        let fname = field.name().value();
        let Some(directive) = Directive::find(PROGRAM, fname) else {
            ctx.push(unknown_setting(
                field,
                PROGRAM,
                "program",
                "a program takes",
            ));
            continue;
        };
        // `depends-on` nodes add up; a dependency given twice is reported across them.
        if !REPEATABLE.contains(&fname)
            && fields::is_duplicate(ctx, &mut seen, fname, name_span(field), "setting")
        {
            continue;
        }
        has_cmd |= fname == "cmd";
        (directive.parse)(ctx, field, &mut spec);
    }
    if spec.autorestart == AutoRestart::Never {
        for setting in ["restart-backoff", "crash-limit"] {
            if let Some(&span) = seen.get(setting) {
                ctx.push(
                    Problem::new(
                        Code::IgnoredSetting,
                        span,
                        format!("`{setting}` never applies with `autorestart #false`"),
                        "ignored",
                    )
                    .help(
                        "it paces crash restarts, and this program is never restarted: \
                         remove it, or set autorestart #true or \"unexpected\"",
                    ),
                );
            }
        }
    }
    super::check::after_program(ctx, node, &spec);
    if !has_cmd {
        ctx.push(
            Problem::new(
                Code::MissingCmd,
                name_span(node),
                "program has no `cmd`".to_owned(),
                "this program",
            )
            .help(format!("every program needs a command: {}", example("cmd"))),
        );
    }
    identity::resolve_relative_program(ctx.base_dir, &mut spec);
    let complete = name.is_some() && !spec.cmd.is_empty();
    Program {
        name,
        spec: complete.then_some(spec),
    }
}

/// The program's name argument, checked; `None` when missing or unusable.
fn program_name(ctx: &mut Ctx, node: &KdlNode) -> Option<(String, SourceSpan)> {
    const EXAMPLE: &str = "program \"web\" { cmd \"…\" }";
    fields::no_properties(ctx, node, "program \"web\" { numprocs 2 }");
    let args: Vec<&KdlEntry> = arguments(node).collect();
    let Some(&first) = args.first() else {
        ctx.push(
            Problem::new(
                Code::MissingProgramName,
                name_span(node),
                "program has no name",
                "name missing",
            )
            .help(format!("write it as: {EXAMPLE}")),
        );
        return None;
    };
    if let (Some(second), Some(last)) = (args.get(1), args.last()) {
        ctx.push(
            Problem::new(
                Code::UnexpectedArgument,
                cover(second.span(), last.span()),
                "a program takes one name",
                "extra argument",
            )
            .help(format!("settings go inside the block: {EXAMPLE}")),
        );
    }
    let name = fields::string(ctx, first, "program", EXAMPLE)?;
    let span = value_span(first);
    if let Some(why) = name_flaw(name) {
        ctx.push(
            Problem::new(
                Code::InvalidProgramName,
                span,
                format!("program name {why}"),
                "invalid name",
            )
            .help("e.g. program \"web\": no `:`, `/`, spaces or control characters"),
        );
        return None;
    }
    Some((name.to_owned(), span))
}

/// Why `name` cannot name a program (`None` when it can); shared with `taskmaster import`.
pub(crate) fn name_flaw(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("is empty")
    } else if name == "all" {
        Some("is reserved: `all` means every program in client commands")
    } else if name.contains(':') {
        Some("contains `:`, which separates a program from its process number")
    } else if name.contains('/') {
        Some("contains `/`")
    } else if name.chars().any(char::is_whitespace) {
        Some("contains whitespace")
    } else if name.chars().any(char::is_control) {
        Some("contains a control character")
    } else {
        None
    }
}

// The parse functions of the program directives (see [`crate::plan::directive::PROGRAM`]):
// each checks one setting node and stores its value in `spec`, keeping the default when the
// value has a problem.

pub(crate) fn cmd(ctx: &mut Ctx, field: &KdlNode, spec: &mut ProgramSpec) {
    if let Some(args) = fields::some_args(ctx, field, example("cmd")) {
        spec.cmd = cmd_words(ctx, &args).unwrap_or_default();
        if !spec.cmd.is_empty() {
            for entry in &args {
                if let Some(text) = entry.value().as_string() {
                    identity::check_placeholders(ctx, entry, text);
                }
            }
            if let [one] = args.as_slice()
                && let Some(text) = one.value().as_string()
            {
                identity::check_shell_syntax(ctx, one, text);
            }
        }
    }
}

pub(crate) fn exitcodes(ctx: &mut Ctx, field: &KdlNode, spec: &mut ProgramSpec) {
    if let Some(args) = fields::some_args(ctx, field, example("exitcodes")) {
        // Every code is checked, not just up to the first bad one: `check` reports all.
        let codes: Vec<Option<u8>> = args.iter().map(|e| exit_code(ctx, e)).collect();
        if let Some(codes) = codes.into_iter().collect::<Option<BTreeSet<u8>>>() {
            spec.exitcodes = codes;
        }
    }
}

pub(crate) fn restart_backoff(ctx: &mut Ctx, field: &KdlNode, spec: &mut ProgramSpec) {
    if let Some(b) = backoff(ctx, field) {
        spec.restart_backoff = b;
    }
}

pub(crate) fn crash_limit(ctx: &mut Ctx, field: &KdlNode, spec: &mut ProgramSpec) {
    if let Some(l) = limit(ctx, field) {
        spec.crash_limit = Some(l);
    }
}

/// The single value of a one-value setting, its shape problems reported.
fn one<'n>(ctx: &mut Ctx, field: &'n KdlNode) -> Option<&'n KdlEntry> {
    fields::one_arg(ctx, field, example(field.name().value()))
}

pub(crate) fn numprocs(ctx: &mut Ctx, field: &KdlNode, spec: &mut ProgramSpec) {
    if let Some(n) = one(ctx, field).and_then(|entry| numprocs_value(ctx, entry)) {
        spec.numprocs = n;
    }
}

pub(crate) fn umask(ctx: &mut Ctx, field: &KdlNode, spec: &mut ProgramSpec) {
    if let Some(entry) = one(ctx, field) {
        spec.umask = umask_value(ctx, entry);
    }
}

pub(crate) fn workingdir(ctx: &mut Ctx, field: &KdlNode, spec: &mut ProgramSpec) {
    let Some(entry) = one(ctx, field) else {
        return;
    };
    spec.workingdir = paths::path(ctx, entry, "workingdir", example("workingdir"));
    if let Some(dir) = &spec.workingdir {
        let text = entry.value().as_string().unwrap_or_default();
        identity::check_placeholders(ctx, entry, text);
        // Each process has its own folder then: none of them is this text.
        if !placeholder::has_placeholder(text) {
            paths::warn_dir_missing(ctx, entry, dir);
        }
    }
}

pub(crate) fn autostart(ctx: &mut Ctx, field: &KdlNode, spec: &mut ProgramSpec) {
    let ex = example("autostart");
    if let Some(b) = one(ctx, field).and_then(|e| fields::boolean(ctx, e, "autostart", ex)) {
        spec.autostart = b;
    }
}

pub(crate) fn autorestart(ctx: &mut Ctx, field: &KdlNode, spec: &mut ProgramSpec) {
    if let Some(a) = one(ctx, field).and_then(|entry| autorestart_value(ctx, entry)) {
        spec.autorestart = a;
    }
}

pub(crate) fn startretries(ctx: &mut Ctx, field: &KdlNode, spec: &mut ProgramSpec) {
    let ex = example("startretries");
    let n = one(ctx, field).and_then(|e| fields::count(ctx, e, "startretries", u32::MAX, ex));
    if let Some(n) = n {
        spec.startretries = n;
    }
}

pub(crate) fn starttime(ctx: &mut Ctx, field: &KdlNode, spec: &mut ProgramSpec) {
    if let Some(d) = one(ctx, field).and_then(|entry| duration(ctx, entry, "starttime")) {
        spec.starttime = d;
    }
}

pub(crate) fn stoptime(ctx: &mut Ctx, field: &KdlNode, spec: &mut ProgramSpec) {
    if let Some(d) = one(ctx, field).and_then(|entry| duration(ctx, entry, "stoptime")) {
        spec.stoptime = d;
    }
}

pub(crate) fn stopsignal(ctx: &mut Ctx, field: &KdlNode, spec: &mut ProgramSpec) {
    if let Some(s) = one(ctx, field).and_then(|entry| stopsignal_value(ctx, entry)) {
        spec.stopsignal = s;
    }
}

pub(crate) fn stdout(ctx: &mut Ctx, field: &KdlNode, spec: &mut ProgramSpec) {
    if let Some(target) = super::logs::target(ctx, field, "stdout") {
        spec.stdout = target;
    }
}

pub(crate) fn stderr(ctx: &mut Ctx, field: &KdlNode, spec: &mut ProgramSpec) {
    if let Some(target) = super::logs::target(ctx, field, "stderr") {
        spec.stderr = target;
    }
}

/// `args` is never empty: [`fields::some_args`] has already reported a `cmd` without one.
fn cmd_words(ctx: &mut Ctx, args: &[&KdlEntry]) -> Option<Vec<String>> {
    let ex = example("cmd");
    // Each word is checked on its own so every wrong one gets its own diagnostic.
    let words: Vec<Option<&str>> = args
        .iter()
        .map(|e| fields::string(ctx, e, "cmd", ex))
        .collect();
    let words: Vec<&str> = words.into_iter().collect::<Option<_>>()?;
    let mut has_nul = false;
    for bad in args
        .iter()
        .filter(|e| e.value().as_string().is_some_and(|s| s.contains('\0')))
    {
        ctx.push(paths::nul(bad, "cmd"));
        has_nul = true;
    }
    if has_nul {
        return None;
    }
    let empty = |ctx: &mut Ctx, span| {
        ctx.push(
            Problem::new(
                Code::EmptyCmd,
                span,
                "`cmd` names no program",
                "empty command",
            )
            .help(format!("write the program and its arguments: {ex}")),
        );
    };
    match words.as_slice() {
        [single] => match values::split_cmd(single) {
            Ok(argv) => Some(argv),
            Err(values::CmdError::Empty) => {
                empty(ctx, value_span(args[0]));
                None
            }
            Err(values::CmdError::Unsplittable) => {
                ctx.push(
                    Problem::new(
                        Code::UnbalancedQuotes,
                        value_span(args[0]),
                        "`cmd` has unbalanced quotes",
                        "cannot be split into words",
                    )
                    .help(
                        "close every quote (and end no word with a lone backslash), \
                         or give the arguments separately: cmd \"sh\" \"-c\" \"echo hi\"",
                    ),
                );
                None
            }
        },
        ["", ..] => {
            empty(ctx, value_span(args[0]));
            None
        }
        _ => Some(words.iter().map(|w| (*w).to_owned()).collect()),
    }
}

fn numprocs_value(ctx: &mut Ctx, entry: &KdlEntry) -> Option<u32> {
    let ex = example("numprocs");
    let n = fields::integer(ctx, entry, "numprocs", ex)?;
    if n < 0 {
        ctx.push(fields::negative(entry, "numprocs", ex));
        return None;
    }
    if !values::NUMPROCS.contains(&n) {
        ctx.push(
            Problem::new(
                Code::NumprocsRange,
                value_span(entry),
                format!(
                    "`numprocs` must be between {} and {}",
                    values::NUMPROCS.start(),
                    values::NUMPROCS.end()
                ),
                if n == 0 {
                    "zero processes"
                } else {
                    "too many processes"
                },
            )
            .help("to keep a program from starting, write autostart #false"),
        );
        return None;
    }
    u32::try_from(n).ok()
}

fn umask_range(entry: &KdlEntry, why: String) -> Problem {
    Problem::new(
        Code::UmaskRange,
        value_span(entry),
        format!("invalid `umask`: {why}"),
        "not a umask",
    )
    .help("a umask is an octal number from 0o000 to 0o777: write umask 0o022 or umask \"022\"")
}

fn umask_value(ctx: &mut Ctx, entry: &KdlEntry) -> Option<u32> {
    let n = match entry.value() {
        KdlValue::String(s) => {
            return values::umask_text(s)
                .map_err(|why| ctx.push(umask_range(entry, why)))
                .ok();
        }
        KdlValue::Integer(n) => *n,
        _ => {
            let ex = example("umask");
            ctx.push(fields::wrong_type(entry, "umask", "an octal number", ex));
            return None;
        }
    };
    if n < 0 {
        ctx.push(fields::negative(entry, "umask", example("umask")));
        return None;
    }
    let repr = value_repr(entry).unwrap_or("").replace('_', "");
    let decimal = !repr.is_empty() && repr.bytes().all(|b| b.is_ascii_digit());
    if decimal && repr.len() > 1 && repr.starts_with('0') {
        // `022`: KDL reads decimal 22, but a leading zero means octal to anyone who
        // writes a umask; read it as octal and say so.
        let v = values::umask_text(&repr)
            .map_err(|why| ctx.push(umask_range(entry, why)))
            .ok()?;
        ctx.push(umask_decimal(
            entry,
            format!("`{repr}` is read as octal 0o{v:03o}"),
            format!("write umask 0o{v:03o} or umask \"{v:03o}\" to say octal"),
        ));
        return Some(v);
    }
    let Some(v) = u32::try_from(n).ok().filter(|v| *v <= values::MAX_UMASK) else {
        ctx.push(umask_range(entry, format!("{n} is above 0o777 (511)")));
        return None;
    };
    if decimal && v > 7 {
        let mut help = format!("write umask 0o{v:03o} to keep this mask");
        if let Ok(meant) = values::umask_text(&repr) {
            help.push_str(&format!(", or umask 0o{meant:03o} if you meant octal"));
        }
        ctx.push(umask_decimal(
            entry,
            format!("`{n}` is decimal, i.e. umask 0o{v:03o}"),
            help,
        ));
    }
    Some(v)
}

fn umask_decimal(entry: &KdlEntry, what: String, help: String) -> Problem {
    Problem::new(
        Code::UmaskDecimal,
        value_span(entry),
        format!("`umask` is written as a decimal integer: {what}"),
        "decimal integer",
    )
    .help(help)
}

fn exit_code(ctx: &mut Ctx, entry: &KdlEntry) -> Option<u8> {
    let n = fields::integer(ctx, entry, "exitcodes", example("exitcodes"))?;
    match u8::try_from(n) {
        Ok(c) => Some(c),
        Err(_) => {
            ctx.push(
                Problem::new(
                    Code::ExitcodeRange,
                    value_span(entry),
                    format!("exit code {n} is outside 0..=255"),
                    "not an exit code",
                )
                .help("exit codes are 0 to 255, e.g. exitcodes 0 2"),
            );
            None
        }
    }
}

fn autorestart_value(ctx: &mut Ctx, entry: &KdlEntry) -> Option<AutoRestart> {
    match entry.value() {
        KdlValue::Bool(true) => return Some(AutoRestart::Always),
        KdlValue::Bool(false) => return Some(AutoRestart::Never),
        KdlValue::String(s) if s == "unexpected" => return Some(AutoRestart::Unexpected),
        _ => {}
    }
    let help = match entry.value() {
        KdlValue::String(s) if matches!(s.as_str(), "true" | "always") => {
            "write autorestart #true (no quotes)"
        }
        KdlValue::String(s) if matches!(s.as_str(), "false" | "never") => {
            "write autorestart #false (no quotes)"
        }
        _ => {
            "autorestart is #true (always), #false (never) or \"unexpected\" (on an unexpected exit)"
        }
    };
    ctx.push(
        Problem::new(
            Code::BadAutorestart,
            value_span(entry),
            format!("`autorestart` cannot be {}", show(entry.value())),
            "not #true, #false or \"unexpected\"",
        )
        .help(help),
    );
    None
}

fn duration(ctx: &mut Ctx, entry: &KdlEntry, field: &str) -> Option<std::time::Duration> {
    let result = match entry.value() {
        KdlValue::Integer(n) if *n < 0 => {
            ctx.push(fields::negative(entry, field, example(field)));
            return None;
        }
        KdlValue::Integer(n) => values::seconds(*n as f64),
        KdlValue::Float(f) => values::seconds(*f),
        KdlValue::String(s) => values::duration_text(s),
        _ => {
            ctx.push(fields::wrong_type(
                entry,
                field,
                "a duration",
                &format!("{field} 1, {field} 1.5 or {field} \"500ms\""),
            ));
            return None;
        }
    };
    result
        .map_err(|why| {
            let code = if why == values::DurationError::Negative { Code::NegativeNumber } else { Code::BadDuration };
            ctx.push(
                Problem::new(code, value_span(entry), format!("invalid `{field}`: {why}"), "not a duration")
                    .help(format!("write seconds or a string with a unit ({}): {field} 1, {field} 1.5, {field} \"500ms\", {field} \"2m\"", values::DURATION_UNITS)),
            );
        })
        .ok()
}

/// `restart-backoff MIN MAX`, or one value for a fixed wait (`restart-backoff 0`: none).
fn backoff(ctx: &mut Ctx, field: &KdlNode) -> Option<RestartBackoff> {
    let name = "restart-backoff";
    let ex = example(name);
    let args = fields::some_args(ctx, field, ex)?;
    if let [_, _, extra @ ..] = args.as_slice()
        && let (Some(first), Some(last)) = (extra.first(), extra.last())
    {
        ctx.push(
            Problem::new(
                Code::UnexpectedArgument,
                cover(first.span(), last.span()),
                "`restart-backoff` takes at most two values: MIN and MAX",
                "extra value",
            )
            .help(format!(
                "write it as: {ex}, or restart-backoff 0 to restart at once"
            )),
        );
        return None;
    }
    let values: Vec<Option<std::time::Duration>> =
        args.iter().map(|e| duration(ctx, e, name)).collect();
    let (min, max) = match values.as_slice() {
        [Some(d)] => (*d, *d),
        [Some(min), Some(max)] => (*min, *max),
        _ => return None,
    };
    if min > max
        && let (Some(first), Some(last)) = (args.first(), args.last())
    {
        ctx.push(
            Problem::new(
                Code::BackoffMinAboveMax,
                cover(first.span(), last.span()),
                "`restart-backoff`'s first wait is longer than its longest",
                "MIN above MAX",
            )
            .help(format!(
                "MIN comes first, then MAX: restart-backoff \"{}\" \"{}\"",
                format_duration(max),
                format_duration(min)
            )),
        );
        return None;
    }
    Some(RestartBackoff { min, max })
}

/// `crash-limit N W`: at most N crash restarts within any W.
fn limit(ctx: &mut Ctx, field: &KdlNode) -> Option<CrashLimit> {
    let name = "crash-limit";
    let ex = example(name);
    let args = fields::some_args(ctx, field, ex)?;
    let (count, window) = match args.as_slice() {
        [count, window] => (*count, *window),
        [_] => {
            ctx.push(
                Problem::new(
                    Code::MissingValue,
                    name_span(field),
                    "`crash-limit` takes a number of restarts and a time window",
                    "window missing",
                )
                .help(format!("write it as: {ex} (5 restarts within 60 seconds)")),
            );
            return None;
        }
        [_, _, extra @ ..] => {
            if let (Some(first), Some(last)) = (extra.first(), extra.last()) {
                ctx.push(
                    Problem::new(
                        Code::UnexpectedArgument,
                        cover(first.span(), last.span()),
                        "`crash-limit` takes two values: restarts and a time window",
                        "extra value",
                    )
                    .help(format!("write it as: {ex}")),
                );
            }
            return None;
        }
        [] => return None,
    };
    let restarts = fields::count(ctx, count, name, MAX_CRASH_LIMIT, ex);
    if restarts == Some(0) {
        ctx.push(
            Problem::new(
                Code::NumberRange,
                value_span(count),
                format!("`crash-limit` allows 1 to {MAX_CRASH_LIMIT} restarts"),
                "zero restarts",
            )
            .help("to never restart a process that exits while running, write autorestart #false"),
        );
        return None;
    }
    let window = duration(ctx, window, name);
    if window.is_some_and(|w| w.is_zero()) {
        ctx.push(
            Problem::new(
                Code::BadDuration,
                value_span(args[1]),
                "`crash-limit`'s window must be longer than 0",
                "empty window",
            )
            .help(format!("write it as: {ex}")),
        );
        return None;
    }
    Some(CrashLimit {
        restarts: restarts?,
        window: window?,
    })
}

fn stopsignal_value(ctx: &mut Ctx, entry: &KdlEntry) -> Option<StopSignal> {
    let result = match entry.value() {
        KdlValue::String(s) => values::signal_name(s),
        KdlValue::Integer(n) => values::signal_number(*n),
        _ => {
            ctx.push(fields::wrong_type(
                entry,
                "stopsignal",
                "a signal name or number",
                example("stopsignal"),
            ));
            return None;
        }
    };
    result
        .map_err(|why| {
            ctx.push(
                Problem::new(Code::UnknownSignal, value_span(entry), format!("unknown `stopsignal`: {why}"), "no such signal")
                    .help("name a signal such as TERM, INT, QUIT, HUP, KILL, USR1 or USR2 (with or without SIG), or give its number"),
            );
        })
        .ok()
        .map(StopSignal)
}

pub(crate) fn env(ctx: &mut Ctx, field: &KdlNode, spec: &mut ProgramSpec) {
    let ex = example("env");
    for entry in field.entries() {
        let what = if entry.name().is_some() {
            "property"
        } else {
            "argument"
        };
        ctx.push(
            Problem::new(
                Code::UnexpectedArgument,
                entry.span(),
                format!("`env` takes no {what}; its variables go in a block"),
                "unexpected",
            )
            .help(format!("write it as: {ex}")),
        );
    }
    let mut seen: HashMap<&str, SourceSpan> = HashMap::new();
    for var in field.children().map_or(&[][..], |c| c.nodes()) {
        let key = var.name().value();
        let key_span = name_span(var);
        if key.is_empty() || key.contains('=') || key.contains('\0') {
            ctx.push(
                Problem::new(
                    Code::InvalidEnvKey,
                    key_span,
                    if key.is_empty() {
                        "empty environment variable name".to_owned()
                    } else {
                        format!("invalid environment variable name `{}`", key.escape_debug())
                    },
                    "invalid name",
                )
                .help("a variable name is not empty and contains no `=` (nor NUL)"),
            );
            continue;
        }
        if fields::is_duplicate(ctx, &mut seen, key, key_span, "environment variable") {
            continue;
        }
        let var_ex = format!("{key} \"value\"");
        let Some(args) = fields::line_arguments(ctx, var, &var_ex) else {
            continue;
        };
        let value = match args.as_slice() {
            [] => {
                ctx.push(fields::missing_value(var, &var_ex));
                continue;
            }
            [one] => *one,
            [_, extra @ ..] => {
                let help = format!("quote a value with spaces: {key} \"a b\"");
                if let Some(problem) = fields::extra_values(key, extra, "extra values", help) {
                    ctx.push(problem);
                }
                continue;
            }
        };
        let text = match value.value() {
            KdlValue::String(s) => s.clone(),
            // Integers are common (`PORT 8080`) and unambiguous; other types are not.
            KdlValue::Integer(n) => n.to_string(),
            _ => {
                ctx.push(fields::wrong_type(value, key, "a string", &var_ex));
                continue;
            }
        };
        if text.contains('\0') {
            ctx.push(paths::nul(value, key));
            continue;
        }
        identity::check_placeholders(ctx, value, &text);
        spec.env.insert(key.to_owned(), text);
    }
}
