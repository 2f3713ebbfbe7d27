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
pub enum Value {
    Str(String),
    Int(i64),
}

impl Value {
    fn as_string(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Int(n) => n.to_string(),
        }
    }
}

/// What the names mean in one section.
#[derive(Debug, Default, Clone)]
pub struct Vars {
    /// Expanded silently.
    pub fixed: BTreeMap<String, Value>,
    /// Expanded with a warning saying why the value is only approximately right.
    pub frozen: BTreeMap<String, (Value, String)>,
    /// `[supervisord] environment=`: where `%(ENV_X)s` looks before the importer's own
    /// environment.
    pub env: BTreeMap<String, String>,
}

impl Vars {
    pub fn fixed(&mut self, name: &str, value: Value) {
        self.fixed.insert(name.to_owned(), value);
    }

    pub fn frozen(&mut self, name: &str, value: Value, why: impl Into<String>) {
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
pub fn expand(text: &str, vars: &Vars) -> (String, Vec<String>) {
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

/// Where `text` has a `%` that is neither `%%` nor a `%(name)s` reference, which Python's
/// `%` formatting (and so supervisord) refuses: the byte offset of the first one.
pub fn lone_percent(text: &str) -> Option<usize> {
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
