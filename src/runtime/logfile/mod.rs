//! Daemon-written log files: the program targets with a `{ … }` block.
//!
//! The stream of such a target is a pipe the loop reads (as for memory capture); its
//! complete lines come here. There is one [`LogWriter`] per distinct path, shared by every
//! process and stream that names it, so several processes and both streams may share one
//! file. Lines from different sources never mix inside a line: each source's unfinished
//! line is held back by its own framer (the process's [`super::ring::LineFramer`], at most
//! 8 KiB: a longer line is written in pieces) and only whole lines are written, each
//! `write(2)` from one source. A source's last unfinished line is written at its EOF, ended
//! with a newline so the next source's line starts on its own.
//!
//! Every applied reload and SIGUSR2 close and reopen every file ([`LogFiles::reopen_all`]),
//! so `mv web.log web.log.1; taskmaster reload` starts a new file. Memory stays flat: the
//! writers hold no buffers, a failed write drops its bytes (counted, reported in the event
//! log), and the only per-source state is the held line.

pub(crate) mod rotate;
pub(crate) mod tail;
pub(crate) mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

pub(crate) use writer::LogWriter;

use super::eventlog::rfc3339_millis;
use super::logtarget::OpenError;
use crate::plan::model::LogOptions;

/// Every daemon-written file, by path.
#[derive(Debug, Default)]
pub(crate) struct LogFiles {
    writers: HashMap<PathBuf, LogWriter>,
    /// Event-log lines about dropped bytes, for the caller to take.
    notes: Vec<String>,
}

impl LogFiles {
    /// Makes sure `path` is open (a spawn that writes there): an error is the spawn's.
    /// An open file keeps the options it has; the first source naming it set them, and a
    /// reload sets them anew.
    pub(crate) fn ensure(&mut self, path: &Path, options: LogOptions) -> Result<(), OpenError> {
        if !self.writers.contains_key(path) {
            let writer = LogWriter::open(path, options)?;
            self.writers.insert(path.to_owned(), writer);
        }
        Ok(())
    }

    /// Appends whole lines of one source to `path`; with `at_line_start`, `data` begins a
    /// line. Returns whether `data` ends a line. A file that could not be opened drops them.
    pub(crate) fn write(&mut self, path: &Path, data: &[u8], at_line_start: bool) -> bool {
        let ends_line = data.last() == Some(&b'\n');
        let Some(writer) = self.writers.get_mut(path) else {
            return ends_line;
        };
        if writer.options().timestamps {
            let stamped = stamp(&rfc3339_millis(SystemTime::now()), data, at_line_start);
            writer.write(&stamped);
        } else {
            writer.write(data);
        }
        if writer.has_news()
            && let Some(note) = writer.take_report(Instant::now(), false)
        {
            self.notes.push(note);
        }
        ends_line
    }

    /// The event-log lines about dropped bytes written up since the last call.
    pub(crate) fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// Closes and reopens every file, keeping only `wanted` ones (path and options, the
    /// first of a path winning). Returns a line for the event log per file that could not
    /// be reopened (it keeps its old descriptor) or that had dropped bytes.
    pub(crate) fn reopen_all(
        &mut self,
        wanted: impl IntoIterator<Item = (PathBuf, LogOptions)>,
    ) -> Vec<String> {
        let mut keep: HashMap<PathBuf, LogOptions> = HashMap::new();
        for (path, options) in wanted {
            keep.entry(path).or_insert(options);
        }
        let mut notes = self.reports(true);
        self.writers.retain(|path, _| keep.contains_key(path));
        for (path, options) in keep {
            let result = match self.writers.get_mut(&path) {
                Some(writer) => writer.reopen(options),
                None => LogWriter::open(&path, options).map(|w| {
                    self.writers.insert(path.clone(), w);
                }),
            };
            if let Err(e) = result {
                notes.push(format!("cannot reopen {}: {e}", path.display()));
            }
        }
        notes
    }

    /// Event-log lines about dropped bytes (see [`LogWriter::take_report`]).
    pub(crate) fn reports(&mut self, closing: bool) -> Vec<String> {
        let now = Instant::now();
        self.writers
            .values_mut()
            .filter_map(|w| w.take_report(now, closing))
            .collect()
    }

    /// How many files are open.
    pub(crate) fn len(&self) -> usize {
        self.writers.len()
    }
}

/// `data` with `prefix ` at the start of each of its lines (the first only when
/// `at_line_start`: it may continue a line cut earlier).
pub(crate) fn stamp(prefix: &str, data: &[u8], at_line_start: bool) -> Vec<u8> {
    let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
    let mut out = Vec::with_capacity(data.len() + lines * (prefix.len() + 1));
    let mut start = at_line_start;
    for piece in data.split_inclusive(|&b| b == b'\n') {
        if start {
            out.extend_from_slice(prefix.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(piece);
        start = piece.last() == Some(&b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_start_gets_the_time() {
        let t = "2026-11-29T13:40:32.123Z";
        assert_eq!(
            stamp(t, b"a\nb\n", true),
            format!("{t} a\n{t} b\n").into_bytes()
        );
        assert_eq!(
            stamp(t, b"rest\nc", false),
            format!("rest\n{t} c").into_bytes()
        );
        assert_eq!(stamp(t, b"", true), b"");
    }

    #[test]
    fn shared_paths_share_one_writer_and_reopen_drops_unnamed_ones() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.log");
        let b = dir.path().join("b.log");
        let mut files = LogFiles::default();
        files.ensure(&a, LogOptions::default()).unwrap();
        files.ensure(&a, LogOptions::default()).unwrap();
        assert_eq!(files.len(), 1);
        files.write(&a, b"one\n", true);
        files.write(&a, b"two\n", true);
        assert_eq!(std::fs::read(&a).unwrap(), b"one\ntwo\n");
        let stamped = LogOptions {
            timestamps: true,
            ..LogOptions::default()
        };
        let notes = files.reopen_all([(b.clone(), stamped)]);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(files.len(), 1);
        files.write(&b, b"three\n", true);
        let text = String::from_utf8(std::fs::read(&b).unwrap()).unwrap();
        let (time, rest) = text.split_once(' ').unwrap();
        assert_eq!(rest, "three\n");
        assert_eq!(time.len(), "2026-11-29T13:40:32.123Z".len());
        assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T');
    }
}
