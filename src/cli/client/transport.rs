//! One conversation with the daemon: connect to its socket, check who serves it, send a
//! request line, read answer lines — and never hang.
//!
//! - **Who serves the socket.** Before anything is sent, the peer's uid (SO_PEERCRED) must be
//!   ours or root's: another user's listener on our path gets neither our request nor our
//!   trust ([`ClientError::ForeignServer`], exit 3).
//! - **Connecting** is non-blocking: a listener whose backlog is full (it stopped accepting)
//!   is retried until the timeout, then it is unreachable.
//! - **Answers** ([`Wait`]): a command that does not wait for processes gives up when the
//!   daemon sends nothing for its timeout (10 s, `--timeout D`). A command that waits for
//!   work (`start`, `stop`, `restart`, `shutdown`) may wait as long as the work
//!   takes, so silence alone proves nothing; instead, after every [`PROBE_EVERY`] of silence
//!   the client opens a second connection and sends `ping`: a daemon that does not answer it
//!   within the timeout has stopped answering (exit 3). The connection closing, or the daemon
//!   process dying (which closes it), ends the wait at once. `logs -f` waits without end,
//!   by design, and checks nothing.
//! - Reads wake up a few times a second to notice [`super::interrupt`] (Ctrl-C in the shell)
//!   and the limits above; the client is allowed to poll, the daemon is not.

use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::socket::{
    AddressFamily, SockFlag, SockType, UnixAddr, connect, getsockopt, socket,
    sockopt::PeerCredentials,
};

use crate::cli::SocketArg;
use crate::cli::socket_path::{self, ConfigUnreadable};
use crate::protocol::{Request, RequestLine, Response};

use super::interrupt;

/// How often a blocked read looks at the interrupt flag and the clock.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How long a non-waiting command waits for the daemon's next bytes, by default.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// `shell --timeout D`: the default of every command the shell runs.
static SHELL_TIMEOUT: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();

/// Makes `timeout` the default of every later command of this process (the shell's).
pub(crate) fn set_default_timeout(timeout: Duration) {
    let _ = SHELL_TIMEOUT.set(timeout);
}

/// Silence on a waiting command's connection after which the daemon is pinged.
pub(crate) const PROBE_EVERY: Duration = Duration::from_secs(5);

/// Where a command's daemon is and how long it may stay silent.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub socket: PathBuf,
    pub timeout: Duration,
}

impl Target {
    /// The socket rule ([`socket_path`]) applied to a command's options.
    pub(crate) fn from_arg(arg: &SocketArg) -> Result<Target, ClientError> {
        let socket = socket_path::for_client(arg.socket.as_deref(), arg.config.as_deref())
            .map_err(ClientError::Config)?;
        Ok(Target {
            socket,
            timeout: arg
                .timeout
                .or_else(|| SHELL_TIMEOUT.get().copied())
                .unwrap_or(DEFAULT_TIMEOUT),
        })
    }

    /// `socket` with the default timeout.
    #[cfg(test)]
    pub(crate) fn new(socket: &Path) -> Target {
        Target {
            socket: socket.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// How a command waits for its answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// `status`, `logs`, `diff`, `reload`: silence longer than the timeout is a failure.
    Answer,
    /// `start`, `stop`, `restart`, `shutdown`: wait for the work, pinging the daemon after
    /// every [`PROBE_EVERY`] of silence.
    Work,
    /// `logs -f`: silence is normal and the wait has no end but Ctrl-C or the daemon
    /// closing the connection, so nothing is checked (and the daemon is not woken up
    /// every few seconds for as long as someone follows).
    Endless,
}

/// Why a conversation with the daemon failed. The message says what happened; what to do
/// about it is the diagnostic's help, printed on a `help:` line of its own.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(crate) enum ClientError {
    /// Nothing answers on the socket.
    #[error("cannot reach the daemon at {}: {reason}", socket.display())]
    #[diagnostic(help(
        "start it with `taskmaster run CONFIG`, or name its socket with --socket PATH \
         (or TASKMASTER_SOCKET, or --config CONFIG)"
    ))]
    Unreachable { socket: PathBuf, reason: String },
    /// Another user's process listens on the socket.
    #[error("socket {} is served by uid {uid}, not by you", socket.display())]
    ForeignServer { socket: PathBuf, uid: u32 },
    /// `--config` could not be read.
    #[error(transparent)]
    Config(ConfigUnreadable),
    /// The connection broke before the whole answer arrived.
    #[error("the daemon at {} closed the connection before answering in full", socket.display())]
    Dropped { socket: PathBuf },
    /// The answer was not a protocol line, or not the kind expected.
    #[error("unexpected answer from the daemon at {}: {detail}", socket.display())]
    Protocol { socket: PathBuf, detail: String },
    /// No answer within the timeout.
    #[error(
        "the daemon at {} did not answer within {}",
        socket.display(), show_duration(*timeout)
    )]
    #[diagnostic(help("--timeout D waits longer"))]
    TimedOut { socket: PathBuf, timeout: Duration },
    /// A waiting command's daemon no longer answers a ping.
    #[error("the daemon at {} stopped answering: {reason}", socket.display())]
    Stalled { socket: PathBuf, reason: String },
    /// Ctrl-C while waiting for the answer.
    #[error("interrupted; the daemon carries on with the request (see `status`)")]
    Interrupted,
}

fn show_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

impl ClientError {
    /// The contract's exit status for this failure.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            ClientError::Unreachable { .. }
            | ClientError::ForeignServer { .. }
            | ClientError::Dropped { .. }
            | ClientError::TimedOut { .. }
            | ClientError::Stalled { .. } => crate::cli::exit::UNREACHABLE,
            ClientError::Config(_) => crate::cli::exit::USAGE,
            ClientError::Protocol { .. } => crate::cli::exit::FAILED,
            // 128 + SIGINT, as shells report a command ended by Ctrl-C.
            ClientError::Interrupted => 130,
        }
    }
}

/// An open connection to the daemon.
pub(crate) struct Connection {
    stream: UnixStream,
    target: Target,
    wait: Wait,
    /// Bytes read but not yet returned as a line.
    pending: Vec<u8>,
    /// How many leading bytes of `pending` are known to hold no newline, so a long answer
    /// line (`status` of thousands of processes) is scanned once, not once per read.
    scanned: usize,
    eof: bool,
    /// When the daemon last sent something (or answered a ping).
    heard: Instant,
    /// Only for best-effort requests (tab completion): an absolute limit.
    deadline: Option<Instant>,
}

impl Connection {
    /// Connects to `target`'s socket, waiting for answers the `wait` way.
    pub(crate) fn open(target: &Target, wait: Wait) -> Result<Connection, ClientError> {
        let socket = &target.socket;
        let unreachable = |reason: String| ClientError::Unreachable {
            socket: socket.to_owned(),
            reason,
        };
        let stream = connect_within(socket, target.timeout).map_err(|e| {
            unreachable(match e {
                nix::errno::Errno::ENOENT => "no such socket file".to_owned(),
                nix::errno::Errno::ECONNREFUSED => {
                    "connection refused (no daemon listens there; a stale socket file?)".to_owned()
                }
                nix::errno::Errno::EAGAIN => format!(
                    "it did not accept the connection within {}",
                    show_duration(target.timeout)
                ),
                other => io::Error::from(other).to_string(),
            })
        })?;
        let cred = getsockopt(&stream, PeerCredentials)
            .map_err(|e| unreachable(format!("cannot check who serves it: {e}")))?;
        let uid = cred.uid();
        if uid != nix::unistd::geteuid().as_raw() && uid != 0 {
            return Err(ClientError::ForeignServer {
                socket: socket.to_owned(),
                uid,
            });
        }
        stream
            .set_read_timeout(Some(POLL_INTERVAL))
            .and_then(|()| stream.set_write_timeout(Some(target.timeout)))
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(Connection {
            stream,
            target: target.clone(),
            wait,
            pending: Vec::new(),
            scanned: 0,
            eof: false,
            heard: Instant::now(),
            deadline: None,
        })
    }

    /// Gives up reading answers after `deadline`.
    pub(crate) fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = Some(deadline);
    }

    /// The socket this connection talks to.
    pub(crate) fn socket(&self) -> &Path {
        &self.target.socket
    }

    /// Sends one request line.
    pub(crate) fn send(&mut self, request: Request) -> Result<(), ClientError> {
        let mut line =
            serde_json::to_vec(&RequestLine::new(request)).map_err(|e| ClientError::Protocol {
                socket: self.target.socket.clone(),
                detail: format!("cannot encode the request: {e}"),
            })?;
        line.push(b'\n');
        self.write_all(&line).map_err(|_| self.dropped())
    }

    /// Writes with MSG_NOSIGNAL (the socket's write timeout bounds a daemon that does not
    /// read): one-shot commands run with SIGPIPE's default action (so
    /// `| head` ends them quietly), and a daemon that hung up must give a clear error, not
    /// kill the client.
    fn write_all(&self, mut bytes: &[u8]) -> nix::Result<()> {
        use std::os::fd::AsRawFd;

        use nix::sys::socket::{MsgFlags, send};
        while !bytes.is_empty() {
            match send(self.stream.as_raw_fd(), bytes, MsgFlags::MSG_NOSIGNAL) {
                Ok(n) => bytes = &bytes[n..],
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The next answer line, or `None` when the daemon closed the connection cleanly
    /// between lines.
    pub(crate) fn recv(&mut self) -> Result<Option<Response>, ClientError> {
        let Some(line) = self.read_line()? else {
            return Ok(None);
        };
        serde_json::from_slice(&line).map_err(|e| ClientError::Protocol {
            socket: self.target.socket.clone(),
            detail: format!(
                "not a protocol line ({e}): {}",
                String::from_utf8_lossy(&line)
            ),
        })
    }

    /// The next answer, where the connection ending first is an error.
    pub(crate) fn expect(&mut self) -> Result<Response, ClientError> {
        self.recv()?.ok_or_else(|| self.dropped())
    }

    /// Sends a request and reads its one answer.
    pub(crate) fn call(
        target: &Target,
        wait: Wait,
        request: Request,
    ) -> Result<Response, ClientError> {
        let mut conn = Connection::open(target, wait)?;
        conn.send(request)?;
        conn.expect()
    }

    fn dropped(&self) -> ClientError {
        ClientError::Dropped {
            socket: self.target.socket.clone(),
        }
    }

    /// Errors out when the daemon has been silent too long for this kind of wait.
    fn check_silence(&mut self) -> Result<(), ClientError> {
        let silent = self.heard.elapsed();
        match self.wait {
            Wait::Answer if silent >= self.target.timeout => Err(ClientError::TimedOut {
                socket: self.target.socket.clone(),
                timeout: self.target.timeout,
            }),
            Wait::Work if silent >= PROBE_EVERY => {
                self.ping()?;
                self.heard = Instant::now();
                Ok(())
            }
            Wait::Answer | Wait::Work | Wait::Endless => Ok(()),
        }
    }

    /// Asks the daemon, on a second connection, whether it still answers.
    fn ping(&self) -> Result<(), ClientError> {
        let stalled = |reason: String| ClientError::Stalled {
            socket: self.target.socket.clone(),
            reason,
        };
        let answer = Connection::call(&self.target, Wait::Answer, Request::Ping);
        match answer {
            // Any answer is a sign of life, an error reply too (say, too many connections).
            Ok(_) => Ok(()),
            Err(ClientError::Interrupted) => Err(ClientError::Interrupted),
            Err(e @ ClientError::ForeignServer { .. }) => Err(e),
            // The socket file may be gone while the daemon finishes a `shutdown`: the
            // connection we wait on still tells when it is over.
            Err(ClientError::Unreachable { .. }) => Ok(()),
            Err(ClientError::TimedOut { timeout, .. }) => Err(stalled(format!(
                "it did not answer a ping within {}",
                show_duration(timeout)
            ))),
            Err(e) => Err(stalled(e.to_string())),
        }
    }

    /// One line without its newline; `None` at a clean end of stream.
    fn read_line(&mut self) -> Result<Option<Vec<u8>>, ClientError> {
        let mut chunk = [0u8; 8192];
        loop {
            let newline = self.pending[self.scanned..]
                .iter()
                .position(|&b| b == b'\n');
            if let Some(at) = newline {
                let end = self.scanned + at;
                self.scanned = 0;
                let mut line: Vec<u8> = self.pending.drain(..=end).collect();
                line.pop();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Ok(Some(line));
            }
            if self.eof {
                return if self.pending.iter().all(u8::is_ascii_whitespace) {
                    Ok(None)
                } else {
                    // Half a line and then nothing: the daemon went away mid-answer.
                    Err(self.dropped())
                };
            }
            self.scanned = self.pending.len();
            if interrupt::take() {
                return Err(ClientError::Interrupted);
            }
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(ClientError::TimedOut {
                    socket: self.target.socket.clone(),
                    timeout: self.target.timeout,
                });
            }
            self.check_silence()?;
            match self.stream.read(&mut chunk) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.heard = Instant::now();
                    self.pending.extend_from_slice(&chunk[..n]);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                // ECONNRESET and friends: the daemon is gone.
                Err(_) => self.eof = true,
            }
        }
    }
}

/// Connects without blocking on a listener whose backlog is full: retried until `timeout`.
fn connect_within(socket: &Path, timeout: Duration) -> Result<UnixStream, nix::errno::Errno> {
    let addr = UnixAddr::new(socket)?;
    let deadline = Instant::now() + timeout;
    loop {
        let fd: OwnedFd = socket_fd()?;
        match connect(std::os::fd::AsRawFd::as_raw_fd(&fd), &addr) {
            Ok(()) => {
                let stream = UnixStream::from(fd);
                stream
                    .set_nonblocking(false)
                    .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)))?;
                return Ok(stream);
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::EAGAIN) if Instant::now() < deadline => {
                if interrupt::take() {
                    return Err(nix::errno::Errno::EINTR);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
}

fn socket_fd() -> Result<OwnedFd, nix::errno::Errno> {
    socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answer lines arrive split across reads and between blank lines; each comes back whole.
    #[test]
    fn lines_are_reassembled_across_reads() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        ours.set_read_timeout(Some(POLL_INTERVAL)).unwrap();
        let mut conn = Connection {
            stream: ours,
            target: Target::new(Path::new("test.sock")),
            wait: Wait::Answer,
            pending: Vec::new(),
            scanned: 0,
            eof: false,
            heard: Instant::now(),
            deadline: None,
        };
        let line = serde_json::to_string(&Response::ShutDown).unwrap();
        let long = format!("{}{line}", " ".repeat(100_000));
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            let text = format!("\n{long}\n{line}\n");
            for piece in text.as_bytes().chunks(5000) {
                theirs.write_all(piece).unwrap();
            }
        });
        assert!(matches!(conn.recv(), Ok(Some(Response::ShutDown))));
        assert!(matches!(conn.recv(), Ok(Some(Response::ShutDown))));
        writer.join().unwrap();
        assert!(matches!(conn.recv(), Ok(None)));
    }
}
