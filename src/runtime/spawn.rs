//! Spawning one child the way the contract says, and nothing else.
//!
//! The child gets: stdin from /dev/null; stdout/stderr as a file opened here (appended, handed
//! to the child directly so output never passes through the daemon), /dev/null, or a pipe the
//! daemon reads into its ring; its own process group; an empty signal mask (the daemon blocks
//! SIGHUP/SIGTERM/SIGINT for its signalfd and exec keeps the mask) and every signal's default
//! action (exec keeps ignored signals ignored too); the program's umask; the
//! daemon's original `RLIMIT_NOFILE` soft limit (the daemon raises its own to watch many
//! children); the daemon's environment plus `env`; `cmd[0]` looked up on the *child's* PATH.
//!
//! The exit is watched through a pidfd opened right after the fork (a zombie still has one,
//! so no exit can be missed); nothing here ever calls `waitpid(-1)`.

use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::sys::signal::SigSet;
use nix::sys::stat::{Mode, umask};
use rustix::process::{Pid, PidfdFlags, Resource, Rlimit, pidfd_open};

use crate::plan::model::{OutputTarget, ProgramSpec};

/// What every spawn shares, computed once at start-up.
#[derive(Debug, Clone)]
pub struct SpawnContext {
    /// The daemon's PATH, used when `env` does not set one.
    pub path: Option<OsString>,
    /// The `RLIMIT_NOFILE` the daemon started with, restored in children.
    pub nofile: Option<Rlimit>,
}

impl SpawnContext {
    /// Reads PATH and raises the daemon's own open-file limit to its hard limit (each child
    /// costs the daemon up to three fds: pidfd and two pipes).
    pub fn init() -> Self {
        let original = rustix::process::getrlimit(Resource::Nofile);
        let raised = Rlimit {
            current: original.maximum,
            maximum: original.maximum,
        };
        let nofile = (raised != original
            && rustix::process::setrlimit(Resource::Nofile, raised).is_ok())
        .then_some(original);
        SpawnContext {
            path: std::env::var_os("PATH"),
            nofile,
        }
    }
}

/// A child that started.
#[derive(Debug)]
pub struct Spawned {
    pub pid: i32,
    pub pidfd: OwnedFd,
    /// The read ends of the output pipes, non-blocking, for `Memory` targets.
    pub stdout: Option<File>,
    pub stderr: Option<File>,
}

/// Why a child could not be started; shown as the process's `reason`.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("{program}: not found on PATH")]
    NotFound { program: String },
    #[error("{}: {source}", path.display())]
    NotExecutable { path: PathBuf, source: io::Error },
    #[error("workingdir {}: {source}", path.display())]
    WorkingDir { path: PathBuf, source: io::Error },
    #[error("cannot open {stream} file {}: {source}", path.display())]
    Output {
        stream: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("cannot start {program}: {source}")]
    Exec { program: String, source: io::Error },
    #[error("cannot watch the child: {0}")]
    Watch(io::Error),
}

/// Starts one process of `spec`.
pub fn spawn(spec: &ProgramSpec, ctx: &SpawnContext) -> Result<Spawned, SpawnError> {
    let Some(program) = spec.cmd.first() else {
        return Err(SpawnError::NotFound {
            program: String::new(),
        });
    };
    if let Some(dir) = &spec.workingdir {
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(SpawnError::WorkingDir {
                    path: dir.clone(),
                    source: io::Error::from_raw_os_error(nix::libc::ENOTDIR),
                });
            }
            Err(source) => {
                return Err(SpawnError::WorkingDir {
                    path: dir.clone(),
                    source,
                });
            }
        }
    }
    let path_var = spec.env.get("PATH").map(OsStr::new).or(ctx.path.as_deref());
    let exe = resolve_program(program, path_var, spec.workingdir.as_deref())?;

    let mut cmd = Command::new(&exe);
    cmd.arg0(program)
        .args(&spec.cmd[1..])
        .stdin(Stdio::null())
        .stdout(output(&spec.stdout, "stdout")?)
        .stderr(output(&spec.stderr, "stderr")?)
        .process_group(0);
    // Left untouched, std passes the daemon's environment as is (no copy per spawn).
    if !spec.env.is_empty() {
        cmd.envs(&spec.env);
    }
    if let Some(dir) = &spec.workingdir {
        cmd.current_dir(dir);
    }
    let child_umask = spec.umask.map(|m| Mode::from_bits_truncate(m & 0o777));
    let nofile = ctx.nofile;
    // SAFETY: between fork and exec only async-signal-safe calls are made: sigprocmask,
    // signal, umask and setrlimit are plain syscalls; nothing allocates or takes a lock.
    unsafe {
        cmd.pre_exec(move || {
            SigSet::empty().thread_set_mask()?;
            reset_signal_dispositions();
            if let Some(mask) = child_umask {
                umask(mask);
            }
            if let Some(limit) = nofile {
                // Best effort: a child keeping the raised limit is harmless.
                let _ = rustix::process::setrlimit(Resource::Nofile, limit);
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|source| SpawnError::Exec {
        program: program.clone(),
        source,
    })?;
    let pid = child.id();
    let stdout = child.stdout.take().and_then(|p| nonblocking(p.into()));
    let stderr = child.stderr.take().and_then(|p| nonblocking(p.into()));
    let raw = i32::try_from(pid).ok().and_then(Pid::from_raw);
    let pidfd = match raw.map(|p| pidfd_open(p, PidfdFlags::empty())) {
        Some(Ok(fd)) => fd,
        failed => {
            // Without a pidfd the exit could not be seen: don't leave it unsupervised.
            let _ = child.kill();
            let _ = child.wait();
            let err = match failed {
                Some(Err(e)) => io::Error::from(e),
                _ => io::Error::other("pid out of range"),
            };
            return Err(SpawnError::Watch(err));
        }
    };
    // `child` is dropped without waiting: the pidfd watcher reaps it with waitpid(pid).
    Ok(Spawned {
        pid: Pid::as_raw(raw),
        pidfd,
        stdout,
        stderr,
    })
}

/// Gives every signal its default action back. exec keeps SIG_IGN, so a daemon started
/// with signals ignored (`nohup`, `trap '' INT`, a shell's `&`) would otherwise pass that on
/// and a `stopsignal` such as INT or HUP would be ignored until the SIGKILL.
/// Only called between fork and exec.
fn reset_signal_dispositions() {
    use nix::libc;
    for signal in 1..=libc::SIGRTMAX() {
        if signal != libc::SIGKILL && signal != libc::SIGSTOP {
            // SAFETY: signal(2) with SIG_DFL is async-signal-safe and installs no handler
            // code; errors (signals reserved by libc) are harmless and ignored.
            unsafe { libc::signal(signal, libc::SIG_DFL) };
        }
    }
}

fn output(target: &OutputTarget, stream: &'static str) -> Result<Stdio, SpawnError> {
    Ok(match target {
        OutputTarget::Memory => Stdio::piped(),
        OutputTarget::Discard => Stdio::null(),
        OutputTarget::File(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| SpawnError::Output {
                    stream,
                    path: path.clone(),
                    source,
                })?;
            Stdio::from(file)
        }
    })
}

/// The read end of an output pipe, made non-blocking for the event loop. If that fails the
/// pipe is dropped (a blocking read would stall every process), and the child's writes fail.
fn nonblocking(fd: OwnedFd) -> Option<File> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = OFlag::from_bits_truncate(fcntl(&fd, FcntlArg::F_GETFL).ok()?);
    fcntl(&fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).ok()?;
    Some(File::from(fd))
}

/// Finds the executable `cmd[0]` names: a path (relative ones against `workingdir`), or a
/// name searched on `path_var`.
pub fn resolve_program(
    program: &str,
    path_var: Option<&OsStr>,
    workingdir: Option<&Path>,
) -> Result<PathBuf, SpawnError> {
    if program.contains('/') {
        let path = match workingdir {
            Some(dir) if Path::new(program).is_relative() => dir.join(program),
            _ => PathBuf::from(program),
        };
        return match std::fs::metadata(&path) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(path),
            Ok(_) => Err(SpawnError::NotExecutable {
                path,
                source: io::Error::from_raw_os_error(nix::libc::EACCES),
            }),
            Err(source) => Err(SpawnError::NotExecutable { path, source }),
        };
    }
    if !program.is_empty() {
        for dir in std::env::split_paths(path_var.unwrap_or_default()) {
            if dir.as_os_str().is_empty() {
                continue;
            }
            let candidate = dir.join(program);
            if let Ok(m) = std::fs::metadata(&candidate)
                && m.is_file()
                && m.permissions().mode() & 0o111 != 0
            {
                return Ok(candidate);
            }
        }
    }
    Err(SpawnError::NotFound {
        program: program.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_on_the_given_path() {
        let found = resolve_program("sh", Some(OsStr::new("/nonexistent:/bin:/usr/bin")), None);
        assert!(found.is_ok_and(|p| p.ends_with("sh")));
        let missing = resolve_program("no-such-program-xyz", Some(OsStr::new("/bin")), None);
        assert!(matches!(missing, Err(SpawnError::NotFound { .. })));
        // An empty PATH finds nothing, even a program that exists elsewhere.
        assert!(resolve_program("sh", Some(OsStr::new("")), None).is_err());
    }

    #[test]
    fn relative_paths_resolve_against_workingdir() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("run.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        assert!(resolve_program("./run.sh", None, Some(dir.path())).is_err());
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            resolve_program("./run.sh", None, Some(dir.path())).unwrap(),
            dir.path().join("./run.sh")
        );
    }

    #[test]
    fn spawn_errors_name_their_cause() {
        let ctx = SpawnContext {
            path: Some("/bin:/usr/bin".into()),
            nofile: None,
        };
        let mut spec = ProgramSpec::with_defaults("p", vec!["true".into()]);
        spec.workingdir = Some("/no/such/dir".into());
        let err = spawn(&spec, &ctx).unwrap_err().to_string();
        assert!(err.starts_with("workingdir /no/such/dir:"), "{err}");
        spec.workingdir = None;
        spec.stdout = OutputTarget::File("/no/such/dir/out.log".into());
        let err = spawn(&spec, &ctx).unwrap_err().to_string();
        assert!(err.starts_with("cannot open stdout file"), "{err}");
    }
}
