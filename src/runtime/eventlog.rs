//! The event log: one timestamped line per state change, spawn, exit, kill and reload,
//! written to stderr and, when the config sets `logfile`, appended to that file.
//!
//! Lines are batched and handed on once per event-loop iteration, so a burst (a thousand
//! spawns at start-up) costs a few writes instead of thousands. Neither destination can
//! block the loop:
//! - **stderr** belongs to whoever started the daemon (a terminal, a pipe, a file), and its
//!   open file description is shared with them: setting `O_NONBLOCK` on it would make the
//!   starting shell's own reads and writes fail with EAGAIN. `poll` is no guard either: a
//!   terminal reports itself writable with a single byte of room, and a stopped one (Ctrl-S,
//!   a stalled ssh session) reports writable and then blocks the write. So one writer thread
//!   does the writing, and it alone may block. The loop hands it each batch under a mutex
//!   held only to append or take bytes.
//! - **`logfile`** is the daemon's own open file description, opened non-blocking (see
//!   [`logtarget`]) and left so: a FIFO or terminal that stops draining takes what it can.
//!
//! For both, lines that cannot be written yet wait, up to [`MAX_PENDING`] bytes each; beyond
//! that they are dropped, and a note says how many once there is room again. A failed write
//! to the file (disk full) drops what was pending, counted the same way.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd as _, BorrowedFd};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::logtarget::{self, OpenError};

/// Event-log bytes kept per destination while it cannot take them; beyond this, lines are
/// dropped.
pub(crate) const MAX_PENDING: usize = 1024 * 1024;

/// How long the daemon, on its way out, waits for stderr to take the last lines.
const EXIT_DRAIN: Duration = Duration::from_secs(1);

/// Lines waiting for a destination, and how many were dropped for want of room.
#[derive(Debug, Default)]
struct Backlog {
    bytes: Vec<u8>,
    dropped: usize,
}

impl Backlog {
    fn push(&mut self, line: &[u8]) {
        if self.bytes.len() + line.len() <= MAX_PENDING {
            self.bytes.extend_from_slice(line);
        } else {
            self.dropped += 1;
        }
    }

    /// Moves `other` in whole, or counts its lines as dropped when it does not fit.
    fn append(&mut self, other: &mut Backlog) {
        if self.bytes.len() + other.bytes.len() <= MAX_PENDING {
            self.bytes.append(&mut other.bytes);
        } else {
            self.dropped += line_count(&other.bytes);
            other.bytes.clear();
        }
        self.dropped += std::mem::take(&mut other.dropped);
    }

    /// Adds the note about dropped lines once there is room for the lines that follow.
    fn note_drops(&mut self, why: &str) {
        if self.dropped > 0 && self.bytes.len() < MAX_PENDING / 2 {
            let dropped = std::mem::take(&mut self.dropped);
            let note = format!(
                "{} [{dropped} event-log line{} dropped: {why}]\n",
                rfc3339_millis(SystemTime::now()),
                if dropped == 1 { "" } else { "s" }
            );
            self.bytes.extend_from_slice(note.as_bytes());
        }
    }
}

fn line_count(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

pub(crate) struct EventLog {
    /// Lines for stderr since the last flush.
    batch: Backlog,
    stderr: StderrWriter,
    file: Option<LogFile>,
}

impl EventLog {
    /// Logs to stderr, and to `logfile` when given.
    pub(crate) fn open(logfile: Option<&Path>) -> Result<Self, OpenError> {
        let mut log = EventLog {
            batch: Backlog::default(),
            stderr: StderrWriter::start()?,
            file: None,
        };
        log.set_file(logfile)?;
        Ok(log)
    }

    /// (Re)opens the log file (a reload, SIGUSR2). On error the old file stays.
    pub(crate) fn set_file(&mut self, logfile: Option<&Path>) -> Result<(), OpenError> {
        let file = logfile.map(logtarget::open).transpose()?;
        if let Some(old) = &mut self.file {
            old.flush();
        }
        self.file = file.map(|file| LogFile {
            file,
            backlog: Backlog::default(),
        });
        Ok(())
    }

    /// Writes one line: `2026-11-26T11:20:00.123Z message`.
    pub(crate) fn log(&mut self, message: std::fmt::Arguments<'_>) {
        let line = format!("{} {message}\n", rfc3339_millis(SystemTime::now()));
        self.batch.push(line.as_bytes());
        if let Some(file) = &mut self.file {
            file.backlog.push(line.as_bytes());
        }
    }

    /// The lines logged since the last flush, taken out: what a unit test of the glue
    /// reads instead of stderr.
    #[cfg(test)]
    pub(crate) fn take_unflushed(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.batch.bytes).into_owned();
        self.batch = Backlog::default();
        if let Some(file) = &mut self.file {
            file.backlog = Backlog::default();
        }
        text
    }

    /// Hands the lines logged since the last call on; never blocks.
    pub(crate) fn flush(&mut self) {
        if let Some(file) = &mut self.file {
            file.flush();
        }
        self.stderr.hand_over(&mut self.batch);
    }
}

impl Drop for EventLog {
    fn drop(&mut self) {
        self.flush();
        self.stderr.drain(EXIT_DRAIN);
    }
}

/// The `logfile`, non-blocking, and what it has not taken yet.
struct LogFile {
    file: File,
    backlog: Backlog,
}

impl LogFile {
    fn flush(&mut self) {
        self.backlog.note_drops("the logfile was not taking them");
        let mut written = 0;
        while written < self.backlog.bytes.len() {
            match (&self.file).write(&self.backlog.bytes[written..]) {
                Ok(0) => break,
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    // A full disk must not stop supervision: drop what failed, counted.
                    self.backlog.dropped += line_count(&self.backlog.bytes[written..]);
                    written = self.backlog.bytes.len();
                }
            }
        }
        self.backlog.bytes.drain(..written);
        shrink(&mut self.backlog.bytes);
    }
}

fn shrink(bytes: &mut Vec<u8>) {
    if bytes.is_empty() && bytes.capacity() > 64 * 1024 {
        *bytes = Vec::new();
    }
}

/// What the loop and the stderr writer thread share.
#[derive(Debug, Default)]
struct Shared {
    backlog: Backlog,
    /// The thread is writing a batch it took.
    writing: bool,
}

/// Hands batches to the thread that writes them to stderr.
struct StderrWriter {
    shared: Arc<(Mutex<Shared>, Condvar)>,
}

fn lock(m: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl StderrWriter {
    fn start() -> io::Result<Self> {
        let shared = Arc::new((Mutex::new(Shared::default()), Condvar::new()));
        let theirs = shared.clone();
        std::thread::Builder::new()
            .name("tm-eventlog".into())
            .stack_size(128 * 1024)
            .spawn(move || write_stderr(&theirs))?;
        Ok(StderrWriter { shared })
    }

    fn hand_over(&mut self, batch: &mut Backlog) {
        if batch.bytes.is_empty() && batch.dropped == 0 {
            return;
        }
        let (mutex, cond) = &*self.shared;
        lock(mutex).backlog.append(batch);
        cond.notify_all();
        shrink(&mut batch.bytes);
    }

    /// Waits, at most `limit`, until the thread has written everything handed to it.
    fn drain(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let (mutex, cond) = &*self.shared;
        let mut shared = lock(mutex);
        while !shared.backlog.bytes.is_empty() || shared.writing {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            shared = cond
                .wait_timeout(shared, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// The writer thread: takes whatever is queued and writes it, blocking as long as stderr
/// makes it. Once stderr is gone (closed, EPIPE) everything is discarded.
fn write_stderr(shared: &(Mutex<Shared>, Condvar)) {
    let (mutex, cond) = shared;
    let stderr = io::stderr();
    let mut broken = false;
    loop {
        let bytes = {
            let mut shared = lock(mutex);
            shared.writing = false;
            cond.notify_all();
            while shared.backlog.bytes.is_empty() && shared.backlog.dropped == 0 {
                shared = cond.wait(shared).unwrap_or_else(PoisonError::into_inner);
            }
            shared.writing = true;
            shared.backlog.note_drops("stderr was not being read");
            std::mem::take(&mut shared.backlog.bytes)
        };
        let mut rest = &bytes[..];
        while !broken && !rest.is_empty() {
            // The raw descriptor, not `Stderr`'s lock, which the loop's thread may want.
            match nix::unistd::write(stderr.as_fd(), rest) {
                Ok(0) => broken = true,
                Ok(n) => rest = &rest[n..],
                Err(nix::errno::Errno::EINTR) => {}
                // A non-blocking stderr (made so by whoever shares it): wait for room.
                Err(nix::errno::Errno::EAGAIN) => {
                    writable(stderr.as_fd(), PollTimeout::NONE);
                }
                Err(_) => broken = true,
            }
        }
    }
}

/// Makes panics report themselves without ever waiting on stderr: the default hook writes
/// the message to stderr blocking, and on a stalled terminal that write would keep the
/// daemon from killing its children (see `runtime::supervise`). The message is written only
/// as far as stderr takes it at once.
pub(crate) fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let message = format!(
            "{} taskmaster: internal error in thread {}: {info}\n",
            rfc3339_millis(SystemTime::now()),
            thread.name().unwrap_or("?")
        );
        let stderr = io::stderr();
        if writable(stderr.as_fd(), PollTimeout::ZERO) {
            let bytes = message.as_bytes();
            let _ = nix::unistd::write(stderr.as_fd(), &bytes[..bytes.len().min(4096)]);
        }
    }));
}

/// Whether `fd` takes a write within `timeout` (`PollTimeout::NONE`: blocks until it does).
fn writable(fd: BorrowedFd<'_>, timeout: PollTimeout) -> bool {
    let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
    poll(&mut fds, timeout).is_ok_and(|n| n == 1)
        && fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLOUT))
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC.
pub(crate) fn rfc3339_millis(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, day) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day), after Howard
/// Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are in range by construction (1..=31, 1..=12).
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn formats_utc_timestamps() {
        assert_eq!(rfc3339_millis(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(951_782_400_123); // leap day 2000
        assert_eq!(rfc3339_millis(t), "2000-02-29T00:00:00.123Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_692_245);
        assert_eq!(rfc3339_millis(t), "2026-11-26T11:24:05.000Z");
    }
}
