//! Dependencies at run time (`depends-on`): the gate of WAITING processes, pulling stopped
//! dependencies, failure propagation, the stop order, and `taskmaster wait`.
//!
//! - **The gate.** The machine sends a process to WAITING (`Effect::AwaitDeps`) on every
//!   start of a program with dependencies. [`evaluate`] (pure) says whether the conditions
//!   hold, will never hold (a FATAL dependency, a `completed` one that exited with an
//!   unexpected code), or not yet. Entering WAITING first starts every dependency that is
//!   STOPPED (or EXITED, unless the condition is `completed`), as `start` would.
//! - **Event driven.** After every state change of a process ([`Supervisor::deps_changed`],
//!   called once the process has settled), the WAITING processes of the programs that
//!   depend on it are evaluated again, and so is every WAITING process after a reload
//!   ([`Supervisor::reevaluate_waiting`]). Nothing polls.
//! - **Stop order.** [`Supervisor::stop_in_order`] (`stop`, `shutdown`, reload removals)
//!   sends a process its stop signal only once no process that depends on it, directly or
//!   through other programs, and is being stopped too, still has a child; independent
//!   processes stop at once, in parallel. When only deferred stops block each other (specs
//!   that form a cycle, an old and a new one across a reload), they are all sent, so a stop
//!   never waits forever.
//! - **`wait`.** A `wait` request is answered once every named process is RUNNING, as soon
//!   as one is FATAL, or at its deadline (one timer per request, armed only when a deadline
//!   was given).
//!
//! Costs: a state change looks at every program's `depends-on` (a map lookup each) to find
//! the dependents; an ordered stop of a program without dependencies or dependents is sent
//! at once; with dependencies, each check is linear in the processes being stopped.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use calloop::RegistrationToken;
use calloop::timer::{TimeoutAction, Timer};

use super::super::client::ClientId;
use super::super::machine::{Event, Exit};
use super::{Op, Proc, ProcId, Supervisor, describe_exit, status_of};
use crate::plan::model::{Condition, ProgramSpec};
use crate::protocol::{ProcessState, Response, WaitingFor};

/// What a process keeps about its dependencies.
#[derive(Debug, Default)]
pub(super) struct ProcDeps {
    /// While WAITING: the dependencies that do not hold yet, for `status`.
    pub waiting_for: Vec<WaitingFor>,
    /// Why a dependency made it FATAL (`dependency db is FATAL`).
    pub failure: Option<String>,
    /// `start --no-deps`: the next wait is skipped.
    pub skip_once: bool,
}

impl ProcDeps {
    /// `waiting for db (ready), migrate (completed)`.
    pub(super) fn waiting_reason(&self) -> String {
        if self.waiting_for.is_empty() {
            return "waiting for its dependencies".to_owned();
        }
        let items: Vec<String> = self
            .waiting_for
            .iter()
            .map(|w| format!("{} ({})", w.program, w.condition))
            .collect();
        format!("waiting for {}", items.join(", "))
    }
}

/// What the supervisor keeps about dependencies across processes.
#[derive(Debug, Default)]
pub(super) struct DepsState {
    /// Ordered stops not sent yet: their dependents are still stopping.
    deferred: BTreeSet<ProcId>,
    /// Every process of an ordered stop (deferred or sent) until it has no child.
    ordered: BTreeSet<ProcId>,
    /// Set while deferred stops are being sent, so a state change meanwhile does not
    /// start a second pass.
    releasing: bool,
    /// `wait` requests not answered yet.
    waits: Vec<WaitRequest>,
    next_wait: u64,
    /// While a plan is being taken on: the autostarts to do once every process exists.
    held: Option<Vec<ProcId>>,
}

#[derive(Debug)]
struct WaitRequest {
    seq: u64,
    client: ClientId,
    ids: Vec<ProcId>,
    timer: Option<RegistrationToken>,
}

/// The `healthy` condition asks this: `Some(true)` when the process's last liveness check
/// passed, `Some(false)` when it failed or none has run yet in this run, `None` when its
/// program has no liveness check (`healthy` then means `ready`).
pub(super) fn last_liveness_passed(proc: &Proc) -> Option<bool> {
    proc.spec
        .liveness
        .as_ref()
        .map(|_| proc.machine.healthy() == Some(true))
}

/// One process of a dependency program, as the gate sees it.
#[derive(Debug, Clone)]
pub(super) struct Observed {
    pub name: String,
    pub state: ProcessState,
    /// For EXITED: whether the exit code was an expected one.
    pub expected: Option<bool>,
    pub exit: Option<Exit>,
    /// [`last_liveness_passed`].
    pub live: Option<bool>,
}

/// Whether a process's dependencies hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    Met,
    /// Not yet: these do not hold.
    Wait(Vec<WaitingFor>),
    /// Never (until a manual start): why.
    Failed(String),
}

/// Evaluates `deps` against the processes `observe` returns for each dependency program
/// (`None`: the program is gone, e.g. a reload removed it: nothing to wait for).
pub(super) fn evaluate(
    deps: &BTreeMap<String, Condition>,
    observe: impl Fn(&str) -> Option<Vec<Observed>>,
) -> Verdict {
    let mut unmet = Vec::new();
    for (program, &condition) in deps {
        let Some(procs) = observe(program) else {
            continue;
        };
        let mut holds = true;
        for p in &procs {
            match holds_for(condition, p) {
                Hold::Yes => {}
                Hold::NotYet => holds = false,
                Hold::Never(why) => return Verdict::Failed(why),
            }
        }
        if !holds {
            unmet.push(WaitingFor {
                program: program.clone(),
                condition: condition.as_str().to_owned(),
            });
        }
    }
    if unmet.is_empty() {
        Verdict::Met
    } else {
        Verdict::Wait(unmet)
    }
}

enum Hold {
    Yes,
    NotYet,
    Never(String),
}

fn holds_for(condition: Condition, p: &Observed) -> Hold {
    use ProcessState as S;
    if p.state == S::Fatal {
        return Hold::Never(format!("dependency {} is FATAL", p.name));
    }
    let yes = match condition {
        Condition::Started => matches!(p.state, S::Starting | S::Running),
        Condition::Ready => p.state == S::Running,
        Condition::Healthy => p.state == S::Running && p.live.unwrap_or(true),
        Condition::Completed => {
            if p.state == S::Exited && p.expected == Some(false) {
                let how = p.exit.map_or_else(|| "exited".to_owned(), describe_exit);
                return Hold::Never(format!("dependency {} {how}", p.name));
            }
            p.state == S::Exited && p.expected == Some(true)
        }
    };
    if yes { Hold::Yes } else { Hold::NotYet }
}

/// Whether a process waiting for a dependency in `state` starts it (as `start` would).
pub(super) fn pulls(condition: Condition, state: ProcessState) -> bool {
    match state {
        ProcessState::Stopped => true,
        ProcessState::Exited => condition != Condition::Completed,
        _ => false,
    }
}

/// What `wait` waits for: RUNNING, or a one-shot that completed (EXITED with an expected
/// code: a `migrate` never stays RUNNING).
fn is_up(p: &Proc) -> bool {
    match p.machine.state() {
        ProcessState::Running => true,
        ProcessState::Exited => p.machine.expected() == Some(true),
        _ => false,
    }
}

/// Whether `spec`'s program depends on `target`, directly or through other programs of
/// `specs` (a cycle cannot loop: each program is visited once).
fn depends_on_transitively(
    spec: &ProgramSpec,
    target: &str,
    specs: impl Fn(&str) -> Option<std::rc::Rc<ProgramSpec>>,
) -> bool {
    let mut todo: Vec<String> = spec.depends_on.keys().cloned().collect();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    while let Some(p) = todo.pop() {
        if p == target {
            return true;
        }
        if !seen.insert(p.clone()) {
            continue;
        }
        if let Some(s) = specs(&p) {
            todo.extend(s.depends_on.keys().cloned());
        }
    }
    false
}

impl Supervisor {
    /// The processes of `program` as the gate sees them.
    fn observe(&self, program: &str) -> Option<Vec<Observed>> {
        let prog = self.table.programs.get(program)?;
        Some(
            prog.procs
                .iter()
                .filter_map(|id| self.table.procs.get(id))
                .map(|p| Observed {
                    name: p.name.clone(),
                    state: p.machine.state(),
                    expected: p.machine.expected(),
                    exit: p.machine.last_exit(),
                    live: last_liveness_passed(p),
                })
                .collect(),
        )
    }

    /// From now on, autostarts wait for [`Supervisor::release_starts`].
    pub(super) fn hold_starts(&mut self) {
        self.deps.held.get_or_insert_with(Vec::new);
    }

    /// Does the autostarts held since [`Supervisor::hold_starts`].
    pub(super) fn release_starts(&mut self) {
        for id in self.deps.held.take().unwrap_or_default() {
            self.feed(id, Event::StartRequested);
        }
    }

    /// The autostart of a process just created: now, or once the plan is taken on.
    pub(super) fn autostart(&mut self, id: ProcId) {
        match &mut self.deps.held {
            Some(held) => held.push(id),
            None => self.feed(id, Event::StartRequested),
        }
    }

    /// `Effect::AwaitDeps`: `id` entered WAITING. Starts its stopped dependencies, then
    /// answers at once when it can ([`Event::DepsMet`], [`Event::DependencyFailed`]).
    pub(super) fn await_deps(&mut self, id: ProcId) -> Option<Event> {
        let proc = self.table.procs.get_mut(&id)?;
        if std::mem::take(&mut proc.deps.skip_once) {
            self.log.log(format_args!(
                "{}: starting without its dependencies (--no-deps)",
                proc.name
            ));
            return Some(Event::DepsMet);
        }
        let name = proc.name.clone();
        let deps = proc.spec.depends_on.clone();
        let mut pull = Vec::new();
        for (program, &condition) in &deps {
            let Some(prog) = self.table.programs.get(program) else {
                continue;
            };
            for &dep in &prog.procs {
                if let Some(p) = self.table.procs.get(&dep)
                    && pulls(condition, p.machine.state())
                {
                    pull.push((dep, p.name.clone()));
                }
            }
        }
        for (dep, dep_name) in pull {
            self.log
                .log(format_args!("{name}: starting its dependency {dep_name}"));
            self.feed(dep, Event::StartRequested);
        }
        // A dependency that came up meanwhile may have answered already.
        self.gate(id)
    }

    /// Evaluates a WAITING process: the event to feed it, if the wait is over.
    fn gate(&mut self, id: ProcId) -> Option<Event> {
        let proc = self.table.procs.get(&id)?;
        if proc.machine.state() != ProcessState::Waiting {
            return None;
        }
        let verdict = evaluate(&proc.spec.depends_on, |p| self.observe(p));
        let proc = self.table.procs.get_mut(&id)?;
        match verdict {
            Verdict::Met => {
                proc.deps.waiting_for.clear();
                Some(Event::DepsMet)
            }
            Verdict::Failed(why) => {
                proc.deps.waiting_for.clear();
                proc.deps.failure = Some(why);
                Some(Event::DependencyFailed)
            }
            Verdict::Wait(unmet) => {
                if proc.deps.waiting_for != unmet {
                    proc.deps.waiting_for = unmet;
                    let line = format!("{}: {}", proc.name, proc.deps.waiting_reason());
                    self.log.log(format_args!("{line}"));
                }
                None
            }
        }
    }

    /// Evaluates `id` and feeds it the outcome.
    fn regate(&mut self, id: ProcId) {
        if let Some(event) = self.gate(id) {
            self.feed(id, event);
        }
    }

    /// After `id` changed state (and settled): its WAITING dependents look again, ordered
    /// stops waiting on it may go, and `wait` requests naming it may be answered.
    pub(super) fn deps_changed(&mut self, id: ProcId) {
        let Some(program) = self.table.procs.get(&id).map(|p| p.program.clone()) else {
            return;
        };
        let dependents: Vec<ProcId> = self
            .table
            .programs
            .values()
            .filter(|p| p.spec.depends_on.contains_key(&program))
            .flat_map(|p| p.procs.iter().copied())
            .filter(|d| {
                self.table
                    .procs
                    .get(d)
                    .is_some_and(|p| p.machine.state() == ProcessState::Waiting)
            })
            .collect();
        for d in dependents {
            self.regate(d);
        }
        if !self.deps.ordered.is_empty() {
            self.release_stops();
        }
        if !self.deps.waits.is_empty() {
            self.progress_waits();
        }
    }

    /// After a reload: every WAITING process looks at its (maybe new) dependencies.
    pub(super) fn reevaluate_waiting(&mut self) {
        let waiting: Vec<ProcId> = self
            .table
            .all_ids()
            .into_iter()
            .filter(|id| {
                self.table
                    .procs
                    .get(id)
                    .is_some_and(|p| p.machine.state() == ProcessState::Waiting)
            })
            .collect();
        for id in waiting {
            self.regate(id);
        }
    }

    /// `start --no-deps`: `id`'s next wait is skipped; a start that does not wait (the
    /// process is already up) forgets it.
    pub(super) fn start_without_deps(&mut self, id: ProcId) {
        if let Some(p) = self.table.procs.get_mut(&id) {
            p.deps.skip_once = true;
        }
        self.feed(id, Event::StartRequested);
        if let Some(p) = self.table.procs.get_mut(&id) {
            p.deps.skip_once = false;
        }
    }

    /// `start --no-deps NAME…`: like `start`, each process spawned without waiting, once.
    pub(super) fn start_no_deps_request(&mut self, cid: ClientId, names: &[String]) {
        let ids = match self.table.resolve(names) {
            Ok(ids) if !ids.is_empty() => ids,
            Ok(_) => return,
            Err(e) => return self.send_error(cid, e),
        };
        self.log
            .log(format_args!("request: start --no-deps {}", names.join(" ")));
        for &id in &ids {
            self.start_without_deps(id);
        }
        self.wait_for(cid, Op::Start, ids);
    }

    /// Retires removed processes (forgotten once stopped), stopping them in order.
    pub(super) fn retire_in_order(&mut self, ids: &[ProcId]) {
        for &id in ids {
            if let Some(proc) = self.table.procs.get_mut(&id) {
                proc.retiring = true;
                let key = (proc.program.clone(), proc.index);
                self.table.retired.insert(key, id);
            }
        }
        self.stop_in_order(ids);
    }

    /// Stops `ids`, dependents before what they depend on (see the module doc). Retiring
    /// processes without a child are forgotten once stopped.
    pub(super) fn stop_in_order(&mut self, ids: &[ProcId]) {
        // The everyday case: nothing depends on anything, everything stops at once.
        let ordered = ids.iter().any(|id| {
            self.table
                .procs
                .get(id)
                .is_some_and(|p| !p.spec.depends_on.is_empty())
        });
        if !ordered {
            for &id in ids {
                self.send_stop(id);
            }
            return;
        }
        for &id in ids {
            self.deps.ordered.insert(id);
            self.deps.deferred.insert(id);
        }
        self.release_stops();
    }

    fn send_stop(&mut self, id: ProcId) {
        self.feed(id, Event::StopRequested);
        if self
            .table
            .procs
            .get(&id)
            .is_some_and(|p| p.retiring && !p.machine.has_child())
        {
            self.forget(id);
        }
    }

    /// Sends every deferred stop that nothing blocks any more, until none is left to send.
    fn release_stops(&mut self) {
        if self.deps.releasing {
            return;
        }
        self.deps.releasing = true;
        loop {
            let procs = &self.table.procs;
            let deferred = &self.deps.deferred;
            self.deps.ordered.retain(|id| {
                procs
                    .get(id)
                    .is_some_and(|p| deferred.contains(id) || p.machine.has_child())
            });
            let mut ready: Vec<ProcId> = self
                .deps
                .deferred
                .iter()
                .copied()
                .filter(|&id| !self.stop_blocked(id))
                .collect();
            if ready.is_empty() && !self.deps.deferred.is_empty() && !self.stop_in_flight() {
                // Only deferred stops block each other (specs that form a cycle, an old
                // one and a new one across a reload): nothing would ever end the wait.
                ready = self.deps.deferred.iter().copied().collect();
            }
            if ready.is_empty() {
                break;
            }
            for id in ready {
                self.deps.deferred.remove(&id);
                if self.table.procs.contains_key(&id) {
                    self.send_stop(id);
                }
            }
        }
        self.deps.releasing = false;
    }

    /// Whether a process of the ordered stop whose stop was sent still has a child: its end
    /// will come as a state change.
    fn stop_in_flight(&self) -> bool {
        self.deps.ordered.iter().any(|id| {
            !self.deps.deferred.contains(id)
                && self
                    .table
                    .procs
                    .get(id)
                    .is_some_and(|p| p.machine.has_child())
        })
    }

    /// Whether a process of the ordered stop that depends on `id`'s program (directly or
    /// through others) still has a child.
    fn stop_blocked(&self, id: ProcId) -> bool {
        let Some(target) = self.table.procs.get(&id) else {
            return false;
        };
        let specs = |p: &str| self.table.programs.get(p).map(|prog| prog.spec.clone());
        self.deps.ordered.iter().any(|&d| {
            d != id
                && self.table.procs.get(&d).is_some_and(|p| {
                    p.program != target.program
                        && p.machine.has_child()
                        && depends_on_transitively(&p.spec, &target.program, specs)
                })
        })
    }

    /// `wait [NAME…] [--timeout D]`: answered once every named process (none named: every
    /// process of an autostart program) is RUNNING, as soon as one is FATAL, or at the
    /// deadline.
    pub(super) fn wait_request(&mut self, cid: ClientId, names: &[String], timeout: Option<u64>) {
        let ids = if names.is_empty() {
            self.table
                .all_ids()
                .into_iter()
                .filter(|id| self.table.procs.get(id).is_some_and(|p| p.spec.autostart))
                .collect()
        } else {
            match self.table.resolve(names) {
                Ok(ids) => ids,
                Err(e) => return self.send_error(cid, e),
            }
        };
        let deadline = timeout.map(Duration::from_millis);
        self.deps.next_wait += 1;
        let seq = self.deps.next_wait;
        if let Some(c) = self.conns.clients.get_mut(&cid) {
            c.await_reply();
        }
        self.deps.waits.push(WaitRequest {
            seq,
            client: cid,
            ids,
            timer: None,
        });
        if self.progress_waits() && deadline.is_some() {
            // Not answered yet: arm its deadline.
            let armed = deadline.and_then(|d| {
                self.handle
                    .insert_source(Timer::from_duration(d), move |_, (), sup| {
                        sup.wait_deadline(seq);
                        TimeoutAction::Drop
                    })
                    .ok()
            });
            if let Some(w) = self.deps.waits.iter_mut().find(|w| w.seq == seq) {
                w.timer = armed;
            }
        }
    }

    /// Answers every `wait` that is settled; returns whether the last one is still waiting.
    fn progress_waits(&mut self) -> bool {
        let waits = std::mem::take(&mut self.deps.waits);
        let mut last_open = false;
        for w in waits {
            let gone = !self.conns.clients.contains_key(&w.client);
            let states: Vec<ProcessState> = w
                .ids
                .iter()
                .filter_map(|id| self.table.procs.get(id).map(|p| p.machine.state()))
                .collect();
            let fatal = states.contains(&ProcessState::Fatal);
            let up = w
                .ids
                .iter()
                .all(|id| self.table.procs.get(id).is_none_or(is_up));
            if gone || fatal || up {
                self.answer_wait(w, false);
                last_open = false;
            } else {
                self.deps.waits.push(w);
                last_open = true;
            }
        }
        last_open
    }

    fn wait_deadline(&mut self, seq: u64) {
        if let Some(pos) = self.deps.waits.iter().position(|w| w.seq == seq) {
            let mut w = self.deps.waits.remove(pos);
            // The source drops itself (TimeoutAction::Drop).
            w.timer = None;
            self.answer_wait(w, true);
        }
    }

    fn answer_wait(&mut self, w: WaitRequest, timed_out: bool) {
        if let Some(token) = w.timer {
            self.handle.remove(token);
        }
        if !self.conns.clients.contains_key(&w.client) {
            return;
        }
        let processes: Vec<_> = w
            .ids
            .iter()
            .filter_map(|id| self.table.procs.get(id).map(status_of))
            .collect();
        let failed: Vec<String> = w
            .ids
            .iter()
            .filter_map(|id| self.table.procs.get(id))
            .filter(|p| !is_up(p))
            .map(|p| p.name.clone())
            .collect();
        self.send(
            w.client,
            &Response::Waited {
                processes,
                failed,
                timed_out,
            },
        );
        if let Some(c) = self.conns.clients.get_mut(&w.client) {
            c.reply_sent();
        }
        self.client_resume(w.client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(name: &str, state: ProcessState) -> Observed {
        Observed {
            name: name.into(),
            state,
            expected: None,
            exit: None,
            live: None,
        }
    }

    fn deps(pairs: &[(&str, Condition)]) -> BTreeMap<String, Condition> {
        pairs.iter().map(|(p, c)| ((*p).to_owned(), *c)).collect()
    }

    fn wait(pairs: &[(&str, &str)]) -> Verdict {
        Verdict::Wait(
            pairs
                .iter()
                .map(|(p, c)| WaitingFor {
                    program: (*p).into(),
                    condition: (*c).into(),
                })
                .collect(),
        )
    }

    #[test]
    fn each_condition_holds_in_its_states() {
        use ProcessState as S;
        let d = |c| deps(&[("db", c)]);
        let at = |c, state| evaluate(&d(c), |_| Some(vec![obs("db", state)]));
        assert_eq!(at(Condition::Started, S::Starting), Verdict::Met);
        assert_eq!(at(Condition::Started, S::Running), Verdict::Met);
        assert_eq!(
            at(Condition::Started, S::Backoff),
            wait(&[("db", "started")])
        );
        assert_eq!(at(Condition::Ready, S::Starting), wait(&[("db", "ready")]));
        assert_eq!(at(Condition::Ready, S::Running), Verdict::Met);
        assert_eq!(at(Condition::Ready, S::Stopping), wait(&[("db", "ready")]));
        assert_eq!(at(Condition::Healthy, S::Running), Verdict::Met);
        let mut unhealthy = obs("db", S::Running);
        unhealthy.live = Some(false);
        assert_eq!(
            evaluate(&d(Condition::Healthy), |_| Some(vec![unhealthy.clone()])),
            wait(&[("db", "healthy")])
        );
        assert_eq!(
            at(Condition::Completed, S::Running),
            wait(&[("db", "completed")])
        );
    }

    #[test]
    fn completed_needs_an_expected_exit_and_fails_on_another() {
        let d = deps(&[("migrate", Condition::Completed)]);
        let mut done = obs("migrate", ProcessState::Exited);
        done.expected = Some(true);
        assert_eq!(evaluate(&d, |_| Some(vec![done.clone()])), Verdict::Met);
        done.expected = Some(false);
        done.exit = Some(Exit::Code(3));
        assert_eq!(
            evaluate(&d, |_| Some(vec![done.clone()])),
            Verdict::Failed("dependency migrate exited with code 3".into())
        );
    }

    #[test]
    fn a_fatal_process_fails_and_every_process_must_hold() {
        let d = deps(&[("db", Condition::Ready), ("cache", Condition::Started)]);
        let verdict = evaluate(&d, |p| {
            Some(match p {
                "db" => vec![
                    obs("db:0", ProcessState::Running),
                    obs("db:1", ProcessState::Backoff),
                ],
                _ => vec![obs("cache", ProcessState::Running)],
            })
        });
        assert_eq!(verdict, wait(&[("db", "ready")]));
        let verdict = evaluate(&d, |p| {
            Some(match p {
                "db" => vec![obs("db:0", ProcessState::Fatal)],
                _ => vec![obs("cache", ProcessState::Starting)],
            })
        });
        assert_eq!(verdict, Verdict::Failed("dependency db:0 is FATAL".into()));
        // A program a reload removed is nothing to wait for.
        assert_eq!(evaluate(&d, |_| None), Verdict::Met);
    }

    #[test]
    fn waiting_pulls_stopped_and_exited_dependencies() {
        use ProcessState as S;
        assert!(pulls(Condition::Ready, S::Stopped));
        assert!(pulls(Condition::Ready, S::Exited));
        assert!(pulls(Condition::Completed, S::Stopped));
        assert!(!pulls(Condition::Completed, S::Exited));
        assert!(!pulls(Condition::Ready, S::Fatal));
        assert!(!pulls(Condition::Ready, S::Backoff));
    }

    #[test]
    fn transitive_dependencies_are_followed_once() {
        use std::rc::Rc;
        let mut web = ProgramSpec::with_defaults("web", vec!["x".into()]);
        web.depends_on.insert("api".into(), Condition::Ready);
        let mut api = ProgramSpec::with_defaults("api", vec!["x".into()]);
        api.depends_on.insert("db".into(), Condition::Ready);
        api.depends_on.insert("web".into(), Condition::Ready); // a cycle: still ends
        let api = Rc::new(api);
        let specs = |p: &str| (p == "api").then(|| api.clone());
        assert!(depends_on_transitively(&web, "db", specs));
        assert!(!depends_on_transitively(&web, "cache", specs));
    }
}
