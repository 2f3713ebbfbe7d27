//! A test double of [`Os`]: no process is ever started. It hands out made-up pids (from
//! 1000 up), records every spawn and signal, keeps a table of the "live" processes and their
//! groups, and lets a test script what the kernel would do: a spawn that fails, a child
//! that exits (queued for the next [`Os::reap`]), a group member that stays behind.
//!
//! Signals change nothing by themselves: a test sees that a signal was sent (and to whom)
//! and then says what happened, like a program that ignores SIGTERM or one that dies of it.
//! Every process it knows is the daemon's child (as under the subreaper), so a member's exit
//! is reaped like a main process's.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use nix::errno::Errno;
use nix::sys::signal::Signal;

use super::Os;
use crate::plan::model::ProgramSpec;
use crate::runtime::machine::Exit;
use crate::runtime::procfs::Leftovers;
use crate::runtime::spawn::{Identity, SpawnError, Spawned};

/// One thing the supervisor asked of the double.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Call {
    /// A spawn of the process named `process`: its pid, or `None` when it failed.
    Spawn {
        process: String,
        pid: Option<i32>,
    },
    SignalGroup {
        pgid: i32,
        signal: Signal,
    },
    SignalProcess {
        pid: i32,
        signal: Signal,
    },
}

#[derive(Debug, Default)]
struct World {
    next_pid: i32,
    calls: Vec<Call>,
    /// Processes whose spawns fail (with "not found on PATH").
    failing: BTreeSet<String>,
    /// Live processes: pid → (process group, the `TASKMASTER_PROCESS` it carries).
    live: BTreeMap<i32, (i32, String)>,
    /// Exited, not yet reaped (zombies, still in their group): pid, how, group.
    exited: Vec<(i32, Exit, i32)>,
}

/// The double; clones share one world, so a test keeps one while the supervisor owns another.
#[derive(Debug, Clone)]
pub(crate) struct FakeOs(Rc<RefCell<World>>);

impl Default for FakeOs {
    fn default() -> Self {
        FakeOs(Rc::new(RefCell::new(World {
            next_pid: 1000,
            ..World::default()
        })))
    }
}

impl FakeOs {
    /// Every call so far, taken out.
    pub(crate) fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut self.0.borrow_mut().calls)
    }

    /// From now on every spawn of `process` fails; `false` lets them succeed again.
    pub(crate) fn fail_spawns(&self, process: &str, fail: bool) {
        let failing = &mut self.0.borrow_mut().failing;
        if fail {
            failing.insert(process.to_owned());
        } else {
            failing.remove(process);
        }
    }

    /// `pid` ends as `exit`; its status waits for the next reap.
    pub(crate) fn exit(&self, pid: i32, exit: Exit) {
        let mut w = self.0.borrow_mut();
        let Some((pgid, _)) = w.live.remove(&pid) else {
            panic!("pid {pid} is not alive");
        };
        w.exited.push((pid, exit, pgid));
    }

    /// A new process in group `pgid` (a worker the main process forked), carrying the
    /// group's `TASKMASTER_PROCESS`. Returns its pid.
    pub(crate) fn add_member(&self, pgid: i32) -> i32 {
        let mut w = self.0.borrow_mut();
        let name = w
            .live
            .get(&pgid)
            .map(|(_, n)| n.clone())
            .unwrap_or_default();
        let pid = w.next_pid;
        w.next_pid += 1;
        w.live.insert(pid, (pgid, name));
        pid
    }
}

impl FakeOs {
    /// A new process in a group of its own (it called `setsid`) that still carries
    /// `TASKMASTER_PROCESS=process`. Returns its pid.
    pub(crate) fn add_escaped(&self, process: &str) -> i32 {
        let mut w = self.0.borrow_mut();
        let pid = w.next_pid;
        w.next_pid += 1;
        w.live.insert(pid, (pid, process.to_owned()));
        pid
    }
}

impl Os for FakeOs {
    fn spawn(&mut self, spec: &ProgramSpec, who: &Identity<'_>) -> Result<Spawned, SpawnError> {
        let mut w = self.0.borrow_mut();
        if w.failing.contains(who.process) {
            w.calls.push(Call::Spawn {
                process: who.process.to_owned(),
                pid: None,
            });
            return Err(SpawnError::NotFound {
                program: spec.cmd.first().cloned().unwrap_or_default(),
            });
        }
        let pid = w.next_pid;
        w.next_pid += 1;
        w.live.insert(pid, (pid, who.process.to_owned()));
        w.calls.push(Call::Spawn {
            process: who.process.to_owned(),
            pid: Some(pid),
        });
        Ok(Spawned {
            pid,
            stdout: None,
            stderr: None,
        })
    }

    fn signal_group(&mut self, pgid: i32, signal: Signal) -> nix::Result<()> {
        let mut w = self.0.borrow_mut();
        w.calls.push(Call::SignalGroup { pgid, signal });
        if w.live.values().any(|(g, _)| *g == pgid) {
            Ok(())
        } else {
            Err(Errno::ESRCH)
        }
    }

    fn signal_process(&mut self, pid: i32, signal: Signal) -> nix::Result<()> {
        let mut w = self.0.borrow_mut();
        w.calls.push(Call::SignalProcess { pid, signal });
        if w.live.contains_key(&pid) {
            Ok(())
        } else {
            Err(Errno::ESRCH)
        }
    }

    fn group_exists(&self, pgid: i32) -> bool {
        let w = self.0.borrow();
        // An exited child stays in its group as a zombie until reaped.
        w.live.values().any(|(g, _)| *g == pgid) || w.exited.iter().any(|(_, _, g)| *g == pgid)
    }

    fn group_of(&self, pid: i32) -> Option<i32> {
        self.0.borrow().live.get(&pid).map(|(g, _)| *g)
    }

    fn reap(&mut self) -> Vec<(i32, Exit)> {
        let exited = std::mem::take(&mut self.0.borrow_mut().exited);
        exited
            .into_iter()
            .map(|(pid, exit, _)| (pid, exit))
            .collect()
    }

    fn scan(&self, pgid: i32, marked: Option<&str>, skip: &dyn Fn(i32) -> bool) -> Leftovers {
        let w = self.0.borrow();
        let mut found = Leftovers::default();
        for (&pid, (g, name)) in &w.live {
            if skip(pid) {
                continue;
            }
            if *g == pgid || marked == Some(name.as_str()) {
                found.all.insert(pid);
                found.ours.insert(pid);
            }
        }
        found
    }
}
