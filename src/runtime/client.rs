//! One control-socket connection: its buffers, request framing and the limits that keep a
//! slow or hostile client from affecting anyone else.
//!
//! Every connection is non-blocking. Input is split into lines here; a line over
//! [`MAX_REQUEST_BYTES`] is refused. Output is queued and written as the peer reads it; a
//! peer that lets more than [`MAX_OUTPUT_BYTES`] pile up is dropped rather than buffered
//! forever.

use std::collections::VecDeque;
use std::io::{self, Read as _, Write as _};
use std::os::unix::net::UnixStream;

use calloop::RegistrationToken;

use crate::protocol::{
    ErrorKind, ErrorReply, MAX_REQUEST_BYTES, PROTOCOL_VERSION, Request, RequestLine,
};

/// Queued output beyond this drops the client (a `logs -f` reader that stopped reading).
pub const MAX_OUTPUT_BYTES: usize = 8 * 1024 * 1024;

pub type ClientId = u64;

#[derive(Debug)]
pub struct Client {
    /// A second descriptor of the connection, for writing and for the write-ready source.
    pub stream: UnixStream,
    /// Input not yet taken as lines. A deque, so taking a line off the front costs that
    /// line, not a shift of everything behind it (a client sending many tiny lines at once
    /// would otherwise make each one cost the whole buffer).
    pub inbuf: VecDeque<u8>,
    pub outbuf: Vec<u8>,
    pub read_token: Option<RegistrationToken>,
    pub write_token: Option<RegistrationToken>,
    pub timer: Option<RegistrationToken>,
    /// Whether a whole request line ever arrived.
    pub got_request: bool,
    /// A reply is pending (start/stop/restart/shutdown): later requests wait their turn so
    /// replies keep the order of requests.
    pub busy: bool,
    /// Following logs: the connection only receives from now on.
    pub following: bool,
    /// The peer closed its sending side: close once every reply is out.
    pub read_closed: bool,
    /// A request was refused as too large: close once the error is out.
    pub closing: bool,
}

/// What the next complete line of input is, if any.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Request(Vec<u8>),
    TooLarge,
}

impl Client {
    pub fn new(stream: UnixStream) -> Self {
        Client {
            stream,
            inbuf: VecDeque::new(),
            outbuf: Vec::new(),
            read_token: None,
            write_token: None,
            timer: None,
            got_request: false,
            busy: false,
            following: false,
            read_closed: false,
            closing: false,
        }
    }

    /// Reads what is available. Returns `Ok(true)` at end of input. Stops after a request's
    /// worth of bytes per call (the source is level-triggered and fires again), so one
    /// client cannot hold the loop or grow its buffer much between two checks.
    pub fn fill(&mut self, reader: &UnixStream) -> io::Result<bool> {
        let mut buf = [0u8; 16 * 1024];
        let mut taken = 0;
        loop {
            if taken > MAX_REQUEST_BYTES {
                return Ok(false);
            }
            match (&*reader).read(&mut buf) {
                Ok(0) => return Ok(true),
                Ok(n) => {
                    self.inbuf.extend(&buf[..n]);
                    taken += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes the next whole line out of the input buffer.
    pub fn next_line(&mut self) -> Option<Line> {
        next_line(&mut self.inbuf)
    }

    /// Whether a request has been started but not finished.
    pub fn has_partial_line(&self) -> bool {
        !self.inbuf.is_empty() && !self.inbuf.contains(&b'\n')
    }

    /// Queues bytes; `false` when the client has let too much pile up.
    pub fn queue(&mut self, bytes: &[u8]) -> bool {
        self.outbuf.extend_from_slice(bytes);
        self.outbuf.len() <= MAX_OUTPUT_BYTES
    }

    /// Writes as much queued output as the socket takes. `Ok(true)`: all written.
    pub fn flush(&mut self) -> io::Result<bool> {
        let mut written = 0;
        let result = loop {
            if written == self.outbuf.len() {
                break Ok(true);
            }
            match (&self.stream).write(&self.outbuf[written..]) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        self.outbuf.drain(..written);
        if self.outbuf.is_empty() && self.outbuf.capacity() > 64 * 1024 {
            self.outbuf = Vec::new();
        }
        result
    }
}

/// Splits the first line (without its `\n` or `\r\n`) off `buf`.
pub fn next_line(buf: &mut VecDeque<u8>) -> Option<Line> {
    match buf.iter().position(|&b| b == b'\n') {
        Some(end) if end > MAX_REQUEST_BYTES => Some(Line::TooLarge),
        Some(end) => {
            let mut line: Vec<u8> = buf.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            Some(Line::Request(line))
        }
        None if buf.len() > MAX_REQUEST_BYTES => Some(Line::TooLarge),
        None => None,
    }
}

/// Decodes one request line. The version is checked before the command so that a newer
/// client's unknown command is reported as a version mismatch.
pub fn parse_request(line: &[u8]) -> Result<Request, ErrorReply> {
    let bad = |message: String| ErrorReply::new(ErrorKind::BadRequest, message);
    let value: serde_json::Value =
        serde_json::from_slice(line).map_err(|e| bad(format!("malformed JSON: {e}")))?;
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(PROTOCOL_VERSION) => {}
        Some(v) => {
            return Err(bad(format!(
                "protocol version {v} is not supported (this daemon speaks version {PROTOCOL_VERSION})"
            )));
        }
        None => return Err(bad("missing protocol `version`".into())),
    }
    serde_json::from_value::<RequestLine>(value)
        .map(|r| r.request)
        .map_err(|e| bad(format!("bad request: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_and_limited() {
        let mut buf = VecDeque::from(b"a\r\nbc\nrest".to_vec());
        assert_eq!(next_line(&mut buf), Some(Line::Request(b"a".to_vec())));
        assert_eq!(next_line(&mut buf), Some(Line::Request(b"bc".to_vec())));
        assert_eq!(next_line(&mut buf), None);
        assert_eq!(buf, b"rest");
        let mut big = VecDeque::from(vec![b'x'; MAX_REQUEST_BYTES + 1]);
        assert_eq!(next_line(&mut big), Some(Line::TooLarge));
        let mut ok = VecDeque::from(vec![b'x'; MAX_REQUEST_BYTES]);
        ok.push_back(b'\n');
        assert!(
            matches!(next_line(&mut ok), Some(Line::Request(l)) if l.len() == MAX_REQUEST_BYTES)
        );
    }

    #[test]
    fn requests_are_validated() {
        assert_eq!(
            parse_request(br#"{"version":1,"command":"status"}"#),
            Ok(Request::Status { names: vec![] })
        );
        for bad in [
            &b"{nope"[..],
            br#"{"version":1,"command":"explode"}"#,
            br#"{"version":2,"command":"status"}"#,
            br#"{"command":"status"}"#,
            br#"{"version":1,"command":"start"}"#,
        ] {
            let err = parse_request(bad).unwrap_err();
            assert_eq!(err.kind, ErrorKind::BadRequest);
        }
    }
}
