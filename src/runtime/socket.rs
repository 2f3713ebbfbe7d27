//! The control socket's file: taking the path over safely, binding it owner-only, checking
//! who connects, and removing it again on shutdown.
//!
//! Taking a path over, in order:
//! 1. **Its folder.** A folder another user can write to (owned by another user, or
//!    group- or world-writable) could let that user swap the socket under the daemon's
//!    clients, so it is refused, unless it is sticky (`/tmp`) and the path is free or is
//!    already a socket of ours (the sticky bit keeps others from replacing it). A
//!    group-writable folder counts as ours when the group is our own, private one.
//! 2. **The lock.** `PATH.lock` beside the socket is `flock`ed, exclusively and without
//!    waiting, and held for the daemon's whole life: two daemons starting together on the
//!    same stale socket cannot both take it over; the second is refused as "in use".
//! 3. **A stale socket.** A socket file nobody answers on is removed; one a live daemon
//!    answers on is [`BindError::InUse`]; anything else there is left alone.
//! 4. **Bind** with a umask of 0177: the file is 0600 from its first instant.

use std::fs::File;
use std::io;
use std::os::unix::fs::{
    DirBuilderExt as _, FileTypeExt as _, MetadataExt as _, OpenOptionsExt as _,
    PermissionsExt as _,
};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use nix::sys::stat::{Mode, umask};
use nix::unistd::{Gid, Group, Uid, User};

/// Why the socket cannot be taken; a hint, where there is one, is the diagnostic's `help`
/// (printed by the CLI after the message), not part of the message.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(crate) enum BindError {
    #[error("a daemon is already listening on {}", .0.display())]
    InUse(PathBuf),
    #[error(
        "another taskmaster is taking over {} right now (its lock file {}.lock is held)",
        .0.display(), .0.display()
    )]
    Locked(PathBuf),
    #[error("{} exists and is not a socket; not removing it", .0.display())]
    NotASocket(PathBuf),
    #[error("refusing to listen on {}: {why}", path.display())]
    #[diagnostic(help(
        "put the socket in a folder only you can write to (--socket PATH, or `socket` in the config)"
    ))]
    UnsafeFolder { path: PathBuf, why: String },
    #[error("cannot listen on {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// The bound socket file and its lock; [`SocketFile::remove`] deletes both if they are still
/// ours. The lock is released when the process exits.
#[derive(Debug)]
pub(crate) struct SocketFile {
    path: PathBuf,
    dev_ino: Option<(u64, u64)>,
    lock: Option<Lock>,
}

#[derive(Debug)]
struct Lock {
    path: PathBuf,
    dev_ino: (u64, u64),
    _held: Flock<File>,
}

impl SocketFile {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the socket file unless something else has replaced it meanwhile, then the
    /// lock file (still held: whoever opened it before the unlink finds, once it gets the
    /// lock, that the path names another file now, and tries again).
    pub(crate) fn remove(&self) {
        if same_file(&self.path, self.dev_ino) {
            let _ = std::fs::remove_file(&self.path);
        }
        if let Some(lock) = &self.lock
            && same_file(&lock.path, Some(lock.dev_ino))
        {
            let _ = std::fs::remove_file(&lock.path);
        }
    }
}

fn dev_ino(meta: &std::fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

fn same_file(path: &Path, dev_ino: Option<(u64, u64)>) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| Some((m.dev(), m.ino())) == dev_ino)
}

/// `PATH.lock`, beside the socket.
pub(crate) fn lock_path(socket: &Path) -> PathBuf {
    let mut name = socket.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Binds `path` (mode 0600 from the first instant), after the checks in the module doc.
pub(crate) fn bind(path: &Path) -> Result<(UnixListener, SocketFile), BindError> {
    let io_err = |source| BindError::Io {
        path: path.to_owned(),
        source,
    };
    check_folder(path)?;
    let lock = take_lock(path)?;
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
    let dev_ino = std::fs::symlink_metadata(path).ok().map(|m| dev_ino(&m));
    Ok((
        listener,
        SocketFile {
            path: path.to_owned(),
            dev_ino,
            lock: Some(lock),
        },
    ))
}

/// Refuses a socket path whose folder another user can write to (see the module doc).
fn check_folder(path: &Path) -> Result<(), BindError> {
    let unsafe_folder = |why: String| BindError::UnsafeFolder {
        path: path.to_owned(),
        why,
    };
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let meta = std::fs::metadata(folder).map_err(|source| BindError::Io {
        path: path.to_owned(),
        source,
    })?;
    let me = Uid::effective().as_raw();
    let owner = meta.uid();
    if owner != me && owner != 0 {
        return Err(unsafe_folder(format!(
            "its folder {} belongs to uid {owner}",
            folder.display()
        )));
    }
    let mode = meta.mode();
    let writable_by_others =
        mode & 0o002 != 0 || (mode & 0o020 != 0 && !group_is_private(meta.gid()));
    if !writable_by_others {
        return Ok(());
    }
    let sticky = mode & 0o1000 != 0;
    let ours_or_free = |p: &Path| match std::fs::symlink_metadata(p) {
        Err(e) => e.kind() == io::ErrorKind::NotFound,
        Ok(m) => m.uid() == me && (m.file_type().is_socket() || m.file_type().is_file()),
    };
    if sticky && ours_or_free(path) && ours_or_free(&lock_path(path)) {
        return Ok(());
    }
    Err(unsafe_folder(format!(
        "other users can write to its folder {} (mode {:o}){}",
        folder.display(),
        mode & 0o7777,
        if sticky {
            " and the path is already taken"
        } else {
            ""
        }
    )))
}

/// Whether group `gid` is our own private group: our effective group, listing no member
/// but us (the usual user-private-group setup, where folders may be group-writable).
fn group_is_private(gid: u32) -> bool {
    if gid != Gid::effective().as_raw() {
        return false;
    }
    let me = User::from_uid(Uid::effective())
        .ok()
        .flatten()
        .map(|u| u.name);
    match Group::from_gid(Gid::from_raw(gid)) {
        Ok(Some(group)) => group.mem.iter().all(|m| Some(m) == me.as_ref()),
        _ => false,
    }
}

/// Takes `PATH.lock` (created 0600, never through a symlink) without waiting.
fn take_lock(socket: &Path) -> Result<Lock, BindError> {
    let path = lock_path(socket);
    let io_err = |source| BindError::Io {
        path: socket.to_owned(),
        source,
    };
    // A few rounds at most: each retry means the file was replaced while we waited for it.
    for _ in 0..3 {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&path)
            .map_err(io_err)?;
        let meta = file.metadata().map_err(io_err)?;
        if meta.uid() != Uid::effective().as_raw() || !meta.file_type().is_file() {
            return Err(BindError::UnsafeFolder {
                path: socket.to_owned(),
                why: format!(
                    "its lock file {} is not a file of ours (uid {})",
                    path.display(),
                    meta.uid()
                ),
            });
        }
        let held = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(held) => held,
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                return Err(if UnixStream::connect(socket).is_ok() {
                    BindError::InUse(socket.to_owned())
                } else {
                    BindError::Locked(socket.to_owned())
                });
            }
            Err((_, errno)) => return Err(io_err(errno.into())),
        };
        // The previous holder may have removed the file between our open and our lock.
        if same_file(&path, Some(dev_ino(&meta))) {
            return Ok(Lock {
                path,
                dev_ino: dev_ino(&meta),
                _held: held,
            });
        }
    }
    Err(BindError::Locked(socket.to_owned()))
}

/// Creates `folder` (the fallback `/tmp/taskmaster-$UID`) 0700, or checks that the existing
/// one is a real folder of ours that nobody else can write to.
pub(crate) fn private_folder(folder: &Path) -> Result<(), BindError> {
    let unsafe_folder = |why: String| BindError::UnsafeFolder {
        path: folder.to_owned(),
        why,
    };
    match std::fs::DirBuilder::new().mode(0o700).create(folder) {
        // Exactly 0700 whatever the umask took away (a umask of 0177 would leave 0600).
        Ok(()) => std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o700))
            .map_err(|source| BindError::Io {
                path: folder.to_owned(),
                source,
            })?,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(source) => {
            return Err(BindError::Io {
                path: folder.to_owned(),
                source,
            });
        }
    }
    let meta = std::fs::symlink_metadata(folder).map_err(|source| BindError::Io {
        path: folder.to_owned(),
        source,
    })?;
    if !meta.file_type().is_dir() {
        return Err(unsafe_folder(format!(
            "{} is not a folder",
            folder.display()
        )));
    }
    if meta.uid() != Uid::effective().as_raw() {
        return Err(unsafe_folder(format!(
            "{} belongs to uid {}",
            folder.display(),
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(unsafe_folder(format!(
            "other users can write to {} (mode {:o})",
            folder.display(),
            meta.mode() & 0o7777
        )));
    }
    Ok(())
}

/// Whether a connected peer may talk to the daemon: same uid, or root.
pub(crate) fn peer_allowed(stream: &UnixStream) -> Result<bool, io::Error> {
    let cred = getsockopt(stream, PeerCredentials)?;
    let me = nix::unistd::geteuid().as_raw();
    Ok(cred.uid() == me || cred.uid() == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hint is the diagnostic's `help`, not part of the message, and `RunError`
    /// passes it on.
    #[test]
    fn the_unsafe_folder_hint_is_help_not_message() {
        let err = BindError::UnsafeFolder {
            path: "/tmp/shared/t.sock".into(),
            why: "other users can write to its folder".into(),
        };
        assert_eq!(
            err.to_string(),
            "refusing to listen on /tmp/shared/t.sock: other users can write to its folder"
        );
        let help = miette::Diagnostic::help(&err).expect("a help").to_string();
        assert!(
            help.starts_with("put the socket in a folder only you"),
            "{help}"
        );
        let err = crate::runtime::RunError::from(err);
        let passed_on = miette::Diagnostic::help(&err).map(|h| h.to_string());
        assert_eq!(passed_on, Some(help));
    }

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
    fn a_held_lock_refuses_a_second_takeover() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sock");
        let (_listener, file) = bind(&path).unwrap();
        assert!(lock_path(&path).exists());
        // Someone else holds the lock and nothing answers yet: a takeover in progress.
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(bind(&path), Err(BindError::Locked(_))));
        drop(file);
        let (_listener, file) = bind(&path).unwrap();
        file.remove();
        assert!(!path.exists() && !lock_path(&path).exists());
    }

    #[test]
    fn folders_others_can_write_to_are_refused_unless_sticky_and_free() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        let chmod = |mode| {
            std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        chmod(0o777);
        let path = shared.join("t.sock");
        assert!(matches!(bind(&path), Err(BindError::UnsafeFolder { .. })));
        chmod(0o1777);
        let (listener, file) = bind(&path).unwrap();
        drop((listener, file));
        // Our own stale socket in a sticky folder: nobody else could have replaced it.
        let (_listener, file2) = bind(&path).unwrap();
        file2.remove();
        std::fs::write(&path, "planted").unwrap();
        assert!(matches!(bind(&path), Err(BindError::NotASocket(_))));
    }

    #[test]
    fn the_private_folder_is_created_0700_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("tm");
        private_folder(&folder).unwrap();
        let mode = std::fs::metadata(&folder).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        private_folder(&folder).unwrap();
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(
            private_folder(&folder),
            Err(BindError::UnsafeFolder { .. })
        ));
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap();
        assert!(private_folder(&link).is_err());
    }

    #[test]
    fn refuses_to_remove_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sock");
        std::fs::write(&path, "x").unwrap();
        assert!(matches!(bind(&path), Err(BindError::NotASocket(_))));
    }
}
