//! Spawning one child the way the contract says, and nothing else.
//!
//! The child gets: stdin from /dev/null; stdout/stderr as a file opened here (appended, handed
//! to the child directly so output never passes through the daemon; opened without blocking,
//! so a FIFO without a reader is a failed attempt, see [`logtarget`]), /dev/null, or a pipe the
//! daemon reads into its ring (memory, and a file with a block, which the daemon writes
//! itself: [`super::logfile`]); with `stderr "stdout"`, fd 2 is the very descriptor fd 1
//! gets; its own process group; an empty signal mask (the daemon blocks
//! every catchable signal for its signalfd and exec keeps the mask) and every signal's default
//! action (exec keeps ignored signals ignored too); the program's umask; the
//! daemon's original `RLIMIT_NOFILE` soft limit (the daemon raises its own to watch many
//! children); the daemon's environment plus `env`; `cmd[0]` looked up on the *child's* PATH.
//!
//! Three ways to get there. Without a `workingdir` or an identity setting, `posix_spawn`:
//! glibc starts the child with `CLONE_VM | CLONE_VFORK`, so nothing of the daemon's address
//! space is copied and torn down again per spawn (with 1,000 children that copy was most of
//! the daemon's share of the spawn time). What posix_spawn cannot set (umask, rlimit) the
//! daemon takes on itself for the instant of the call, and the child inherits it. Both are
//! process-wide: the daemon's other threads (the compile worker, the stderr writer) create
//! no files, but a compile opening the config at that very instant sees the child's
//! `RLIMIT_NOFILE`. With a `workingdir`, `user`, `group`, `groups` or `limits` (which
//! posix_spawn cannot do), the same kind of clone done here ([`vfork`]): the child changes
//! directory, then applies the limits, groups, group and user ([`creds`], prepared before
//! the clone) and execs. For a script without `#!` (which only `execvp`'s shell fallback
//! runs), std's fork + `pre_exec` + exec.
//!
//! Placeholders (`{process_num}`…) are expanded first, for the process being started
//! ([`crate::plan::placeholder`]). The environment is, each layer winning over the ones
//! before: the daemon's, HOME/USER/LOGNAME/SHELL of `user`, the env files' variables, `env`,
//! and the identity variables below.
//!
//! Every child also gets `TASKMASTER_PROGRAM`, `TASKMASTER_PROCESS` and
//! `TASKMASTER_PROCESS_NUM` (the contract's "Process identity"): they tell whose a process is
//! even after it left its group with `setsid`. Output files are created with the program's
//! umask, like everything the child creates. Descriptors the daemon inherited are marked
//! close-on-exec at start-up ([`cloexec_inherited_fds`]), so neither path passes them on.
//!
//! Nothing here waits for a child: the daemon's reaper (`waitpid(-1)` on SIGCHLD) reaps
//! every child and routes the status of the ones spawned here to their process.

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd as _, AsRawFd as _, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::fcntl::OFlag;
use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags, posix_spawn};
use nix::sys::signal::SigSet;
use nix::sys::stat::{Mode, umask};
use rustix::process::{Resource, Rlimit};

use super::logtarget::{self, OpenError};
use crate::plan::model::{OutputTarget, ProgramSpec};
use crate::plan::placeholder::{self, Who};

mod creds;
mod vfork;
use creds::Switch;
pub(crate) use creds::SwitchError;

/// What every spawn shares, computed once at start-up.
#[derive(Debug, Clone)]
pub(crate) struct SpawnContext {
    /// The daemon's PATH, used when `env` does not set one.
    pub path: Option<OsString>,
    /// The `RLIMIT_NOFILE` the daemon started with, restored in children.
    pub nofile: Option<Rlimit>,
    /// The daemon's environment as `KEY=value` strings, built once rather than per spawn.
    pub environ: Vec<CString>,
}

impl SpawnContext {
    /// Reads PATH and the environment, and raises the daemon's own open-file limit to its
    /// hard limit (each child costs the daemon up to three fds: pidfd and two pipes).
    pub(crate) fn init() -> Self {
        let original = rustix::process::getrlimit(Resource::Nofile);
        let raised = Rlimit {
            current: original.maximum,
            maximum: original.maximum,
        };
        let nofile = (raised != original
            && rustix::process::setrlimit(Resource::Nofile, raised).is_ok())
        .then_some(original);
        let environ = std::env::vars_os()
            .filter_map(|(k, v)| {
                let mut kv = k.into_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                CString::new(kv).ok()
            })
            .collect();
        SpawnContext {
            path: std::env::var_os("PATH"),
            nofile,
            environ,
        }
    }
}

/// Who a child is, passed to it as `TASKMASTER_PROGRAM`, `TASKMASTER_PROCESS` and
/// `TASKMASTER_PROCESS_NUM`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Identity<'a> {
    pub program: &'a str,
    pub process: &'a str,
    pub num: u32,
}

impl Identity<'_> {
    fn vars(&self) -> [(&'static str, String); 3] {
        [
            ("TASKMASTER_PROGRAM", self.program.to_owned()),
            ("TASKMASTER_PROCESS", self.process.to_owned()),
            ("TASKMASTER_PROCESS_NUM", self.num.to_string()),
        ]
    }
}

/// A child that started.
#[derive(Debug)]
pub(crate) struct Spawned {
    pub pid: i32,
    /// The read ends of the output pipes, non-blocking, for `Memory` targets.
    pub stdout: Option<File>,
    pub stderr: Option<File>,
}

/// Why a child could not be started; shown as the process's `reason`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpawnError {
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
    #[error("no reader on FIFO {}", path.display())]
    NoReader { path: PathBuf },
    /// The daemon could not make the pipe a `Memory` output is read from.
    #[error("cannot create {stream} pipe: {source}")]
    Pipe {
        stream: &'static str,
        source: io::Error,
    },
    #[error("cannot start {program}: {source}")]
    Exec { program: String, source: io::Error },
    /// `user`, `group`, `groups` or `limits` cannot be applied.
    #[error(transparent)]
    Switch(#[from] SwitchError),
}

/// Where one output stream of the child goes, opened by the daemon before the spawn.
enum Output {
    /// `Memory`: the child writes `write`; the daemon keeps `read`.
    Pipe {
        read: OwnedFd,
        write: OwnedFd,
    },
    Discard,
    File(File),
}

impl Output {
    fn open(target: &OutputTarget, stream: &'static str) -> Result<Output, SpawnError> {
        Ok(match target {
            // A daemon-written file is read from a pipe, like memory.
            OutputTarget::Memory | OutputTarget::Written(..) => {
                let (read, write) =
                    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| SpawnError::Pipe {
                        stream,
                        source: e.into(),
                    })?;
                Output::Pipe { read, write }
            }
            // Not reached for stderr (see `spawn`); stdout never takes it.
            OutputTarget::Discard | OutputTarget::SameAsStdout => Output::Discard,
            OutputTarget::File(path) => {
                let output_error = |source| SpawnError::Output {
                    stream,
                    path: path.clone(),
                    source,
                };
                let file = logtarget::open(path).map_err(|e| match e {
                    OpenError::NoReader(path) => SpawnError::NoReader { path },
                    OpenError::Io(source) => output_error(source),
                })?;
                // The child shares this open file description and expects blocking writes.
                logtarget::set_blocking(&file).map_err(output_error)?;
                Output::File(file)
            }
        })
    }

    /// The descriptor the child gets, or `None` for /dev/null.
    fn child_end(&self) -> Option<BorrowedFd<'_>> {
        match self {
            Output::Pipe { write, .. } => Some(write.as_fd()),
            Output::Discard => None,
            Output::File(f) => Some(f.as_fd()),
        }
    }

    fn stdio(&self) -> io::Result<Stdio> {
        Ok(match self.child_end() {
            Some(fd) => Stdio::from(fd.try_clone_to_owned()?),
            None => Stdio::null(),
        })
    }

    /// The daemon's end, once the child has its own: the write end closes here.
    fn into_reader(self) -> Option<File> {
        match self {
            Output::Pipe { read, .. } => nonblocking(read),
            _ => None,
        }
    }
}

/// Starts one process of `spec`, its placeholders expanded for `who`.
pub(crate) fn spawn(
    spec: &ProgramSpec,
    ctx: &SpawnContext,
    who: &Identity<'_>,
) -> Result<Spawned, SpawnError> {
    let expanded = placeholder::expand_spec(
        spec,
        &Who {
            program: who.program,
            process: who.process,
            num: who.num,
        },
    );
    let spec: &ProgramSpec = &expanded;
    let switch = Switch::prepare(spec, nix::unistd::geteuid().as_raw())?;
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
    let path_var = spec
        .env
        .get("PATH")
        .or(spec.env_file.vars.get("PATH"))
        .map(OsStr::new)
        .or(ctx.path.as_deref());
    let exe = resolve_program(program, path_var, spec.workingdir.as_deref())?;
    // Created with the program's umask, as the child would create them.
    let (stdout, stderr) = {
        let _lent = Lent::apply(spec.umask, None);
        let stdout = Output::open(&spec.stdout, "stdout")?;
        // `stderr "stdout"`: the child's fd 2 is its fd 1 (the same file, pipe or /dev/null).
        let stderr = match spec.stderr {
            OutputTarget::SameAsStdout => None,
            _ => Some(Output::open(&spec.stderr, "stderr")?),
        };
        (stdout, stderr)
    };
    let stderr_end = stderr.as_ref().unwrap_or(&stdout);

    // posix_spawn has no chdir action here, no shell fallback for a script without
    // `#!` (it reports ENOEXEC where execvp would run it with /bin/sh), and cannot set
    // limits, groups or ids.
    let started = if spec.workingdir.is_none() && switch.is_empty() {
        match spawn_direct(spec, ctx, who, &exe, &stdout, stderr_end) {
            Err(e) if e.raw_os_error() == Some(nix::libc::ENOEXEC) => {
                spawn_forked(spec, ctx, who, &exe, &stdout, stderr_end, switch)
            }
            other => other,
        }
    } else {
        match spawn_cloned(spec, ctx, who, &exe, &stdout, stderr_end, &switch) {
            Err(e) if e.raw_os_error() == Some(nix::libc::ENOEXEC) => {
                spawn_forked(spec, ctx, who, &exe, &stdout, stderr_end, switch)
            }
            other => other,
        }
    };
    let raw = started.map_err(|source| SpawnError::Exec {
        program: program.clone(),
        source,
    })?;
    Ok(Spawned {
        pid: raw,
        stdout: stdout.into_reader(),
        stderr: stderr.and_then(Output::into_reader),
    })
}

/// posix_spawn (vfork-style). Returns the pid; `ENOEXEC` means "try the fork path".
fn spawn_direct(
    spec: &ProgramSpec,
    ctx: &SpawnContext,
    who: &Identity<'_>,
    exe: &Path,
    stdout: &Output,
    stderr: &Output,
) -> io::Result<i32> {
    let mut actions = PosixSpawnFileActions::init()?;
    actions.add_open(0, c"/dev/null", OFlag::O_RDONLY, Mode::empty())?;
    for (output, fd) in [(stdout, 1), (stderr, 2)] {
        match output.child_end() {
            // glibc clears FD_CLOEXEC on the target, also when both are the same fd.
            Some(end) => actions.add_dup2(end.as_raw_fd(), fd)?,
            None => actions.add_open(fd, c"/dev/null", OFlag::O_WRONLY, Mode::empty())?,
        }
    }
    let mut attr = PosixSpawnAttr::init()?;
    attr.set_flags(
        PosixSpawnFlags::POSIX_SPAWN_SETPGROUP
            | PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK
            | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF,
    )?;
    attr.set_pgroup(nix::unistd::Pid::from_raw(0))?;
    attr.set_sigmask(&SigSet::empty())?;
    // Every signal back to its default action, as reset_signal_dispositions does.
    attr.set_sigdefault(&SigSet::all())?;
    let argv = argv(spec)?;
    let envp = environment(spec, ctx, who)?;
    let _lent = Lent::apply(spec.umask, ctx.nofile);
    let pid = posix_spawn(exe, &actions, &attr, &argv, &envp)?;
    Ok(pid.as_raw())
}

/// `cmd` as the C strings exec takes.
fn argv(spec: &ProgramSpec) -> io::Result<Vec<CString>> {
    spec.cmd
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| nul_error())
}

fn nul_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "nul byte found in provided data",
    )
}

/// The daemon's environment, then (each winning over the ones before) HOME, USER, LOGNAME
/// and SHELL of `user`, the env files' variables, `env`, and the process's identity (which
/// wins over all: it is how the daemon recognises the process later).
fn environment(
    spec: &ProgramSpec,
    ctx: &SpawnContext,
    who: &Identity<'_>,
) -> io::Result<Vec<CString>> {
    let identity = who.vars();
    let account = creds::account_vars(spec);
    let mut own: BTreeMap<&str, &str> = BTreeMap::new();
    let layers = account
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .chain(
            spec.env_file
                .vars
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .chain(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .chain(identity.iter().map(|(k, v)| (*k, v.as_str())));
    for (k, v) in layers {
        own.insert(k, v);
    }
    let overridden = |kv: &CString| {
        let bytes = kv.as_bytes();
        let key = bytes.split(|&b| b == b'=').next().unwrap_or(bytes);
        std::str::from_utf8(key).is_ok_and(|k| own.contains_key(k))
    };
    let mut env: Vec<CString> = ctx
        .environ
        .iter()
        .filter(|kv| !overridden(kv))
        .cloned()
        .collect();
    for (k, v) in &own {
        env.push(CString::new(format!("{k}={v}")).map_err(|_| nul_error())?);
    }
    Ok(env)
}

/// The umask and open-file limit the child must start with, which posix_spawn cannot set:
/// the daemon takes them on while the child is created (on the loop's thread; see the module
/// doc about the other threads), and gets its own back when this is dropped.
struct Lent {
    umask: Option<Mode>,
    nofile: Option<Rlimit>,
}

impl Lent {
    fn apply(child_umask: Option<u32>, nofile: Option<Rlimit>) -> Lent {
        let umask = child_umask.map(|m| umask(Mode::from_bits_truncate(m & 0o777)));
        let nofile = nofile.and_then(|original| {
            let ours = rustix::process::getrlimit(Resource::Nofile);
            // Best effort: a child keeping the raised limit is harmless.
            rustix::process::setrlimit(Resource::Nofile, original)
                .ok()
                .map(|()| ours)
        });
        Lent { umask, nofile }
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        if let Some(mask) = self.umask {
            umask(mask);
        }
        if let Some(limit) = self.nofile {
            // Raising the soft limit back up to the unchanged hard limit cannot fail.
            let _ = rustix::process::setrlimit(Resource::Nofile, limit);
        }
    }
}

/// clone(CLONE_VM | CLONE_VFORK) + exec, for what posix_spawn cannot do here (see
/// [`vfork`]).
fn spawn_cloned(
    spec: &ProgramSpec,
    ctx: &SpawnContext,
    who: &Identity<'_>,
    exe: &Path,
    stdout: &Output,
    stderr: &Output,
    switch: &Switch,
) -> io::Result<i32> {
    let exe = CString::new(exe.as_os_str().as_bytes()).map_err(|_| nul_error())?;
    let argv = argv(spec)?;
    let envp = environment(spec, ctx, who)?;
    let workingdir = spec
        .workingdir
        .as_ref()
        .map(|d| CString::new(d.as_os_str().as_bytes()))
        .transpose()
        .map_err(|_| nul_error())?;
    let mut plan = vfork::Plan::new(
        &exe,
        vfork::pointers(&argv),
        vfork::pointers(&envp),
        stdout.child_end().map(|fd| fd.as_raw_fd()),
        stderr.child_end().map(|fd| fd.as_raw_fd()),
        workingdir.as_deref(),
        spec.umask.map(|m| m & 0o777),
        ctx.nofile,
        switch,
    );
    vfork::spawn(&mut plan).map_err(|(e, step)| match step {
        vfork::Step::Exec | vfork::Step::None => e,
        vfork::Step::Stdio => io::Error::new(e.kind(), format!("setting up stdio: {e}")),
        vfork::Step::Chdir => io::Error::new(e.kind(), format!("workingdir: {e}")),
        vfork::Step::Switch => io::Error::new(
            e.kind(),
            format!("applying limits, groups, group or user: {e}"),
        ),
    })
}

/// std's fork + exec: the shell fallback for a script without `#!` (execvp runs it with
/// /bin/sh, which execve and posix_spawn do not).
fn spawn_forked(
    spec: &ProgramSpec,
    ctx: &SpawnContext,
    who: &Identity<'_>,
    exe: &Path,
    stdout: &Output,
    stderr: &Output,
    switch: Switch,
) -> io::Result<i32> {
    let mut cmd = Command::new(exe);
    if let Some(program) = spec.cmd.first() {
        cmd.arg0(program);
    }
    cmd.args(spec.cmd.iter().skip(1))
        .stdin(Stdio::null())
        .stdout(stdout.stdio()?)
        .stderr(stderr.stdio()?)
        .process_group(0);
    // The same environment as the posix_spawn path; std builds envp before the fork.
    cmd.env_clear();
    for kv in environment(spec, ctx, who)? {
        let bytes = kv.as_bytes();
        let eq = bytes.iter().position(|&b| b == b'=').unwrap_or(bytes.len());
        let value = bytes.get(eq + 1..).unwrap_or_default();
        cmd.env(OsStr::from_bytes(&bytes[..eq]), OsStr::from_bytes(value));
    }
    if let Some(dir) = &spec.workingdir {
        cmd.current_dir(dir);
    }
    let child_umask = spec.umask.map(|m| Mode::from_bits_truncate(m & 0o777));
    let nofile = ctx.nofile;
    // SAFETY: between fork and exec only async-signal-safe calls are made: sigprocmask,
    // signal, umask, setrlimit, setgroups, setgid and setuid are plain syscalls; nothing
    // allocates or takes a lock (`switch` was prepared before the fork).
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
            // Limits, groups, group, user, in that order (a `limits` nofile wins over the
            // restored one).
            switch.apply().map_err(io::Error::from_raw_os_error)
        });
    }
    let child = cmd.spawn()?;
    // `child` is dropped without waiting: the daemon's reaper reaps it.
    i32::try_from(child.id()).map_err(|_| io::Error::other("pid out of range"))
}

/// Marks every descriptor from 3 up close-on-exec: those the daemon inherited without it (from
/// a CI runner, an ssh session, a shell) must not reach the children, where a held pipe end
/// means "the job never sees EOF". Every descriptor the daemon opens itself is close-on-exec
/// already. Called once at start-up; a failure is returned for the event log, not fatal.
pub(crate) fn cloexec_inherited_fds() -> io::Result<()> {
    use nix::libc;
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets a flag on descriptors; it
    // closes nothing and touches no memory.
    let done = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_uint,
        )
    };
    if done == 0 {
        return Ok(());
    }
    // Kernels before 5.11: one fcntl per open descriptor.
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let Some(fd) = entry?
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if fd >= 3 {
            // SAFETY: F_SETFD on a number that may not be open (the read_dir's own fd, gone
            // by now) just fails with EBADF.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
    Ok(())
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

/// The read end of an output pipe, made non-blocking for the event loop. If that fails the
/// pipe is dropped (a blocking read would stall every process), and the child's writes fail.
fn nonblocking(fd: OwnedFd) -> Option<File> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = OFlag::from_bits_truncate(fcntl(&fd, FcntlArg::F_GETFL).ok()?);
    fcntl(&fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).ok()?;
    Some(File::from(fd))
}

/// Finds the executable `cmd[0]` names: a path (relative ones against `workingdir`), or a
/// name searched on `path_var` (relative entries against `workingdir` too, when set).
pub(crate) fn resolve_program(
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
            // A relative entry means what it means to the child, which starts in workingdir:
            // searched there, and the match exec'd by that (absolute) path.
            let dir = match workingdir {
                Some(wd) if dir.is_relative() => wd.join(dir),
                _ => dir,
            };
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
    use nix::sys::wait::waitpid;

    const WHO: Identity<'static> = Identity {
        program: "web",
        process: "web:1",
        num: 1,
    };

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
            environ: Vec::new(),
        };
        let mut spec = ProgramSpec::with_defaults("p", vec!["true".into()]);
        spec.workingdir = Some("/no/such/dir".into());
        let err = spawn(&spec, &ctx, &WHO).unwrap_err().to_string();
        assert!(err.starts_with("workingdir /no/such/dir:"), "{err}");
        spec.workingdir = None;
        spec.stdout = OutputTarget::File("/no/such/dir/out.log".into());
        let err = spawn(&spec, &ctx, &WHO).unwrap_err().to_string();
        assert!(err.starts_with("cannot open stdout file"), "{err}");
    }

    /// A pipe the daemon cannot make is its own failure, not the program's exec failing,
    /// and the errno stays reachable as the source.
    #[test]
    fn a_pipe_failure_is_not_an_exec_failure_and_keeps_its_source() {
        let err = SpawnError::Pipe {
            stream: "stdout",
            source: io::Error::from_raw_os_error(nix::libc::EMFILE),
        };
        assert!(
            err.to_string().starts_with("cannot create stdout pipe: "),
            "{err}"
        );
        let source = std::error::Error::source(&err).expect("a source");
        let source = source.downcast_ref::<io::Error>().expect("an io::Error");
        assert_eq!(source.raw_os_error(), Some(nix::libc::EMFILE));
    }

    /// Runs `spec` to completion and returns what it wrote to stdout.
    fn run_to_end(spec: &mut ProgramSpec, ctx: &SpawnContext) -> String {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        spec.stdout = OutputTarget::File(out.clone());
        // A test thread forking meanwhile may briefly hold a copy of the fd that wrote a
        // script, which makes exec fail with ETXTBSY until that child execs.
        let mut tries = 0;
        let child = loop {
            match spawn(spec, ctx, &WHO) {
                Err(SpawnError::Exec { source, .. })
                    if source.raw_os_error() == Some(nix::libc::ETXTBSY) && tries < 100 =>
                {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => break other.unwrap(),
            }
        };
        waitpid(nix::unistd::Pid::from_raw(child.pid), None).unwrap();
        std::fs::read_to_string(out).unwrap()
    }

    fn test_context() -> SpawnContext {
        SpawnContext {
            path: Some("/bin:/usr/bin".into()),
            nofile: None,
            environ: vec![c"FROM_DAEMON=1".into(), c"SHARED=daemon".into()],
        }
    }

    #[test]
    fn posix_spawn_children_get_the_original_limit_umask_and_environment() {
        let mut ctx = test_context();
        let ours = rustix::process::getrlimit(Resource::Nofile);
        ctx.nofile = Some(Rlimit {
            current: Some(64),
            maximum: ours.maximum,
        });
        let mut spec = ProgramSpec::with_defaults(
            "p",
            vec![
                "sh".into(),
                "-c".into(),
                "ulimit -n; umask; echo $FROM_DAEMON $SHARED $OWN; \
                 echo $TASKMASTER_PROGRAM $TASKMASTER_PROCESS $TASKMASTER_PROCESS_NUM"
                    .into(),
            ],
        );
        // 022 is what the test process most likely has already: other tests running
        // meanwhile see no difference while the spawn borrows it.
        spec.umask = Some(0o022);
        spec.env.insert("SHARED".into(), "program".into());
        spec.env.insert("OWN".into(), "x".into());
        // The identity is the daemon's to set: `env` cannot fake it.
        spec.env.insert("TASKMASTER_PROCESS".into(), "fake".into());
        assert_eq!(
            run_to_end(&mut spec, &ctx),
            "64\n0022\n1 program x\nweb web:1 1\n"
        );
        // The daemon got its own limit back.
        assert_eq!(rustix::process::getrlimit(Resource::Nofile), ours);
    }

    #[test]
    fn relative_path_entries_are_searched_from_workingdir_on_the_fork_path() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let tool = bin.join("tool");
        std::fs::write(&tool, "#!/bin/sh\necho from-tool $TASKMASTER_PROCESS\n").unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let found = resolve_program("tool", Some(OsStr::new("bin:/bin")), Some(dir.path()));
        assert_eq!(found.unwrap(), tool, "absolute, from workingdir");
        let mut spec = ProgramSpec::with_defaults("p", vec!["tool".into()]);
        spec.workingdir = Some(dir.path().to_owned());
        spec.env.insert("PATH".into(), "bin:/bin:/usr/bin".into());
        assert_eq!(run_to_end(&mut spec, &test_context()), "from-tool web:1\n");
    }

    /// As root: the cloned path gives the child the limits, groups, group and user, and
    /// HOME/USER/LOGNAME/SHELL from the user's entry (`env` wins over those).
    #[test]
    fn the_cloned_path_switches_user_and_limits() {
        use crate::plan::credentials::{Group, Limit, LimitName, User};
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: switching users needs root");
            return;
        }
        let mut spec = ProgramSpec::with_defaults(
            "p",
            vec![
                "sh".into(),
                "-c".into(),
                "id -u; id -g; id -G; ulimit -Sn; ulimit -Hn; echo $HOME $USER $LOGNAME $SHELL"
                    .into(),
            ],
        );
        spec.user = Some(User::resolve("nobody"));
        spec.group = Some(Group::resolve("nogroup"));
        spec.groups = Some(vec![Group::resolve("4"), Group::resolve("7")]);
        spec.limits.insert(
            LimitName::Nofile,
            Limit {
                soft: Some(100),
                hard: Some(200),
            },
        );
        spec.env.insert("SHELL".into(), "/bin/own".into());
        let out = run_to_end(&mut spec, &test_context());
        assert_eq!(
            out,
            "65534\n65534\n65534 4 7\n100\n200\n/nonexistent nobody nobody /bin/own\n"
        );
    }

    /// A step failing in the cloned child is the spawn's error, and the child is reaped.
    #[test]
    fn a_failing_step_in_the_cloned_child_is_reported() {
        use crate::plan::credentials::{Limit, LimitName};
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root to get past the non-root check");
            return;
        }
        let mut spec = ProgramSpec::with_defaults("p", vec!["true".into()]);
        // Above the kernel's nr_open: refused even to root.
        spec.limits.insert(
            LimitName::Nofile,
            Limit {
                soft: Some(1 << 40),
                hard: Some(1 << 40),
            },
        );
        let err = spawn(&spec, &test_context(), &WHO).unwrap_err().to_string();
        assert!(
            err.contains("applying limits, groups, group or user"),
            "{err}"
        );
    }

    #[test]
    fn a_script_without_a_shebang_runs_from_a_workingdir_too() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("plain");
        std::fs::write(&script, "echo from-sh $PWD\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut spec = ProgramSpec::with_defaults("p", vec!["./plain".into()]);
        spec.workingdir = Some(dir.path().to_owned());
        let out = run_to_end(&mut spec, &test_context());
        assert_eq!(out, format!("from-sh {}\n", dir.path().display()));
    }

    #[test]
    fn a_script_without_a_shebang_still_runs() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("plain");
        std::fs::write(&script, "echo from-sh\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut spec = ProgramSpec::with_defaults("p", vec![script.to_string_lossy().into_owned()]);
        assert_eq!(run_to_end(&mut spec, &test_context()), "from-sh\n");
    }
}
