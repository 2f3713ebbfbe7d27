//! supervisord's `%(name)s` expansions, resolved at import time.
//!
//! A taskmaster config has no expansions, so each one is replaced by its value now: the
//! static ones (`here`, `program_name`, `group_name`, `numprocs`, and `process_num` /
//! `process_name` for a single process) silently, the others with a warning that says what
//! was frozen (`ENV_X` from the importer's environment, `host_node_name` from this host,
//! `process_num` of a multi-process program as its first process's number). `ENV_X` is
//! first looked up in `[supervisord] environment=`, which supervisord adds to its own
//! environment before it reads the programs, and is then exact (no warning).
//! Python's format specs after the name (`%(process_num)02d`) are honoured; `%%` is `%`.

use std::collections::BTreeMap;

/// A value an expansion can take.
#[derive(Debug, Clone)]
pub(super) enum Value {
    Str(String),
    Int(i64),
    /// A taskmaster placeholder (`{process}`), written as it is: taskmaster expands it
    /// per process. Format specs cannot apply to it.
    Placeholder(String),
    /// `process_num` of a program of several processes, numbered `start` to `last`:
    /// written as `{process_num+K}` (see [`process_num`]).
    ProcessNum {
        start: i64,
        last: i64,
    },
}

impl Value {
    fn as_string(&self) -> String {
        match self {
            Value::Str(s) | Value::Placeholder(s) => s.clone(),
            Value::Int(n) => n.to_string(),
            Value::ProcessNum { start, .. } => placeholder_num(*start),
        }
    }
}

/// What the names mean in one section.
#[derive(Debug, Default, Clone)]
pub(super) struct Vars {
    /// Expanded silently.
    pub fixed: BTreeMap<String, Value>,
    /// Expanded with a warning saying why the value is only approximately right.
    pub frozen: BTreeMap<String, (Value, String)>,
    /// `[supervisord] environment=`: where `%(ENV_X)s` looks before the importer's own
    /// environment.
    pub env: BTreeMap<String, String>,
}

impl Vars {
    pub(super) fn fixed(&mut self, name: &str, value: Value) {
        self.fixed.insert(name.to_owned(), value);
    }

    pub(super) fn frozen(&mut self, name: &str, value: Value, why: impl Into<String>) {
        self.frozen.insert(name.to_owned(), (value, why.into()));
    }

    fn lookup(&self, name: &str, warnings: &mut Vec<String>) -> Option<Value> {
        if let Some(value) = self.fixed.get(name) {
            return Some(value.clone());
        }
        if let Some((value, why)) = self.frozen.get(name) {
            warnings.push(format!("%({name}) {why}"));
            return Some(value.clone());
        }
        if let Some(var) = name.strip_prefix("ENV_") {
            if let Some(value) = self.env.get(var) {
                return Some(Value::Str(value.clone()));
            }
            return Some(match std::env::var(var) {
                Ok(value) => {
                    warnings.push(format!(
                        "%({name}) was replaced by ${var} as `taskmaster import` sees it; \
                         set the value you want in the program's `env` or path"
                    ));
                    Value::Str(value)
                }
                Err(_) => {
                    warnings.push(format!(
                        "%({name}): ${var} is not set here, so it was replaced by nothing"
                    ));
                    Value::Str(String::new())
                }
            });
        }
        None
    }
}

/// Expands every `%(name)spec` in `text`; warnings say what was frozen or left alone.
pub(super) fn expand(text: &str, vars: &Vars) -> (String, Vec<String>) {
    let mut out = String::with_capacity(text.len());
    let mut warnings = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('%') {
            out.push('%');
            rest = tail;
            continue;
        }
        let Some((name, spec, tail)) = split_reference(after) else {
            // A lone `%`: Python would reject it; keep it as written.
            out.push('%');
            rest = after;
            continue;
        };
        match vars.lookup(name, &mut warnings) {
            Some(Value::ProcessNum { start, last }) => {
                out = process_num(out, spec, start, last, &mut warnings);
            }
            Some(Value::Placeholder(p)) => {
                if spec.len() > 1 {
                    warnings.push(format!(
                        "%({name}){spec} was written as {p}, without the padding: \
                         taskmaster's placeholders are not formatted"
                    ));
                }
                out.push_str(&p);
            }
            Some(value) => out.push_str(&format_value(&value, spec)),
            None => {
                warnings.push(format!(
                    "%({name}) is not known at import time and was kept as written"
                ));
                out.push_str(&rest[at..rest.len() - tail.len()]);
            }
        }
        rest = tail;
    }
    out.push_str(rest);
    warnings.dedup();
    (out, warnings)
}

fn placeholder_num(k: i64) -> String {
    if k == 0 {
        "{process_num}".to_owned()
    } else {
        format!("{{process_num+{k}}}")
    }
}

/// Appends `%(process_num)SPEC` to `out` as a placeholder. A zero-padded number right after
/// digits (`80%(process_num)02d`: 8000, 8001, …) is an addition, exact while every number
/// fits the width: the digits are folded into `{process_num+8000}`. Other padding is dropped
/// with a warning (`w-%(process_num)02d.log` becomes `w-{process_num}.log`: `w-1.log`).
fn process_num(
    mut out: String,
    spec: &str,
    start: i64,
    last: i64,
    warnings: &mut Vec<String>,
) -> String {
    let plain = spec.len() == 1;
    let width = spec
        .strip_prefix('0')
        .and_then(|w| w.strip_suffix(['d', 'i', 'u']))
        .and_then(|w| w.parse::<u32>().ok());
    let digits = out.len() - out.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if let Some(width) = width
        && digits > 0
        && width <= 9
        && last < 10_i64.pow(width)
        && let Ok(prefix) = out[out.len() - digits..].parse::<i64>()
        && let Some(base) = prefix
            .checked_mul(10_i64.pow(width))
            .and_then(|b| b.checked_add(start))
    {
        out.truncate(out.len() - digits);
        out.push_str(&placeholder_num(base));
        return out;
    }
    let p = placeholder_num(start);
    if !plain {
        warnings.push(format!(
            "%(process_num){spec} was written as {p}, without the padding: \
             taskmaster's placeholders are not formatted"
        ));
    }
    out.push_str(&p);
    out
}

/// Where `text` has a `%` that is neither `%%` nor a `%(name)s` reference, which Python's
/// `%` formatting (and so supervisord) refuses: the byte offset of the first one.
pub(super) fn lone_percent(text: &str) -> Option<usize> {
    let mut offset = 0;
    while let Some(at) = text[offset..].find('%') {
        let start = offset + at;
        let after = &text[start + 1..];
        if after.starts_with('%') {
            offset = start + 2;
            continue;
        }
        match split_reference(after) {
            Some((_, _, tail)) => offset = text.len() - tail.len(),
            None => return Some(start),
        }
    }
    None
}

/// `(name)02d…` → (`name`, `02d`, rest), or `None` when it is no reference.
fn split_reference(after: &str) -> Option<(&str, &str, &str)> {
    let inner = after.strip_prefix('(')?;
    let close = inner.find(')')?;
    let name = &inner[..close];
    let spec_start = &inner[close + 1..];
    let conversion =
        spec_start.find(|c: char| !matches!(c, '-' | '#' | '0'..='9' | ' ' | '+' | '.'))?;
    let end = conversion + spec_start[conversion..].chars().next()?.len_utf8();
    let spec = &spec_start[..end];
    if !spec.ends_with(['s', 'd', 'i', 'u', 'r']) {
        return None;
    }
    Some((name, spec, &spec_start[end..]))
}

/// Python's `%` formatting for the flags taskmaster configs use: `-`, `0` and a width.
fn format_value(value: &Value, spec: &str) -> String {
    let conversion = spec.chars().last().unwrap_or('s');
    let flags: String = spec
        .chars()
        .take_while(|c| matches!(c, '-' | '#' | '0' | ' ' | '+'))
        .collect();
    let width: usize = spec[flags.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0);
    let left = flags.contains('-');
    let text = value.as_string();
    let numeric = conversion != 's' && conversion != 'r' && matches!(value, Value::Int(_));
    if left {
        format!("{text:<width$}")
    } else if numeric && flags.contains('0') {
        match value {
            Value::Int(n) if *n < 0 => {
                format!("-{:0>w$}", n.unsigned_abs(), w = width.saturating_sub(1))
            }
            _ => format!("{text:0>width$}"),
        }
    } else {
        format!("{text:>width$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        let mut v = Vars::default();
        v.fixed("program_name", Value::Str("web".into()));
        v.fixed("here", Value::Str("/etc/sv".into()));
        v.frozen("process_num", Value::Int(0), "differs per process");
        v
    }

    #[test]
    fn static_names_expand_silently() {
        let (text, warnings) = expand("%(here)s/%(program_name)s.log 100%%", &vars());
        assert_eq!(text, "/etc/sv/web.log 100%");
        assert!(warnings.is_empty());
    }

    #[test]
    fn format_specs_are_honoured() {
        let (text, warnings) = expand("port 80%(process_num)02d;%(program_name)-5s|", &vars());
        assert_eq!(text, "port 8000;web  |");
        assert_eq!(warnings, ["%(process_num) differs per process"]);
    }

    #[test]
    fn process_num_becomes_a_placeholder() {
        let mut v = vars();
        v.fixed("process_num", Value::ProcessNum { start: 0, last: 2 });
        let (text, warnings) = expand("w-%(process_num)d.log", &v);
        assert_eq!(text, "w-{process_num}.log");
        assert!(warnings.is_empty());
        let (text, warnings) = expand("w-%(process_num)02d.log", &v);
        assert_eq!(text, "w-{process_num}.log");
        assert!(warnings[0].contains("without the padding"), "{warnings:?}");
        // 8000, 8001, 8002: exact.
        let (text, warnings) = expand("--port 80%(process_num)02d", &v);
        assert_eq!(text, "--port {process_num+8000}");
        assert!(warnings.is_empty());
        v.fixed("process_num", Value::ProcessNum { start: 5, last: 7 });
        let (text, _) = expand("%(process_num)s 9%(process_num)03d", &v);
        assert_eq!(text, "{process_num+5} {process_num+9005}");
        // 100 does not fit two digits: padding is not an addition then.
        v.fixed(
            "process_num",
            Value::ProcessNum {
                start: 0,
                last: 100,
            },
        );
        let (text, warnings) = expand("80%(process_num)02d", &v);
        assert_eq!(text, "80{process_num}");
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn unknown_names_stay_and_warn() {
        let (text, warnings) = expand("a %(nope)s b % c", &vars());
        assert_eq!(text, "a %(nope)s b % c");
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("nope"));
    }

    #[test]
    fn a_lone_percent_is_found() {
        assert_eq!(lone_percent("%HOME%"), Some(0));
        assert_eq!(lone_percent("/srv/%(program_name)s 100%% x%"), Some(29));
        assert_eq!(lone_percent("/srv/%(program_name)s 100%%"), None);
        assert_eq!(lone_percent("%(here"), Some(0));
        assert_eq!(lone_percent("plain"), None);
    }

    #[test]
    fn supervisord_environment_comes_before_the_shell() {
        let mut v = vars();
        v.env.insert("PATH".into(), "/from/the/file".into());
        let (text, warnings) = expand("%(ENV_PATH)s/bin", &v);
        assert_eq!(text, "/from/the/file/bin");
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn environment_is_frozen_with_a_warning() {
        // PATH is set in any environment the tests run in.
        let path = std::env::var("PATH").unwrap();
        let (text, warnings) = expand("%(ENV_PATH)s", &vars());
        assert_eq!(text, path);
        assert_eq!(warnings.len(), 1);
        let (text, warnings) = expand("x%(ENV_TASKMASTER_SURELY_UNSET_42)sy", &vars());
        assert_eq!(text, "xy");
        assert!(warnings[0].contains("not set"));
    }
}
