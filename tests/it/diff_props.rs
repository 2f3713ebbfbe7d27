//! Property tests of the plan diff: its classification against an oracle written here,
//! field by field, independently of `plan::diff`'s own table.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::Signal;
use proptest::prelude::*;
use proptest::sample::select;
use taskmaster::plan::check::{Check, CheckRole, Probe};
use taskmaster::plan::diff::{Action, FieldClass, PlanDiff, diff};
use taskmaster::plan::model::{CrashLimit, RestartBackoff};
use taskmaster::plan::render::render_diff;
use taskmaster::plan::{AutoRestart, DaemonSettings, OutputTarget, Plan, ProgramSpec, StopSignal};

/// Program names are drawn from this small pool so that two plans share many of them.
const NAMES: &[&str] = &["api", "web", "worker", "cron", "db", "cache"];

/// Field values come from small pools so that two random values are often equal.
fn spec(name: &'static str) -> impl Strategy<Value = ProgramSpec> {
    let spawn = (
        prop::collection::vec(
            select(&["sleep", "60", "sh", "-c", "echo hi", "a b"][..]),
            1..4,
        ),
        select(&[None, Some(0o022), Some(0o077)][..]),
        select(&[None, Some("/tmp"), Some("/srv/www")][..]),
        output(),
        output(),
        prop::collection::btree_map(select(&["A", "B"][..]), select(&["1", "2"][..]), 0..3),
    );
    let supervision = (
        1u32..5,
        any::<bool>(),
        select(
            &[
                AutoRestart::Always,
                AutoRestart::Never,
                AutoRestart::Unexpected,
            ][..],
        ),
        prop::collection::btree_set(0u8..3, 1..3),
        0u32..4,
        select(&[0u64, 500, 1000][..]),
        select(
            &[
                Signal::SIGTERM,
                Signal::SIGINT,
                Signal::SIGKILL,
                Signal::SIGUSR1,
            ][..],
        ),
        select(&[1u64, 10][..]),
    );
    let crashes = (
        select(&[(100u64, 30_000u64), (0, 0), (1000, 60_000)][..]),
        select(&[None, Some((5u32, 60u64)), Some((1, 1))][..]),
        select(&[None, Some(8080u16), Some(9090)][..]),
        select(&[None, Some(1u32), Some(3)][..]),
    );
    (spawn, supervision, crashes).prop_map(move |(spawn, sup, crashes)| {
        let ((min_ms, max_ms), limit, ready_port, live_threshold) = crashes;
        let (cmd, umask, workingdir, stdout, stderr, env) = spawn;
        let (numprocs, autostart, autorestart, exitcodes, startretries, start_ms, sig, stop_s) =
            sup;
        ProgramSpec {
            name: name.to_owned(),
            cmd: cmd.into_iter().map(str::to_owned).collect(),
            numprocs,
            umask,
            workingdir: workingdir.map(PathBuf::from),
            autostart,
            autorestart,
            exitcodes,
            startretries,
            starttime: Duration::from_millis(start_ms),
            stopsignal: StopSignal(sig),
            stoptime: Duration::from_secs(stop_s),
            stdout,
            stderr,
            env: env
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            restart_backoff: RestartBackoff {
                min: Duration::from_millis(min_ms),
                max: Duration::from_millis(max_ms),
            },
            crash_limit: limit.map(|(restarts, secs)| CrashLimit {
                restarts,
                window: Duration::from_secs(secs),
            }),
            readiness: ready_port.map(|port| {
                Check::with_defaults(
                    CheckRole::Readiness,
                    Probe::Tcp(SocketAddr::from(([127, 0, 0, 1], port))),
                )
            }),
            liveness: live_threshold.map(|threshold| Check {
                threshold,
                ..Check::with_defaults(CheckRole::Liveness, Probe::Exec(vec!["true".to_owned()]))
            }),
            // Fields this oracle does not draw keep their defaults in both plans.
            ..ProgramSpec::with_defaults(name, Vec::new())
        }
    })
}

fn output() -> impl Strategy<Value = OutputTarget> {
    select(vec![
        OutputTarget::Memory,
        OutputTarget::Discard,
        OutputTarget::File(PathBuf::from("/tmp/out.log")),
    ])
}

fn daemon() -> impl Strategy<Value = DaemonSettings> {
    let path = || select(&[None, Some("/tmp/a.sock"), Some("/tmp/b.sock")][..]);
    (path(), path()).prop_map(|(socket, logfile)| DaemonSettings {
        socket: socket.map(PathBuf::from),
        logfile: logfile.map(PathBuf::from),
        ..DaemonSettings::default()
    })
}

/// Which fields of a shared program the new plan takes from a fresh random spec.
/// Biased towards the interesting cases: nothing, supervision only, one field, anything.
fn mask() -> impl Strategy<Value = u16> {
    prop_oneof![
        Just(0u16),
        (0u16..16).prop_map(|bit| 1 << bit),
        any::<u16>().prop_map(|m| m & SUPERVISION_BITS),
        any::<u16>(),
    ]
}

/// Bits of [`mix`]'s mask: 0 cmd, 1 umask, 2 workingdir, 3 stdout, 4 stderr, 5 env (spawn);
/// 6 numprocs, 7 autostart, 8 autorestart, 9 exitcodes, 10 startretries, 11 starttime,
/// 12 stopsignal, 13 stoptime, 14 restart-backoff, 15 crash-limit (supervision and scale).
const SUPERVISION_BITS: u16 = 0b1111_1111_1100_0000;

/// `base` with the fields selected by `mask` taken from `other`.
fn mix(base: &ProgramSpec, other: &ProgramSpec, mask: u16) -> ProgramSpec {
    let mut s = base.clone();
    let take = |bit: u16| mask & (1 << bit) != 0;
    if take(0) {
        s.cmd.clone_from(&other.cmd);
    }
    if take(1) {
        s.umask = other.umask;
    }
    if take(2) {
        s.workingdir.clone_from(&other.workingdir);
    }
    if take(3) {
        s.stdout = other.stdout.clone();
    }
    if take(4) {
        s.stderr = other.stderr.clone();
    }
    if take(5) {
        s.env.clone_from(&other.env);
    }
    if take(6) {
        s.numprocs = other.numprocs;
    }
    if take(7) {
        s.autostart = other.autostart;
    }
    if take(8) {
        s.autorestart = other.autorestart;
    }
    if take(9) {
        s.exitcodes.clone_from(&other.exitcodes);
    }
    if take(10) {
        s.startretries = other.startretries;
    }
    if take(11) {
        s.starttime = other.starttime;
    }
    if take(12) {
        s.stopsignal = other.stopsignal;
    }
    if take(13) {
        s.stoptime = other.stoptime;
    }
    if take(14) {
        s.restart_backoff = other.restart_backoff;
    }
    if take(15) {
        s.crash_limit = other.crash_limit;
    }
    s
}

/// What the new plan does with one name of the pool.
#[derive(Debug, Clone, Copy)]
enum Fate {
    /// The same spec as the old plan's (or absent from both).
    Same,
    /// The old spec with some fields replaced.
    Mixed(u16),
    /// Absent from the new plan.
    Gone,
    /// A fresh spec.
    Fresh,
}

fn fate() -> impl Strategy<Value = Fate> {
    prop_oneof![
        Just(Fate::Same),
        mask().prop_map(Fate::Mixed),
        Just(Fate::Gone),
        Just(Fate::Fresh),
    ]
}

/// Two plans over the name pool that share some programs, differ in others.
fn plan_pair() -> impl Strategy<Value = (Plan, Plan)> {
    let per_name: Vec<_> = NAMES
        .iter()
        .map(|&name| (any::<bool>(), spec(name), spec(name), fate()))
        .collect();
    (per_name, daemon(), daemon(), any::<bool>()).prop_map(
        |(per_name, daemon_a, daemon_b, same_daemon)| {
            let mut old = Plan {
                daemon: daemon_a.clone(),
                programs: BTreeMap::new(),
            };
            let mut new = Plan {
                daemon: if same_daemon { daemon_a } else { daemon_b },
                programs: BTreeMap::new(),
            };
            for (present, base, other, fate) in per_name {
                let name = base.name.clone();
                let new_spec = match fate {
                    Fate::Same if present => Some(base.clone()),
                    Fate::Same | Fate::Gone => None,
                    Fate::Mixed(mask) => Some(mix(&base, &other, mask)),
                    Fate::Fresh => Some(other),
                };
                if present {
                    old.programs.insert(name.clone(), base);
                }
                if let Some(s) = new_spec {
                    new.programs.insert(name, s);
                }
            }
            (old, new)
        },
    )
}

fn spawn_differs(a: &ProgramSpec, b: &ProgramSpec) -> bool {
    a.cmd != b.cmd
        || a.umask != b.umask
        || a.workingdir != b.workingdir
        || a.stdout != b.stdout
        || a.stderr != b.stderr
        || a.env != b.env
}

fn supervision_or_scale_differs(a: &ProgramSpec, b: &ProgramSpec) -> bool {
    a.numprocs != b.numprocs
        || a.autostart != b.autostart
        || a.autorestart != b.autorestart
        || a.exitcodes != b.exitcodes
        || a.startretries != b.startretries
        || a.starttime != b.starttime
        || a.stopsignal != b.stopsignal
        || a.stoptime != b.stoptime
        || a.restart_backoff != b.restart_backoff
        || a.crash_limit != b.crash_limit
}

fn action_of<'d>(d: &'d PlanDiff, name: &str) -> Vec<&'d taskmaster::plan::diff::ProgramDiff> {
    d.programs.iter().filter(|p| p.name == name).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_plan_against_itself_changes_nothing((a, _) in plan_pair()) {
        let d = diff(&a, &a);
        prop_assert!(d.is_empty());
        prop_assert!(d.daemon.is_empty());
        prop_assert_eq!(d.programs.len(), a.programs.len());
        prop_assert!(d.programs.iter().all(|p| p.action == Action::Unchanged
            && p.changes.is_empty() && p.scale.is_none()));
        prop_assert_eq!(render_diff(&d, false), "no changes\n");
    }

    #[test]
    fn classification_matches_the_oracle((a, b) in plan_pair()) {
        let d = diff(&a, &b);

        let union: BTreeSet<&String> = a.programs.keys().chain(b.programs.keys()).collect();
        let listed: Vec<&String> = d.programs.iter().map(|p| &p.name).collect();
        // Every program of either plan exactly once, in name order.
        prop_assert_eq!(listed, union.iter().copied().collect::<Vec<_>>());

        for name in union {
            let entries = action_of(&d, name);
            let p = entries[0];
            match (a.programs.get(name), b.programs.get(name)) {
                (None, Some(_)) => {
                    prop_assert_eq!(p.action, Action::Added);
                    prop_assert!(p.changes.is_empty() && p.scale.is_none());
                }
                (Some(_), None) => {
                    prop_assert_eq!(p.action, Action::Removed);
                    prop_assert!(p.changes.is_empty() && p.scale.is_none());
                }
                (Some(old), Some(new)) => {
                    let expected = if spawn_differs(old, new) {
                        Action::Restart
                    } else if supervision_or_scale_differs(old, new) {
                        Action::Update
                    } else {
                        Action::Unchanged
                    };
                    prop_assert_eq!(p.action, expected, "{:?} → {:?}", old, new);
                    prop_assert_eq!(p.action == Action::Unchanged, old == new);
                    prop_assert_eq!(p.scale.is_some(), old.numprocs != new.numprocs);
                    if let Some(scale) = p.scale {
                        prop_assert_eq!((scale.from, scale.to), (old.numprocs, new.numprocs));
                    }
                    // A change line exists for a field iff it differs, with its class.
                    for c in &p.changes {
                        prop_assert_ne!(&c.old, &c.new, "{} shown alike", c.field);
                        let spawn = matches!(c.field.as_str(),
                            "cmd" | "umask" | "workingdir" | "stdout" | "stderr" | "env");
                        prop_assert_eq!(c.class == FieldClass::Spawn, spawn);
                        prop_assert_eq!(c.class == FieldClass::Scale, c.field == "numprocs");
                    }
                    prop_assert_eq!(
                        p.changes.iter().any(|c| c.class == FieldClass::Spawn),
                        spawn_differs(old, new)
                    );
                }
                (None, None) => unreachable!("the union holds only listed names"),
            }
        }

        prop_assert_eq!(d.daemon.is_empty(), a.daemon == b.daemon);
        prop_assert_eq!(d.is_empty(), a == b);
        let rendered = render_diff(&d, false);
        prop_assert_eq!(rendered == "no changes\n", a == b);
    }

    #[test]
    fn the_diff_survives_a_json_round_trip((a, b) in plan_pair()) {
        let d = diff(&a, &b);
        let json = serde_json::to_string(&d).unwrap();
        let back: PlanDiff = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, d);
    }
}
