//! An `http` attempt: connect (as [`super::tcp`]), send `GET PATH HTTP/1.1` with `Host:` and
//! `Connection: close`, and read the status line: 200 to 399 passes. The body is never read
//! and redirects are not followed.

use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::rc::Rc;

use nix::errno::Errno;

use super::tcp::{connect_result, connect_to};
use super::{Interest, Step, errno_text};
use crate::plan::check::HttpTarget;

/// The status line is looked for in this many first bytes of the response.
pub(crate) const MAX_HEAD: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Connecting,
    Writing { sent: usize },
    Reading,
}

/// One http attempt in flight.
#[derive(Debug)]
pub(crate) struct HttpAttempt {
    addr: SocketAddr,
    request: Vec<u8>,
    socket: Option<Rc<OwnedFd>>,
    stage: Stage,
    head: Vec<u8>,
}

impl HttpAttempt {
    pub(crate) fn start(target: &HttpTarget) -> (Self, Step) {
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: taskmaster\r\nAccept: */*\r\n\
             Connection: close\r\n\r\n",
            target.path, target.host
        )
        .into_bytes();
        let mut attempt = HttpAttempt {
            addr: target.addr,
            request,
            socket: None,
            stage: Stage::Connecting,
            head: Vec::new(),
        };
        let step = match connect_to(target.addr) {
            Ok((fd, connected)) => {
                attempt.socket = Some(Rc::new(fd));
                if connected {
                    attempt.stage = Stage::Writing { sent: 0 };
                }
                Step::Wait(Interest::Write)
            }
            Err(e) => Step::Done(Err(attempt.connect_failure(e))),
        };
        (attempt, step)
    }

    pub(crate) fn socket(&self) -> Option<Rc<OwnedFd>> {
        self.socket.clone()
    }

    pub(crate) fn step(&mut self) -> Step {
        let step = self.advance();
        if matches!(step, Step::Done(_)) {
            self.socket = None;
        }
        step
    }

    fn advance(&mut self) -> Step {
        let Some(fd) = self.socket.clone() else {
            return Step::Done(Err("no request in progress".into()));
        };
        loop {
            match self.stage {
                Stage::Connecting => match connect_result(&fd) {
                    Ok(()) => self.stage = Stage::Writing { sent: 0 },
                    Err(e) => return Step::Done(Err(self.connect_failure(e))),
                },
                Stage::Writing { sent } => match nix::unistd::write(&*fd, &self.request[sent..]) {
                    Ok(n) if sent + n >= self.request.len() => self.stage = Stage::Reading,
                    Ok(n) => self.stage = Stage::Writing { sent: sent + n },
                    Err(Errno::EAGAIN) => return Step::Wait(Interest::Write),
                    Err(Errno::EINTR) => {}
                    Err(e) => return Step::Done(Err(format!("send: {}", errno_text(e)))),
                },
                Stage::Reading => {
                    let mut buf = [0u8; 1024];
                    let room = MAX_HEAD.saturating_sub(self.head.len()).min(buf.len());
                    match nix::unistd::read(&*fd, &mut buf[..room]) {
                        Ok(0) => {
                            return Step::Done(status(&self.head).unwrap_or_else(|| {
                                Err("connection closed before a status line".into())
                            }));
                        }
                        Ok(n) => {
                            self.head.extend_from_slice(&buf[..n]);
                            if let Some(result) = status(&self.head) {
                                return Step::Done(result);
                            }
                            if self.head.len() >= MAX_HEAD {
                                return Step::Done(Err(format!(
                                    "no HTTP status line in the first {MAX_HEAD} bytes"
                                )));
                            }
                        }
                        Err(Errno::EAGAIN) => return Step::Wait(Interest::Read),
                        Err(Errno::EINTR) => {}
                        Err(e) => return Step::Done(Err(format!("receive: {}", errno_text(e)))),
                    }
                }
            }
        }
    }

    fn connect_failure(&self, e: Errno) -> String {
        format!("connect {}: {}", self.addr, errno_text(e))
    }
}

/// The verdict of a response head once its first line is complete: `None` until then.
fn status(head: &[u8]) -> Option<Result<(), String>> {
    let end = head.iter().position(|&b| b == b'\n')?;
    let line = String::from_utf8_lossy(&head[..end]);
    let mut words = line.trim_end().split(' ');
    let version = words.next().unwrap_or("");
    let code = words.next().and_then(|c| c.parse::<u16>().ok());
    Some(match code {
        Some(code) if version.starts_with("HTTP/") => {
            if (200..400).contains(&code) {
                Ok(())
            } else {
                Err(format!("HTTP {code}"))
            }
        }
        _ => Err("not an HTTP response".into()),
    })
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};
    use std::net::TcpListener;
    use std::time::Duration;

    use super::*;
    use crate::runtime::checks::{NetAttempt, testing};

    /// A one-shot server: answers one request with `reply`, returns what it received.
    fn serve(reply: &'static [u8]) -> (SocketAddr, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 512];
            while !request.ends_with(b"\r\n\r\n") {
                let n = conn.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            conn.write_all(reply).unwrap();
            String::from_utf8(request).unwrap()
        });
        (addr, server)
    }

    fn target(addr: SocketAddr, path: &str) -> HttpTarget {
        HttpTarget {
            url: format!("http://{addr}{path}"),
            addr,
            host: addr.to_string(),
            path: path.into(),
        }
    }

    fn attempt(t: &HttpTarget) -> Result<(), String> {
        let (a, step) = HttpAttempt::start(t);
        testing::run(NetAttempt::Http(a), step, Duration::from_secs(5))
    }

    #[test]
    fn a_2xx_passes_and_the_request_is_minimal() {
        let (addr, server) = serve(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
        assert_eq!(attempt(&target(addr, "/healthz?x=1")), Ok(()));
        let request = server.join().unwrap();
        assert!(
            request.starts_with("GET /healthz?x=1 HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(request.contains(&format!("\r\nHost: {addr}\r\n")));
        assert!(request.contains("\r\nConnection: close\r\n"));
    }

    #[test]
    fn a_redirect_passes_and_an_error_fails_with_its_code() {
        let (addr, server) = serve(b"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n");
        assert_eq!(attempt(&target(addr, "/")), Ok(()));
        server.join().unwrap();
        let (addr, server) = serve(b"HTTP/1.1 503 Service Unavailable\r\n\r\n");
        assert_eq!(attempt(&target(addr, "/")), Err("HTTP 503".into()));
        server.join().unwrap();
    }

    #[test]
    fn garbage_and_silence_fail() {
        let (addr, server) = serve(b"SSH-2.0-OpenSSH\r\n");
        assert_eq!(
            attempt(&target(addr, "/")),
            Err("not an HTTP response".into())
        );
        server.join().unwrap();
        let (addr, server) = serve(b"");
        assert_eq!(
            attempt(&target(addr, "/")),
            Err("connection closed before a status line".into())
        );
        server.join().unwrap();
    }

    #[test]
    fn a_refused_connection_fails_with_the_address() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        assert_eq!(
            attempt(&target(addr, "/")),
            Err(format!("connect {addr}: connection refused"))
        );
    }

    #[test]
    fn status_lines() {
        assert_eq!(status(b"HTTP/1.1 204 No Content\r\n"), Some(Ok(())));
        assert_eq!(status(b"HTTP/1.1 399 x\n"), Some(Ok(())));
        assert_eq!(
            status(b"HTTP/1.1 400 Bad\r\n"),
            Some(Err("HTTP 400".into()))
        );
        assert_eq!(status(b"HTTP/1.1 200"), None, "not a whole line yet");
        assert_eq!(
            status(b"HTTP/1.1 abc\r\n"),
            Some(Err("not an HTTP response".into()))
        );
    }
}
