//! Captured output: a bounded ring of the last bytes of one stream, and the line framing
//! used for `logs -f` followers.
//!
//! A ring allocates nothing until output arrives and grows only up to its limit, so a
//! thousand quiet processes cost no buffer memory.
//!
//! For `logs --both`, each ring also remembers where the runs of output began that arrived
//! after output of the process's other stream (at most [`MAX_MARKS`] of them, 16 bytes
//! each): [`interleave`] puts the two streams back in arrival order, whole lines at a time.

use std::collections::VecDeque;

/// How much of each stream of each process is kept for `logs`.
pub(crate) const RING_BYTES: usize = 64 * 1024;

/// A partial line longer than this is handed to followers without waiting for its newline.
const MAX_PARTIAL_LINE: usize = 8 * 1024;

/// Arrival marks kept per ring; beyond this the oldest are forgotten (their output then
/// counts as older than anything marked).
pub(crate) const MAX_MARKS: usize = 256;

/// The last [`RING_BYTES`] (or `limit`) bytes written to a stream.
#[derive(Debug)]
pub(crate) struct Ring {
    buf: VecDeque<u8>,
    limit: usize,
    /// Bytes ever pushed: the absolute offset just past the end of `buf`.
    total: u64,
    /// (absolute offset, arrival number) where a run of this stream's output began.
    marks: VecDeque<(u64, u64)>,
    /// The arrival number of the last push.
    last: Option<u64>,
}

impl Default for Ring {
    fn default() -> Self {
        Ring::new(RING_BYTES)
    }
}

impl Ring {
    pub(crate) fn new(limit: usize) -> Self {
        Ring {
            buf: VecDeque::new(),
            limit,
            total: 0,
            marks: VecDeque::new(),
            last: None,
        }
    }

    /// A new limit (a reload changed `log-buffer`): the oldest bytes beyond it go.
    pub(crate) fn set_limit(&mut self, limit: usize) {
        self.limit = limit.max(1);
        let over = self.buf.len().saturating_sub(self.limit);
        self.buf.drain(..over);
        self.buf.shrink_to(self.limit);
        self.forget_old_marks();
    }

    /// Pushes `data`, the process's `seq`-th chunk of output (counted over both streams):
    /// a chunk that does not follow this ring's last one directly starts a new run.
    pub(crate) fn push_marked(&mut self, data: &[u8], seq: u64) {
        if self.last.is_none_or(|last| last + 1 != seq) {
            if self.marks.len() == MAX_MARKS {
                self.marks.pop_front();
            }
            self.marks.push_back((self.total, seq));
        }
        self.last = Some(seq);
        self.push(data);
        self.forget_old_marks();
    }

    fn forget_old_marks(&mut self) {
        let start = self.total - self.buf.len() as u64;
        // A mark is needed while the next one still starts inside the ring.
        while self.marks.len() > 1 && self.marks[1].0 <= start {
            self.marks.pop_front();
        }
    }

    /// The kept bytes with their runs: (offset in the bytes, arrival number) of each.
    pub(crate) fn runs(&self) -> (Vec<u8>, Vec<(usize, u64)>) {
        let bytes = self.tail(None);
        let start = self.total - bytes.len() as u64;
        let runs = self
            .marks
            .iter()
            .map(|&(at, seq)| (usize::try_from(at.saturating_sub(start)).unwrap_or(0), seq))
            .collect();
        (bytes, runs)
    }

    pub(crate) fn push(&mut self, data: &[u8]) {
        self.total += data.len() as u64;
        if data.len() >= self.limit {
            self.buf.clear();
            self.buf.extend(&data[data.len() - self.limit..]);
            return;
        }
        let overflow = (self.buf.len() + data.len()).saturating_sub(self.limit);
        self.buf.drain(..overflow);
        let needed = self.buf.len() + data.len();
        if needed > self.buf.capacity() {
            // Grow by doubling as usual, but never past the limit.
            let target = (self.buf.capacity() * 2).clamp(needed, self.limit);
            self.buf.reserve_exact(target - self.buf.len());
        }
        self.buf.extend(data);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// The kept bytes, or only the last `lines` lines of them (a final line without its
    /// newline counts as a line).
    pub(crate) fn tail(&self, lines: Option<usize>) -> Vec<u8> {
        let (a, b) = self.buf.as_slices();
        let mut all = Vec::with_capacity(a.len() + b.len());
        all.extend_from_slice(a);
        all.extend_from_slice(b);
        match lines {
            None => all,
            Some(n) => {
                let start = last_lines_start(&all, n);
                all.split_off(start)
            }
        }
    }
}

/// Two streams' kept bytes and runs ([`Ring::runs`]) in arrival order. A run boundary
/// inside a line moves to that line's end, so lines stay whole; bytes before a stream's
/// first mark count as the oldest.
pub(crate) fn interleave(a: (&[u8], &[(usize, u64)]), b: (&[u8], &[(usize, u64)])) -> Vec<u8> {
    let mut pieces: Vec<(u64, &[u8])> = Vec::new();
    for (bytes, runs) in [a, b] {
        let mut bounds: Vec<(usize, u64)> = vec![(0, 0)];
        for &(at, seq) in runs {
            let at = at.min(bytes.len());
            // Continue a line begun in the previous run: cut after its end.
            let cut = if at == 0 || bytes[at - 1] == b'\n' {
                at
            } else {
                bytes[at..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |i| at + i + 1)
            };
            match bounds.last_mut() {
                Some(last) if last.0 >= cut => last.1 = last.1.max(seq),
                _ => bounds.push((cut, seq)),
            }
        }
        for (i, &(from, seq)) in bounds.iter().enumerate() {
            let to = bounds.get(i + 1).map_or(bytes.len(), |next| next.0);
            if from < to {
                pieces.push((seq, &bytes[from..to]));
            }
        }
    }
    // Stable: equal numbers (unmarked starts) keep stdout first.
    pieces.sort_by_key(|&(seq, _)| seq);
    pieces
        .into_iter()
        .flat_map(|(_, p)| p.iter().copied())
        .collect()
}

/// Where the last `n` lines of `data` begin.
pub(crate) fn last_lines_start(data: &[u8], n: usize) -> usize {
    if n == 0 {
        return data.len();
    }
    // A trailing newline ends the last line; it does not start an empty one.
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    let mut seen = 0;
    for (i, &b) in body.iter().enumerate().rev() {
        if b == b'\n' {
            seen += 1;
            if seen == n {
                return i + 1;
            }
        }
    }
    0
}

/// Holds back an unfinished line so followers get whole lines (which also keeps multi-byte
/// characters whole, since `\n` never falls inside one). A line longer than 8 KiB is handed
/// out in pieces, each cut between two characters.
#[derive(Debug, Default)]
pub(crate) struct LineFramer {
    partial: Vec<u8>,
}

impl LineFramer {
    /// Adds a chunk; returns the complete lines it finishes (possibly empty).
    pub(crate) fn push(&mut self, data: &[u8]) -> Vec<u8> {
        let Some(last_nl) = data.iter().rposition(|&b| b == b'\n') else {
            self.partial.extend_from_slice(data);
            if self.partial.len() > MAX_PARTIAL_LINE {
                // Handed out whole characters only: an unfinished one waits for its rest.
                let keep = self.partial.len() - incomplete_tail(&self.partial);
                let rest = self.partial.split_off(keep);
                return std::mem::replace(&mut self.partial, rest);
            }
            return Vec::new();
        };
        let mut out = std::mem::take(&mut self.partial);
        out.extend_from_slice(&data[..=last_nl]);
        self.partial.extend_from_slice(&data[last_nl + 1..]);
        if self.partial.is_empty() {
            // Don't keep a grown buffer around for a quiet process.
            self.partial = Vec::new();
        }
        out
    }

    /// Takes a chunk nobody follows: the same unfinished-line state as [`Self::push`]
    /// leaves, without building the lines only to drop them.
    pub(crate) fn skip(&mut self, data: &[u8]) {
        match data.iter().rposition(|&b| b == b'\n') {
            None => {
                self.partial.extend_from_slice(data);
                if self.partial.len() > MAX_PARTIAL_LINE {
                    let keep = self.partial.len() - incomplete_tail(&self.partial);
                    self.partial = self.partial.split_off(keep);
                }
            }
            Some(last_nl) if last_nl + 1 == data.len() => self.partial = Vec::new(),
            Some(last_nl) => {
                self.partial.clear();
                self.partial.extend_from_slice(&data[last_nl + 1..]);
            }
        }
    }

    /// The unfinished line, when the stream ends.
    pub(crate) fn flush(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.partial)
    }
}

/// How many bytes at the end of `data` start a UTF-8 character that is not complete yet.
pub(crate) fn incomplete_tail(data: &[u8]) -> usize {
    for back in 1..=data.len().min(4) {
        let b = data[data.len() - back];
        if b & 0xC0 == 0x80 {
            continue; // a continuation byte: look further back for the lead
        }
        let needed = match b {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => return 0, // ASCII or not UTF-8 at all: nothing to wait for
        };
        return if back < needed { back } else { 0 };
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_last_bytes_and_allocates_lazily() {
        let mut r = Ring::new(8);
        assert_eq!(r.buf.capacity(), 0);
        r.push(b"hello ");
        r.push(b"world");
        assert_eq!(r.tail(None), b"lo world");
        r.push(b"0123456789");
        assert_eq!(r.tail(None), b"23456789");
        assert_eq!(r.len(), 8);
        let mut big = Ring::default();
        for _ in 0..100 {
            big.push(&[b'y'; 1500]);
        }
        assert_eq!(big.len(), RING_BYTES);
        assert!(big.buf.capacity() < RING_BYTES + RING_BYTES / 2);
    }

    #[test]
    fn two_streams_interleave_in_arrival_order_by_whole_lines() {
        let mut out = Ring::new(1024);
        let mut err = Ring::new(1024);
        out.push_marked(b"o1\n", 1);
        out.push_marked(b"o2\no3-", 2);
        err.push_marked(b"e1\n", 3);
        out.push_marked(b"end\n", 4);
        err.push_marked(b"e2\n", 5);
        err.push_marked(b"e3\n", 6);
        out.push_marked(b"o4\n", 7);
        let (ob, or) = out.runs();
        let (eb, er) = err.runs();
        assert_eq!(
            interleave((&ob, &or), (&eb, &er)),
            b"o1\no2\no3-end\ne1\ne2\ne3\no4\n"
        );
    }

    #[test]
    fn marks_are_bounded_and_follow_the_kept_bytes() {
        let mut r = Ring::new(64);
        for seq in 0..10_000u64 {
            r.push_marked(b"x\n", seq * 2);
        }
        assert!(r.marks.len() <= 33, "{}", r.marks.len());
        let (bytes, runs) = r.runs();
        assert_eq!(bytes.len(), 64);
        assert!(runs.iter().all(|&(at, _)| at <= 64));
        r.set_limit(8);
        assert_eq!(r.len(), 8);
        assert!(r.marks.len() <= 5);
    }

    #[test]
    fn tail_takes_the_last_lines() {
        let mut r = Ring::default();
        r.push(b"a\nb\nc\n");
        assert_eq!(r.tail(Some(2)), b"b\nc\n");
        assert_eq!(r.tail(Some(5)), b"a\nb\nc\n");
        assert_eq!(r.tail(Some(0)), b"");
        r.push(b"partial");
        assert_eq!(r.tail(Some(1)), b"partial");
        assert_eq!(r.tail(Some(2)), b"c\npartial");
    }

    #[test]
    fn framer_hands_out_whole_lines() {
        let mut f = LineFramer::default();
        assert_eq!(f.push(b"ab"), b"");
        assert_eq!(f.push(b"c\nde"), b"abc\n");
        assert_eq!(f.push(b"f\ng\n"), b"def\ng\n");
        assert_eq!(f.push(b"tail"), b"");
        assert_eq!(f.flush(), b"tail");
        assert_eq!(f.flush(), b"");
    }

    #[test]
    fn skipping_leaves_the_state_pushing_does() {
        let big = vec![b'x'; MAX_PARTIAL_LINE + 1];
        let chunks: [&[u8]; 6] = [b"ab", b"c\nde", b"f\ng\n", b"tail", &big, b"z"];
        let mut pushed = LineFramer::default();
        let mut skipped = LineFramer::default();
        for chunk in chunks {
            pushed.push(chunk);
            skipped.skip(chunk);
            assert_eq!(skipped.partial, pushed.partial);
        }
        assert_eq!(skipped.flush(), b"z");
    }

    #[test]
    fn framer_gives_up_waiting_for_a_huge_line() {
        let mut f = LineFramer::default();
        let big = vec![b'x'; MAX_PARTIAL_LINE + 1];
        assert_eq!(f.push(&big).len(), big.len());
    }

    #[test]
    fn a_huge_line_is_cut_between_characters() {
        let euro = "€".as_bytes();
        let mut data = vec![b'x'; MAX_PARTIAL_LINE];
        data.extend_from_slice(&euro[..2]);
        let mut f = LineFramer::default();
        let mut s = LineFramer::default();
        assert_eq!(f.push(&data), vec![b'x'; MAX_PARTIAL_LINE]);
        s.skip(&data);
        assert_eq!(s.partial, f.partial);
        assert_eq!(f.push(&euro[2..]), b"");
        assert_eq!(f.push(b"\n"), "€\n".as_bytes());
        assert_eq!(incomplete_tail("a€".as_bytes()), 0);
        assert_eq!(incomplete_tail(&euro[..1]), 1);
        assert_eq!(incomplete_tail(b"\xff\xfe"), 0);
    }
}
