//! Starting a child that needs what posix_spawn cannot do (a working directory, limits,
//! groups, a group, a user) the way posix_spawn itself starts one: `clone` with `CLONE_VM |
//! CLONE_VFORK`, so the daemon's address space is neither copied nor torn down per spawn (a
//! fork of the daemon cost about as much again as the whole posix_spawn path with 1,000
//! children, see bench/README.md), and the daemon waits only until the child has exec'd.
//!
//! The child shares the daemon's memory until exec, with the daemon's thread suspended. So
//! the child ([`child`]) touches nothing but the [`Plan`] prepared for it and makes only
//! system calls: no allocation, no lock, no panic. The credential calls are raw system calls
//! (`setgroups`, `setgid`, `setuid`): glibc's wrappers would "broadcast" the change to every
//! thread of the process they believe they run in, which here is the daemon's. A failure is
//! written to the plan's `error` slot (the daemon reads it once the child is gone) and the
//! child exits 127; the daemon reaps that child itself.

use std::ffi::{CStr, CString, c_void};
use std::io;
use std::os::fd::RawFd;

use nix::libc;
use rustix::process::{Resource, Rlimit};

use super::creds::Switch;

/// The child's stack: it only makes system calls, posix_spawn's is 32 KiB plus the argv.
const STACK_BYTES: usize = 64 * 1024;

/// Everything the child needs, prepared by the daemon before the clone.
pub(super) struct Plan<'a> {
    pub exe: &'a CStr,
    /// Null-terminated.
    pub argv: Vec<*const libc::c_char>,
    /// Null-terminated.
    pub envp: Vec<*const libc::c_char>,
    /// The descriptors the child gets as stdout and stderr; `None`: /dev/null.
    pub stdout: Option<RawFd>,
    pub stderr: Option<RawFd>,
    pub workingdir: Option<&'a CStr>,
    pub umask: Option<libc::mode_t>,
    /// The daemon's original `RLIMIT_NOFILE`, restored first.
    pub nofile: Option<Rlimit>,
    pub switch: &'a Switch,
    /// The highest signal number (read here: `SIGRTMAX` is a libc function).
    sigrtmax: libc::c_int,
    /// Set by the child when a step fails: (errno, step).
    error: (libc::c_int, Step),
}

/// Which step of the child failed, for the daemon's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    None,
    Stdio,
    Chdir,
    Switch,
    Exec,
}

/// Null-terminated pointers to `strings`, which must outlive the result's use.
pub(super) fn pointers(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

impl<'a> Plan<'a> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        exe: &'a CStr,
        argv: Vec<*const libc::c_char>,
        envp: Vec<*const libc::c_char>,
        stdout: Option<RawFd>,
        stderr: Option<RawFd>,
        workingdir: Option<&'a CStr>,
        umask: Option<libc::mode_t>,
        nofile: Option<Rlimit>,
        switch: &'a Switch,
    ) -> Self {
        Plan {
            exe,
            argv,
            envp,
            stdout,
            stderr,
            workingdir,
            umask,
            nofile,
            switch,
            sigrtmax: libc::SIGRTMAX(),
            error: (0, Step::None),
        }
    }
}

/// Starts the child and returns its pid once it has exec'd; a failed step is its error
/// (`Step::Exec` with `ENOEXEC`: a script without `#!`).
pub(super) fn spawn(plan: &mut Plan<'_>) -> Result<i32, (io::Error, Step)> {
    let mut stack = vec![0u8; STACK_BYTES];
    // The stack grows down on every architecture Linux runs taskmaster on; 16-byte aligned.
    let top = (stack.as_mut_ptr() as usize + STACK_BYTES) & !15;
    let arg = std::ptr::from_mut(plan).cast::<c_void>();
    // SAFETY: `child` only reads `plan` and writes its `error`, on its own stack, making
    // system calls only (see the module doc); CLONE_VFORK suspends this thread until the
    // child has exec'd or exited, so `plan` and `stack` outlive its use of them.
    let pid = unsafe {
        libc::clone(
            child,
            top as *mut c_void,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            arg,
        )
    };
    if pid < 0 {
        return Err((io::Error::last_os_error(), Step::None));
    }
    let (errno, step) = plan.error;
    if errno != 0 {
        // The child exited 127: reap it here, so it never reaches the daemon's reaper as a
        // process of nobody's.
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        return Err((io::Error::from_raw_os_error(errno), step));
    }
    Ok(pid)
}

/// The last OS error, read the way the child may: without allocating.
fn errno() -> libc::c_int {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINVAL)
}

/// The child, between clone and exec. System calls only; see the module doc.
extern "C" fn child(arg: *mut c_void) -> libc::c_int {
    // SAFETY: `arg` is the `Plan` the daemon passed, alive and not touched by the suspended
    // daemon until this child execs or exits.
    let plan = unsafe { &mut *arg.cast::<Plan<'_>>() };
    plan.error = match run(plan) {
        Err(failed) => failed,
        Ok(never) => match never {},
    };
    // SAFETY: ends this child only (it is its own thread group); no destructor runs.
    unsafe { libc::_exit(127) }
}

enum Never {}

fn check(done: libc::c_long, step: Step) -> Result<(), (libc::c_int, Step)> {
    if done < 0 {
        Err((errno(), step))
    } else {
        Ok(())
    }
}

fn run(plan: &Plan<'_>) -> Result<Never, (libc::c_int, Step)> {
    // SAFETY: (the whole function) raw system calls on values prepared by the daemon; the
    // pointers are valid (null-terminated arrays of live C strings).
    unsafe {
        // Every signal's default action back (exec keeps SIG_IGN), then an empty mask.
        for signal in 1..=plan.sigrtmax {
            if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                libc::signal(signal, libc::SIG_DFL);
            }
        }
        check(libc::setpgid(0, 0).into(), Step::Stdio)?;
        let null_in = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        check(null_in.into(), Step::Stdio)?;
        check(libc::dup2(null_in, 0).into(), Step::Stdio)?;
        for (fd, target) in [(plan.stdout, 1), (plan.stderr, 2)] {
            let source = match fd {
                Some(fd) => fd,
                None => {
                    let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                    check(null.into(), Step::Stdio)?;
                    null
                }
            };
            if source == target {
                // dup2 onto itself keeps FD_CLOEXEC: clear it.
                check(libc::fcntl(target, libc::F_SETFD, 0).into(), Step::Stdio)?;
            } else {
                check(libc::dup2(source, target).into(), Step::Stdio)?;
            }
        }
        if let Some(mask) = plan.umask {
            libc::umask(mask);
        }
        if let Some(dir) = plan.workingdir {
            check(libc::chdir(dir.as_ptr()).into(), Step::Chdir)?;
        }
        if let Some(limit) = &plan.nofile {
            // Best effort, as on the other paths: a child keeping the raised limit is harmless.
            let _ = rustix::process::setrlimit(Resource::Nofile, *limit);
        }
        plan.switch.apply().map_err(|e| (e, Step::Switch))?;
        let empty: libc::sigset_t = std::mem::zeroed();
        libc::sigprocmask(libc::SIG_SETMASK, &raw const empty, std::ptr::null_mut());
        libc::execve(plan.exe.as_ptr(), plan.argv.as_ptr(), plan.envp.as_ptr());
        Err((errno(), Step::Exec))
    }
}
