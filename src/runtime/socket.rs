//! The control socket's file: taking the path over safely, binding it owner-only, checking
//! who connects, and removing it again on shutdown.

use std::io;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use nix::sys::stat::{Mode, umask};

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("a daemon is already listening on {}", .0.display())]
    InUse(PathBuf),
    #[error("{} exists and is not a socket; not removing it", .0.display())]
    NotASocket(PathBuf),
    #[error("cannot listen on {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// The bound socket file; [`SocketFile::remove`] deletes it if it is still ours.
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
    dev_ino: Option<(u64, u64)>,
}

impl SocketFile {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the socket file unless something else has replaced it meanwhile.
    pub fn remove(&self) {
        let ours = std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| Some((m.dev(), m.ino())) == self.dev_ino);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Binds `path` (mode 0600 from the first instant), after removing a stale socket file.
/// A live daemon answering there is [`BindError::InUse`].
pub fn bind(path: &Path) -> Result<(UnixListener, SocketFile), BindError> {
    let io_err = |source| BindError::Io {
        path: path.to_owned(),
        source,
    };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(BindError::NotASocket(path.to_owned()));
        }
        if UnixStream::connect(path).is_ok() {
            return Err(BindError::InUse(path.to_owned()));
        }
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_err(e)),
            _ => {}
        }
    }
    // The daemon is single-threaded here, so the process-wide umask change cannot race
    // another file creation; it makes bind() create the file 0600 with no window.
    let old = umask(Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(path);
    umask(old);
    let listener = bound.map_err(io_err)?;
    listener.set_nonblocking(true).map_err(io_err)?;
    let dev_ino = std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()));
    Ok((
        listener,
        SocketFile {
            path: path.to_owned(),
            dev_ino,
        },
    ))
}

/// Whether a connected peer may talk to the daemon: same uid, or root.
pub fn peer_allowed(stream: &UnixStream) -> Result<bool, io::Error> {
    let cred = getsockopt(stream, PeerCredentials)?;
    let me = nix::unistd::geteuid().as_raw();
    Ok(cred.uid() == me || cred.uid() == 0)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn binds_owner_only_and_detects_live_and_stale_sockets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sock");
        let (listener, file) = bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(matches!(bind(&path), Err(BindError::InUse(_))));
        let peer = UnixStream::connect(&path).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        assert!(peer_allowed(&accepted).unwrap());
        drop((listener, peer, accepted));
        // Nobody listens any more: the file is stale and is taken over.
        drop(file);
        let (_listener, file2) = bind(&path).unwrap();
        file2.remove();
        assert!(!path.exists());
    }

    #[test]
    fn refuses_to_remove_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sock");
        std::fs::write(&path, "x").unwrap();
        assert!(matches!(bind(&path), Err(BindError::NotASocket(_))));
    }
}
