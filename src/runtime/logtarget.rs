//! Opening a log target — a program's `stdout`/`stderr` file, or the daemon's `logfile` —
//! without ever blocking the event loop.
//!
//! A target may be a regular file, a character device (`/dev/stdout`, `/dev/null`) or a
//! FIFO. `open(2)` of a FIFO for writing waits until someone opens it for reading, so every
//! target is opened with `O_NONBLOCK`: a FIFO without a reader then fails at once with ENXIO,
//! reported as `no reader on FIFO PATH`. A file handed to a child gets blocking mode back
//! ([`set_blocking`]): the flag belongs to the open file description the child shares, and
//! programs expect their writes to block rather than fail with EAGAIN.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use nix::fcntl::{FcntlArg, OFlag, fcntl};

/// Why a log target could not be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    #[error("no reader on FIFO {}", .0.display())]
    NoReader(PathBuf),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Opens `path` for appending (created 0666 & ~umask when missing), non-blocking.
pub(crate) fn open(path: &Path) -> Result<File, OpenError> {
    let opened = OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path);
    match opened {
        Ok(file) => Ok(file),
        // ENXIO is also what a socket file gives: only a FIFO has "no reader".
        Err(e)
            if e.raw_os_error() == Some(nix::libc::ENXIO)
                && std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo()) =>
        {
            Err(OpenError::NoReader(path.to_owned()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Clears `O_NONBLOCK`, for a file a child will write to.
pub(crate) fn set_blocking(file: &File) -> io::Result<()> {
    let flags = OFlag::from_bits_truncate(fcntl(file, FcntlArg::F_GETFL)?);
    fcntl(file, FcntlArg::F_SETFL(flags - OFlag::O_NONBLOCK))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_without_a_reader_fails_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let err = open(&fifo).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("no reader on FIFO {}", fifo.display())
        );

        // With a reader it opens, and can be made blocking for a child.
        let _reader = OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        let file = open(&fifo).unwrap();
        set_blocking(&file).unwrap();
        let flags = OFlag::from_bits_truncate(fcntl(&file, FcntlArg::F_GETFL).unwrap());
        assert!(!flags.contains(OFlag::O_NONBLOCK));
    }

    #[test]
    fn regular_files_and_devices_open() {
        let dir = tempfile::tempdir().unwrap();
        assert!(open(&dir.path().join("new.log")).is_ok());
        assert!(open(Path::new("/dev/null")).is_ok());
        assert!(matches!(
            open(&dir.path().join("no/such/dir/x.log")),
            Err(OpenError::Io(_))
        ));
    }
}
