//! `readiness { … }` and `liveness { … }` into [`Check`]s: exactly one probe kind, loopback
//! targets only (never resolved: `localhost` is 127.0.0.1 by rule), URLs and regexes checked
//! here so the runtime never meets a bad one.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use kdl::{KdlEntry, KdlNode, KdlValue};
use miette::SourceSpan;

use super::fields::{self, cover};
use super::{Ctx, suggest, values};
use crate::parse::syntax::{arguments, name_span, value_span};
use crate::plan::check::{Check, CheckRole, HttpTarget, LogPattern, LogStream, Probe};
use crate::plan::codes::Code;
use crate::plan::model::{OutputTarget, ProgramSpec, format_duration};
use crate::plan::report::Problem;

/// The probe kinds, one of which a block holds.
const KINDS: &[&str] = &["tcp", "http", "exec", "log"];
/// The timing settings of a block.
const SETTINGS: &[&str] = &["interval", "timeout", "threshold", "deadline", "delay"];

/// A compiled `log` pattern may take this much memory at most (the regex crate's own
/// default, said here so it is a documented cap).
pub(crate) const MAX_REGEX_SIZE: usize = 10 * 1024 * 1024;

pub(crate) fn readiness(ctx: &mut Ctx, field: &KdlNode, spec: &mut ProgramSpec) {
    spec.readiness = block(ctx, field, CheckRole::Readiness);
}

pub(crate) fn liveness(ctx: &mut Ctx, field: &KdlNode, spec: &mut ProgramSpec) {
    spec.liveness = block(ctx, field, CheckRole::Liveness);
}

fn example(role: CheckRole) -> &'static str {
    match role {
        CheckRole::Readiness => "readiness { tcp 8080; interval \"500ms\"; deadline \"60s\" }",
        CheckRole::Liveness => "liveness { http \"http://127.0.0.1:8080/healthz\"; threshold 3 }",
    }
}

fn block(ctx: &mut Ctx, field: &KdlNode, role: CheckRole) -> Option<Check> {
    let block = role.name();
    for entry in field.entries() {
        ctx.push(
            Problem::new(
                Code::UnexpectedArgument,
                entry.span(),
                format!("`{block}` takes no argument; its settings go in a block"),
                "unexpected",
            )
            .help(format!("write it as: {}", example(role))),
        );
    }
    let mut seen: HashMap<&str, SourceSpan> = HashMap::new();
    let mut kinds: Vec<&KdlNode> = Vec::new();
    let mut settings: Vec<&KdlNode> = Vec::new();
    for node in field.children().map_or(&[][..], |c| c.nodes()) {
        let name = node.name().value();
        let known = KINDS.contains(&name) || SETTINGS.contains(&name);
        if !known || (name == "deadline" && role == CheckRole::Liveness) {
            ctx.push(unknown(node, role));
            continue;
        }
        if fields::is_duplicate(ctx, &mut seen, name, name_span(node), "setting") {
            continue;
        }
        if KINDS.contains(&name) {
            kinds.push(node);
        } else {
            settings.push(node);
        }
    }
    let kind_node = match kinds.as_slice() {
        [] => {
            ctx.push(
                Problem::new(
                    Code::CheckKindMissing,
                    name_span(field),
                    format!("`{block}` says nothing to check"),
                    "no check",
                )
                .help(format!(
                    "give exactly one of tcp, http, exec{}: {}",
                    if role == CheckRole::Readiness {
                        ", log"
                    } else {
                        ""
                    },
                    example(role)
                )),
            );
            None
        }
        [one] => Some(*one),
        [first, second, ..] => {
            ctx.push(
                Problem::new(
                    Code::CheckKindConflict,
                    name_span(second),
                    format!(
                        "`{block}` has two checks: `{}` and `{}`",
                        first.name().value(),
                        second.name().value()
                    ),
                    "second check",
                )
                .also(name_span(first), "first check")
                .help(format!(
                    "a block runs one check; keep one of them: {}",
                    example(role)
                )),
            );
            None
        }
    };
    let probe = kind_node.and_then(|node| probe(ctx, node, role));
    let is_log = kind_node.is_some_and(|n| n.name().value() == "log");
    let mut check = Check::with_defaults(
        role,
        // A placeholder until the probe is known; the block is dropped without one.
        Probe::Exec(Vec::new()),
    );
    let mut ok = true;
    for node in settings {
        let name = node.name().value();
        if is_log && matches!(name, "interval" | "timeout" | "threshold") {
            ctx.push(
                Problem::new(
                    Code::IgnoredSetting,
                    name_span(node),
                    format!("`{name}` does not apply to a `log` check"),
                    "ignored",
                )
                .help("a log check passes on the first matching line; it runs no attempts"),
            );
        }
        let ex = format!("{name} \"1s\"");
        let Some(entry) = fields::one_arg(ctx, node, &ex) else {
            ok = false;
            continue;
        };
        match name {
            "threshold" => {
                let ex = format!("threshold {}", check.threshold);
                match fields::count(ctx, entry, "threshold", Check::MAX_THRESHOLD, &ex) {
                    Some(0) => {
                        ctx.push(
                            Problem::new(
                                Code::NumberRange,
                                value_span(entry),
                                format!("`threshold` is 1 to {}", Check::MAX_THRESHOLD),
                                "zero",
                            )
                            .help(format!("write it as: {ex}")),
                        );
                        ok = false;
                    }
                    Some(n) => check.threshold = n,
                    None => ok = false,
                }
            }
            _ => match duration(ctx, entry, name) {
                Some(d) if name == "interval" && d < Check::MIN_INTERVAL => {
                    ctx.push(too_short(entry, name, Check::MIN_INTERVAL));
                    ok = false;
                }
                Some(d) if name == "timeout" && d.is_zero() => {
                    ctx.push(too_short(entry, name, Duration::from_millis(1)));
                    ok = false;
                }
                Some(d) => match name {
                    "interval" => check.interval = d,
                    "timeout" => check.timeout = d,
                    "deadline" => check.deadline = d,
                    _ => check.delay = d,
                },
                None => ok = false,
            },
        }
    }
    check.probe = probe?;
    ok.then_some(check)
}

fn unknown(node: &KdlNode, role: CheckRole) -> Problem {
    let name = node.name().value();
    let block = role.name();
    let mut names: Vec<&str> = KINDS.iter().chain(SETTINGS).copied().collect();
    if role == CheckRole::Liveness {
        names.retain(|n| *n != "deadline" && *n != "log");
    }
    let help = if name == "deadline" {
        "`deadline` bounds readiness only; a liveness check fails after `threshold` failures"
            .to_owned()
    } else if let Some(near) = suggest::closest(name, &names) {
        format!("did you mean `{near}`?")
    } else {
        format!("`{block}` takes: {}", names.join(", "))
    };
    Problem::new(
        Code::UnknownField,
        name_span(node),
        format!("unknown {block} setting `{name}`"),
        "unknown setting",
    )
    .help(help)
}

fn too_short(entry: &KdlEntry, name: &str, min: Duration) -> Problem {
    Problem::new(
        Code::NumberRange,
        value_span(entry),
        format!("`{name}` is at least {}", format_duration(min)),
        "too short",
    )
    .help(format!("write it as: {name} \"{}\"", format_duration(min)))
}

/// A duration setting of a block: integer or float seconds, or a string with a unit.
fn duration(ctx: &mut Ctx, entry: &KdlEntry, name: &str) -> Option<Duration> {
    let result = match entry.value() {
        KdlValue::Integer(n) => values::seconds(*n as f64),
        KdlValue::Float(f) => values::seconds(*f),
        KdlValue::String(s) => values::duration_text(s),
        _ => {
            let ex = format!("{name} \"500ms\"");
            ctx.push(fields::wrong_type(entry, name, "a duration", &ex));
            return None;
        }
    };
    result
        .map_err(|why| {
            let code = if why == values::DurationError::Negative {
                Code::NegativeNumber
            } else {
                Code::BadDuration
            };
            ctx.push(
                Problem::new(
                    code,
                    value_span(entry),
                    format!("invalid `{name}`: {why}"),
                    "not a duration",
                )
                .help(format!(
                    "write seconds or a string with a unit ({}): {name} 1, {name} \"500ms\"",
                    values::DURATION_UNITS
                )),
            );
        })
        .ok()
}

fn probe(ctx: &mut Ctx, node: &KdlNode, role: CheckRole) -> Option<Probe> {
    let name = node.name().value();
    let ex = match name {
        "tcp" => "tcp 8080 or tcp \"127.0.0.1:8080\"",
        "http" => "http \"http://127.0.0.1:8080/healthz\"",
        "exec" => "exec \"pg_isready -h 127.0.0.1\"",
        _ => "log \"listening on\"",
    };
    if name == "log" && role == CheckRole::Liveness {
        ctx.push(
            Problem::new(
                Code::LogCheckInLiveness,
                name_span(node),
                "a `log` check can only say a process is ready",
                "log in liveness",
            )
            .help(
                "a line that was printed once says nothing about later health: use tcp, \
                 http or exec in liveness, and log in readiness",
            ),
        );
        return None;
    }
    let args = fields::some_args(ctx, node, ex)?;
    match name {
        "tcp" => {
            let [entry] = one_value(ctx, node, &args, ex)?;
            tcp(ctx, entry).map(Probe::Tcp)
        }
        "http" => {
            let [entry] = one_value(ctx, node, &args, ex)?;
            let url = fields::string(ctx, entry, "http", ex)?;
            http(ctx, entry, url).map(Probe::Http)
        }
        "exec" => exec(ctx, &args, ex).map(Probe::Exec),
        _ => log(ctx, node, &args, ex).map(Probe::Log),
    }
}

fn one_value<'e>(
    ctx: &mut Ctx,
    node: &KdlNode,
    args: &[&'e KdlEntry],
    ex: &str,
) -> Option<[&'e KdlEntry; 1]> {
    match args {
        [one] => Some([*one]),
        [_, extra @ ..] => {
            let help = format!("write it as: {ex}");
            if let Some(problem) =
                fields::extra_values(node.name().value(), extra, "extra value", help)
            {
                ctx.push(problem);
            }
            None
        }
        [] => None,
    }
}

fn bad_port(entry: &KdlEntry, what: String) -> Problem {
    Problem::new(Code::NumberRange, value_span(entry), what, "not a port")
        .help("a port is 1 to 65535: tcp 8080")
}

fn tcp(ctx: &mut Ctx, entry: &KdlEntry) -> Option<SocketAddr> {
    match entry.value() {
        KdlValue::Integer(n) => match u16::try_from(*n) {
            Ok(port) if port > 0 => Some(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port)),
            _ => {
                ctx.push(bad_port(entry, format!("port {n} is outside 1..=65535")));
                None
            }
        },
        KdlValue::String(s) => {
            let Some((host, port)) = s.rsplit_once(':') else {
                ctx.push(bad_address(
                    entry,
                    format!("`{s}` is not HOST:PORT"),
                    "write tcp 8080 or tcp \"127.0.0.1:8080\"",
                ));
                return None;
            };
            let port = match port.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => {
                    ctx.push(bad_port(
                        entry,
                        format!("`{port}` is not a port (1..=65535)"),
                    ));
                    return None;
                }
            };
            let ip = loopback(ctx, entry, host)?;
            Some(SocketAddr::new(ip, port))
        }
        _ => {
            let ex = "tcp 8080 or tcp \"127.0.0.1:8080\"";
            ctx.push(fields::wrong_type(
                entry,
                "tcp",
                "a port or \"HOST:PORT\"",
                ex,
            ));
            None
        }
    }
}

fn bad_address(entry: &KdlEntry, what: String, help: &str) -> Problem {
    Problem::new(Code::CheckBadUrl, value_span(entry), what, "not usable").help(help)
}

/// A host that is loopback: `localhost` (127.0.0.1 by rule, never resolved), an IPv4
/// address in 127.0.0.0/8, or `[::1]`.
fn loopback(ctx: &mut Ctx, entry: &KdlEntry, host: &str) -> Option<IpAddr> {
    let ip = if host.eq_ignore_ascii_case("localhost") {
        Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
    } else if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        inner.parse::<IpAddr>().ok().filter(IpAddr::is_ipv6)
    } else {
        host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
    };
    match ip {
        Some(ip) if ip.is_loopback() => Some(ip),
        _ => {
            ctx.push(
                Problem::new(
                    Code::CheckNotLoopback,
                    value_span(entry),
                    format!("`{host}` is not a loopback address"),
                    "not this machine",
                )
                .help(
                    "taskmaster checks only this machine; use 127.0.0.1 (or [::1], or \
                     localhost)",
                ),
            );
            None
        }
    }
}

fn http(ctx: &mut Ctx, entry: &KdlEntry, url: &str) -> Option<HttpTarget> {
    const HELP: &str =
        "write it as http://HOST:PORT/PATH, e.g. http \"http://127.0.0.1:8080/healthz\"";
    let bad = |ctx: &mut Ctx, what: String, help: &str| {
        ctx.push(bad_address(entry, what, help));
        None
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad(ctx, "the URL contains whitespace".into(), HELP);
    }
    let Some(rest) = url
        .get(..7)
        .filter(|s| s.eq_ignore_ascii_case("http://"))
        .map(|_| &url[7..])
    else {
        let help = if url
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
        {
            "checks speak plain HTTP to this machine; TLS adds nothing on loopback: use http://"
        } else {
            HELP
        };
        return bad(ctx, format!("`{url}` is not an http:// URL"), help);
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let tail = tail.split('#').next().unwrap_or("");
    let path = if tail.is_empty() {
        "/".to_owned()
    } else if tail.starts_with('?') {
        format!("/{tail}")
    } else {
        tail.to_owned()
    };
    if authority.contains('@') {
        return bad(ctx, "the URL has a user name".into(), HELP);
    }
    let Some((host, port)) = authority
        .rsplit_once(':')
        .filter(|(h, _)| !h.is_empty() && (!h.starts_with('[') || h.ends_with(']')))
    else {
        return bad(ctx, format!("`{url}` has no port"), HELP);
    };
    let port = match port.parse::<u16>() {
        Ok(p) if p > 0 => p,
        _ => return bad(ctx, format!("`{port}` is not a port (1..=65535)"), HELP),
    };
    let ip = loopback(ctx, entry, host)?;
    Some(HttpTarget {
        url: url.to_owned(),
        addr: SocketAddr::new(ip, port),
        host: authority.to_owned(),
        path,
    })
}

fn exec(ctx: &mut Ctx, args: &[&KdlEntry], ex: &str) -> Option<Vec<String>> {
    let words: Vec<Option<&str>> = args
        .iter()
        .map(|e| fields::string(ctx, e, "exec", ex))
        .collect();
    let words: Vec<&str> = words.into_iter().collect::<Option<_>>()?;
    let empty = |ctx: &mut Ctx| {
        ctx.push(
            Problem::new(
                Code::EmptyCmd,
                value_span(args[0]),
                "`exec` names no program",
                "empty command",
            )
            .help(format!("write the program and its arguments: {ex}")),
        );
        None
    };
    if words.iter().any(|w| w.contains('\0')) {
        ctx.push(
            Problem::new(
                Code::NulByte,
                value_span(args[0]),
                "`exec` contains a NUL character",
                "NUL",
            )
            .help("remove the NUL character"),
        );
        return None;
    }
    match words.as_slice() {
        [single] => match values::split_cmd(single) {
            Ok(argv) => Some(argv),
            Err(values::CmdError::Empty) => empty(ctx),
            Err(values::CmdError::Unsplittable) => {
                ctx.push(
                    Problem::new(
                        Code::UnbalancedQuotes,
                        value_span(args[0]),
                        "`exec` has unbalanced quotes",
                        "cannot be split into words",
                    )
                    .help("close every quote, or give the arguments separately: exec \"sh\" \"-c\" \"…\""),
                );
                None
            }
        },
        ["", ..] => empty(ctx),
        _ => Some(words.iter().map(|w| (*w).to_owned()).collect()),
    }
}

fn log(ctx: &mut Ctx, node: &KdlNode, args: &[&KdlEntry], ex: &str) -> Option<LogPattern> {
    let (pattern, stream) = match args {
        [p] => (*p, None),
        [p, s] => (*p, Some(*s)),
        [_, _, extra, ..] => {
            let last = args.last().map_or(extra.span(), |e| e.span());
            ctx.push(
                Problem::new(
                    Code::UnexpectedArgument,
                    cover(extra.span(), last),
                    "`log` takes a pattern and, optionally, a stream",
                    "extra value",
                )
                .help("write it as: log \"ready$\" or log \"ready$\" \"stderr\""),
            );
            return None;
        }
        [] => return None,
    };
    let stream = match stream {
        None => Some(LogStream::Stdout),
        Some(entry) => match entry.value().as_string() {
            Some("stdout") => Some(LogStream::Stdout),
            Some("stderr") => Some(LogStream::Stderr),
            Some("both") => Some(LogStream::Both),
            _ => {
                ctx.push(
                    Problem::new(
                        Code::WrongType,
                        value_span(entry),
                        "a `log` check reads \"stdout\", \"stderr\" or \"both\"",
                        "not a stream",
                    )
                    .help("write it as: log \"ready$\" \"stderr\""),
                );
                None
            }
        },
    };
    let text = fields::string(ctx, pattern, node.name().value(), ex)?;
    let regex = match regex::RegexBuilder::new(text)
        .size_limit(MAX_REGEX_SIZE)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            ctx.push(
                Problem::new(
                    Code::InvalidRegex,
                    value_span(pattern),
                    "`log` pattern is not a valid regular expression",
                    regex_error(&e),
                )
                .help(
                    "the syntax is Rust's `regex` crate's (no look-around, no backreferences); \
                     escape `(`, `[`, `.` and `*` with a backslash to match them literally",
                ),
            );
            return None;
        }
    };
    Some(LogPattern {
        regex,
        stream: stream?,
    })
}

/// The one-line cause of a regex error: its message's last line ("unclosed group"), without
/// the copy of the pattern and the caret line above it.
fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    last.trim().trim_start_matches("error: ").to_owned()
}

/// Whether the daemon reads a stream sent to `target` (`stdout` is where `"stdout"` sends
/// stderr): kept in memory or written by the daemon, not handed to the child as a file.
fn passes_through_daemon(target: &OutputTarget, stdout: &OutputTarget) -> bool {
    match target {
        OutputTarget::Memory | OutputTarget::Written(..) => true,
        OutputTarget::SameAsStdout => passes_through_daemon(stdout, &OutputTarget::Memory),
        OutputTarget::File(_) | OutputTarget::Discard => false,
    }
}

/// The checks that need the whole program: the deadline against `starttime` (in any order
/// in the file), and a `log` check on a stream the daemon does not see.
pub(crate) fn after_program(ctx: &mut Ctx, node: &KdlNode, spec: &ProgramSpec) {
    let blocks = node.children().map_or(&[][..], |c| c.nodes());
    let Some(readiness) = blocks.iter().find(|n| n.name().value() == "readiness") else {
        return;
    };
    let Some(check) = &spec.readiness else {
        return;
    };
    let child = |name: &str| {
        readiness
            .children()
            .and_then(|c| c.nodes().iter().find(|n| n.name().value() == name))
    };
    if check.deadline < spec.starttime {
        let span = child("deadline")
            .and_then(|n| arguments(n).next().map(value_span))
            .unwrap_or_else(|| name_span(readiness));
        ctx.push(
            Problem::new(
                Code::DeadlineBeforeStarttime,
                span,
                format!(
                    "readiness `deadline` ({}) is shorter than `starttime` ({})",
                    format_duration(check.deadline),
                    format_duration(spec.starttime)
                ),
                "the process could never be RUNNING",
            )
            .help(format!(
                "a process is RUNNING once ready and `starttime` elapsed: make the deadline \
                 at least deadline \"{}\", or lower starttime",
                format_duration(spec.starttime)
            )),
        );
    }
    if let Probe::Log(p) = &check.probe {
        let unseen: Vec<&str> = [("stdout", &spec.stdout), ("stderr", &spec.stderr)]
            .into_iter()
            .filter(|(name, target)| {
                let read = match p.stream {
                    LogStream::Stdout => *name == "stdout",
                    LogStream::Stderr => *name == "stderr",
                    LogStream::Both => true,
                };
                read && !passes_through_daemon(target, &spec.stdout)
            })
            .map(|(name, _)| name)
            .collect();
        if let Some(first) = unseen.first() {
            let span = child("log").map_or_else(|| name_span(readiness), name_span);
            ctx.push(
                Problem::new(
                    Code::LogCheckNotCaptured,
                    span,
                    format!("a `log` check reads {first}, which the daemon does not keep"),
                    "sent to a file or discarded",
                )
                .help(format!(
                    "keep {first} in memory (remove the `{first}` setting), or check with \
                     tcp, http or exec instead"
                )),
            );
        }
    }
}
