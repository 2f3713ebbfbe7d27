//! Where the control socket is: one rule for the daemon and every client command.
//!
//! Clients: `--socket PATH` / `TASKMASTER_SOCKET`, else the `socket` setting of
//! `./taskmaster.kdl` when that file is KDL and has one (valid or not), else [`default_socket`].
//! The daemon: `--socket PATH`, else the config's `socket` setting, else
//! `TASKMASTER_SOCKET`, else [`default_socket`]. The config wins over the variable for the
//! daemon because the file is the more deliberate choice of the two.

use std::path::{Path, PathBuf};

use crate::plan::Plan;

/// The config file a client looks in for a `socket` setting, and `run`'s default config.
pub const DEFAULT_CONFIG: &str = "taskmaster.kdl";

/// `$XDG_RUNTIME_DIR/taskmaster.sock`, else `/tmp/taskmaster-$UID.sock`.
pub fn default_socket() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => Path::new(&dir).join("taskmaster.sock"),
        _ => PathBuf::from(format!(
            "/tmp/taskmaster-{}.sock",
            nix::unistd::getuid().as_raw()
        )),
    }
}

/// The socket a client command talks to. `explicit` is `--socket` or `TASKMASTER_SOCKET`
/// (clap merges the two).
///
/// `./taskmaster.kdl` is only parsed, not compiled: the client needs one setting, not a
/// validated plan (whose file-system checks cost a `stat` per path of every program). Reading
/// the syntax tree also keeps the setting when the file does not compile — exactly when a user
/// runs `reload` or `diff` to see its diagnostics — rather than falling back to the default
/// socket and calling the daemon unreachable. For a config that compiles, both give the same
/// path.
pub fn for_client(explicit: Option<&Path>) -> PathBuf {
    if let Some(path) = explicit {
        return path.to_owned();
    }
    syntax_socket(Path::new(DEFAULT_CONFIG)).unwrap_or_else(default_socket)
}

/// The socket the daemon listens on. `flag` is `run --socket`.
pub fn for_daemon(flag: Option<&Path>, plan: &Plan) -> PathBuf {
    daemon_socket(flag, plan, std::env::var_os("TASKMASTER_SOCKET"))
}

/// [`for_daemon`]'s rule, with `TASKMASTER_SOCKET`'s value passed in.
fn daemon_socket(flag: Option<&Path>, plan: &Plan, env: Option<std::ffi::OsString>) -> PathBuf {
    if let Some(path) = flag {
        return path.to_owned();
    }
    if let Some(socket) = &plan.daemon.socket {
        return socket.clone();
    }
    match env {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => default_socket(),
    }
}

/// `taskmaster { socket "…" }` of a config that may not compile, resolved against its folder;
/// `None` when the file is missing, unreadable or not KDL, or has no such setting.
fn syntax_socket(config: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(config).ok()?;
    let parsed = crate::parse::parse(&text).ok()?;
    let value = parsed
        .doc
        .nodes()
        .iter()
        .filter(|n| n.name().value() == "taskmaster")
        .filter_map(|n| n.children())
        .flat_map(|c| c.nodes())
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
    fn daemon_socket_prefers_flag_then_config_then_variable() {
        let env = || Some("/env.sock".into());
        let mut plan = Plan::default();
        assert_eq!(daemon_socket(None, &plan, env()), Path::new("/env.sock"));
        assert_eq!(
            daemon_socket(None, &plan, Some("".into())),
            default_socket()
        );
        plan.daemon.socket = Some("/cfg.sock".into());
        assert_eq!(daemon_socket(None, &plan, env()), Path::new("/cfg.sock"));
        let flag = Path::new("/flag.sock");
        assert_eq!(daemon_socket(Some(flag), &plan, env()), flag);
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
        assert_eq!(syntax_socket(&config), Some(dir.path().join("run/tm.sock")));
        std::fs::write(&config, "taskmaster { socket \"/abs.sock\" }\nprogram {").unwrap();
        assert_eq!(syntax_socket(&config), None, "not even KDL: no setting");
        std::fs::write(&config, "program \"x\" {}").unwrap();
        assert_eq!(syntax_socket(&config), None);
    }
}
