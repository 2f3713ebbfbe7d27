//! The record of live process groups, beside the socket (`SOCKET.groups`), so that a daemon
//! started after one killed with SIGKILL stops what the dead one left running.
//!
//! One line per group: `PGID STARTTIME SIGNAL STOPTIME_MS NAME`, where STARTTIME is the
//! group leader's start time from `/proc/PID/stat` (0 when the leader was gone before it
//! could be read). [`previous`] + [`stop_previous`] run at start-up, before anything is
//! spawned: a process is taken for one of the record only if it is in the group and is the
//! leader with that start time, or started no earlier and carries `TASKMASTER_PROCESS=NAME`;
//! it is then held by a pidfd (checked again after opening it), so a recycled pid is never
//! signalled. It gets the stop signal, then SIGKILL after the stoptime.
//!
//! Cost on the event loop: the record changes only when a group starts or ends, and is
//! written at most once per loop iteration ([`StateFile::flush`], after the callbacks), as a
//! temporary file renamed over the old one (atomic: a reader sees the old or the new record).
//! That is one small write and a rename, about 30–60 µs, not synced to disk (the file must
//! outlive the daemon, not the machine). A start-up burst of 1,000 spawns writes it once.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write as _};
use std::os::fd::{AsFd as _, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use rustix::process::{Pid, PidfdFlags, Signal, pidfd_open, pidfd_send_signal};

use super::procfs;

/// One recorded group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Group {
    pub pgid: i32,
    /// The leader's start time; `None` until read (at the next flush).
    pub start: Option<u64>,
    pub signal: i32,
    pub stoptime: Duration,
    pub name: String,
}

/// The live groups of this daemon and the file recording them.
#[derive(Debug)]
pub(crate) struct StateFile {
    path: PathBuf,
    groups: BTreeMap<i32, Group>,
    dirty: bool,
}

/// The record's path for a socket path.
pub(crate) fn path_for(socket: &Path) -> PathBuf {
    let mut name = socket.as_os_str().to_owned();
    name.push(".groups");
    PathBuf::from(name)
}

impl StateFile {
    pub(crate) fn new(path: PathBuf) -> Self {
        StateFile {
            path,
            groups: BTreeMap::new(),
            dirty: false,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// A group began (a spawn).
    pub(crate) fn add(&mut self, pgid: i32, name: &str, signal: i32, stoptime: Duration) {
        self.groups.insert(
            pgid,
            Group {
                pgid,
                start: None,
                signal,
                stoptime,
                name: name.to_owned(),
            },
        );
        self.dirty = true;
    }

    /// A group ended.
    pub(crate) fn remove(&mut self, pgid: i32) {
        if self.groups.remove(&pgid).is_some() {
            self.dirty = true;
        }
    }

    /// Writes the record if it changed since the last flush.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        // Cleared also on failure: the next change tries again, not every loop iteration.
        self.dirty = false;
        let mut text = String::from(
            "# taskmaster: live process groups (pgid start signal stoptime_ms name)\n",
        );
        for g in self.groups.values_mut() {
            if g.start.is_none() {
                // Read once; a leader already reaped leaves 0 (members are then matched by
                // their TASKMASTER_PROCESS alone).
                g.start = Some(procfs::stat(g.pgid).map_or(0, |s| s.starttime));
            }
            text.push_str(&format!(
                "{} {} {} {} {}\n",
                g.pgid,
                g.start.unwrap_or(0),
                g.signal,
                g.stoptime.as_millis(),
                g.name
            ));
        }
        let mut tmp_name = self.path.as_os_str().to_owned();
        tmp_name.push(".tmp");
        let tmp = PathBuf::from(tmp_name);
        let written = fs::File::create(&tmp).and_then(|mut f| f.write_all(text.as_bytes()));
        if let Err(e) = written.and_then(|()| fs::rename(&tmp, &self.path)) {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(())
    }

    /// Removes the record (a clean exit: nothing is left).
    pub(crate) fn remove_file(&self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Parses a record; lines that do not parse are skipped.
pub(crate) fn parse(text: &str) -> Vec<Group> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let mut f = line.splitn(5, ' ');
            let pgid: i32 = f.next()?.parse().ok()?;
            let start: u64 = f.next()?.parse().ok()?;
            let signal: i32 = f.next()?.parse().ok()?;
            let stoptime: u64 = f.next()?.parse().ok()?;
            let name = f.next()?.to_owned();
            (pgid > 1).then_some(Group {
                pgid,
                start: Some(start),
                signal,
                stoptime: Duration::from_millis(stoptime),
                name,
            })
        })
        .collect()
}

/// The recorded groups at `path` (none when there is no record).
pub(crate) fn previous(path: &Path) -> Vec<Group> {
    fs::read_to_string(path).map_or_else(|_| Vec::new(), |t| parse(&t))
}

/// One process of a previous daemon, held by a pidfd.
struct Victim {
    pidfd: OwnedFd,
    group: usize,
}

/// Stops what is still alive of `groups`: the stop signal, then SIGKILL after each group's
/// stoptime; returns once they are gone (or 5 s after the SIGKILL). Returns the names of
/// the groups found alive and how many processes they had. Blocks: called before the loop.
pub(crate) fn stop_previous(groups: &[Group]) -> Vec<(String, usize)> {
    let mut victims: Vec<Victim> = Vec::new();
    let mut counts = vec![0usize; groups.len()];
    let me = std::process::id() as i32;
    for pid in procfs::pids().into_iter().filter(|&p| p != me) {
        let Some(st) = procfs::stat(pid) else {
            continue;
        };
        let Some(gi) = groups.iter().position(|g| g.pgid == st.pgrp) else {
            continue;
        };
        let g = &groups[gi];
        let start = g.start.unwrap_or(0);
        let genuine = |st: &procfs::Stat| {
            !st.is_zombie()
                && ((pid == g.pgid && st.starttime == start)
                    || (st.starttime >= start && procfs::belongs_to(pid, &g.name)))
        };
        if !genuine(&st) {
            continue;
        }
        let Some(raw) = Pid::from_raw(pid) else {
            continue;
        };
        let Ok(pidfd) = pidfd_open(raw, PidfdFlags::empty()) else {
            continue;
        };
        // The pidfd names one process for good; check that it is still the one we vetted.
        if procfs::stat(pid).is_none_or(|again| again.starttime != st.starttime) {
            continue;
        }
        counts[gi] += 1;
        victims.push(Victim { pidfd, group: gi });
    }
    let found: Vec<(String, usize)> = groups
        .iter()
        .zip(&counts)
        .filter(|(_, n)| **n > 0)
        .map(|(g, n)| (g.name.clone(), *n))
        .collect();
    if victims.is_empty() {
        return found;
    }
    let signal_of = |g: &Group| Signal::from_named_raw(g.signal).unwrap_or(Signal::TERM);
    for v in &victims {
        let _ = pidfd_send_signal(&v.pidfd, signal_of(&groups[v.group]));
    }
    let began = Instant::now();
    let mut killed = vec![false; groups.len()];
    let grace = Duration::from_secs(5);
    loop {
        let now = Instant::now();
        for (gi, g) in groups.iter().enumerate() {
            if !killed[gi] && now >= began + g.stoptime {
                killed[gi] = true;
                for v in victims.iter().filter(|v| v.group == gi) {
                    let _ = pidfd_send_signal(&v.pidfd, Signal::KILL);
                }
            }
        }
        if victims.is_empty() {
            break;
        }
        let next = groups
            .iter()
            .enumerate()
            .filter(|(gi, _)| !killed[*gi])
            .map(|(_, g)| began + g.stoptime)
            .min();
        let deadline = match next {
            Some(d) => d,
            None => {
                let last_kill = groups.iter().map(|g| g.stoptime).max().unwrap_or_default();
                if now >= began + last_kill + grace {
                    break;
                }
                began + last_kill + grace
            }
        };
        let wait = deadline.saturating_duration_since(now);
        let timeout = PollTimeout::try_from(wait.as_millis().min(60_000) as i32 + 1)
            .unwrap_or(PollTimeout::MAX);
        let mut fds: Vec<PollFd<'_>> = victims
            .iter()
            .map(|v| PollFd::new(v.pidfd.as_fd(), PollFlags::POLLIN))
            .collect();
        if poll(&mut fds, timeout).is_err() {
            continue;
        }
        let gone: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        let mut i = 0;
        victims.retain(|_| {
            let keep = !gone[i];
            i += 1;
            keep
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_bad_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut sf = StateFile::new(dir.path().join("t.sock.groups"));
        let me = std::process::id() as i32;
        sf.add(me, "web:0", 15, Duration::from_millis(1500));
        sf.flush().unwrap();
        let text = fs::read_to_string(sf.path()).unwrap();
        let groups = parse(&text);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].pgid, me);
        assert_eq!(groups[0].name, "web:0");
        assert_eq!(groups[0].stoptime, Duration::from_millis(1500));
        assert_eq!(
            groups[0].start,
            procfs::stat(me).map(|s| s.starttime),
            "the leader's start time"
        );
        sf.remove(me);
        sf.flush().unwrap();
        assert!(previous(sf.path()).is_empty());
        assert!(parse("x y z\n1 2 3 4 init\n-5 0 15 10 neg\n").is_empty());
        assert_eq!(
            path_for(Path::new("/a/t.sock")),
            Path::new("/a/t.sock.groups")
        );
    }
}
