//! The end of a log file, for `logs NAME` on a file target: bounded, and never blocking.
//!
//! Only a regular file is read (a FIFO would lose the bytes read to whoever else reads it,
//! and a device may block): it is checked with `stat` before and `fstat` after an
//! `O_NONBLOCK` open. At most `max` bytes from its end are read with one `pread`, so a
//! file of any size costs the loop one bounded read from the page cache.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _};
use std::path::Path;

use crate::runtime::ring::last_lines_start;

/// The last `lines` lines (all, with `None`) among the last `max` bytes of `path`; empty
/// for a target that is not a regular file. A line cut by the `max` bound is left out.
pub(crate) fn read_tail(path: &Path, max: usize, lines: Option<usize>) -> io::Result<Vec<u8>> {
    if !std::fs::metadata(path)?.is_file() {
        return Ok(Vec::new());
    }
    let file: File = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(Vec::new());
    }
    let size = meta.len();
    let want = size.min(max as u64);
    let start = size - want;
    let mut buf = vec![0u8; usize::try_from(want).unwrap_or(max)];
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], start + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    if start > 0 {
        // The bound fell inside a line: begin at the next one.
        let first = buf
            .iter()
            .position(|&b| b == b'\n')
            .map_or(buf.len(), |i| i + 1);
        buf.drain(..first);
    }
    if let Some(n) = lines {
        let from = last_lines_start(&buf, n);
        buf.drain(..from);
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_whole_lines_from_the_end_within_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.log");
        let text: String = (1..=1000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, &text).unwrap();
        assert_eq!(
            read_tail(&path, 1 << 20, Some(2)).unwrap(),
            b"line 999\nline 1000\n"
        );
        let bounded = read_tail(&path, 100, None).unwrap();
        assert!(bounded.len() <= 100 && bounded.starts_with(b"line "));
        assert!(text.ends_with(std::str::from_utf8(&bounded).unwrap()));
        assert_eq!(read_tail(&path, 1 << 20, None).unwrap(), text.as_bytes());
    }

    #[test]
    fn a_fifo_or_device_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert!(read_tail(&fifo, 1024, None).unwrap().is_empty());
        assert!(
            read_tail(Path::new("/dev/zero"), 1024, None)
                .unwrap()
                .is_empty()
        );
        assert!(read_tail(&dir.path().join("missing"), 1024, None).is_err());
    }
}
