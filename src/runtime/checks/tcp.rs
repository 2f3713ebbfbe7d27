//! A `tcp` attempt: a non-blocking connect to a numeric loopback address; it passes when the
//! connection completes, and the socket is closed at once.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd as _, OwnedFd};
use std::rc::Rc;

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, SockFlag, SockType, SockaddrIn, SockaddrIn6, connect, getsockopt, socket,
    sockopt,
};

use super::{Interest, Step, errno_text};

/// Opens a non-blocking socket and starts connecting it to `addr`. `Ok(true)`: connected
/// already (loopback often is); `Ok(false)`: wait for it to turn writable.
pub(crate) fn connect_to(addr: SocketAddr) -> Result<(OwnedFd, bool), Errno> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    };
    let fd = socket(
        family,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    let connected = match addr {
        SocketAddr::V4(v4) => connect(fd.as_raw_fd(), &SockaddrIn::from(v4)),
        SocketAddr::V6(v6) => connect(fd.as_raw_fd(), &SockaddrIn6::from(v6)),
    };
    match connected {
        Ok(()) => Ok((fd, true)),
        Err(Errno::EINPROGRESS | Errno::EINTR) => Ok((fd, false)),
        Err(e) => Err(e),
    }
}

/// The outcome of a connect that was in progress, once the socket turned writable.
pub(crate) fn connect_result(fd: &OwnedFd) -> Result<(), Errno> {
    match getsockopt(fd, sockopt::SocketError) {
        Ok(0) => Ok(()),
        Ok(code) => Err(Errno::from_raw(code)),
        Err(e) => Err(e),
    }
}

/// One tcp attempt in flight.
#[derive(Debug)]
pub(crate) struct TcpAttempt {
    addr: SocketAddr,
    socket: Option<Rc<OwnedFd>>,
}

impl TcpAttempt {
    pub(crate) fn start(addr: SocketAddr) -> (Self, Step) {
        let mut attempt = TcpAttempt { addr, socket: None };
        let step = match connect_to(addr) {
            Ok((_, true)) => Step::Done(Ok(())),
            Ok((fd, false)) => {
                attempt.socket = Some(Rc::new(fd));
                Step::Wait(Interest::Write)
            }
            Err(e) => Step::Done(Err(attempt.failure(e))),
        };
        (attempt, step)
    }

    pub(crate) fn socket(&self) -> Option<Rc<OwnedFd>> {
        self.socket.clone()
    }

    pub(crate) fn step(&mut self) -> Step {
        let Some(fd) = self.socket.take() else {
            return Step::Done(Err("no connection in progress".into()));
        };
        Step::Done(connect_result(&fd).map_err(|e| self.failure(e)))
    }

    fn failure(&self, e: Errno) -> String {
        format!("connect {}: {}", self.addr, errno_text(e))
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::time::Duration;

    use super::*;
    use crate::runtime::checks::{NetAttempt, testing};

    fn attempt(addr: SocketAddr) -> Result<(), String> {
        let (a, step) = TcpAttempt::start(addr);
        testing::run(NetAttempt::Tcp(a), step, Duration::from_secs(5))
    }

    #[test]
    fn passes_against_a_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(attempt(listener.local_addr().unwrap()), Ok(()));
    }

    #[test]
    fn fails_with_the_reason_when_nothing_listens() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        assert_eq!(
            attempt(addr),
            Err(format!("connect {addr}: connection refused"))
        );
    }
}
