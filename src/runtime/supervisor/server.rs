//! The daemon side of the control socket: accepting peers, reading request lines, and
//! answering each with one response line (see [`crate::protocol`]).
//!
//! Behaviour where the protocol leaves room:
//! - replies keep the order of requests: while a `start`/`stop`/`restart`/`shutdown` reply
//!   is pending, or [`crate::protocol::MAX_UNSENT_BYTES`] of replies wait unsent, later lines of the same
//!   connection wait;
//! - at most [`MAX_CONNECTIONS`] connections: the next one gets a `busy` error line and is
//!   closed at once (not logged, so a flood cannot fill the event log);
//! - one timer per connection, armed only while nothing is in flight: 5 s while a request
//!   is in progress (or none ever came), 60 s once it is idle between requests. A pending
//!   reply, a `logs` answer being sent and a `logs -f` disarm it;
//! - `logs` answers are streamed as the peer reads ([`super::logdump`]);
//! - a peer that half-closes its end still gets its pending replies, then the connection
//!   closes; a last line without `\n` before end of input counts as a request;
//! - after `logs` with `follow`, the connection only receives; its input is ignored and its
//!   end of input (or a write error) ends the stream.

use std::collections::VecDeque;
use std::io;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use calloop::generic::Generic;
use calloop::timer::{TimeoutAction, Timer};
use calloop::{Interest, Mode, PostAction};

use super::reload::Job;
use super::{Op, Shown, Supervisor};
use crate::protocol::{
    Control, ErrorKind, ErrorReply, IDLE_TIMEOUT, MAX_CONNECTIONS, REQUEST_TIMEOUT, Request,
    Response,
};
use crate::runtime::client::{Client, ClientId, ConnState, Line, TimerKind, parse_request};
use crate::runtime::machine::Event;

/// Input a client may queue while a reply is pending, before it is dropped.
const MAX_QUEUED_INPUT: usize = 16 * crate::protocol::MAX_REQUEST_BYTES;

impl Supervisor {
    /// Starts accepting connections on `listener` (already bound and non-blocking).
    pub(crate) fn listen(&mut self, listener: UnixListener) -> io::Result<()> {
        let token = self
            .handle
            .insert_source(
                Generic::new(listener, Interest::READ, Mode::Level),
                |_, listener, sup: &mut Supervisor| Ok(sup.accept_ready(listener)),
            )
            .map_err(|e| io::Error::other(e.error))?;
        self.listener = Some(token);
        Ok(())
    }

    fn accept_ready(&mut self, listener: &UnixListener) -> PostAction {
        loop {
            match listener.accept() {
                Ok((stream, _)) if self.conns.clients.len() >= MAX_CONNECTIONS => {
                    refuse_busy(&stream);
                }
                Ok((stream, _)) => self.add_client(stream),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return PostAction::Continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Out of descriptors: pause accepting for a moment instead of spinning on
                    // a listener that stays readable.
                    self.log
                        .log(format_args!("accept failed: {e}; pausing for 1 s"));
                    if let Some(token) = self.listener {
                        let resumed = self.handle.insert_source(
                            Timer::from_duration(Duration::from_secs(1)),
                            move |_, (), sup: &mut Supervisor| {
                                let _ = sup.handle.enable(&token);
                                TimeoutAction::Drop
                            },
                        );
                        if resumed.is_ok() {
                            return PostAction::Disable;
                        }
                    }
                    return PostAction::Continue;
                }
            }
        }
    }

    pub(super) fn add_client(&mut self, stream: UnixStream) {
        match crate::runtime::socket::peer_allowed(&stream) {
            Ok(true) => {}
            Ok(false) => {
                self.log
                    .log(format_args!("refused a connection from another user"));
                return;
            }
            Err(e) => {
                self.log.log(format_args!(
                    "refused a connection: cannot check its user: {e}"
                ));
                return;
            }
        }
        let writer = match stream
            .set_nonblocking(true)
            .and_then(|()| stream.try_clone())
        {
            Ok(w) => w,
            Err(e) => {
                self.log
                    .log(format_args!("cannot set up a connection: {e}"));
                return;
            }
        };
        let cid = self.conns.next_id;
        self.conns.next_id += 1;
        let read = self.handle.insert_source(
            Generic::new(stream, Interest::READ, Mode::Level),
            move |_, stream, sup: &mut Supervisor| Ok(sup.client_readable(cid, stream)),
        );
        let mut client = Client::new(writer);
        match read {
            Ok(token) => client.read_token = Some(token),
            Err(e) => {
                self.log
                    .log(format_args!("cannot watch a connection: {}", e.error));
                return;
            }
        }
        self.conns.clients.insert(cid, client);
        self.update_client_timer(cid);
    }

    fn client_readable(&mut self, cid: ClientId, stream: &UnixStream) -> PostAction {
        let Some(client) = self.conns.clients.get_mut(&cid) else {
            return PostAction::Remove;
        };
        // Held here so that nothing below removes this very source; handed back at the end.
        let token = client.read_token.take();
        let eof = match client.fill(stream) {
            Ok(eof) => eof,
            Err(e) => {
                self.drop_client(cid, &format!("read error: {e}"));
                return PostAction::Remove;
            }
        };
        if (client.state == ConnState::Waiting || client.backlogged())
            && client.inbuf.len() > MAX_QUEUED_INPUT
        {
            self.drop_client(cid, "too many requests queued behind a pending reply");
            return PostAction::Remove;
        }
        if client.state == ConnState::Following {
            client.inbuf.clear();
        } else if eof && client.has_partial_line() {
            client.inbuf.push_back(b'\n');
        }
        if eof {
            client.read_closed = true;
        }
        self.process_lines(cid);
        let Some(client) = self.conns.clients.get_mut(&cid) else {
            return PostAction::Remove;
        };
        if client.read_closed || client.state == ConnState::Refused {
            self.maybe_close(cid);
            return PostAction::Remove;
        }
        client.read_token = token;
        PostAction::Continue
    }

    /// Handles the complete request lines a client has sent, in order, until one leaves a
    /// reply pending.
    pub(super) fn process_lines(&mut self, cid: ClientId) {
        loop {
            let Some(client) = self.conns.clients.get_mut(&cid) else {
                return;
            };
            if !client.takes_requests() {
                break;
            }
            match client.next_line() {
                None => break,
                Some(Line::TooLarge) => {
                    client.inbuf = VecDeque::new();
                    client.state = ConnState::Refused;
                    self.send_error(
                        cid,
                        ErrorReply::new(
                            ErrorKind::TooLarge,
                            format!(
                                "request line over {} bytes; closing the connection",
                                crate::protocol::MAX_REQUEST_BYTES
                            ),
                        ),
                    );
                    break;
                }
                Some(Line::Request(line)) => {
                    client.state = ConnState::Idle;
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    // A request restarts the idle clock.
                    if let Some(token) = client.timer.take() {
                        client.timer_kind = None;
                        self.handle.remove(token);
                    }
                    match parse_request(&line) {
                        Ok(request) => self.handle_request(cid, request),
                        Err(e) => self.send_error(cid, e),
                    }
                }
            }
        }
        self.update_client_timer(cid);
        self.maybe_close(cid);
    }

    /// A pending reply completed: carry on with the client's next lines (from an idle
    /// callback, never from inside the request handling that completed it).
    pub(super) fn client_resume(&mut self, cid: ClientId) {
        self.handle.insert_idle(move |sup| sup.process_lines(cid));
    }

    pub(super) fn handle_request(&mut self, cid: ClientId, request: Request) {
        if self.shutdown.is_some()
            && !matches!(
                request,
                Request::Status { .. }
                    | Request::Names
                    | Request::Pid { .. }
                    | Request::Timings { .. }
                    | Request::Shutdown
                    | Request::Ping
            )
        {
            self.send_error(
                cid,
                ErrorReply::new(ErrorKind::ShuttingDown, "the daemon is shutting down"),
            );
            return;
        }
        match request {
            Request::Status { names } => {
                let ids = if names.is_empty() {
                    Ok(self.table.status_ids())
                } else {
                    self.table.status_targets(&names)
                };
                match ids {
                    Ok(ids) => {
                        let processes = self.table.status_rows(&ids);
                        self.send(cid, &Response::Status { processes });
                    }
                    Err(e) => self.send_error(cid, e),
                }
            }
            Request::Start {
                names,
                no_deps: false,
            } => self.control(cid, Control::Start, &names),
            Request::Start {
                names,
                no_deps: true,
            } => self.start_no_deps_request(cid, &names),
            Request::Wait { names, timeout_ms } => self.wait_request(cid, &names, timeout_ms),
            Request::Stop { names } => self.control(cid, Control::Stop, &names),
            Request::Restart { names } => self.control(cid, Control::Restart, &names),
            Request::Reload => self.queue_compile(Job::Reload { client: Some(cid) }),
            Request::Diff { config } => {
                let path = config.unwrap_or_else(|| self.config_path.clone());
                self.queue_compile(Job::Diff { client: cid, path });
            }
            Request::Shutdown => self.begin_shutdown(Some(cid)),
            Request::Logs {
                name,
                stderr,
                lines,
                follow,
                both,
            } => {
                let shown = match (both, stderr) {
                    (true, _) => Shown::Both,
                    (false, true) => Shown::Stderr,
                    (false, false) => Shown::Stdout,
                };
                self.logs(cid, &name, shown, lines, follow);
            }
            Request::Signal { signal, names } => self.signal_request(cid, &signal, &names),
            Request::Pid { names } => self.pid_request(cid, &names),
            Request::Timings { names } => self.timings_request(cid, &names),
            Request::Ping => self.send(cid, &Response::Pong),
            Request::Names => {
                let programs = self.table.programs.keys().cloned().collect();
                let processes = self
                    .table
                    .all_ids()
                    .iter()
                    .filter_map(|id| self.table.procs.get(id).map(|p| p.name.clone()))
                    .collect();
                self.send(
                    cid,
                    &Response::Names {
                        programs,
                        processes,
                    },
                );
            }
        }
    }

    /// `start`, `stop`, `restart`: resolve every name first (one unknown name changes
    /// nothing), act, and reply once every named process has settled.
    fn control(&mut self, cid: ClientId, verb: Control, names: &[String]) {
        if names.is_empty() {
            self.send_error(
                cid,
                ErrorReply::new(ErrorKind::BadRequest, format!("{verb}: no names given")),
            );
            return;
        }
        let ids = match self.table.resolve(names) {
            Ok(ids) => ids,
            Err(e) => return self.send_error(cid, e),
        };
        self.log
            .log(format_args!("request: {verb} {}", names.join(" ")));
        let (events, op): (&[Event], Op) = match verb {
            Control::Start => (&[Event::StartRequested], Op::Start),
            Control::Stop => (&[Event::StopRequested], Op::Stop),
            Control::Restart => (&[Event::StopRequested, Event::StartRequested], Op::Start),
        };
        if op == Op::Stop {
            // Dependents before what they depend on (see `deps`).
            self.stop_in_order(&ids);
        } else {
            for &id in &ids {
                for &event in events {
                    self.feed(id, event);
                }
            }
        }
        self.wait_for(cid, op, ids);
    }

    pub(super) fn send_error(&mut self, cid: ClientId, error: ErrorReply) {
        self.send(cid, &Response::Error(error));
    }

    /// Queues one response line and writes what the socket takes now.
    pub(super) fn send(&mut self, cid: ClientId, response: &Response) {
        if !self.conns.clients.contains_key(&cid) {
            return;
        }
        if let Some(line) = self.encode(response) {
            self.send_line(cid, &line);
        }
    }

    /// A response as one protocol line, `\n` included.
    pub(super) fn encode(&mut self, response: &Response) -> Option<Vec<u8>> {
        match serde_json::to_vec(response) {
            Ok(mut line) => {
                line.push(b'\n');
                Some(line)
            }
            Err(e) => {
                self.log.log(format_args!("cannot encode a response: {e}"));
                None
            }
        }
    }

    /// Queues an encoded response line (see [`Self::encode`]) and writes what the socket
    /// takes now.
    pub(super) fn send_line(&mut self, cid: ClientId, line: &[u8]) {
        let Some(client) = self.conns.clients.get_mut(&cid) else {
            return;
        };
        client.queue(line);
        self.flush_client(cid);
    }

    pub(super) fn flush_client(&mut self, cid: ClientId) {
        let Some(client) = self.conns.clients.get_mut(&cid) else {
            return;
        };
        if client.write_token.is_some() || client.writing {
            return; // the write-ready source will carry on
        }
        match client.flush() {
            Ok(true) => self.maybe_close(cid),
            Ok(false) => {
                let source = client.stream.try_clone().and_then(|s| {
                    self.handle
                        .insert_source(
                            Generic::new(s, Interest::WRITE, Mode::Level),
                            move |_, _, sup: &mut Supervisor| Ok(sup.client_writable(cid)),
                        )
                        .map_err(|e| io::Error::other(e.error))
                });
                match source {
                    Ok(token) => client.write_token = Some(token),
                    Err(e) => self.drop_client(cid, &format!("cannot wait to write: {e}")),
                }
            }
            Err(e) => self.drop_client(cid, &format!("write error: {e}")),
        }
    }

    fn client_writable(&mut self, cid: ClientId) -> PostAction {
        let Some(client) = self.conns.clients.get_mut(&cid) else {
            return PostAction::Remove;
        };
        let token = client.write_token.take();
        let was_backlogged = client.backlogged();
        if let Err(e) = client.flush() {
            self.drop_client(cid, &format!("write error: {e}"));
            return PostAction::Remove;
        }
        let relieved = was_backlogged && !client.backlogged();
        // Room for more of a `logs` answer; what it queues goes out on the next wake-up of
        // this very source, so nothing below may register a second one.
        client.writing = true;
        if relieved {
            // Room again for the requests held back (from an idle callback).
            self.client_resume(cid);
        }
        self.pump_dump(cid);
        let Some(client) = self.conns.clients.get_mut(&cid) else {
            return PostAction::Remove;
        };
        client.writing = false;
        if client.outbuf.is_empty() {
            self.maybe_close(cid);
            PostAction::Remove
        } else {
            client.write_token = token;
            PostAction::Continue
        }
    }

    /// Closes a connection that has nothing left to do.
    fn maybe_close(&mut self, cid: ClientId) {
        let Some(c) = self.conns.clients.get(&cid) else {
            return;
        };
        let refused = c.state == ConnState::Refused;
        let finished = (refused || c.read_closed)
            && c.state != ConnState::Waiting
            && c.dump.is_none()
            && c.outbuf.is_empty()
            && (refused || c.state == ConnState::Following || !c.inbuf.contains(&b'\n'));
        if finished {
            self.drop_client(cid, "");
        }
    }

    /// Forgets a connection and removes its sources (closing it).
    pub(super) fn drop_client(&mut self, cid: ClientId, why: &str) {
        let Some(client) = self.conns.remove(cid) else {
            return;
        };
        if !why.is_empty() {
            self.log.log(format_args!("dropped a client: {why}"));
        }
        for token in [client.read_token, client.write_token, client.timer]
            .into_iter()
            .flatten()
        {
            self.handle.remove(token);
        }
        if let Some(waiters) = &mut self.shutdown {
            waiters.retain(|&c| c != cid);
        }
    }

    /// Arms the connection's one timer for what it is waiting for (see the module doc), or
    /// disarms it while something is in flight.
    pub(super) fn update_client_timer(&mut self, cid: ClientId) {
        let Some(c) = self.conns.clients.get_mut(&cid) else {
            return;
        };
        let in_flight =
            matches!(c.state, ConnState::Waiting | ConnState::Following) || c.dump.is_some();
        let wanted = if in_flight {
            None
        } else if c.state != ConnState::Refused
            && !c.read_closed
            && (c.state == ConnState::New || c.has_partial_line())
        {
            Some(TimerKind::Request)
        } else {
            Some(TimerKind::Idle)
        };
        if wanted == c.timer_kind && (wanted.is_none() || c.timer.is_some()) {
            return;
        }
        if let Some(token) = c.timer.take() {
            self.handle.remove(token);
        }
        c.timer_kind = wanted;
        let Some(kind) = wanted else {
            return;
        };
        let (after, why) = match kind {
            TimerKind::Request => (REQUEST_TIMEOUT, "no complete request within 5 s"),
            TimerKind::Idle => (IDLE_TIMEOUT, ""),
        };
        let timer = self.handle.insert_source(
            Timer::from_duration(after),
            move |_, (), sup: &mut Supervisor| {
                if let Some(c) = sup.conns.clients.get_mut(&cid) {
                    c.timer = None;
                }
                // An idle connection closing is routine, not worth a log line.
                sup.drop_client(cid, why);
                TimeoutAction::Drop
            },
        );
        if let Ok(token) = timer {
            c.timer = Some(token);
        }
    }
}

/// Answers a connection over [`MAX_CONNECTIONS`] with a `busy` error, best effort (it is
/// non-blocking and a fresh socket's buffer takes one line), then closes it.
fn refuse_busy(stream: &UnixStream) {
    use std::io::Write as _;
    let reply = Response::Error(ErrorReply::new(
        ErrorKind::Busy,
        format!("the daemon already serves {MAX_CONNECTIONS} connections; try again later"),
    ));
    if let Ok(mut line) = serde_json::to_vec(&reply) {
        line.push(b'\n');
        let _ = stream.set_nonblocking(true);
        let _ = (&*stream).write(&line);
    }
}
