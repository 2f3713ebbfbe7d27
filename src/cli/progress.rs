//! A one-line progress indicator for commands that wait (`start`, `stop`, `restart`,
//! `shutdown`): `stopping web (SIGTERM sent, 3s of 10s)…`, rewritten in place on stderr once
//! a second, erased when the answer comes.
//!
//! Only on a terminal (and not `TERM=dumb`): when stderr is a pipe or a file nothing is
//! printed and nothing more is asked, so scripts and logs see exactly what they saw before. On a terminal, a stop
//! first asks the daemon once for the programs' stop signal and `stoptime` (the `timings`
//! request, given up after a second); from then on the clock runs in the client, in a thread
//! that sleeps between updates, so the daemon never wakes up for the indicator. Nothing shows
//! for the first second, so quick commands do not flicker.

use std::io::{IsTerminal, Write};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::client::transport::{Connection, Target, Wait};
use crate::protocol::{ProgramTimings, Request, Response};

/// How long a wait stays silent before the line appears.
const QUIET_FOR: Duration = Duration::from_secs(1);
/// How often the line is rewritten.
const EVERY: Duration = Duration::from_secs(1);
/// Labels longer than this are cut, so the line stays one line on an 80-column terminal.
const MAX_LABEL: usize = 60;

/// How long the `timings` question may take before the line does without it.
const TIMINGS_DEADLINE: Duration = Duration::from_secs(1);

/// What a stop waits for: the signal sent first (`None` when the programs differ) and the
/// longest `stoptime`, after which SIGKILL follows.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct StopPlan {
    signal: Option<String>,
    stoptime: Duration,
}

impl StopPlan {
    /// Asks the daemon how the processes `names` reach are stopped; `None` when stderr is
    /// no terminal (nothing will be shown, so nothing is asked) or the daemon does not say.
    pub(super) fn fetch(target: &Target, names: &[String]) -> Option<StopPlan> {
        if !shown() {
            return None;
        }
        let target = Target {
            timeout: TIMINGS_DEADLINE,
            ..target.clone()
        };
        let mut conn = Connection::open(&target, Wait::Answer).ok()?;
        conn.set_deadline(Instant::now() + TIMINGS_DEADLINE);
        conn.send(Request::Timings {
            names: names.to_vec(),
        })
        .ok()?;
        match conn.expect().ok()? {
            Response::Timings { programs } => StopPlan::of(&programs),
            _ => None,
        }
    }

    fn of(programs: &[ProgramTimings]) -> Option<StopPlan> {
        let first = programs.first()?;
        let same = programs.iter().all(|p| p.stopsignal == first.stopsignal);
        let longest = programs
            .iter()
            .map(|p| p.stoptime_secs)
            .fold(0.0_f64, f64::max);
        Some(StopPlan {
            signal: same.then(|| first.stopsignal.clone()),
            stoptime: Duration::try_from_secs_f64(longest).unwrap_or_default(),
        })
    }
}

/// A running indicator; [`Progress::finish`] stops and erases it.
pub(super) struct Progress {
    running: Option<(Sender<()>, JoinHandle<()>)>,
}

impl Progress {
    /// Starts the indicator for a wait described by `label` (`stopping web`), with what a
    /// stop waits for when known, if stderr is a terminal; otherwise does nothing.
    pub(super) fn start(label: String, stop: Option<StopPlan>) -> Progress {
        if !shown() {
            return Progress { running: None };
        }
        let stop_plan = stop;
        let (stop, stopped) = mpsc::channel::<()>();
        let label = shorten(&label);
        let begun = Instant::now();
        let thread = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                let mut shown = false;
                let mut wait = QUIET_FOR;
                // Until finished (or the sender dropped): redraw each time the wait ends.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(wait) {
                    let mut err = std::io::stderr().lock();
                    let text = line(&label, stop_plan.as_ref(), begun.elapsed());
                    let _ = write!(err, "\r\x1b[K{text}");
                    let _ = err.flush();
                    shown = true;
                    wait = EVERY;
                }
                if shown {
                    let mut err = std::io::stderr().lock();
                    let _ = write!(err, "\r\x1b[K");
                    let _ = err.flush();
                }
            });
        Progress {
            running: thread.ok().map(|t| (stop, t)),
        }
    }

    /// Stops the indicator and erases its line, before the command prints its result.
    pub(super) fn finish(self) {
        if let Some((stop, thread)) = self.running {
            let _ = stop.send(());
            let _ = thread.join();
        }
    }
}

/// Whether the line can be shown: stderr is a terminal that understands `\r` and erasing
/// a line (not `TERM=dumb`, as in Emacs shells).
fn shown() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

/// The text of the line after `elapsed`: `stopping web (SIGTERM sent, 3s of 10s)…`, or
/// `starting web (3s)…` when there is no stop to describe.
fn line(label: &str, stop: Option<&StopPlan>, elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    let Some(stop) = stop else {
        return format!("{label} ({secs}s)…");
    };
    let limit = seconds(stop.stoptime);
    if elapsed >= stop.stoptime {
        return format!("{label} (SIGKILL sent after {limit}, {secs}s)…");
    }
    match &stop.signal {
        Some(signal) => format!("{label} ({signal} sent, {secs}s of {limit})…"),
        None => format!("{label} (stop signals sent, {secs}s of at most {limit})…"),
    }
}

/// `10s`, `1.5s`, `0.25s`.
fn seconds(d: Duration) -> String {
    let text = format!("{:.3}", d.as_secs_f64());
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}s")
}

/// `label` cut to [`MAX_LABEL`] characters, with an ellipsis when cut.
fn shorten(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL {
        return label.to_owned();
    }
    let cut: String = label.chars().take(MAX_LABEL - 1).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timings(program: &str, signal: &str, stoptime: f64) -> ProgramTimings {
        ProgramTimings {
            program: program.into(),
            stopsignal: signal.into(),
            stoptime_secs: stoptime,
            starttime_secs: 1.0,
        }
    }

    #[test]
    fn the_line_names_the_wait_and_its_seconds() {
        let at = Duration::from_millis(3400);
        assert_eq!(line("starting web", None, at), "starting web (3s)…");
        let one = StopPlan::of(&[timings("web", "SIGTERM", 10.0)]);
        assert_eq!(
            line("stopping web", one.as_ref(), at),
            "stopping web (SIGTERM sent, 3s of 10s)…"
        );
        assert_eq!(
            line("stopping web", one.as_ref(), Duration::from_secs(11)),
            "stopping web (SIGKILL sent after 10s, 11s)…"
        );
        let two = StopPlan::of(&[
            timings("web", "SIGTERM", 10.0),
            timings("db", "SIGINT", 1.5),
        ]);
        assert_eq!(
            line("stopping web, db", two.as_ref(), at),
            "stopping web, db (stop signals sent, 3s of at most 10s)…"
        );
        assert_eq!(StopPlan::of(&[]), None);
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5s");
        assert_eq!(seconds(Duration::from_millis(250)), "0.25s");
    }

    #[test]
    fn long_labels_are_cut() {
        let long = format!("stopping {}", "worker, ".repeat(20));
        let short = shorten(&long);
        assert_eq!(short.chars().count(), MAX_LABEL);
        assert!(short.ends_with('…'));
        assert_eq!(shorten("stopping web"), "stopping web");
    }

    #[test]
    fn nothing_runs_without_a_terminal() {
        // The test harness captures stderr, so it is not a terminal here.
        if !std::io::stderr().is_terminal() {
            let p = Progress::start("stopping web".into(), None);
            assert!(p.running.is_none());
            p.finish();
        }
    }
}
