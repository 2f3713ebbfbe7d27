//! One conversation with the daemon: connect to its socket, send a request line, read
//! answer lines.
//!
//! Commands set no timeout on answers: `start` and `stop` are answered only once they are done
//! (only tab completion, which must not hang the prompt, sets a [`Connection::set_deadline`]).
//! Reads wake up a few times a second only to notice [`super::interrupt`] (Ctrl-C in the
//! shell), so an interrupted wait returns promptly without killing the shell.

use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::protocol::{Request, RequestLine, Response};

use super::interrupt;

/// How often a blocked read looks at the interrupt flag.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Why a conversation with the daemon failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answers on the socket.
    #[error(
        "cannot reach the daemon at {}: {reason}\n\
         hint: start it with `taskmaster run CONFIG`, or name its socket with --socket PATH \
         (or TASKMASTER_SOCKET)",
        socket.display()
    )]
    Unreachable { socket: PathBuf, reason: String },
    /// The connection broke before the whole answer arrived.
    #[error("the daemon at {} closed the connection before answering in full", socket.display())]
    Dropped { socket: PathBuf },
    /// The answer was not a protocol line, or not the kind expected.
    #[error("unexpected answer from the daemon at {}: {detail}", socket.display())]
    Protocol { socket: PathBuf, detail: String },
    /// No answer before the deadline set with [`Connection::set_deadline`].
    #[error("the daemon at {} did not answer in time", socket.display())]
    TimedOut { socket: PathBuf },
    /// Ctrl-C while waiting for the answer.
    #[error("interrupted; the daemon carries on with the request (see `status`)")]
    Interrupted,
}

impl ClientError {
    /// The contract's exit status for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Unreachable { .. }
            | ClientError::Dropped { .. }
            | ClientError::TimedOut { .. } => crate::cli::exit::UNREACHABLE,
            ClientError::Protocol { .. } => crate::cli::exit::FAILED,
            // 128 + SIGINT, as shells report a command ended by Ctrl-C.
            ClientError::Interrupted => 130,
        }
    }
}

/// An open connection to the daemon.
pub struct Connection {
    stream: UnixStream,
    socket: PathBuf,
    /// Bytes read but not yet returned as a line.
    pending: Vec<u8>,
    /// How many leading bytes of `pending` are known to hold no newline, so a long answer
    /// line (`status` of thousands of processes) is scanned once, not once per read.
    scanned: usize,
    eof: bool,
    /// Only for best-effort requests (tab completion); commands wait as long as it takes.
    deadline: Option<Instant>,
}

impl Connection {
    /// Connects to the daemon's socket.
    pub fn connect(socket: &Path) -> Result<Connection, ClientError> {
        let unreachable = |reason: String| ClientError::Unreachable {
            socket: socket.to_owned(),
            reason,
        };
        let stream = UnixStream::connect(socket).map_err(|e| {
            unreachable(match e.kind() {
                io::ErrorKind::NotFound => "no such socket file".to_owned(),
                io::ErrorKind::ConnectionRefused => {
                    "connection refused (no daemon listens there; a stale socket file?)".to_owned()
                }
                _ => e.to_string(),
            })
        })?;
        stream
            .set_read_timeout(Some(POLL_INTERVAL))
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(Connection {
            stream,
            socket: socket.to_owned(),
            pending: Vec::new(),
            scanned: 0,
            eof: false,
            deadline: None,
        })
    }

    /// Gives up reading answers after `deadline`.
    pub fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = Some(deadline);
    }

    /// The socket this connection talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Sends one request line.
    pub fn send(&mut self, request: Request) -> Result<(), ClientError> {
        let mut line =
            serde_json::to_vec(&RequestLine::new(request)).map_err(|e| ClientError::Protocol {
                socket: self.socket.clone(),
                detail: format!("cannot encode the request: {e}"),
            })?;
        line.push(b'\n');
        self.write_all(&line).map_err(|_| self.dropped())
    }

    /// Writes with MSG_NOSIGNAL: one-shot commands run with SIGPIPE's default action (so
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
    pub fn recv(&mut self) -> Result<Option<Response>, ClientError> {
        let Some(line) = self.read_line()? else {
            return Ok(None);
        };
        serde_json::from_slice(&line).map_err(|e| ClientError::Protocol {
            socket: self.socket.clone(),
            detail: format!(
                "not a protocol line ({e}): {}",
                String::from_utf8_lossy(&line)
            ),
        })
    }

    /// The next answer, where the connection ending first is an error.
    pub fn expect(&mut self) -> Result<Response, ClientError> {
        self.recv()?.ok_or_else(|| self.dropped())
    }

    /// Sends a request and reads its one answer.
    pub fn call(socket: &Path, request: Request) -> Result<Response, ClientError> {
        let mut conn = Connection::connect(socket)?;
        conn.send(request)?;
        conn.expect()
    }

    fn dropped(&self) -> ClientError {
        ClientError::Dropped {
            socket: self.socket.clone(),
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
                    socket: self.socket.clone(),
                });
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => self.eof = true,
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
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
            socket: PathBuf::from("test.sock"),
            pending: Vec::new(),
            scanned: 0,
            eof: false,
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
