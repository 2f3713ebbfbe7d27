//! Where the control socket is: one rule for `run` and every client command, first match
//! wins:
//!
//! 1. `--socket PATH`;
//! 2. `TASKMASTER_SOCKET`;
//! 3. the `socket` setting of the config, relative to the config's folder: `run`'s CONFIG; for
//!    a client, its `--config CONFIG`, else `./taskmaster.kdl` when that file exists;
//! 4. `$XDG_RUNTIME_DIR/taskmaster.sock`;
//! 5. `/tmp/taskmaster-$UID/taskmaster.sock`, in a folder `run` creates 0700 and refuses to
//!    use when another user owns it or can write to it
//!    ([`crate::runtime::socket::private_folder`]).
//!
//! A client reads `./taskmaster.kdl` only when it is ours (or root's): a file another user
//! wrote into a shared folder must not point our `shutdown` at some other daemon.

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use crate::plan::Plan;

/// The config file a client looks in for a `socket` setting, and `run`'s default config.
pub const DEFAULT_CONFIG: &str = "taskmaster.kdl";

/// `$XDG_RUNTIME_DIR/taskmaster.sock`, else [`fallback_socket`].
pub fn default_socket() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => Path::new(&dir).join("taskmaster.sock"),
        _ => fallback_socket(),
    }
}

/// `/tmp/taskmaster-$UID/taskmaster.sock`: the last resort, in a private folder.
pub fn fallback_socket() -> PathBuf {
    fallback_folder().join("taskmaster.sock")
}

/// `/tmp/taskmaster-$UID`, which `run` creates 0700.
pub fn fallback_folder() -> PathBuf {
    PathBuf::from(format!(
        "/tmp/taskmaster-{}",
        nix::unistd::getuid().as_raw()
    ))
}

/// Why a client could not work out its socket.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {}: {reason}", path.display())]
pub struct ConfigUnreadable {
    pub path: PathBuf,
    pub reason: String,
}

/// The socket a client command talks to. `explicit` is `--socket` or `TASKMASTER_SOCKET`
/// (clap merges the two, the flag first); `config` is `--config`.
///
/// The config is only parsed, not compiled: the client needs one setting, not a validated
/// plan (whose file-system checks cost a `stat` per path of every program). Reading the
/// syntax tree also keeps the setting when the file does not compile — exactly when a user
/// runs `reload` or `diff` to see its diagnostics — rather than falling back to the default
/// socket and calling the daemon unreachable. For a config that compiles, both give the same
/// path.
pub fn for_client(
    explicit: Option<&Path>,
    config: Option<&Path>,
) -> Result<PathBuf, ConfigUnreadable> {
    if let Some(path) = explicit {
        return Ok(path.to_owned());
    }
    if let Some(config) = config {
        let text = std::fs::read_to_string(config).map_err(|e| ConfigUnreadable {
            path: config.to_owned(),
            reason: e.to_string(),
        })?;
        return Ok(syntax_socket(config, &text).unwrap_or_else(default_socket));
    }
    Ok(implicit_config_socket(Path::new(DEFAULT_CONFIG)).unwrap_or_else(default_socket))
}

/// The `socket` of `./taskmaster.kdl` when it exists and is ours or root's.
fn implicit_config_socket(config: &Path) -> Option<PathBuf> {
    let meta = std::fs::metadata(config).ok()?;
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me && meta.uid() != 0 {
        eprintln!(
            "warning: ignoring ./{} for the socket: it belongs to uid {}, not to you (name it with --config to use it)",
            config.display(),
            meta.uid()
        );
        return None;
    }
    let text = std::fs::read_to_string(config).ok()?;
    syntax_socket(config, &text)
}

/// The socket the daemon listens on. `flag` is `run --socket`.
pub fn for_daemon(flag: Option<&Path>, plan: &Plan) -> PathBuf {
    daemon_socket(flag, plan, std::env::var_os("TASKMASTER_SOCKET"))
}

/// [`for_daemon`]'s rule, with `TASKMASTER_SOCKET`'s value passed in.
fn daemon_socket(flag: Option<&Path>, plan: &Plan, env: Option<OsString>) -> PathBuf {
    if let Some(path) = flag {
        return path.to_owned();
    }
    match env {
        Some(path) if !path.is_empty() => return PathBuf::from(path),
        _ => {}
    }
    if let Some(socket) = &plan.daemon.socket {
        return socket.clone();
    }
    default_socket()
}

/// `taskmaster { socket "…" }` of a config that may not compile, resolved against its folder;
/// `None` when the file is missing, unreadable or not KDL, or has no such setting.
fn syntax_socket(config: &Path, text: &str) -> Option<PathBuf> {
    let parsed = crate::parse::parse(text).ok()?;
    let value = parsed
        .doc
        .nodes()
        .iter()
        .filter(|n| n.name().value() == "taskmaster")
        .filter_map(|n| n.children())
        .flat_map(kdl::KdlDocument::nodes)
        .filter(|n| n.name().value() == "socket")
        .filter_map(|n| n.entries().iter().find(|e| e.name().is_none()))
        .filter_map(|e| e.value().as_string())
        .next_back()?
        .to_owned();
    if value.is_empty() {
        return None;
    }
    // The compiler's rule: relative to the config's folder (`plan::load_file` does the same).
    let absolute = std::path::absolute(config).ok()?;
    Some(crate::plan::resolve_path(absolute.parent()?, &value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_socket_prefers_flag_then_variable_then_config() {
        let env = || Some("/env.sock".into());
        let mut plan = Plan::default();
        assert_eq!(daemon_socket(None, &plan, env()), Path::new("/env.sock"));
        assert_eq!(
            daemon_socket(None, &plan, Some("".into())),
            default_socket()
        );
        plan.daemon.socket = Some("/cfg.sock".into());
        assert_eq!(daemon_socket(None, &plan, env()), Path::new("/env.sock"));
        assert_eq!(daemon_socket(None, &plan, None), Path::new("/cfg.sock"));
        let flag = Path::new("/flag.sock");
        assert_eq!(daemon_socket(Some(flag), &plan, env()), flag);
    }

    #[test]
    fn client_socket_prefers_explicit_then_config() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("c.kdl");
        std::fs::write(&config, "taskmaster { socket \"c.sock\" }\n").unwrap();
        let explicit = Path::new("/x.sock");
        assert_eq!(for_client(Some(explicit), Some(&config)).unwrap(), explicit);
        assert_eq!(
            for_client(None, Some(&config)).unwrap(),
            dir.path().join("c.sock")
        );
        assert!(for_client(None, Some(&dir.path().join("missing.kdl"))).is_err());
    }

    #[test]
    fn socket_setting_is_read_from_an_invalid_config() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("taskmaster.kdl");
        std::fs::write(
            &config,
            "taskmaster {\n    socket \"run/tm.sock\"\n}\nprogram \"x\" { numprocs 0 }\n",
        )
        .unwrap();
        let read = |c: &Path| syntax_socket(c, &std::fs::read_to_string(c).unwrap());
        assert_eq!(read(&config), Some(dir.path().join("run/tm.sock")));
        std::fs::write(&config, "taskmaster { socket \"/abs.sock\" }\nprogram {").unwrap();
        assert_eq!(read(&config), None, "not even KDL: no setting");
        std::fs::write(&config, "program \"x\" {}").unwrap();
        assert_eq!(read(&config), None);
    }
}
