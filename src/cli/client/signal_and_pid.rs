//! `taskmaster signal SIG NAME…` and `taskmaster pid [NAME…]`.
//!
//! `signal` prints one line per process whose group got the signal; a named process without
//! a pid is reported on stderr and makes the exit status 1. `pid` prints the daemon's pid
//! (no names), or the pid of each named process that runs, one a line, so `kill $(taskmaster
//! pid web)` never sees a placeholder; a named process that does not run is noted on stderr
//! and leaves the status 0 (the name is known). `--json` prints the daemon's answer as one
//! object.

use super::transport::{Connection, Target, Wait};
use super::{client_error, error_exit, unexpected};
use crate::cli::output::{self, natural_cmp};
use crate::cli::{Format, exit};
use crate::plan::validate::values::signal_name;
use crate::protocol::{ErrorKind, ErrorReply, ProcessPid, Request, Response};

pub(super) fn signal(target: &Target, signal: String, names: Vec<String>) -> u8 {
    let socket = &target.socket;
    // A misspelt signal is a usage error, caught before anything is sent.
    let sig = match signal_name(&signal) {
        Ok(sig) => sig,
        Err(e) => {
            crate::cli::output::eprint_with_help(
                &e,
                &"a signal is a name (HUP, USR1, TERM) or a number",
            );
            return exit::USAGE;
        }
    };
    let request = Request::Signal {
        signal: sig.as_str().to_owned(),
        names,
    };
    let (mut signalled, mut not_running) = match Connection::call(target, Wait::Answer, request) {
        Ok(Response::Signalled {
            signalled,
            not_running,
        }) => (signalled, not_running),
        Ok(Response::Error(error)) => return older_daemon(&error, "signal"),
        Ok(other) => return client_error(&unexpected(socket, &other)),
        Err(e) => return client_error(&e),
    };
    signalled.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    not_running.sort_by(|a, b| natural_cmp(a, b));
    let width = signalled.iter().map(|p| p.name.len()).max().unwrap_or(0);
    let mut text = String::new();
    for p in &signalled {
        let pid = p
            .pid
            .map_or_else(String::new, |pid| format!(" (group {pid})"));
        text.push_str(&format!(
            "{:<width$}   {} sent{pid}\n",
            p.name,
            sig.as_str()
        ));
    }
    output::write_stdout(&text);
    for name in &not_running {
        eprintln!("error: {name} is not running; no signal sent");
    }
    if not_running.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    }
}

pub(super) fn pid(target: &Target, names: Vec<String>, format: Format) -> u8 {
    let socket = &target.socket;
    let asked_for_processes = !names.is_empty();
    let (daemon, mut processes) =
        match Connection::call(target, Wait::Answer, Request::Pid { names }) {
            Ok(Response::Pids { daemon, processes }) => (daemon, processes),
            Ok(Response::Error(error)) => return older_daemon(&error, "pid"),
            Ok(other) => return client_error(&unexpected(socket, &other)),
            Err(e) => return client_error(&e),
        };
    processes.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    if format == Format::Json {
        let json = serde_json::json!({ "daemon": daemon, "processes": processes });
        output::write_stdout(&format!("{json:#}\n"));
        return exit::OK;
    }
    if !asked_for_processes {
        output::write_stdout(&format!("{daemon}\n"));
        return exit::OK;
    }
    output::write_stdout(&pid_lines(&processes));
    for p in processes.iter().filter(|p| p.pid.is_none()) {
        eprintln!("note: {} is not running", p.name);
    }
    exit::OK
}

/// One pid a line, for the processes that have one.
fn pid_lines(processes: &[ProcessPid]) -> String {
    processes
        .iter()
        .filter_map(|p| p.pid)
        .map(|pid| format!("{pid}\n"))
        .collect()
}

/// An error reply; a daemon of an older release answers a command it does not know with
/// `bad_request`, which deserves a clearer word than serde's.
fn older_daemon(error: &ErrorReply, command: &str) -> u8 {
    if error.kind == ErrorKind::BadRequest && error.message.contains("unknown variant") {
        eprintln!(
            "error: the daemon does not know `{command}`: it runs an older taskmaster; \
             restart it with this version"
        );
        return exit::FAILED;
    }
    error_exit(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_lines_skip_processes_without_a_pid() {
        let ps = [
            ProcessPid {
                name: "web:0".into(),
                pid: Some(10),
            },
            ProcessPid {
                name: "web:1".into(),
                pid: None,
            },
            ProcessPid {
                name: "web:2".into(),
                pid: Some(12),
            },
        ];
        assert_eq!(pid_lines(&ps), "10\n12\n");
    }

    #[test]
    fn a_misspelt_signal_is_a_usage_error_before_connecting() {
        let dir = tempfile::tempdir().unwrap();
        let status = signal(
            &Target::new(&dir.path().join("none.sock")),
            "HUPP".into(),
            vec!["x".into()],
        );
        assert_eq!(status, exit::USAGE);
    }
}
