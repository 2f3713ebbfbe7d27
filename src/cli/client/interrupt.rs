//! Ctrl-C inside the shell: a SIGINT handler that only raises a flag, so a waiting command
//! (`start`, `logs -f`) returns to the prompt instead of the whole shell dying.
//!
//! One-shot commands never install it: there, Ctrl-C simply ends the process.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: nix::libc::c_int) {
    // Only an atomic store: async-signal-safe.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Installs the flag-raising SIGINT handler for the rest of the process.
pub(crate) fn install() -> nix::Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(on_sigint),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe, and it is
    // installed before any other thread could rely on SIGINT's previous disposition.
    unsafe { sigaction(Signal::SIGINT, &action) }.map(|_| ())
}

/// Whether Ctrl-C was pressed since the last call; clears the flag.
pub(crate) fn take() -> bool {
    INTERRUPTED.swap(false, Ordering::SeqCst)
}

/// Forgets an earlier Ctrl-C (before a new command starts).
pub(crate) fn clear() {
    INTERRUPTED.store(false, Ordering::SeqCst);
}
