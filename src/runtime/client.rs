//! One control-socket connection: its buffers, request framing and the limits that keep a
//! slow or hostile client from affecting anyone else.
//!
//! Every connection is non-blocking. Input is split into lines here; a line over
//! [`MAX_REQUEST_BYTES`] (its `\n` or `\r\n` aside) is refused. Output is queued and written
//! as the peer reads it, at most [`MAX_UNSENT_BYTES`] of it (plus the one reply that crossed
//! the mark): the server stops taking a connection's requests, or feeding its `logs` dump,
//! while that much waits, and a `logs -f` reader that falls further behind has lines
//! *skipped*, not queued: it gets `[taskmaster: N bytes skipped]` once it catches up, and is
//! never dropped for being slow. So 250 readers that never read cost at most 250 MiB.

use std::collections::VecDeque;
use std::io::{self, Read as _, Write as _};
use std::os::unix::net::UnixStream;

use calloop::RegistrationToken;

use super::supervisor::{ProcId, Shown};
use crate::protocol::{
    ErrorKind, ErrorReply, MAX_REQUEST_BYTES, MAX_UNSENT_BYTES, PROTOCOL_VERSION, Request,
    RequestLine,
};

pub(crate) type ClientId = u64;

/// A follower that had lines skipped gets lines again once its unsent output is below this.
const RESUME_BELOW: usize = MAX_UNSENT_BYTES / 2;

/// Which limit a connection's timer enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimerKind {
    /// A request has been started, or none ever arrived: 5 s to finish it.
    Request,
    /// Nothing in flight: closed after 60 s.
    Idle,
}

/// Where a connection is in its request/reply life. The peer's half-close is apart
/// ([`Client::read_closed`]): it can come in any of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnState {
    /// No whole request line has arrived yet: it has [`crate::protocol::REQUEST_TIMEOUT`]
    /// to send one.
    New,
    /// Between requests: the next line is taken.
    Idle,
    /// A reply is pending (`start`, `stop`, `restart`, `shutdown`, `reload`, `diff`): later
    /// lines wait their turn, so replies keep the order of requests.
    Waiting,
    /// After `logs -f`: the connection only receives; its input is ignored.
    Following,
    /// A request was refused as too large: closed once the error is out.
    Refused,
}

/// A `logs` answer still being sent: processes whose output is yet to go out, and the rest
/// of the one being sent. Fed as the peer reads, so `logs all` of a thousand processes never
/// sits in memory at once.
#[derive(Debug)]
pub(crate) struct LogDump {
    pub shown: Shown,
    /// Every chunk is labelled with its process's name (`logs all`).
    pub label_all: bool,
    pub lines: Option<usize>,
    pub follow: bool,
    /// Processes not yet snapshotted, in order.
    pub todo: VecDeque<ProcId>,
    /// The process being sent: its id, label and unsent bytes. Its live output is appended
    /// here (up to [`MAX_UNSENT_BYTES`], then counted as skipped), so it comes out in order.
    pub current: Option<(ProcId, Option<String>, Vec<u8>)>,
}
#[derive(Debug)]
pub(crate) struct Client {
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
    pub timer_kind: Option<TimerKind>,
    /// Followed output left out since the peer fell [`MAX_UNSENT_BYTES`] behind.
    pub skipped: u64,
    /// A `logs` answer being sent.
    pub dump: Option<LogDump>,
    /// Inside this connection's write-ready callback: queue, don't register another one.
    pub writing: bool,
    pub state: ConnState,
    /// The peer closed its sending side: close once every reply is out.
    pub read_closed: bool,
}

/// What the next complete line of input is, if any.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    Request(Vec<u8>),
    TooLarge,
}

impl Client {
    pub(crate) fn new(stream: UnixStream) -> Self {
        Client {
            stream,
            inbuf: VecDeque::new(),
            outbuf: Vec::new(),
            read_token: None,
            write_token: None,
            timer: None,
            timer_kind: None,
            skipped: 0,
            dump: None,
            writing: false,
            state: ConnState::New,
            read_closed: false,
        }
    }

    /// Whether the next request line may be handled now: none is being answered, no `logs`
    /// answer is being sent, and not too much output waits.
    pub(crate) fn takes_requests(&self) -> bool {
        matches!(self.state, ConnState::New | ConnState::Idle)
            && self.dump.is_none()
            && !self.backlogged()
    }

    /// A request's reply will come later: hold the next lines until it is sent.
    pub(crate) fn await_reply(&mut self) {
        self.state = ConnState::Waiting;
    }

    /// The pending reply went out: take requests again.
    pub(crate) fn reply_sent(&mut self) {
        if self.state == ConnState::Waiting {
            self.state = ConnState::Idle;
        }
    }

    /// Reads what is available. Returns `Ok(true)` at end of input. Stops after a request's
    /// worth of bytes per call (the source is level-triggered and fires again), so one
    /// client cannot hold the loop or grow its buffer much between two checks.
    pub(crate) fn fill(&mut self, reader: &UnixStream) -> io::Result<bool> {
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
    pub(crate) fn next_line(&mut self) -> Option<Line> {
        next_line(&mut self.inbuf)
    }

    /// Whether a request has been started but not finished.
    pub(crate) fn has_partial_line(&self) -> bool {
        !self.inbuf.is_empty() && !self.inbuf.contains(&b'\n')
    }

    /// Whether [`MAX_UNSENT_BYTES`] wait unsent: take no more requests or dump for now.
    pub(crate) fn backlogged(&self) -> bool {
        self.outbuf.len() >= MAX_UNSENT_BYTES
    }

    /// Queues a reply line.
    pub(crate) fn queue(&mut self, bytes: &[u8]) {
        let needed = self.outbuf.len() + bytes.len();
        if needed > self.outbuf.capacity() {
            // Double as usual, but not past the limit: 250 stalled readers must cost 250 MiB,
            // not twice that in spare capacity.
            let target = (self.outbuf.capacity() * 2).clamp(needed, needed.max(MAX_UNSENT_BYTES));
            self.outbuf.reserve_exact(target - self.outbuf.len());
        }
        self.outbuf.extend_from_slice(bytes);
    }

    /// Queues a followed log line carrying `text_len` bytes of output, unless the peer is too
    /// far behind: then the output is counted as skipped. A pending skip notice goes first.
    pub(crate) fn queue_followed(&mut self, line: &[u8], text_len: usize) {
        // Once skipping, go on until the reader has caught up by half the limit: one notice
        // per gap, not one per line that happens to fit.
        let limit = if self.skipped > 0 {
            RESUME_BELOW
        } else {
            MAX_UNSENT_BYTES
        };
        if self.outbuf.len() + line.len() > limit {
            self.skipped += text_len as u64;
            return;
        }
        self.queue_skip_notice();
        if self.skipped == 0 {
            self.queue(line);
        } else {
            self.skipped += text_len as u64;
        }
    }

    /// Queues `[taskmaster: N bytes skipped]` once there is room for it.
    pub(crate) fn queue_skip_notice(&mut self) {
        if self.skipped == 0 {
            return;
        }
        let notice = skip_notice(self.skipped);
        if self.outbuf.len() + notice.len() <= RESUME_BELOW {
            self.queue(&notice);
            self.skipped = 0;
        }
    }

    /// Writes as much queued output as the socket takes. `Ok(true)`: all written.
    pub(crate) fn flush(&mut self) -> io::Result<bool> {
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
        if written > 0 {
            self.queue_skip_notice();
        }
        result
    }
}

/// The protocol line telling a follower how much output it missed.
pub(crate) fn skip_notice(bytes: u64) -> Vec<u8> {
    let notice = crate::protocol::Response::Log {
        process: None,
        text: format!("[taskmaster: {bytes} bytes skipped]\n"),
    };
    let mut line = serde_json::to_vec(&notice).unwrap_or_default();
    line.push(b'\n');
    line
}

/// Splits the first line (without its `\n` or `\r\n`) off `buf`. The limit is on the line
/// itself: `\r\n` may follow [`MAX_REQUEST_BYTES`] bytes as well as `\n`.
pub(crate) fn next_line(buf: &mut VecDeque<u8>) -> Option<Line> {
    match buf.iter().position(|&b| b == b'\n') {
        Some(end) if end > MAX_REQUEST_BYTES + 1 => Some(Line::TooLarge),
        Some(end) if end == MAX_REQUEST_BYTES + 1 && buf[MAX_REQUEST_BYTES] != b'\r' => {
            Some(Line::TooLarge)
        }
        Some(end) => {
            let mut line: Vec<u8> = buf.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            Some(Line::Request(line))
        }
        // A `\r` may still be followed by its `\n`.
        None if buf.len() > MAX_REQUEST_BYTES + 1 => Some(Line::TooLarge),
        None if buf.len() == MAX_REQUEST_BYTES + 1 && buf[MAX_REQUEST_BYTES] != b'\r' => {
            Some(Line::TooLarge)
        }
        None => None,
    }
}

/// Decodes one request line. The version is checked before the command so that a newer
/// client's unknown command is reported as a version mismatch.
pub(crate) fn parse_request(line: &[u8]) -> Result<Request, ErrorReply> {
    let bad = |message: String| ErrorReply::new(ErrorKind::BadRequest, message);
    let value: serde_json::Value =
        serde_json::from_slice(line).map_err(|e| bad(format!("malformed JSON: {e}")))?;
    if !value.is_object() {
        return Err(bad(format!(
            "a request must be a JSON object, like {{\"version\":{PROTOCOL_VERSION},\"command\":\"status\"}}"
        )));
    }
    match value.get("version") {
        None => return Err(bad("missing protocol `version`".into())),
        Some(v) => match v.as_u64() {
            Some(v) if v == u64::from(PROTOCOL_VERSION) => {}
            Some(v) => {
                return Err(bad(format!(
                    "protocol version {v} is not supported (this daemon speaks version {PROTOCOL_VERSION})"
                )));
            }
            None => {
                return Err(bad(format!(
                    "protocol `version` must be an integer (like {PROTOCOL_VERSION}), not {v}"
                )));
            }
        },
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
        // The same line ending in \r\n, first before its \n arrived.
        let mut crlf = VecDeque::from(vec![b'x'; MAX_REQUEST_BYTES]);
        crlf.push_back(b'\r');
        assert_eq!(next_line(&mut crlf), None);
        crlf.push_back(b'\n');
        assert!(
            matches!(next_line(&mut crlf), Some(Line::Request(l)) if l.len() == MAX_REQUEST_BYTES)
        );
        let mut over = VecDeque::from(vec![b'x'; MAX_REQUEST_BYTES + 1]);
        over.push_back(b'\r');
        assert_eq!(next_line(&mut over), Some(Line::TooLarge));
    }

    #[test]
    fn a_stalled_follower_is_skipped_not_buffered() {
        let (ours, _theirs) = UnixStream::pair().unwrap();
        let mut c = Client::new(ours);
        let line = vec![b'y'; 1000];
        for _ in 0..2000 {
            c.queue_followed(&line, 900);
        }
        assert!(c.outbuf.len() <= MAX_UNSENT_BYTES);
        assert!(c.outbuf.capacity() <= MAX_UNSENT_BYTES);
        let kept = c.outbuf.len() / 1000;
        assert_eq!(c.skipped, (2000 - kept as u64) * 900);
        // Not before the reader caught up by half the limit.
        let before = c.skipped;
        c.outbuf.truncate(MAX_UNSENT_BYTES - 2000);
        c.queue_followed(&line, 900);
        assert_eq!(c.skipped, before + 900);
        // Room again: the notice goes first, then lines flow.
        c.outbuf.clear();
        let skipped = c.skipped;
        c.queue_followed(&line, 900);
        let text = String::from_utf8_lossy(&c.outbuf);
        assert!(
            text.starts_with(&format!(
                r#"{{"type":"log","process":null,"text":"[taskmaster: {skipped} bytes skipped]\n"}}"#
            )),
            "{text}"
        );
        assert!(text.ends_with("yyy"));
        assert_eq!(c.skipped, 0);
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
            br#"{"version":"1","command":"status"}"#,
        ] {
            let err = parse_request(bad).unwrap_err();
            assert_eq!(err.kind, ErrorKind::BadRequest);
        }
        let err = parse_request(br#"{"version":"1","command":"status"}"#).unwrap_err();
        assert!(
            err.message.contains("must be an integer"),
            "{}",
            err.message
        );
    }
}
