//! The supervisor: one calloop event loop applying a plan to live processes.
//!
//! Theory of operation:
//! - **One thread, one loop, no polling.** Every input is an event source: SIGCHLD (every
//!   exited child reaped with `waitpid(-1, WNOHANG)` and routed by pid, see [`reap`]), at most
//!   one timer per process (starttime, backoff or stoptime) armed only while needed, a pipe per captured
//!   output stream (removed at EOF, not at exit: grandchildren may hold it open), the
//!   control socket and each client, a signalfd for every catchable signal, and a channel
//!   from the thread that compiles a config for `reload` or `diff`. An idle daemon makes
//!   no system call at all.
//! - **Pure state machine.** [`machine`] decides every transition; [`supervisor`] performs
//!   its effects (spawn, timers, signals) and feeds the outcomes back. What it asks of the
//!   kernel about children goes through one seam, [`os::Os`], so the glue has unit tests
//!   against a double.
//! - **Signals.** Every catchable signal is blocked (for the signalfd) before anything else
//!   runs; children get an empty mask and default actions back. SIGCHLD reaps; SIGHUP
//!   reloads; SIGTERM/SIGINT/SIGQUIT stop every process gracefully, then the daemon exits 0
//!   (a second one SIGKILLs what is still stopping); SIGUSR2 reopens the files the daemon
//!   writes; the rest are noted and ignored (see [`signals`]). Blocked signals reach the
//!   signalfd also when the daemon is PID 1 of a container, where signals with the default
//!   action would be dropped.
//! - **Nothing blocks the loop.** Configs compile on a worker thread (`reload`); log
//!   targets are opened non-blocking ([`logtarget`]); the event log reaches stderr through
//!   a writer thread ([`eventlog`]).
//! - **No child outlives a failed loop.** An error returned by the loop, like a panic, kills
//!   every process group before the daemon exits.
//! - **Containment.** The daemon is a child subreaper: orphans of its programs' trees are
//!   reparented to it and reaped (no `<defunct>` accumulates, also as PID 1); a process is
//!   gone only when its process group is empty (see [`supervisor`]); the live groups are
//!   recorded beside the socket ([`statefile`]) so that the next daemon on that socket stops
//!   what a daemon killed with SIGKILL left. Descriptors inherited without close-on-exec are
//!   marked close-on-exec at start-up, so no child inherits them.

pub(crate) mod checks;
pub(crate) mod client;
pub(crate) mod eventlog;
pub(crate) mod logfile;
pub(crate) mod logtarget;
pub(crate) mod machine;
mod memory;
pub(crate) mod os;
pub(crate) use memory::use_one_arena;
pub(crate) mod names;
pub(crate) mod procfs;
pub(crate) mod reap;
pub(crate) mod ring;
pub(crate) mod signals;
pub(crate) mod socket;
pub(crate) mod spawn;
pub(crate) mod statefile;
pub(crate) mod supervisor;

use crate::words::count;
use std::path::PathBuf;

use calloop::generic::Generic;
use calloop::{EventLoop, Interest, Mode, PostAction};
use nix::sys::signalfd::SignalFd;

use self::eventlog::EventLog;
use self::socket::BindError;
use self::supervisor::Supervisor;
use crate::plan::Plan;

/// Why the daemon could not run. A hint (from [`BindError`]) is the diagnostic's `help`.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(crate) enum RunError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Bind(#[from] BindError),
    #[error("cannot open the logfile {}: {source}", path.display())]
    Logfile {
        path: PathBuf,
        source: logtarget::OpenError,
    },
    #[error("event loop: cannot set up signal handling: {source}")]
    Signals { source: nix::Error },
    /// Creating the event loop or registering one of its sources failed.
    #[error("event loop: {source}")]
    Setup { source: std::io::Error },
    /// The running loop failed; every child was killed first.
    #[error("event loop: event loop failed: {source}; every process was killed")]
    Failed { source: calloop::Error },
    /// A bug panicked inside the loop; every child was killed first.
    #[error("event loop: internal error; every process was killed")]
    Panicked,
}

/// Takes every signal the daemon handles (see [`signals`]). Call first thing, before any
/// thread could exist, so no thread can receive one with its default (often fatal) action.
pub(crate) fn block_signals() -> Result<SignalFd, RunError> {
    signals::take().map_err(|source| RunError::Signals { source })
}

/// Supervises `plan` until a shutdown. `config_path` (absolute) is what reload reads.
pub(crate) fn run(
    signals: SignalFd,
    config_path: PathBuf,
    plan: Plan,
    socket: PathBuf,
) -> Result<(), RunError> {
    let log =
        EventLog::open(plan.daemon.logfile.as_deref()).map_err(|source| RunError::Logfile {
            path: plan.daemon.logfile.clone().unwrap_or_default(),
            source,
        })?;
    // Before anything is spawned: neither fd is passed on, and every orphan comes here.
    let mut startup_notes = Vec::new();
    if let Err(e) = spawn::cloexec_inherited_fds() {
        startup_notes.push(format!(
            "cannot mark inherited descriptors close-on-exec: {e}"
        ));
    }
    if let Err(e) = reap::become_subreaper() {
        startup_notes.push(format!("cannot become a child subreaper: {e}"));
    }
    let (listener, socket_file) = socket::bind(&socket)?;
    // The socket is ours now: what a previous daemon on it left running goes first.
    let groups_path = statefile::path_for(&socket);
    let previous = statefile::previous(&groups_path);
    if !previous.is_empty() {
        let found = statefile::stop_previous(&previous);
        if !found.is_empty() {
            let list: Vec<String> = found
                .iter()
                .map(|(name, n)| format!("{name} ({})", count(*n, "process", "processes")))
                .collect();
            let note = format!(
                "stopped {} a previous daemon on this socket left running: {}",
                count(found.len(), "process group", "process groups"),
                list.join(", ")
            );
            eprintln!("taskmaster: {note}");
            startup_notes.push(note);
        }
    }
    let mut event_loop: EventLoop<'static, Supervisor> =
        EventLoop::try_new().map_err(|e| RunError::Setup { source: e.into() })?;
    let mut sup = Supervisor::new(
        event_loop.handle(),
        event_loop.get_signal(),
        log,
        config_path,
        socket_file,
        statefile::StateFile::new(groups_path),
        Box::new(os::System::new()),
    );
    for note in startup_notes {
        sup.note(format_args!("{note}"));
    }
    let setup = event_loop
        .handle()
        .insert_source(
            Generic::new(signals, Interest::READ, Mode::Level),
            |_, fd, sup: &mut Supervisor| {
                sup.signals_ready(fd);
                Ok(PostAction::Continue)
            },
        )
        .map_err(|e| RunError::Setup {
            source: e.error.into(),
        })
        .and_then(|_| {
            sup.start_compiler()
                .map_err(|source| RunError::Setup { source })
        })
        .and_then(|()| {
            sup.listen(listener)
                .map_err(|source| RunError::Setup { source })
        });
    if let Err(e) = setup {
        sup.finish(false);
        return Err(e);
    }
    sup.note(format_args!(
        "taskmaster {} started (pid {}): {}, {}; listening on {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        count(plan.programs.len(), "program", "programs"),
        count(plan.process_count(), "process", "processes"),
        socket.display()
    ));
    // The compiled config's KDL document is garbage by now; don't keep its pages, and
    // don't make every fork of the start-up burst copy their page tables.
    memory::release_free_heap();
    sup.start_plan(plan);
    sup.flush_groups();
    // And what the burst of spawns itself left behind (about 0.5 MiB for 1,000).
    memory::release_free_heap();
    sup.flush_log();
    eventlog::install_panic_hook();
    let result = supervise(&mut event_loop, &mut sup);
    sup.finish(result.is_ok());
    result
}

/// Runs the loop until the daemon is done. Whatever ends it early (an error from the loop,
/// a bug's panic), no child is left unsupervised: every group is killed first.
fn supervise(
    event_loop: &mut EventLoop<'static, Supervisor>,
    sup: &mut Supervisor,
) -> Result<(), RunError> {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        event_loop.run(None, sup, |sup| {
            sup.flush_groups();
            sup.flush_log();
        })
    }));
    let error = match result {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(source)) => RunError::Failed { source },
        Err(_) => RunError::Panicked,
    };
    let why = match &error {
        RunError::Failed { source } => format!("event loop failed: {source}"),
        _ => "internal error".to_owned(),
    };
    sup.abandon(&why);
    Err(error)
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixStream;

    use super::*;
    use crate::plan::ProgramSpec;

    /// Set-up failures keep the underlying error as their source; the message is unchanged.
    #[test]
    fn setup_errors_keep_their_source() {
        let err = RunError::Signals {
            source: nix::Error::EPERM,
        };
        assert!(
            err.to_string()
                .starts_with("event loop: cannot set up signal handling: "),
            "{err}"
        );
        let source = std::error::Error::source(&err).expect("a source");
        assert_eq!(
            source.downcast_ref::<nix::Error>(),
            Some(&nix::Error::EPERM)
        );

        let err = RunError::Setup {
            source: calloop::Error::IoError(std::io::Error::from_raw_os_error(nix::libc::EMFILE))
                .into(),
        };
        assert!(err.to_string().starts_with("event loop: "), "{err}");
        let source = std::error::Error::source(&err).expect("a source");
        let source = source
            .downcast_ref::<std::io::Error>()
            .expect("an io::Error");
        assert_eq!(source.raw_os_error(), Some(nix::libc::EMFILE));
    }

    /// An error from the loop (a source's callback failing) must not leave children behind.
    #[test]
    fn a_loop_error_kills_every_child_before_returning() {
        let dir = tempfile::tempdir().unwrap();
        let (_listener, socket_file) = socket::bind(&dir.path().join("t.sock")).unwrap();
        let mut event_loop: EventLoop<'static, Supervisor> = EventLoop::try_new().unwrap();
        let mut sup = Supervisor::new(
            event_loop.handle(),
            event_loop.get_signal(),
            EventLog::open(None).unwrap(),
            dir.path().join("taskmaster.kdl"),
            socket_file,
            statefile::StateFile::new(dir.path().join("t.groups")),
            Box::new(os::System::new()),
        );
        let mut spec = ProgramSpec::with_defaults("p", vec!["sleep".into(), "3600".into()]);
        spec.starttime = std::time::Duration::ZERO;
        sup.add_program(spec);
        // The child leads its group; the record of live groups names it.
        sup.flush_groups();
        let groups = statefile::previous(&dir.path().join("t.groups"));
        let pid = groups.first().expect("a child").pgid;

        let (tx, rx) = UnixStream::pair().unwrap();
        std::io::Write::write_all(&mut &tx, b"x").unwrap();
        event_loop
            .handle()
            .insert_source(Generic::new(rx, Interest::READ, Mode::Level), |_, _, _| {
                Err(std::io::Error::other("a failing source"))
            })
            .unwrap();
        let result = supervise(&mut event_loop, &mut sup);
        let err = result.unwrap_err();
        assert!(matches!(err, RunError::Failed { .. }), "{err:?}");
        assert!(
            err.to_string().contains("every process was killed"),
            "{err}"
        );
        // The loop's own error is kept, not flattened into the message.
        let source = std::error::Error::source(&err).expect("a source");
        assert!(source.to_string().contains("a failing source"), "{source}");
        let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).unwrap();
        assert_eq!(
            status,
            nix::sys::wait::WaitStatus::Signaled(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
                false
            )
        );
    }
}
