//! One definition per config directive: everything the compiler, `diff` and the checks know
//! about a setting of `program "name" { … }` ([`PROGRAM`]) or of `taskmaster { … }`
//! ([`DAEMON`]), in one [`Directive`] each.
//!
//! Validation dispatches on these tables (unknown names, "did you mean", help examples, the
//! parse function), the diff reads its field table, reload classes and how values are shown
//! from them, and the tests that keep the schema (`tests/it/schema_sync.rs`) and the book
//! (`tests/it/book.rs`) honest read the same entries. Adding a directive is one entry here (its
//! parse function beside the others in `validate`), its field in the model, its tests, its
//! book page and its schema property; the checks name whatever is missing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use kdl::KdlNode;

use super::check::CheckRole;
use super::diff::{FieldClass, KeyAction, KeyChange};
use super::model::{Condition, DaemonSettings, OutputTarget, ProgramSpec, format_duration};
use super::placeholder::same_per_process;
use super::validate::{
    Ctx, check as vc, daemon as vd, depends as vdeps, identity as vi, program as vp,
};

/// One setting of a block whose settings are stored in a `T` ([`ProgramSpec`] or
/// [`DaemonSettings`]).
pub struct Directive<T> {
    /// The name as a config writes it (`restart-backoff`).
    pub name: &'static str,
    /// How to write it, as help lines quote it: `numprocs 2`.
    pub example: &'static str,
    /// The shape of its value, as the `| Type |` row of its book page says it.
    pub shape: &'static str,
    /// Its default, as the `| Default |` row of its book page says it. The typed default is
    /// the model's (`ProgramSpec::with_defaults`, `DaemonSettings::default`); the schema test
    /// checks the schema against that one.
    pub default: &'static str,
    /// What a reload does when it changes.
    pub reload: FieldClass,
    /// One line saying what it is; its book page says it too.
    pub doc: &'static str,
    /// Its book page, relative to `book/src`, with the section's anchor for a page that
    /// documents several (`config/daemon.md#socket`).
    pub page: &'static str,
    /// Checks a node of this name and stores its value; problems go to the context. A
    /// duplicate or unknown name never gets here.
    pub(crate) parse: fn(&mut Ctx, &KdlNode, &mut T),
    /// Compares the typed values, so two values that happen to display alike still differ.
    pub(crate) same: fn(&T, &T) -> bool,
    /// Shows the value the way a config would write it.
    pub(crate) show: fn(&T) -> String,
    /// For a map of secrets-prone values (`env`): which keys differ. `diff` then names the
    /// keys and hides the values unless asked (see [`super::render`]); `None` shows values.
    pub(crate) keys: Option<fn(&T, &T) -> Vec<KeyChange>>,
}

impl<T> Directive<T> {
    /// The directive of `table` named `name`.
    pub fn find<'t>(table: &'t [Directive<T>], name: &str) -> Option<&'t Directive<T>> {
        table.iter().find(|d| d.name == name)
    }

    /// The names of `table`'s directives, in its order.
    pub fn names(table: &[Directive<T>]) -> impl Iterator<Item = &'static str> + '_ {
        table.iter().map(|d| d.name)
    }

    /// The keys that differ between `old` and `new`, for a key-tracked directive.
    pub(crate) fn key_changes(&self, old: &T, new: &T) -> Vec<KeyChange> {
        self.keys.map_or_else(Vec::new, |keys| keys(old, new))
    }
}

/// Every setting of a program (every [`ProgramSpec`] field but `name`), in the contract's
/// order, which is the order `diff` shows them and `import` writes them.
pub static PROGRAM: &[Directive<ProgramSpec>] = &[
    Directive {
        name: "cmd",
        example: "cmd \"python3 -m http.server 8080\"",
        shape: "one string, or several strings",
        default: "none: required",
        reload: FieldClass::Spawn,
        doc: "The command a process runs.",
        page: "config/cmd.md",
        parse: vp::cmd,
        same: |a, b| same_per_process(a, b, |p| p.cmd.clone()),
        show: |p| show_argv(&p.cmd),
        keys: None,
    },
    Directive {
        name: "numprocs",
        example: "numprocs 2",
        shape: "integer, at least 1",
        default: "`1`",
        reload: FieldClass::Scale,
        doc: "How many copies of the program to run.",
        page: "config/numprocs.md",
        parse: vp::numprocs,
        same: |a, b| a.numprocs == b.numprocs,
        show: |p| p.numprocs.to_string(),
        keys: None,
    },
    Directive {
        name: "umask",
        example: "umask 0o022",
        shape: "octal integer `0o022`, or an octal string `\"022\"`",
        default: "inherited from the daemon",
        reload: FieldClass::Spawn,
        doc: "The file-mode creation mask the process starts with.",
        page: "config/umask.md",
        parse: vp::umask,
        same: |a, b| a.umask == b.umask,
        show: |p| {
            p.umask
                .map_or_else(|| "inherited".into(), |u| format!("0o{u:03o}"))
        },
        keys: None,
    },
    Directive {
        name: "workingdir",
        example: "workingdir \"/srv/www\"",
        shape: "path (string)",
        default: "inherited from the daemon",
        reload: FieldClass::Spawn,
        doc: "The directory the process starts in.",
        page: "config/workingdir.md",
        parse: vp::workingdir,
        same: |a, b| same_per_process(a, b, |p| p.workingdir.clone()),
        show: |p| {
            p.workingdir
                .as_ref()
                .map_or_else(|| "inherited".into(), |d| quote(&d.display().to_string()))
        },
        keys: None,
    },
    Directive {
        name: "autostart",
        example: "autostart #true",
        shape: "`#true` or `#false`",
        default: "`#true`",
        reload: FieldClass::Supervision,
        doc: "Whether the program starts when the daemon starts (and when a reload adds it).",
        page: "config/autostart.md",
        parse: vp::autostart,
        same: |a, b| a.autostart == b.autostart,
        show: |p| format!("#{}", p.autostart),
        keys: None,
    },
    Directive {
        name: "autorestart",
        example: "autorestart \"unexpected\"",
        shape: "`#true`, `#false`, or `\"unexpected\"`",
        default: "`\"unexpected\"`",
        reload: FieldClass::Supervision,
        doc: "Whether a process that exits while `RUNNING` is started again.",
        page: "config/autorestart.md",
        parse: vp::autorestart,
        same: |a, b| a.autorestart == b.autorestart,
        show: |p| p.autorestart.to_string(),
        keys: None,
    },
    Directive {
        name: "exitcodes",
        example: "exitcodes 0 2",
        shape: "one or more integers, 0 to 255",
        default: "`0`",
        reload: FieldClass::Supervision,
        doc: "The exit codes that count as an *expected* exit.",
        page: "config/exitcodes.md",
        parse: vp::exitcodes,
        same: |a, b| a.exitcodes == b.exitcodes,
        show: |p| show_list(&p.exitcodes),
        keys: None,
    },
    Directive {
        name: "startretries",
        example: "startretries 3",
        shape: "integer, 0 or more",
        default: "`3`",
        reload: FieldClass::Supervision,
        doc: "How many times a process that fails to start is tried again before it is given \
              up as `FATAL`.",
        page: "config/startretries.md",
        parse: vp::startretries,
        same: |a, b| a.startretries == b.startretries,
        show: |p| p.startretries.to_string(),
        keys: None,
    },
    Directive {
        name: "starttime",
        example: "starttime 1",
        shape: "duration: seconds (`1`), or a string with a unit (`\"500ms\"`, `\"1.5s\"`)",
        default: "`1` (one second)",
        reload: FieldClass::Supervision,
        doc: "How long a process must stay up after it is spawned to count as started.",
        page: "config/starttime.md",
        parse: vp::starttime,
        same: |a, b| a.starttime == b.starttime,
        show: |p| format_duration(p.starttime),
        keys: None,
    },
    Directive {
        name: "stopsignal",
        example: "stopsignal \"TERM\"",
        shape: "signal name (`\"TERM\"`, `\"SIGTERM\"`) or number (`15`)",
        default: "`\"TERM\"`",
        reload: FieldClass::Supervision,
        doc: "The signal that asks a process to stop.",
        page: "config/stopsignal.md",
        parse: vp::stopsignal,
        same: |a, b| a.stopsignal == b.stopsignal,
        show: |p| p.stopsignal.to_string(),
        keys: None,
    },
    Directive {
        name: "stoptime",
        example: "stoptime 10",
        shape: "duration: seconds (`10`), or a string with a unit (`\"500ms\"`, `\"1.5s\"`)",
        default: "`10` (seconds)",
        reload: FieldClass::Supervision,
        doc: "How long to wait after [`stopsignal`](stopsignal.md) before killing the process \
              group with `SIGKILL`.",
        page: "config/stoptime.md",
        parse: vp::stoptime,
        same: |a, b| a.stoptime == b.stoptime,
        show: |p| format_duration(p.stoptime),
        keys: None,
    },
    Directive {
        name: "stdout",
        example: "stdout \"/var/log/web.out\"",
        shape: "a file path, with an optional `{ max-size; keep; timestamps }` block; or \
                `\"discard\"`",
        default: "kept in memory, for `taskmaster logs`",
        reload: FieldClass::Spawn,
        doc: "Where the process's standard output goes.",
        page: "config/stdout.md",
        parse: vp::stdout,
        same: |a, b| same_per_process(a, b, |p| p.stdout.clone()),
        show: |p| show_output(&p.stdout),
        keys: None,
    },
    Directive {
        name: "stderr",
        example: "stderr \"/var/log/web.err\"",
        shape: "a file path, with an optional `{ max-size; keep; timestamps }` block; \
                `\"stdout\"`; or `\"discard\"`",
        default: "kept in memory, for `taskmaster logs --stderr`",
        reload: FieldClass::Spawn,
        doc: "Where the process's standard error goes.",
        page: "config/stderr.md",
        parse: vp::stderr,
        same: |a, b| same_per_process(a, b, |p| p.stderr.clone()),
        show: |p| show_output(&p.stderr),
        keys: None,
    },
    Directive {
        name: "env",
        example: "env { GREETING \"hello\"; PORT \"8080\" }",
        shape: "a block of `NAME \"value\"` nodes",
        default: "none added",
        reload: FieldClass::Spawn,
        doc: "Environment variables to add to the process's environment.",
        page: "config/env.md",
        parse: vp::env,
        same: |a, b| same_per_process(a, b, |p| p.env.clone()),
        show: |p| {
            let pairs: Vec<String> = p.env.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            format!("{{{}}}", pairs.join("; "))
        },
        // Values often hold secrets and diffs end up in CI logs.
        keys: Some(|a, b| key_changes(&a.env, &b.env)),
    },
    Directive {
        name: "restart-backoff",
        example: "restart-backoff \"100ms\" \"30s\"",
        shape: "two durations, MIN and MAX (`\"100ms\" \"30s\"`); or one, a fixed wait; `0` \
                restarts at once",
        default: "`\"100ms\" \"30s\"`",
        reload: FieldClass::Supervision,
        doc: "How long a *crash restart* waits.",
        page: "config/restart-backoff.md",
        parse: vp::restart_backoff,
        same: |a, b| a.restart_backoff == b.restart_backoff,
        show: |p| p.restart_backoff.to_string(),
        keys: None,
    },
    Directive {
        name: "crash-limit",
        example: "crash-limit 5 \"60s\"",
        shape: "a number of restarts (1 to 10000) and a duration",
        default: "none: crash restarts never give up",
        reload: FieldClass::Supervision,
        doc: "Gives up on a process that keeps crashing: with `crash-limit N W`, the (N+1)-th \
              crash restart within any W is not done, and the process is `FATAL`.",
        page: "config/crash-limit.md",
        parse: vp::crash_limit,
        same: |a, b| a.crash_limit == b.crash_limit,
        show: |p| {
            p.crash_limit
                .map_or_else(|| "none".into(), |l| l.to_string())
        },
        keys: None,
    },
    // Identity: user, groups, limits, env files (see `super::credentials`).
    Directive {
        name: "user",
        example: "user \"www-data\"",
        shape: "a user name or a uid",
        default: "the daemon's own user",
        reload: FieldClass::Spawn,
        doc: "The user the process runs as.",
        page: "config/user.md#user",
        parse: vi::user,
        // The resolved uid counts too: a reload after the account changed restarts.
        same: |a, b| a.user == b.user,
        show: |p| {
            p.user
                .as_ref()
                .map_or_else(|| "default".into(), |u| quote(&u.written))
        },
        keys: None,
    },
    Directive {
        name: "group",
        example: "group \"www-data\"",
        shape: "a group name or a gid",
        default: "the user's primary group",
        reload: FieldClass::Spawn,
        doc: "The group the process runs as.",
        page: "config/user.md#group",
        parse: vi::group,
        same: |a, b| a.group == b.group,
        show: |p| {
            p.group
                .as_ref()
                .map_or_else(|| "default".into(), |g| quote(&g.written))
        },
        keys: None,
    },
    Directive {
        name: "groups",
        example: "groups \"adm\" \"ssl-cert\"",
        shape: "one or more group names or gids",
        default: "the user's groups in the group database",
        reload: FieldClass::Spawn,
        doc: "The supplementary groups of the process.",
        page: "config/user.md#groups",
        parse: vi::groups,
        same: |a, b| a.groups == b.groups,
        show: |p| {
            p.groups.as_ref().map_or_else(
                || "default".into(),
                |g| {
                    g.iter()
                        .map(|g| quote(&g.written))
                        .collect::<Vec<_>>()
                        .join(" ")
                },
            )
        },
        keys: None,
    },
    Directive {
        name: "limits",
        example: "limits { nofile 4096 65536; core \"unlimited\" }",
        shape: "a block of `NAME SOFT [HARD]` nodes",
        default: "inherited from the daemon",
        reload: FieldClass::Spawn,
        doc: "Resource limits (rlimits) the process starts with.",
        page: "config/limits.md",
        parse: vi::limits,
        same: |a, b| a.limits == b.limits,
        show: |p| {
            let items: Vec<String> = p.limits.iter().map(|(n, l)| format!("{n} {l}")).collect();
            format!("{{{}}}", items.join("; "))
        },
        keys: None,
    },
    Directive {
        name: "env-file",
        example: "env-file \".env\"",
        shape: "one or more paths (strings)",
        default: "none",
        reload: FieldClass::Spawn,
        doc: "Files of `KEY=VALUE` lines added to the process's environment.",
        page: "config/env-file.md",
        parse: vi::env_file,
        // What reaches the process: a key `env` overrides changes nothing.
        same: |a, b| a.env_file.files == b.env_file.files && file_env(a) == file_env(b),
        show: |p| {
            let files: Vec<String> = p
                .env_file
                .files
                .iter()
                .map(|f| quote(&f.display().to_string()))
                .collect();
            if files.is_empty() {
                "none".into()
            } else {
                files.join(" ")
            }
        },
        // Values often hold secrets, as for `env`.
        keys: Some(|a, b| key_changes(&file_env(a), &file_env(b))),
    },
    Directive {
        name: "readiness",
        example: "readiness { tcp 8080; interval \"500ms\"; deadline \"60s\" }",
        shape: "a block: one check (`tcp`, `http`, `exec` or `log`) and its timing",
        default: "none: `RUNNING` once `starttime` elapsed",
        reload: FieldClass::Supervision,
        doc: "A check that decides when a starting process is ready: it becomes `RUNNING` \
              once a check passed and `starttime` elapsed.",
        page: "config/readiness.md",
        parse: vc::readiness,
        same: |a, b| a.readiness == b.readiness,
        show: |p| show_check(&p.readiness, CheckRole::Readiness),
        keys: None,
    },
    Directive {
        name: "liveness",
        example: "liveness { http \"http://127.0.0.1:8080/healthz\"; threshold 3 }",
        shape: "a block: one check (`tcp`, `http` or `exec`) and its timing",
        default: "none: a running process is never probed",
        reload: FieldClass::Supervision,
        doc: "A check that restarts a running process that stops answering: `threshold` \
              failures in a row stop it, and it counts as a crash.",
        page: "config/liveness.md",
        parse: vc::liveness,
        same: |a, b| a.liveness == b.liveness,
        show: |p| show_check(&p.liveness, CheckRole::Liveness),
        keys: None,
    },
    Directive {
        name: "depends-on",
        example: "depends-on \"db\"",
        shape: "program names (condition `\"ready\"`), or a block of `PROGRAM \"CONDITION\"` \
                nodes; several nodes add up",
        default: "none",
        reload: FieldClass::Supervision,
        doc: "Programs that must reach a condition (`started`, `ready`, `healthy`, \
              `completed`) before a process of this one is spawned.",
        page: "config/depends-on.md",
        parse: vdeps::depends_on,
        same: |a, b| a.depends_on == b.depends_on,
        show: |p| show_depends_on(&p.depends_on),
        keys: None,
    },
];

/// The variables a program gets from its env files: those `env` does not override.
fn file_env(p: &ProgramSpec) -> BTreeMap<String, String> {
    p.env_file
        .vars
        .iter()
        .filter(|(k, _)| !p.env.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Every setting of the `taskmaster { … }` block (every [`DaemonSettings`] field).
pub static DAEMON: &[Directive<DaemonSettings>] = &[
    Directive {
        name: "socket",
        example: "socket \"taskmaster.sock\"",
        shape: "path (string)",
        default: "`$XDG_RUNTIME_DIR/taskmaster.sock`, else `/tmp/taskmaster-$UID/taskmaster.sock`",
        reload: FieldClass::Daemon,
        doc: "The control socket the daemon listens on, and that client commands connect to.",
        page: "config/daemon.md#socket",
        parse: |ctx, node, d| d.socket = vd::path(ctx, node),
        same: |a, b| a.socket == b.socket,
        show: |d| show_default_path(&d.socket),
        keys: None,
    },
    Directive {
        name: "logfile",
        example: "logfile \"taskmaster.log\"",
        shape: "path (string)",
        default: "none",
        reload: FieldClass::Daemon,
        doc: "The daemon's event log: every state change of every process, every spawn \
              failure, stop signal and kill, every reload and its outcome, one line each with \
              a UTC timestamp.",
        page: "config/daemon.md#logfile",
        parse: |ctx, node, d| d.logfile = vd::path(ctx, node),
        same: |a, b| a.logfile == b.logfile,
        show: |d| show_default_path(&d.logfile),
        keys: None,
    },
    Directive {
        name: "log-buffer",
        example: "log-buffer \"1MB\"",
        shape: "size: bytes (`65536`), or a string with a 1024-based unit (`\"64KB\"`, \
                `\"1MB\"`), 1KB to 16MB",
        default: "`\"64KB\"`",
        reload: FieldClass::Daemon,
        doc: "How much of each stream of each process is kept in memory for `taskmaster logs`.",
        page: "config/daemon.md#log-buffer",
        parse: crate::plan::validate::logs::log_buffer,
        same: |a, b| a.log_buffer == b.log_buffer,
        show: |d| quote(&crate::plan::model::format_size(d.log_buffer.0)),
        keys: None,
    },
];

fn show_check(check: &Option<super::check::Check>, role: CheckRole) -> String {
    check
        .as_ref()
        .map_or_else(|| "none".into(), |c| c.show(role))
}

/// The keys that differ between two maps, in key order.
fn key_changes(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Vec<KeyChange> {
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let change = match (old.get(key), new.get(key)) {
                (Some(a), Some(b)) if a == b => return None,
                (Some(_), Some(_)) => KeyAction::Changed,
                (None, _) => KeyAction::Added,
                (_, None) => KeyAction::Removed,
            };
            Some(KeyChange {
                key: key.clone(),
                change,
            })
        })
        .collect()
}

/// A `cmd` as one quoted string when it splits back into the same argv, else as the list of
/// its quoted arguments (`"sh" "-c" "echo hi"` style, the config's multi-argument form).
fn show_argv(argv: &[String]) -> String {
    match shlex::try_join(argv.iter().map(String::as_str)) {
        Ok(joined) => quote(&joined),
        Err(_) => argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "),
    }
}

/// A string value as a KDL string literal (Rust's escapes are a subset of KDL 2's).
fn quote(s: &str) -> String {
    format!("{s:?}")
}

/// `memory` is the absence of a setting, so it stays bare; the others are config strings,
/// a daemon-written file with its block.
fn show_output(target: &OutputTarget) -> String {
    match target {
        OutputTarget::Memory => target.to_string(),
        OutputTarget::Written(path, options) => {
            format!("{} {options}", quote(&path.display().to_string()))
        }
        OutputTarget::Discard | OutputTarget::File(_) | OutputTarget::SameAsStdout => {
            quote(&target.to_string())
        }
    }
}

/// `none`, the short form when every condition is `ready`, else the block form.
fn show_depends_on(deps: &BTreeMap<String, Condition>) -> String {
    if deps.is_empty() {
        "none".into()
    } else if deps.values().all(|c| *c == Condition::Ready) {
        deps.keys().map(|k| quote(k)).collect::<Vec<_>>().join(" ")
    } else {
        let items: Vec<String> = deps.iter().map(|(k, c)| format!("{k} \"{c}\"")).collect();
        format!("{{ {} }}", items.join("; "))
    }
}

fn show_list(codes: &BTreeSet<u8>) -> String {
    let items: Vec<String> = codes.iter().map(u8::to_string).collect();
    items.join(" ")
}

/// An unset daemon path is `default`: the daemon picks it.
fn show_default_path(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map_or_else(|| "default".into(), |p| quote(&p.display().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_keys(value: serde_json::Value) -> Vec<String> {
        let mut keys: Vec<String> = value
            .as_object()
            .expect("a struct serializes as an object")
            .keys()
            .filter(|k| *k != "name")
            .cloned()
            .collect();
        keys.sort_unstable();
        keys
    }

    fn sorted<T>(table: &[Directive<T>]) -> Vec<String> {
        let mut names: Vec<String> = Directive::names(table).map(str::to_owned).collect();
        names.sort_unstable();
        names
    }

    /// A model field without a directive would never be set; a directive without a field
    /// could not be stored.
    #[test]
    fn the_tables_list_every_model_field() {
        let mut spec = ProgramSpec::with_defaults("a", vec!["true".into()]);
        // An empty `depends-on` is left out of the JSON.
        spec.depends_on.insert("b".into(), Condition::Ready);
        assert_eq!(
            sorted(PROGRAM),
            json_keys(serde_json::to_value(spec).unwrap())
        );
        let daemon = DaemonSettings::default();
        assert_eq!(
            sorted(DAEMON),
            json_keys(serde_json::to_value(daemon).unwrap())
        );
    }

    /// `misplaced` help relies on the blocks sharing no name.
    #[test]
    fn names_are_unique_across_blocks() {
        let mut all: Vec<&str> = Directive::names(PROGRAM)
            .chain(Directive::names(DAEMON))
            .collect();
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count);
    }

    /// Help lines quote the examples: each must be valid as written.
    #[test]
    fn every_example_compiles() {
        // `env-file ".env"` reads the file.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), "A=1\n").unwrap();
        for d in PROGRAM {
            let cmd = if d.name == "cmd" {
                ""
            } else {
                "cmd \"true\"; "
            };
            // `db` is there for `depends-on "db"` to name.
            let text = format!(
                "program \"x\" {{ {cmd}{} }}\nprogram \"db\" {{ cmd \"true\" }}",
                d.example
            );
            let result = crate::plan::compile("t.kdl", &text, dir.path());
            assert!(result.is_ok(), "{text}");
        }
        for d in DAEMON {
            let text = format!("taskmaster {{ {} }}", d.example);
            let result = crate::plan::compile("t.kdl", &text, std::path::Path::new("/tmp"));
            assert!(result.is_ok(), "{text}");
        }
    }

    /// Each example is the directive's own, and the reload class of a block is its own.
    #[test]
    fn examples_and_classes_fit_their_directive() {
        for d in PROGRAM {
            assert!(d.example.starts_with(d.name), "{}", d.name);
            assert_ne!(d.reload, FieldClass::Daemon, "{}", d.name);
        }
        for d in DAEMON {
            assert!(d.example.starts_with(d.name), "{}", d.name);
            assert_eq!(d.reload, FieldClass::Daemon, "{}", d.name);
        }
    }
}
