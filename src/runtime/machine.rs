//! The per-process state machine, pure: events in, effects out, no syscalls.
//!
//! States and rules are supervisord's (see the contract's "States"):
//! - a start attempt that ends before `starttime` (an exit or a spawn failure) is a failed
//!   attempt: BACKOFF, retried after 1 s, 2 s, 3 s…, and after `1 + startretries` failed
//!   attempts the process is FATAL;
//! - an exit while RUNNING restarts the process at once when `autorestart` says so (the
//!   backoff delay is only for exits before `starttime`), else it is EXITED;
//! - `stop` sends the stop signal, arms `stoptime`, then kills; the exit makes it STOPPED.
//!
//! The driver (`supervisor`) turns [`Effect`]s into syscalls and feeds what happened back as
//! [`Event`]s. A process has at most one timer at a time (start, backoff or kill), so the
//! machine only says "arm" or "cancel" and interprets [`Event::TimerFired`] by its state.

use std::time::Duration;

use crate::plan::model::{ProgramSpec, is_expected_exit};
use crate::protocol::ProcessState;

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    /// The exit code, `None` for a death by signal.
    pub fn code(self) -> Option<i32> {
        match self {
            Exit::Code(c) => Some(c),
            Exit::Signal(_) => None,
        }
    }
}

/// Something that happened to a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A manual `start` (also the initial autostart).
    StartRequested,
    /// A manual `stop` (also shutdown, reload removals and scale-downs).
    StopRequested,
    /// The driver spawned the child after an [`Effect::Spawn`].
    Spawned,
    /// The driver could not spawn it (its reason is kept by the driver).
    SpawnFailed,
    /// The child was reaped.
    Exited(Exit),
    /// The one timer armed by [`Effect::ArmTimer`] expired.
    TimerFired,
}

/// What the driver must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Spawn the child now, then report [`Event::Spawned`] or [`Event::SpawnFailed`].
    Spawn,
    /// Arm the process's timer, replacing any armed one.
    ArmTimer(Duration),
    /// Disarm the process's timer.
    CancelTimer,
    /// Send the program's stop signal to the process group.
    SendStopSignal,
    /// SIGKILL the process group.
    Kill,
}

/// One process's supervision state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    state: ProcessState,
    /// Failed start attempts in the current start sequence.
    attempts: u32,
    /// Automatic (re)starts since the last manual start.
    restarts: u32,
    /// A start asked for while STOPPING: spawn again once the old child is gone (`restart`).
    start_after_stop: bool,
    last_exit: Option<Exit>,
    /// For EXITED: whether the exit code was an expected one.
    expected: Option<bool>,
    /// Whether the last failed attempt was an exit (else a spawn failure).
    failure: Option<Failure>,
}

/// Why the last start attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    SpawnFailed,
    ExitedTooQuickly(Exit),
}

impl Default for Machine {
    fn default() -> Self {
        Self::new()
    }
}

impl Machine {
    /// A process never started: STOPPED.
    pub fn new() -> Self {
        Machine {
            state: ProcessState::Stopped,
            attempts: 0,
            restarts: 0,
            start_after_stop: false,
            last_exit: None,
            expected: None,
            failure: None,
        }
    }

    pub fn state(&self) -> ProcessState {
        self.state
    }

    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    pub fn last_exit(&self) -> Option<Exit> {
        self.last_exit
    }

    pub fn expected(&self) -> Option<bool> {
        self.expected
    }

    pub fn failure(&self) -> Option<Failure> {
        self.failure
    }

    /// Whether a start is queued behind a stop in progress.
    pub fn start_pending(&self) -> bool {
        self.start_after_stop
    }

    /// Whether the process is meant to be running (what a spawn-field reload restarts).
    pub fn is_active(&self) -> bool {
        matches!(
            self.state,
            ProcessState::Starting | ProcessState::Running | ProcessState::Backoff
        ) || self.start_after_stop
    }

    /// Whether a child may be alive (the driver holds a pid).
    pub fn has_child(&self) -> bool {
        matches!(
            self.state,
            ProcessState::Starting | ProcessState::Running | ProcessState::Stopping
        )
    }

    /// Applies one event under `spec`'s supervision settings; returns what to do.
    pub fn handle(&mut self, event: Event, spec: &ProgramSpec) -> Vec<Effect> {
        use ProcessState as S;
        match (self.state, event) {
            (S::Stopped | S::Exited | S::Fatal, Event::StartRequested) => {
                self.begin_manual_start();
                vec![Effect::Spawn]
            }
            (S::Backoff, Event::StartRequested) => {
                self.begin_manual_start();
                vec![Effect::CancelTimer, Effect::Spawn]
            }
            (S::Stopping, Event::StartRequested) => {
                self.start_after_stop = true;
                vec![]
            }
            (S::Starting | S::Running, Event::StartRequested) => vec![],

            (S::Starting | S::Running, Event::StopRequested) => {
                self.state = S::Stopping;
                vec![Effect::SendStopSignal, Effect::ArmTimer(spec.stoptime)]
            }
            (S::Backoff, Event::StopRequested) => {
                self.state = S::Stopped;
                vec![Effect::CancelTimer]
            }
            (S::Stopping, Event::StopRequested) => {
                self.start_after_stop = false;
                vec![]
            }
            (S::Stopped | S::Exited | S::Fatal, Event::StopRequested) => vec![],

            (S::Starting, Event::Spawned) => {
                if spec.starttime.is_zero() {
                    self.enter_running();
                    vec![]
                } else {
                    vec![Effect::ArmTimer(spec.starttime)]
                }
            }
            (S::Starting, Event::SpawnFailed) => {
                // This attempt never ran: an exit of an earlier one is not its exit code.
                self.last_exit = None;
                self.failure = Some(Failure::SpawnFailed);
                self.failed_attempt(spec, false)
            }
            (S::Starting, Event::TimerFired) => {
                self.enter_running();
                vec![]
            }
            (S::Starting, Event::Exited(exit)) => {
                self.last_exit = Some(exit);
                self.failure = Some(Failure::ExitedTooQuickly(exit));
                self.failed_attempt(spec, true)
            }
            (S::Running, Event::Exited(exit)) => {
                self.last_exit = Some(exit);
                if spec.autorestart.restarts(exit.code(), &spec.exitcodes) {
                    self.restarts = self.restarts.saturating_add(1);
                    self.attempts = 0;
                    self.state = S::Starting;
                    vec![Effect::Spawn]
                } else {
                    self.state = S::Exited;
                    self.expected = Some(is_expected_exit(exit.code(), &spec.exitcodes));
                    vec![]
                }
            }
            (S::Backoff, Event::TimerFired) => {
                self.restarts = self.restarts.saturating_add(1);
                self.state = S::Starting;
                vec![Effect::Spawn]
            }
            (S::Stopping, Event::TimerFired) => vec![Effect::Kill],
            (S::Stopping, Event::Exited(exit)) => {
                self.last_exit = Some(exit);
                if std::mem::take(&mut self.start_after_stop) {
                    self.begin_manual_start();
                    vec![Effect::CancelTimer, Effect::Spawn]
                } else {
                    self.state = S::Stopped;
                    vec![Effect::CancelTimer]
                }
            }
            // A spawn result, exit or timer that does not belong to this state (e.g. a timer
            // that fired just as it was cancelled) changes nothing.
            _ => vec![],
        }
    }

    fn begin_manual_start(&mut self) {
        self.state = ProcessState::Starting;
        self.attempts = 0;
        self.restarts = 0;
        self.start_after_stop = false;
        self.last_exit = None;
        self.expected = None;
        self.failure = None;
    }

    fn enter_running(&mut self) {
        self.state = ProcessState::Running;
        self.attempts = 0;
        self.failure = None;
    }

    /// A start attempt ended before `starttime`. `timer_armed`: the start timer is still set.
    fn failed_attempt(&mut self, spec: &ProgramSpec, timer_armed: bool) -> Vec<Effect> {
        self.attempts = self.attempts.saturating_add(1);
        let mut effects = Vec::with_capacity(2);
        if timer_armed {
            effects.push(Effect::CancelTimer);
        }
        if self.attempts > spec.startretries {
            self.state = ProcessState::Fatal;
        } else {
            self.state = ProcessState::Backoff;
            effects.push(Effect::ArmTimer(backoff_delay(self.attempts)));
        }
        effects
    }
}

/// supervisord's backoff: the retry after the n-th failed attempt waits n seconds.
pub fn backoff_delay(failed_attempts: u32) -> Duration {
    Duration::from_secs(u64::from(failed_attempts.max(1)))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::plan::model::AutoRestart;
    use ProcessState as S;

    fn spec() -> ProgramSpec {
        ProgramSpec::with_defaults("p", vec!["sleep".into()])
    }

    fn started(spec: &ProgramSpec) -> Machine {
        let mut m = Machine::new();
        assert_eq!(m.handle(Event::StartRequested, spec), [Effect::Spawn]);
        assert_eq!(m.state(), S::Starting);
        m
    }

    fn running(spec: &ProgramSpec) -> Machine {
        let mut m = started(spec);
        m.handle(Event::Spawned, spec);
        m.handle(Event::TimerFired, spec);
        assert_eq!(m.state(), S::Running);
        m
    }

    #[test]
    fn new_process_is_stopped() {
        let m = Machine::new();
        assert_eq!(m.state(), S::Stopped);
        assert!(!m.has_child());
    }

    #[test]
    fn spawn_arms_starttime_then_runs() {
        let s = spec();
        let mut m = started(&s);
        assert_eq!(
            m.handle(Event::Spawned, &s),
            [Effect::ArmTimer(Duration::from_secs(1))]
        );
        assert_eq!(m.state(), S::Starting);
        assert_eq!(m.handle(Event::TimerFired, &s), []);
        assert_eq!(m.state(), S::Running);
    }

    #[test]
    fn starttime_zero_runs_at_once() {
        let mut s = spec();
        s.starttime = Duration::ZERO;
        let mut m = started(&s);
        assert_eq!(m.handle(Event::Spawned, &s), []);
        assert_eq!(m.state(), S::Running);
    }

    #[test]
    fn early_exits_back_off_1_2_3_seconds_then_fatal() {
        let s = spec(); // startretries 3
        let mut m = started(&s);
        for n in 1..=3u64 {
            m.handle(Event::Spawned, &s);
            let fx = m.handle(Event::Exited(Exit::Code(1)), &s);
            assert_eq!(
                fx,
                [
                    Effect::CancelTimer,
                    Effect::ArmTimer(Duration::from_secs(n))
                ]
            );
            assert_eq!(m.state(), S::Backoff);
            assert_eq!(m.handle(Event::TimerFired, &s), [Effect::Spawn]);
            assert_eq!(m.state(), S::Starting);
        }
        m.handle(Event::Spawned, &s);
        assert_eq!(
            m.handle(Event::Exited(Exit::Code(1)), &s),
            [Effect::CancelTimer]
        );
        assert_eq!(m.state(), S::Fatal);
        assert_eq!(m.attempts(), 4, "1 + startretries attempts in all");
        assert_eq!(m.failure(), Some(Failure::ExitedTooQuickly(Exit::Code(1))));
    }

    #[test]
    fn zero_retries_is_fatal_after_one_attempt() {
        let mut s = spec();
        s.startretries = 0;
        let mut m = started(&s);
        assert_eq!(m.handle(Event::SpawnFailed, &s), []);
        assert_eq!(m.state(), S::Fatal);
        assert_eq!(m.failure(), Some(Failure::SpawnFailed));
    }

    #[test]
    fn spawn_failure_counts_as_an_attempt() {
        let s = spec();
        let mut m = started(&s);
        assert_eq!(
            m.handle(Event::SpawnFailed, &s),
            [Effect::ArmTimer(Duration::from_secs(1))]
        );
        assert_eq!(m.state(), S::Backoff);
        assert_eq!(m.attempts(), 1);
    }

    #[test]
    fn a_spawn_failure_forgets_the_exit_of_an_earlier_attempt() {
        let s = spec();
        let mut m = started(&s);
        m.handle(Event::Spawned, &s);
        m.handle(Event::Exited(Exit::Code(1)), &s);
        assert_eq!(m.last_exit(), Some(Exit::Code(1)));
        m.handle(Event::TimerFired, &s);
        m.handle(Event::SpawnFailed, &s);
        assert_eq!(m.state(), S::Backoff);
        assert_eq!(m.last_exit(), None, "status must not show exit_code 1");
        assert_eq!(m.failure(), Some(Failure::SpawnFailed));
    }

    #[test]
    fn backoff_retries_count_as_restarts_and_manual_start_resets() {
        let s = spec();
        let mut m = started(&s);
        m.handle(Event::SpawnFailed, &s);
        m.handle(Event::TimerFired, &s);
        assert_eq!(m.restarts(), 1);
        m.handle(Event::SpawnFailed, &s);
        assert_eq!(
            m.handle(Event::StartRequested, &s),
            [Effect::CancelTimer, Effect::Spawn]
        );
        assert_eq!(m.restarts(), 0);
        assert_eq!(m.attempts(), 0);
    }

    #[test]
    fn unexpected_exit_while_running_restarts_at_once() {
        let s = spec(); // autorestart unexpected, exitcodes {0}
        let mut m = running(&s);
        assert_eq!(m.handle(Event::Exited(Exit::Code(3)), &s), [Effect::Spawn]);
        assert_eq!(m.state(), S::Starting);
        assert_eq!(m.restarts(), 1);
        m.handle(Event::Spawned, &s);
        m.handle(Event::TimerFired, &s);
        assert_eq!(
            m.handle(Event::Exited(Exit::Signal(9)), &s),
            [Effect::Spawn]
        );
        assert_eq!(m.restarts(), 2);
    }

    #[test]
    fn expected_exit_while_running_is_exited() {
        let mut s = spec();
        s.exitcodes = BTreeSet::from([0, 2]);
        let mut m = running(&s);
        assert_eq!(m.handle(Event::Exited(Exit::Code(2)), &s), []);
        assert_eq!(m.state(), S::Exited);
        assert_eq!(m.expected(), Some(true));
        assert_eq!(m.last_exit(), Some(Exit::Code(2)));
        m.handle(Event::StartRequested, &s);
        assert_eq!(
            m.last_exit(),
            None,
            "a manual start forgets the previous exit"
        );
        assert_eq!(m.expected(), None);
    }

    #[test]
    fn autorestart_true_restarts_expected_exits_and_false_never_restarts() {
        let mut s = spec();
        s.autorestart = AutoRestart::Always;
        let mut m = running(&s);
        assert_eq!(m.handle(Event::Exited(Exit::Code(0)), &s), [Effect::Spawn]);
        s.autorestart = AutoRestart::Never;
        let mut m = running(&s);
        assert_eq!(m.handle(Event::Exited(Exit::Signal(9)), &s), []);
        assert_eq!(m.state(), S::Exited);
        assert_eq!(m.expected(), Some(false));
    }

    #[test]
    fn restart_after_running_resets_the_attempt_count() {
        let s = spec();
        let mut m = running(&s);
        m.handle(Event::Exited(Exit::Code(1)), &s);
        m.handle(Event::Spawned, &s);
        m.handle(Event::Exited(Exit::Code(1)), &s);
        assert_eq!(m.state(), S::Backoff);
        assert_eq!(m.attempts(), 1);
    }

    #[test]
    fn stop_signals_then_kills_after_stoptime() {
        let s = spec();
        let mut m = running(&s);
        assert_eq!(
            m.handle(Event::StopRequested, &s),
            [Effect::SendStopSignal, Effect::ArmTimer(s.stoptime)]
        );
        assert_eq!(m.state(), S::Stopping);
        assert_eq!(m.handle(Event::TimerFired, &s), [Effect::Kill]);
        assert_eq!(m.state(), S::Stopping);
        assert_eq!(
            m.handle(Event::Exited(Exit::Signal(9)), &s),
            [Effect::CancelTimer]
        );
        assert_eq!(m.state(), S::Stopped);
    }

    #[test]
    fn exit_while_stopping_never_restarts() {
        let mut s = spec();
        s.autorestart = AutoRestart::Always;
        let mut m = running(&s);
        m.handle(Event::StopRequested, &s);
        m.handle(Event::Exited(Exit::Code(1)), &s);
        assert_eq!(m.state(), S::Stopped);
    }

    #[test]
    fn stop_while_starting_and_backoff() {
        let s = spec();
        let mut m = started(&s);
        m.handle(Event::Spawned, &s);
        assert_eq!(
            m.handle(Event::StopRequested, &s),
            [Effect::SendStopSignal, Effect::ArmTimer(s.stoptime)]
        );
        assert_eq!(m.state(), S::Stopping);

        let mut m = started(&s);
        m.handle(Event::SpawnFailed, &s);
        assert_eq!(m.handle(Event::StopRequested, &s), [Effect::CancelTimer]);
        assert_eq!(m.state(), S::Stopped);
        // The backoff timer firing late changes nothing.
        assert_eq!(m.handle(Event::TimerFired, &s), []);
        assert_eq!(m.state(), S::Stopped);
    }

    #[test]
    fn start_while_stopping_restarts_after_the_exit() {
        let s = spec();
        let mut m = running(&s);
        m.handle(Event::StopRequested, &s);
        assert_eq!(m.handle(Event::StartRequested, &s), []);
        assert!(m.start_pending() && m.is_active());
        assert_eq!(
            m.handle(Event::Exited(Exit::Signal(15)), &s),
            [Effect::CancelTimer, Effect::Spawn]
        );
        assert_eq!(m.state(), S::Starting);
        assert_eq!(m.restarts(), 0);
    }

    #[test]
    fn stop_cancels_a_queued_start() {
        let s = spec();
        let mut m = running(&s);
        m.handle(Event::StopRequested, &s);
        m.handle(Event::StartRequested, &s);
        m.handle(Event::StopRequested, &s);
        m.handle(Event::Exited(Exit::Code(0)), &s);
        assert_eq!(m.state(), S::Stopped);
    }

    #[test]
    fn start_and_stop_are_idempotent() {
        let s = spec();
        let mut m = running(&s);
        assert_eq!(m.handle(Event::StartRequested, &s), []);
        assert_eq!(m.state(), S::Running);
        let mut m = Machine::new();
        assert_eq!(m.handle(Event::StopRequested, &s), []);
        assert_eq!(m.state(), S::Stopped);
    }

    #[test]
    fn fatal_and_exited_can_be_started_again() {
        let mut s = spec();
        s.startretries = 0;
        let mut m = started(&s);
        m.handle(Event::SpawnFailed, &s);
        assert_eq!(m.state(), S::Fatal);
        assert_eq!(m.handle(Event::StartRequested, &s), [Effect::Spawn]);
        assert_eq!(m.state(), S::Starting);
        assert_eq!(m.failure(), None);
    }

    #[test]
    fn supervision_changes_apply_to_the_next_event() {
        let mut s = spec();
        let mut m = running(&s);
        s.stoptime = Duration::from_millis(250);
        assert_eq!(
            m.handle(Event::StopRequested, &s),
            [
                Effect::SendStopSignal,
                Effect::ArmTimer(Duration::from_millis(250))
            ]
        );
    }
}
