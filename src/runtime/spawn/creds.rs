//! What a child becomes before exec: its resource limits, supplementary groups, group and
//! user (`limits`, `groups`, `group`, `user`), applied in that order between fork and exec.
//!
//! Everything is decided in the daemon, before the fork ([`Switch::prepare`]): the ids come
//! from the plan (resolved when it was compiled, see [`crate::plan::credentials`]), the
//! refusals (an unknown user, a daemon that is not root asked for another user, a hard limit
//! it may not raise) are errors with their reason, and the lists the child needs are
//! allocated. The child ([`Switch::apply`]) only makes system calls: no allocation, no lock.
//!
//! A daemon that is not root may still name itself (`user` equal to its own uid, no other
//! group): that changes nothing and is not refused.

use std::io;

use nix::libc;
use rustix::process::{Resource, Rlimit};

use crate::plan::ProgramSpec;
use crate::plan::credentials::{Entry, LimitName};

/// Why the child cannot become what the program asks for; each is a failed start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SwitchError {
    #[error("unknown user {0}")]
    UnknownUser(String),
    #[error("unknown group {0}")]
    UnknownGroup(String),
    #[error("cannot run as {0}: taskmaster is not running as root")]
    NotRoot(String),
    #[error("cannot raise {limit} hard limit to {value}: Operation not permitted")]
    RaiseLimit { limit: LimitName, value: String },
}

/// The limits and credentials of one child, ready for [`Switch::apply`].
#[derive(Debug, Default)]
pub(super) struct Switch {
    limits: Vec<(Resource, Rlimit)>,
    groups: Option<Vec<libc::gid_t>>,
    gid: Option<libc::gid_t>,
    uid: Option<libc::uid_t>,
}

impl Switch {
    /// Whether there is nothing to do (posix_spawn can start this child).
    pub(super) fn is_empty(&self) -> bool {
        self.limits.is_empty() && self.groups.is_none() && self.gid.is_none() && self.uid.is_none()
    }

    /// Decides what the child of `spec` does before exec, for a daemon of effective uid
    /// `euid`.
    pub(super) fn prepare(spec: &ProgramSpec, euid: u32) -> Result<Switch, SwitchError> {
        let root = euid == 0;
        let mut switch = Switch {
            limits: limits(spec, root)?,
            ..Switch::default()
        };
        let account = match &spec.user {
            Some(user) => Some(
                user.account
                    .as_ref()
                    .ok_or_else(|| SwitchError::UnknownUser(user.written.clone()))?,
            ),
            None => None,
        };
        let group = match &spec.group {
            Some(g) => Some(
                g.gid
                    .ok_or_else(|| SwitchError::UnknownGroup(g.written.clone()))?,
            ),
            None => None,
        };
        let groups = match &spec.groups {
            Some(list) => Some(
                list.iter()
                    .map(|g| {
                        g.gid
                            .ok_or_else(|| SwitchError::UnknownGroup(g.written.clone()))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            None => account.map(|a| a.entry.as_ref().map_or_else(Vec::new, |e| e.groups.clone())),
        };
        switch.uid = account.map(|a| a.uid);
        switch.gid = group.or(account.map(|a| a.gid));
        switch.groups = groups;
        if switch.uid.is_none() && switch.gid.is_none() && switch.groups.is_none() {
            return Ok(switch);
        }
        if !root {
            let own_uid = nix::unistd::getuid().as_raw();
            let own_gid = nix::unistd::getgid().as_raw();
            let other_user = switch.uid.is_some_and(|u| u != own_uid);
            let other_group = switch.gid.is_some_and(|g| g != own_gid);
            // The user's own groups need no privilege to keep; other ones do.
            let other_groups = spec.groups.is_some() && {
                let mut want = switch.groups.clone().unwrap_or_default();
                let mut have: Vec<u32> = nix::unistd::getgroups()
                    .map(|g| g.into_iter().map(nix::unistd::Gid::as_raw).collect())
                    .unwrap_or_default();
                want.sort_unstable();
                want.dedup();
                have.sort_unstable();
                have.dedup();
                want != have
            };
            if other_user || other_group || other_groups {
                let who = match (&spec.user, &spec.group) {
                    (Some(u), _) => u.written.clone(),
                    (None, Some(g)) => format!("group {}", g.written),
                    (None, None) => "groups ".to_owned() + &group_names(spec),
                };
                return Err(SwitchError::NotRoot(who));
            }
            // Itself: nothing to switch.
            switch.uid = None;
            switch.gid = None;
            switch.groups = None;
        }
        Ok(switch)
    }

    /// Applies the limits, then the groups, the group and the user; the error is an errno.
    /// Only called between fork (or clone) and exec: raw system calls only, no allocation.
    /// Raw, not glibc's wrappers: in a `CLONE_VM` child those would apply the change to
    /// every thread of the daemon (see [`super::vfork`]).
    pub(super) fn apply(&self) -> Result<(), i32> {
        for (resource, limit) in &self.limits {
            rustix::process::setrlimit(*resource, *limit)
                .map_err(rustix::io::Errno::raw_os_error)?;
        }
        // SAFETY: plain system calls; setgroups reads `len` gids from a live slice.
        unsafe {
            if let Some(groups) = &self.groups
                && libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) != 0
            {
                return Err(last_errno());
            }
            if let Some(gid) = self.gid
                && libc::syscall(libc::SYS_setgid, gid) != 0
            {
                return Err(last_errno());
            }
            if let Some(uid) = self.uid
                && libc::syscall(libc::SYS_setuid, uid) != 0
            {
                return Err(last_errno());
            }
        }
        Ok(())
    }
}

/// errno, read without allocating.
fn last_errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINVAL)
}

fn group_names(spec: &ProgramSpec) -> String {
    spec.groups
        .iter()
        .flatten()
        .map(|g| g.written.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The rlimits to set. A daemon that is not root cannot raise a hard limit: refused here,
/// with the limit named, rather than as a bare EPERM from the child.
fn limits(spec: &ProgramSpec, root: bool) -> Result<Vec<(Resource, Rlimit)>, SwitchError> {
    spec.limits
        .iter()
        .map(|(name, limit)| {
            let resource = name.resource();
            if !root {
                let current = rustix::process::getrlimit(resource).maximum;
                let raises = match (limit.hard, current) {
                    (_, None) => false,
                    (None, Some(_)) => true,
                    (Some(want), Some(have)) => want > have,
                };
                if raises {
                    return Err(SwitchError::RaiseLimit {
                        limit: *name,
                        value: limit
                            .hard
                            .map_or_else(|| "unlimited".into(), |h| h.to_string()),
                    });
                }
            }
            Ok((
                resource,
                Rlimit {
                    current: limit.soft,
                    maximum: limit.hard,
                },
            ))
        })
        .collect()
}

/// HOME, USER, LOGNAME and SHELL from the user's passwd entry, for a program with `user`.
pub(super) fn account_vars(spec: &ProgramSpec) -> Vec<(&'static str, String)> {
    let Some(Entry {
        name, home, shell, ..
    }) = spec
        .user
        .as_ref()
        .and_then(|u| u.account.as_ref())
        .and_then(|a| a.entry.as_ref())
    else {
        return Vec::new();
    };
    vec![
        ("HOME", home.display().to_string()),
        ("USER", name.clone()),
        ("LOGNAME", name.clone()),
        ("SHELL", shell.display().to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::credentials::{Group, Limit, User};

    fn spec() -> ProgramSpec {
        ProgramSpec::with_defaults("p", vec!["true".into()])
    }

    #[test]
    fn unknown_names_and_non_root_requests_are_refused_with_their_reason() {
        let mut s = spec();
        s.user = Some(User::resolve("no-such-user-xyz"));
        let err = Switch::prepare(&s, 0).unwrap_err().to_string();
        assert_eq!(err, "unknown user no-such-user-xyz");
        s.user = None;
        s.groups = Some(vec![
            Group::resolve("root"),
            Group::resolve("no-such-group-xyz"),
        ]);
        let err = Switch::prepare(&s, 0).unwrap_err().to_string();
        assert_eq!(err, "unknown group no-such-group-xyz");
        // A uid no one has: a daemon of another uid cannot take it.
        s.groups = None;
        s.user = Some(User::resolve("4000000000"));
        let err = Switch::prepare(&s, 1).unwrap_err().to_string();
        assert_eq!(
            err,
            "cannot run as 4000000000: taskmaster is not running as root"
        );
    }

    #[test]
    fn root_switches_to_the_users_ids_and_groups() {
        let mut s = spec();
        s.user = Some(User::resolve("root"));
        let switch = Switch::prepare(&s, 0).unwrap();
        assert_eq!((switch.uid, switch.gid), (Some(0), Some(0)));
        assert!(switch.groups.as_ref().is_some_and(|g| g.contains(&0)));
        s.group = Some(Group::resolve("77"));
        s.groups = Some(vec![]);
        let switch = Switch::prepare(&s, 0).unwrap();
        assert_eq!(
            (switch.gid, switch.groups.as_deref()),
            (Some(77), Some(&[][..]))
        );
        assert!(Switch::prepare(&spec(), 0).unwrap().is_empty());
    }

    #[test]
    fn a_non_root_daemon_may_not_raise_a_hard_limit() {
        let mut s = spec();
        s.limits.insert(
            LimitName::Core,
            Limit {
                soft: Some(0),
                hard: Some(0),
            },
        );
        assert!(Switch::prepare(&s, 1).is_ok(), "lowering is allowed");
        let current = rustix::process::getrlimit(Resource::Nofile).maximum;
        if let Some(hard) = current {
            s.limits.insert(
                LimitName::Nofile,
                Limit {
                    soft: Some(1),
                    hard: Some(hard + 1),
                },
            );
            let err = Switch::prepare(&s, 1).unwrap_err().to_string();
            assert_eq!(
                err,
                format!(
                    "cannot raise nofile hard limit to {}: Operation not permitted",
                    hard + 1
                )
            );
        }
    }
}
