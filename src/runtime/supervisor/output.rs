//! Where a process's output goes once the loop has read it from its pipe: the in-memory
//! ring (every captured stream), the `logs -f` followers, and for a target with a block
//! the daemon-written file ([`crate::runtime::logfile`]).
//!
//! - Each chunk read is numbered per process across both streams, so `logs --both` can put
//!   the two rings back in arrival order ([`crate::runtime::ring::interleave`]).
//! - Only whole lines reach a file (the stream's [`crate::runtime::ring::LineFramer`] holds
//!   the unfinished one, at most 8 KiB), so lines of different sources sharing a file never
//!   mix; at EOF the unfinished line is written with a newline added.
//! - `logs` reads the ring, or for a file handed to the child the end of that file (one
//!   bounded `pread`, see [`crate::runtime::logfile::tail`]).
//! - Every applied reload and SIGUSR2 reopen every daemon-written file and resize the rings
//!   to the current `log-buffer` ([`Supervisor::reopen_program_logs`]).

use std::borrow::Cow;
use std::path::PathBuf;

use super::{Proc, ProcId, Shown, Stream, Supervisor};
use crate::plan::model::{LogOptions, OutputTarget};
use crate::plan::placeholder::{Who, expand_output};
use crate::runtime::logfile::tail::read_tail;
use crate::runtime::ring::interleave;

impl Proc {
    /// The target of one of its streams, as its process sees it: placeholders in a path
    /// (`{process_num}`) expanded.
    pub(super) fn target(&self, stream: Stream) -> Cow<'_, OutputTarget> {
        let target = match stream {
            Stream::Stdout => &self.spec.stdout,
            Stream::Stderr => &self.spec.stderr,
        };
        let who = Who {
            program: &self.program,
            process: &self.name,
            num: self.index,
        };
        expand_output(target, &who).map_or(Cow::Borrowed(target), Cow::Owned)
    }

    /// The daemon-written file of one of its streams, if it has one.
    fn written(&self, stream: Stream) -> Option<(PathBuf, LogOptions)> {
        match self.target(stream).as_ref() {
            OutputTarget::Written(path, options) => Some((path.clone(), *options)),
            _ => None,
        }
    }

    /// The stream whose output `stream` shows: stdout's for a `stderr "stdout"`.
    pub(super) fn source_of(&self, stream: Stream) -> Stream {
        if stream == Stream::Stderr && self.spec.stderr == OutputTarget::SameAsStdout {
            Stream::Stdout
        } else {
            stream
        }
    }
}

impl Supervisor {
    /// The bytes of `log-buffer` each stream keeps.
    pub(super) fn ring_bytes(&self) -> usize {
        usize::try_from(self.plan.daemon.log_buffer.0).unwrap_or(usize::MAX)
    }

    /// Opens the daemon-written files of process `id` before it is spawned; the error is
    /// the failed attempt's reason.
    pub(super) fn open_log_files(&mut self, id: ProcId) -> Result<(), String> {
        let Some(proc) = self.table.procs.get(&id) else {
            return Ok(());
        };
        for stream in [Stream::Stdout, Stream::Stderr] {
            if let Some((path, options)) = proc.written(stream) {
                self.logfiles.ensure(&path, options).map_err(|e| {
                    let name = if stream == Stream::Stdout {
                        "stdout"
                    } else {
                        "stderr"
                    };
                    match e {
                        crate::runtime::logtarget::OpenError::NoReader(_) => e.to_string(),
                        other @ crate::runtime::logtarget::OpenError::Io(_) => {
                            format!("cannot open {name} file {}: {other}", path.display())
                        }
                    }
                })?;
            }
        }
        Ok(())
    }

    /// A chunk read from one of `id`'s pipes.
    pub(super) fn captured(&mut self, id: ProcId, stream: Stream, data: &[u8]) {
        let Some(proc) = self.table.procs.get_mut(&id) else {
            return;
        };
        proc.arrivals += 1;
        let seq = proc.arrivals;
        let followed = self.conns.followers.iter().any(|f| f.follows(proc, stream));
        let checked = Self::wants_lines(proc, stream);
        let file = proc.written(stream);
        let cap = proc.output_mut(stream);
        cap.ring.push_marked(data, seq);
        if file.is_none() && !followed && !checked {
            // The usual case; the framer still tracks the unfinished line for a later one.
            cap.framer.skip(data);
            return;
        }
        let lines = cap.framer.push(data);
        if lines.is_empty() {
            return;
        }
        if let Some((path, _)) = file {
            cap.mid_line = !self.logfiles.write(&path, &lines, !cap.mid_line);
            for note in self.logfiles.take_notes() {
                self.log.log(format_args!("{note}"));
            }
        }
        if followed {
            self.send_to_followers(id, stream, &lines);
        }
        if checked {
            self.log_lines(id, &lines);
        }
    }

    /// One of `id`'s pipes reached EOF: its unfinished line goes out.
    pub(super) fn output_closed(&mut self, id: ProcId, stream: Stream) {
        let Some(proc) = self.table.procs.get_mut(&id) else {
            return;
        };
        let file = proc.written(stream);
        let cap = proc.output_mut(stream);
        let rest = cap.framer.flush();
        if let Some((path, _)) = file
            && (cap.mid_line || !rest.is_empty())
        {
            let mut line = rest.clone();
            if line.last() != Some(&b'\n') {
                line.push(b'\n');
            }
            self.logfiles.write(&path, &line, !cap.mid_line);
            cap.mid_line = false;
        }
        if !rest.is_empty() {
            self.send_to_followers(id, stream, &rest);
        }
    }

    /// Closes and reopens every daemon-written file (SIGUSR2, every applied reload), with
    /// the settings the current specs give it, and gives every ring the current
    /// `log-buffer`.
    pub(super) fn reopen_program_logs(&mut self) {
        let mut wanted = Vec::new();
        let mut ids: Vec<ProcId> = self.table.procs.keys().copied().collect();
        ids.sort_unstable();
        for id in &ids {
            if let Some(proc) = self.table.procs.get(id) {
                for stream in [Stream::Stdout, Stream::Stderr] {
                    if let Some(target) = proc.written(stream) {
                        wanted.push((proc.program.clone(), proc.index, target));
                    }
                }
            }
        }
        // The first program (by name) naming a file sets its block.
        wanted.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        let count = wanted.len();
        let notes = self
            .logfiles
            .reopen_all(wanted.into_iter().map(|(_, _, target)| target));
        for note in notes {
            self.log.log(format_args!("{note}"));
        }
        if count > 0 {
            self.log.log(format_args!(
                "reopened {}",
                crate::words::count(self.logfiles.len(), "log file", "log files")
            ));
        }
        let bytes = self.ring_bytes();
        for proc in self.table.procs.values_mut() {
            proc.stdout.ring.set_limit(bytes);
            proc.stderr.ring.set_limit(bytes);
        }
    }

    /// What `logs` shows of process `id`: its ring(s), or the end of a file handed to it.
    pub(super) fn log_text(&self, id: ProcId, shown: Shown, lines: Option<usize>) -> Vec<u8> {
        let Some(proc) = self.table.procs.get(&id) else {
            return Vec::new();
        };
        let one = |stream: Stream| -> Vec<u8> {
            let stream = proc.source_of(stream);
            match proc.target(stream).as_ref() {
                OutputTarget::File(path) => {
                    read_tail(path, self.ring_bytes(), lines).unwrap_or_default()
                }
                _ => proc.output(stream).ring.tail(lines),
            }
        };
        match shown {
            Shown::Stdout => one(Stream::Stdout),
            Shown::Stderr => one(Stream::Stderr),
            Shown::Both if proc.spec.stderr == OutputTarget::SameAsStdout => one(Stream::Stdout),
            Shown::Both => {
                let (out, out_runs) = proc.stdout.ring.runs();
                let (err, err_runs) = proc.stderr.ring.runs();
                let mut text = interleave((&out, &out_runs), (&err, &err_runs));
                if let Some(n) = lines {
                    let from = crate::runtime::ring::last_lines_start(&text, n);
                    text.drain(..from);
                }
                text
            }
        }
    }
}
