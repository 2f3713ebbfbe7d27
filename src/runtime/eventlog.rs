//! The event log: one timestamped line per state change, spawn, exit, kill and reload,
//! written to stderr and, when the config sets `logfile`, appended to that file.
//!
//! Lines are buffered and flushed once per event-loop iteration, so a burst (a thousand
//! spawns at start-up) costs a few writes instead of thousands. Stderr is never allowed to
//! block the daemon: when nobody reads it, lines wait (up to 1 MiB) and are then dropped,
//! with a note saying how many.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::fd::AsRawFd as _;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Event-log bytes kept for stderr while it cannot take them; beyond this, lines are dropped.
const MAX_PENDING: usize = 1024 * 1024;

/// A pipe always takes a write of this size when poll says it is writable.
const PIPE_BUF: usize = 4096;

pub struct EventLog {
    /// Lines not yet written to stderr.
    pending: Vec<u8>,
    /// Lines dropped because stderr stopped taking them.
    dropped: usize,
    file: Option<BufWriter<File>>,
}

impl EventLog {
    /// Logs to stderr, and to `logfile` when given.
    pub fn open(logfile: Option<&Path>) -> io::Result<Self> {
        let mut log = EventLog {
            pending: Vec::new(),
            dropped: 0,
            file: None,
        };
        log.set_file(logfile)?;
        Ok(log)
    }

    /// (Re)opens the log file, e.g. after a reload changed it. On error the old file stays.
    pub fn set_file(&mut self, logfile: Option<&Path>) -> io::Result<()> {
        self.flush();
        self.file = match logfile {
            None => None,
            Some(path) => {
                let file = OpenOptions::new().create(true).append(true).open(path)?;
                Some(BufWriter::new(file))
            }
        };
        Ok(())
    }

    /// Writes one line: `2026-11-26T11:20:00.123Z message`.
    pub fn log(&mut self, message: std::fmt::Arguments<'_>) {
        let line = format!("{} {message}\n", rfc3339_millis(SystemTime::now()));
        if self.pending.len() + line.len() <= MAX_PENDING {
            self.pending.extend_from_slice(line.as_bytes());
        } else {
            self.dropped += 1;
        }
        // A full disk must not stop supervision: file errors are ignored here.
        if let Some(file) = &mut self.file {
            let _ = file.write_all(line.as_bytes());
        }
    }

    /// Writes what stderr takes without blocking: a daemon whose stderr is a pipe nobody
    /// reads must keep supervising (the log file, when set, still gets every line).
    pub fn flush(&mut self) {
        if let Some(file) = &mut self.file {
            let _ = file.flush();
        }
        if self.dropped > 0 && self.pending.len() < MAX_PENDING / 2 {
            let dropped = std::mem::take(&mut self.dropped);
            let note = format!(
                "{} [{dropped} event-log line{} dropped: stderr was not being read]\n",
                rfc3339_millis(SystemTime::now()),
                if dropped == 1 { "" } else { "s" }
            );
            self.pending.extend_from_slice(note.as_bytes());
        }
        let stderr = io::stderr();
        let mut written = 0;
        while written < self.pending.len() && stderr_writable(&stderr) {
            let end = (written + PIPE_BUF).min(self.pending.len());
            match (&stderr).write(&self.pending[written..end]) {
                Ok(0) => break,
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    // Closed or broken: nothing more will get through.
                    written = self.pending.len();
                }
            }
        }
        self.pending.drain(..written);
        if self.pending.is_empty() && self.pending.capacity() > 64 * 1024 {
            self.pending = Vec::new();
        }
    }
}

/// Whether stderr takes a write now (a terminal, a file, or a pipe with room).
fn stderr_writable(stderr: &io::Stderr) -> bool {
    let mut fds = [nix::libc::pollfd {
        fd: stderr.as_raw_fd(),
        events: nix::libc::POLLOUT,
        revents: 0,
    }];
    // SAFETY: `fds` is a valid array of one pollfd for the duration of the call; a zero
    // timeout makes it return at once.
    let ready = unsafe { nix::libc::poll(fds.as_mut_ptr(), 1, 0) };
    ready == 1 && fds[0].revents & nix::libc::POLLOUT != 0
}

impl Drop for EventLog {
    fn drop(&mut self) {
        self.flush();
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC.
pub fn rfc3339_millis(t: SystemTime) -> String {
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
