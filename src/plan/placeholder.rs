//! The per-process placeholders of `cmd`, `workingdir`, `stdout`, `stderr` and `env` values:
//! `{process_num}`, `{process_num+K}`, `{program}` and `{process}` (the contract's "Process
//! identity").
//!
//! The plan keeps every value as written; a process's values are expanded when it is spawned
//! ([`expand_spec`]), which is a few string copies and no I/O. `diff` compares the expansions
//! ([`same_per_process`]), so a config whose expanded values are unchanged is unchanged even
//! when its text changed (`--port 8000` → `--port {process_num+8000}` with numprocs 1).
//!
//! Any other text in braces is left as written, and so is `${…}` (a shell's parameter
//! expansion inside `sh -c "…"`). Text in braces that is a near miss of a placeholder
//! (`{proces_num}`, `{PROGRAM}`, `{process_num+x}`) is reported by [`near_misses`] for the
//! `unknown_placeholder` warning.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;

use super::model::{OutputTarget, ProgramSpec, process_name};

/// Whose values are being expanded: one process of one program.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    pub program: &'a str,
    pub process: &'a str,
    pub num: u32,
}

/// The placeholder names, for did-you-mean.
const NAMES: &[&str] = &["process_num", "program", "process"];

/// One `{…}` found in a value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Brace {
    /// `{process_num}` (0) or `{process_num+K}`.
    Num(u64),
    Program,
    Process,
    /// Not a placeholder: left as written. `near` is the placeholder it looks like a
    /// misspelling of, if any.
    Other {
        near: Option<&'static str>,
    },
}

/// Every `{…}` of `text` (innermost braces, not after `$`), with its byte range.
fn braces(text: &str) -> impl Iterator<Item = (Range<usize>, Brace)> + '_ {
    let bytes = text.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        loop {
            let open = at + text.get(at..)?.find('{')?;
            let rest = &text[open + 1..];
            let close = open + 1 + rest.find('}')?;
            let inner = &text[open + 1..close];
            if let Some(nested) = inner.rfind('{') {
                // `{{process}}`, `{a{b}`: the innermost brace pair is the candidate.
                at = open + 1 + nested;
                continue;
            }
            at = close + 1;
            if open > 0 && bytes[open - 1] == b'$' {
                continue;
            }
            return Some((open..close + 1, classify(inner)));
        }
    })
}

fn classify(inner: &str) -> Brace {
    match inner {
        "process_num" => return Brace::Num(0),
        "program" => return Brace::Program,
        "process" => return Brace::Process,
        _ => {}
    }
    if let Some(k) = inner.strip_prefix("process_num+") {
        // At most 9 digits: K + a u32 never overflows and ports are small anyway.
        if !k.is_empty() && k.len() <= 9 && k.bytes().all(|b| b.is_ascii_digit()) {
            return Brace::Num(k.parse().unwrap_or(0));
        }
        return Brace::Other {
            near: Some("process_num+K"),
        };
    }
    let head = inner.split('+').next().unwrap_or(inner);
    let near = if head.len() >= 4 {
        super::validate::closest(head, NAMES).map(|n| {
            if inner.contains('+') && n == "process_num" {
                "process_num+K"
            } else {
                n
            }
        })
    } else {
        None
    };
    Brace::Other { near }
}

/// Whether `text` holds at least one placeholder.
pub fn has_placeholder(text: &str) -> bool {
    text.contains('{') && braces(text).any(|(_, b)| !matches!(b, Brace::Other { .. }))
}

/// `text` with every placeholder replaced by `who`'s values; borrowed when there is none.
pub fn expand<'t>(text: &'t str, who: &Who<'_>) -> Cow<'t, str> {
    if !text.contains('{') {
        return Cow::Borrowed(text);
    }
    let mut out = String::new();
    let mut copied = 0;
    for (range, brace) in braces(text) {
        let value: Cow<str> = match brace {
            Brace::Num(k) => Cow::Owned((u64::from(who.num) + k).to_string()),
            Brace::Program => Cow::Borrowed(who.program),
            Brace::Process => Cow::Borrowed(who.process),
            Brace::Other { .. } => continue,
        };
        out.push_str(&text[copied..range.start]);
        out.push_str(&value);
        copied = range.end;
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// The near misses of `text`: each brace's byte range and the placeholder it looks like.
pub fn near_misses(text: &str) -> Vec<(Range<usize>, &'static str)> {
    braces(text)
        .filter_map(|(range, brace)| match brace {
            Brace::Other { near: Some(n) } => Some((range, n)),
            _ => None,
        })
        .collect()
}

fn expand_path(path: &std::path::Path, who: &Who<'_>) -> Option<PathBuf> {
    let text = path.to_str()?;
    match expand(text, who) {
        Cow::Borrowed(_) => None,
        Cow::Owned(s) => Some(PathBuf::from(s)),
    }
}

/// A file target with its path expanded; `None` when it is not a file or has nothing to
/// expand.
pub fn expand_output(target: &OutputTarget, who: &Who<'_>) -> Option<OutputTarget> {
    match target {
        OutputTarget::File(path) => expand_path(path, who).map(OutputTarget::File),
        OutputTarget::Written(path, options) => {
            expand_path(path, who).map(|p| OutputTarget::Written(p, *options))
        }
        _ => None,
    }
}

/// `spec` as process `who` is spawned with it: every placeholder expanded. Borrowed (no
/// copy) when the program uses none.
pub fn expand_spec<'s>(spec: &'s ProgramSpec, who: &Who<'_>) -> Cow<'s, ProgramSpec> {
    let cmd: Vec<Cow<str>> = spec.cmd.iter().map(|a| expand(a, who)).collect();
    let workingdir = spec.workingdir.as_deref().and_then(|d| expand_path(d, who));
    let stdout = expand_output(&spec.stdout, who);
    let stderr = expand_output(&spec.stderr, who);
    let env: BTreeMap<&String, Cow<str>> =
        spec.env.iter().map(|(k, v)| (k, expand(v, who))).collect();
    let changed = cmd.iter().any(|a| matches!(a, Cow::Owned(_)))
        || workingdir.is_some()
        || stdout.is_some()
        || stderr.is_some()
        || env.values().any(|v| matches!(v, Cow::Owned(_)));
    if !changed {
        return Cow::Borrowed(spec);
    }
    let mut owned = spec.clone();
    owned.cmd = cmd.into_iter().map(Cow::into_owned).collect();
    if workingdir.is_some() {
        owned.workingdir = workingdir;
    }
    if let Some(out) = stdout {
        owned.stdout = out;
    }
    if let Some(err) = stderr {
        owned.stderr = err;
    }
    owned.env = env
        .into_iter()
        .map(|(k, v)| (k.clone(), v.into_owned()))
        .collect();
    Cow::Owned(owned)
}

/// Whether `field` of `a` and of `b` expands alike for every process both run (the first
/// `min(numprocs)` of them: the others are started or stopped by the scale anyway).
/// Plain equality when neither uses a placeholder.
pub fn same_per_process<V: PartialEq>(
    a: &ProgramSpec,
    b: &ProgramSpec,
    field: impl Fn(&ProgramSpec) -> V,
) -> bool {
    if field(a) == field(b) {
        let plain = |s: &ProgramSpec| !uses_placeholders(s);
        if plain(a) && plain(b) {
            return true;
        }
    }
    (0..a.numprocs.min(b.numprocs)).all(|num| {
        let name_a = process_name(&a.name, a.numprocs, num);
        let name_b = process_name(&b.name, b.numprocs, num);
        let who = |spec: &ProgramSpec, process: &str| {
            let who = Who {
                program: &spec.name,
                process,
                num,
            };
            field(&expand_spec(spec, &who))
        };
        who(a, &name_a) == who(b, &name_b)
    })
}

/// Whether any value of `spec` that takes placeholders holds one.
pub fn uses_placeholders(spec: &ProgramSpec) -> bool {
    let path = |p: &std::path::Path| p.to_str().is_some_and(has_placeholder);
    let output = |o: &OutputTarget| o.path().is_some_and(path);
    spec.cmd.iter().any(|a| has_placeholder(a))
        || spec.workingdir.as_deref().is_some_and(path)
        || output(&spec.stdout)
        || output(&spec.stderr)
        || spec.env.values().any(|v| has_placeholder(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHO: Who<'static> = Who {
        program: "web",
        process: "web:2",
        num: 2,
    };

    #[test]
    fn placeholders_expand_and_other_braces_stay() {
        assert_eq!(expand("--port {process_num+8000}", &WHO), "--port 8002");
        assert_eq!(
            expand("{program}/{process}-{process_num}.log", &WHO),
            "web/web:2-2.log"
        );
        assert_eq!(
            expand("{\"a\": 1} {x} ${process}", &WHO),
            "{\"a\": 1} {x} ${process}"
        );
        assert_eq!(expand("{{process_num}}", &WHO), "{2}");
        assert_eq!(expand("{process_num", &WHO), "{process_num");
        assert!(matches!(expand("plain", &WHO), Cow::Borrowed(_)));
        assert!(matches!(expand("{other}", &WHO), Cow::Borrowed(_)));
        assert_eq!(expand("{process_num+999999999}", &WHO), "1000000001");
    }

    #[test]
    fn near_misses_name_what_they_resemble() {
        let near = |t: &str| {
            near_misses(t)
                .into_iter()
                .map(|(_, n)| n)
                .collect::<Vec<_>>()
        };
        assert_eq!(near("{proces_num}"), ["process_num"]);
        assert_eq!(near("{PROGRAM} {prgram}"), ["program", "program"]);
        assert_eq!(
            near("{process_num+x} {process_num-1}"),
            ["process_num+K", "process_num"]
        );
        assert_eq!(near("{proces_num+3}"), ["process_num+K"]);
        assert!(near("{x} {name} {\"a\":1} {} ${proces}").is_empty());
        assert_eq!(near_misses("ab {procss}")[0].0, 3..11);
    }

    #[test]
    fn specs_expand_per_process_and_compare_by_expansion() {
        let mut a = ProgramSpec::with_defaults("web", vec!["srv".into(), "--port 8000".into()]);
        let mut b = a.clone();
        b.cmd[1] = "--port {process_num+8000}".into();
        assert!(same_per_process(&a, &b, |s| s.cmd.clone()));
        a.numprocs = 2;
        b.numprocs = 2;
        assert!(!same_per_process(&a, &b, |s| s.cmd.clone()));
        b.stdout = OutputTarget::File("/log/{process}.out".into());
        let who = Who {
            program: "web",
            process: "web:1",
            num: 1,
        };
        let spec = expand_spec(&b, &who);
        assert_eq!(spec.cmd[1], "--port 8001");
        assert_eq!(spec.stdout, OutputTarget::File("/log/web:1.out".into()));
        assert!(matches!(expand_spec(&a, &who), Cow::Borrowed(_)));
    }
}
