//! `reload` (and SIGHUP) and `diff`: compile the config again and apply exactly the
//! [`PlanDiff`] classification to the live processes.
//!
//! - unchanged programs are not touched;
//! - added programs are created and started when `autostart`;
//! - removed programs are stopped gracefully and forgotten once stopped;
//! - `Restart` (a spawn field changed): each process is stopped (with its *old* stop
//!   signal and stoptime) and started again with the new spec once its old child is gone,
//!   if it was meant to be running or the program autostarts; its captured output is kept;
//! - `Update` (supervision fields, numprocs): the new settings apply to the live processes'
//!   next events (a new stoptime to the next stop; autostart to new processes only);
//! - a numprocs change creates only the new indices or stops only the highest ones; when it
//!   crosses 1 the surviving process keeps its pid and is renamed (`web` ↔ `web:0`).
//!
//! The `Reloaded` reply is sent as soon as the changes are initiated, not when the stops
//! and starts they cause have finished (a `status` shows their progress).

use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::machine::Event;
use super::supervisor::{ProcId, Supervisor};
use crate::plan::diff::{Action, PlanDiff};
use crate::plan::model::{ProgramSpec, process_name};
use crate::plan::{Compiled, LoadError, Plan, diff, load_file};
use crate::protocol::{ErrorKind, ErrorReply, Response};

impl Supervisor {
    /// Re-reads the config file and applies the diff; the reply for `reload`.
    pub fn reload(&mut self) -> Response {
        let response = self.reload_config();
        super::memory::release_free_heap();
        response
    }

    fn reload_config(&mut self) -> Response {
        self.log.log(format_args!(
            "reload: reading {}",
            self.config_path.display()
        ));
        let compiled = match load_config(&self.config_path) {
            Ok(c) => c,
            Err(e) => {
                let reply = load_error_reply(e);
                self.log.log(format_args!(
                    "reload rejected: {}{}",
                    reply.message,
                    reply
                        .diagnostics
                        .as_deref()
                        .map(|d| format!("\n{d}"))
                        .unwrap_or_default()
                ));
                return Response::Error(reply);
            }
        };
        let diff = diff(&self.plan, &compiled.plan);
        let mut warnings = compiled.warnings.render(false);
        if let Some(w) = self.apply_diff(compiled.plan, &diff) {
            if !warnings.is_empty() && !warnings.ends_with('\n') {
                warnings.push('\n');
            }
            warnings.push_str(&w);
        }
        Response::Reloaded { diff, warnings }
    }

    /// The reply for `diff`: what a reload with `config` (default: the daemon's file) does.
    pub fn diff_request(&mut self, config: Option<PathBuf>) -> Response {
        let path = config.unwrap_or_else(|| self.config_path.clone());
        let response = match load_config(&path) {
            Ok(c) => Response::Diff {
                diff: diff(&self.plan, &c.plan),
                warnings: c.warnings.render(false),
            },
            Err(e) => Response::Error(load_error_reply(e)),
        };
        super::memory::release_free_heap();
        response
    }

    /// Applies `diff` (computed from the current plan to `new`); returns a warning about
    /// settings that cannot change live.
    pub fn apply_diff(&mut self, new: Plan, diff: &PlanDiff) -> Option<String> {
        let changed = diff.changed().count();
        self.log
            .log(format_args!("reload: {}", programs_changed(changed)));
        for pd in diff.changed() {
            let name = pd.name.as_str();
            self.log.log(format_args!("reload: {name}: {}", pd.action));
            match pd.action {
                Action::Unchanged => {}
                Action::Added => {
                    if let Some(spec) = new.programs.get(name) {
                        self.add_program(spec.clone());
                    }
                }
                Action::Removed => {
                    if let Some(program) = self.programs.remove(name) {
                        for id in program.procs.into_iter().rev() {
                            self.retire(id);
                        }
                    }
                }
                Action::Restart => {
                    if let Some(spec) = new.programs.get(name) {
                        self.reshape_program(spec.clone(), true);
                    }
                }
                Action::Update => {
                    if let Some(spec) = new.programs.get(name) {
                        self.reshape_program(spec.clone(), false);
                    }
                }
            }
        }
        let mut warning = None;
        if new.daemon.logfile != self.plan.daemon.logfile
            && let Err(e) = self.log.set_file(new.daemon.logfile.as_deref())
        {
            self.log
                .log(format_args!("reload: cannot open the new logfile: {e}"));
        }
        if new.daemon.socket != self.plan.daemon.socket {
            let w = format!(
                "the socket setting changed; the daemon keeps listening on {} until it restarts",
                self.socket_file.path().display()
            );
            self.log.log(format_args!("reload: warning: {w}"));
            warning = Some(w);
        }
        self.plan = new;
        warning
    }

    /// Stops a process for good: it is forgotten once its child is gone.
    pub fn retire(&mut self, id: ProcId) {
        let Some(proc) = self.procs.get_mut(&id) else {
            return;
        };
        proc.retiring = true;
        self.feed(id, Event::StopRequested);
        if self.procs.get(&id).is_some_and(|p| !p.machine.has_child()) {
            self.forget(id);
        }
    }

    /// Gives a program its changed spec: the surplus processes are retired (highest index
    /// first), the kept ones take the new spec — through a stop and a start when `restart`,
    /// in place otherwise — and the new indices are added.
    fn reshape_program(&mut self, spec: ProgramSpec, restart: bool) {
        let name = spec.name.clone();
        let spec = Rc::new(spec);
        let Some(program) = self.programs.get_mut(&name) else {
            return;
        };
        program.spec = spec.clone();
        let old_count = u32::try_from(program.procs.len()).unwrap_or(u32::MAX);
        let surplus = program
            .procs
            .split_off(spec.numprocs.min(old_count) as usize);
        let kept = program.procs.clone();
        for id in surplus.into_iter().rev() {
            self.retire(id);
        }
        for id in kept {
            if restart {
                self.respawn_with(id, &spec);
            } else if let Some(proc) = self.procs.get_mut(&id) {
                proc.spec = spec.clone();
            }
        }
        for index in old_count..spec.numprocs {
            self.add_proc(&name, index);
        }
        self.rename(&name);
    }

    /// Stops a process under its old spec (what the running child was started under) and
    /// starts it again under `spec` once it has exited, if it was meant to be running.
    fn respawn_with(&mut self, id: ProcId, spec: &Rc<ProgramSpec>) {
        let Some(proc) = self.procs.get(&id) else {
            return;
        };
        let start = proc.machine.is_active() || spec.autostart;
        self.feed(id, Event::StopRequested);
        if let Some(proc) = self.procs.get_mut(&id) {
            proc.spec = spec.clone();
        }
        if start {
            self.feed(id, Event::StartRequested);
        }
    }

    /// Gives every process of `program` the name its index has under the current numprocs.
    fn rename(&mut self, program: &str) {
        let Some(prog) = self.programs.get(program) else {
            return;
        };
        let numprocs = prog.spec.numprocs;
        for &id in &prog.procs {
            if let Some(proc) = self.procs.get_mut(&id) {
                let name = process_name(program, numprocs, proc.index);
                if name != proc.name {
                    self.log
                        .log(format_args!("{}: renamed to {name}", proc.name));
                    proc.name = name;
                }
            }
        }
    }
}

/// [`load_file`] for the daemon, which must not block: a FIFO (or a device such as
/// /dev/zero) would stall the loop until someone writes to it (or fill memory), and any
/// client can name one in `diff`. Directories are left to `load_file`'s own message.
fn load_config(path: &Path) -> Result<Compiled, LoadError> {
    if let Ok(meta) = std::fs::metadata(path)
        && !meta.is_file()
        && !meta.is_dir()
    {
        return Err(LoadError::Unreadable {
            path: path.to_owned(),
            reason: "not a regular file".into(),
        });
    }
    load_file(path)
}

/// `1 program changed`, `2 programs changed`.
fn programs_changed(n: usize) -> String {
    let noun = if n == 1 { "program" } else { "programs" };
    format!("{n} {noun} changed")
}

fn load_error_reply(e: LoadError) -> ErrorReply {
    match e {
        LoadError::Unreadable { .. } => ErrorReply::new(ErrorKind::Unreadable, e.to_string()),
        LoadError::Invalid(report) => ErrorReply {
            kind: ErrorKind::InvalidConfig,
            message: "the config is invalid; nothing was changed".into(),
            diagnostics: Some(report.render(false)),
        },
    }
}
