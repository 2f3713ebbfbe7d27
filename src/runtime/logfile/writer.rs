//! One daemon-written log file: appends whole lines, rotates it exactly ([`super::rotate`]),
//! and never blocks.
//!
//! The file is opened non-blocking ([`logtarget::open`]) and left so. A regular file takes
//! every write at once; a FIFO or terminal that is full fails with EAGAIN. Either way a write
//! that fails (EAGAIN, a full disk) drops those bytes: they are counted and reported through
//! [`LogWriter::take_report`], never queued. So the writer holds no buffer at all. A target
//! that is not a regular file (a FIFO, a device, anything under /dev or /proc) is never
//! rotated or renamed.

use std::fs::File;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::rotate::{self, Step};
use crate::plan::model::LogOptions;
use crate::runtime::logtarget::{self, OpenError};

/// How often, at most, dropped bytes are reported while writes keep failing.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// A daemon-written file and its rotation state.
#[derive(Debug)]
pub struct LogWriter {
    path: PathBuf,
    file: File,
    options: LogOptions,
    /// The file's size as far as this writer knows (its own writes since it was opened).
    size: u64,
    /// Only a regular file is rotated.
    regular: bool,
    /// Bytes dropped since the last report, and why the last one was.
    dropped: u64,
    why: Option<String>,
    reported: Option<Instant>,
}

impl LogWriter {
    /// Opens (creates) `path` for appending, without blocking.
    pub fn open(path: &Path, options: LogOptions) -> Result<Self, OpenError> {
        let file = logtarget::open(path)?;
        let meta = file.metadata()?;
        let regular = meta.is_file() && !path.starts_with("/dev") && !path.starts_with("/proc");
        Ok(LogWriter {
            path: path.to_owned(),
            file,
            options,
            size: if regular { meta.len() } else { 0 },
            regular,
            dropped: 0,
            why: None,
            reported: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn options(&self) -> LogOptions {
        self.options
    }

    /// Appends `data` (whole lines, but for pieces of a line too long to hold), rotating
    /// the file as it fills.
    pub fn write(&mut self, data: &[u8]) {
        let Some(max) = self.options.max_size.filter(|_| self.regular) else {
            self.append(data);
            return;
        };
        for step in rotate::plan(self.size, max, data) {
            match step {
                Step::Write(range) => self.append(&data[range]),
                Step::Rotate => self.rotate(),
            }
        }
    }

    /// Writes `data` as far as the file takes it; the rest is dropped and counted.
    fn append(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match (&self.file).write(data) {
                Ok(0) => break,
                Ok(n) => {
                    self.size += n as u64;
                    data = &data[n..];
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.why = Some(if e.kind() == io::ErrorKind::WouldBlock {
                        "the target is not taking more (full FIFO or terminal)".to_owned()
                    } else {
                        e.to_string()
                    });
                    break;
                }
            }
        }
        self.dropped += data.len() as u64;
    }

    /// `F.(keep−1)` → `F.keep` … `F` → `F.1`, then a new empty `F`; with `keep 0`, `F` is
    /// truncated instead. On failure the file is truncated, so it still never passes
    /// `max-size`, and the reason is reported.
    fn rotate(&mut self) {
        let keep = self.options.keep;
        let reopened = if keep == 0 {
            Err(io::Error::other("keep 0"))
        } else {
            self.shift(keep)
                .and_then(|()| logtarget::open(&self.path).map_err(io_error))
        };
        match reopened {
            Ok(file) => self.file = file,
            Err(e) => {
                if keep > 0 {
                    self.why = Some(format!("cannot rotate: {e}; truncated instead"));
                    self.note_failure();
                }
                if let Err(e) = self.file.set_len(0) {
                    self.why = Some(format!("cannot truncate: {e}"));
                    self.note_failure();
                }
            }
        }
        self.size = 0;
    }

    fn shift(&self, keep: u32) -> io::Result<()> {
        let numbered = |n: u32| {
            let mut name = self.path.clone().into_os_string();
            name.push(format!(".{n}"));
            PathBuf::from(name)
        };
        for n in (1..keep).rev() {
            match std::fs::rename(numbered(n), numbered(n + 1)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        std::fs::rename(&self.path, numbered(1))
    }

    /// Forces a report of a failure that dropped nothing (a failed rotation).
    fn note_failure(&mut self) {
        self.reported = None;
    }

    /// Closes and reopens the file at its path (after `mv`), with `options`. On failure
    /// the old file stays.
    pub fn reopen(&mut self, options: LogOptions) -> Result<(), OpenError> {
        let fresh = LogWriter::open(&self.path, options)?;
        let (dropped, why) = (self.dropped, self.why.take());
        *self = LogWriter {
            dropped,
            why,
            ..fresh
        };
        Ok(())
    }

    /// Whether something was dropped or failed since the last report.
    pub fn has_news(&self) -> bool {
        self.dropped > 0 || self.why.is_some()
    }

    /// A line for the event log when bytes were dropped: at once the first time, then at
    /// most once a second while writes keep failing, and the rest once they stop (`now` is
    /// when the caller asks).
    pub fn take_report(&mut self, now: Instant, closing: bool) -> Option<String> {
        if self.why.is_none() && self.dropped == 0 {
            return None;
        }
        let due = closing
            || self
                .reported
                .is_none_or(|at| now.duration_since(at) >= REPORT_EVERY);
        if !due {
            return None;
        }
        self.reported = Some(now);
        let why = self.why.take().unwrap_or_else(|| "write failed".to_owned());
        let dropped = std::mem::take(&mut self.dropped);
        Some(format!(
            "{}: {dropped} bytes of output dropped: {why}",
            self.path.display()
        ))
    }
}

fn io_error(e: OpenError) -> io::Error {
    match e {
        OpenError::Io(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(max: Option<u64>, keep: u32) -> LogOptions {
        LogOptions {
            max_size: max,
            keep,
            timestamps: false,
        }
    }

    fn numbered_lines(n: u32) -> Vec<u8> {
        (1..=n)
            .flat_map(|i| format!("line {i:04} {}\n", "x".repeat(88)).into_bytes())
            .collect()
    }

    #[test]
    fn rotates_exactly_and_keeps_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.log");
        let mut w = LogWriter::open(&path, options(Some(1024), 3)).unwrap();
        let stream = numbered_lines(200);
        for line in stream.split_inclusive(|&b| b == b'\n') {
            w.write(line);
        }
        let read = |suffix: &str| std::fs::read(format!("{}{suffix}", path.display()));
        assert!(read(".4").is_err());
        let mut joined = Vec::new();
        for suffix in [".3", ".2", ".1", ""] {
            let f = read(suffix).unwrap();
            assert!(f.len() <= 1024, "{suffix}: {}", f.len());
            if !suffix.is_empty() {
                assert_eq!(f.last(), Some(&b'\n'));
            }
            joined.extend(f);
        }
        assert!(stream.ends_with(&joined));
        assert!(joined.ends_with(b"\n") && joined.len() > 3 * 900);
        assert!(w.take_report(Instant::now(), true).is_none());
    }

    #[test]
    fn keep_zero_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.log");
        let mut w = LogWriter::open(&path, options(Some(1024), 0)).unwrap();
        w.write(&numbered_lines(100));
        let f = std::fs::read(&path).unwrap();
        assert!(f.len() <= 1024);
        assert!(f.ends_with(format!("line 0100 {}\n", "x".repeat(88)).as_bytes()));
        assert!(!dir.path().join("out.log.1").exists());
    }

    #[test]
    fn an_existing_file_counts_and_reopen_follows_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.log");
        std::fs::write(&path, vec![b'z'; 1000]).unwrap();
        let mut w = LogWriter::open(&path, options(Some(1024), 2)).unwrap();
        w.write(b"0123456789012345678901234567890123456789\n");
        assert_eq!(
            std::fs::read(dir.path().join("out.log.1")).unwrap().len(),
            1000
        );
        std::fs::rename(&path, dir.path().join("moved")).unwrap();
        w.write(b"still the old file\n");
        w.reopen(options(None, 2)).unwrap();
        w.write(b"new\n");
        assert_eq!(std::fs::read(&path).unwrap(), b"new\n");
        assert!(
            std::fs::read(dir.path().join("moved"))
                .unwrap()
                .ends_with(b"still the old file\n")
        );
    }

    #[test]
    fn a_full_fifo_drops_and_counts_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let _reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        let mut w = LogWriter::open(&fifo, options(Some(1024), 3)).unwrap();
        let line = vec![b'y'; 4095]
            .into_iter()
            .chain([b'\n'])
            .collect::<Vec<u8>>();
        for _ in 0..100 {
            w.write(&line);
        }
        let report = w.take_report(Instant::now(), false).unwrap();
        assert!(report.contains("bytes of output dropped"), "{report}");
        // Never rotated nor renamed.
        assert!(!dir.path().join("fifo.1").exists());
        // Reported at most once a second while it goes on.
        w.write(&line);
        assert!(w.take_report(Instant::now(), false).is_none());
        assert!(w.take_report(Instant::now(), true).is_some());
    }

    use std::os::unix::fs::OpenOptionsExt as _;

    #[test]
    fn devices_are_never_rotated() {
        let mut w = LogWriter::open(Path::new("/dev/null"), options(Some(1024), 3)).unwrap();
        w.write(&numbered_lines(100));
        assert!(!Path::new("/dev/null.1").exists());
    }
}
