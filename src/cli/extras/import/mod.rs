//! `taskmaster import supervisord.conf`: the equivalent taskmaster config, printed on stdout.
//!
//! [`ini`] reads supervisord's INI dialect, [`expand`] resolves its `%(name)s` expansions,
//! [`program`] converts `[program:x]` sections; this module handles the daemon sections,
//! `[include]`, and assembles the output. Everything without a counterpart becomes a
//! `// warning: …` comment in the output and a warning on stderr, so nothing is dropped
//! silently.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::cli::exit;

mod expand;
mod ini;
mod kdl_out;
mod program;
mod reject;

use expand::{Value, Vars};
use ini::{Entry, Ini, Section};

/// Something the import could not carry over, at a line of its file.
#[derive(Debug, Clone)]
pub(super) struct Warning {
    pub line: usize,
    pub text: String,
}

impl Warning {
    pub(super) fn at(line: usize, text: impl Into<String>) -> Self {
        Warning {
            line,
            text: text.into(),
        }
    }
}

/// A warning with the file it is about.
#[derive(Debug, Clone)]
struct Located {
    file: String,
    warning: Warning,
}

impl Located {
    fn text(&self) -> String {
        format!("{}:{}: {}", self.file, self.warning.line, self.warning.text)
    }
}

/// The outcome of an import: the KDL text and every warning, in output order.
#[derive(Debug)]
pub(super) struct Imported {
    pub kdl: String,
    pub warnings: Vec<String>,
    pub programs: usize,
    /// What supervisord itself would refuse (`file:line: …`); when any, there is no output.
    pub refusals: Vec<String>,
}

pub(super) fn run(file: &Path) -> u8 {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", file.display());
            return exit::USAGE;
        }
    };
    let imported = import(file, &text);
    if !imported.refusals.is_empty() {
        for refusal in &imported.refusals {
            eprintln!("error: {refusal}");
        }
        eprintln!(
            "error: not imported: supervisord would not start with {} either ({} problem{})",
            file.display(),
            imported.refusals.len(),
            plural(imported.refusals.len())
        );
        return exit::FAILED;
    }
    for warning in &imported.warnings {
        eprintln!("warning: {warning}");
    }
    // The output must be a config taskmaster accepts; if the converter ever produced an
    // invalid one, say so instead of handing it over as if it were fine.
    let base = file.parent().unwrap_or(Path::new("."));
    if let Err(report) = crate::plan::compile("imported.kdl", &imported.kdl, base) {
        eprint!("{}", report.render(false));
        eprintln!(
            "error: the converted config does not compile (a bug in `taskmaster import`; \
             please report it with the file above)"
        );
        crate::cli::output::write_stdout(&imported.kdl);
        return exit::FAILED;
    }
    crate::cli::output::write_stdout(&imported.kdl);
    eprintln!(
        "imported {} program{} from {} ({} warning{})",
        imported.programs,
        plural(imported.programs),
        file.display(),
        imported.warnings.len(),
        plural(imported.warnings.len()),
    );
    exit::OK
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// supervisord's booleans: true/yes/on/1 and false/no/off/0, any case.
pub(super) fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// Converts the text of `file` (and the files its `[include]` names).
pub(super) fn import(file: &Path, text: &str) -> Imported {
    let label = file.display().to_string();
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let here = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
    let mut files = vec![(label.clone(), ini::parse(text))];
    let mut include_warnings = Vec::new();
    let env = supervisord_environment(&files[0].1, &here);
    for (path, result) in includes(&files[0].1, &here, &daemon_vars(&here, &env)) {
        let included_label = path.display().to_string();
        match result {
            Ok(text) => files.push((included_label, ini::parse(&text))),
            Err(warning) => include_warnings.push(Located {
                file: label.clone(),
                warning,
            }),
        }
    }
    let refusals = reject::refusals(&files);
    let mut imported = convert(&files, &here, include_warnings, &env);
    imported.refusals = refusals;
    imported
}

/// `[supervisord] environment=` of the main file, which `%(ENV_X)s` consults first.
fn supervisord_environment(main: &Ini, here: &Path) -> BTreeMap<String, String> {
    let Some(entry) = main
        .sections
        .iter()
        .filter(|s| s.name == "supervisord")
        .find_map(|s| s.get("environment"))
    else {
        return BTreeMap::new();
    };
    let (value, _) = expand::expand(&entry.value, &daemon_vars(here, &BTreeMap::new()));
    program::parse_environment(&value)
        .map(|pairs| pairs.into_iter().collect())
        .unwrap_or_default()
}

/// Expansions available in the daemon sections.
fn daemon_vars(here: &Path, env: &BTreeMap<String, String>) -> Vars {
    let mut vars = Vars {
        env: env.clone(),
        ..Vars::default()
    };
    vars.fixed("here", Value::Str(here.display().to_string()));
    let host = hostname();
    vars.frozen(
        "host_node_name",
        Value::Str(host.clone()),
        format!("was replaced by this host's name ({host})"),
    );
    vars
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The files named by the main file's `[include] files = …`, read (or why not).
fn includes(main: &Ini, here: &Path, vars: &Vars) -> Vec<(PathBuf, Result<String, Warning>)> {
    let Some(entry) = main
        .sections
        .iter()
        .find(|s| s.name == "include")
        .and_then(|s| s.get("files"))
    else {
        return Vec::new();
    };
    let (patterns, _) = expand::expand(&entry.value, vars);
    let mut out = Vec::new();
    for pattern in patterns.split_whitespace() {
        let full = here.join(pattern);
        match glob(&full) {
            Ok(paths) if paths.is_empty() => out.push((
                full.clone(),
                Err(Warning::at(
                    entry.line,
                    format!("[include] `{pattern}` matches no file"),
                )),
            )),
            Ok(paths) => {
                for path in paths {
                    let read = std::fs::read_to_string(&path).map_err(|e| {
                        Warning::at(
                            entry.line,
                            format!("[include] cannot read {}: {e}", path.display()),
                        )
                    });
                    out.push((path, read));
                }
            }
            Err(why) => out.push((
                full.clone(),
                Err(Warning::at(
                    entry.line,
                    format!("[include] `{pattern}`: {why}"),
                )),
            )),
        }
    }
    out
}

/// The files a pattern names; wildcards (`*`, `?`) only in the last component.
fn glob(pattern: &Path) -> Result<Vec<PathBuf>, String> {
    let wild = |s: &str| s.contains(['*', '?', '[']);
    let Some(file) = pattern.file_name().and_then(|f| f.to_str()) else {
        return Err("not a file pattern".into());
    };
    let dir = pattern.parent().unwrap_or(Path::new("/"));
    if dir.to_str().is_some_and(wild) {
        return Err("wildcards in folder names are not supported; list the files".into());
    }
    if !wild(file) {
        return Ok(if pattern.exists() {
            vec![pattern.to_owned()]
        } else {
            Vec::new()
        });
    }
    if file.contains('[') {
        return Err("`[…]` patterns are not supported; use `*` or `?`".into());
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| wildcard_match(file, n))
        })
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    Ok(found)
}

/// `*` and `?` matching, as fnmatch does for the patterns supervisord configs use.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Why a section has no counterpart, or `None` for the ones converted.
fn section_note(name: &str) -> Option<&'static str> {
    let kind = name.split(':').next().unwrap_or(name);
    Some(match kind {
        "program" | "supervisord" | "unix_http_server" | "include" => return None,
        "group" => {
            "taskmaster has no program groups; name the programs (or `all`) in client commands"
        }
        "eventlistener" => {
            "taskmaster has no event listeners; not imported. If it stopped supervisord when a \
             program died (the usual container pattern), end that program with the daemon \
             instead: `cmd \"sh\" \"-c\" \"PROGRAM; kill -TERM $PPID\"` with \
             `autorestart #false` (see the book: Migrating from supervisord, event listeners)"
        }
        "fcgi-program" => "taskmaster does not manage FastCGI sockets; not imported",
        "inet_http_server" => "taskmaster is controlled over its unix socket only",
        "supervisorctl" => "not needed: client commands take --socket PATH or TASKMASTER_SOCKET",
        "rpcinterface" | "ctlplugin" => "not needed: taskmaster's control protocol is built in",
        _ => "unknown section; not imported",
    })
}

/// Why a `[supervisord]` key has no counterpart.
fn supervisord_note(key: &str) -> &'static str {
    match key {
        "pidfile" | "nodaemon" => "taskmaster always runs in the foreground, without a pid file",
        "logfile_maxbytes" | "logfile_backups" => "taskmaster does not rotate its log",
        "childlogdir" => "output kept by default is in memory (`taskmaster logs`)",
        "umask" => "applies to the daemon; set `umask` per program",
        "directory" => "applies to the daemon; set `workingdir` per program",
        "user" => {
            "taskmaster runs as the user who starts it: start `taskmaster run` as that user \
             (`sudo -u USER taskmaster run`, or `User=` in a systemd unit)"
        }
        "minfds" | "minprocs" => "taskmaster does not raise resource limits",
        _ => "no counterpart in taskmaster",
    }
}

/// Everything converted, assembled into the output text.
fn convert(
    files: &[(String, Ini)],
    here: &Path,
    mut top: Vec<Located>,
    env: &BTreeMap<String, String>,
) -> Imported {
    let vars = daemon_vars(here, env);
    let mut daemon: BTreeMap<&'static str, String> = BTreeMap::new();
    let mut daemon_warnings = Vec::new();
    let mut global_env = BTreeMap::new();
    let mut groups = BTreeMap::new();
    for (label, ini) in files {
        let locate = |warning| Located {
            file: label.clone(),
            warning,
        };
        for (line, problem) in &ini.problems {
            top.push(locate(Warning::at(*line, format!("{problem}; skipped"))));
        }
        for section in &ini.sections {
            match section.name.as_str() {
                "supervisord" => {
                    for w in supervisord_section(section, &vars, &mut daemon, &mut global_env) {
                        daemon_warnings.push(locate(w));
                    }
                }
                "unix_http_server" => {
                    for w in unix_http_server(section, &vars, &mut daemon) {
                        daemon_warnings.push(locate(w));
                    }
                }
                name => {
                    if let Some(group) = name.strip_prefix("group:")
                        && let Some(programs) = section.get("programs")
                    {
                        for program in programs.value.split(',') {
                            groups.insert(program.trim().to_owned(), group.to_owned());
                        }
                    }
                    if let Some(note) = section_note(name) {
                        top.push(locate(Warning::at(
                            section.line,
                            format!("[{name}]: {note}"),
                        )));
                    }
                }
            }
        }
    }
    let hostname = hostname();
    let here_text = here.display().to_string();
    let program_names: std::collections::BTreeSet<String> = files
        .iter()
        .flat_map(|(_, ini)| &ini.sections)
        .filter_map(|s| s.name.strip_prefix("program:"))
        .map(str::to_owned)
        .collect();
    let shared = program::Shared {
        here: &here_text,
        hostname: &hostname,
        global_env: &global_env,
        groups: &groups,
        programs: &program_names,
    };
    let mut programs: Vec<(String, program::Program)> = Vec::new();
    for (label, ini) in files {
        for section in &ini.sections {
            let Some(raw_name) = section.name.strip_prefix("program:") else {
                continue;
            };
            let converted = program::convert(section, raw_name, &shared);
            if programs.iter().any(|(_, p)| p.name == converted.name) {
                top.push(Located {
                    file: label.clone(),
                    warning: Warning::at(
                        section.line,
                        format!(
                            "program `{}` is defined again; the first one is kept",
                            converted.name
                        ),
                    ),
                });
                continue;
            }
            programs.push((label.clone(), converted));
        }
    }
    render(files, top, daemon, daemon_warnings, programs)
}

fn supervisord_section(
    section: &Section,
    vars: &Vars,
    daemon: &mut BTreeMap<&'static str, String>,
    global_env: &mut BTreeMap<String, String>,
) -> Vec<Warning> {
    let mut warnings = Vec::new();
    for entry in &section.entries {
        let (value, prefix) = expand_daemon_entry("supervisord", entry, vars, &mut warnings);
        let value = value.as_str();
        match entry.key.as_str() {
            "logfile" if value.eq_ignore_ascii_case("syslog") => warnings.push(Warning::at(
                entry.line,
                format!("{prefix}: taskmaster does not log to syslog"),
            )),
            "logfile" if crate::plan::validate::path_flaw(value).is_none() => {
                daemon.insert("logfile", kdl_out::string(value));
            }
            "environment" => match program::parse_environment(value) {
                Ok(pairs) => global_env.extend(pairs),
                Err(why) => warnings.push(Warning::at(entry.line, format!("{prefix}: {why}"))),
            },
            key => warnings.push(Warning::at(
                entry.line,
                format!("{prefix}: {}", supervisord_note(key)),
            )),
        }
    }
    warnings
}

/// Expands one entry of a daemon-level section; the expansion's notes become warnings.
/// Returns the trimmed value and the `[section] key = value` prefix that every warning
/// about the entry starts with.
fn expand_daemon_entry(
    section: &str,
    entry: &Entry,
    vars: &Vars,
    warnings: &mut Vec<Warning>,
) -> (String, String) {
    let (value, notes) = expand::expand(&entry.value, vars);
    let prefix = format!("[{section}] {} = {}", entry.key, entry.value.trim());
    warnings.extend(
        notes
            .into_iter()
            .map(|n| Warning::at(entry.line, format!("{prefix}: {n}"))),
    );
    (value.trim().to_owned(), prefix)
}

fn unix_http_server(
    section: &Section,
    vars: &Vars,
    daemon: &mut BTreeMap<&'static str, String>,
) -> Vec<Warning> {
    let mut warnings = Vec::new();
    for entry in &section.entries {
        let (value, prefix) = expand_daemon_entry("unix_http_server", entry, vars, &mut warnings);
        let value = value.as_str();
        match entry.key.as_str() {
            "file" if crate::plan::validate::path_flaw(value).is_none() => {
                daemon.insert("socket", kdl_out::string(value));
            }
            "chmod" | "chown" => warnings.push(Warning::at(
                entry.line,
                format!("{prefix}: the socket is always owner-only (0600)"),
            )),
            "username" | "password" => warnings.push(Warning::at(
                entry.line,
                format!("{prefix}: only the daemon's own user (or root) may connect"),
            )),
            _ => warnings.push(Warning::at(
                entry.line,
                format!("{prefix}: no counterpart in taskmaster"),
            )),
        }
    }
    warnings
}

fn render(
    files: &[(String, Ini)],
    top: Vec<Located>,
    daemon: BTreeMap<&'static str, String>,
    daemon_warnings: Vec<Located>,
    programs: Vec<(String, program::Program)>,
) -> Imported {
    let mut kdl = String::new();
    let mut warnings = Vec::new();
    let mut note = |kdl: &mut String, indent: &str, located: &Located| {
        let text = located.text();
        kdl.push_str(&kdl_out::comment(indent, &format!("warning: {text}")));
        warnings.push(text);
    };
    let source = files
        .first()
        .map_or("supervisord.conf", |(label, _)| label.as_str());
    kdl.push_str(&kdl_out::comment(
        "",
        &format!("Imported from {source} by `taskmaster import`: review the warnings."),
    ));
    kdl.push('\n');
    for located in &top {
        note(&mut kdl, "", located);
    }
    if !top.is_empty() {
        kdl.push('\n');
    }
    if !daemon.is_empty() || !daemon_warnings.is_empty() {
        kdl.push_str("taskmaster {\n");
        for key in ["socket", "logfile"] {
            if let Some(value) = daemon.get(key) {
                kdl.push_str(&format!("    {key} {value}\n"));
            }
        }
        for located in &daemon_warnings {
            note(&mut kdl, "    ", located);
        }
        kdl.push_str("}\n\n");
    }
    let mut imported = 0;
    for (label, program) in programs {
        let locate = |warning: &Warning| Located {
            file: label.clone(),
            warning: warning.clone(),
        };
        if program.skipped {
            for warning in &program.warnings {
                note(&mut kdl, "", &locate(warning));
            }
            kdl.push('\n');
            continue;
        }
        imported += 1;
        kdl.push_str(&format!("program {} {{\n", kdl_out::string(&program.name)));
        for setting in &program.settings {
            kdl.push_str(&format!("    {setting}\n"));
        }
        for warning in &program.warnings {
            note(&mut kdl, "    ", &locate(warning));
        }
        kdl.push_str("}\n\n");
    }
    while kdl.ends_with("\n\n") {
        kdl.pop();
    }
    Imported {
        kdl,
        warnings,
        programs: imported,
        refusals: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.conf", "web.conf"));
        assert!(wildcard_match("w?b.*", "web.conf"));
        assert!(!wildcard_match("*.conf", "web.ini"));
        assert!(wildcard_match("*", ""));
        assert!(!wildcard_match("a*b", "acbd"));
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool(" Yes "), Some(true));
        assert_eq!(parse_bool("off"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn a_small_config_converts() {
        let text = "\
[unix_http_server]
file=/tmp/supervisor.sock
chmod=0700

[supervisord]
logfile=%(here)s/supervisord.log
environment=SHARED=\"1\",KEEP=\"global\"

[program:web]
command=python3 -m http.server 80%(process_num)02d ; a comment
numprocs=2
autorestart=unexpected
exitcodes=0,2
stopsignal=INT
stdout_logfile=NONE
environment=KEEP=\"mine\"
priority=5

[group:site]
programs=web
";
        let out = import(Path::new("/etc/sv/supervisord.conf"), text);
        let kdl = &out.kdl;
        assert!(kdl.contains("socket \"/tmp/supervisor.sock\""), "{kdl}");
        assert!(kdl.contains("logfile \"/etc/sv/supervisord.log\""), "{kdl}");
        // 8000 and 8001, per process, as supervisord's `80%(process_num)02d`.
        assert!(
            kdl.contains("cmd \"python3 -m http.server {process_num+8000}\""),
            "{kdl}"
        );
        assert!(kdl.contains("numprocs 2"), "{kdl}");
        assert!(kdl.contains("exitcodes 0 2"), "{kdl}");
        assert!(kdl.contains("stopsignal \"INT\""), "{kdl}");
        assert!(kdl.contains("stdout \"discard\""), "{kdl}");
        assert!(
            kdl.contains("env { KEEP \"mine\"; SHARED \"1\"; }"),
            "{kdl}"
        );
        assert!(!out.warnings.iter().any(|w| w.contains("process_num")));
        for expected in ["chmod", "priority", "[group:site]"] {
            assert!(
                out.warnings.iter().any(|w| w.contains(expected)),
                "no warning about {expected}: {:?}",
                out.warnings
            );
        }
        assert_eq!(out.programs, 1);
        // Each warning is in the output as a comment too.
        assert_eq!(kdl.matches("// warning: ").count(), out.warnings.len());
    }
}
