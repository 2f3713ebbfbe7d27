//! The seam between the supervisor and the operating system: everything the glue asks of
//! the kernel about children — start one, signal a process or a group, whether a group
//! still has members, reap what exited, and the one `/proc` scan for leftovers.
//!
//! [`System`] is the real thing and only delegates ([`super::spawn`], [`super::reap`],
//! [`super::procfs`], `kill`/`killpg`). The supervisor holds a `Box<dyn Os>`: one indirect
//! call per spawn or signal, nothing next to a fork. Its unit tests give it a double instead
//! (`fake::FakeOs`, built for tests only) that records every call, hands out made-up pids and lets a
//! test decide when a child exits, which group members remain and which spawn fails — so
//! the glue's bugs (replies, groups, reloads) are tested without a real child or a clock.
//!
//! Not behind the seam, on purpose: timers and descriptors are calloop sources (a test
//! fires a timer by calling its callback's method), the event log and the state file write
//! plain files.

#[cfg(test)]
pub(crate) mod fake;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use super::machine::Exit;
use super::procfs::{self, Leftovers};
use super::spawn::{Identity, SpawnContext, SpawnError, Spawned, spawn};
use crate::plan::model::ProgramSpec;

/// What the supervisor asks of the operating system about its children.
pub(crate) trait Os {
    /// Starts one process of `spec` as `who`, leading its own process group.
    fn spawn(&mut self, spec: &ProgramSpec, who: &Identity<'_>) -> Result<Spawned, SpawnError>;

    /// Sends `signal` to every member of group `pgid` (`killpg`). `ESRCH`: nobody is left.
    fn signal_group(&mut self, pgid: i32, signal: Signal) -> nix::Result<()>;

    /// Sends `signal` to the one process `pid` (`kill`).
    fn signal_process(&mut self, pid: i32, signal: Signal) -> nix::Result<()>;

    /// Whether any process (a zombie included) is still in group `pgid` (`kill(-pgid, 0)`).
    fn group_exists(&self, pgid: i32) -> bool;

    /// The process group `pid` is in now, if it is alive.
    fn group_of(&self, pid: i32) -> Option<i32>;

    /// Reaps every child that has exited, without blocking, in reaping order.
    fn reap(&mut self) -> Vec<(i32, Exit)>;

    /// What a main process left in group `pgid` (and, with `marked`, the daemon's children
    /// carrying that `TASKMASTER_PROCESS`); `skip` names pids accounted for elsewhere.
    fn scan(&self, pgid: i32, marked: Option<&str>, skip: &dyn Fn(i32) -> bool) -> Leftovers;
}

/// The operating system itself.
#[derive(Debug)]
pub(crate) struct System {
    ctx: SpawnContext,
}

impl System {
    /// Reads what every spawn shares (see [`SpawnContext::init`], which also raises the
    /// daemon's open-file limit).
    pub(crate) fn new() -> Self {
        System {
            ctx: SpawnContext::init(),
        }
    }
}

impl Default for System {
    fn default() -> Self {
        Self::new()
    }
}

impl Os for System {
    fn spawn(&mut self, spec: &ProgramSpec, who: &Identity<'_>) -> Result<Spawned, SpawnError> {
        spawn(spec, &self.ctx, who)
    }

    fn signal_group(&mut self, pgid: i32, signal: Signal) -> nix::Result<()> {
        killpg(Pid::from_raw(pgid), signal)
    }

    fn signal_process(&mut self, pid: i32, signal: Signal) -> nix::Result<()> {
        kill(Pid::from_raw(pid), signal)
    }

    fn group_exists(&self, pgid: i32) -> bool {
        procfs::group_exists(pgid)
    }

    fn group_of(&self, pid: i32) -> Option<i32> {
        procfs::stat(pid).map(|st| st.pgrp)
    }

    fn reap(&mut self) -> Vec<(i32, Exit)> {
        super::reap::reap_all()
    }

    fn scan(&self, pgid: i32, marked: Option<&str>, skip: &dyn Fn(i32) -> bool) -> Leftovers {
        procfs::scan(pgid, marked, skip)
    }
}
