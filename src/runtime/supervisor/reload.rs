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
//!
//! Reading and compiling happen off the event loop: each reload or diff is a [`Job`] in one
//! FIFO queue, run on a thread of its own (`tm-compile`), whose outcome comes back through a
//! calloop channel. The loop keeps reaping, restarting and answering meanwhile. One job runs
//! at a time, so two reloads never overlap and a diff queued behind a reload is computed
//! against the plan that reload applied; the plan itself is applied on the loop, like every
//! other change.

use crate::words::count;
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use calloop::channel::{Event as ChannelEvent, Sender};

use super::{ProcId, Supervisor};
use crate::plan::diff::{Action, PlanDiff};
use crate::plan::model::ProgramSpec;
use crate::plan::{Compiled, LoadError, Plan, diff, load_file};
use crate::protocol::{ErrorKind, ErrorReply, Response};
use crate::runtime::client::ClientId;
use crate::runtime::machine::Event;

/// A config to read and compile off the event loop, and who gets the outcome.
#[derive(Debug)]
pub(super) enum Job {
    /// `reload` from a client, or SIGHUP (`client: None`; the outcome goes to the event log).
    Reload { client: Option<ClientId> },
    /// An online `diff` against `path`.
    Diff { client: ClientId, path: PathBuf },
}

impl Job {
    fn client(&self) -> Option<ClientId> {
        match self {
            Job::Reload { client } => *client,
            Job::Diff { client, .. } => Some(*client),
        }
    }
}

/// What a compile thread sends back.
type Outcome = Result<Compiled, LoadError>;

/// The compile queue: one config compiles at a time, on a thread of its own, and the next
/// job starts when the loop has taken the last one's outcome. Its length is bounded by the
/// connections (a client has at most one request in progress) plus one SIGHUP (a second
/// SIGHUP while one is queued joins it).
#[derive(Debug, Default)]
pub(super) struct Compiles {
    queue: VecDeque<Job>,
    running: Option<Job>,
    sender: Option<Sender<Outcome>>,
}

impl Supervisor {
    /// Sets up the channel through which compile threads hand their outcome to the loop.
    pub(crate) fn start_compiler(&mut self) -> std::io::Result<()> {
        let (sender, channel) = calloop::channel::channel::<Outcome>();
        self.handle
            .insert_source(channel, |event, (), sup: &mut Supervisor| {
                if let ChannelEvent::Msg(outcome) = event {
                    sup.compile_done(outcome);
                }
            })
            .map_err(|e| std::io::Error::other(e.error))?;
        self.compiles.sender = Some(sender);
        Ok(())
    }

    /// SIGHUP: a reload whose outcome goes to the event log.
    pub(crate) fn reload_on_signal(&mut self) {
        self.queue_compile(Job::Reload { client: None });
    }

    /// Queues a reload or a diff; its client's later requests wait for its reply.
    pub(super) fn queue_compile(&mut self, job: Job) {
        if matches!(job, Job::Reload { client: None })
            && self
                .compiles
                .queue
                .iter()
                .any(|j| matches!(j, Job::Reload { client: None }))
        {
            self.log
                .log(format_args!("SIGHUP: a reload is already queued"));
            return;
        }
        if let Some(cid) = job.client()
            && let Some(c) = self.conns.clients.get_mut(&cid)
        {
            c.await_reply();
        }
        self.compiles.queue.push_back(job);
        self.next_compile();
    }

    /// Starts the next queued job when none is running.
    fn next_compile(&mut self) {
        while self.compiles.running.is_none() {
            let Some(job) = self.compiles.queue.pop_front() else {
                return;
            };
            let path = match &job {
                Job::Reload { .. } => {
                    self.log.log(format_args!(
                        "reload: reading {}",
                        self.config_path.display()
                    ));
                    self.config_path.clone()
                }
                // Nobody is left to read it.
                Job::Diff { client, .. } if !self.conns.clients.contains_key(client) => continue,
                Job::Diff { path, .. } => path.clone(),
            };
            match self.spawn_compile(path) {
                Ok(()) => self.compiles.running = Some(job),
                Err(e) => {
                    let reply = ErrorReply::new(
                        ErrorKind::Unreadable,
                        format!("cannot start compiling the config: {e}"),
                    );
                    self.log.log(format_args!("{}", reply.message));
                    if let Some(cid) = job.client() {
                        self.answer_job(cid, &Response::Error(reply));
                    }
                }
            }
        }
    }

    fn spawn_compile(&mut self, path: PathBuf) -> std::io::Result<()> {
        let sender = self
            .compiles
            .sender
            .clone()
            .ok_or_else(|| std::io::Error::other("no compile channel"))?;
        // The default stack: the KDL parser, the one deep recursion, runs on a thread of
        // its own with its own stack (see `crate::parse`).
        std::thread::Builder::new()
            .name("tm-compile".into())
            .spawn(move || {
                let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| load_config(&path)))
                    .unwrap_or_else(|_| {
                        Err(LoadError::Unreadable {
                            path,
                            reason: "internal error while compiling it".into(),
                        })
                    });
                // The loop only goes away when the daemon exits.
                let _ = sender.send(outcome);
            })
            .map(drop)
    }

    /// A compile thread finished: apply (reload) or report (diff) on the loop.
    fn compile_done(&mut self, outcome: Outcome) {
        let Some(job) = self.compiles.running.take() else {
            return;
        };
        if self.shutdown.is_none() {
            match job {
                Job::Reload { client } => {
                    let response = self.finish_reload(outcome);
                    if let Some(cid) = client {
                        self.answer_job(cid, &response);
                    }
                }
                Job::Diff { client, .. } => {
                    let response = match outcome {
                        Ok(c) => Response::Diff {
                            diff: diff(&self.plan, &c.plan),
                            warnings: c.warnings.render(false),
                        },
                        Err(e) => Response::Error(load_error_reply(e)),
                    };
                    self.answer_job(client, &response);
                }
            }
        }
        crate::runtime::memory::release_free_heap();
        self.next_compile();
    }

    /// At shutdown: every queued or running reload and diff is answered that nothing was
    /// done; an outcome that still arrives is dropped.
    pub(super) fn cancel_compiles(&mut self) {
        let jobs: Vec<Job> = self
            .compiles
            .queue
            .drain(..)
            .chain(self.compiles.running.as_mut().map(|j| {
                // Keep the slot taken, so that no other job starts.
                std::mem::replace(j, Job::Reload { client: None })
            }))
            .collect();
        let reply = Response::Error(ErrorReply::new(
            ErrorKind::ShuttingDown,
            "the daemon is shutting down; nothing was changed",
        ));
        for cid in jobs.iter().filter_map(Job::client) {
            self.answer_job(cid, &reply);
        }
    }

    fn answer_job(&mut self, cid: ClientId, response: &Response) {
        if let Some(c) = self.conns.clients.get_mut(&cid) {
            c.reply_sent();
            self.send(cid, response);
            self.client_resume(cid);
        }
    }

    /// Applies a compiled config (or reports why there is none); the reply for `reload`.
    fn finish_reload(&mut self, outcome: Outcome) -> Response {
        let compiled = match outcome {
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

    /// Applies `diff` (computed from the current plan to `new`); returns a warning about
    /// settings that cannot change live.
    pub(super) fn apply_diff(&mut self, new: Plan, diff: &PlanDiff) -> Option<String> {
        let changed = diff.changed().count();
        self.log
            .log(format_args!("reload: {}", programs_changed(changed)));
        // Removed programs stop together, dependents first (see `deps`); added processes
        // start once all exist, so one can wait for another added with it.
        let mut removed = Vec::new();
        self.hold_starts();
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
                    if let Some(program) = self.table.programs.remove(name) {
                        removed.extend(program.procs.into_iter().rev());
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
        self.retire_in_order(&removed);
        let mut warning = None;
        if new.daemon.socket != self.plan.daemon.socket {
            let w = format!(
                "the socket setting changed; the daemon keeps listening on {} until it restarts",
                self.socket_file.path().display()
            );
            self.log.log(format_args!("reload: warning: {w}"));
            warning = Some(w);
        }
        self.plan = new;
        self.release_starts();
        // WAITING processes look at their new dependencies at once.
        self.reevaluate_waiting();
        // Every applied reload starts the daemon's files afresh (`mv x.log x.log.1; reload`).
        self.reopen_logs();
        warning
    }

    /// Stops a process for good: it is forgotten once its child is gone.
    pub(super) fn retire(&mut self, id: ProcId) {
        let Some(proc) = self.table.procs.get_mut(&id) else {
            return;
        };
        proc.retiring = true;
        let key = (proc.program.clone(), proc.index);
        self.table.retired.insert(key, id);
        self.feed(id, Event::StopRequested);
        if self
            .table
            .procs
            .get(&id)
            .is_some_and(|p| !p.machine.has_child())
        {
            self.forget(id);
        }
    }

    /// Gives a program its changed spec: the surplus processes are retired (highest index
    /// first), the kept ones take the new spec — through a stop and a start when `restart`,
    /// in place otherwise — and the new indices are added.
    fn reshape_program(&mut self, spec: ProgramSpec, restart: bool) {
        let name = spec.name.clone();
        let spec = Rc::new(spec);
        let Some(program) = self.table.programs.get_mut(&name) else {
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
            } else if let Some(proc) = self.table.procs.get_mut(&id) {
                let checks_changed =
                    proc.spec.readiness != spec.readiness || proc.spec.liveness != spec.liveness;
                proc.spec = spec.clone();
                if checks_changed {
                    self.feed(id, Event::ChecksChanged);
                }
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
        let Some(proc) = self.table.procs.get(&id) else {
            return;
        };
        let start = proc.machine.is_active() || spec.autostart;
        self.feed(id, Event::StopRequested);
        if let Some(proc) = self.table.procs.get_mut(&id) {
            proc.spec = spec.clone();
        }
        if start {
            self.feed(id, Event::StartRequested);
        }
    }

    /// Gives every process of `program` the name its index has under the current numprocs.
    fn rename(&mut self, program: &str) {
        let Some(prog) = self.table.programs.get(program) else {
            return;
        };
        let numprocs = prog.spec.numprocs;
        for id in prog.procs.clone() {
            self.rename_proc(id, numprocs);
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
    format!("{} changed", count(n, "program", "programs"))
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
