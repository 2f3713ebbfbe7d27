//! The check runners: one attempt of a `tcp`, `http` or `exec` check, never blocking.
//!
//! A network attempt ([`NetAttempt`]) is a non-blocking socket and a small state machine
//! that says what it waits for ([`Interest`]): the supervisor registers its fd once with the
//! event loop, edge-triggered for both directions, and calls [`NetAttempt::step`] at each
//! edge; the attempt's timeout is the process's check timer. Targets are numeric loopback addresses, decided when the config was
//! compiled: nothing here resolves a name. An `exec` attempt ([`exec`]) is a child in its own
//! process group whose status the daemon's reaper routes back; at the timeout its group is
//! killed. The failure texts are the ones `status` shows (`connect 127.0.0.1:8080:
//! connection refused`, `HTTP 503`, `exit code 1`, `timed out after 1s`).
//!
//! Caps: one attempt per process at a time (the machine's rule); an HTTP status line is
//! looked for in the first [`http::MAX_HEAD`] bytes of the response.

pub(crate) mod exec;
pub(crate) mod http;
pub(crate) mod tcp;

use std::os::fd::{AsFd, BorrowedFd};
use std::rc::Rc;

use crate::plan::check::Probe;

/// What an attempt waits for on its socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interest {
    Read,
    Write,
}

/// What an attempt needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Call [`NetAttempt::step`] again once the fd is ready for this.
    Wait(Interest),
    /// The attempt ended: `Err` holds the failure text.
    Done(Result<(), String>),
}

/// One tcp or http attempt in flight.
#[derive(Debug)]
pub(crate) enum NetAttempt {
    Tcp(tcp::TcpAttempt),
    Http(http::HttpAttempt),
}

impl NetAttempt {
    /// Starts an attempt of a tcp or http probe (`None` for the other kinds). A failure to
    /// even start (no socket left, a refused connect reported at once) is already `Done`.
    pub(crate) fn start(probe: &Probe) -> Option<(Self, Step)> {
        match probe {
            Probe::Tcp(addr) => {
                let (a, step) = tcp::TcpAttempt::start(*addr);
                Some((NetAttempt::Tcp(a), step))
            }
            Probe::Http(target) => {
                let (a, step) = http::HttpAttempt::start(target);
                Some((NetAttempt::Http(a), step))
            }
            Probe::Exec(_) | Probe::Log(_) => None,
        }
    }

    /// The socket, shared with the event loop's source.
    pub(crate) fn socket(&self) -> Option<Rc<std::os::fd::OwnedFd>> {
        match self {
            NetAttempt::Tcp(a) => a.socket(),
            NetAttempt::Http(a) => a.socket(),
        }
    }

    /// The fd became ready: go on.
    pub(crate) fn step(&mut self) -> Step {
        match self {
            NetAttempt::Tcp(a) => a.step(),
            NetAttempt::Http(a) => a.step(),
        }
    }
}

/// `Connection refused` → `connection refused`: messages read as one sentence.
pub(crate) fn errno_text(errno: nix::errno::Errno) -> String {
    let desc = errno.desc();
    let mut chars = desc.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => desc.to_owned(),
    }
}

/// An fd shared between an attempt and the event loop source watching it.
#[derive(Debug, Clone)]
pub(crate) struct SharedFd(pub Rc<std::os::fd::OwnedFd>);

impl AsFd for SharedFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Drives an attempt with poll(2), as the event loop would, for the unit tests.
    use std::os::fd::AsFd as _;
    use std::time::{Duration, Instant};

    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

    use super::{Interest, NetAttempt, Step};

    pub(crate) fn run(
        mut attempt: NetAttempt,
        mut step: Step,
        within: Duration,
    ) -> Result<(), String> {
        let until = Instant::now() + within;
        loop {
            let interest = match step {
                Step::Done(result) => return result,
                Step::Wait(i) => i,
            };
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err("test: timed out".into());
            }
            let socket = attempt.socket().expect("a waiting attempt has a socket");
            let flags = if interest == Interest::Read {
                PollFlags::POLLIN
            } else {
                PollFlags::POLLOUT
            };
            let mut fds = [PollFd::new(socket.as_fd(), flags)];
            let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
            poll(&mut fds, PollTimeout::from(ms)).expect("poll");
            step = attempt.step();
        }
    }
}
