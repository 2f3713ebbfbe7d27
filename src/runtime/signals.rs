//! Which signal does what to the daemon, and taking them all through one signalfd.
//!
//! Only SIGKILL may end the daemon without stopping its programs, so every other signal is
//! blocked (before any thread exists: the mask is per thread and inherited) and read from a
//! signalfd on the event loop:
//! - SIGCHLD: reap (see `reap`);
//! - SIGTERM, SIGINT, SIGQUIT: graceful shutdown; a second one kills every group;
//! - SIGHUP: reload; SIGUSR2: reopen every file the daemon writes;
//! - every other one (SIGUSR1, SIGALRM, SIGPIPE, SIGTSTP, the realtime signals, …) is
//!   ignored and noted in the event log. SIGPIPE the daemon raises on itself (a write to a
//!   client that went away) is not noted: it only means the write failed, which is handled.
//!
//! The synchronous fault signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS) are in the
//! set too: one sent with `kill` is noted and ignored, while a real fault still ends the
//! process, because the kernel unblocks a fault signal it forces on a thread.
//!
//! SIGCHLD is first set back to its default action: a daemon started with SIGCHLD ignored
//! (some shells and init scripts do that) would otherwise have its children reaped by the
//! kernel, blocked or not, and lose every exit status.
//!
//! Children get an empty mask and every signal's default action back (see `spawn`).

use nix::errno::Errno;
use nix::sys::signal::{SigHandler, SigSet, Signal, signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use super::supervisor::Supervisor;

/// Signals taken per wake-up; more wait for the next turn of the loop (the source is
/// level-triggered), so a flood of queued realtime signals cannot hold the loop.
const PER_WAKEUP: usize = 64;

/// What the daemon does on a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Reap,
    Shutdown,
    Reload,
    Reopen,
    /// Noted in the event log, nothing else.
    Ignore,
}

/// The daemon's response to signal number `signo`.
pub(crate) fn action(signo: i32) -> Action {
    match Signal::try_from(signo) {
        Ok(Signal::SIGCHLD) => Action::Reap,
        Ok(Signal::SIGTERM | Signal::SIGINT | Signal::SIGQUIT) => Action::Shutdown,
        Ok(Signal::SIGHUP) => Action::Reload,
        Ok(Signal::SIGUSR2) => Action::Reopen,
        _ => Action::Ignore,
    }
}

/// Every signal the daemon takes through its signalfd: all but SIGKILL and SIGSTOP, which
/// cannot be caught. glibc's full set already leaves out the two realtime signals it
/// reserves for itself.
fn taken() -> SigSet {
    let mut set = SigSet::all();
    set.remove(Signal::SIGKILL);
    set.remove(Signal::SIGSTOP);
    set
}

/// Sets SIGCHLD back to its default action, blocks every signal the daemon handles and
/// opens the signalfd that receives them. Call first thing, before any thread could exist.
pub(crate) fn take() -> nix::Result<SignalFd> {
    // SAFETY: SIG_DFL installs no handler code.
    unsafe { signal(Signal::SIGCHLD, SigHandler::SigDfl) }?;
    let set = taken();
    set.thread_block()?;
    SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
}

/// A signal's name: `SIGUSR1`, `SIGRTMIN+3`, or `signal 99`.
pub(crate) fn name(signo: i32) -> String {
    if let Ok(s) = Signal::try_from(signo) {
        return s.as_str().to_owned();
    }
    let (min, max) = (nix::libc::SIGRTMIN(), nix::libc::SIGRTMAX());
    if (min..=max).contains(&signo) {
        return if signo == max {
            "SIGRTMAX".into()
        } else {
            format!("SIGRTMIN+{}", signo - min)
        };
    }
    format!("signal {signo}")
}

impl Supervisor {
    /// The signalfd is readable: act on what arrived.
    pub(crate) fn signals_ready(&mut self, fd: &SignalFd) {
        for _ in 0..PER_WAKEUP {
            match fd.read_signal() {
                Ok(Some(info)) => {
                    let signo = i32::try_from(info.ssi_signo).unwrap_or(0);
                    self.signal_received(signo, info.ssi_pid);
                }
                Ok(None) => return,
                Err(Errno::EINTR) => {}
                Err(e) => {
                    self.note(format_args!("cannot read signals: {e}"));
                    return;
                }
            }
        }
    }

    fn signal_received(&mut self, signo: i32, sender: u32) {
        let name = name(signo);
        match action(signo) {
            Action::Reap => self.reap(),
            Action::Reload if self.shutting_down() => {}
            Action::Reload => {
                self.note(format_args!("{name}: reloading"));
                // The outcome (diff or diagnostics) goes to the event log.
                self.reload_on_signal();
            }
            Action::Reopen => {
                self.note(format_args!(
                    "{name}: reopening the files the daemon writes"
                ));
                self.reopen_logs();
            }
            Action::Shutdown if self.shutting_down() => self.kill_everything(),
            Action::Shutdown => {
                self.note(format_args!("{name}: shutting down"));
                self.begin_shutdown(None);
            }
            // A write to a client that went away raises SIGPIPE on the daemon itself; the
            // failed write is handled where it happened.
            Action::Ignore if signo == Signal::SIGPIPE as i32 && sender == std::process::id() => {}
            Action::Ignore => self.note(format_args!("ignored {name} (sent by pid {sender})")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_term_int_quit_hup_and_usr2_do_something() {
        assert_eq!(action(Signal::SIGQUIT as i32), Action::Shutdown);
        assert_eq!(action(Signal::SIGTERM as i32), Action::Shutdown);
        assert_eq!(action(Signal::SIGHUP as i32), Action::Reload);
        assert_eq!(action(Signal::SIGUSR2 as i32), Action::Reopen);
        for s in [
            Signal::SIGUSR1,
            Signal::SIGALRM,
            Signal::SIGPIPE,
            Signal::SIGTSTP,
        ] {
            assert_eq!(action(s as i32), Action::Ignore, "{s}");
        }
        assert_eq!(action(nix::libc::SIGRTMIN() + 1), Action::Ignore);
    }

    #[test]
    fn the_set_holds_every_catchable_signal() {
        let set = taken();
        for s in Signal::iterator() {
            let expected = !matches!(s, Signal::SIGKILL | Signal::SIGSTOP);
            assert_eq!(set.contains(s), expected, "{s}");
        }
        // SAFETY: sigismember only reads the set.
        let has = |n| unsafe { nix::libc::sigismember(set.as_ref(), n) } == 1;
        assert!(has(nix::libc::SIGRTMIN()) && has(nix::libc::SIGRTMAX()));
    }

    #[test]
    fn names_realtime_signals() {
        assert_eq!(name(Signal::SIGUSR1 as i32), "SIGUSR1");
        assert_eq!(name(nix::libc::SIGRTMIN() + 3), "SIGRTMIN+3");
        assert_eq!(name(nix::libc::SIGRTMAX()), "SIGRTMAX");
    }
}
