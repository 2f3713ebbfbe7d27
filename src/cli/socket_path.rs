//! Where the control socket is: one rule for the daemon and every client command.
//!
//! Clients: `--socket PATH` / `TASKMASTER_SOCKET`, else the `socket` setting of
//! `./taskmaster.kdl` when that file exists and compiles, else [`default_socket`].
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
pub fn for_client(explicit: Option<&Path>) -> PathBuf {
    if let Some(path) = explicit {
        return path.to_owned();
    }
    let config = Path::new(DEFAULT_CONFIG);
    if config.is_file()
        && let Ok(compiled) = crate::plan::load_file(config)
        && let Some(socket) = compiled.plan.daemon.socket
    {
        return socket;
    }
    default_socket()
}

/// The socket the daemon listens on. `flag` is `run --socket`.
pub fn for_daemon(flag: Option<&Path>, plan: &Plan) -> PathBuf {
    if let Some(path) = flag {
        return path.to_owned();
    }
    if let Some(socket) = &plan.daemon.socket {
        return socket.clone();
    }
    match std::env::var_os("TASKMASTER_SOCKET") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => default_socket(),
    }
}
