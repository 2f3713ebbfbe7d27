//! The plan diff: what changes between two plans, program by program and field by field.
//!
//! This is the one classification that `taskmaster diff`, `reload` and SIGHUP share, so
//! what `diff` prints is exactly what a reload does:
//! - a change to what a process is spawned with ([`FieldClass::Spawn`]) restarts the program;
//! - a change to supervision only ([`FieldClass::Supervision`]) applies in place;
//! - a `numprocs` change ([`FieldClass::Scale`]) starts or stops only the difference.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::model::{DaemonSettings, OutputTarget, Plan, ProgramSpec, format_duration};

/// Everything that differs between an old and a new plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanDiff {
    /// Changed daemon settings (`socket`, `logfile`).
    pub daemon: Vec<FieldChange>,
    /// Every program of either plan, sorted by name, unchanged ones included.
    pub programs: Vec<ProgramDiff>,
}

impl PlanDiff {
    /// Whether applying this diff would change nothing at all.
    pub fn is_empty(&self) -> bool {
        self.daemon.is_empty() && self.programs.iter().all(|p| p.action == Action::Unchanged)
    }

    /// The programs that change, in name order.
    pub fn changed(&self) -> impl Iterator<Item = &ProgramDiff> {
        self.programs
            .iter()
            .filter(|p| p.action != Action::Unchanged)
    }
}

/// What happens to one program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramDiff {
    pub name: String,
    pub action: Action,
    /// Set when `numprocs` changes (also for a restart, which then starts the new count).
    pub scale: Option<Scale>,
    /// The fields that differ, in declaration order. Empty for added/removed programs.
    pub changes: Vec<FieldChange>,
}

/// The one thing a reload does to a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Unchanged,
    /// New program: started when `autostart`.
    Added,
    /// Gone from the config: stopped gracefully.
    Removed,
    /// A spawn field changed: every process is stopped and started again.
    Restart,
    /// Supervision fields and/or `numprocs` changed: applied without touching running processes
    /// (except the ones a scale-down stops).
    Update,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Unchanged => "unchanged",
            Action::Added => "added",
            Action::Removed => "removed",
            Action::Restart => "restart",
            Action::Update => "update",
        })
    }
}

/// A `numprocs` change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scale {
    pub from: u32,
    pub to: u32,
}

/// One field's old and new value, shown the way a config would write them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub class: FieldClass,
    pub old: String,
    pub new: String,
    /// For a map of secrets-prone values (`env`): which keys changed, so the diff can say
    /// so without printing the values (see [`super::render`]). Empty for other fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KeyChange>,
}

/// One key of a map field that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyChange {
    pub key: String,
    pub change: KeyAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyAction {
    Added,
    Removed,
    Changed,
}

/// The keys that differ between two maps, in key order.
fn key_changes(
    old: &std::collections::BTreeMap<String, String>,
    new: &std::collections::BTreeMap<String, String>,
) -> Vec<KeyChange> {
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

/// How a reload treats a change to a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldClass {
    /// What a process is spawned with: a change restarts the program.
    Spawn,
    /// How it is supervised: a change applies in place.
    Supervision,
    /// `numprocs`: only the difference starts or stops.
    Scale,
    /// A daemon setting.
    Daemon,
}

/// One program field: its name, its reload class, how to compare it and how to show it.
struct Field {
    name: &'static str,
    class: FieldClass,
    /// Compares the typed values, so two values that happen to display alike still differ.
    same: fn(&ProgramSpec, &ProgramSpec) -> bool,
    /// Shows the value the way a config would write it.
    show: fn(&ProgramSpec) -> String,
}

macro_rules! field {
    // A field whose config name is not its Rust name (`restart-backoff`).
    ($name:ident as $config:literal, $class:ident, $show:expr) => {
        Field {
            name: $config,
            class: FieldClass::$class,
            same: |a, b| a.$name == b.$name,
            show: $show,
        }
    };
    ($name:ident, $class:ident, $show:expr) => {
        Field {
            name: stringify!($name),
            class: FieldClass::$class,
            same: |a, b| a.$name == b.$name,
            show: $show,
        }
    };
}

/// Every program field except `name`, in declaration order.
/// This table is the single source of truth for the classification.
const PROGRAM_FIELDS: &[Field] = &[
    field!(cmd, Spawn, |p| show_argv(&p.cmd)),
    field!(numprocs, Scale, |p| p.numprocs.to_string()),
    field!(umask, Spawn, |p| {
        p.umask
            .map_or_else(|| "inherited".into(), |u| format!("0o{u:03o}"))
    }),
    field!(workingdir, Spawn, |p| {
        p.workingdir
            .as_ref()
            .map_or_else(|| "inherited".into(), |d| quote(&d.display().to_string()))
    }),
    field!(autostart, Supervision, |p| format!("#{}", p.autostart)),
    field!(autorestart, Supervision, |p| p.autorestart.to_string()),
    field!(exitcodes, Supervision, |p| show_list(&p.exitcodes)),
    field!(startretries, Supervision, |p| p.startretries.to_string()),
    field!(starttime, Supervision, |p| format_duration(p.starttime)),
    field!(stopsignal, Supervision, |p| p.stopsignal.to_string()),
    field!(stoptime, Supervision, |p| format_duration(p.stoptime)),
    field!(stdout, Spawn, |p| show_output(&p.stdout)),
    field!(stderr, Spawn, |p| show_output(&p.stderr)),
    field!(env, Spawn, |p| {
        let pairs: Vec<String> = p.env.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        format!("{{{}}}", pairs.join("; "))
    }),
    field!(restart_backoff as "restart-backoff", Supervision, |p| p
        .restart_backoff
        .to_string()),
    field!(crash_limit as "crash-limit", Supervision, |p| p
        .crash_limit
        .map_or_else(|| "none".into(), |l| l.to_string())),
];

/// The names of every program field (every [`ProgramSpec`] field but `name`), in the order
/// `diff` shows them.
pub fn program_field_names() -> impl Iterator<Item = &'static str> {
    PROGRAM_FIELDS.iter().map(|f| f.name)
}

/// The reload class of a program field, or `None` for a name that is not a field.
pub fn field_class(field: &str) -> Option<FieldClass> {
    PROGRAM_FIELDS
        .iter()
        .find(|f| f.name == field)
        .map(|f| f.class)
}

/// Compares two plans. Pure: the same plans always give the same diff.
pub fn diff(old: &Plan, new: &Plan) -> PlanDiff {
    let names: BTreeSet<&String> = old.programs.keys().chain(new.programs.keys()).collect();
    let programs = names
        .into_iter()
        .map(|name| diff_program(name, old.programs.get(name), new.programs.get(name)))
        .collect();
    PlanDiff {
        daemon: diff_daemon(&old.daemon, &new.daemon),
        programs,
    }
}

fn diff_program(name: &str, old: Option<&ProgramSpec>, new: Option<&ProgramSpec>) -> ProgramDiff {
    let (old, new) = match (old, new) {
        (Some(old), Some(new)) => (old, new),
        (None, _) => return whole(name, Action::Added),
        (_, None) => return whole(name, Action::Removed),
    };
    let changes: Vec<FieldChange> = PROGRAM_FIELDS
        .iter()
        .filter(|f| !(f.same)(old, new))
        .map(|f| FieldChange {
            field: f.name.to_owned(),
            class: f.class,
            old: (f.show)(old),
            new: (f.show)(new),
            keys: if f.name == "env" {
                key_changes(&old.env, &new.env)
            } else {
                Vec::new()
            },
        })
        .collect();
    let scale = (old.numprocs != new.numprocs).then_some(Scale {
        from: old.numprocs,
        to: new.numprocs,
    });
    let action = if changes.iter().any(|c| c.class == FieldClass::Spawn) {
        Action::Restart
    } else if changes.is_empty() {
        Action::Unchanged
    } else {
        Action::Update
    };
    ProgramDiff {
        name: name.to_owned(),
        action,
        scale,
        changes,
    }
}

fn whole(name: &str, action: Action) -> ProgramDiff {
    ProgramDiff {
        name: name.to_owned(),
        action,
        scale: None,
        changes: Vec::new(),
    }
}

fn diff_daemon(old: &DaemonSettings, new: &DaemonSettings) -> Vec<FieldChange> {
    let show = |p: &Option<std::path::PathBuf>| {
        p.as_ref()
            .map_or_else(|| "default".into(), |p| quote(&p.display().to_string()))
    };
    [
        ("socket", show(&old.socket), show(&new.socket)),
        ("logfile", show(&old.logfile), show(&new.logfile)),
    ]
    .into_iter()
    .filter(|(_, o, n)| o != n)
    .map(|(field, old, new)| FieldChange {
        field: field.to_owned(),
        class: FieldClass::Daemon,
        old,
        new,
        keys: Vec::new(),
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

/// `memory` is the absence of a setting, so it stays bare; the others are config strings.
fn show_output(target: &OutputTarget) -> String {
    match target {
        OutputTarget::Memory => target.to_string(),
        OutputTarget::Discard | OutputTarget::File(_) => quote(&target.to_string()),
    }
}

fn show_list(codes: &BTreeSet<u8>) -> String {
    let items: Vec<String> = codes.iter().map(u8::to_string).collect();
    items.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::model::AutoRestart;

    fn plan(specs: &[ProgramSpec]) -> Plan {
        specs.iter().cloned().collect()
    }

    fn spec(name: &str) -> ProgramSpec {
        ProgramSpec::with_defaults(name, vec!["sleep".into(), "60".into()])
    }

    fn action_of(d: &PlanDiff, name: &str) -> Action {
        d.programs.iter().find(|p| p.name == name).unwrap().action
    }

    #[test]
    fn identical_plans_give_an_empty_diff() {
        let p = plan(&[spec("a"), spec("b")]);
        assert!(diff(&p, &p).is_empty());
    }

    #[test]
    fn added_and_removed_programs() {
        let d = diff(&plan(&[spec("a")]), &plan(&[spec("b")]));
        assert_eq!(action_of(&d, "a"), Action::Removed);
        assert_eq!(action_of(&d, "b"), Action::Added);
    }

    #[test]
    fn spawn_field_change_restarts() {
        let mut b = spec("a");
        b.env.insert("K".into(), "v".into());
        let d = diff(&plan(&[spec("a")]), &plan(&[b]));
        assert_eq!(action_of(&d, "a"), Action::Restart);
        assert_eq!(d.programs[0].changes[0].field, "env");
    }

    #[test]
    fn supervision_change_updates_in_place() {
        let mut b = spec("a");
        b.autorestart = AutoRestart::Always;
        b.stoptime = std::time::Duration::from_millis(500);
        let d = diff(&plan(&[spec("a")]), &plan(&[b]));
        assert_eq!(action_of(&d, "a"), Action::Update);
        let fields: Vec<_> = d.programs[0]
            .changes
            .iter()
            .map(|c| c.field.as_str())
            .collect();
        assert_eq!(fields, ["autorestart", "stoptime"]);
        assert_eq!(d.programs[0].changes[1].new, "500ms");
    }

    #[test]
    fn numprocs_change_scales() {
        let mut b = spec("a");
        b.numprocs = 4;
        let d = diff(&plan(&[spec("a")]), &plan(&[b]));
        assert_eq!(action_of(&d, "a"), Action::Update);
        assert_eq!(d.programs[0].scale, Some(Scale { from: 1, to: 4 }));
    }

    #[test]
    fn the_table_lists_every_spec_field_but_name() {
        let json = serde_json::to_value(spec("a")).unwrap();
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "name")
            .collect();
        let mut fields: Vec<&str> = program_field_names().collect();
        keys.sort_unstable();
        fields.sort_unstable();
        assert_eq!(keys, fields);
    }

    #[test]
    fn values_show_as_config_literals() {
        let mut b = spec("a");
        b.cmd = vec!["sh".into(), "-c".into(), "echo \"hi\"".into()];
        b.stderr = OutputTarget::File("/var/log/a.err".into());
        b.umask = Some(0o022);
        let d = diff(&plan(&[spec("a")]), &plan(&[b]));
        let shown: Vec<(&str, &str, &str)> = d.programs[0]
            .changes
            .iter()
            .map(|c| (c.field.as_str(), c.old.as_str(), c.new.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                ("cmd", r#""sleep 60""#, r#""sh -c 'echo \"hi\"'""#),
                ("umask", "inherited", "0o022"),
                ("stderr", "memory", r#""/var/log/a.err""#),
            ]
        );
    }

    #[test]
    fn crash_settings_apply_in_place() {
        use crate::plan::model::CrashLimit;
        let mut b = spec("a");
        b.restart_backoff.min = std::time::Duration::from_secs(1);
        b.crash_limit = Some(CrashLimit {
            restarts: 5,
            window: std::time::Duration::from_secs(60),
        });
        let d = diff(&plan(&[spec("a")]), &plan(&[b]));
        assert_eq!(action_of(&d, "a"), Action::Update);
        let shown: Vec<(&str, &str, &str)> = d.programs[0]
            .changes
            .iter()
            .map(|c| (c.field.as_str(), c.old.as_str(), c.new.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                ("restart-backoff", r#""100ms" "30s""#, r#""1s" "30s""#),
                ("crash-limit", "none", r#"5 "60s""#),
            ]
        );
    }

    #[test]
    fn every_field_has_a_class() {
        for name in program_field_names() {
            assert!(field_class(name).is_some(), "{name}");
        }
    }
}
