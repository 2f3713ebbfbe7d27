//! Which socket a client command talks to: [`socket_path::for_client`]'s rule, plus one
//! fallback it lacks. When `./taskmaster.kdl` exists but does not compile — exactly when a
//! user runs `reload` or `diff` to see its diagnostics — its `socket` setting is still read
//! from the syntax tree, instead of silently falling back to the default socket and
//! reporting the daemon unreachable.

use std::path::{Path, PathBuf};

use crate::cli::socket_path::{self, DEFAULT_CONFIG, default_socket};

/// The socket for `explicit` (`--socket` / `TASKMASTER_SOCKET`), else the local config's,
/// else the default one.
pub fn socket(explicit: Option<&Path>) -> PathBuf {
    let config = Path::new(DEFAULT_CONFIG);
    if explicit.is_some() || !config.is_file() {
        return socket_path::for_client(explicit);
    }
    match crate::plan::load_file(config) {
        Ok(compiled) => compiled.plan.daemon.socket.unwrap_or_else(default_socket),
        Err(_) => syntax_socket(config).unwrap_or_else(default_socket),
    }
}

/// `taskmaster { socket "…" }` of a config that may not compile, resolved against its folder.
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
    let folder = config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let folder = std::path::absolute(folder).ok()?;
    Some(folder.join(value).components().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

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
