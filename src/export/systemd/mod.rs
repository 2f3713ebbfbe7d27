//! `taskmaster export systemd`: one template unit `tm-PROGRAM@.service` per program and one
//! `tm-CONFIG.target` that starts every autostart instance.
//!
//! Process `web:N` is the instance `tm-web@N.service` (a one-process program's `web` is
//! `tm-web@0.service`). The target `Wants=` each instance of each autostart program, and every
//! unit is `PartOf=` the target, so starting or stopping the target starts or stops them all.
//!
//! The mapping, setting by setting, is in `map`; the book's "Outgrowing one machine" chapter
//! has it as a table. It was measured against systemd 252 (Debian 12): every unit must pass
//! `systemd-analyze verify` with nothing on stderr, which `tests/it/export_verify.rs` checks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{ExportEnv, Setting, Unmapped, comment_lines, daemon_settings, kdl_quote, settings};
use crate::plan::check::{Check, CheckRole, Probe};
use crate::plan::credentials::LimitName;
use crate::plan::model::Condition;
use crate::plan::model::{CrashLimit, RestartBackoff, format_duration};
use crate::plan::placeholder::{Who, expand_spec, uses_placeholders};
use crate::plan::{AutoRestart, OutputTarget, Plan, ProgramSpec};
use crate::runtime::spawn::resolve_program;

pub mod escape;

/// The prefix of every unit name, so exported units never collide with the host's own.
pub const PREFIX: &str = "tm-";

/// systemd's longest unit name (`UNIT_NAME_MAX` less the terminating NUL).
const UNIT_NAME_MAX: usize = 255;

/// Signals systemd counts as a clean exit; taskmaster counts a death by any signal as
/// unexpected, so `autorestart "unexpected"` must force a restart on these.
const CLEAN_SIGNALS: &str = "SIGHUP SIGINT SIGTERM SIGPIPE";

/// One file to write: its name (`tm-web@.service`) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitFile {
    pub name: String,
    pub text: String,
}

/// The exported units (the target last) and everything that could not map.
#[derive(Debug, Clone)]
pub struct Export {
    pub units: Vec<UnitFile>,
    pub unmapped: Vec<Unmapped>,
    /// The instances to name to `systemd-analyze verify` or `systemctl`: `tm-web@0.service`…
    pub instances: Vec<String>,
    /// The target's file name.
    pub target: String,
}

/// Why a plan cannot be exported at all.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(
        "program \"{program}\": its unit name `{unit}` is longer than systemd's {UNIT_NAME_MAX} characters"
    )]
    NameTooLong { program: String, unit: String },
}

/// Exports `plan`. `config` names the target (`tm-CONFIG.target`); `source` is the config's
/// file name, quoted in each file's header.
pub fn export(
    plan: &Plan,
    config: &str,
    source: &str,
    env: &ExportEnv,
) -> Result<Export, ExportError> {
    let target = format!("{PREFIX}{}.target", escape::unit_name_part(config));
    if target.len() > UNIT_NAME_MAX {
        return Err(ExportError::NameTooLong {
            program: config.to_owned(),
            unit: target,
        });
    }
    let mut units = Vec::new();
    let mut unmapped = Vec::new();
    let mut instances = Vec::new();
    let mut wanted = Vec::new();
    for spec in plan.programs.values() {
        let template = template_name(&spec.name);
        let longest = instance_name(&spec.name, spec.numprocs.saturating_sub(1));
        if longest.len() > UNIT_NAME_MAX {
            return Err(ExportError::NameTooLong {
                program: spec.name.clone(),
                unit: longest,
            });
        }
        let ctx = Ctx {
            plan,
            target: &target,
            source,
            env,
        };
        let (text, notes) = program_unit(spec, &ctx);
        let names: Vec<String> = (0..spec.numprocs)
            .map(|i| instance_name(&spec.name, i))
            .collect();
        let drop_ins = if spec.numprocs > 1 && uses_placeholders(spec) {
            (1..spec.numprocs)
                .map(|i| UnitFile {
                    name: format!("{}.d/{DROP_IN}", instance_name(&spec.name, i)),
                    text: process_drop_in(spec, i, &ctx),
                })
                .collect()
        } else {
            Vec::new()
        };
        if spec.autostart {
            wanted.extend(names.iter().cloned());
        }
        instances.extend(names);
        unmapped.extend(notes);
        units.push(UnitFile {
            name: template,
            text,
        });
        units.extend(drop_ins);
    }
    let daemon: Vec<Unmapped> = daemon_settings(&plan.daemon)
        .into_iter()
        .map(|(name, setting)| {
            let why = match name {
                "socket" => "no taskmaster daemon runs under systemd: systemctl is the control",
                "logfile" => "state changes are in the journal (journalctl -u 'tm-*')",
                _ => "no taskmaster daemon runs under systemd",
            };
            Unmapped::daemon(setting, why)
        })
        .collect();
    units.push(UnitFile {
        name: target.clone(),
        text: target_unit(config, source, &wanted, &daemon),
    });
    unmapped.extend(daemon);
    Ok(Export {
        units,
        unmapped,
        instances,
        target,
    })
}

/// `tm-web@.service`.
pub fn template_name(program: &str) -> String {
    format!("{PREFIX}{}@.service", escape::unit_name_part(program))
}

/// `tm-web@3.service`.
pub fn instance_name(program: &str, index: u32) -> String {
    format!(
        "{PREFIX}{}@{index}.service",
        escape::unit_name_part(program)
    )
}

struct Ctx<'a> {
    plan: &'a Plan,
    target: &'a str,
    source: &'a str,
    env: &'a ExportEnv,
}

/// One line of a unit section: a directive or a comment.
#[derive(Debug)]
enum Line {
    Set(&'static str, String),
    Comment(String),
}

/// A unit being built: its `[Unit]` and `[Service]` lines and what could not map.
struct Unit<'a> {
    program: &'a str,
    header: Vec<String>,
    unit: Vec<Line>,
    service: Vec<Line>,
    unmapped: Vec<Unmapped>,
}

impl Unit<'_> {
    fn set(&mut self, key: &'static str, value: impl Into<String>) {
        self.service.push(Line::Set(key, value.into()));
    }

    fn comment(&mut self, text: impl Into<String>) {
        self.service.push(Line::Comment(text.into()));
    }

    /// Records a setting systemd cannot express: a comment here, a warning on stderr.
    fn cannot(&mut self, setting: impl Into<String>, why: impl Into<String>) {
        let note = Unmapped::new(self.program, setting, why);
        self.service.push(Line::Comment(note.comment()));
        self.unmapped.push(note);
    }

    fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.header {
            push_comment(&mut out, line);
        }
        for (section, lines) in [("Unit", &self.unit), ("Service", &self.service)] {
            out.push_str(&format!("\n[{section}]\n"));
            for line in lines {
                match line {
                    Line::Set(key, value) => out.push_str(&format!("{key}={value}\n")),
                    Line::Comment(text) => push_comment(&mut out, text),
                }
            }
        }
        out
    }
}

/// A comment, wrapped, one `# ` line per line.
fn push_comment(out: &mut String, text: &str) {
    for line in comment_lines(text) {
        out.push_str(&format!("# {line}\n"));
    }
}

/// The file name of the per-instance drop-ins that hold process N's placeholders.
pub const DROP_IN: &str = "50-taskmaster-process.conf";

/// Process `index`'s own values (`cmd`, `workingdir`, `stdout`, `stderr`, `env`, expanded)
/// as a drop-in for its instance: the template holds process 0's.
fn process_drop_in(spec: &ProgramSpec, index: u32, ctx: &Ctx) -> String {
    let process = spec.process_name(index);
    let expanded = expand_spec(
        spec,
        &Who {
            program: &spec.name,
            process: &process,
            num: index,
        },
    );
    let mut unit = Unit {
        program: &spec.name,
        header: Vec::new(),
        unit: Vec::new(),
        service: Vec::new(),
        unmapped: Vec::new(),
    };
    for setting in settings(&expanded) {
        if matches!(
            setting,
            Setting::Cmd(_)
                | Setting::Workingdir(_)
                | Setting::Stdout(_)
                | Setting::Stderr(_)
                | Setting::Env(_)
                | Setting::EnvFile(_)
        ) {
            map(&mut unit, &expanded, setting, ctx);
        }
    }
    // What could not map was said in the template, for process 0; only the values differ.
    let mut out = format!(
        "# Generated by `taskmaster export systemd` from {}: process {} of program {}, its \
         placeholders expanded.\n\n[Service]\nExecStart=\n",
        ctx.source,
        kdl_quote(&process),
        kdl_quote(&spec.name)
    );
    for line in &unit.service {
        if let Line::Set(key, value) = line {
            out.push_str(&format!("{key}={value}\n"));
        }
    }
    out
}

fn program_unit(spec: &ProgramSpec, ctx: &Ctx) -> (String, Vec<Unmapped>) {
    // Placeholders: the template holds process 0's values; the other instances' are in
    // their drop-ins (systemd's `%i` has no `{process_num+K}` arithmetic).
    let first = spec.process_name(0);
    let expanded = expand_spec(
        spec,
        &Who {
            program: &spec.name,
            process: &first,
            num: 0,
        },
    );
    let placeholders = uses_placeholders(spec);
    let spec: &ProgramSpec = &expanded;
    let mut unit = Unit {
        program: &spec.name,
        header: vec![format!(
            "Generated by `taskmaster export systemd` from {}: program {}.",
            ctx.source,
            kdl_quote(&spec.name)
        )],
        unit: vec![
            Line::Set(
                "Description",
                format!(
                    "taskmaster program {}, process %i",
                    escape::text_value(&kdl_quote(&spec.name))
                ),
            ),
            Line::Set("PartOf", ctx.target.to_owned()),
        ],
        service: vec![Line::Set("Type", "exec".into())],
        unmapped: Vec::new(),
    };
    for setting in settings(spec) {
        map(&mut unit, spec, setting, ctx);
    }
    if placeholders {
        unit.header.push(if spec.numprocs > 1 {
            format!(
                "Placeholders: this template holds process {}'s values ({{process_num}} 0); \
                 each other instance's are in its drop-in, {}.d/{DROP_IN}.",
                kdl_quote(&first),
                instance_name(&spec.name, 1)
            )
        } else {
            "Placeholders expanded for the only process.".to_owned()
        });
    }
    identity_env(&mut unit, spec);
    if completed_dependency(&spec.name, ctx.plan) {
        oneshot(&mut unit, spec);
    }
    let text = unit.render();
    (text, unit.unmapped)
}

/// Maps one setting. A new [`Setting`] is one more arm here (and its test below).
fn map(unit: &mut Unit, spec: &ProgramSpec, setting: Setting, ctx: &Ctx) {
    match setting {
        Setting::Cmd(argv) => exec_start(unit, argv, spec, ctx),
        Setting::Numprocs(n) => {
            let names = if n == 1 {
                format!(
                    "the instance {} is {}",
                    instance_name(&spec.name, 0),
                    kdl_quote(&spec.name)
                )
            } else {
                format!(
                    "the instances {} … {} are {}:0 … {}:{}",
                    instance_name(&spec.name, 0),
                    instance_name(&spec.name, n - 1),
                    spec.name,
                    spec.name,
                    n - 1
                )
            };
            unit.header.push(format!("numprocs {n}: {names}."));
        }
        Setting::Umask(Some(mask)) => unit.set("UMask", format!("{mask:04o}")),
        Setting::Umask(None) => {}
        Setting::Workingdir(Some(dir)) => match escape::path_value(&dir.to_string_lossy()) {
            Some(value) => unit.set("WorkingDirectory", value),
            None => unit.cannot(
                format!("workingdir {}", kdl_quote(&dir.to_string_lossy())),
                "systemd cannot read back a path with a control character or whitespace at \
                 an end; the unit runs in /",
            ),
        },
        Setting::Workingdir(None) => {}
        Setting::Autostart(true) => {}
        Setting::Autostart(false) => unit.header.push(format!(
            "autostart #false: {} does not start it; `systemctl start {}` does.",
            ctx.target,
            instance_name(&spec.name, 0)
        )),
        Setting::Restart {
            autorestart,
            exitcodes,
        } => restart(unit, autorestart, exitcodes),
        Setting::Startup {
            starttime,
            startretries,
        } => unit.cannot(
            format!(
                "starttime {}, startretries {startretries}",
                kdl_quote(&format_duration(starttime))
            ),
            "systemd has no starttime (a process is started once its exec succeeds) and no \
             limit on failed starts: Restart= alone decides whether a process that dies \
             early comes back",
        ),
        Setting::Stop { signal, time } => {
            unit.set("KillMode", "control-group");
            unit.set("KillSignal", signal.0.as_str());
            if time.is_zero() {
                unit.comment(
                    "stoptime 0: TimeoutStopSec=0 would mean no timeout, so the shortest one",
                );
                unit.set("TimeoutStopSec", "1us");
            } else {
                unit.set("TimeoutStopSec", timespan(time));
            }
        }
        Setting::CrashLoop { backoff, limit } => crash_loop(unit, spec, backoff, limit),
        Setting::Check { check: None, .. } => {}
        Setting::Check {
            role: CheckRole::Readiness,
            check: Some(check),
        } => readiness(unit, check, ctx),
        Setting::Check {
            role: CheckRole::Liveness,
            check: Some(check),
        } => unit.cannot(
            format!("liveness {}", check.show(CheckRole::Liveness)),
            "systemd restarts a unit when its process ends, never because it stops answering \
             (WatchdogSec= needs the program to call sd_notify); the check is left out",
        ),
        // Until the export work maps it (After=/Wants= cover `started` only): a note.
        Setting::DependsOn(deps) => depends_on(unit, deps, ctx),
        Setting::Stdout(target) => output(unit, "stdout", "StandardOutput", target),
        Setting::Stderr(target) => output(unit, "stderr", "StandardError", target),
        // systemd resolves names itself when the unit starts, as taskmaster does at compile
        // time; with `User=` it also sets HOME, USER, LOGNAME and SHELL and the user's
        // supplementary groups, as taskmaster does.
        Setting::User(Some(user)) => unit.set("User", escape::text_value(&user.written)),
        Setting::Group(Some(group)) => unit.set("Group", escape::text_value(&group.written)),
        Setting::Groups(Some(groups)) => {
            let names: Vec<String> = groups
                .iter()
                .map(|g| escape::text_value(&g.written))
                .collect();
            unit.set("SupplementaryGroups", names.join(" "));
        }
        Setting::User(None) | Setting::Group(None) | Setting::Groups(None) => {}
        Setting::Limits(limits) => {
            for (name, limit) in limits {
                let value =
                    |v: Option<u64>| v.map_or_else(|| "infinity".to_owned(), |n| n.to_string());
                let text = if limit.soft == limit.hard {
                    value(limit.soft)
                } else {
                    format!("{}:{}", value(limit.soft), value(limit.hard))
                };
                unit.set(limit_key(*name), text);
            }
        }
        Setting::EnvFile(files) => {
            if !files.files.is_empty() {
                unit.comment(format!(
                    "env-file {}: inlined as read when exported (`env` wins)",
                    files.names()
                ));
            }
            for (key, value) in files.vars_under(&spec.env) {
                env_line(unit, key, value);
            }
        }
        Setting::Env(env) => {
            for (key, value) in env {
                env_line(unit, key, value);
            }
        }
    }
}

/// `ExecStart=` with an absolute executable, found now on the program's PATH (its `env`'s,
/// else the exporting process's): systemd searches only a fixed PATH of its own.
/// argv[0] is kept as written with the `@` prefix when it differs from the path.
fn exec_start(unit: &mut Unit, argv: &[String], spec: &ProgramSpec, ctx: &Ctx) {
    let Some((program, args)) = argv.split_first() else {
        return;
    };
    let path_var = spec
        .env
        .get("PATH")
        .map(std::ffi::OsStr::new)
        .or(ctx.env.path.as_deref());
    let workingdir = spec.workingdir.as_deref();
    let exe: PathBuf = match resolve_program(program, path_var, workingdir) {
        Ok(found) if found.is_absolute() => found,
        Ok(found) => ctx.env.cwd.join(found),
        Err(_) if program.contains('/') => {
            let base = workingdir.unwrap_or(&ctx.env.cwd);
            let path = base.join(program);
            unit.cannot(
                format!("cmd {}", kdl_quote(program)),
                format!(
                    "{} is not an executable file on this machine; the unit names it anyway",
                    path.display()
                ),
            );
            path
        }
        Err(_) => {
            unit.cannot(
                format!("cmd {}", kdl_quote(program)),
                "not found on PATH on this machine, so no absolute path could be written; \
                 systemd will look for it on its own fixed PATH",
            );
            PathBuf::from(program)
        }
    };
    if Path::new(program).is_relative() && workingdir.is_none() && program.contains('/') {
        unit.cannot(
            format!("cmd {}", kdl_quote(program)),
            "a relative program with no workingdir was resolved against the directory the \
             export ran in",
        );
    }
    let exe = exe.to_string_lossy().into_owned();
    let mut line = String::new();
    if exe != *program {
        line.push('@');
    }
    line.push_str(&escape::exec_word(&exe, true));
    if exe != *program {
        line.push(' ');
        line.push_str(&escape::exec_word(program, false));
    }
    for arg in args {
        line.push(' ');
        line.push_str(&escape::exec_word(arg, false));
    }
    unit.set("ExecStart", line);
}

/// autorestart and exitcodes. Unlimited crash restarts (taskmaster's rule) need
/// `StartLimitIntervalSec=0`, which systemd reads only in [Unit].
fn restart(unit: &mut Unit, autorestart: AutoRestart, exitcodes: &BTreeSet<u8>) {
    let policy = match autorestart {
        AutoRestart::Always => "always",
        AutoRestart::Never => "no",
        AutoRestart::Unexpected => "on-failure",
    };
    unit.set("Restart", policy);
    let success: Vec<String> = exitcodes
        .iter()
        .filter(|&&c| c != 0)
        .map(u8::to_string)
        .collect();
    if !success.is_empty() {
        unit.set("SuccessExitStatus", success.join(" "));
    }
    if autorestart == AutoRestart::Unexpected {
        let zero = if exitcodes.contains(&0) { "" } else { "0 " };
        unit.set("RestartForceExitStatus", format!("{zero}{CLEAN_SIGNALS}"));
    }
    if autorestart != AutoRestart::Never {
        unit.unit
            .push(Line::Set("StartLimitIntervalSec", "0".into()));
    }
}

/// restart-backoff as `RestartSec=MIN`, crash-limit as `StartLimitBurst=N+1` (the start and
/// N restarts) within `StartLimitIntervalSec=W`.
///
/// systemd 252 waits the same `RestartSec=` before every restart, the first included;
/// taskmaster restarts at once the first time, then waits MIN, doubling up to MAX (growth
/// needs systemd 254's `RestartSteps=`/`RestartMaxDelaySec=`). So any backoff but `0` is also
/// a warning, the default (100ms … 30s) included: without it, a crash loop under systemd
/// would restart ten times a second for ever where taskmaster slows down to once per 30 s.
fn crash_loop(
    unit: &mut Unit,
    spec: &ProgramSpec,
    backoff: RestartBackoff,
    limit: Option<CrashLimit>,
) {
    if spec.autorestart == AutoRestart::Never {
        return;
    }
    if backoff != RestartBackoff::default() {
        unit.set("RestartSec", timespan(backoff.min));
    }
    if !(backoff.min.is_zero() && backoff.max.is_zero()) {
        let default = if backoff == RestartBackoff::default() {
            " (the default)"
        } else {
            ""
        };
        let growth = if backoff.min == backoff.max {
            String::new()
        } else {
            format!(
                ", doubling up to {} (growth needs systemd 254: RestartSteps=, \
                 RestartMaxDelaySec=)",
                format_duration(backoff.max)
            )
        };
        unit.cannot(
            format!("restart-backoff {backoff}{default}"),
            format!(
                "systemd waits RestartSec={} before every restart; taskmaster restarts at once \
                 the first time, then waits {}{growth}",
                timespan(backoff.min),
                format_duration(backoff.min)
            ),
        );
    }
    if let Some(limit) = limit {
        unit.unit
            .retain(|l| !matches!(l, Line::Set("StartLimitIntervalSec", _)));
        unit.unit
            .push(Line::Set("StartLimitIntervalSec", timespan(limit.window)));
        unit.unit.push(Line::Set(
            "StartLimitBurst",
            limit.restarts.saturating_add(1).to_string(),
        ));
    }
}

fn output(unit: &mut Unit, field: &str, key: &'static str, target: &OutputTarget) {
    match target {
        OutputTarget::Memory => unit.set(key, "journal"),
        OutputTarget::Discard => unit.set(key, "null"),
        // `StandardError=inherit` is the file descriptor of standard output.
        OutputTarget::SameAsStdout => unit.set(key, "inherit"),
        OutputTarget::Written(path, options) => {
            unit.cannot(
                format!("{field} {} {options}", kdl_quote(&path.to_string_lossy())),
                "systemd appends to the file but neither rotates nor timestamps it: use \
                 logrotate with copytruncate, or the journal",
            );
            output(unit, field, key, &OutputTarget::File(path.clone()));
        }
        OutputTarget::File(path) => match escape::path_value(&path.to_string_lossy()) {
            Some(value) => unit.set(key, format!("append:{value}")),
            None => {
                unit.cannot(
                    format!("{field} {}", kdl_quote(&path.to_string_lossy())),
                    "systemd cannot read back a path with a control character or whitespace \
                     at an end; the output goes to the journal",
                );
                unit.set(key, "journal");
            }
        },
    }
}

/// A readiness check as `ExecStartPost=taskmaster probe …`: with `Type=exec`, systemd runs
/// it once the program's exec succeeded and counts the unit active (taskmaster's RUNNING)
/// only when it exits 0, so units ordered `After=` this one start once it is ready, and a
/// probe that gives up at the deadline fails the start (`Restart=` decides what follows).
/// `TimeoutStartSec=` is a backstop a little past the deadline, at which the probe has
/// already given up with the reason in the journal. A `log` check cannot map.
fn readiness(unit: &mut Unit, check: &Check, ctx: &Ctx) {
    let (kind, words): (&str, Vec<String>) = match &check.probe {
        Probe::Tcp(addr) => ("tcp", vec![addr.to_string()]),
        Probe::Http(target) => ("http", vec![target.url.clone()]),
        Probe::Exec(argv) => ("exec", argv.clone()),
        Probe::Log(_) => {
            unit.cannot(
                format!("readiness {}", check.show(CheckRole::Readiness)),
                "systemd cannot watch a unit's output for a line (Type=notify needs the \
                 program to call sd_notify): the unit is active as soon as its exec succeeded",
            );
            return;
        }
    };
    let mut line = escape::exec_word(&ctx.env.taskmaster.to_string_lossy(), true);
    line.push_str(" probe");
    for (option, value) in [
        ("interval", format_duration(check.interval)),
        ("timeout", format_duration(check.timeout)),
        ("threshold", check.threshold.to_string()),
        ("deadline", format_duration(check.deadline)),
    ] {
        line.push_str(&format!(" --{option} {}", escape::exec_word(&value, false)));
    }
    if !check.delay.is_zero() {
        line.push_str(&format!(
            " --delay {}",
            escape::exec_word(&format_duration(check.delay), false)
        ));
    }
    line.push(' ');
    line.push_str(kind);
    for word in &words {
        line.push(' ');
        line.push_str(&escape::exec_word(word, false));
    }
    unit.comment(format!(
        "readiness {}: active once `taskmaster probe` passes (that taskmaster must be \
         installed at this path)",
        check.show(CheckRole::Readiness)
    ));
    unit.set("ExecStartPost", line);
    unit.set(
        "TimeoutStartSec",
        timespan(check.deadline.saturating_add(PROBE_GRACE)),
    );
}

/// How far past a readiness deadline systemd's own start timeout is: the probe gives up at
/// the deadline with its reason; this only catches a probe that could not.
const PROBE_GRACE: Duration = Duration::from_secs(5);

/// `depends-on`, as unit dependencies on every instance of each dependency: `started` →
/// `Wants=` + `After=`; `ready`, `healthy` and `completed` → `Requires=` + `After=`. A
/// `completed` dependency's own unit is a oneshot (see [`completed_dependency`]); a ready one
/// is active once its readiness probe passed (`ExecStartPost=`). `After=` also gives
/// taskmaster's stop order: systemd stops this unit before what it is ordered after.
fn depends_on(unit: &mut Unit, deps: &BTreeMap<String, Condition>, ctx: &Ctx) {
    let mut required = BTreeMap::new();
    for (dep, condition) in deps {
        let Some(dep_spec) = ctx.plan.programs.get(dep) else {
            continue;
        };
        let key = if *condition == Condition::Started {
            "Wants"
        } else {
            required.insert(dep.clone(), *condition);
            "Requires"
        };
        let names: Vec<String> = (0..dep_spec.numprocs)
            .map(|i| instance_name(dep, i))
            .collect();
        for name in &names {
            unit.unit.push(Line::Set(key, name.clone()));
        }
        for name in &names {
            unit.unit.push(Line::Set("After", name.clone()));
        }
        if *condition == Condition::Healthy {
            unit.cannot(
                format!("depends-on {{ {} \"healthy\" }}", kdl_quote(dep)),
                "systemd has no liveness checks: this unit waits until the dependency is \
                 active (ready), as for \"ready\"",
            );
        }
    }
    if !required.is_empty() {
        unit.cannot(
            super::depends_on_text(&required),
            "with Requires=, systemd fails this unit's start when a dependency fails to start, \
             instead of waiting through the dependency's restarts, and stops or restarts this \
             unit when the dependency is stopped or restarted",
        );
    }
}

/// A dependency some program waits on to complete: `Type=oneshot` + `RemainAfterExit=yes`, so
/// the unit is active (and its dependents start) once its process exited successfully, and
/// stays active after. No start timeout: a oneshot's whole run is its start. systemd refuses `RestartForceExitStatus=` for a oneshot, so a
/// death by a clean signal is not restarted there: a note when autorestart is "unexpected".
fn oneshot(unit: &mut Unit, spec: &ProgramSpec) {
    for line in &mut unit.service {
        if let Line::Set("Type", value) = line {
            *value = "oneshot".into();
        }
    }
    let forced = unit
        .service
        .iter()
        .any(|l| matches!(l, Line::Set("RestartForceExitStatus", _)));
    unit.service
        .retain(|l| !matches!(l, Line::Set("RestartForceExitStatus", _)));
    unit.header.push(
        "A dependency that must complete: Type=oneshot, active once its process exited \
         successfully."
            .to_owned(),
    );
    unit.set("RemainAfterExit", "yes");
    unit.service
        .retain(|l| !matches!(l, Line::Set("TimeoutStartSec", _)));
    unit.set("TimeoutStartSec", "infinity");
    if spec.readiness.is_some() {
        unit.comment(
            "a oneshot runs ExecStartPost= after its process exited: the readiness probe \
             then checks what the process left behind",
        );
    }
    if forced {
        unit.cannot(
            "autorestart \"unexpected\" (of a dependency that must complete)",
            "systemd refuses RestartForceExitStatus= for Type=oneshot, so a death by SIGHUP, \
             SIGINT, SIGTERM or SIGPIPE (or an exit 0 not in exitcodes) counts as success and \
             is not restarted",
        );
    }
}

/// Whether some program waits for `program` to complete: its unit is then a oneshot.
fn completed_dependency(program: &str, plan: &Plan) -> bool {
    plan.programs
        .values()
        .any(|p| p.depends_on.get(program) == Some(&Condition::Completed))
}

/// `TASKMASTER_PROGRAM`, `TASKMASTER_PROCESS` and `TASKMASTER_PROCESS_NUM`, which every
/// process gets: the instance name (`%i`) is the process number.
fn identity_env(unit: &mut Unit, spec: &ProgramSpec) {
    unit.set(
        "Environment",
        escape::env_assignment("TASKMASTER_PROGRAM", &spec.name),
    );
    let process = if spec.numprocs == 1 {
        escape::env_assignment("TASKMASTER_PROCESS", &spec.name)
    } else {
        let quoted = escape::env_assignment("TASKMASTER_PROCESS", &format!("{}:", spec.name));
        format!("{}%i\"", quoted.trim_end_matches('"'))
    };
    unit.set("Environment", process);
    unit.set("Environment", "\"TASKMASTER_PROCESS_NUM=%i\"");
}

/// One `Environment=` line, or a note for a name systemd refuses.
fn env_line(unit: &mut Unit, key: &str, value: &str) {
    if is_systemd_env_name(key) {
        unit.set("Environment", escape::env_assignment(key, value));
    } else {
        unit.cannot(
            format!("env {}", kdl_quote(key)),
            "systemd 252 takes only letters, digits and _ in a variable name (not starting \
             with a digit); the variable is left out",
        );
    }
}

/// The unit directive of an rlimit.
fn limit_key(name: LimitName) -> &'static str {
    match name {
        LimitName::Nofile => "LimitNOFILE",
        LimitName::Nproc => "LimitNPROC",
        LimitName::Core => "LimitCORE",
        LimitName::Fsize => "LimitFSIZE",
        LimitName::Stack => "LimitSTACK",
        LimitName::Memlock => "LimitMEMLOCK",
        LimitName::As => "LimitAS",
        LimitName::Cpu => "LimitCPU",
    }
}

/// What `env_name_is_valid` accepts in systemd 252.
fn is_systemd_env_name(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A systemd time span, exact: whole seconds, whole milliseconds, else microseconds
/// (rounded up, systemd's finest unit).
fn timespan(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}us", d.as_nanos().div_ceil(1000))
    }
}

fn target_unit(config: &str, source: &str, wanted: &[String], daemon: &[Unmapped]) -> String {
    let mut out = format!(
        "# Generated by `taskmaster export systemd` from {source}.\n\
         # Starts every autostart process of the config; stopping it stops them all.\n"
    );
    for note in daemon {
        push_comment(&mut out, &note.comment());
    }
    out.push_str(&format!(
        "\n[Unit]\nDescription={}\n",
        escape::text_value(&format!("taskmaster config {}", kdl_quote(config)))
    ));
    for name in wanted {
        out.push_str(&format!("Wants={name}\n"));
    }
    out.push_str("\n[Install]\nWantedBy=multi-user.target\n");
    out
}

#[cfg(test)]
mod tests;
