//! `logs` answers: a process's kept output sent as the peer reads it, and the live output
//! of `logs -f` handed to each follower.
//!
//! - The answer is sent process by process (one snapshot of one ring at a time), never the
//!   whole answer in memory: a connection gets more only while less than
//!   [`MAX_UNSENT_BYTES`] wait unsent for it, so `logs all` of a thousand processes costs one
//!   ring's copy, not a thousand.
//! - Each `log` line carries at most [`DUMP_CHUNK`] of output, cut after a line end, or for a
//!   longer line between two characters: a UTF-8 character is never split, nor cut where a
//!   ring's kept bytes begin.
//! - For `logs -f`, live output of a process whose backlog is not sent yet waits in its ring,
//!   and that of the process being sent joins the end of its backlog, so nothing is missed,
//!   doubled or reordered between backlog and live lines.
//! - A follower too far behind has live output skipped and counted, never queued without
//!   bound ([`crate::runtime::client::Client::queue_followed`]).

use std::collections::VecDeque;

use super::{Follower, ProcId, Shown, Supervisor};
use crate::protocol::{MAX_UNSENT_BYTES, Response};
use crate::runtime::client::{ClientId, ConnState, LogDump};
use crate::runtime::names;

/// The most output text one `log` line of a `logs` answer carries.
const DUMP_CHUNK: usize = 32 * 1024;

impl Supervisor {
    /// Starts a `logs` answer (and, with `follow`, registers the follower).
    pub(super) fn logs(
        &mut self,
        cid: ClientId,
        name: &str,
        shown: Shown,
        lines: Option<usize>,
        follow: bool,
    ) {
        let ids = match self.table.resolve(&[name.to_owned()]) {
            Ok(ids) => ids,
            Err(e) => return self.send_error(cid, e),
        };
        let label_all = name == "all";
        // Naming a program (`web`, `web:*` or `all`) follows the whole program, later
        // processes too.
        let whole = name == "all"
            || self
                .table
                .programs
                .contains_key(names::program_of(name).unwrap_or(name));
        let mut programs: Vec<(String, Option<u32>)> = Vec::new();
        for id in &ids {
            let Some(proc) = self.table.procs.get(id) else {
                continue;
            };
            let entry = (proc.program.clone(), (!whole).then_some(proc.index));
            // `ids` come in program order, so a program's entry is the last one pushed.
            if programs.last() != Some(&entry) {
                programs.push(entry);
            }
        }
        let Some(client) = self.conns.clients.get_mut(&cid) else {
            return;
        };
        client.dump = Some(LogDump {
            shown,
            label_all,
            lines,
            follow,
            todo: ids.into(),
            current: None,
        });
        if follow {
            client.state = ConnState::Following;
            client.inbuf = VecDeque::new();
            for (program, index) in programs {
                self.conns.followers.push(Follower {
                    client: cid,
                    program,
                    index,
                    shown,
                    label_all,
                });
            }
        }
        self.update_client_timer(cid);
        self.pump_dump(cid);
    }

    /// Sends the next pieces of a client's `logs` answer, until its unsent output reaches
    /// [`MAX_UNSENT_BYTES`] or the answer is complete.
    pub(super) fn pump_dump(&mut self, cid: ClientId) {
        loop {
            let Some(client) = self.conns.clients.get_mut(&cid) else {
                return;
            };
            if client.backlogged() {
                return;
            }
            let Some(dump) = client.dump.as_mut() else {
                return;
            };
            if let Some((_, label, rest)) = &mut dump.current {
                let cut = chunk_end(rest, DUMP_CHUNK);
                let piece: Vec<u8> = rest.drain(..cut).collect();
                let response = Response::Log {
                    process: label.clone(),
                    text: String::from_utf8_lossy(&piece).into_owned(),
                };
                if rest.is_empty() {
                    dump.current = None;
                }
                self.send(cid, &response);
                continue;
            }
            let Some(id) = dump.todo.pop_front() else {
                let follow = dump.follow;
                client.dump = None;
                if !follow {
                    self.send(cid, &Response::LogEnd);
                }
                self.update_client_timer(cid);
                if !follow {
                    self.client_resume(cid);
                }
                return;
            };
            let (shown, lines, label_all) = (dump.shown, dump.lines, dump.label_all);
            let Some(proc) = self.table.procs.get(&id) else {
                continue;
            };
            let label = proc.log_label(label_all);
            let mut text = self.log_text(id, shown, lines);
            // The ring may have dropped the first bytes of a character.
            let start = text
                .iter()
                .take(3)
                .take_while(|&&b| is_continuation(b))
                .count();
            text.drain(..start);
            if !text.is_empty()
                && let Some(dump) = self
                    .conns
                    .clients
                    .get_mut(&cid)
                    .and_then(|c| c.dump.as_mut())
            {
                dump.current = Some((id, label, text));
            }
        }
    }

    /// Queues `line`, a followed log line of `id` carrying the output `text`, for a
    /// follower; a reader too far behind has it skipped and counted instead (see
    /// [`crate::runtime::client::Client::queue_followed`]). While the follower's backlog is still being sent, the
    /// output of a process not reached yet is left out (it is in the ring the backlog will be
    /// read from), and that of the process being sent joins the end of its backlog.
    pub(super) fn send_followed(&mut self, cid: ClientId, id: ProcId, text: &[u8], line: &[u8]) {
        let Some(client) = self.conns.clients.get_mut(&cid) else {
            return;
        };
        if let Some(dump) = &mut client.dump {
            if dump.todo.contains(&id) {
                return;
            }
            if let Some((current, _, rest)) = &mut dump.current
                && *current == id
            {
                if rest.len() + text.len() <= MAX_UNSENT_BYTES {
                    rest.extend_from_slice(text);
                } else {
                    client.skipped += text.len() as u64;
                }
                return;
            }
        }
        client.queue_followed(line, text.len());
        self.flush_client(cid);
    }
}

fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

/// Where to cut `data` for a piece of at most `max` bytes: after its last line end within
/// the limit, else on a character boundary (a line that long is cut, its characters never).
fn chunk_end(data: &[u8], max: usize) -> usize {
    if data.len() <= max {
        return data.len();
    }
    if let Some(nl) = data[..max].iter().rposition(|&b| b == b'\n') {
        return nl + 1;
    }
    let mut end = max;
    while end > max.saturating_sub(3) && end > 0 && is_continuation(data[end]) {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_end_on_lines_or_whole_characters() {
        assert_eq!(chunk_end(b"abc", 10), 3);
        assert_eq!(chunk_end(b"ab\ncd\nefgh", 7), 6);
        let text = "é".repeat(10);
        for max in 1..text.len() {
            let end = chunk_end(text.as_bytes(), max.max(4));
            assert!(text.is_char_boundary(end), "cut at {end}");
            assert!(end > 0);
        }
    }
}
