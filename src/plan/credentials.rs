//! Who a program runs as and with which limits: the values of `user`, `group`, `groups`,
//! `limits` and `env-file` in the plan, and the user-database lookups behind them.
//!
//! **When names are resolved.** `getpwnam` and friends may block (NSS: LDAP, sssd), and
//! nothing may block the daemon's event loop nor run between fork and exec. So names are
//! resolved when the plan is compiled (`check`, `run`, `reload`, `diff`; in the daemon that is
//! its compile worker thread), and the plan carries the uid, gid, supplementary groups, home
//! and shell. A reload resolves them again: a user created, renamed or given other groups
//! after the daemon read its config takes effect at the next `reload`, which restarts the
//! programs whose credentials changed (the plan differs).
//!
//! A name that resolves to nothing is kept (a `check` warning: the config may be meant for
//! another machine) and every start of the program then fails with `unknown user NAME`.
//! A number (`user 1000`, `user "1000"`) is taken as that uid even without a passwd entry
//! (as `docker run -u 1000` does); it then gets no HOME/USER/LOGNAME/SHELL and, unless
//! `group`/`groups` say otherwise, the gid of the same number and no supplementary groups.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Serialize, Serializer};

/// `user`: as written, and the account it named when the plan was compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The name or uid as the config writes it.
    pub written: String,
    /// `None`: no such user on this machine (at compile time).
    pub account: Option<Account>,
}

/// A resolved user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub uid: u32,
    /// The primary group, used when `group` is not set.
    pub gid: u32,
    /// The passwd entry, when there is one (a bare uid may have none).
    pub entry: Option<Entry>,
}

/// What the passwd and group databases say about a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub home: PathBuf,
    pub shell: PathBuf,
    /// Every group the user is in (`getgrouplist`), the primary one included; used when
    /// `groups` is not set.
    pub groups: Vec<u32>,
}

/// `group`, or one name of `groups`: as written, and its gid when it resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub written: String,
    pub gid: Option<u32>,
}

impl User {
    /// Resolves `written` (a name, or a uid in decimal) in the user database.
    pub fn resolve(written: &str) -> User {
        let account = match written.parse::<u32>() {
            Ok(uid) => Some(match nix::unistd::User::from_uid(uid.into()) {
                Ok(Some(u)) => account(u),
                _ => Account {
                    uid,
                    gid: uid,
                    entry: None,
                },
            }),
            Err(_) => match nix::unistd::User::from_name(written) {
                Ok(Some(u)) => Some(account(u)),
                _ => None,
            },
        };
        User {
            written: written.to_owned(),
            account,
        }
    }
}

fn account(u: nix::unistd::User) -> Account {
    let groups = std::ffi::CString::new(u.name.as_bytes())
        .ok()
        .and_then(|name| nix::unistd::getgrouplist(&name, u.gid).ok())
        .map_or_else(
            || vec![u.gid.as_raw()],
            |g| g.into_iter().map(nix::unistd::Gid::as_raw).collect(),
        );
    Account {
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
        entry: Some(Entry {
            name: u.name,
            home: u.dir,
            shell: u.shell,
            groups,
        }),
    }
}

impl Group {
    /// Resolves `written` (a name, or a gid in decimal) in the group database; a number is
    /// taken as that gid even without an entry.
    pub fn resolve(written: &str) -> Group {
        let gid = match written.parse::<u32>() {
            Ok(gid) => Some(gid),
            Err(_) => match nix::unistd::Group::from_name(written) {
                Ok(Some(g)) => Some(g.gid.as_raw()),
                _ => None,
            },
        };
        Group {
            written: written.to_owned(),
            gid,
        }
    }
}

impl Serialize for User {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.written)
    }
}

impl Serialize for Group {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.written)
    }
}

/// A resource limit `limits` can set: an rlimit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LimitName {
    Nofile,
    Nproc,
    Core,
    Fsize,
    Stack,
    Memlock,
    As,
    Cpu,
}

impl LimitName {
    pub const ALL: &[LimitName] = &[
        LimitName::Nofile,
        LimitName::Nproc,
        LimitName::Core,
        LimitName::Fsize,
        LimitName::Stack,
        LimitName::Memlock,
        LimitName::As,
        LimitName::Cpu,
    ];

    pub fn name(self) -> &'static str {
        match self {
            LimitName::Nofile => "nofile",
            LimitName::Nproc => "nproc",
            LimitName::Core => "core",
            LimitName::Fsize => "fsize",
            LimitName::Stack => "stack",
            LimitName::Memlock => "memlock",
            LimitName::As => "as",
            LimitName::Cpu => "cpu",
        }
    }

    pub fn from_name(name: &str) -> Option<LimitName> {
        LimitName::ALL.iter().copied().find(|l| l.name() == name)
    }

    /// Whether the limit counts bytes (and so takes sizes such as `"512MB"`).
    pub fn is_bytes(self) -> bool {
        matches!(
            self,
            LimitName::Core
                | LimitName::Fsize
                | LimitName::Stack
                | LimitName::Memlock
                | LimitName::As
        )
    }

    /// The rlimit it sets.
    pub fn resource(self) -> rustix::process::Resource {
        use rustix::process::Resource;
        match self {
            LimitName::Nofile => Resource::Nofile,
            LimitName::Nproc => Resource::Nproc,
            LimitName::Core => Resource::Core,
            LimitName::Fsize => Resource::Fsize,
            LimitName::Stack => Resource::Stack,
            LimitName::Memlock => Resource::Memlock,
            LimitName::As => Resource::As,
            LimitName::Cpu => Resource::Cpu,
        }
    }
}

impl fmt::Display for LimitName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One limit's soft and hard values; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

fn show_limit_value(v: Option<u64>) -> String {
    v.map_or_else(|| "\"unlimited\"".to_owned(), |n| n.to_string())
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.soft == self.hard {
            f.write_str(&show_limit_value(self.soft))
        } else {
            write!(
                f,
                "{} {}",
                show_limit_value(self.soft),
                show_limit_value(self.hard)
            )
        }
    }
}

/// `limits { … }`: every limit set, by name.
pub type Limits = BTreeMap<LimitName, Limit>;

/// `limits` as the plan serializes it: `{"nofile": [4096, 65536], "core": ["unlimited", …]}`.
pub fn serialize_limits<S: Serializer>(limits: &Limits, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap as _;
    let value = |v: Option<u64>| v.map_or(serde_json::json!("unlimited"), std::convert::Into::into);
    let mut map = s.serialize_map(Some(limits.len()))?;
    for (name, limit) in limits {
        map.serialize_entry(name.name(), &[value(limit.soft), value(limit.hard)])?;
    }
    map.end()
}

/// `env-file`: the files, in order, and the variables read from them when the plan was
/// compiled (later files win).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnvFiles {
    /// Absolute paths, in the config's order.
    pub files: Vec<PathBuf>,
    pub vars: BTreeMap<String, String>,
}

impl EnvFiles {
    /// The files as written in a note: `/a/.env /etc/default/web`.
    pub fn names(&self) -> String {
        let names: Vec<String> = self.files.iter().map(|f| f.display().to_string()).collect();
        names.join(" ")
    }

    /// The variables a program gets from its env files: those its `env` does not set.
    pub fn vars_under<'a>(
        &'a self,
        env: &'a BTreeMap<String, String>,
    ) -> impl Iterator<Item = (&'a String, &'a String)> {
        self.vars.iter().filter(|(k, _)| !env.contains_key(*k))
    }
}

impl Serialize for EnvFiles {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.files.serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// root exists everywhere, with uid 0.
    #[test]
    fn names_and_numbers_resolve() {
        let root = User::resolve("root");
        let account = root.account.expect("root exists");
        assert_eq!((account.uid, account.gid), (0, 0));
        assert_eq!(account.entry.expect("an entry").name, "root");
        assert_eq!(User::resolve("0").account.map(|a| a.uid), Some(0));
        assert!(User::resolve("no-such-user-xyz").account.is_none());
        let bare = User::resolve("4000000000").account.expect("a bare uid");
        assert_eq!(
            (bare.uid, bare.gid, bare.entry),
            (4_000_000_000, 4_000_000_000, None)
        );
        assert_eq!(Group::resolve("root").gid, Some(0));
        assert_eq!(Group::resolve("77").gid, Some(77));
        assert_eq!(Group::resolve("no-such-group-xyz").gid, None);
    }

    #[test]
    fn limits_show_like_the_config() {
        let same = Limit {
            soft: Some(5),
            hard: Some(5),
        };
        assert_eq!(same.to_string(), "5");
        let two = Limit {
            soft: Some(1),
            hard: None,
        };
        assert_eq!(two.to_string(), "1 \"unlimited\"");
    }
}
