//! Exporting a compiled [`Plan`](crate::plan::Plan) to an engine that already exists:
//! [`systemd`] units for one host, [`kubernetes`] manifests for a cluster.
//!
//! Both exporters read the plan through [`settings`], which destructures every
//! [`ProgramSpec`] field into one [`Setting`]. A field added to the spec does not compile
//! until it is listed there, and each exporter's `match` on [`Setting`] does not compile until
//! it maps the new setting or reports it: adding a setting is one arm per engine plus its test.
//!
//! The rule for what an engine cannot express is shared: the exporter records an
//! [`Unmapped`], which becomes a comment in the output next to where the setting would have
//! gone and a warning on stderr. Nothing is dropped silently.
//!
//! Exporting is pure apart from [`ExportEnv`], which carries what the export reads from the
//! exporting machine (PATH, the current directory), so tests can pin them.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::plan::check::{Check, CheckRole};
use crate::plan::credentials::{EnvFiles, Group, Limits, User};
use crate::plan::model::{Condition, CrashLimit, RestartBackoff};
use crate::plan::{AutoRestart, DaemonSettings, OutputTarget, ProgramSpec, StopSignal};

pub mod kubernetes;
pub mod systemd;

/// One setting of a program as the exporters see it. Settings that only mean something
/// together (autorestart and exitcodes, starttime and startretries, stopsignal and stoptime)
/// travel together.
#[derive(Debug, Clone, Copy)]
pub enum Setting<'a> {
    Cmd(&'a [String]),
    Numprocs(u32),
    Umask(Option<u32>),
    Workingdir(Option<&'a Path>),
    Autostart(bool),
    Restart {
        autorestart: AutoRestart,
        exitcodes: &'a BTreeSet<u8>,
    },
    Startup {
        starttime: Duration,
        startretries: u32,
    },
    Stop {
        signal: StopSignal,
        time: Duration,
    },
    Stdout(&'a OutputTarget),
    Stderr(&'a OutputTarget),
    Env(&'a BTreeMap<String, String>),
    /// `restart-backoff` and `crash-limit`: how crash restarts are paced and given up.
    CrashLoop {
        backoff: RestartBackoff,
        limit: Option<CrashLimit>,
    },
    User(Option<&'a User>),
    Group(Option<&'a Group>),
    Groups(Option<&'a [Group]>),
    Limits(&'a Limits),
    EnvFile(&'a EnvFiles),
    /// `readiness` / `liveness`: one check block, `None` when not set.
    Check {
        role: CheckRole,
        check: Option<&'a Check>,
    },
    /// `depends-on`: the programs this one waits for, with their conditions.
    DependsOn(&'a BTreeMap<String, Condition>),
}

impl Setting<'_> {
    /// The config fields this setting carries, as the config spells them.
    pub fn fields(&self) -> &'static [&'static str] {
        match self {
            Setting::Cmd(_) => &["cmd"],
            Setting::Numprocs(_) => &["numprocs"],
            Setting::Umask(_) => &["umask"],
            Setting::Workingdir(_) => &["workingdir"],
            Setting::Autostart(_) => &["autostart"],
            Setting::Restart { .. } => &["autorestart", "exitcodes"],
            Setting::Startup { .. } => &["starttime", "startretries"],
            Setting::Stop { .. } => &["stopsignal", "stoptime"],
            Setting::Stdout(_) => &["stdout"],
            Setting::Stderr(_) => &["stderr"],
            Setting::Env(_) => &["env"],
            Setting::CrashLoop { .. } => &["restart-backoff", "crash-limit"],
            Setting::User(_) => &["user"],
            Setting::Group(_) => &["group"],
            Setting::Groups(_) => &["groups"],
            Setting::Limits(_) => &["limits"],
            Setting::EnvFile(_) => &["env-file"],
            Setting::Check {
                role: CheckRole::Readiness,
                ..
            } => &["readiness"],
            Setting::Check {
                role: CheckRole::Liveness,
                ..
            } => &["liveness"],
            Setting::DependsOn(_) => &["depends-on"],
        }
    }
}

/// Every setting of `spec`, roughly in config order (crash-loop pacing next to autorestart).
/// The destructuring has no `..`: a new [`ProgramSpec`] field must be listed here (and then
/// mapped by each exporter).
pub fn settings(spec: &ProgramSpec) -> Vec<Setting<'_>> {
    let ProgramSpec {
        name: _,
        cmd,
        numprocs,
        umask,
        workingdir,
        autostart,
        autorestart,
        exitcodes,
        startretries,
        starttime,
        stopsignal,
        stoptime,
        stdout,
        stderr,
        env,
        restart_backoff,
        crash_limit,
        user,
        group,
        groups,
        limits,
        env_file,
        readiness,
        liveness,
        depends_on,
    } = spec;
    vec![
        Setting::Cmd(cmd),
        Setting::Numprocs(*numprocs),
        Setting::Umask(*umask),
        Setting::Workingdir(workingdir.as_deref()),
        Setting::Autostart(*autostart),
        Setting::Restart {
            autorestart: *autorestart,
            exitcodes,
        },
        Setting::CrashLoop {
            backoff: *restart_backoff,
            limit: *crash_limit,
        },
        Setting::Startup {
            starttime: *starttime,
            startretries: *startretries,
        },
        Setting::Stop {
            signal: *stopsignal,
            time: *stoptime,
        },
        Setting::Stdout(stdout),
        Setting::Stderr(stderr),
        Setting::Env(env),
        Setting::User(user.as_ref()),
        Setting::Group(group.as_ref()),
        Setting::Groups(groups.as_deref()),
        Setting::Limits(limits),
        Setting::EnvFile(env_file),
        Setting::Check {
            role: CheckRole::Readiness,
            check: readiness.as_ref(),
        },
        Setting::Check {
            role: CheckRole::Liveness,
            check: liveness.as_ref(),
        },
        Setting::DependsOn(depends_on),
    ]
}

/// `depends-on` as a config writes it, for the "cannot map" notes: `depends-on { db "ready" }`.
pub fn depends_on_text(deps: &BTreeMap<String, Condition>) -> String {
    let items: Vec<String> = deps
        .iter()
        .map(|(program, c)| format!("{} \"{c}\"", kdl_quote(program)))
        .collect();
    format!("depends-on {{ {} }}", items.join("; "))
}

/// The setting of a "cannot map" note about per-process placeholders: the values that hold
/// one, as the config writes them (`cmd "serve" "--port" "{process_num+8000}"`).
pub fn identity_unmapped_placeholders(spec: &ProgramSpec) -> String {
    use crate::plan::placeholder::has_placeholder;
    let mut fields = Vec::new();
    for name in ["cmd", "workingdir", "stdout", "stderr", "env"] {
        let Some(directive) =
            crate::plan::directive::Directive::find(crate::plan::directive::PROGRAM, name)
        else {
            continue;
        };
        let shown = (directive.show)(spec);
        if has_placeholder(&shown) {
            fields.push(format!("{name} {shown}"));
        }
    }
    if fields.is_empty() {
        "placeholders ({process_num}, {process})".to_owned()
    } else {
        fields.join(", ")
    }
}

/// An identity setting as the config writes it, from its directive, for a "cannot map"
/// note: `None` when it is unset.
pub fn identity_unmapped(spec: &ProgramSpec, setting: &Setting) -> Option<String> {
    let set = match setting {
        Setting::User(u) => u.is_some(),
        Setting::Group(g) => g.is_some(),
        Setting::Groups(g) => g.is_some(),
        Setting::Limits(l) => !l.is_empty(),
        Setting::EnvFile(e) => !e.files.is_empty(),
        _ => false,
    };
    let name = setting.fields().first()?;
    let directive = crate::plan::directive::Directive::find(crate::plan::directive::PROGRAM, name)?;
    set.then(|| format!("{name} {}", (directive.show)(spec)))
}

/// A setting the engine cannot express faithfully. It is written as a comment in the output
/// and printed as a warning on stderr.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unmapped {
    /// The program it belongs to; `None` for a setting of the `taskmaster { … }` block.
    pub program: Option<String>,
    /// The setting as the config writes it, with its value: `stopsignal "INT"`.
    pub setting: String,
    /// What the engine does instead, and what to do about it.
    pub why: String,
}

impl Unmapped {
    pub fn new(program: &str, setting: impl Into<String>, why: impl Into<String>) -> Self {
        Unmapped {
            program: Some(program.to_owned()),
            setting: setting.into(),
            why: why.into(),
        }
    }

    /// A daemon setting (`taskmaster { socket … }`) the engine has no counterpart for.
    pub fn daemon(setting: impl Into<String>, why: impl Into<String>) -> Self {
        Unmapped {
            program: None,
            setting: setting.into(),
            why: why.into(),
        }
    }

    /// The comment text (without the comment marker): `cannot map stopsignal "INT": …`.
    pub fn comment(&self) -> String {
        format!("cannot map {}: {}", self.setting, self.why)
    }

    /// The warning line for stderr, without the `warning: ` prefix.
    pub fn warning(&self) -> String {
        let scope = match &self.program {
            Some(program) => format!("program {}", kdl_quote(program)),
            None => "taskmaster block".to_owned(),
        };
        format!("{scope}: {}", self.comment())
    }
}

impl fmt::Display for Unmapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.warning())
    }
}

/// The `taskmaster { … }` block's settings that are set, as `(setting, value)`: none has a
/// counterpart once no taskmaster daemon runs, so each exporter reports them all. The
/// destructuring has no `..`: a new daemon setting must be listed here.
pub fn daemon_settings(daemon: &DaemonSettings) -> Vec<(&'static str, String)> {
    let DaemonSettings {
        socket,
        logfile,
        log_buffer,
    } = daemon;
    let mut set: Vec<(&'static str, String)> = [("socket", socket), ("logfile", logfile)]
        .into_iter()
        .filter_map(|(name, value)| {
            value
                .as_ref()
                .map(|v| (name, format!("{name} {}", kdl_quote(&v.to_string_lossy()))))
        })
        .collect();
    if *log_buffer != crate::plan::model::LogBuffer::default() {
        let size = crate::plan::model::format_size(log_buffer.0);
        set.push(("log-buffer", format!("log-buffer {}", kdl_quote(&size))));
    }
    set
}

/// The warning lines for stderr: one per distinct note, naming every program it concerns
/// (`programs "a", "b": cannot map …`), in the order the notes first appear. Settings left at
/// their defaults give the same note for every program; one line says it once.
pub fn warning_lines(unmapped: &[Unmapped]) -> Vec<String> {
    let mut groups: Vec<(&Unmapped, Vec<&str>)> = Vec::new();
    for note in unmapped {
        let same = groups
            .iter_mut()
            .find(|(first, _)| first.setting == note.setting && first.why == note.why);
        match (same, &note.program) {
            (Some((_, programs)), Some(program)) => programs.push(program),
            (Some(_), None) => {}
            (None, program) => groups.push((note, program.iter().map(String::as_str).collect())),
        }
    }
    groups
        .into_iter()
        .map(|(note, programs)| match programs.as_slice() {
            [] | [_] => note.warning(),
            many => {
                let names: Vec<String> = many.iter().map(|p| kdl_quote(p)).collect();
                format!("programs {}: {}", names.join(", "), note.comment())
            }
        })
        .collect()
}

/// What an export reads from the machine it runs on.
#[derive(Debug, Clone)]
pub struct ExportEnv {
    /// The exporting process's PATH: where `cmd` is looked up when `env` sets none.
    pub path: Option<OsString>,
    /// The current directory, for a relative program path with no `workingdir`.
    pub cwd: PathBuf,
    /// This taskmaster executable: systemd units run its `probe` subcommand for readiness.
    pub taskmaster: PathBuf,
}

impl ExportEnv {
    /// This process's PATH and current directory.
    pub fn from_process() -> Self {
        ExportEnv {
            path: std::env::var_os("PATH"),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
            taskmaster: std::env::current_exe()
                .unwrap_or_else(|_| PathBuf::from("/usr/local/bin/taskmaster")),
        }
    }
}

/// The config's name as the exports use it: the file name without its extension
/// (`examples/demo.kdl` → `demo`).
pub fn config_name(config: &Path) -> String {
    config
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "taskmaster".to_owned())
}

/// The lines of a comment holding `text`, wrapped so no line is much longer than 100
/// columns; words (paths, commands) are never split.
pub fn comment_lines(text: &str) -> Vec<String> {
    let options = textwrap::Options::new(COMMENT_WIDTH).break_words(false);
    textwrap::wrap(text, options)
        .into_iter()
        .map(|line| line.trim_end().to_owned())
        .collect()
}

/// Width of a wrapped comment's text (after its `# ` marker).
const COMMENT_WIDTH: usize = 96;

/// `"value"` with `"` and `\` escaped, as a config would write a string.
fn kdl_quote(s: &str) -> String {
    format!("{s:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::plan::directive::{Directive, PROGRAM};

    #[test]
    fn settings_cover_every_program_field_once() {
        let spec = ProgramSpec::with_defaults("web", vec!["true".into()]);
        let mut covered: Vec<&str> = settings(&spec)
            .iter()
            .flat_map(|s| s.fields().iter().copied())
            .collect();
        let mut fields: Vec<&str> = Directive::names(PROGRAM).collect();
        covered.sort_unstable();
        fields.sort_unstable();
        assert_eq!(covered, fields);
    }

    #[test]
    fn warnings_say_a_shared_note_once_for_every_program() {
        let notes = [
            Unmapped::new("a", "starttime \"1s\"", "none"),
            Unmapped::new("a", "umask \"027\"", "none"),
            Unmapped::new("b", "starttime \"1s\"", "none"),
            Unmapped::new("c", "starttime \"1s\"", "other"),
            Unmapped::daemon("socket \"s\"", "no daemon"),
        ];
        assert_eq!(
            warning_lines(&notes),
            [
                "programs \"a\", \"b\": cannot map starttime \"1s\": none",
                "program \"a\": cannot map umask \"027\": none",
                "program \"c\": cannot map starttime \"1s\": other",
                "taskmaster block: cannot map socket \"s\": no daemon",
            ]
        );
    }

    #[test]
    fn config_name_is_the_file_stem() {
        assert_eq!(config_name(Path::new("examples/demo.kdl")), "demo");
        assert_eq!(config_name(Path::new("/etc/tm")), "tm");
        assert_eq!(config_name(Path::new("/")), "taskmaster");
    }

    #[test]
    fn unmapped_reads_as_comment_and_warning() {
        let u = Unmapped::new("web", "stopsignal \"INT\"", "Kubernetes sends SIGTERM");
        assert_eq!(
            u.comment(),
            "cannot map stopsignal \"INT\": Kubernetes sends SIGTERM"
        );
        assert_eq!(
            u.warning(),
            "program \"web\": cannot map stopsignal \"INT\": Kubernetes sends SIGTERM"
        );
        let d = Unmapped::daemon("socket \"/run/tm.sock\"", "no daemon");
        assert_eq!(
            d.warning(),
            "taskmaster block: cannot map socket \"/run/tm.sock\": no daemon"
        );
    }
}
