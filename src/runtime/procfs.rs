//! What `/proc` says about other processes: a process's group, parent and start time, whose
//! process it is (`TASKMASTER_PROCESS` in its environment), and the one scan that finds what
//! a main process left behind.
//!
//! Cost: [`scan`] reads `/proc/PID/stat` of every process on the machine (about 5 µs each),
//! and `/proc/PID/environ` of the daemon's own unknown children. The supervisor calls it only
//! when a main process exits and its group is not empty, or when the exit looks like a fork
//! into the background — never periodically. `/proc/PID/task/TID/children` would be cheaper
//! but needs `CONFIG_PROC_CHILDREN`, which many kernels lack.

use std::collections::BTreeSet;
use std::fs;

use nix::errno::Errno;
use nix::sys::signal::killpg;
use nix::unistd::Pid;

/// The fields of `/proc/PID/stat` the daemon needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    /// Clock ticks after boot at which the process started: with the pid, it names one
    /// process for good (a recycled pid has a later start time).
    pub starttime: u64,
}

impl Stat {
    pub(crate) fn is_zombie(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

/// Parses `/proc/PID/stat` (the command name may hold spaces and parentheses: everything
/// up to the last `)` is skipped).
pub(crate) fn parse_stat(text: &str) -> Option<Stat> {
    let rest = text.get(text.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        starttime: fields.get(19)?.parse().ok()?,
    })
}

pub(crate) fn stat(pid: i32) -> Option<Stat> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Whether `pid`'s environment holds `TASKMASTER_PROCESS=name` exactly.
pub(crate) fn belongs_to(pid: i32, name: &str) -> bool {
    let Ok(environ) = fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    let want = format!("TASKMASTER_PROCESS={name}");
    environ.split(|&b| b == 0).any(|kv| kv == want.as_bytes())
}

/// Whether any process (a zombie included) is still in group `pgid`.
pub(crate) fn group_exists(pgid: i32) -> bool {
    !matches!(killpg(Pid::from_raw(pgid), None), Err(Errno::ESRCH))
}

/// Every pid in `/proc`.
pub(crate) fn pids() -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// What a main process left behind, from one look at `/proc`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Leftovers {
    /// Live members of the group and marked children outside it: what gets stopped.
    pub all: BTreeSet<i32>,
    /// Those of `all` that are the daemon's children: their exits reach the daemon's reaper,
    /// so they are waited for one by one (they may leave the group meanwhile).
    pub ours: BTreeSet<i32>,
}

/// Finds the live members of group `pgid`, and — when `marked` names a process — the
/// daemon's children outside the group that carry `TASKMASTER_PROCESS=marked` (programs
/// that left with `setsid` and were reparented to the subreaper). `skip` says which pids are
/// accounted for elsewhere (other processes' main processes and leftovers).
pub(crate) fn scan(pgid: i32, marked: Option<&str>, skip: impl Fn(i32) -> bool) -> Leftovers {
    let me = std::process::id() as i32;
    let mut found = Leftovers::default();
    for pid in pids() {
        if pid == me || skip(pid) {
            continue;
        }
        let Some(st) = stat(pid) else { continue };
        if st.is_zombie() {
            continue;
        }
        let member = st.pgrp == pgid;
        let ours = st.ppid == me;
        let marked_child = !member && ours && marked.is_some_and(|name| belongs_to(pid, name));
        if member || marked_child {
            found.all.insert(pid);
            if ours {
                found.ours.insert(pid);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_past_odd_command_names() {
        let line = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 \
                    987654 1000 100 18446744073709551615";
        let st = parse_stat(line).unwrap();
        assert_eq!(
            st,
            Stat {
                state: 'S',
                ppid: 1,
                pgrp: 4242,
                starttime: 987654
            }
        );
        assert!(parse_stat("garbage").is_none());
        assert!(parse_stat("1 (x) S 1").is_none());
    }

    #[test]
    fn this_process_is_seen_as_it_is() {
        let me = std::process::id() as i32;
        let st = stat(me).unwrap();
        assert_eq!(st.ppid, nix::unistd::getppid().as_raw());
        assert_eq!(st.pgrp, nix::unistd::getpgrp().as_raw());
        assert!(group_exists(st.pgrp));
    }
}
