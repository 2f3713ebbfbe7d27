//! The supervisor's state and the glue between the event loop, the per-process state
//! machines and the children.
//!
//! Everything happens in callbacks of one calloop loop, on one thread:
//! - the signalfd that takes every catchable signal ([`super::signals`]). SIGCHLD reaps every
//!   exited child with `waitpid(-1, WNOHANG)` — the daemon is a child subreaper, so the
//!   orphans of its programs' trees are its children too — and routes each status by pid
//!   ([`Supervisor::reap`], [`super::reap`]); the others shut down, reload, reopen the logs
//!   or are noted;
//! - a process's single timer (start, backoff or kill);
//! - an output pipe turning readable;
//! - the control socket and each client;
//! - the channel from the compile worker thread (`tm-compile`, `reload`): `reload`,
//!   SIGHUP and `diff` read and compile the config there; the outcome is applied here.
//!
//! After each iteration the loop hands the batched event log on (its stderr half to a writer
//! thread, the only one that may block on stderr: [`super::eventlog`]) and writes the record
//! of live groups if it changed ([`Supervisor::flush_groups`], [`super::statefile`]).
//! Nothing polls and nothing wakes up periodically: an idle daemon sleeps in `epoll_wait`.
//! No callback returns `Err` (that would stop the loop for everyone): failures are logged
//! and the source concerned is removed.
//!
//! Groups: each process runs in its own process group, and is gone only when that group is
//! empty. When a main process is reaped, `kill(-pgid, 0)` says whether members remain; only
//! then (or when the exit looks like a fork into the background) one scan of `/proc`
//! ([`super::procfs::scan`]) counts them and finds the daemon's children that left the
//! group with `setsid` but carry the process's `TASKMASTER_PROCESS`. The machine then stops
//! them ([`Event::LeaderExited`]); the group is known to be empty, without polling, by
//! checking `kill(-pgid, 0)` again after each batch of reaped children — with the daemon as
//! subreaper, the last member of a group always dies as its child or as the child of a
//! member that is itself reaped here later.
//!
//! Every one of those system calls goes through [`Os`] (the real [`super::os::System`] in
//! the daemon), so the glue is unit-tested (`supervisor/tests.rs`) against a double that
//! scripts exits, group members and spawn failures: no real child, no clock.
//!
//! Parts, each a child module adding to `impl Supervisor` (so they see its private state):
//! `server` (the socket, connections and requests), `reload` (compiling off the loop
//! and applying a diff), `logdump` (`logs` answers and followers) and `extra_requests`
//! (`signal`, `pid`, `timings`).

mod checks;
mod deps;
mod extra_requests;
mod logdump;
mod output;
mod reload;
mod server;
#[cfg(test)]
mod tests;

use crate::words::count;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, Read as _};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use calloop::generic::Generic;
use calloop::timer::{TimeoutAction, Timer};
use calloop::{Interest, LoopHandle, LoopSignal, Mode, PostAction, RegistrationToken};
use nix::sys::signal::Signal;

use self::reload::Compiles;
use super::client::{Client, ClientId};
use super::eventlog::EventLog;
use super::logfile::LogFiles;
use super::machine::{Effect, Event, Exit, Failure, Machine};
use super::names;
use super::os::Os;
use super::ring::{LineFramer, Ring};
use super::socket::SocketFile;
use super::spawn::Identity;
use super::statefile::StateFile;
use crate::plan::Plan;
use crate::plan::model::{ProgramSpec, format_duration, is_expected_exit, process_name};
use crate::protocol::{ErrorKind, ErrorReply, ProcessState, ProcessStatus, Response};

pub type ProcId = u64;

/// One configured program: its current spec and its processes, by index.
#[derive(Debug)]
struct Program {
    spec: Rc<ProgramSpec>,
    procs: Vec<ProcId>,
}

/// Which output stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Captured output of one stream of one process, kept across its restarts.
#[derive(Debug, Default)]
struct Captured {
    ring: Ring,
    framer: LineFramer,
    /// Its daemon-written file was last given part of a line (a piece of a line longer
    /// than the framer holds): the next bytes continue that line.
    mid_line: bool,
}

impl Captured {
    fn with_limit(bytes: usize) -> Self {
        Captured {
            ring: Ring::new(bytes),
            ..Captured::default()
        }
    }
}

/// Which of a process's output `logs` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Stdout,
    Stderr,
    /// Both, in arrival order (`--both`).
    Both,
}

/// One supervised process.
#[derive(Debug)]
struct Proc {
    program: String,
    index: u32,
    name: String,
    spec: Rc<ProgramSpec>,
    machine: Machine,
    pid: Option<i32>,
    /// The process group of the last spawn, until it is empty (it outlives `pid` while
    /// leftovers are stopped).
    pgid: Option<i32>,
    /// Leftovers that are the daemon's children, waited for one by one.
    extras: BTreeSet<i32>,
    /// The `TASKMASTER_PROCESS` the last spawn got (the name then: a rename since does not
    /// change the child's environment).
    spawned_as: String,
    started: Option<Instant>,
    timer: Option<RegistrationToken>,
    timer_seq: u64,
    /// Removed from the config (or scaled away): forgotten once stopped.
    retiring: bool,
    spawn_error: Option<String>,
    stdout: Captured,
    stderr: Captured,
    /// Chunks of output read so far, both streams counted: their arrival order.
    arrivals: u64,
    /// What it waits for, and why a dependency failed it ([`deps`]).
    deps: deps::ProcDeps,
    /// Its readiness/liveness check timer and attempt ([`checks`]).
    probe: checks::ProbeSlot,
}

impl Proc {
    /// The captured output of one of its streams.
    fn output(&self, stream: Stream) -> &Captured {
        match stream {
            Stream::Stdout => &self.stdout,
            Stream::Stderr => &self.stderr,
        }
    }

    fn output_mut(&mut self, stream: Stream) -> &mut Captured {
        match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        }
    }

    /// What its `logs` lines are prefixed with: its name, when its program has several
    /// or the request named every process (`all`, `label_all`).
    fn log_label(&self, label_all: bool) -> Option<String> {
        (label_all || self.spec.numprocs > 1).then(|| self.name.clone())
    }
}

/// A `start`/`stop`/`restart` reply waiting for its processes.
#[derive(Debug)]
struct Pending {
    client: ClientId,
    op: Op,
    ids: Vec<ProcId>,
    waiting: Vec<ProcId>,
    failed: Vec<ProcId>,
    /// Last statuses of processes forgotten meanwhile (a reload removed them).
    gone: Vec<(ProcId, ProcessStatus)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Start,
    Stop,
}

/// A `logs -f` client.
#[derive(Debug)]
struct Follower {
    client: ClientId,
    program: String,
    /// `None`: every process of the program.
    index: Option<u32>,
    shown: Shown,
    /// Every line gets its process's name (`logs all -f`).
    label_all: bool,
}

impl Follower {
    /// Whether this follower gets `proc`'s output on `stream` (the pipe it came from).
    fn follows(&self, proc: &Proc, stream: Stream) -> bool {
        let wanted = match self.shown {
            Shown::Both => true,
            Shown::Stdout => stream == Stream::Stdout,
            Shown::Stderr => proc.source_of(Stream::Stderr) == stream,
        };
        wanted && self.program == proc.program && self.index.is_none_or(|i| i == proc.index)
    }
}

/// The supervised processes: the programs of the current plan, every process (live or
/// retiring), and which pid belongs to whom.
#[derive(Debug, Default)]
struct Processes {
    /// The current plan's programs, by name; each lists its live processes by index.
    programs: BTreeMap<String, Program>,
    /// Every process, live or retiring. Ids are never reused.
    procs: HashMap<ProcId, Proc>,
    next_id: ProcId,
    /// Processes a reload removed or scaled away whose child is still stopping, by
    /// (program, index): shown by `status` until gone, and taken back if re-added.
    retired: HashMap<(String, u32), ProcId>,
    /// Main processes not yet reaped, by pid.
    leaders: HashMap<i32, ProcId>,
    /// Tracked leftovers not yet reaped, by pid.
    adopted: HashMap<i32, ProcId>,
    /// Processes whose main process is gone and whose group is being emptied.
    draining: BTreeSet<ProcId>,
    /// Exec checks not yet reaped, by pid (see [`checks`]).
    check_pids: HashMap<i32, ProcId>,
}

/// The control connections: each client, the replies waiting for processes to settle, and
/// the `logs -f` followers.
#[derive(Debug, Default)]
struct Connections {
    clients: HashMap<ClientId, Client>,
    next_id: ClientId,
    /// `start`/`stop`/`restart` replies waiting for their processes.
    pending: Vec<Pending>,
    followers: Vec<Follower>,
}

impl Processes {
    /// Names to live process ids, in program then index order.
    fn resolve(&self, names: &[String]) -> Result<Vec<ProcId>, ErrorReply> {
        let counts = self
            .programs
            .iter()
            .map(|(name, p)| {
                (
                    name.clone(),
                    u32::try_from(p.procs.len()).unwrap_or(u32::MAX),
                )
            })
            .collect();
        let targets = names::resolve(names, &counts)
            .map_err(|unknown| ErrorReply::new(ErrorKind::UnknownName, unknown.to_string()))?;
        Ok(targets
            .iter()
            .filter_map(|(program, index)| {
                self.programs
                    .get(program)
                    .and_then(|p| p.procs.get(*index as usize).copied())
            })
            .collect())
    }

    /// The status row of every process, in program then index order.
    fn status_rows(&self, ids: &[ProcId]) -> Vec<ProcessStatus> {
        ids.iter()
            .filter_map(|id| self.procs.get(id).map(status_of))
            .collect()
    }

    /// What `status` lists: every live process and every retiring one still stopping, in
    /// program then index order.
    fn status_ids(&self) -> Vec<ProcId> {
        let mut ids = self.all_ids();
        if self.retired.is_empty() {
            return ids;
        }
        ids.extend(self.retired.values().copied());
        self.sort_for_status(&mut ids);
        ids
    }

    /// What `status NAME…` lists: the named live processes, plus the retiring ones still
    /// stopping that a name covers (`all`, their program's name, their own name). A name
    /// that covers neither is an unknown name.
    fn status_targets(&self, names: &[String]) -> Result<Vec<ProcId>, ErrorReply> {
        let mut ids = Vec::new();
        for name in names {
            // `web:*` covers what `web` does.
            let program = names::program_of(name).unwrap_or(name);
            let retiring: Vec<ProcId> = self
                .retired
                .values()
                .copied()
                .filter(|id| {
                    self.procs
                        .get(id)
                        .is_some_and(|p| name == "all" || p.program == program || p.name == *name)
                })
                .collect();
            match self.resolve(std::slice::from_ref(name)) {
                Ok(live) => ids.extend(live),
                Err(e) if retiring.is_empty() => return Err(e),
                Err(_) => {}
            }
            ids.extend(retiring);
        }
        self.sort_for_status(&mut ids);
        ids.dedup();
        Ok(ids)
    }

    /// Sorts `ids` in program then index order, as `status` lists them.
    fn sort_for_status(&self, ids: &mut [ProcId]) {
        ids.sort_by_cached_key(|id| {
            self.procs
                .get(id)
                .map(|p| (p.program.clone(), p.index, p.retiring))
        });
    }

    /// Every live (non-retiring) process, in program then index order.
    fn all_ids(&self) -> Vec<ProcId> {
        self.programs
            .values()
            .flat_map(|p| p.procs.iter().copied())
            .collect()
    }
}

impl Connections {
    /// Process `id` went from `before` to `after`: the pending replies that this settles
    /// stop waiting for it. Returns whether any did.
    fn settle(&mut self, id: ProcId, before: ProcessState, after: ProcessState) -> bool {
        let mut any = false;
        for pending in &mut self.pending {
            let Some(pos) = pending.waiting.iter().position(|&w| w == id) else {
                continue;
            };
            if let Some(ok) = outcome(pending.op, after).or_else(|| restarted(pending.op, before)) {
                pending.waiting.swap_remove(pos);
                if !ok {
                    pending.failed.push(id);
                }
                any = true;
            }
        }
        any
    }

    /// Process `id` was forgotten with `status` as its last: no reply waits for it any more
    /// (a `start` counts it failed), and the replies naming it will show that status.
    fn forgotten(&mut self, id: ProcId, status: &ProcessStatus) {
        for pending in &mut self.pending {
            if let Some(pos) = pending.waiting.iter().position(|&w| w == id) {
                pending.waiting.swap_remove(pos);
                if pending.op == Op::Start {
                    pending.failed.push(id);
                }
            }
            if pending.ids.contains(&id) {
                pending.gone.push((id, status.clone()));
            }
        }
    }

    /// Takes out the replies that wait for no process any more.
    fn take_complete(&mut self) -> Vec<Pending> {
        let (done, rest) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| p.waiting.is_empty());
        self.pending = rest;
        done
    }

    /// Forgets connection `cid`: its follows and pending replies go (the actions
    /// themselves go on). Returns it, for its event sources to be removed.
    fn remove(&mut self, cid: ClientId) -> Option<Client> {
        let client = self.clients.remove(&cid)?;
        self.followers.retain(|f| f.client != cid);
        self.pending.retain(|p| p.client != cid);
        Some(client)
    }
}

/// The daemon's whole state, driven by the callbacks of one calloop loop (see the module
/// doc): the plan it applies, the processes it supervises (`Processes`), the control
/// connections (`Connections`), the compile queue of `reload`/`diff`, the record of live
/// groups and the event log. Its fields are private; [`super::run`] builds it, hands it to
/// the loop and uses the few `pub` methods.
///
/// - Every change to a process goes through `feed`: the process's [`Machine`] decides, the
///   supervisor carries out the [`Effect`]s (spawn, timer, signal) and feeds back what
///   happened. Nothing else changes a process's state.
/// - Everything it asks of the kernel about children (spawn, signal, reap, group queries,
///   the `/proc` scan) goes through its [`Os`]: [`super::os::System`] in the daemon, a
///   double in the unit tests.
/// - A process is forgotten (a removed program, a scaled-away index) only once its group is
///   empty; until then it is listed, retiring. Process and client ids are never reused.
/// - Replies keep the order of requests per connection; a `start`/`stop`/`restart` reply
///   waits until every named process has settled.
pub struct Supervisor {
    handle: LoopHandle<'static, Supervisor>,
    /// Stops the loop once a shutdown is complete.
    signal: LoopSignal,
    log: EventLog,
    os: Box<dyn Os>,
    /// The config file, absolute, re-read on reload.
    config_path: PathBuf,
    /// The plan applied last (at start-up or by a reload).
    plan: Plan,
    table: Processes,
    conns: Connections,
    /// Set once shutdown began; holds the clients waiting for `ShutDown`.
    shutdown: Option<Vec<ClientId>>,
    socket_file: SocketFile,
    listener: Option<RegistrationToken>,
    /// Reloads and diffs waiting for, or being compiled on, a worker thread.
    compiles: Compiles,
    /// The record of live groups for the next daemon.
    groups: StateFile,
    /// A write of `groups` failed and was logged; not logged again until one succeeds.
    groups_unwritable: bool,
    /// The daemon-written program log files (targets with a block), one per path.
    logfiles: LogFiles,
    /// Ordered stops and `wait` requests ([`deps`]).
    deps: deps::DepsState,
}

impl Supervisor {
    pub fn new(
        handle: LoopHandle<'static, Supervisor>,
        signal: LoopSignal,
        log: EventLog,
        config_path: PathBuf,
        socket_file: SocketFile,
        groups: StateFile,
        os: Box<dyn Os>,
    ) -> Self {
        Supervisor {
            handle,
            signal,
            log,
            os,
            config_path,
            plan: Plan::default(),
            table: Processes::default(),
            conns: Connections::default(),
            shutdown: None,
            socket_file,
            listener: None,
            compiles: Compiles::default(),
            groups,
            groups_unwritable: false,
            logfiles: LogFiles::default(),
            deps: deps::DepsState::default(),
        }
    }

    /// Notes a line in the event log.
    pub fn note(&mut self, line: std::fmt::Arguments<'_>) {
        self.log.log(line);
    }

    /// Hands the batched event log on (once per loop iteration, and before exiting).
    pub fn flush_log(&mut self) {
        self.log.flush();
    }

    /// Whether a shutdown has begun.
    pub fn shutting_down(&self) -> bool {
        self.shutdown.is_some()
    }

    /// The daemon is leaving (`clean`: after a shutdown that stopped every group): the
    /// socket file goes, and the record of live groups is removed, or written one last
    /// time for the next daemon when groups may be left.
    pub fn finish(&mut self, clean: bool) {
        if clean {
            self.groups.remove_file();
        } else {
            self.flush_groups();
        }
        self.socket_file.remove();
        self.log.flush();
    }

    /// Takes on a plan at start-up: creates every process and starts the autostart ones.
    pub fn start_plan(&mut self, plan: Plan) {
        let specs: Vec<ProgramSpec> = plan.programs.values().cloned().collect();
        self.plan = plan;
        // Every process exists before any starts: a dependency must be there to be waited
        // for (and started).
        self.hold_starts();
        for spec in specs {
            self.add_program(spec);
        }
        self.release_starts();
    }

    /// Creates a program's processes (STOPPED) and starts them when `autostart`.
    pub fn add_program(&mut self, spec: ProgramSpec) {
        let spec = Rc::new(spec);
        let name = spec.name.clone();
        self.table.programs.insert(
            name.clone(),
            Program {
                spec: spec.clone(),
                procs: Vec::new(),
            },
        );
        for index in 0..spec.numprocs {
            self.add_proc(&name, index);
        }
    }

    /// Creates process `index` of `program` and starts it when the program autostarts.
    fn add_proc(&mut self, program: &str, index: u32) -> Option<ProcId> {
        if let Some(id) = self.table.retired.remove(&(program.to_owned(), index)) {
            return self.adopt(id, program);
        }
        let ring_bytes = self.ring_bytes();
        let prog = self.table.programs.get_mut(program)?;
        let spec = prog.spec.clone();
        let id = self.table.next_id;
        self.table.next_id += 1;
        prog.procs.push(id);
        self.table.procs.insert(
            id,
            Proc {
                program: program.to_owned(),
                index,
                name: process_name(program, spec.numprocs, index),
                spec: spec.clone(),
                machine: Machine::new(),
                pid: None,
                pgid: None,
                extras: BTreeSet::new(),
                spawned_as: String::new(),
                started: None,
                timer: None,
                timer_seq: 0,
                retiring: false,
                spawn_error: None,
                stdout: Captured::with_limit(ring_bytes),
                stderr: Captured::with_limit(ring_bytes),
                arrivals: 0,
                deps: deps::ProcDeps::default(),
                probe: checks::ProbeSlot::default(),
            },
        );
        if spec.autostart {
            self.autostart(id);
        }
        Some(id)
    }

    /// Takes a retiring process (removed or scaled away by an earlier reload, its child still
    /// stopping) back into `program` under the current spec, rather than creating a second
    /// process of the same name: when the program autostarts, the start waits for the old
    /// child to be gone (as a `restart` does), so two live processes never share a name.
    fn adopt(&mut self, id: ProcId, program: &str) -> Option<ProcId> {
        let prog = self.table.programs.get_mut(program)?;
        let spec = prog.spec.clone();
        let proc = self.table.procs.get_mut(&id)?;
        prog.procs.push(id);
        proc.retiring = false;
        proc.spec = spec.clone();
        // Its name under the new numprocs (`web` removed, added back as `web:0`…).
        let name = self.rename_proc(id, spec.numprocs)?;
        let then = if spec.autostart {
            "starts again once its old process is gone"
        } else {
            "stays stopped (autostart is off)"
        };
        self.log
            .log(format_args!("{name}: added back while stopping; {then}"));
        if spec.autostart {
            self.feed(id, Event::StartRequested);
        }
        Some(id)
    }

    /// Gives process `id` the name its index has under `numprocs`, noting a change in the
    /// event log; returns that name.
    fn rename_proc(&mut self, id: ProcId, numprocs: u32) -> Option<String> {
        let proc = self.table.procs.get_mut(&id)?;
        let name = process_name(&proc.program, numprocs, proc.index);
        if name != proc.name {
            let old = std::mem::replace(&mut proc.name, name.clone());
            self.log.log(format_args!("{old}: renamed to {name}"));
        }
        Some(name)
    }

    /// Applies one event to a process's machine and carries out what it decides, feeding
    /// back the outcome of spawns until the machine settles.
    fn feed(&mut self, id: ProcId, event: Event) {
        let mut queue = vec![event];
        let mut changed = false;
        while let Some(event) = queue.pop() {
            let Some(proc) = self.table.procs.get_mut(&id) else {
                return;
            };
            let before = proc.machine.state();
            let health = proc.machine.healthy();
            let spec = proc.spec.clone();
            let effects = proc.machine.handle(event, &spec, Instant::now());
            let after = proc.machine.state();
            // A liveness result counts too: it decides the `healthy` condition.
            changed |= health != proc.machine.healthy();
            if before != after {
                changed = true;
                self.state_changed(id, before, after);
            }
            for effect in effects {
                if let Some(next) = self.apply(id, effect, &spec) {
                    queue.push(next);
                }
            }
        }
        // Once settled: what depends on it, ordered stops and `wait`s look again (`deps`).
        if changed {
            self.deps_changed(id);
        }
    }

    fn apply(&mut self, id: ProcId, effect: Effect, spec: &ProgramSpec) -> Option<Event> {
        match effect {
            Effect::Spawn => Some(self.spawn_proc(id, spec)),
            Effect::ArmTimer(d) => {
                self.arm_timer(id, d);
                None
            }
            Effect::CancelTimer => {
                self.cancel_timer(id);
                None
            }
            Effect::SendStopSignal => {
                self.signal_group(id, spec.stopsignal.0);
                None
            }
            Effect::Kill => {
                self.signal_group(id, Signal::SIGKILL);
                None
            }
            Effect::AwaitDeps => self.await_deps(id),
            Effect::ArmCheckTimer(_)
            | Effect::CancelCheckTimer
            | Effect::RunCheck(_)
            | Effect::AbortCheck => self.apply_check(id, effect, spec),
        }
    }

    fn spawn_proc(&mut self, id: ProcId, spec: &ProgramSpec) -> Event {
        if let Err(why) = self.open_log_files(id) {
            if let Some(proc) = self.table.procs.get_mut(&id) {
                self.log
                    .log(format_args!("{}: spawn failed: {why}", proc.name));
                proc.spawn_error = Some(why);
            }
            return Event::SpawnFailed;
        }
        let Some(proc) = self.table.procs.get_mut(&id) else {
            return Event::SpawnFailed;
        };
        let who = Identity {
            program: &proc.program,
            process: &proc.name,
            num: proc.index,
        };
        let spawned = self.os.spawn(spec, &who);
        let name = proc.name.clone();
        let child = match spawned {
            Ok(child) => child,
            Err(e) => {
                self.log.log(format_args!("{name}: spawn failed: {e}"));
                proc.spawn_error = Some(e.to_string());
                return Event::SpawnFailed;
            }
        };
        let pid = child.pid;
        proc.pid = Some(pid);
        proc.pgid = Some(pid);
        proc.spawned_as.clone_from(&name);
        proc.started = Some(Instant::now());
        proc.spawn_error = None;
        self.table.leaders.insert(pid, id);
        self.groups
            .add(pid, &name, spec.stopsignal.0 as i32, spec.stoptime);
        for (file, stream) in [
            (child.stdout, Stream::Stdout),
            (child.stderr, Stream::Stderr),
        ] {
            if let Some(file) = file {
                self.watch_output(id, file, stream);
            }
        }
        self.log.log(format_args!("{name}: spawned pid {pid}"));
        Event::Spawned
    }

    fn watch_output(&mut self, id: ProcId, file: File, stream: Stream) {
        let inserted = self.handle.insert_source(
            Generic::new(file, Interest::READ, Mode::Level),
            move |_, file, sup: &mut Supervisor| Ok(sup.output_ready(id, stream, file)),
        );
        if let Err(e) = inserted {
            self.log.log(format_args!(
                "cannot watch output of a process: {}",
                e.error
            ));
        }
    }

    /// SIGCHLD: reaps every exited child and routes each status (see [`super::reap`]).
    pub fn reap(&mut self) {
        let exits = self.os.reap();
        if exits.is_empty() {
            return;
        }
        let mut leaders = Vec::new();
        let mut relook = BTreeSet::new();
        // Leftovers first: a main process reaped in the same batch must not count them.
        for (pid, exit) in exits {
            if let Some(id) = self.table.leaders.remove(&pid) {
                leaders.push((id, pid, exit));
            } else if let Some(id) = self.table.adopted.remove(&pid) {
                if let Some(proc) = self.table.procs.get_mut(&id) {
                    proc.extras.remove(&pid);
                }
                relook.insert(id);
            } else if let Some(id) = self.table.check_pids.remove(&pid) {
                self.check_reaped(id, pid, exit);
            }
            // Any other pid is an orphan of no one's: reaped, that is all it needed.
        }
        for (id, pid, exit) in leaders {
            self.leader_exited(id, pid, exit);
        }
        // A leftover that forked before it died (a double fork) left a new orphan here; it
        // gets what the others got (the stop signal, or SIGKILL once that was sent).
        for id in relook {
            if self.table.draining.contains(&id) {
                let before: BTreeSet<i32> = self
                    .table
                    .procs
                    .get(&id)
                    .map(|p| p.extras.clone())
                    .unwrap_or_default();
                self.adopt_leftovers(id, true);
                self.signal_new_leftovers(id, &before);
            }
        }
        self.check_draining();
    }

    /// The main process `pid` of `id` was reaped.
    fn leader_exited(&mut self, id: ProcId, pid: i32, exit: Exit) {
        let Some(proc) = self.table.procs.get_mut(&id) else {
            return;
        };
        if proc.pid != Some(pid) {
            return;
        }
        proc.pid = None;
        proc.started = None;
        let name = proc.name.clone();
        self.log
            .log(format_args!("{name}: pid {pid} {}", describe_exit(exit)));
        // Fork into the background: it ended while starting, or "successfully" while
        // running. Not when it was being stopped: a stop of 1,000 processes that exit 0 on
        // SIGTERM must not scan /proc 1,000 times (their groups are still checked).
        let forked = match proc.machine.state() {
            ProcessState::Starting => true,
            ProcessState::Running => is_expected_exit(exit.code(), &proc.spec.exitcodes),
            _ => false,
        };
        let mut leftovers = 0;
        if forked || self.os.group_exists(pid) {
            leftovers = self.adopt_leftovers(id, forked);
        }
        if leftovers == 0 {
            self.group_gone(id);
            self.feed(id, Event::Exited(exit));
            self.after_exit(id);
        } else {
            self.log.log(format_args!(
                "{name}: {} it started {} still running; stopping them",
                count(leftovers as usize, "process", "processes"),
                if leftovers == 1 { "is" } else { "are" }
            ));
            self.table.draining.insert(id);
            self.feed(id, Event::LeaderExited { exit, leftovers });
        }
    }

    /// One look at `/proc` for what `id`'s main process left: live members of its group and,
    /// with `marked`, the daemon's children that carry its name. Those that are the daemon's
    /// children are tracked until reaped. Returns how many there are in all.
    fn adopt_leftovers(&mut self, id: ProcId, marked: bool) -> u32 {
        let Some(proc) = self.table.procs.get(&id) else {
            return 0;
        };
        let Some(pgid) = proc.pgid else {
            return 0;
        };
        let name = proc.spawned_as.clone();
        let table = &self.table;
        let found = self.os.scan(pgid, marked.then_some(name.as_str()), &|p| {
            table.leaders.contains_key(&p)
                || table.is_check_pid(p)
                || table.adopted.get(&p).is_some_and(|&owner| owner != id)
        });
        let count = u32::try_from(found.all.len()).unwrap_or(u32::MAX);
        if let Some(proc) = self.table.procs.get_mut(&id) {
            for &pid in &found.ours {
                proc.extras.insert(pid);
                self.table.adopted.insert(pid, id);
            }
        }
        count
    }

    /// Sends the tracked leftovers of `id` not in `before` the signal the others got.
    fn signal_new_leftovers(&mut self, id: ProcId, before: &BTreeSet<i32>) {
        let Some(proc) = self.table.procs.get(&id) else {
            return;
        };
        let signal = if proc.machine.killed() {
            Signal::SIGKILL
        } else {
            proc.spec.stopsignal.0
        };
        for &pid in proc.extras.difference(before) {
            if self.os.signal_process(pid, signal).is_ok() {
                self.log.log(format_args!(
                    "{}: sent {signal} to leftover pid {pid}",
                    proc.name
                ));
            }
        }
    }

    /// Feeds [`Event::GroupEmpty`] to every draining process whose leftovers are all gone.
    fn check_draining(&mut self) {
        let done: Vec<ProcId> = self
            .table
            .draining
            .iter()
            .copied()
            .filter(|id| {
                self.table.procs.get(id).is_none_or(|p| {
                    p.extras.is_empty() && p.pgid.is_none_or(|g| !self.os.group_exists(g))
                })
            })
            .collect();
        for id in done {
            self.table.draining.remove(&id);
            if let Some(proc) = self.table.procs.get(&id) {
                let n = proc.machine.leftovers().map_or(0, |l| l.count);
                self.log.log(format_args!(
                    "{}: its {} gone",
                    proc.name,
                    count(n as usize, "leftover process is", "leftover processes are")
                ));
            }
            self.group_gone(id);
            self.feed(id, Event::GroupEmpty);
            self.after_exit(id);
        }
    }

    /// Forgets `id`'s group: nothing of it is left.
    fn group_gone(&mut self, id: ProcId) {
        if let Some(proc) = self.table.procs.get_mut(&id)
            && let Some(pgid) = proc.pgid.take()
        {
            self.groups.remove(pgid);
            for pid in std::mem::take(&mut proc.extras) {
                self.table.adopted.remove(&pid);
            }
        }
    }

    /// Writes the record of live groups if it changed (once per loop iteration). A failure
    /// is logged once, not at every change, until a write succeeds again.
    pub fn flush_groups(&mut self) {
        match self.groups.flush() {
            Ok(()) => self.groups_unwritable = false,
            Err(e) if !self.groups_unwritable => {
                self.groups_unwritable = true;
                self.log.log(format_args!(
                    "cannot write {}: {e}; a daemon started after this one is killed with \
                     SIGKILL will not stop what it left",
                    self.groups.path().display()
                ));
            }
            Err(_) => {}
        }
    }

    /// Forgets a retiring process once stopped, and finishes a shutdown once all are.
    fn after_exit(&mut self, id: ProcId) {
        if let Some(proc) = self.table.procs.get(&id)
            && proc.retiring
            && !proc.machine.has_child()
        {
            self.forget(id);
        }
        self.maybe_finish_shutdown();
    }

    /// Drops a process for good (a removed program, a scaled-down index).
    fn forget(&mut self, id: ProcId) {
        self.cancel_timer(id);
        self.drop_checks(id);
        let Some(proc) = self.table.procs.remove(&id) else {
            return;
        };
        let key = (proc.program.clone(), proc.index);
        if self.table.retired.get(&key) == Some(&id) {
            self.table.retired.remove(&key);
        }
        self.log.log(format_args!("{}: removed", proc.name));
        self.conns.forgotten(id, &status_of(&proc));
        self.complete_pending();
    }

    fn output_ready(&mut self, id: ProcId, stream: Stream, file: &File) -> PostAction {
        let mut buf = [0u8; 32 * 1024];
        // Bounded per wake-up so one chatty child cannot starve the others; the source is
        // level-triggered and fires again.
        for _ in 0..16 {
            match (&*file).read(&mut buf) {
                Ok(0) => {
                    self.output_closed(id, stream);
                    return PostAction::Remove;
                }
                Ok(n) => self.captured(id, stream, &buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return PostAction::Continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.log.log(format_args!("output read failed: {e}"));
                    return PostAction::Remove;
                }
            }
        }
        PostAction::Continue
    }

    fn send_to_followers(&mut self, id: ProcId, stream: Stream, text: &[u8]) {
        if self.conns.followers.is_empty() {
            return;
        }
        let Some(proc) = self.table.procs.get(&id) else {
            return;
        };
        let targets: Vec<(ClientId, bool)> = self
            .conns
            .followers
            .iter()
            .filter(|f| f.follows(proc, stream))
            .map(|f| (f.client, f.label_all))
            .collect();
        if targets.is_empty() {
            return;
        }
        // At most two encodings: with the process's own label, and with its name forced.
        let labels = [proc.log_label(false), proc.log_label(true)];
        let mut lines: [Option<Vec<u8>>; 2] = [None, None];
        let text_lossy = String::from_utf8_lossy(text).into_owned();
        for ((label_all, slot), label) in [false, true].into_iter().zip(&mut lines).zip(labels) {
            if targets.iter().any(|&(_, l)| l == label_all) {
                let response = Response::Log {
                    process: label,
                    text: text_lossy.clone(),
                };
                *slot = self.encode(&response);
            }
        }
        for (client, label_all) in targets {
            if let Some(line) = &lines[usize::from(label_all)] {
                // Skipped, not queued, for a reader too far behind (see `server`).
                self.send_followed(client, id, text, line);
            }
        }
    }

    fn arm_timer(&mut self, id: ProcId, after: Duration) {
        self.cancel_timer(id);
        let Some(proc) = self.table.procs.get_mut(&id) else {
            return;
        };
        proc.timer_seq += 1;
        let seq = proc.timer_seq;
        match self
            .handle
            .insert_source(Timer::from_duration(after), move |_, _, sup| {
                sup.timer_fired(id, seq);
                TimeoutAction::Drop
            }) {
            Ok(token) => proc.timer = Some(token),
            Err(e) => self.log.log(format_args!(
                "{}: cannot arm a timer: {}",
                proc.name, e.error
            )),
        }
    }

    fn cancel_timer(&mut self, id: ProcId) {
        if let Some(proc) = self.table.procs.get_mut(&id)
            && let Some(token) = proc.timer.take()
        {
            proc.timer_seq += 1;
            self.handle.remove(token);
        }
    }

    fn timer_fired(&mut self, id: ProcId, seq: u64) {
        let Some(proc) = self.table.procs.get_mut(&id) else {
            return;
        };
        if proc.timer_seq != seq {
            return;
        }
        // The source drops itself (TimeoutAction::Drop); don't remove it a second time.
        proc.timer = None;
        self.feed(id, Event::TimerFired);
    }

    fn signal_group(&mut self, id: ProcId, signal: Signal) {
        let Some(proc) = self.table.procs.get(&id) else {
            return;
        };
        let Some(pgid) = proc.pgid else {
            return;
        };
        // The child leads its own group (pgid = its pid); the group outlives its leader, and
        // ESRCH only means everyone is gone.
        match self.os.signal_group(pgid, signal) {
            Ok(()) => self.log.log(format_args!(
                "{}: sent {} to group {pgid}",
                proc.name, signal
            )),
            Err(nix::errno::Errno::ESRCH) => {}
            Err(e) => self.log.log(format_args!(
                "{}: cannot send {} to group {pgid}: {e}",
                proc.name, signal
            )),
        }
        // Leftovers outside the group are the daemon's unreaped children: their pids cannot
        // have been reused. Those still in the group got the signal already.
        for &pid in &proc.extras {
            if self.os.group_of(pid).is_some_and(|g| g != pgid)
                && self.os.signal_process(pid, signal).is_ok()
            {
                self.log.log(format_args!(
                    "{}: sent {} to leftover pid {pid}",
                    proc.name, signal
                ));
            }
        }
    }

    fn state_changed(&mut self, id: ProcId, before: ProcessState, after: ProcessState) {
        let Some(proc) = self.table.procs.get(&id) else {
            return;
        };
        let mut line = format!("{}: {before} -> {after}", proc.name);
        let automatic = after == ProcessState::Starting
            && matches!(
                before,
                ProcessState::Running | ProcessState::Backoff | ProcessState::Stopping
            )
            && proc.machine.restarts() > 0;
        if automatic {
            line.push_str(&format!(
                " (automatic restart #{})",
                proc.machine.restarts()
            ));
        }
        if let Some(reason) = reason_of(proc) {
            line.push_str(" (");
            line.push_str(&reason);
            line.push(')');
        }
        self.log.log(format_args!("{line}"));
        self.progress_pending(id, before, after);
    }

    /// Moves every pending reply waiting on `id` forward; replies when one is complete.
    fn progress_pending(&mut self, id: ProcId, before: ProcessState, state: ProcessState) {
        if self.conns.settle(id, before, state) {
            self.complete_pending();
        }
    }

    /// Registers a reply that waits for `ids` to settle (answering at once when they have).
    fn wait_for(&mut self, client: ClientId, op: Op, ids: Vec<ProcId>) {
        let mut pending = Pending {
            client,
            op,
            ids: ids.clone(),
            waiting: Vec::new(),
            failed: Vec::new(),
            gone: Vec::new(),
        };
        for id in ids {
            let Some(proc) = self.table.procs.get(&id) else {
                continue;
            };
            let state = proc.machine.state();
            // A start queued behind a stop is not settled by the STOPPING state.
            match outcome(op, state) {
                Some(true) => {}
                Some(false) => pending.failed.push(id),
                None => pending.waiting.push(id),
            }
        }
        if let Some(c) = self.conns.clients.get_mut(&client) {
            c.await_reply();
        }
        self.conns.pending.push(pending);
        self.complete_pending();
    }

    /// Sends every reply whose processes have all settled.
    fn complete_pending(&mut self) {
        for pending in self.conns.take_complete() {
            let mut processes: Vec<ProcessStatus> = pending
                .ids
                .iter()
                .filter_map(|id| self.table.procs.get(id).map(status_of))
                .collect();
            processes.extend(pending.gone.iter().map(|(_, s)| s.clone()));
            let failed: Vec<String> = pending
                .failed
                .iter()
                .filter_map(|id| {
                    self.table
                        .procs
                        .get(id)
                        .map(|p| p.name.clone())
                        .or_else(|| {
                            pending
                                .gone
                                .iter()
                                .find(|(g, _)| g == id)
                                .map(|(_, s)| s.name.clone())
                        })
                })
                .collect();
            self.send(pending.client, &Response::Done { processes, failed });
            if let Some(c) = self.conns.clients.get_mut(&pending.client) {
                c.reply_sent();
            }
            self.client_resume(pending.client);
        }
    }

    /// Begins a graceful shutdown: stop everything, then exit once no child is left.
    pub fn begin_shutdown(&mut self, client: Option<ClientId>) {
        let first = self.shutdown.is_none();
        let waiters = self.shutdown.get_or_insert_with(Vec::new);
        if let Some(c) = client {
            waiters.push(c);
            if let Some(cl) = self.conns.clients.get_mut(&c) {
                cl.await_reply();
            }
        }
        if first {
            self.cancel_compiles();
            self.log
                .log(format_args!("shutting down: stopping every process"));
            let ids: Vec<ProcId> = self.table.procs.keys().copied().collect();
            self.stop_in_order(&ids);
        }
        self.maybe_finish_shutdown();
    }

    /// On a second SIGTERM/SIGINT/SIGQUIT: kill what is still stopping, now.
    pub fn kill_everything(&mut self) {
        self.log
            .log(format_args!("second signal: killing every process now"));
        self.kill_all_groups();
    }

    /// The loop cannot go on (it returned an error, or a bug panicked): no child may be
    /// left unsupervised, so every group is killed before the daemon exits.
    pub fn abandon(&mut self, why: &str) {
        self.log
            .log(format_args!("{why}: killing every process and exiting"));
        self.kill_all_groups();
        self.log.flush();
    }

    fn kill_all_groups(&mut self) {
        let ids: Vec<ProcId> = self.table.procs.keys().copied().collect();
        for id in ids {
            self.signal_group(id, Signal::SIGKILL);
        }
    }

    /// Closes and reopens every file the daemon writes itself (SIGUSR2, every applied
    /// reload), so that `mv x.log x.log.1` followed by either starts a new file: the event
    /// log's `logfile` and every daemon-written program log (the `output` module).
    pub fn reopen_logs(&mut self) {
        self.reopen_program_logs();
        let path = self.plan.daemon.logfile.clone();
        match self.log.set_file(path.as_deref()) {
            Ok(()) => {
                if let Some(path) = path {
                    self.log
                        .log(format_args!("logfile {} reopened", path.display()));
                }
            }
            Err(e) => self.log.log(format_args!(
                "cannot reopen the logfile: {e}; keeping the old one"
            )),
        }
    }

    fn maybe_finish_shutdown(&mut self) {
        let Some(waiters) = &self.shutdown else {
            return;
        };
        if self.table.procs.values().any(|p| p.machine.has_child()) {
            return;
        }
        let waiters = waiters.clone();
        // Gone before the reply, so a client that got `ShutDown` finds no socket; its
        // connection closes when the daemon exits, right after.
        self.socket_file.remove();
        for client in waiters {
            self.send(client, &Response::ShutDown);
        }
        self.log.log(format_args!("all processes stopped; exiting"));
        self.signal.stop();
    }
}

/// Whether a process in `state` has settled for an operation: `Some(true)` done,
/// `Some(false)` failed, `None` not yet.
fn outcome(op: Op, state: ProcessState) -> Option<bool> {
    use ProcessState as S;
    match (op, state) {
        (Op::Start, S::Running) => Some(true),
        (Op::Start, S::Fatal | S::Stopped | S::Exited) => Some(false),
        (Op::Stop, S::Stopped | S::Exited | S::Fatal) => Some(true),
        _ => None,
    }
}

/// A `stop` is done once the old child is gone, also when a `start` or `restart` from
/// another client, queued meanwhile, starts the process again at once (STOPPING straight to
/// STARTING): the reply then shows the state it is in now.
fn restarted(op: Op, before: ProcessState) -> Option<bool> {
    (op == Op::Stop && before == ProcessState::Stopping).then_some(true)
}

fn describe_exit(exit: Exit) -> String {
    match exit {
        Exit::Code(c) => format!("exited with code {c}"),
        Exit::Signal(s) => format!("killed by {}", signal_name(s)),
    }
}

fn signal_name(sig: i32) -> String {
    Signal::try_from(sig).map_or_else(|_| format!("signal {sig}"), |s| s.as_str().to_owned())
}

/// How an exit reads after "restarting in 400ms after": `exit code 1`, `SIGKILL`.
fn short_exit(exit: Exit) -> String {
    match exit {
        Exit::Code(c) => format!("exit code {c}"),
        Exit::Signal(s) => signal_name(s),
    }
}

/// Why the process is in its state, for `status` and the event log.
fn reason_of(proc: &Proc) -> Option<String> {
    let failure = || match proc.machine.failure() {
        Some(Failure::SpawnFailed) => proc
            .spawn_error
            .clone()
            .unwrap_or_else(|| "spawn failed".into()),
        Some(Failure::ExitedTooQuickly(exit)) => {
            format!("{} before starttime", describe_exit(exit))
        }
        Some(Failure::CrashLoop { exit, .. }) => describe_exit(exit),
        Some(Failure::NotReady { deadline }) => proc.not_ready_reason(deadline),
        Some(Failure::Dependency) => proc
            .deps
            .failure
            .clone()
            .unwrap_or_else(|| "a dependency failed".into()),
        None => "failed".into(),
    };
    let check_stop = proc.check_stop_reason();
    let base = match proc.machine.state() {
        ProcessState::Backoff => Some(match proc.machine.crash_wait() {
            Some(w) => format!(
                "restarting in {} after {} (crash {} in a row)",
                format_duration(w.delay),
                check_stop.unwrap_or_else(|| short_exit(w.exit)),
                w.crash
            ),
            None => failure(),
        }),
        ProcessState::Fatal => Some(match proc.machine.failure() {
            Some(Failure::CrashLoop {
                restarts,
                window,
                exit,
            }) => format!(
                "crash loop: {restarts} restarts within {}; last exit: {}",
                format_duration(window),
                short_exit(exit)
            ),
            Some(Failure::Dependency) => failure(),
            _ => {
                let attempts = proc.machine.attempts();
                let noun = if attempts == 1 { "attempt" } else { "attempts" };
                format!("gave up after {attempts} {noun}: {}", failure())
            }
        }),
        ProcessState::Waiting => Some(proc.deps.waiting_reason()),
        // Stopped by a check, or EXITED after a liveness stop: the check says why.
        _ => check_stop,
    };
    // What the last exit left behind; shown until the next spawn.
    let leftovers = proc.machine.leftovers().map(|l| {
        let n = l.count;
        let mut text = if proc.machine.draining() {
            format!("stopping {n} leftover processes")
        } else {
            format!("stopped {n} leftover processes")
        };
        if l.forked {
            text.push_str(&format!(
                "; it left {n} processes running: did it fork into the background? \
                 Run it in the foreground"
            ));
        }
        text
    });
    match (base, leftovers) {
        (Some(b), Some(l)) => Some(format!("{b}; {l}")),
        (b, l) => b.or(l),
    }
}

fn status_of(proc: &Proc) -> ProcessStatus {
    let state = proc.machine.state();
    let exit = if proc.pid.is_none() {
        proc.machine.last_exit()
    } else {
        None
    };
    ProcessStatus {
        name: proc.name.clone(),
        program: proc.program.clone(),
        state,
        pid: proc.pid.and_then(|p| u32::try_from(p).ok()),
        exit_code: exit.and_then(Exit::code),
        signal: match exit {
            Some(Exit::Signal(s)) => Some(signal_name(s)),
            _ => None,
        },
        uptime_secs: proc.started.map(|t| t.elapsed().as_secs_f64()),
        restarts: proc.machine.restarts(),
        reason: reason_of(proc),
        expected: (state == ProcessState::Exited)
            .then(|| proc.machine.expected())
            .flatten(),
        ready: proc.ready_status(),
        healthy: proc.healthy_status(),
        check: proc.check_status(),
        waiting_for: (state == ProcessState::Waiting).then(|| proc.deps.waiting_for.clone()),
    }
}
