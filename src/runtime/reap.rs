//! Reaping: the daemon is a child subreaper, and every child it has — the main processes it
//! spawned and the orphans of their trees, reparented to it — is reaped here.
//!
//! One mechanism for both, so no status is ever stolen: on SIGCHLD (through the signalfd)
//! [`reap_all`] calls `waitpid(-1, WNOHANG)` until nothing is left to reap, and the
//! supervisor routes each status by pid: a main process's to its process, a tracked leftover's
//! to the group being emptied, any other orphan's nowhere (it is reaped, so no `<defunct>`
//! stays). SIGCHLDs that arrive together merge into one; the loop takes everything pending,
//! so none is missed. Anything else in the daemon that starts a child must let the
//! supervisor route its status (a `waitpid` of its own would race this one).

use std::io;

use nix::errno::Errno;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};

use super::machine::Exit;

/// Makes the daemon the reaper of its descendants' orphans (`PR_SET_CHILD_SUBREAPER`).
pub(crate) fn become_subreaper() -> io::Result<()> {
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER, 1) takes no pointer and only sets a flag.
    let rc = unsafe { nix::libc::prctl(nix::libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Reaps every child that has exited, without blocking: (pid, how it ended), in reaping order.
pub(crate) fn reap_all() -> Vec<(i32, Exit)> {
    let mut out = Vec::new();
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => out.push((pid.as_raw(), Exit::Code(code))),
            Ok(WaitStatus::Signaled(pid, sig, _)) => {
                out.push((pid.as_raw(), Exit::Signal(sig as i32)));
            }
            // Nothing more has exited. (Stops and continues are not asked for.)
            Ok(_) => break,
            Err(Errno::EINTR) => {}
            // ECHILD: no child at all.
            Err(_) => break,
        }
    }
    out
}
