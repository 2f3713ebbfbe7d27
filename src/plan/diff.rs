//! The plan diff: what changes between two plans, program by program and field by field.
//!
//! This is the one classification that `taskmaster diff`, `reload` and SIGHUP share, so
//! what `diff` prints is exactly what a reload does:
//! - a change to what a process is spawned with ([`FieldClass::Spawn`]) restarts the program;
//! - a change to supervision only ([`FieldClass::Supervision`]) applies in place;
//! - a `numprocs` change ([`FieldClass::Scale`]) starts or stops only the difference;
//! - a change between two daemon-written log targets ([`FieldClass::Reopen`]: a new path,
//!   `max-size`, `keep` or `timestamps`) reopens the file in place.
//!
//! Each field's class, and how its values compare and show, is its directive's (see
//! [`super::directive`]); this module only walks the tables.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::directive::{DAEMON, Directive, PROGRAM};
use super::model::{DaemonSettings, OutputTarget, Plan, ProgramSpec};

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
    /// A daemon-written log target's path or block (`max-size`, `keep`, `timestamps`): the
    /// file is reopened with the new settings, no restart. The `stdout`/`stderr` directives
    /// are [`FieldClass::Spawn`]; a change between two daemon-written targets is this.
    Reopen,
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
    let mut changes = changes(PROGRAM, old, new);
    for change in &mut changes {
        let targets = match change.field.as_str() {
            "stdout" => (&old.stdout, &new.stdout),
            "stderr" => (&old.stderr, &new.stderr),
            _ => continue,
        };
        if let (OutputTarget::Written(..), OutputTarget::Written(..)) = targets {
            change.class = FieldClass::Reopen;
        }
    }
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
    changes(DAEMON, old, new)
}

/// The fields of `table` that differ between `old` and `new`, in the table's order.
fn changes<T>(table: &[Directive<T>], old: &T, new: &T) -> Vec<FieldChange> {
    table
        .iter()
        .filter(|d| !(d.same)(old, new))
        .map(|d| FieldChange {
            field: d.name.to_owned(),
            class: d.reload,
            old: (d.show)(old),
            new: (d.show)(new),
            keys: d.key_changes(old, new),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::model::{AutoRestart, OutputTarget};

    fn plan(specs: &[ProgramSpec]) -> Plan {
        specs.iter().cloned().collect()
    }

    fn spec(name: &str) -> ProgramSpec {
        ProgramSpec::with_defaults(name, vec!["sleep".into(), "60".into()])
    }

    fn action_of(d: &PlanDiff, name: &str) -> Action {
        d.programs.iter().find(|p| p.name == name).unwrap().action
    }

    /// The first program's changes as (field, old, new), as `diff` shows them.
    fn changes_shown(d: &PlanDiff) -> Vec<(&str, &str, &str)> {
        d.programs[0]
            .changes
            .iter()
            .map(|c| (c.field.as_str(), c.old.as_str(), c.new.as_str()))
            .collect()
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
    fn values_show_as_config_literals() {
        let mut b = spec("a");
        b.cmd = vec!["sh".into(), "-c".into(), "echo \"hi\"".into()];
        b.stderr = OutputTarget::File("/var/log/a.err".into());
        b.umask = Some(0o022);
        let d = diff(&plan(&[spec("a")]), &plan(&[b]));
        let shown = changes_shown(&d);
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
    fn a_daemon_written_target_changes_in_place() {
        use crate::plan::model::LogOptions;
        let mut a = spec("a");
        a.stdout = OutputTarget::Written("/l/a.log".into(), LogOptions::default());
        let mut b = a.clone();
        b.stdout = OutputTarget::Written(
            "/l/b.log".into(),
            LogOptions {
                max_size: Some(1024),
                ..LogOptions::default()
            },
        );
        let d = diff(&plan(&[a.clone()]), &plan(&[b]));
        assert_eq!(action_of(&d, "a"), Action::Update);
        assert_eq!(d.programs[0].changes[0].class, FieldClass::Reopen);
        assert_eq!(
            d.programs[0].changes[0].new,
            r#""/l/b.log" { max-size "1KB" }"#
        );
        // Handing the file to the child instead is a restart.
        let mut c = a.clone();
        c.stdout = OutputTarget::File("/l/a.log".into());
        let d = diff(&plan(&[a]), &plan(&[c]));
        assert_eq!(action_of(&d, "a"), Action::Restart);
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
        let shown = changes_shown(&d);
        assert_eq!(
            shown,
            [
                ("restart-backoff", r#""100ms" "30s""#, r#""1s" "30s""#),
                ("crash-limit", "none", r#"5 "60s""#),
            ]
        );
    }
}
