//! The checks' half of the process machine (`readiness`, `liveness`), pure like the rest.
//!
//! - Readiness runs from the spawn of a process whose program has a `readiness` block: the
//!   first attempt `delay` after [`Event::Spawned`], then `interval` after each one ended.
//!   `threshold` passes in a row make it ready; it is RUNNING once ready **and** `starttime`
//!   elapsed. The start timer serves both: it fires at `starttime`, then (still not ready)
//!   at the `deadline`, which is a failed start attempt: the process is stopped
//!   (stop signal, `stoptime`, SIGKILL) and, once its group is gone, counts under
//!   `startretries` with [`Failure::NotReady`]. A `log` check runs no attempts: the driver
//!   matches output lines while [`Machine::watching_log`] and reports a match as a pass.
//! - Liveness runs while RUNNING: first `delay` after RUNNING, then `interval` apart. A pass
//!   resets the failures; `threshold` in a row stop the process the same way, and once its
//!   group is gone it is handled like a death by signal while RUNNING (a crash restart,
//!   `restart-backoff` and `crash-limit` apply; or EXITED with `autorestart #false`).
//! - At most one attempt is in flight ([`Effect::RunCheck`] until [`Event::CheckDone`]); the
//!   check timer is separate from the process timer and armed only while a check is
//!   configured and due. Leaving the phase (exit, stop, RUNNING reached) cancels the timer
//!   and aborts the attempt in flight ([`Effect::AbortCheck`]); a late result is ignored.

use std::time::{Duration, Instant};

use super::{Effect, Event, Exit, Failure, Machine};
use crate::plan::check::{Check, CheckRole, Probe};
use crate::plan::model::ProgramSpec;
use crate::protocol::ProcessState as S;

/// Why a check stopped the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CheckStop {
    /// Not ready within the readiness deadline.
    NotReady,
    /// Liveness failed `failures` times in a row.
    Unhealthy { failures: u32 },
}

/// The per-process check state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Probing {
    /// The check that runs now, if any.
    phase: Option<CheckRole>,
    in_flight: bool,
    /// Readiness passes in a row.
    passes: u32,
    /// Liveness failures in a row.
    failures: u32,
    ready: bool,
    healthy: Option<bool>,
    /// When the current child was spawned (`None` while none is up).
    spawned_at: Option<Instant>,
    /// `starttime` has elapsed since that spawn.
    starttime_done: bool,
    /// A stop a check asked for, until the group is gone.
    stop: Option<CheckStop>,
    /// The last liveness stop, for the reason; until the next manual start.
    last_stop: Option<CheckStop>,
}

impl Probing {
    pub(super) fn spawned(&mut self, now: Instant) {
        self.spawned_at = Some(now);
        self.starttime_done = false;
        self.ready = false;
        self.passes = 0;
        // A new child has no liveness result yet.
        self.healthy = None;
    }
}

fn check_of(spec: &ProgramSpec, role: CheckRole) -> Option<&Check> {
    match role {
        CheckRole::Readiness => spec.readiness.as_ref(),
        CheckRole::Liveness => spec.liveness.as_ref(),
    }
}

impl Machine {
    /// Whether the readiness check passed for the current child (or it is RUNNING).
    pub(crate) fn ready(&self) -> bool {
        self.probing.ready || self.state == S::Running
    }

    /// The latest liveness result of this child; `None` before the first one.
    pub(crate) fn healthy(&self) -> Option<bool> {
        self.probing.healthy
    }

    /// The check stop in progress, else the last liveness stop (until a manual start).
    pub(crate) fn check_stop(&self) -> Option<CheckStop> {
        self.probing.stop.or(self.probing.last_stop)
    }

    /// Whether output lines should be matched against a readiness `log` check now.
    pub(crate) fn watching_log(&self) -> bool {
        self.probing.phase == Some(CheckRole::Readiness)
    }

    /// `starttime` has elapsed since the spawn: RUNNING, unless readiness still holds it
    /// (then the start timer is re-armed for what is left of the deadline).
    pub(super) fn starttime_elapsed(&mut self, spec: &ProgramSpec, now: Instant) -> Vec<Effect> {
        self.probing.starttime_done = true;
        match &spec.readiness {
            Some(check) if !self.probing.ready => {
                let since = self
                    .probing
                    .spawned_at
                    .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
                vec![Effect::ArmTimer(check.deadline.saturating_sub(since))]
            }
            _ => {
                self.enter_running(now);
                vec![]
            }
        }
    }

    /// The start timer of a STARTING process: `starttime`, or else the readiness deadline.
    pub(super) fn start_timer_fired(&mut self, spec: &ProgramSpec, now: Instant) -> Vec<Effect> {
        if !self.probing.starttime_done || spec.readiness.is_none() || self.probing.ready {
            return self.starttime_elapsed(spec, now);
        }
        let deadline = spec
            .readiness
            .as_ref()
            .map_or(Duration::ZERO, |c| c.deadline);
        self.failure = Some(Failure::NotReady { deadline });
        self.probing.stop = Some(CheckStop::NotReady);
        self.state = S::Stopping;
        vec![Effect::SendStopSignal, Effect::ArmTimer(spec.stoptime)]
    }

    /// The events the checks own or intercept; `None` leaves the event to the main table.
    pub(super) fn check_event(
        &mut self,
        event: Event,
        spec: &ProgramSpec,
        now: Instant,
    ) -> Option<Vec<Effect>> {
        match event {
            Event::CheckTimerFired => Some(self.check_timer_fired()),
            Event::CheckDone { role, passed } => Some(self.check_done(role, passed, spec, now)),
            Event::ChecksChanged => Some(self.checks_changed(spec, now)),
            Event::StartRequested | Event::StopRequested => {
                // A manual stop or start takes over a stop a check asked for.
                self.probing.stop = None;
                if event == Event::StartRequested && !self.has_child() {
                    self.probing.last_stop = None;
                }
                None
            }
            Event::Exited(exit) if self.state == S::Stopping && self.drain.is_none() => {
                let stop = self.probing.stop.take()?;
                Some(self.check_stopped(stop, exit, spec, now))
            }
            Event::GroupEmpty if self.state == S::Stopping && self.probing.stop.is_some() => {
                let drain = self.drain.take()?;
                let stop = self.probing.stop.take()?;
                Some(self.check_stopped(stop, drain.exit, spec, now))
            }
            _ => None,
        }
    }

    /// The group of a process a check stopped is gone: a failed start attempt, or a crash.
    fn check_stopped(
        &mut self,
        stop: CheckStop,
        exit: Exit,
        spec: &ProgramSpec,
        now: Instant,
    ) -> Vec<Effect> {
        match stop {
            CheckStop::NotReady => {
                self.state = S::Starting;
                self.last_exit = Some(exit);
                // The kill timer is still armed: cancelled there.
                self.failed_attempt(spec, true)
            }
            CheckStop::Unhealthy { .. } => {
                self.state = S::Running;
                self.probing.last_stop = Some(stop);
                // Whatever it exited with, a process stopped for failing its checks died
                // unexpectedly: `autorestart "unexpected"` restarts it.
                let as_signal = match exit {
                    Exit::Signal(_) => exit,
                    Exit::Code(_) => Exit::Signal(spec.stopsignal.0 as i32),
                };
                let mut effects = vec![Effect::CancelTimer];
                effects.extend(self.exited_running(as_signal, spec, now));
                self.last_exit = Some(exit);
                effects
            }
        }
    }

    fn check_timer_fired(&mut self) -> Vec<Effect> {
        match self.probing.phase {
            Some(role) if !self.probing.in_flight => {
                self.probing.in_flight = true;
                vec![Effect::RunCheck(role)]
            }
            _ => vec![],
        }
    }

    fn check_done(
        &mut self,
        role: CheckRole,
        passed: bool,
        spec: &ProgramSpec,
        now: Instant,
    ) -> Vec<Effect> {
        let Some(check) = check_of(spec, role) else {
            return vec![];
        };
        let is_log = matches!(check.probe, Probe::Log(_));
        if self.probing.phase != Some(role) || !(self.probing.in_flight || is_log) {
            return vec![];
        }
        self.probing.in_flight = false;
        match role {
            CheckRole::Readiness => {
                self.probing.passes = if passed {
                    self.probing.passes.saturating_add(1)
                } else {
                    0
                };
                if self.probing.passes < check.threshold.max(1) {
                    return if is_log {
                        vec![]
                    } else {
                        vec![Effect::ArmCheckTimer(check.interval)]
                    };
                }
                self.probing.ready = true;
                if self.probing.starttime_done {
                    self.enter_running(now);
                    // The deadline timer.
                    vec![Effect::CancelTimer]
                } else {
                    vec![]
                }
            }
            CheckRole::Liveness => {
                self.probing.healthy = Some(passed);
                if passed {
                    self.probing.failures = 0;
                    return vec![Effect::ArmCheckTimer(check.interval)];
                }
                self.probing.failures = self.probing.failures.saturating_add(1);
                if self.probing.failures < check.threshold.max(1) {
                    return vec![Effect::ArmCheckTimer(check.interval)];
                }
                self.probing.stop = Some(CheckStop::Unhealthy {
                    failures: self.probing.failures,
                });
                self.state = S::Stopping;
                vec![Effect::SendStopSignal, Effect::ArmTimer(spec.stoptime)]
            }
        }
    }

    /// A reload changed a check block: liveness starts again with the new block (failures
    /// reset); readiness applies from the next start, except that a process held only by a
    /// removed readiness is RUNNING at once.
    fn checks_changed(&mut self, spec: &ProgramSpec, now: Instant) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.probing.phase == Some(CheckRole::Liveness) {
            self.stop_checks(&mut effects);
        }
        if self.state == S::Starting
            && spec.readiness.is_none()
            && self.probing.spawned_at.is_some()
            && self.probing.starttime_done
        {
            self.enter_running(now);
            effects.push(Effect::CancelTimer);
        }
        effects
    }

    /// After every event: start or stop the checks the new state calls for.
    pub(super) fn sync_checks(&mut self, spec: &ProgramSpec, effects: &mut Vec<Effect>) {
        if self.state == S::Running {
            // Running again: the last liveness stop is history, not the reason for anything.
            self.probing.last_stop = None;
        }
        if effects.contains(&Effect::Spawn) || !matches!(self.state, S::Starting | S::Running) {
            // No child, or a new one coming: the old one's readiness means nothing.
            self.probing.spawned_at = None;
            self.probing.starttime_done = false;
            self.probing.ready = false;
        }
        let want = match self.state {
            S::Starting
                if self.probing.spawned_at.is_some()
                    && !self.probing.ready
                    && spec.readiness.is_some() =>
            {
                Some(CheckRole::Readiness)
            }
            S::Running if spec.liveness.is_some() => Some(CheckRole::Liveness),
            _ => None,
        };
        if want == self.probing.phase {
            return;
        }
        self.stop_checks(effects);
        let Some(role) = want else {
            return;
        };
        let Some(check) = check_of(spec, role) else {
            return;
        };
        self.probing.phase = Some(role);
        match role {
            CheckRole::Readiness => self.probing.passes = 0,
            CheckRole::Liveness => {
                self.probing.failures = 0;
                self.probing.healthy = None;
            }
        }
        if matches!(check.probe, Probe::Log(_)) {
            return;
        }
        if check.delay.is_zero() {
            self.probing.in_flight = true;
            effects.push(Effect::RunCheck(role));
        } else {
            effects.push(Effect::ArmCheckTimer(check.delay));
        }
    }

    fn stop_checks(&mut self, effects: &mut Vec<Effect>) {
        if self.probing.phase.take().is_some() {
            effects.push(Effect::CancelCheckTimer);
            if std::mem::take(&mut self.probing.in_flight) {
                effects.push(Effect::AbortCheck);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::plan::check::{LogPattern, LogStream};
    use crate::plan::model::AutoRestart;
    use CheckRole::{Liveness as L, Readiness as R};
    use Effect as E;

    fn t0() -> Instant {
        static T0: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *T0.get_or_init(Instant::now)
    }

    fn at(ms: u64) -> Instant {
        t0() + Duration::from_millis(ms)
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn tcp(role: CheckRole) -> Check {
        Check::with_defaults(role, Probe::Tcp("127.0.0.1:8080".parse().unwrap()))
    }

    /// starttime 0, `readiness { tcp 8080; interval "500ms" }` (deadline 60s).
    fn ready_spec() -> ProgramSpec {
        let mut s = ProgramSpec::with_defaults("p", vec!["sleep".into()]);
        s.starttime = Duration::ZERO;
        s.readiness = Some(Check {
            interval: Duration::from_millis(500),
            ..tcp(R)
        });
        s
    }

    /// starttime 0, `liveness { tcp 8080 }` (interval 10s, threshold 3).
    fn live_spec() -> ProgramSpec {
        let mut s = ProgramSpec::with_defaults("p", vec!["sleep".into()]);
        s.starttime = Duration::ZERO;
        s.liveness = Some(tcp(L));
        s
    }

    fn done(role: CheckRole, passed: bool) -> Event {
        Event::CheckDone { role, passed }
    }

    fn spawned(s: &ProgramSpec) -> Machine {
        let mut m = Machine::new();
        assert_eq!(m.handle(Event::StartRequested, s, t0()), [E::Spawn]);
        m
    }

    /// A live process passing its first liveness check.
    fn healthy(s: &ProgramSpec) -> Machine {
        let mut m = spawned(s);
        assert_eq!(m.handle(Event::Spawned, s, t0()), [E::RunCheck(L)]);
        assert_eq!(m.state(), S::Running);
        assert_eq!(
            m.handle(done(L, true), s, t0()),
            [E::ArmCheckTimer(secs(10))]
        );
        assert_eq!(m.healthy(), Some(true));
        m
    }

    fn fail_liveness(m: &mut Machine, s: &ProgramSpec, times: u32) -> Vec<Effect> {
        let mut last = vec![];
        for _ in 0..times {
            assert_eq!(m.handle(Event::CheckTimerFired, s, t0()), [E::RunCheck(L)]);
            last = m.handle(done(L, false), s, t0());
        }
        last
    }

    #[test]
    fn readiness_holds_starting_until_a_check_passes() {
        let s = ready_spec();
        let mut m = spawned(&s);
        assert_eq!(
            m.handle(Event::Spawned, &s, t0()),
            [E::ArmTimer(secs(60)), E::RunCheck(R)]
        );
        assert_eq!(m.state(), S::Starting);
        assert!(!m.ready());
        assert_eq!(
            m.handle(done(R, false), &s, t0()),
            [E::ArmCheckTimer(Duration::from_millis(500))]
        );
        assert_eq!(m.handle(Event::CheckTimerFired, &s, t0()), [E::RunCheck(R)]);
        assert_eq!(
            m.handle(Event::CheckTimerFired, &s, t0()),
            [],
            "never two in flight"
        );
        assert_eq!(
            m.handle(done(R, true), &s, t0()),
            [E::CancelTimer, E::CancelCheckTimer]
        );
        assert_eq!(m.state(), S::Running);
        assert!(m.ready());
        assert_eq!(m.handle(done(R, true), &s, t0()), [], "a late result");
    }

    #[test]
    fn ready_before_starttime_waits_for_it() {
        let mut s = ready_spec();
        s.starttime = secs(2);
        let mut m = spawned(&s);
        assert_eq!(
            m.handle(Event::Spawned, &s, t0()),
            [E::ArmTimer(secs(2)), E::RunCheck(R)]
        );
        assert_eq!(m.handle(done(R, true), &s, at(100)), [E::CancelCheckTimer]);
        assert_eq!(m.state(), S::Starting);
        assert!(m.ready());
        assert_eq!(m.handle(Event::TimerFired, &s, at(2000)), []);
        assert_eq!(m.state(), S::Running);
    }

    #[test]
    fn starttime_then_what_is_left_of_the_deadline() {
        let mut s = ready_spec();
        s.starttime = secs(1);
        s.readiness.as_mut().unwrap().deadline = secs(5);
        let mut m = spawned(&s);
        m.handle(Event::Spawned, &s, t0());
        assert_eq!(
            m.handle(Event::TimerFired, &s, at(1000)),
            [E::ArmTimer(secs(4))]
        );
        assert_eq!(m.state(), S::Starting);
    }

    #[test]
    fn threshold_passes_in_a_row_make_it_ready() {
        let mut s = ready_spec();
        s.readiness.as_mut().unwrap().threshold = 2;
        let mut m = spawned(&s);
        m.handle(Event::Spawned, &s, t0());
        let again = [E::ArmCheckTimer(Duration::from_millis(500))];
        assert_eq!(m.handle(done(R, true), &s, t0()), again);
        m.handle(Event::CheckTimerFired, &s, t0());
        assert_eq!(m.handle(done(R, false), &s, t0()), again, "the run breaks");
        m.handle(Event::CheckTimerFired, &s, t0());
        assert_eq!(m.handle(done(R, true), &s, t0()), again);
        m.handle(Event::CheckTimerFired, &s, t0());
        m.handle(done(R, true), &s, t0());
        assert_eq!(m.state(), S::Running);
    }

    #[test]
    fn not_ready_by_the_deadline_is_a_failed_attempt_then_fatal() {
        let mut s = ready_spec();
        s.startretries = 1;
        let mut m = spawned(&s);
        m.handle(Event::Spawned, &s, t0());
        m.handle(done(R, false), &s, t0());
        assert_eq!(
            m.handle(Event::TimerFired, &s, at(60_000)),
            [
                E::SendStopSignal,
                E::ArmTimer(secs(10)),
                E::CancelCheckTimer
            ]
        );
        assert_eq!(m.state(), S::Stopping);
        assert_eq!(m.check_stop(), Some(CheckStop::NotReady));
        assert_eq!(
            m.handle(Event::Exited(Exit::Signal(15)), &s, at(60_010)),
            [E::CancelTimer, E::ArmTimer(secs(1))]
        );
        assert_eq!(m.state(), S::Backoff);
        assert_eq!(m.failure(), Some(Failure::NotReady { deadline: secs(60) }));
        assert_eq!(m.handle(Event::TimerFired, &s, at(61_000)), [E::Spawn]);
        assert_eq!(
            m.handle(Event::Spawned, &s, at(61_000)),
            [E::ArmTimer(secs(60)), E::RunCheck(R)]
        );
        // This time an attempt is in flight at the deadline: it is aborted.
        assert_eq!(
            m.handle(Event::TimerFired, &s, at(121_000)),
            [
                E::SendStopSignal,
                E::ArmTimer(secs(10)),
                E::CancelCheckTimer,
                E::AbortCheck
            ]
        );
        // It ignores the stop signal: killed, then its group is gone.
        assert_eq!(m.handle(Event::TimerFired, &s, at(131_000)), [E::Kill]);
        assert_eq!(
            m.handle(Event::Exited(Exit::Signal(9)), &s, at(131_000)),
            [E::CancelTimer]
        );
        assert_eq!(m.state(), S::Fatal);
        assert_eq!(m.attempts(), 2);
        assert_eq!(m.failure(), Some(Failure::NotReady { deadline: secs(60) }));
    }

    #[test]
    fn an_exit_before_ready_is_a_failed_attempt_and_stops_the_checks() {
        let s = ready_spec();
        let mut m = spawned(&s);
        m.handle(Event::Spawned, &s, t0());
        assert_eq!(
            m.handle(Event::Exited(Exit::Code(1)), &s, t0()),
            [
                E::CancelTimer,
                E::ArmTimer(secs(1)),
                E::CancelCheckTimer,
                E::AbortCheck
            ]
        );
        assert_eq!(m.state(), S::Backoff);
        assert_eq!(m.failure(), Some(Failure::ExitedTooQuickly(Exit::Code(1))));
    }

    #[test]
    fn a_log_check_runs_no_attempts_and_passes_on_a_match() {
        let mut s = ready_spec();
        s.readiness = Some(Check::with_defaults(
            R,
            Probe::Log(LogPattern {
                regex: regex::Regex::new("ready$").unwrap(),
                stream: LogStream::Stdout,
            }),
        ));
        let mut m = spawned(&s);
        assert_eq!(m.handle(Event::Spawned, &s, t0()), [E::ArmTimer(secs(60))]);
        assert!(m.watching_log());
        assert_eq!(
            m.handle(done(R, true), &s, t0()),
            [E::CancelTimer, E::CancelCheckTimer]
        );
        assert_eq!(m.state(), S::Running);
        assert!(!m.watching_log());
    }

    #[test]
    fn liveness_failures_in_a_row_stop_the_process_and_count_as_a_crash() {
        let s = live_spec();
        let mut m = healthy(&s);
        assert_eq!(fail_liveness(&mut m, &s, 2), [E::ArmCheckTimer(secs(10))]);
        assert_eq!(m.healthy(), Some(false));
        assert_eq!(m.state(), S::Running);
        // A pass resets the count.
        assert_eq!(m.handle(Event::CheckTimerFired, &s, t0()), [E::RunCheck(L)]);
        m.handle(done(L, true), &s, t0());
        fail_liveness(&mut m, &s, 2);
        assert_eq!(m.state(), S::Running);
        assert_eq!(
            fail_liveness(&mut m, &s, 1),
            [
                E::SendStopSignal,
                E::ArmTimer(secs(10)),
                E::CancelCheckTimer
            ]
        );
        assert_eq!(m.state(), S::Stopping);
        assert_eq!(m.check_stop(), Some(CheckStop::Unhealthy { failures: 3 }));
        assert_eq!(
            m.handle(Event::Exited(Exit::Signal(15)), &s, at(100)),
            [E::CancelTimer, E::Spawn],
            "the first crash restart is immediate"
        );
        assert_eq!(m.state(), S::Starting);
        assert_eq!(m.restarts(), 1);
        assert_eq!(m.crash_run(), 1);
        assert_eq!(m.check_stop(), Some(CheckStop::Unhealthy { failures: 3 }));
        assert_eq!(m.handle(Event::Spawned, &s, at(100)), [E::RunCheck(L)]);
        assert_eq!(m.healthy(), None, "no result yet for this run");
        assert_eq!(m.check_stop(), None, "running again: not a reason any more");
    }

    #[test]
    fn a_liveness_stop_restarts_even_after_an_expected_exit_code() {
        let s = live_spec();
        let mut m = healthy(&s);
        fail_liveness(&mut m, &s, 3);
        assert_eq!(
            m.handle(Event::Exited(Exit::Code(0)), &s, t0()),
            [E::CancelTimer, E::Spawn]
        );
        assert_eq!(m.last_exit(), Some(Exit::Code(0)));
    }

    #[test]
    fn a_liveness_stop_without_autorestart_is_exited() {
        let mut s = live_spec();
        s.autorestart = AutoRestart::Never;
        let mut m = healthy(&s);
        fail_liveness(&mut m, &s, 3);
        assert_eq!(
            m.handle(Event::Exited(Exit::Signal(15)), &s, t0()),
            [E::CancelTimer]
        );
        assert_eq!(m.state(), S::Exited);
        assert_eq!(m.check_stop(), Some(CheckStop::Unhealthy { failures: 3 }));
    }

    #[test]
    fn a_liveness_stop_waits_for_leftovers_then_backs_off_as_a_crash() {
        let mut s = live_spec();
        s.liveness.as_mut().unwrap().threshold = 1;
        let mut m = healthy(&s);
        // A first crash, restarted at once.
        fail_liveness(&mut m, &s, 1);
        m.handle(Event::Exited(Exit::Signal(15)), &s, t0());
        m.handle(Event::Spawned, &s, t0());
        m.handle(done(L, true), &s, t0());
        fail_liveness(&mut m, &s, 1);
        let leader = Event::LeaderExited {
            exit: Exit::Signal(15),
            leftovers: 2,
        };
        assert_eq!(m.handle(leader, &s, at(10)), [E::SendStopSignal]);
        assert_eq!(
            m.handle(Event::GroupEmpty, &s, at(20)),
            [E::CancelTimer, E::ArmTimer(Duration::from_millis(100))]
        );
        assert_eq!(m.state(), S::Backoff);
        assert_eq!(m.crash_wait().map(|w| w.crash), Some(2));
    }

    #[test]
    fn a_manual_stop_during_a_check_stop_ends_stopped() {
        let s = live_spec();
        let mut m = healthy(&s);
        fail_liveness(&mut m, &s, 3);
        assert_eq!(m.handle(Event::StopRequested, &s, t0()), []);
        assert_eq!(
            m.handle(Event::Exited(Exit::Signal(15)), &s, t0()),
            [E::CancelTimer]
        );
        assert_eq!(m.state(), S::Stopped);
    }

    #[test]
    fn liveness_starts_after_its_delay_and_stops_with_the_process() {
        let mut s = live_spec();
        s.liveness.as_mut().unwrap().delay = secs(5);
        let mut m = spawned(&s);
        assert_eq!(
            m.handle(Event::Spawned, &s, t0()),
            [E::ArmCheckTimer(secs(5))]
        );
        assert_eq!(m.handle(Event::CheckTimerFired, &s, t0()), [E::RunCheck(L)]);
        assert_eq!(
            m.handle(Event::StopRequested, &s, t0()),
            [
                E::SendStopSignal,
                E::ArmTimer(secs(10)),
                E::CancelCheckTimer,
                E::AbortCheck
            ]
        );
        assert_eq!(m.handle(done(L, false), &s, t0()), [], "aborted: ignored");
    }

    #[test]
    fn no_check_timer_without_checks() {
        let mut s = live_spec();
        s.liveness = None;
        let mut m = spawned(&s);
        assert_eq!(m.handle(Event::Spawned, &s, t0()), []);
        assert_eq!(m.handle(Event::CheckTimerFired, &s, t0()), []);
        assert_eq!(m.handle(done(L, false), &s, t0()), []);
        assert_eq!(m.healthy(), None);
    }

    #[test]
    fn a_reload_adds_changes_and_removes_liveness_in_place() {
        let mut s = live_spec();
        s.liveness = None;
        let mut m = spawned(&s);
        m.handle(Event::Spawned, &s, t0());
        assert_eq!(m.state(), S::Running);
        s.liveness = Some(tcp(L));
        assert_eq!(m.handle(Event::ChecksChanged, &s, t0()), [E::RunCheck(L)]);
        m.handle(done(L, false), &s, t0());
        // Changed: the failures start again, the attempt in flight is dropped.
        m.handle(Event::CheckTimerFired, &s, t0());
        s.liveness.as_mut().unwrap().threshold = 1;
        assert_eq!(
            m.handle(Event::ChecksChanged, &s, t0()),
            [E::CancelCheckTimer, E::AbortCheck, E::RunCheck(L)]
        );
        s.liveness = None;
        assert_eq!(
            m.handle(Event::ChecksChanged, &s, t0()),
            [E::CancelCheckTimer, E::AbortCheck]
        );
        assert_eq!(m.state(), S::Running);
    }

    #[test]
    fn a_removed_readiness_releases_a_process_past_its_starttime() {
        let mut s = ready_spec();
        let mut m = spawned(&s);
        m.handle(Event::Spawned, &s, t0());
        s.readiness = None;
        assert_eq!(
            m.handle(Event::ChecksChanged, &s, t0()),
            [E::CancelTimer, E::CancelCheckTimer, E::AbortCheck]
        );
        assert_eq!(m.state(), S::Running);
    }

    #[test]
    fn readiness_then_liveness() {
        let mut s = ready_spec();
        s.liveness = Some(tcp(L));
        let mut m = spawned(&s);
        m.handle(Event::Spawned, &s, t0());
        assert_eq!(
            m.handle(done(R, true), &s, t0()),
            [E::CancelTimer, E::CancelCheckTimer, E::RunCheck(L)]
        );
    }
}
