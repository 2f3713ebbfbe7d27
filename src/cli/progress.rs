//! A one-line progress indicator for commands that wait (`start`, `stop`, `restart`,
//! `shutdown`): `stopping web… 3s`, rewritten in place on stderr once a second, erased when
//! the answer comes.
//!
//! Only on a terminal: when stderr is a pipe or a file nothing is printed, so scripts and
//! logs see exactly what they saw before. The clock runs in the client (a thread that sleeps
//! between updates); the daemon is never asked anything more, so it does not wake up for it.
//! Nothing shows for the first second, so quick commands do not flicker.

use std::io::{IsTerminal, Write};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a wait stays silent before the line appears.
const QUIET_FOR: Duration = Duration::from_secs(1);
/// How often the line is rewritten.
const EVERY: Duration = Duration::from_secs(1);
/// Labels longer than this are cut, so the line stays one line on an 80-column terminal.
const MAX_LABEL: usize = 60;

/// A running indicator; [`Progress::finish`] stops and erases it.
pub struct Progress {
    running: Option<(Sender<()>, JoinHandle<()>)>,
}

impl Progress {
    /// Starts the indicator for a wait described by `label` (`stopping web`), when stderr is
    /// a terminal; otherwise does nothing.
    pub fn start(label: String) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress { running: None };
        }
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
                    let _ = write!(err, "\r\x1b[K{}", line(&label, begun.elapsed()));
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
    pub fn finish(self) {
        if let Some((stop, thread)) = self.running {
            let _ = stop.send(());
            let _ = thread.join();
        }
    }
}

/// The text of the line after `elapsed`: `stopping web… 3s`.
fn line(label: &str, elapsed: Duration) -> String {
    format!("{label}… {}s", elapsed.as_secs())
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

    #[test]
    fn the_line_names_the_wait_and_its_seconds() {
        assert_eq!(
            line("stopping web", Duration::from_millis(3400)),
            "stopping web… 3s"
        );
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
            let p = Progress::start("stopping web".into());
            assert!(p.running.is_none());
            p.finish();
        }
    }
}
