//! The human form of a [`PlanDiff`]: what `diff` (offline and online) and `reload` print.
//!
//! The output is stable (tests and users compare it) and reads like `terraform plan`:
//!
//! ```text
//! + api (added)
//! - old (removed)
//! ~ web: restart
//!     cmd: "python3 -m http.server 8080" → "python3 -m http.server 8081"
//! ~ worker: update in place
//!     numprocs: 2 → 4 (start worker:2, worker:3)
//!     stoptime: 10s → 5s
//! 1 to add, 1 to restart, 1 to update, 1 to remove, 3 unchanged
//! ```
//!
//! Programs come in name order; unchanged ones only count in the summary. A `numprocs` line
//! names the processes a scale starts or stops (the highest numbers go first) and the rename
//! that keeps a pid when the count crosses 1 (`web` ↔ `web:0`).
//!
//! `env` values often hold secrets and diffs end up in CI logs, so by default an `env` change
//! names the keys that were added, removed or changed and hides every value, in the text
//! and in the JSON alike; `--show-values` (`show_values`) prints them.

use std::fmt::Write as _;

use super::diff::{Action, FieldChange, FieldClass, KeyAction, PlanDiff, ProgramDiff, Scale};
use super::model::process_name;

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// What a hidden value shows instead.
pub const HIDDEN: &str = "(hidden)";

/// Renders a diff for people, `env` values hidden; see [`render_diff_with`].
pub fn render_diff(diff: &PlanDiff, color: bool) -> String {
    render_diff_with(diff, color, false)
}

/// Renders a diff for people; ANSI colour (green add, red remove, yellow change) only when
/// `color` is true; `env` values only when `show_values`. Every line ends with a newline;
/// the last one is the summary.
pub fn render_diff_with(diff: &PlanDiff, color: bool, show_values: bool) -> String {
    let diff = &if show_values {
        diff.clone()
    } else {
        hide_values(diff)
    };
    let paint = Paint(color);
    let mut out = String::new();
    if !diff.daemon.is_empty() {
        paint.line(&mut out, YELLOW, "~ taskmaster: daemon settings");
        for change in &diff.daemon {
            field_line(&mut out, change, "");
        }
    }
    for program in diff.changed() {
        render_program(&mut out, program, paint);
    }
    let summary = summary(diff);
    paint.line(&mut out, BOLD, &summary);
    out
}

/// The `diff --format json` object: the serialized [`PlanDiff`] plus whether anything changes.
///
/// ```text
/// {
///   "changed": bool,                 // false iff applying the diff would do nothing
///   "daemon": [FieldChange],         // changed `taskmaster { … }` settings
///   "programs": [                    // every program of either config, in name order
///     { "name": "web",
///       "action": "unchanged" | "added" | "removed" | "restart" | "update",
///       "scale": null | { "from": 2, "to": 4 },   // set when numprocs changes
///       "changes": [FieldChange] }                 // empty for added/removed
///   ]
/// }
/// FieldChange = { "field": "cmd", "class": "spawn" | "supervision" | "scale" | "daemon" | "reopen",
///                 "old": "\"sleep 1\"", "new": "\"sleep 2\"" }  // values as a config writes them
/// ```
///
/// An `env` change also has `"keys": [{"key": "PORT", "change": "added" | "removed" |
/// "changed"}]`, and its `old`/`new` are `"(hidden)"` unless `show_values`.
pub fn diff_json(diff: &PlanDiff, show_values: bool) -> serde_json::Value {
    let diff = &if show_values {
        diff.clone()
    } else {
        hide_values(diff)
    };
    serde_json::json!({
        "changed": !diff.is_empty(),
        "daemon": diff.daemon,
        "programs": diff.programs,
    })
}

/// The last line of [`render_diff`]: `2 to add, 1 to restart, 0 to update, 1 to remove,
/// 3 unchanged`, or `no changes`.
fn summary(diff: &PlanDiff) -> String {
    if diff.is_empty() {
        return "no changes".to_owned();
    }
    let count = |action| diff.programs.iter().filter(|p| p.action == action).count();
    let mut line = format!(
        "{} to add, {} to restart, {} to update, {} to remove, {} unchanged",
        count(Action::Added),
        count(Action::Restart),
        count(Action::Update),
        count(Action::Removed),
        count(Action::Unchanged),
    );
    if !diff.daemon.is_empty() {
        line.push_str(", daemon settings changed");
    }
    line
}

fn render_program(out: &mut String, program: &ProgramDiff, paint: Paint) {
    let name = &program.name;
    match program.action {
        Action::Unchanged => {}
        Action::Added => paint.line(out, GREEN, &format!("+ {name} (added)")),
        Action::Removed => paint.line(out, RED, &format!("- {name} (removed)")),
        Action::Restart | Action::Update => {
            let what = if program.action == Action::Restart {
                "restart"
            } else {
                "update in place"
            };
            paint.line(out, YELLOW, &format!("~ {name}: {what}"));
            for change in &program.changes {
                // A restart stops every old process and starts the new count, so only an
                // in-place scale names the processes it touches.
                let note = match (program.action, program.scale) {
                    (Action::Update, Some(scale)) if change.field == "numprocs" => {
                        format!(" ({})", scale_note(name, scale))
                    }
                    _ if change.class == FieldClass::Reopen => " (reopened, no restart)".into(),
                    _ => String::new(),
                };
                field_line(out, change, &note);
            }
        }
    }
}

/// The diff with the values of key-tracked fields (`env`) replaced by [`HIDDEN`].
fn hide_values(diff: &PlanDiff) -> PlanDiff {
    let mut diff = diff.clone();
    let changes = diff
        .daemon
        .iter_mut()
        .chain(diff.programs.iter_mut().flat_map(|p| p.changes.iter_mut()));
    for change in changes.filter(|c| !c.keys.is_empty()) {
        change.old = HIDDEN.to_owned();
        change.new = HIDDEN.to_owned();
    }
    diff
}

fn field_line(out: &mut String, change: &FieldChange, note: &str) {
    if change.old == HIDDEN && !change.keys.is_empty() {
        let keys: Vec<String> = change
            .keys
            .iter()
            .map(|k| {
                let what = match k.change {
                    KeyAction::Added => "added",
                    KeyAction::Removed => "removed",
                    KeyAction::Changed => "changed",
                };
                format!("{} {what}", k.key)
            })
            .collect();
        let _ = writeln!(
            out,
            "    {}: {} (values hidden; --show-values prints them){note}",
            change.field,
            keys.join(", ")
        );
        return;
    }
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "    {}: {} → {}{note}",
        change.field, change.old, change.new
    );
}

/// What an in-place `numprocs` change does: `start web:2, web:3`, `stop web:3, web:2`, and
/// the rename that keeps a pid when the count crosses 1.
fn scale_note(program: &str, scale: Scale) -> String {
    let Scale { from, to } = scale;
    let names = |numprocs: u32, indices: &mut dyn Iterator<Item = u32>| {
        indices
            .map(|i| process_name(program, numprocs, i))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    if to > from {
        if from == 1 {
            parts.push(format!("{program} → {program}:0 keeps its pid"));
        }
        parts.push(format!("start {}", names(to, &mut (from..to))));
    } else if to < from {
        parts.push(format!("stop {}", names(from, &mut (to..from).rev())));
        if to == 1 {
            parts.push(format!("{program}:0 → {program} keeps its pid"));
        }
    }
    parts.join("; ")
}

/// Whether to colour, and how.
#[derive(Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn line(self, out: &mut String, style: &str, text: &str) {
        if self.0 {
            out.push_str(style);
            out.push_str(text);
            out.push_str(RESET);
        } else {
            out.push_str(text);
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use insta::assert_snapshot;

    use super::*;
    use crate::plan::diff::diff;
    use crate::plan::model::{AutoRestart, OutputTarget, Plan, ProgramSpec};

    fn plan(specs: &[ProgramSpec]) -> Plan {
        specs.iter().cloned().collect()
    }

    fn spec(name: &str, cmd: &str) -> ProgramSpec {
        let argv = shlex::split(cmd).expect("test command splits");
        ProgramSpec::with_defaults(name, argv)
    }

    fn with_numprocs(mut s: ProgramSpec, n: u32) -> ProgramSpec {
        s.numprocs = n;
        s
    }

    #[test]
    fn every_kind_of_change() {
        let old = plan(&[
            spec("old", "sleep 60"),
            spec("web", "python3 -m http.server 8080"),
            with_numprocs(spec("worker", "sh -c 'echo tick; sleep 5'"), 2),
            spec("same1", "sleep 1"),
            spec("same2", "sleep 2"),
        ]);
        let mut web = spec("web", "python3 -m http.server 8081");
        web.workingdir = Some(PathBuf::from("/srv/www"));
        web.stdout = OutputTarget::Discard;
        let mut worker = with_numprocs(spec("worker", "sh -c 'echo tick; sleep 5'"), 4);
        worker.autorestart = AutoRestart::Always;
        worker.stoptime = Duration::from_millis(500);
        let new = plan(&[
            spec("api", "sleep 60"),
            web,
            worker,
            spec("same1", "sleep 1"),
            spec("same2", "sleep 2"),
        ]);
        assert_snapshot!(render_diff(&diff(&old, &new), false), @r#"
        + api (added)
        - old (removed)
        ~ web: restart
            cmd: "python3 -m http.server 8080" → "python3 -m http.server 8081"
            workingdir: inherited → "/srv/www"
            stdout: memory → "discard"
        ~ worker: update in place
            numprocs: 2 → 4 (start worker:2, worker:3)
            autorestart: "unexpected" → #true
            stoptime: 10s → 500ms
        1 to add, 1 to restart, 1 to update, 1 to remove, 2 unchanged
        "#);
    }

    #[test]
    fn no_changes() {
        let p = plan(&[spec("a", "sleep 1")]);
        assert_snapshot!(render_diff(&diff(&p, &p), false), @"no changes");
    }

    #[test]
    fn scale_down_stops_the_highest_numbers_first() {
        let old = plan(&[with_numprocs(spec("w", "sleep 9"), 4)]);
        let new = plan(&[with_numprocs(spec("w", "sleep 9"), 2)]);
        assert_snapshot!(render_diff(&diff(&old, &new), false), @r"
        ~ w: update in place
            numprocs: 4 → 2 (stop w:3, w:2)
        0 to add, 0 to restart, 1 to update, 0 to remove, 0 unchanged
        ");
    }

    #[test]
    fn crossing_one_renames_the_survivor() {
        let one = plan(&[spec("web", "sleep 9")]);
        let three = plan(&[with_numprocs(spec("web", "sleep 9"), 3)]);
        assert_snapshot!(render_diff(&diff(&one, &three), false), @r"
        ~ web: update in place
            numprocs: 1 → 3 (web → web:0 keeps its pid; start web:1, web:2)
        0 to add, 0 to restart, 1 to update, 0 to remove, 0 unchanged
        ");
        assert_snapshot!(render_diff(&diff(&three, &one), false), @r"
        ~ web: update in place
            numprocs: 3 → 1 (stop web:2, web:1; web:0 → web keeps its pid)
        0 to add, 0 to restart, 1 to update, 0 to remove, 0 unchanged
        ");
    }

    #[test]
    fn a_restart_with_a_new_count_names_no_processes() {
        let old = plan(&[spec("w", "sleep 1")]);
        let new = plan(&[with_numprocs(spec("w", "sleep 2"), 2)]);
        assert_snapshot!(render_diff(&diff(&old, &new), false), @r#"
        ~ w: restart
            cmd: "sleep 1" → "sleep 2"
            numprocs: 1 → 2
        0 to add, 1 to restart, 0 to update, 0 to remove, 0 unchanged
        "#);
    }

    #[test]
    fn daemon_settings() {
        let old = plan(&[spec("a", "sleep 1")]);
        let mut new = old.clone();
        new.daemon.socket = Some(PathBuf::from("/run/tm.sock"));
        new.daemon.logfile = Some(PathBuf::from("/var/log/tm.log"));
        assert_snapshot!(render_diff(&diff(&old, &new), false), @r#"
        ~ taskmaster: daemon settings
            socket: default → "/run/tm.sock"
            logfile: default → "/var/log/tm.log"
        0 to add, 0 to restart, 0 to update, 0 to remove, 1 unchanged, daemon settings changed
        "#);
    }

    #[test]
    fn json_has_changed_daemon_and_programs() {
        let old = plan(&[spec("a", "sleep 1")]);
        let new = plan(&[with_numprocs(spec("a", "sleep 1"), 2)]);
        let json = diff_json(&diff(&old, &new), false);
        assert_eq!(
            json,
            serde_json::json!({
                "changed": true,
                "daemon": [],
                "programs": [{
                    "name": "a",
                    "action": "update",
                    "scale": {"from": 1, "to": 2},
                    "changes": [{"field": "numprocs", "class": "scale", "old": "1", "new": "2"}],
                }],
            })
        );
        assert_eq!(diff_json(&diff(&old, &old), false)["changed"], false);
    }

    fn with_env(mut s: ProgramSpec, pairs: &[(&str, &str)]) -> ProgramSpec {
        s.env = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        s
    }

    #[test]
    fn env_values_are_hidden_unless_asked() {
        let old = plan(&[with_env(
            spec("web", "sleep 1"),
            &[("TOKEN", "s3cret"), ("OLD", "x"), ("SAME", "y")],
        )]);
        let new = plan(&[with_env(
            spec("web", "sleep 1"),
            &[("TOKEN", "n3w-s3cret"), ("PORT", "8080"), ("SAME", "y")],
        )]);
        let d = diff(&old, &new);
        let hidden = render_diff(&d, false);
        assert_snapshot!(hidden, @r"
        ~ web: restart
            env: OLD removed, PORT added, TOKEN changed (values hidden; --show-values prints them)
        0 to add, 1 to restart, 0 to update, 0 to remove, 0 unchanged
        ");
        let json = diff_json(&d, false).to_string();
        assert!(!json.contains("s3cret") && !json.contains("8080"), "{json}");
        assert!(
            json.contains(r#"{"change":"changed","key":"TOKEN"}"#),
            "{json}"
        );
        let shown = render_diff_with(&d, false, true);
        assert!(shown.contains(r#"TOKEN="n3w-s3cret""#), "{shown}");
        assert!(diff_json(&d, true).to_string().contains("n3w-s3cret"));
    }

    #[test]
    fn colour_only_when_asked() {
        let old = plan(&[spec("a", "sleep 1")]);
        let new = plan(&[spec("b", "sleep 1")]);
        let d = diff(&old, &new);
        assert!(!render_diff(&d, false).contains('\x1b'));
        let coloured = render_diff(&d, true);
        assert!(coloured.contains("\x1b[32m+ b (added)\x1b[0m\n"));
        assert!(coloured.contains("\x1b[31m- a (removed)\x1b[0m\n"));
    }
}
