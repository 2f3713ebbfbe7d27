//! One `[program:x]` section as a `program "x" { … }` node.
//!
//! Every key with a taskmaster counterpart is converted (values checked, so the output
//! compiles); every other key becomes a warning. Settings are written in the order the
//! contract lists them, warnings after them in file order.

use std::collections::BTreeMap;

use super::expand::{self, Value, Vars};
use super::ini::{Entry, Section};
use super::kdl_out;
use super::{Warning, parse_bool};
use crate::plan::directive::{Directive, PROGRAM};
use crate::plan::model::{LogOptions, format_size};
use crate::plan::validate::logs::size_text;
use crate::plan::validate::{self, PathFlaw, values};

/// What a `[program:x]` section becomes.
pub(super) struct Program {
    pub name: String,
    /// `key value` lines, without indentation.
    pub settings: Vec<String>,
    pub warnings: Vec<Warning>,
    /// No `command`: the program cannot be imported.
    pub skipped: bool,
}

/// Context shared by every program: the file's folder, the host, `[supervisord]`'s
/// environment, and which `[group:x]` lists each program.
pub(super) struct Shared<'a> {
    pub here: &'a str,
    pub hostname: &'a str,
    pub global_env: &'a BTreeMap<String, String>,
    pub groups: &'a BTreeMap<String, String>,
    /// The name of every `[program:x]` section, for `dependent_startup_wait_for`.
    pub programs: &'a std::collections::BTreeSet<String>,
}

pub(super) fn convert(section: &Section, raw_name: &str, shared: &Shared<'_>) -> Program {
    let mut warnings = Vec::new();
    let name = program_name(raw_name, section.line, &mut warnings);
    let numprocs_entry = section.get("numprocs");
    let numprocs: u32 = numprocs_entry
        .and_then(|e| valid_numprocs(e.value.trim()))
        .unwrap_or(1);
    let start: i64 = section
        .get("numprocs_start")
        .and_then(|e| e.value.trim().parse().ok())
        .unwrap_or(0);
    let vars = program_vars(raw_name, numprocs, start, shared);
    let mut out = Converter {
        section,
        global_env: shared.global_env,
        vars,
        warnings,
        fields: BTreeMap::new(),
        log_paths: BTreeMap::new(),
        programs: shared.programs,
    };
    out.convert_all(numprocs);
    let skipped = !out.fields.contains_key("cmd");
    if skipped {
        out.warnings.insert(
            0,
            Warning::at(
                section.line,
                format!(
                    "[{}] has no usable `command`; the program was not imported",
                    section.name
                ),
            ),
        );
    }
    // The contract's order, which is the directive table's.
    let settings = Directive::names(PROGRAM)
        .filter_map(|field| out.fields.remove(field))
        .collect();
    Program {
        name,
        settings,
        warnings: out.warnings,
        skipped,
    }
}

/// A `numprocs` taskmaster accepts: the compiler's own bounds.
fn valid_numprocs(text: &str) -> Option<u32> {
    text.parse::<u32>()
        .ok()
        .filter(|n| values::NUMPROCS.contains(&i128::from(*n)))
}

/// Seconds as a `starttime`/`stoptime` value, clamped to the compiler's maximum (a longer
/// wait means "practically never" to supervisord too); `None` when not a whole number.
fn seconds(text: &str) -> Option<(u64, bool)> {
    let n = text.parse::<u64>().ok()?;
    // Only a too-long duration is refused for a non-negative whole number.
    match values::seconds(n as f64) {
        Ok(_) => Some((n, false)),
        Err(_) => Some((values::MAX_DURATION.as_secs(), true)),
    }
}

/// A valid taskmaster program name for a supervisord one.
fn program_name(raw: &str, line: usize, warnings: &mut Vec<Warning>) -> String {
    if validate::name_flaw(raw).is_none() {
        return raw.to_owned();
    }
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c == ':' || c == '/' || c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if name.is_empty() || name == "all" {
        name = format!("{name}_program");
    }
    if validate::name_flaw(&name).is_some() {
        // The compiler's rules grew past the replacements above: fall back to a plain name.
        name = format!("program_{line}");
    }
    if name != raw {
        warnings.push(Warning::at(
            line,
            format!("program `{raw}` is named `{name}`: taskmaster program names cannot be `all` or contain `:`, `/` or spaces"),
        ));
    }
    name
}

fn program_vars(raw_name: &str, numprocs: u32, start: i64, shared: &Shared<'_>) -> Vars {
    let mut vars = Vars {
        env: shared.global_env.clone(),
        ..Vars::default()
    };
    vars.fixed("here", Value::Str(shared.here.to_owned()));
    vars.fixed("program_name", Value::Str(raw_name.to_owned()));
    let group = shared.groups.get(raw_name).map_or(raw_name, String::as_str);
    vars.fixed("group_name", Value::Str(group.to_owned()));
    vars.fixed("numprocs", Value::Int(i64::from(numprocs)));
    if numprocs == 1 {
        vars.fixed("process_num", Value::Int(start));
        vars.fixed("process_name", Value::Str(raw_name.to_owned()));
    } else if start >= 0 {
        // Per process in taskmaster too: a placeholder, the same numbers as supervisord's.
        let last = start + i64::from(numprocs) - 1;
        vars.fixed("process_num", Value::ProcessNum { start, last });
        vars.frozen(
            "process_name",
            Value::Placeholder("{process}".to_owned()),
            "was written as {process}: the process's taskmaster name (NAME:0 … NAME:N-1)",
        );
    } else {
        vars.frozen(
            "process_num",
            Value::Int(start),
            format!("differs per process; every process gets the first one's ({start})"),
        );
        vars.frozen(
            "process_name",
            Value::Str(format!("{raw_name}:0")),
            "differs per process; every process gets the first one's",
        );
    }
    vars.frozen(
        "host_node_name",
        Value::Str(shared.hostname.to_owned()),
        format!("was replaced by this host's name ({})", shared.hostname),
    );
    vars
}

struct Converter<'a> {
    section: &'a Section,
    global_env: &'a BTreeMap<String, String>,
    vars: Vars,
    warnings: Vec<Warning>,
    /// Converted settings by field name.
    fields: BTreeMap<&'static str, String>,
    /// The files `stdout_logfile` / `stderr_logfile` name, by field (for their rotation).
    log_paths: BTreeMap<&'static str, String>,
    programs: &'a std::collections::BTreeSet<String>,
}

impl Converter<'_> {
    fn warn(&mut self, entry: &Entry, text: impl AsRef<str>) {
        self.warnings.push(Warning::at(
            entry.line,
            format!(
                "{} = {}: {}",
                entry.key,
                one_line(&entry.value),
                text.as_ref()
            ),
        ));
    }

    /// The entry's value with expansions done (and warned about).
    fn value(&mut self, entry: &Entry) -> String {
        let (value, notes) = expand::expand(&entry.value, &self.vars);
        for note in notes {
            self.warn(entry, note);
        }
        value.trim().to_owned()
    }

    fn set(&mut self, field: &'static str, value: String) {
        // Settings are written in the directive table's order: any other name would be lost.
        debug_assert!(Directive::find(PROGRAM, field).is_some(), "{field}");
        self.fields.insert(field, format!("{field} {value}"));
    }

    fn convert_all(&mut self, numprocs: u32) {
        let section = self.section;
        let mut env = BTreeMap::new();
        for entry in &section.entries {
            self.convert_one(entry, numprocs, &mut env);
        }
        // `[supervisord] environment` reaches every program; the program's own wins.
        let mut merged = self.global_env.clone();
        merged.extend(env);
        if !merged.is_empty() {
            let vars: Vec<String> = merged
                .iter()
                .map(|(k, v)| format!("{} {}", kdl_out::name(k), kdl_out::string(v)))
                .collect();
            self.set("env", format!("{{ {}; }}", vars.join("; ")));
        }
        self.log_rotation("stdout");
        self.log_rotation("stderr");
        self.redirect_stderr();
    }

    fn convert_one(&mut self, entry: &Entry, numprocs: u32, env: &mut BTreeMap<String, String>) {
        match entry.key.as_str() {
            "command" => {
                let value = self.value(entry);
                let command = value.split_whitespace().collect::<Vec<_>>().join(" ");
                match values::split_cmd(&command) {
                    _ if command.contains('\0') => {
                        self.warn(entry, "contains a NUL character; not converted");
                    }
                    Ok(_) => self.set("cmd", kdl_out::string(&command)),
                    Err(values::CmdError::Empty) => self.warn(entry, "names no program"),
                    Err(values::CmdError::Unsplittable) => {
                        self.warn(entry, "cannot be split into words (unbalanced quotes?)");
                    }
                }
            }
            "numprocs" => match valid_numprocs(&self.value(entry)) {
                Some(n) => self.set("numprocs", n.to_string()),
                None => self.warn(
                    entry,
                    format!(
                        "not a whole number from {} to {}; left at 1",
                        values::NUMPROCS.start(),
                        values::NUMPROCS.end()
                    ),
                ),
            },
            "numprocs_start" => {
                if self.value(entry) != "0" {
                    self.warn(entry, "taskmaster numbers processes from 0");
                }
            }
            "process_name" => {
                let plain = entry.value.trim();
                let default = plain == "%(program_name)s"
                    || (numprocs > 1 && plain == "%(program_name)s_%(process_num)02d");
                if !default {
                    self.warn(
                        entry,
                        "no counterpart: taskmaster names processes NAME, or NAME:0 … NAME:N-1",
                    );
                }
            }
            "directory" => {
                let value = self.value(entry);
                match validate::path_flaw(&value) {
                    None => self.set("workingdir", kdl_out::string(&value)),
                    Some(flaw) => self.warn(entry, format!("{}; not converted", path_flaw(flaw))),
                }
            }
            "umask" => {
                let value = self.value(entry);
                match values::umask_text(&value) {
                    Ok(mask) => self.set("umask", format!("0o{mask:03o}")),
                    _ => self.warn(entry, "not an octal umask such as 022; not converted"),
                }
            }
            "autostart" => match parse_bool(&self.value(entry)) {
                Some(b) => self.set("autostart", format!("#{b}")),
                None => self.warn(entry, "not a boolean; not converted"),
            },
            "autorestart" => {
                let value = self.value(entry).to_lowercase();
                match (value.as_str(), parse_bool(&value)) {
                    ("unexpected", _) => self.set("autorestart", "\"unexpected\"".into()),
                    (_, Some(b)) => self.set("autorestart", format!("#{b}")),
                    _ => self.warn(entry, "not true, false or unexpected; not converted"),
                }
            }
            "exitcodes" => {
                let value = self.value(entry);
                let codes: Option<Vec<u8>> = value
                    .split(',')
                    .map(|c| c.trim().parse::<u8>().ok())
                    .collect();
                match codes {
                    Some(codes) if !codes.is_empty() => {
                        let codes: Vec<String> = codes.iter().map(u8::to_string).collect();
                        self.set("exitcodes", codes.join(" "));
                    }
                    _ => self.warn(entry, "not a list of exit codes (0-255); not converted"),
                }
            }
            "startretries" => match self.value(entry).parse::<u32>() {
                Ok(n) => self.set("startretries", n.to_string()),
                Err(_) => self.warn(entry, "not a whole number; not converted"),
            },
            "startsecs" => self.duration(entry, "starttime"),
            "stopwaitsecs" => self.duration(entry, "stoptime"),
            "stopsignal" => {
                let value = self.value(entry);
                match signal(&value) {
                    Some(sig) => self.set("stopsignal", sig),
                    None => self.warn(entry, "not a signal name or number; not converted"),
                }
            }
            "stopasgroup" | "killasgroup" => {
                if parse_bool(&self.value(entry)) != Some(true) {
                    self.warn(entry, "taskmaster always signals the whole process group");
                }
            }
            "stdout_logfile" => self.logfile(entry, "stdout"),
            "stderr_logfile" => self.logfile(entry, "stderr"),
            "redirect_stderr" => {} // after stdout is known: see redirect_stderr()
            // After the file is known: see log_rotation().
            "stdout_logfile_maxbytes"
            | "stdout_logfile_backups"
            | "stderr_logfile_maxbytes"
            | "stderr_logfile_backups" => {}
            "environment" => {
                let value = self.value(entry);
                match parse_environment(&value) {
                    Ok(pairs) => env.extend(pairs),
                    Err(why) => self.warn(entry, format!("{why}; not converted")),
                }
            }
            "priority" => self.warn(
                entry,
                "no counterpart: priority orders starts without waiting for anything; to start \
                 this program once another is up, write depends-on \"OTHER\"",
            ),
            // supervisord-dependent-startup: `dependent_startup` switches it on for the
            // program; its `wait_for` is what becomes `depends-on`.
            "dependent_startup" => {}
            "dependent_startup_wait_for" => self.wait_for(entry),
            "user" => {
                let value = self.value(entry);
                if value.is_empty() || value.contains('\0') {
                    self.warn(entry, "not a user name or uid; not converted");
                } else {
                    self.set("user", kdl_out::string(&value));
                }
            }
            key if is_log_tuning(key) => self.warn(
                entry,
                "no counterpart: taskmaster has no capture mode, log events or syslog output",
            ),
            _ => self.warn(entry, "no counterpart in taskmaster"),
        }
    }

    /// supervisord-dependent-startup's `dependent_startup_wait_for = db:running migrate:exited`
    /// into `depends-on { db "ready"; migrate "completed" }`.
    fn wait_for(&mut self, entry: &Entry) {
        let value = self.value(entry);
        let mut deps: Vec<String> = Vec::new();
        for item in value.split_whitespace() {
            let (program, state) = item.split_once(':').unwrap_or((item, "running"));
            let condition = match state.to_ascii_lowercase().as_str() {
                "running" => "ready",
                "starting" => "started",
                "exited" => "completed",
                _ => {
                    self.warn(
                        entry,
                        format!(
                            "{item}: taskmaster waits for running (ready), starting (started) \
                             or exited (completed); not converted"
                        ),
                    );
                    continue;
                }
            };
            if !self.programs.contains(program) || validate::name_flaw(program).is_some() {
                self.warn(
                    entry,
                    format!("{item}: no program `{program}` in this file; not converted"),
                );
                continue;
            }
            deps.push(format!("{} \"{condition}\"", kdl_out::name(program)));
        }
        if !deps.is_empty() {
            self.set("depends-on", format!("{{ {}; }}", deps.join("; ")));
        }
    }

    fn duration(&mut self, entry: &Entry, field: &'static str) {
        match seconds(&self.value(entry)) {
            Some((n, clamped)) => {
                if clamped {
                    self.warn(
                        entry,
                        format!("longer than taskmaster's maximum; {field} set to {n} (24h)"),
                    );
                }
                self.set(field, n.to_string());
            }
            None => self.warn(entry, "not a whole number of seconds; not converted"),
        }
    }

    fn logfile(&mut self, entry: &Entry, field: &'static str) {
        let value = self.value(entry);
        match value.to_ascii_uppercase().as_str() {
            // AUTO: supervisord keeps it for `tail`; taskmaster keeps it for `logs`.
            "AUTO" => {}
            "NONE" => self.set(field, "\"discard\"".into()),
            "SYSLOG" => self.warn(entry, "taskmaster does not log to syslog; kept in memory"),
            _ if validate::path_flaw(&value).is_some() => {
                let flaw = validate::path_flaw(&value).map_or("", path_flaw);
                self.warn(entry, format!("{flaw}; kept in memory"));
            }
            _ => {
                self.set(field, kdl_out::string(&value));
                self.log_paths.insert(field, value);
            }
        }
    }

    /// `{stream}_logfile_maxbytes` / `_backups`: a file supervisord writes is rotated at
    /// 50MB keeping 10 unless they say otherwise; taskmaster's default is not to rotate, so
    /// the block says it (`maxbytes=0`: no block, the file is handed to the program). A
    /// target that is not a regular file (`/dev/stdout`) is never rotated: supervisord's
    /// attempt to fails there, so no block is written for it.
    fn log_rotation(&mut self, stream: &'static str) {
        let maxbytes = self
            .section
            .get(&format!("{stream}_logfile_maxbytes"))
            .cloned();
        let backups = self
            .section
            .get(&format!("{stream}_logfile_backups"))
            .cloned();
        let Some(path) = self.log_paths.get(stream).cloned() else {
            for entry in maxbytes.iter().chain(&backups) {
                self.warn(
                    entry,
                    "only a file rotates; taskmaster keeps the last `log-buffer` bytes in memory",
                );
            }
            return;
        };
        let mut max: u64 = 50 << 20;
        if let Some(entry) = &maxbytes {
            match size_text(&self.value(entry)) {
                Ok(0) => return,
                Ok(bytes) if bytes < LogOptions::MIN_SIZE => {
                    self.warn(entry, "below taskmaster's minimum; max-size set to 1KB");
                    max = LogOptions::MIN_SIZE;
                }
                Ok(bytes) => max = bytes.min(LogOptions::MAX_SIZE),
                Err(_) => {
                    self.warn(entry, "not a size such as 50MB; supervisord's 50MB is used");
                }
            }
        }
        let mut keep = LogOptions::DEFAULT_KEEP;
        if let Some(entry) = &backups {
            match self.value(entry).parse::<u32>() {
                Ok(n) if n > LogOptions::MAX_KEEP => {
                    self.warn(entry, "above taskmaster's maximum; keep set to 1000");
                    keep = LogOptions::MAX_KEEP;
                }
                Ok(n) => keep = n,
                Err(_) => self.warn(entry, "not a whole number; supervisord's 10 is used"),
            }
        }
        if path.starts_with("/dev/") || path.starts_with("/proc/") {
            if let Some(entry) = &maxbytes {
                self.warn(
                    entry,
                    "not rotated: the target is not a regular file (supervisord's rotation \
                     fails on it)",
                );
            }
            return;
        }
        self.set(
            stream,
            format!(
                "{} {{ max-size {}; keep {keep}; }}",
                kdl_out::string(&path),
                kdl_out::string(&format_size(max))
            ),
        );
    }

    /// `redirect_stderr=true`: stderr goes wherever stdout goes (`stderr "stdout"`).
    fn redirect_stderr(&mut self) {
        let Some(entry) = self.section.get("redirect_stderr") else {
            return;
        };
        let value = self.value(entry);
        match parse_bool(&value) {
            Some(false) => {}
            Some(true) => {
                // supervisord ignores stderr_logfile then; say so rather than drop it.
                if let Some(stderr) = self.section.get("stderr_logfile")
                    && !stderr.value.trim().eq_ignore_ascii_case("AUTO")
                {
                    let stderr = stderr.clone();
                    self.warn(
                        &stderr,
                        "ignored, as supervisord ignores it: redirect_stderr=true sends stderr \
                         where stdout goes",
                    );
                    self.fields.remove("stderr");
                }
                self.set("stderr", "\"stdout\"".into());
            }
            None => self.warn(entry, "not a boolean; not converted"),
        }
    }
}

fn is_log_tuning(key: &str) -> bool {
    let rest = key
        .strip_prefix("stdout_")
        .or_else(|| key.strip_prefix("stderr_"));
    matches!(rest, Some("capture_maxbytes" | "events_enabled" | "syslog"))
}

/// A path the compiler refuses, in words.
pub(super) fn path_flaw(flaw: PathFlaw) -> &'static str {
    match flaw {
        PathFlaw::Empty => "empty",
        PathFlaw::Nul => "contains a NUL character",
    }
}

/// A value on one line, for messages.
fn one_line(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// supervisord's signal spelling (`TERM`, `SIGTERM`, `15`) as a KDL value.
fn signal(text: &str) -> Option<String> {
    // The compiler's own reading, so whatever is written here compiles.
    let sig = values::signal_name(text).ok()?;
    Some(if text.trim().parse::<i32>().is_ok() {
        (sig as i32).to_string()
    } else {
        kdl_out::string(sig.as_str().trim_start_matches("SIG"))
    })
}

/// supervisord's `KEY="value",KEY2=value2` (quotes optional, commas inside quotes kept).
pub(super) fn parse_environment(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut items = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => quote = Some(c),
            (None, ',') => items.push(std::mem::take(&mut current)),
            (None, c) => current.push(c),
        }
    }
    if quote.is_some() {
        return Err("unbalanced quotes".into());
    }
    items.push(current);
    for item in items {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some((key, value)) = item.split_once('=') else {
            return Err(format!("`{item}` is not KEY=value"));
        };
        let key = key.trim();
        if key.is_empty() || key.contains('\0') || value.contains('\0') {
            return Err(format!("`{item}` is not KEY=value"));
        }
        pairs.push((key.to_owned(), value.trim().to_owned()));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_pairs() {
        let pairs = parse_environment("A=\"1,2\", B=x ,C='it''s',\nD=").unwrap();
        assert_eq!(
            pairs,
            [
                ("A".to_owned(), "1,2".to_owned()),
                ("B".into(), "x".into()),
                ("C".into(), "its".into()),
                ("D".into(), String::new())
            ]
        );
        assert!(parse_environment("A=\"x").is_err());
        assert!(parse_environment("novalue").is_err());
    }

    #[test]
    fn signals() {
        assert_eq!(signal("term").as_deref(), Some("\"TERM\""));
        assert_eq!(signal("SIGUSR1").as_deref(), Some("\"USR1\""));
        assert_eq!(signal("9").as_deref(), Some("9"));
        assert_eq!(signal("BOGUS"), None);
    }

    #[test]
    fn names_are_made_valid() {
        let mut w = Vec::new();
        assert_eq!(program_name("web", 1, &mut w), "web");
        assert!(w.is_empty());
        assert_eq!(program_name("all", 1, &mut w), "all_program");
        assert_eq!(program_name("a b", 1, &mut w), "a_b");
        assert_eq!(w.len(), 2);
    }
}
