//! The per-process state machine, pure: events in, effects out, no syscalls (the driver
//! passes the time in).
//!
//! States and rules are supervisord's (see the contract's "States"), plus Part 2's
//! containment and crash loops:
//! - a start attempt that ends before `starttime` (an exit or a spawn failure) is a failed
//!   attempt: BACKOFF, retried after 1 s, 2 s, 3 s…, and after `1 + startretries` failed
//!   attempts the process is FATAL;
//! - an exit while RUNNING that `autorestart` restarts is a *crash restart*: the first of a
//!   run is immediate, the k-th in a row waits `restart-backoff`'s min(MIN·2^(k−2), MAX) in
//!   BACKOFF; the run resets once the process stayed RUNNING for MAX. With `crash-limit N W`,
//!   the (N+1)-th crash restart within W is not done: FATAL. A manual start clears both;
//! - a process is gone only when its process group is empty: when the main process exits and
//!   members remain ([`Event::LeaderExited`]), they get the stop signal and SIGKILL after
//!   `stoptime` (STOPPING), and only once the group is empty ([`Event::GroupEmpty`]) does the
//!   exit count (restart, BACKOFF, EXITED, STOPPED…);
//! - `stop` sends the stop signal, arms `stoptime`, then kills; the end of the group makes it
//!   STOPPED. The kill timer stays armed until then, also after the main process is gone.
//!
//! - `readiness` holds STARTING until a check passed, its deadline is a failed attempt;
//!   `liveness` failures stop a RUNNING process as a crash ([`checks`]).
//! - dependencies (`depends-on`): every start of a program that has some — a manual start, a
//!   BACKOFF retry, a crash restart, a start queued behind a stop — goes to WAITING instead of
//!   STARTING ([`Effect::AwaitDeps`]); the driver, which sees the other processes, answers
//!   [`Event::DepsMet`] (STARTING, spawn) or [`Event::DependencyFailed`] (FATAL), at once or
//!   on a later state change of a dependency. Attempt and restart counts are kept while
//!   waiting. A program without dependencies never waits.
//!
//! The driver (`supervisor`) turns [`Effect`]s into syscalls and feeds what happened back as
//! [`Event`]s. A process has at most one timer at a time (start, backoff or kill), so the
//! machine only says "arm" or "cancel" and interprets [`Event::TimerFired`] by its state;
//! the checks have a second one of their own ([`Effect::ArmCheckTimer`]).
//! Caps: the crash-limit history holds at most N times (N ≤ 10,000 by validation).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::plan::check::CheckRole;
use crate::plan::model::{ProgramSpec, is_expected_exit};

mod checks;
use crate::protocol::ProcessState;
pub(crate) use checks::CheckStop;
use checks::Probing;

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    /// The exit code, `None` for a death by signal.
    pub(crate) fn code(self) -> Option<i32> {
        match self {
            Exit::Code(c) => Some(c),
            Exit::Signal(_) => None,
        }
    }
}

/// Something that happened to a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// A manual `start` (also the initial autostart).
    StartRequested,
    /// A manual `stop` (also shutdown, reload removals and scale-downs).
    StopRequested,
    /// The driver spawned the child after an [`Effect::Spawn`].
    Spawned,
    /// The driver could not spawn it (its reason is kept by the driver).
    SpawnFailed,
    /// The main process was reaped and nothing of its group is left.
    Exited(Exit),
    /// The main process was reaped but `leftovers` processes it started remain (members of
    /// its group, or children that left it with `setsid`).
    LeaderExited { exit: Exit, leftovers: u32 },
    /// The last leftover after a [`Event::LeaderExited`] is gone.
    GroupEmpty,
    /// The one timer armed by [`Effect::ArmTimer`] expired.
    TimerFired,
    /// The check timer armed by [`Effect::ArmCheckTimer`] expired.
    CheckTimerFired,
    /// The check started by [`Effect::RunCheck`] ended (for `log`: a line matched).
    CheckDone { role: CheckRole, passed: bool },
    /// A reload changed the program's `readiness` or `liveness`.
    ChecksChanged,
    /// Every dependency of a WAITING process holds (or `start --no-deps` skips them).
    DepsMet,
    /// A dependency of a WAITING process will not hold (FATAL, or "completed" with an
    /// unexpected code); the driver keeps which one, for the reason.
    DependencyFailed,
}

/// What the driver must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Spawn the child now, then report [`Event::Spawned`] or [`Event::SpawnFailed`].
    Spawn,
    /// Arm the process's timer, replacing any armed one.
    ArmTimer(Duration),
    /// Disarm the process's timer.
    CancelTimer,
    /// Send the program's stop signal to the process group (and its leftovers).
    SendStopSignal,
    /// SIGKILL the process group (and its leftovers).
    Kill,
    /// Arm the process's check timer (separate from the one above), replacing any armed one.
    ArmCheckTimer(Duration),
    /// Disarm the check timer.
    CancelCheckTimer,
    /// Start one attempt of this check now, then report [`Event::CheckDone`].
    RunCheck(CheckRole),
    /// Drop the attempt in flight (close its socket, kill an exec check's group); no
    /// [`Event::CheckDone`] is expected for it.
    AbortCheck,
    /// The process is WAITING: evaluate its dependencies (starting stopped ones), now and on
    /// every change of theirs, and report [`Event::DepsMet`] or [`Event::DependencyFailed`].
    AwaitDeps,
}

/// One process's supervision state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Machine {
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
    /// Why the last start attempt failed, or why the process is FATAL.
    failure: Option<Failure>,
    /// Set while the main process is gone but its group is not (shown as STOPPING).
    drain: Option<Drain>,
    /// What the last drain stopped, for the reason; forgotten at the next spawn.
    leftovers: Option<Leftovers>,
    /// SIGKILL was sent since the last spawn.
    killed: bool,
    /// When the process last became RUNNING (cleared when it leaves).
    running_since: Option<Instant>,
    /// Crash restarts in a row (the k of the backoff).
    crash_run: u32,
    /// When each recent crash restart was decided, oldest first (for `crash-limit`).
    crash_times: VecDeque<Instant>,
    /// The crash restart BACKOFF is waiting for.
    wait: Option<CrashWait>,
    /// Readiness and liveness checks ([`checks`]).
    probing: Probing,
}

/// Why the last start attempt failed (or why the process gave up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    SpawnFailed,
    ExitedTooQuickly(Exit),
    /// Not ready within the readiness `deadline`.
    NotReady {
        deadline: Duration,
    },
    /// `crash-limit` reached: `restarts` crash restarts within `window` already.
    CrashLoop {
        restarts: u32,
        window: Duration,
        exit: Exit,
    },
    /// A dependency went FATAL or completed with an unexpected code (the driver names it).
    Dependency,
}

/// A crash restart waiting in BACKOFF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CrashWait {
    pub delay: Duration,
    pub exit: Exit,
    /// Its place in the run of crashes (2 or more).
    pub crash: u32,
}

/// What was left behind when the main process exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Leftovers {
    pub count: u32,
    /// It exited before `starttime` or with an expected code: it probably forked into the
    /// background.
    pub forked: bool,
}

/// A main process gone, its group not yet: the exit waits for the group to empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Drain {
    exit: Exit,
    /// The state the exit happened in (STOPPING once a stop was asked for meanwhile).
    from: ProcessState,
}

impl Default for Machine {
    fn default() -> Self {
        Self::new()
    }
}

impl Machine {
    /// A process never started: STOPPED.
    pub(crate) fn new() -> Self {
        Machine {
            state: ProcessState::Stopped,
            attempts: 0,
            restarts: 0,
            start_after_stop: false,
            last_exit: None,
            expected: None,
            failure: None,
            drain: None,
            leftovers: None,
            killed: false,
            running_since: None,
            crash_run: 0,
            crash_times: VecDeque::new(),
            wait: None,
            probing: Probing::default(),
        }
    }

    pub(crate) fn state(&self) -> ProcessState {
        self.state
    }

    pub(crate) fn restarts(&self) -> u32 {
        self.restarts
    }

    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    pub(crate) fn last_exit(&self) -> Option<Exit> {
        self.last_exit
    }

    pub(crate) fn expected(&self) -> Option<bool> {
        self.expected
    }

    pub(crate) fn failure(&self) -> Option<Failure> {
        self.failure
    }

    /// The crash restart a BACKOFF is waiting for (`None` for a failed start attempt).
    pub(crate) fn crash_wait(&self) -> Option<CrashWait> {
        self.wait
    }

    /// What the last exit left behind and the daemon stopped.
    pub(crate) fn leftovers(&self) -> Option<Leftovers> {
        self.leftovers
    }

    /// Whether the main process is gone and its group is being emptied.
    pub(crate) fn draining(&self) -> bool {
        self.drain.is_some()
    }

    /// Whether SIGKILL was sent since the last spawn: what a leftover found late gets.
    pub(crate) fn killed(&self) -> bool {
        self.killed
    }

    /// Crash restarts in the current run.
    #[cfg(test)]
    pub(crate) fn crash_run(&self) -> u32 {
        self.crash_run
    }

    /// Whether a start is queued behind a stop in progress.
    #[cfg(test)]
    pub(crate) fn start_pending(&self) -> bool {
        self.start_after_stop
    }

    /// Whether the process is meant to be running (what a spawn-field reload restarts).
    pub(crate) fn is_active(&self) -> bool {
        matches!(
            self.state,
            ProcessState::Waiting
                | ProcessState::Starting
                | ProcessState::Running
                | ProcessState::Backoff
        ) || self.start_after_stop
    }

    /// Whether a child may be alive (the driver holds a pid, or a group being emptied).
    pub(crate) fn has_child(&self) -> bool {
        matches!(
            self.state,
            ProcessState::Starting | ProcessState::Running | ProcessState::Stopping
        )
    }

    /// Applies one event, happening at `now`, under `spec`'s supervision settings; returns
    /// what to do.
    pub(crate) fn handle(&mut self, event: Event, spec: &ProgramSpec, now: Instant) -> Vec<Effect> {
        let mut effects = match self.check_event(event, spec, now) {
            Some(effects) => effects,
            None => self.transition(event, spec, now),
        };
        self.sync_checks(spec, &mut effects);
        effects
    }

    fn transition(&mut self, event: Event, spec: &ProgramSpec, now: Instant) -> Vec<Effect> {
        use ProcessState as S;
        match (self.state, event) {
            (S::Stopped | S::Exited | S::Fatal | S::Waiting, Event::StartRequested) => {
                self.begin_manual_start();
                self.launch(spec)
            }
            (S::Backoff, Event::StartRequested) => {
                self.begin_manual_start();
                let mut effects = vec![Effect::CancelTimer];
                effects.extend(self.launch(spec));
                effects
            }
            (S::Stopping, Event::StartRequested) => {
                self.start_after_stop = true;
                if let Some(drain) = &mut self.drain {
                    // A crash being drained becomes a restart: no backoff, no retry count.
                    drain.from = S::Stopping;
                }
                vec![]
            }
            (S::Starting | S::Running, Event::StartRequested) => vec![],

            (S::Starting | S::Running, Event::StopRequested) => {
                self.state = S::Stopping;
                self.running_since = None;
                vec![Effect::SendStopSignal, Effect::ArmTimer(spec.stoptime)]
            }
            (S::Backoff, Event::StopRequested) => {
                self.state = S::Stopped;
                self.wait = None;
                vec![Effect::CancelTimer]
            }
            (S::Stopping, Event::StopRequested) => {
                self.start_after_stop = false;
                if let Some(drain) = &mut self.drain {
                    drain.from = S::Stopping;
                }
                vec![]
            }
            (S::Stopped | S::Exited | S::Fatal, Event::StopRequested) => vec![],
            (S::Waiting, _) => self.waiting(event),

            (S::Starting, Event::Spawned) => {
                self.leftovers = None;
                self.killed = false;
                self.probing.spawned(now);
                if spec.starttime.is_zero() {
                    self.starttime_elapsed(spec, now)
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
            (S::Starting, Event::TimerFired) => self.start_timer_fired(spec, now),
            (S::Starting, Event::Exited(exit)) => self.exited_starting(exit, spec),
            (S::Running, Event::Exited(exit)) => self.exited_running(exit, spec, now),
            (S::Starting | S::Running, Event::LeaderExited { exit, leftovers }) => {
                let forked =
                    self.state == S::Starting || is_expected_exit(exit.code(), &spec.exitcodes);
                self.begin_drain(exit, leftovers, forked);
                vec![Effect::SendStopSignal, Effect::ArmTimer(spec.stoptime)]
            }
            (S::Stopping, Event::LeaderExited { exit, leftovers }) if self.drain.is_none() => {
                self.begin_drain(exit, leftovers, false);
                // Again, for leftovers outside the group; the kill timer stays armed.
                vec![if self.killed {
                    Effect::Kill
                } else {
                    Effect::SendStopSignal
                }]
            }
            (S::Backoff, Event::TimerFired) => {
                self.restarts = self.restarts.saturating_add(1);
                self.wait = None;
                self.launch(spec)
            }
            (S::Stopping, Event::TimerFired) => {
                self.killed = true;
                vec![Effect::Kill]
            }
            (S::Stopping, Event::Exited(exit)) if self.drain.is_none() => {
                self.last_exit = Some(exit);
                self.stopped(spec)
            }
            (S::Stopping, Event::GroupEmpty) => match self.drain.take() {
                Some(Drain { exit, from }) => {
                    self.state = from;
                    match from {
                        // The start timer was replaced by the kill timer: cancelled there.
                        S::Starting => self.exited_starting(exit, spec),
                        S::Running => {
                            let mut effects = vec![Effect::CancelTimer];
                            effects.extend(self.exited_running(exit, spec, now));
                            effects
                        }
                        _ => {
                            self.state = S::Stopping;
                            self.stopped(spec)
                        }
                    }
                }
                None => vec![],
            },
            // A spawn result, exit or timer that does not belong to this state (e.g. a timer
            // that fired just as it was cancelled) changes nothing.
            _ => vec![],
        }
    }

    /// Every start goes through here: STARTING and a spawn, or WAITING for the dependencies.
    fn launch(&mut self, spec: &ProgramSpec) -> Vec<Effect> {
        if spec.depends_on.is_empty() {
            self.state = ProcessState::Starting;
            vec![Effect::Spawn]
        } else {
            self.state = ProcessState::Waiting;
            vec![Effect::AwaitDeps]
        }
    }

    /// The events of a WAITING process (a manual start is handled with the others).
    fn waiting(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::DepsMet => {
                self.state = ProcessState::Starting;
                vec![Effect::Spawn]
            }
            Event::DependencyFailed => {
                self.state = ProcessState::Fatal;
                self.failure = Some(Failure::Dependency);
                vec![]
            }
            // Nothing runs and no timer is armed.
            Event::StopRequested => {
                self.state = ProcessState::Stopped;
                vec![]
            }
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
        self.crash_run = 0;
        self.crash_times.clear();
        self.wait = None;
    }

    fn enter_running(&mut self, now: Instant) {
        self.state = ProcessState::Running;
        self.attempts = 0;
        self.failure = None;
        self.running_since = Some(now);
    }

    fn begin_drain(&mut self, exit: Exit, leftovers: u32, forked: bool) {
        self.last_exit = Some(exit);
        self.drain = Some(Drain {
            exit,
            from: self.state,
        });
        self.leftovers = Some(Leftovers {
            count: leftovers,
            forked,
        });
        self.state = ProcessState::Stopping;
    }

    /// The group of a stopping process is gone: STOPPED, or the start queued behind it.
    fn stopped(&mut self, spec: &ProgramSpec) -> Vec<Effect> {
        if std::mem::take(&mut self.start_after_stop) {
            self.begin_manual_start();
            let mut effects = vec![Effect::CancelTimer];
            effects.extend(self.launch(spec));
            effects
        } else {
            self.state = ProcessState::Stopped;
            vec![Effect::CancelTimer]
        }
    }

    fn exited_starting(&mut self, exit: Exit, spec: &ProgramSpec) -> Vec<Effect> {
        self.last_exit = Some(exit);
        self.failure = Some(Failure::ExitedTooQuickly(exit));
        self.failed_attempt(spec, true)
    }

    /// An exit while RUNNING: a crash restart (now, after a backoff, or not at all when the
    /// crash limit is reached), or EXITED.
    fn exited_running(&mut self, exit: Exit, spec: &ProgramSpec, now: Instant) -> Vec<Effect> {
        self.last_exit = Some(exit);
        let ran_long = self
            .running_since
            .take()
            .is_some_and(|since| now.saturating_duration_since(since) >= spec.restart_backoff.max);
        if !spec.autorestart.restarts(exit.code(), &spec.exitcodes) {
            self.state = ProcessState::Exited;
            self.expected = Some(is_expected_exit(exit.code(), &spec.exitcodes));
            return vec![];
        }
        if ran_long {
            self.crash_run = 0;
        }
        if let Some(limit) = spec.crash_limit {
            while self
                .crash_times
                .front()
                .is_some_and(|&t| now.saturating_duration_since(t) >= limit.window)
            {
                self.crash_times.pop_front();
            }
            // A lowered limit (reload) may leave more than it allows: keep only what counts.
            while self.crash_times.len() > limit.restarts as usize {
                self.crash_times.pop_front();
            }
            if self.crash_times.len() >= limit.restarts as usize {
                self.state = ProcessState::Fatal;
                self.failure = Some(Failure::CrashLoop {
                    restarts: limit.restarts,
                    window: limit.window,
                    exit,
                });
                return vec![];
            }
            self.crash_times.push_back(now);
        }
        self.crash_run = self.crash_run.saturating_add(1);
        self.attempts = 0;
        let delay = spec.restart_backoff.delay(self.crash_run);
        if delay.is_zero() {
            self.restarts = self.restarts.saturating_add(1);
            self.launch(spec)
        } else {
            self.state = ProcessState::Backoff;
            self.wait = Some(CrashWait {
                delay,
                exit,
                crash: self.crash_run,
            });
            vec![Effect::ArmTimer(delay)]
        }
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
pub(crate) fn backoff_delay(failed_attempts: u32) -> Duration {
    Duration::from_secs(u64::from(failed_attempts.max(1)))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::plan::model::{AutoRestart, CrashLimit, RestartBackoff};
    use ProcessState as S;

    /// The fixed "now" of tests that do not care about time.
    fn t0() -> Instant {
        static T0: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *T0.get_or_init(Instant::now)
    }

    fn no_backoff() -> RestartBackoff {
        RestartBackoff {
            min: Duration::ZERO,
            max: Duration::ZERO,
        }
    }

    fn spec() -> ProgramSpec {
        ProgramSpec::with_defaults("p", vec!["sleep".into()])
    }

    fn started(spec: &ProgramSpec) -> Machine {
        let mut m = Machine::new();
        assert_eq!(m.handle(Event::StartRequested, spec, t0()), [Effect::Spawn]);
        assert_eq!(m.state(), S::Starting);
        m
    }

    fn running(spec: &ProgramSpec) -> Machine {
        let mut m = started(spec);
        m.handle(Event::Spawned, spec, t0());
        m.handle(Event::TimerFired, spec, t0());
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
            m.handle(Event::Spawned, &s, t0()),
            [Effect::ArmTimer(Duration::from_secs(1))]
        );
        assert_eq!(m.state(), S::Starting);
        assert_eq!(m.handle(Event::TimerFired, &s, t0()), []);
        assert_eq!(m.state(), S::Running);
    }

    #[test]
    fn starttime_zero_runs_at_once() {
        let mut s = spec();
        s.starttime = Duration::ZERO;
        let mut m = started(&s);
        assert_eq!(m.handle(Event::Spawned, &s, t0()), []);
        assert_eq!(m.state(), S::Running);
    }

    #[test]
    fn early_exits_back_off_1_2_3_seconds_then_fatal() {
        let s = spec(); // startretries 3
        let mut m = started(&s);
        for n in 1..=3u64 {
            m.handle(Event::Spawned, &s, t0());
            let fx = m.handle(Event::Exited(Exit::Code(1)), &s, t0());
            assert_eq!(
                fx,
                [
                    Effect::CancelTimer,
                    Effect::ArmTimer(Duration::from_secs(n))
                ]
            );
            assert_eq!(m.state(), S::Backoff);
            assert_eq!(m.handle(Event::TimerFired, &s, t0()), [Effect::Spawn]);
            assert_eq!(m.state(), S::Starting);
        }
        m.handle(Event::Spawned, &s, t0());
        assert_eq!(
            m.handle(Event::Exited(Exit::Code(1)), &s, t0()),
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
        assert_eq!(m.handle(Event::SpawnFailed, &s, t0()), []);
        assert_eq!(m.state(), S::Fatal);
        assert_eq!(m.failure(), Some(Failure::SpawnFailed));
    }

    #[test]
    fn spawn_failure_counts_as_an_attempt() {
        let s = spec();
        let mut m = started(&s);
        assert_eq!(
            m.handle(Event::SpawnFailed, &s, t0()),
            [Effect::ArmTimer(Duration::from_secs(1))]
        );
        assert_eq!(m.state(), S::Backoff);
        assert_eq!(m.attempts(), 1);
    }

    #[test]
    fn a_spawn_failure_forgets_the_exit_of_an_earlier_attempt() {
        let s = spec();
        let mut m = started(&s);
        m.handle(Event::Spawned, &s, t0());
        m.handle(Event::Exited(Exit::Code(1)), &s, t0());
        assert_eq!(m.last_exit(), Some(Exit::Code(1)));
        m.handle(Event::TimerFired, &s, t0());
        m.handle(Event::SpawnFailed, &s, t0());
        assert_eq!(m.state(), S::Backoff);
        assert_eq!(m.last_exit(), None, "status must not show exit_code 1");
        assert_eq!(m.failure(), Some(Failure::SpawnFailed));
    }

    #[test]
    fn backoff_retries_count_as_restarts_and_manual_start_resets() {
        let s = spec();
        let mut m = started(&s);
        m.handle(Event::SpawnFailed, &s, t0());
        m.handle(Event::TimerFired, &s, t0());
        assert_eq!(m.restarts(), 1);
        m.handle(Event::SpawnFailed, &s, t0());
        assert_eq!(
            m.handle(Event::StartRequested, &s, t0()),
            [Effect::CancelTimer, Effect::Spawn]
        );
        assert_eq!(m.restarts(), 0);
        assert_eq!(m.attempts(), 0);
    }

    #[test]
    fn unexpected_exit_while_running_restarts_at_once() {
        let mut s = spec(); // autorestart unexpected, exitcodes {0}
        s.restart_backoff = no_backoff();
        let mut m = running(&s);
        assert_eq!(
            m.handle(Event::Exited(Exit::Code(3)), &s, t0()),
            [Effect::Spawn]
        );
        assert_eq!(m.state(), S::Starting);
        assert_eq!(m.restarts(), 1);
        m.handle(Event::Spawned, &s, t0());
        m.handle(Event::TimerFired, &s, t0());
        assert_eq!(
            m.handle(Event::Exited(Exit::Signal(9)), &s, t0()),
            [Effect::Spawn]
        );
        assert_eq!(m.restarts(), 2);
    }

    #[test]
    fn expected_exit_while_running_is_exited() {
        let mut s = spec();
        s.exitcodes = BTreeSet::from([0, 2]);
        let mut m = running(&s);
        assert_eq!(m.handle(Event::Exited(Exit::Code(2)), &s, t0()), []);
        assert_eq!(m.state(), S::Exited);
        assert_eq!(m.expected(), Some(true));
        assert_eq!(m.last_exit(), Some(Exit::Code(2)));
        m.handle(Event::StartRequested, &s, t0());
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
        assert_eq!(
            m.handle(Event::Exited(Exit::Code(0)), &s, t0()),
            [Effect::Spawn]
        );
        s.autorestart = AutoRestart::Never;
        let mut m = running(&s);
        assert_eq!(m.handle(Event::Exited(Exit::Signal(9)), &s, t0()), []);
        assert_eq!(m.state(), S::Exited);
        assert_eq!(m.expected(), Some(false));
    }

    #[test]
    fn restart_after_running_resets_the_attempt_count() {
        let s = spec();
        let mut m = running(&s);
        m.handle(Event::Exited(Exit::Code(1)), &s, t0());
        m.handle(Event::Spawned, &s, t0());
        m.handle(Event::Exited(Exit::Code(1)), &s, t0());
        assert_eq!(m.state(), S::Backoff);
        assert_eq!(m.attempts(), 1);
    }

    #[test]
    fn stop_signals_then_kills_after_stoptime() {
        let s = spec();
        let mut m = running(&s);
        assert_eq!(
            m.handle(Event::StopRequested, &s, t0()),
            [Effect::SendStopSignal, Effect::ArmTimer(s.stoptime)]
        );
        assert_eq!(m.state(), S::Stopping);
        assert_eq!(m.handle(Event::TimerFired, &s, t0()), [Effect::Kill]);
        assert_eq!(m.state(), S::Stopping);
        assert_eq!(
            m.handle(Event::Exited(Exit::Signal(9)), &s, t0()),
            [Effect::CancelTimer]
        );
        assert_eq!(m.state(), S::Stopped);
    }

    #[test]
    fn exit_while_stopping_never_restarts() {
        let mut s = spec();
        s.autorestart = AutoRestart::Always;
        let mut m = running(&s);
        m.handle(Event::StopRequested, &s, t0());
        m.handle(Event::Exited(Exit::Code(1)), &s, t0());
        assert_eq!(m.state(), S::Stopped);
    }

    #[test]
    fn stop_while_starting_and_backoff() {
        let s = spec();
        let mut m = started(&s);
        m.handle(Event::Spawned, &s, t0());
        assert_eq!(
            m.handle(Event::StopRequested, &s, t0()),
            [Effect::SendStopSignal, Effect::ArmTimer(s.stoptime)]
        );
        assert_eq!(m.state(), S::Stopping);

        let mut m = started(&s);
        m.handle(Event::SpawnFailed, &s, t0());
        assert_eq!(
            m.handle(Event::StopRequested, &s, t0()),
            [Effect::CancelTimer]
        );
        assert_eq!(m.state(), S::Stopped);
        // The backoff timer firing late changes nothing.
        assert_eq!(m.handle(Event::TimerFired, &s, t0()), []);
        assert_eq!(m.state(), S::Stopped);
    }

    #[test]
    fn start_while_stopping_restarts_after_the_exit() {
        let s = spec();
        let mut m = running(&s);
        m.handle(Event::StopRequested, &s, t0());
        assert_eq!(m.handle(Event::StartRequested, &s, t0()), []);
        assert!(m.start_pending() && m.is_active());
        assert_eq!(
            m.handle(Event::Exited(Exit::Signal(15)), &s, t0()),
            [Effect::CancelTimer, Effect::Spawn]
        );
        assert_eq!(m.state(), S::Starting);
        assert_eq!(m.restarts(), 0);
    }

    #[test]
    fn stop_cancels_a_queued_start() {
        let s = spec();
        let mut m = running(&s);
        m.handle(Event::StopRequested, &s, t0());
        m.handle(Event::StartRequested, &s, t0());
        m.handle(Event::StopRequested, &s, t0());
        m.handle(Event::Exited(Exit::Code(0)), &s, t0());
        assert_eq!(m.state(), S::Stopped);
    }

    #[test]
    fn start_and_stop_are_idempotent() {
        let s = spec();
        let mut m = running(&s);
        assert_eq!(m.handle(Event::StartRequested, &s, t0()), []);
        assert_eq!(m.state(), S::Running);
        let mut m = Machine::new();
        assert_eq!(m.handle(Event::StopRequested, &s, t0()), []);
        assert_eq!(m.state(), S::Stopped);
    }

    #[test]
    fn fatal_and_exited_can_be_started_again() {
        let mut s = spec();
        s.startretries = 0;
        let mut m = started(&s);
        m.handle(Event::SpawnFailed, &s, t0());
        assert_eq!(m.state(), S::Fatal);
        assert_eq!(m.handle(Event::StartRequested, &s, t0()), [Effect::Spawn]);
        assert_eq!(m.state(), S::Starting);
        assert_eq!(m.failure(), None);
    }

    #[test]
    fn supervision_changes_apply_to_the_next_event() {
        let mut s = spec();
        let mut m = running(&s);
        s.stoptime = Duration::from_millis(250);
        assert_eq!(
            m.handle(Event::StopRequested, &s, t0()),
            [
                Effect::SendStopSignal,
                Effect::ArmTimer(Duration::from_millis(250))
            ]
        );
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Runs a RUNNING process through a crash at `at`; returns the effects of the exit.
    fn crash(m: &mut Machine, s: &ProgramSpec, at: Instant) -> Vec<Effect> {
        assert_eq!(m.state(), S::Running);
        m.handle(Event::Exited(Exit::Code(1)), s, at)
    }

    /// From a crash's effects back to RUNNING (through the backoff when there is one).
    fn back_to_running(m: &mut Machine, s: &ProgramSpec, fx: &[Effect], at: Instant) {
        if m.state() == S::Backoff {
            assert!(matches!(fx, [Effect::ArmTimer(_)]), "{fx:?}");
            assert_eq!(m.handle(Event::TimerFired, s, at), [Effect::Spawn]);
        } else {
            assert_eq!(fx, [Effect::Spawn]);
        }
        m.handle(Event::Spawned, s, at);
        m.handle(Event::TimerFired, s, at);
        assert_eq!(m.state(), S::Running);
    }

    #[test]
    fn crash_restarts_back_off_from_the_second_crash_and_double_up_to_max() {
        let mut s = spec();
        s.restart_backoff = RestartBackoff {
            min: ms(100),
            max: ms(500),
        };
        let mut m = running(&s);
        let t = t0();
        let mut waits = Vec::new();
        for k in 1..=6u32 {
            let fx = crash(&mut m, &s, t);
            match m.state() {
                S::Starting => waits.push(Duration::ZERO),
                S::Backoff => {
                    let w = m.crash_wait().unwrap();
                    assert_eq!(w.crash, k);
                    assert_eq!(w.exit, Exit::Code(1));
                    assert_eq!(fx, [Effect::ArmTimer(w.delay)]);
                    waits.push(w.delay);
                }
                other => panic!("{other:?}"),
            }
            back_to_running(&mut m, &s, &fx, t);
        }
        assert_eq!(waits, [ms(0), ms(100), ms(200), ms(400), ms(500), ms(500)]);
        assert_eq!(m.restarts(), 6, "each crash restart counts");
        assert_eq!(m.crash_run(), 6);
    }

    #[test]
    fn the_run_resets_once_running_for_max() {
        let mut s = spec();
        s.restart_backoff = RestartBackoff {
            min: ms(100),
            max: Duration::from_secs(2),
        };
        s.starttime = Duration::ZERO;
        let mut m = running(&s);
        let t = t0();
        let fx = crash(&mut m, &s, t);
        back_to_running(&mut m, &s, &fx, t);
        let fx = crash(&mut m, &s, t + ms(10));
        assert_eq!(m.crash_wait().map(|w| w.delay), Some(ms(100)));
        back_to_running(&mut m, &s, &fx, t + ms(110));
        // Up for just under MAX: still in the run.
        let fx = crash(&mut m, &s, t + ms(110) + ms(1999));
        assert_eq!(m.crash_wait().map(|w| w.crash), Some(3));
        let up = t + ms(3000);
        back_to_running(&mut m, &s, &fx, up);
        // Up for MAX: the next crash is a first one again, restarted at once.
        assert_eq!(
            crash(&mut m, &s, up + Duration::from_secs(2)),
            [Effect::Spawn]
        );
        assert_eq!(m.crash_run(), 1);
    }

    #[test]
    fn restart_backoff_zero_restarts_at_once_every_time() {
        let mut s = spec();
        s.restart_backoff = no_backoff();
        let mut m = running(&s);
        for _ in 0..20 {
            let fx = crash(&mut m, &s, t0());
            assert_eq!(fx, [Effect::Spawn]);
            back_to_running(&mut m, &s, &fx, t0());
        }
    }

    #[test]
    fn crash_limit_makes_the_next_restart_within_the_window_fatal() {
        let mut s = spec();
        s.restart_backoff = no_backoff();
        s.crash_limit = Some(CrashLimit {
            restarts: 3,
            window: Duration::from_secs(10),
        });
        let mut m = running(&s);
        let t = t0();
        for i in 0..3u64 {
            let at = t + Duration::from_secs(i);
            let fx = crash(&mut m, &s, at);
            back_to_running(&mut m, &s, &fx, at);
        }
        assert_eq!(m.restarts(), 3);
        assert_eq!(crash(&mut m, &s, t + Duration::from_secs(3)), []);
        assert_eq!(m.state(), S::Fatal);
        assert_eq!(
            m.failure(),
            Some(Failure::CrashLoop {
                restarts: 3,
                window: Duration::from_secs(10),
                exit: Exit::Code(1)
            })
        );
        assert_eq!(m.restarts(), 3);
        // A manual start clears the history.
        assert_eq!(m.handle(Event::StartRequested, &s, t0()), [Effect::Spawn]);
        assert_eq!(m.restarts(), 0);
        assert_eq!(m.crash_run(), 0);
        assert_eq!(m.failure(), None);
    }

    #[test]
    fn crash_limit_counts_only_restarts_inside_the_window() {
        let mut s = spec();
        s.restart_backoff = no_backoff();
        s.crash_limit = Some(CrashLimit {
            restarts: 1,
            window: Duration::from_secs(1),
        });
        let mut m = running(&s);
        let t = t0();
        for i in 0..6u64 {
            // One crash every 1.2 s: never two within 1 s.
            let at = t + ms(1200 * i);
            let fx = crash(&mut m, &s, at);
            assert_ne!(m.state(), S::Fatal, "crash {i}");
            back_to_running(&mut m, &s, &fx, at);
        }
        let fx = crash(&mut m, &s, t + ms(1200 * 6));
        back_to_running(&mut m, &s, &fx, t + ms(1200 * 6));
        assert_eq!(crash(&mut m, &s, t + ms(1200 * 6 + 500)), []);
        assert_eq!(m.state(), S::Fatal);
    }

    #[test]
    fn failed_start_attempts_stay_under_startretries_not_crash_limit() {
        let mut s = spec();
        s.startretries = 1;
        s.crash_limit = Some(CrashLimit {
            restarts: 100,
            window: Duration::from_secs(60),
        });
        let mut m = started(&s);
        m.handle(Event::Spawned, &s, t0());
        m.handle(Event::Exited(Exit::Code(1)), &s, t0());
        m.handle(Event::TimerFired, &s, t0());
        m.handle(Event::Spawned, &s, t0());
        m.handle(Event::Exited(Exit::Code(1)), &s, t0());
        assert_eq!(m.state(), S::Fatal);
        assert_eq!(m.failure(), Some(Failure::ExitedTooQuickly(Exit::Code(1))));
        assert_eq!(m.attempts(), 2);
    }

    #[test]
    fn a_lowered_crash_limit_applies_at_the_next_crash() {
        let mut s = spec();
        s.restart_backoff = no_backoff();
        s.crash_limit = Some(CrashLimit {
            restarts: 10,
            window: Duration::from_secs(60),
        });
        let mut m = running(&s);
        for _ in 0..5 {
            let fx = crash(&mut m, &s, t0());
            back_to_running(&mut m, &s, &fx, t0());
        }
        s.crash_limit = Some(CrashLimit {
            restarts: 2,
            window: Duration::from_secs(60),
        });
        assert_eq!(crash(&mut m, &s, t0()), []);
        assert_eq!(m.state(), S::Fatal);
    }

    #[test]
    fn stop_and_start_while_in_crash_backoff() {
        let s = spec();
        let mut m = running(&s);
        let fx = crash(&mut m, &s, t0());
        back_to_running(&mut m, &s, &fx, t0());
        crash(&mut m, &s, t0());
        assert_eq!(m.state(), S::Backoff);
        assert_eq!(
            m.handle(Event::StopRequested, &s, t0()),
            [Effect::CancelTimer]
        );
        assert_eq!(m.state(), S::Stopped);
        assert_eq!(m.crash_wait(), None);
        assert_eq!(m.handle(Event::StartRequested, &s, t0()), [Effect::Spawn]);
        assert_eq!(m.crash_run(), 0, "a manual start clears the run");
    }

    #[test]
    fn leftovers_of_a_crash_are_stopped_before_the_restart() {
        let mut s = spec();
        s.autorestart = AutoRestart::Always;
        let mut m = running(&s);
        let fx = m.handle(
            Event::LeaderExited {
                exit: Exit::Signal(9),
                leftovers: 2,
            },
            &s,
            t0(),
        );
        assert_eq!(fx, [Effect::SendStopSignal, Effect::ArmTimer(s.stoptime)]);
        assert_eq!(m.state(), S::Stopping);
        assert!(m.draining() && m.has_child());
        assert_eq!(
            m.leftovers(),
            Some(Leftovers {
                count: 2,
                forked: false
            })
        );
        // They ignore the stop signal: SIGKILL after stoptime.
        assert_eq!(m.handle(Event::TimerFired, &s, t0()), [Effect::Kill]);
        assert_eq!(
            m.handle(Event::GroupEmpty, &s, t0()),
            [Effect::CancelTimer, Effect::Spawn]
        );
        assert_eq!(m.state(), S::Starting);
        assert_eq!(m.restarts(), 1);
        assert_eq!(m.last_exit(), Some(Exit::Signal(9)));
        m.handle(Event::Spawned, &s, t0());
        assert_eq!(m.leftovers(), None, "forgotten at the next spawn");
    }

    #[test]
    fn leftovers_of_an_exit_before_starttime_hint_at_a_fork_into_the_background() {
        let s = spec();
        let mut m = started(&s);
        m.handle(Event::Spawned, &s, t0());
        let fx = m.handle(
            Event::LeaderExited {
                exit: Exit::Code(0),
                leftovers: 1,
            },
            &s,
            t0(),
        );
        assert_eq!(fx, [Effect::SendStopSignal, Effect::ArmTimer(s.stoptime)]);
        assert!(m.leftovers().is_some_and(|l| l.forked));
        assert_eq!(
            m.handle(Event::GroupEmpty, &s, t0()),
            [
                Effect::CancelTimer,
                Effect::ArmTimer(Duration::from_secs(1))
            ]
        );
        assert_eq!(m.state(), S::Backoff);
        assert_eq!(m.failure(), Some(Failure::ExitedTooQuickly(Exit::Code(0))));
        assert!(m.leftovers().is_some_and(|l| l.count == 1 && l.forked));
    }

    #[test]
    fn an_expected_exit_while_running_with_leftovers_is_exited_and_hints() {
        let mut s = spec();
        s.autorestart = AutoRestart::Unexpected;
        let mut m = running(&s);
        m.handle(
            Event::LeaderExited {
                exit: Exit::Code(0),
                leftovers: 3,
            },
            &s,
            t0(),
        );
        assert!(m.leftovers().is_some_and(|l| l.forked));
        assert_eq!(m.handle(Event::GroupEmpty, &s, t0()), [Effect::CancelTimer]);
        assert_eq!(m.state(), S::Exited);
        assert_eq!(m.expected(), Some(true));
    }

    /// Issue 8, case 6: the kill timer outlives the main process.
    #[test]
    fn a_stop_keeps_its_kill_timer_when_the_main_process_exits_first() {
        let s = spec();
        let mut m = running(&s);
        m.handle(Event::StopRequested, &s, t0());
        let fx = m.handle(
            Event::LeaderExited {
                exit: Exit::Signal(15),
                leftovers: 2,
            },
            &s,
            t0(),
        );
        assert_eq!(fx, [Effect::SendStopSignal], "no CancelTimer");
        assert_eq!(m.state(), S::Stopping);
        assert_eq!(m.handle(Event::TimerFired, &s, t0()), [Effect::Kill]);
        assert_eq!(m.handle(Event::GroupEmpty, &s, t0()), [Effect::CancelTimer]);
        assert_eq!(m.state(), S::Stopped);
        assert!(m.leftovers().is_some_and(|l| l.count == 2 && !l.forked));
    }

    #[test]
    fn leftovers_after_the_kill_are_killed_at_once() {
        let s = spec();
        let mut m = running(&s);
        m.handle(Event::StopRequested, &s, t0());
        m.handle(Event::TimerFired, &s, t0());
        let fx = m.handle(
            Event::LeaderExited {
                exit: Exit::Signal(9),
                leftovers: 1,
            },
            &s,
            t0(),
        );
        assert_eq!(fx, [Effect::Kill]);
    }

    #[test]
    fn stop_or_start_while_draining_a_crash() {
        let mut s = spec();
        s.autorestart = AutoRestart::Always;
        let leftovers = Event::LeaderExited {
            exit: Exit::Code(1),
            leftovers: 1,
        };
        // stop: the crash is not restarted.
        let mut m = running(&s);
        m.handle(leftovers, &s, t0());
        assert_eq!(m.handle(Event::StopRequested, &s, t0()), []);
        assert_eq!(m.handle(Event::GroupEmpty, &s, t0()), [Effect::CancelTimer]);
        assert_eq!(m.state(), S::Stopped);
        // start (restart): a manual start once the group is empty.
        let mut m = running(&s);
        m.handle(leftovers, &s, t0());
        assert_eq!(m.handle(Event::StartRequested, &s, t0()), []);
        assert_eq!(
            m.handle(Event::GroupEmpty, &s, t0()),
            [Effect::CancelTimer, Effect::Spawn]
        );
        assert_eq!(m.restarts(), 0);
        // An exit event while draining (impossible) changes nothing.
        let mut m = running(&s);
        m.handle(leftovers, &s, t0());
        assert_eq!(m.handle(Event::Exited(Exit::Code(1)), &s, t0()), []);
        assert_eq!(m.handle(leftovers, &s, t0()), []);
        assert_eq!(m.state(), S::Stopping);
    }

    // ---- dependencies (depends-on): WAITING ----

    fn dependent() -> ProgramSpec {
        let mut s = spec();
        s.depends_on
            .insert("db".into(), crate::plan::model::Condition::Ready);
        s.restart_backoff = no_backoff();
        s
    }

    fn waiting(s: &ProgramSpec) -> Machine {
        let mut m = Machine::new();
        assert_eq!(
            m.handle(Event::StartRequested, s, t0()),
            [Effect::AwaitDeps]
        );
        assert_eq!(m.state(), S::Waiting);
        assert!(m.is_active() && !m.has_child());
        m
    }

    #[test]
    fn a_start_with_dependencies_waits_then_spawns_when_they_hold() {
        let s = dependent();
        let mut m = waiting(&s);
        assert_eq!(m.handle(Event::TimerFired, &s, t0()), []);
        assert_eq!(m.state(), S::Waiting);
        assert_eq!(m.handle(Event::DepsMet, &s, t0()), [Effect::Spawn]);
        assert_eq!(m.state(), S::Starting);
        // Late answers once it is no longer waiting change nothing.
        assert_eq!(m.handle(Event::DepsMet, &s, t0()), []);
        assert_eq!(m.handle(Event::DependencyFailed, &s, t0()), []);
        assert_eq!(m.state(), S::Starting);
    }

    #[test]
    fn a_failed_dependency_makes_the_waiting_process_fatal_until_started_again() {
        let s = dependent();
        let mut m = waiting(&s);
        assert_eq!(m.handle(Event::DependencyFailed, &s, t0()), []);
        assert_eq!(m.state(), S::Fatal);
        assert_eq!(m.failure(), Some(Failure::Dependency));
        assert_eq!(
            m.handle(Event::StartRequested, &s, t0()),
            [Effect::AwaitDeps]
        );
        assert_eq!(m.state(), S::Waiting);
        assert_eq!(m.failure(), None);
    }

    #[test]
    fn stop_while_waiting_is_stopped_and_start_while_waiting_waits_again() {
        let s = dependent();
        let mut m = waiting(&s);
        assert_eq!(m.handle(Event::StopRequested, &s, t0()), []);
        assert_eq!(m.state(), S::Stopped);
        let mut m = waiting(&s);
        assert_eq!(
            m.handle(Event::StartRequested, &s, t0()),
            [Effect::AwaitDeps]
        );
        assert_eq!(m.state(), S::Waiting);
    }

    #[test]
    fn retries_and_crash_restarts_wait_too_and_keep_their_counts() {
        let s = dependent();
        let mut m = waiting(&s);
        m.handle(Event::DepsMet, &s, t0());
        m.handle(Event::Spawned, &s, t0());
        // An exit before starttime: BACKOFF, then the retry waits.
        m.handle(Event::Exited(Exit::Code(1)), &s, t0());
        assert_eq!(m.state(), S::Backoff);
        assert_eq!(m.handle(Event::TimerFired, &s, t0()), [Effect::AwaitDeps]);
        assert_eq!(m.state(), S::Waiting);
        assert_eq!((m.attempts(), m.restarts()), (1, 1), "kept while waiting");
        m.handle(Event::DepsMet, &s, t0());
        m.handle(Event::Spawned, &s, t0());
        m.handle(Event::TimerFired, &s, t0());
        assert_eq!(m.state(), S::Running);
        // A crash restart (immediate with no backoff) waits as well.
        assert_eq!(
            m.handle(Event::Exited(Exit::Code(3)), &s, t0()),
            [Effect::AwaitDeps]
        );
        assert_eq!(m.state(), S::Waiting);
        assert_eq!(m.restarts(), 2);
    }

    #[test]
    fn a_start_queued_behind_a_stop_waits_and_backoff_start_cancels_its_timer() {
        let s = dependent();
        let mut m = waiting(&s);
        m.handle(Event::DepsMet, &s, t0());
        m.handle(Event::Spawned, &s, t0());
        m.handle(Event::StopRequested, &s, t0());
        m.handle(Event::StartRequested, &s, t0());
        assert_eq!(
            m.handle(Event::Exited(Exit::Signal(15)), &s, t0()),
            [Effect::CancelTimer, Effect::AwaitDeps]
        );
        assert_eq!(m.state(), S::Waiting);
        m.handle(Event::DepsMet, &s, t0());
        m.handle(Event::Spawned, &s, t0());
        m.handle(Event::Exited(Exit::Code(1)), &s, t0());
        assert_eq!(m.state(), S::Backoff);
        assert_eq!(
            m.handle(Event::StartRequested, &s, t0()),
            [Effect::CancelTimer, Effect::AwaitDeps]
        );
    }

    #[test]
    fn without_dependencies_nothing_waits() {
        let s = spec();
        let mut m = Machine::new();
        assert_eq!(m.handle(Event::StartRequested, &s, t0()), [Effect::Spawn]);
        assert_eq!(m.handle(Event::DepsMet, &s, t0()), []);
        assert_eq!(m.state(), S::Starting);
    }
}
