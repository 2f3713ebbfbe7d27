//! The glue of `readiness` and `liveness` checks (the decisions are the machine's:
//! `machine/checks.rs`): each process's check timer, the attempt in flight, `log` lines, and
//! what `status` and the event log say about them.
//!
//! - The check timer is a second calloop timer per process, armed only while a check is
//!   configured and due. While an attempt is in flight it is that attempt's timeout.
//! - A tcp/http attempt is a non-blocking socket ([`crate::runtime::checks`]) registered once
//!   with the loop, edge-triggered for both directions: each edge drives it as far as it can
//!   go (connect, send, read until `EAGAIN`); the source goes when the attempt ends.
//! - An exec attempt is spawned through the `Os` seam in its own group; the reaper routes
//!   its status here by pid ([`Processes::check_pids`]); at the timeout or when the machine
//!   drops it, its whole group gets SIGKILL (its pid stays known until reaped, so it is never
//!   taken for a leftover or someone else's).
//! - A readiness `log` check frames the stream's lines while the machine watches for one.
//! - The event log gets one line when a check's result changes (failing, passing again), not
//!   one per attempt.

use std::time::Duration;

use calloop::generic::Generic;
use calloop::timer::{TimeoutAction, Timer};
use calloop::{Interest, Mode, PostAction, RegistrationToken};
use nix::sys::signal::Signal;

use super::{Proc, ProcId, Processes, Stream, Supervisor};
use crate::plan::check::{Check, CheckRole, LogStream, Probe};
use crate::plan::model::{OutputTarget, ProgramSpec, format_duration};
use crate::protocol::ProcessState;
use crate::runtime::checks::{NetAttempt, SharedFd, Step, exec};
use crate::runtime::machine::{CheckStop, Effect, Event, Exit};
use crate::runtime::spawn::Identity;

/// One process's checks, as the glue sees them.
#[derive(Debug, Default)]
pub(super) struct ProbeSlot {
    timer: Option<RegistrationToken>,
    timer_seq: u64,
    /// The attempt in flight, with its check's role and timeout.
    attempt: Option<InFlight>,
    /// Tells a stale socket callback from the current one.
    source_seq: u64,
    /// The last failure: its role and message.
    last_failure: Option<(CheckRole, String)>,
    /// The last result of each role (readiness, liveness), for the event log's transitions.
    last_ok: [Option<bool>; 2],
}

#[derive(Debug)]
struct InFlight {
    role: CheckRole,
    timeout: Duration,
    kind: Attempt,
}

#[derive(Debug)]
enum Attempt {
    Net {
        attempt: NetAttempt,
        source: Option<RegistrationToken>,
    },
    Exec {
        pid: i32,
    },
}

fn check_of(spec: &ProgramSpec, role: CheckRole) -> Option<&Check> {
    match role {
        CheckRole::Readiness => spec.readiness.as_ref(),
        CheckRole::Liveness => spec.liveness.as_ref(),
    }
}

fn role_index(role: CheckRole) -> usize {
    match role {
        CheckRole::Readiness => 0,
        CheckRole::Liveness => 1,
    }
}

impl Proc {
    /// `status`'s `ready`: null without `readiness`.
    pub(super) fn ready_status(&self) -> Option<bool> {
        self.spec.readiness.as_ref().map(|_| self.machine.ready())
    }

    /// `status`'s `healthy`: null without `liveness` or before its first result.
    pub(super) fn healthy_status(&self) -> Option<bool> {
        self.spec.liveness.as_ref().and(self.machine.healthy())
    }

    /// `status`'s `check`: the last failed check, `liveness: HTTP 503`.
    pub(super) fn check_status(&self) -> Option<String> {
        self.probe
            .last_failure
            .as_ref()
            .map(|(role, text)| format!("{}: {text}", role.name()))
    }

    /// The reason of a start attempt that was not ready by the deadline.
    pub(super) fn not_ready_reason(&self, deadline: Duration) -> String {
        let last = match &self.probe.last_failure {
            Some((CheckRole::Readiness, text)) => text.clone(),
            _ => match self.spec.readiness.as_ref().map(|c| &c.probe) {
                Some(Probe::Log(p)) => format!("no output line matched {:?}", p.regex.as_str()),
                _ => "none completed".to_owned(),
            },
        };
        format!(
            "not ready within {} (last check: {last})",
            format_duration(deadline)
        )
    }

    /// Why a check stopped the process, while that is what its state is about (stopping
    /// it, the crash restart it waits for, EXITED after it).
    pub(super) fn check_stop_reason(&self) -> Option<String> {
        let state = self.machine.state();
        match self.machine.check_stop()? {
            CheckStop::Unhealthy { failures }
                if matches!(
                    state,
                    ProcessState::Stopping | ProcessState::Backoff | ProcessState::Exited
                ) =>
            {
                let last = match &self.probe.last_failure {
                    Some((CheckRole::Liveness, text)) => format!(": {text}"),
                    _ => String::new(),
                };
                Some(format!(
                    "liveness check failed {} in a row{last}",
                    crate::words::count(failures as usize, "time", "times")
                ))
            }
            CheckStop::NotReady if state == ProcessState::Stopping => {
                self.machine.failure().and_then(|f| match f {
                    crate::runtime::machine::Failure::NotReady { deadline } => {
                        Some(self.not_ready_reason(deadline))
                    }
                    _ => None,
                })
            }
            _ => None,
        }
    }
}

impl Processes {
    /// Whether `pid` is an exec check's (not a leftover, not an orphan of no one's).
    pub(super) fn is_check_pid(&self, pid: i32) -> bool {
        self.check_pids.contains_key(&pid)
    }
}

impl Supervisor {
    /// Carries out a check effect of the machine; may return the next event at once (an
    /// attempt that ended as it started).
    pub(super) fn apply_check(
        &mut self,
        id: ProcId,
        effect: Effect,
        spec: &ProgramSpec,
    ) -> Option<Event> {
        match effect {
            Effect::ArmCheckTimer(after) => {
                self.arm_check_timer(id, after);
                None
            }
            Effect::CancelCheckTimer => {
                self.cancel_check_timer(id);
                None
            }
            Effect::RunCheck(role) => self.run_check(id, role, spec),
            Effect::AbortCheck => {
                self.abort_check(id);
                None
            }
            _ => None,
        }
    }

    fn run_check(&mut self, id: ProcId, role: CheckRole, spec: &ProgramSpec) -> Option<Event> {
        let check = check_of(spec, role)?;
        let timeout = check.timeout;
        let kind = match &check.probe {
            Probe::Exec(argv) => {
                let proc = self.table.procs.get(&id)?;
                let who = Identity {
                    program: &proc.program,
                    process: &proc.name,
                    num: proc.index,
                };
                match self.os.spawn(&exec::check_spec(argv, spec), &who) {
                    Ok(child) => {
                        self.table.check_pids.insert(child.pid, id);
                        Attempt::Exec { pid: child.pid }
                    }
                    Err(e) => return Some(self.check_finished(id, role, Err(e.to_string()))),
                }
            }
            probe @ (Probe::Tcp(_) | Probe::Http(_)) => {
                let (attempt, step) = NetAttempt::start(probe)?;
                match step {
                    Step::Done(result) => return Some(self.check_finished(id, role, result)),
                    Step::Wait(_) => Attempt::Net {
                        attempt,
                        source: None,
                    },
                }
            }
            Probe::Log(_) => return None,
        };
        let proc = self.table.procs.get_mut(&id)?;
        proc.probe.attempt = Some(InFlight {
            role,
            timeout,
            kind,
        });
        if let Err(e) = self.watch_attempt(id) {
            return Some(self.check_finished(id, role, Err(e)));
        }
        self.arm_check_timer(id, timeout);
        None
    }

    /// Registers the socket of `id`'s attempt with the loop.
    fn watch_attempt(&mut self, id: ProcId) -> Result<(), String> {
        let Some(proc) = self.table.procs.get_mut(&id) else {
            return Ok(());
        };
        let Some(InFlight {
            kind: Attempt::Net { attempt, source },
            ..
        }) = &mut proc.probe.attempt
        else {
            return Ok(());
        };
        let Some(socket) = attempt.socket() else {
            return Ok(());
        };
        proc.probe.source_seq += 1;
        let seq = proc.probe.source_seq;
        // Edge-triggered: a level-triggered "writable" would fire on every iteration while
        // the attempt waits for the answer.
        let token = self
            .handle
            .insert_source(
                Generic::new(SharedFd(socket), Interest::BOTH, Mode::Edge),
                move |_, _, sup: &mut Supervisor| Ok(sup.attempt_ready(id, seq)),
            )
            .map_err(|e| format!("cannot watch its socket: {}", e.error))?;
        *source = Some(token);
        Ok(())
    }

    fn attempt_ready(&mut self, id: ProcId, seq: u64) -> PostAction {
        let Some(proc) = self.table.procs.get_mut(&id) else {
            return PostAction::Remove;
        };
        if proc.probe.source_seq != seq {
            return PostAction::Remove;
        }
        let Some(InFlight {
            role,
            kind: Attempt::Net { attempt, source },
            ..
        }) = &mut proc.probe.attempt
        else {
            return PostAction::Remove;
        };
        let role = *role;
        match attempt.step() {
            Step::Wait(_) => PostAction::Continue,
            Step::Done(result) => {
                // This source goes with the Remove below, not through `remove`.
                *source = None;
                let event = self.check_finished(id, role, result);
                self.feed(id, event);
                PostAction::Remove
            }
        }
    }

    /// An exec check's process was reaped.
    pub(super) fn check_reaped(&mut self, id: ProcId, pid: i32, exit: Exit) {
        let Some(proc) = self.table.procs.get(&id) else {
            return;
        };
        let Some(InFlight {
            role,
            kind: Attempt::Exec { pid: current },
            ..
        }) = &proc.probe.attempt
        else {
            return;
        };
        if *current != pid {
            return;
        }
        let role = *role;
        let event = self.check_finished(id, role, exec::outcome(exit));
        self.feed(id, event);
    }

    /// An attempt ended (or a `log` line matched): forgets it, notes a change of result,
    /// and returns the event for the machine.
    fn check_finished(&mut self, id: ProcId, role: CheckRole, result: Result<(), String>) -> Event {
        self.drop_attempt(id, false);
        self.cancel_check_timer(id);
        let passed = result.is_ok();
        if let Some(proc) = self.table.procs.get_mut(&id) {
            let before = proc.probe.last_ok[role_index(role)].replace(passed);
            let name = proc.name.clone();
            match result {
                Err(text) => {
                    if before != Some(false) {
                        self.log
                            .log(format_args!("{name}: {} check failed: {text}", role.name()));
                    }
                    proc.probe.last_failure = Some((role, text));
                }
                Ok(()) if before != Some(true) => {
                    let what = match role {
                        CheckRole::Readiness => "readiness check passed: ready",
                        CheckRole::Liveness => "liveness check passed: healthy",
                    };
                    self.log.log(format_args!("{name}: {what}"));
                }
                Ok(()) => {}
            }
        }
        Event::CheckDone { role, passed }
    }

    /// Drops `id`'s attempt in flight: its socket closes, an exec check's group is killed
    /// (`kill`) or left to end (it ended already).
    fn drop_attempt(&mut self, id: ProcId, kill: bool) {
        let Some(proc) = self.table.procs.get_mut(&id) else {
            return;
        };
        let Some(in_flight) = proc.probe.attempt.take() else {
            return;
        };
        match in_flight.kind {
            Attempt::Net { source, .. } => {
                if let Some(token) = source {
                    self.handle.remove(token);
                }
            }
            Attempt::Exec { pid } if kill => {
                // ESRCH: it ended meanwhile; the reaper still routes its status (ignored).
                let _ = self.os.signal_group(pid, Signal::SIGKILL);
            }
            Attempt::Exec { .. } => {}
        }
    }

    /// The machine no longer wants the attempt in flight.
    fn abort_check(&mut self, id: ProcId) {
        self.drop_attempt(id, true);
    }

    /// Everything of `id`'s checks goes (the process is forgotten).
    pub(super) fn drop_checks(&mut self, id: ProcId) {
        self.cancel_check_timer(id);
        self.drop_attempt(id, true);
    }

    fn arm_check_timer(&mut self, id: ProcId, after: Duration) {
        self.cancel_check_timer(id);
        let Some(proc) = self.table.procs.get_mut(&id) else {
            return;
        };
        proc.probe.timer_seq += 1;
        let seq = proc.probe.timer_seq;
        match self
            .handle
            .insert_source(Timer::from_duration(after), move |_, _, sup| {
                sup.check_timer_fired(id, seq);
                TimeoutAction::Drop
            }) {
            Ok(token) => proc.probe.timer = Some(token),
            Err(e) => self.log.log(format_args!(
                "{}: cannot arm a check timer: {}",
                proc.name, e.error
            )),
        }
    }

    fn cancel_check_timer(&mut self, id: ProcId) {
        if let Some(proc) = self.table.procs.get_mut(&id)
            && let Some(token) = proc.probe.timer.take()
        {
            proc.probe.timer_seq += 1;
            self.handle.remove(token);
        }
    }

    /// The check timer: the attempt in flight timed out, or the next one is due.
    fn check_timer_fired(&mut self, id: ProcId, seq: u64) {
        let Some(proc) = self.table.procs.get_mut(&id) else {
            return;
        };
        if proc.probe.timer_seq != seq {
            return;
        }
        // The source drops itself (TimeoutAction::Drop); don't remove it a second time.
        proc.probe.timer = None;
        let in_flight = proc.probe.attempt.as_ref().map(|a| (a.role, a.timeout));
        let event = match in_flight {
            Some((role, timeout)) => {
                self.drop_attempt(id, true);
                let text = format!("timed out after {}", format_duration(timeout));
                self.check_finished(id, role, Err(text))
            }
            None => Event::CheckTimerFired,
        };
        self.feed(id, event);
    }

    /// For the glue's unit tests: `id`'s check timer goes off (it must be armed).
    #[cfg(test)]
    pub(super) fn fire_check_timer(&mut self, id: ProcId) {
        let proc = &self.table.procs[&id];
        assert!(
            proc.probe.timer.is_some(),
            "{} has no check timer",
            proc.name
        );
        let seq = proc.probe.timer_seq;
        self.check_timer_fired(id, seq);
    }

    /// For the glue's unit tests: whether `id`'s check timer is armed.
    #[cfg(test)]
    pub(super) fn check_timer_armed(&self, id: ProcId) -> bool {
        self.table.procs[&id].probe.timer.is_some()
    }

    /// Whether `id`'s readiness `log` check wants the lines of `stream` now.
    pub(super) fn wants_lines(proc: &Proc, stream: Stream) -> bool {
        if !proc.machine.watching_log() {
            return false;
        }
        // With `stderr "stdout"`, stderr's lines come on the stdout pipe.
        let merged = proc.spec.stderr == OutputTarget::SameAsStdout;
        match proc.spec.readiness.as_ref().map(|c| &c.probe) {
            Some(Probe::Log(p)) => {
                matches!(
                    (p.stream, stream),
                    (LogStream::Both, _)
                        | (LogStream::Stdout, Stream::Stdout)
                        | (LogStream::Stderr, Stream::Stderr)
                ) || (merged && p.stream == LogStream::Stderr && stream == Stream::Stdout)
            }
            _ => false,
        }
    }

    /// Complete output lines of `id` while its readiness `log` check watches: a match
    /// passes it.
    pub(super) fn log_lines(&mut self, id: ProcId, lines: &[u8]) {
        let Some(proc) = self.table.procs.get(&id) else {
            return;
        };
        let Some(Probe::Log(pattern)) = proc.spec.readiness.as_ref().map(|c| &c.probe) else {
            return;
        };
        if lines
            .split_inclusive(|&b| b == b'\n')
            .any(|line| pattern.matches(line))
        {
            let event = self.check_finished(id, CheckRole::Readiness, Ok(()));
            self.feed(id, event);
        }
    }
}
