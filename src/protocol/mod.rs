//! The control protocol spoken over the daemon's unix socket.
//!
//! Newline-delimited JSON: the client writes one [`RequestLine`] per line and the daemon
//! answers each with one [`Response`] per line (a followed `logs` request gets a stream of
//! [`Response::Log`] lines until the client hangs up). Every request carries
//! [`PROTOCOL_VERSION`]; the daemon refuses other versions with an error reply, so a client
//! and a daemon of different releases fail clearly instead of misreading each other.
//!
//! Limits the daemon enforces: a request line over [`MAX_REQUEST_BYTES`] (its `\n` or `\r\n`
//! aside) gets an error and the connection is closed; a client that has not sent a whole
//! request within [`REQUEST_TIMEOUT`] is disconnected; one with nothing in flight (no request
//! being answered, no `logs -f`) is closed after [`IDLE_TIMEOUT`]; beyond
//! [`MAX_CONNECTIONS`] connections, a new one gets a [`ErrorKind::Busy`] error and is closed;
//! at most [`MAX_UNSENT_BYTES`] wait unsent per connection (a `logs -f` reader that falls
//! further behind gets `[taskmaster: N bytes skipped]` instead of the lines it missed).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::plan::diff::PlanDiff;

/// Bumped on any incompatible change to [`Request`] or [`Response`].
pub(crate) const PROTOCOL_VERSION: u32 = 1;

/// The longest request line the daemon reads; longer ones are refused.
pub(crate) const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// How long a client may take to send a whole request line.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a connection with nothing in flight stays open.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Connections served at once.
pub(crate) const MAX_CONNECTIONS: usize = 256;

/// Output the daemon keeps queued for one connection (one reply may pass it once).
pub(crate) const MAX_UNSENT_BYTES: usize = 1024 * 1024;

/// One request as it travels: `{"version":1,"command":"status","names":[]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RequestLine {
    pub version: u32,
    #[serde(flatten)]
    pub request: Request,
}

impl RequestLine {
    pub(crate) fn new(request: Request) -> Self {
        RequestLine {
            version: PROTOCOL_VERSION,
            request,
        }
    }
}

/// What a client asks of the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub(crate) enum Request {
    /// One row per process; `names` empty means all.
    Status {
        #[serde(default)]
        names: Vec<String>,
    },
    /// Start programs or processes (`web`, `web:1`, `all`); answered once they are RUNNING
    /// or have failed. `no_deps`: spawn without waiting for `depends-on`, this once.
    Start {
        names: Vec<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        no_deps: bool,
    },
    /// Stop them; answered once they are STOPPED.
    Stop { names: Vec<String> },
    /// Stop then start them.
    Restart { names: Vec<String> },
    /// Re-read the daemon's config file and apply the plan diff.
    Reload,
    /// What `reload` would do, against `config` or the daemon's own config file.
    Diff {
        #[serde(default)]
        config: Option<PathBuf>,
    },
    /// Stop everything gracefully, answer, then exit.
    Shutdown,
    /// A process's captured output. With `follow`, new output keeps coming as
    /// [`Response::Log`] lines until the client disconnects.
    Logs {
        name: String,
        #[serde(default)]
        stderr: bool,
        #[serde(default)]
        lines: Option<usize>,
        #[serde(default)]
        follow: bool,
        /// Both streams, in arrival order (`--both`; `stderr` is then ignored). Left out
        /// when false, so a request reads as it did before `--both`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        both: bool,
    },
    /// Program and process names, for the shell's tab completion.
    Names,
    /// Send `signal` (a name such as `HUP`/`SIGHUP`, or a number) to the process group of
    /// every named process that has one; answered with [`Response::Signalled`].
    Signal { signal: String, names: Vec<String> },
    /// The daemon's pid, and the pid of every named process (`names` empty: none);
    /// answered with [`Response::Pids`].
    Pid {
        #[serde(default)]
        names: Vec<String>,
    },
    /// The stop and start timings of the named processes' programs, so a waiting client can
    /// tell how long a wait may last; answered with [`Response::Timings`].
    Timings { names: Vec<String> },
    /// Answered with [`Response::Waited`] once every named process (`names` empty: every
    /// process of an autostart program) is RUNNING, as soon as one is FATAL, or after
    /// `timeout_ms` milliseconds (none: no deadline).
    Wait {
        #[serde(default)]
        names: Vec<String>,
        #[serde(default)]
        timeout_ms: Option<u64>,
    },
    /// Whether the daemon still answers: a waiting client asks this on a second connection
    /// when its own has been silent for a while. Answered with [`Response::Pong`], also
    /// while shutting down.
    Ping,
}

/// What `start`, `stop` and `restart` do to the processes they name. Its serde name is
/// the request's `command` (`"start"`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Control {
    Start,
    Stop,
    Restart,
}

impl Control {
    /// The command's name, as on the wire.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Control::Start => "start",
            Control::Stop => "stop",
            Control::Restart => "restart",
        }
    }
}

impl std::fmt::Display for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The daemon's answer to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Response {
    /// For `status`.
    Status { processes: Vec<ProcessStatus> },
    /// For `start`, `stop`, `restart`: the final state of every process named, and the names
    /// of those that did not reach the wanted state.
    Done {
        processes: Vec<ProcessStatus>,
        failed: Vec<String>,
    },
    /// For `reload`: the diff that was applied and the config's warnings, rendered.
    Reloaded { diff: PlanDiff, warnings: String },
    /// For `diff`: what a reload would do.
    Diff { diff: PlanDiff, warnings: String },
    /// For `shutdown`: sent once everything is stopped, just before the daemon exits.
    ShutDown,
    /// For `logs`: captured output. `process` is set for programs of several processes.
    Log {
        process: Option<String>,
        text: String,
    },
    /// For `logs` without follow: the end of the output.
    LogEnd,
    /// For `ping`.
    Pong,
    /// For `names`.
    Names {
        programs: Vec<String>,
        processes: Vec<String>,
    },
    /// For `signal`: the processes whose group got the signal, and those that had no pid.
    Signalled {
        signalled: Vec<ProcessPid>,
        not_running: Vec<String>,
    },
    /// For `pid`: the daemon's own pid and one entry per named process.
    Pids {
        daemon: u32,
        processes: Vec<ProcessPid>,
    },
    /// For `wait`: the state of every process waited for, those not RUNNING, and whether
    /// the deadline passed.
    Waited {
        processes: Vec<ProcessStatus>,
        failed: Vec<String>,
        timed_out: bool,
    },
    /// For `timings`: one entry per program of the named processes.
    Timings { programs: Vec<ProgramTimings> },
    /// Any request can fail.
    Error(ErrorReply),
}

/// How a program is stopped and started, as its config says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ProgramTimings {
    pub program: String,
    /// The signal `stop` sends first, e.g. `"SIGTERM"`.
    pub stopsignal: String,
    /// Seconds between the stop signal and SIGKILL.
    pub stoptime_secs: f64,
    /// Seconds a process must stay up to be RUNNING.
    pub starttime_secs: f64,
}

/// A process's name and pid (null when it has none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProcessPid {
    pub name: String,
    pub pid: Option<u32>,
}

/// Why a request failed, and what the client should print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ErrorReply {
    pub kind: ErrorKind,
    pub message: String,
    /// For an invalid config: every diagnostic, rendered without colour.
    #[serde(default)]
    pub diagnostics: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ErrorKind {
    /// Not valid JSON, not a known command, or a wrong protocol version.
    BadRequest,
    /// Over [`MAX_REQUEST_BYTES`].
    TooLarge,
    /// A name that is no program, process or `all`; nothing was changed.
    UnknownName,
    /// The config file does not compile; nothing was changed.
    InvalidConfig,
    /// The config file could not be read.
    Unreadable,
    /// The daemon is shutting down and takes no more work.
    ShuttingDown,
    /// The daemon already serves [`MAX_CONNECTIONS`] connections; this one is closed.
    Busy,
}

impl ErrorReply {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ErrorReply {
            kind,
            message: message.into(),
            diagnostics: None,
        }
    }
}

/// A process's state, with supervisord's names and meanings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum ProcessState {
    Stopped,
    /// Would start, but its `depends-on` does not hold yet (no pid).
    Waiting,
    Starting,
    Running,
    Backoff,
    Stopping,
    Exited,
    Fatal,
}

impl ProcessState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ProcessState::Stopped => "STOPPED",
            ProcessState::Waiting => "WAITING",
            ProcessState::Starting => "STARTING",
            ProcessState::Running => "RUNNING",
            ProcessState::Backoff => "BACKOFF",
            ProcessState::Stopping => "STOPPING",
            ProcessState::Exited => "EXITED",
            ProcessState::Fatal => "FATAL",
        }
    }
}

impl std::fmt::Display for ProcessState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of `status`, exactly the object `status --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ProcessStatus {
    pub name: String,
    pub program: String,
    pub state: ProcessState,
    pub pid: Option<u32>,
    /// Set only when the process exited with a code.
    pub exit_code: Option<i32>,
    /// Set only when it was killed by a signal, e.g. `"SIGKILL"`.
    pub signal: Option<String>,
    /// Set only while it runs (STARTING, RUNNING, STOPPING).
    pub uptime_secs: Option<f64>,
    /// How often the daemon started it again on its own since the last manual start.
    pub restarts: u32,
    /// Why it is in BACKOFF or FATAL: the spawn error, or how the attempt ended
    /// ("exited with code 1 before starttime"); null in the other states.
    pub reason: Option<String>,
    /// Whether the exit code was one of the program's expected ones (EXITED only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<bool>,
    /// Whether its readiness check passed (true once RUNNING); null without `readiness`.
    #[serde(default)]
    pub ready: Option<bool>,
    /// The latest liveness result; null without `liveness` or before its first result.
    #[serde(default)]
    pub healthy: Option<bool>,
    /// The last failed check (`liveness: HTTP 503`), or null.
    #[serde(default)]
    pub check: Option<String>,
    /// WAITING only: the dependencies that do not hold yet; null otherwise.
    #[serde(default)]
    pub waiting_for: Option<Vec<WaitingFor>>,
}

/// A dependency a WAITING process waits for: `{"program": "db", "condition": "ready"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WaitingFor {
    pub program: String,
    pub condition: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_line_shape_is_stable() {
        let line = serde_json::to_string(&RequestLine::new(Request::Stop {
            names: vec!["web".into()],
        }))
        .unwrap();
        assert_eq!(line, r#"{"version":1,"command":"stop","names":["web"]}"#);
        let back: RequestLine = serde_json::from_str(&line).unwrap();
        assert_eq!(
            back.request,
            Request::Stop {
                names: vec!["web".into()]
            }
        );
    }

    /// A control verb's name is its request's `command`, both ways.
    #[test]
    fn control_verbs_are_their_commands() {
        for control in [Control::Start, Control::Stop, Control::Restart] {
            let names = vec!["web".to_owned()];
            let request = match control {
                Control::Start => Request::Start {
                    names,
                    no_deps: false,
                },
                Control::Stop => Request::Stop { names },
                Control::Restart => Request::Restart { names },
            };
            let line = serde_json::to_value(RequestLine::new(request.clone())).unwrap();
            assert_eq!(line["command"], serde_json::to_value(control).unwrap());
            assert_eq!(line["command"], control.as_str());
        }
    }

    #[test]
    fn unit_requests_parse_without_fields() {
        let r: RequestLine = serde_json::from_str(r#"{"version":1,"command":"reload"}"#).unwrap();
        assert_eq!(r.request, Request::Reload);
        let r: RequestLine = serde_json::from_str(r#"{"version":1,"command":"status"}"#).unwrap();
        assert_eq!(r.request, Request::Status { names: vec![] });
    }

    #[test]
    fn signal_and_pid_requests() {
        let r: RequestLine = serde_json::from_str(
            r#"{"version":1,"command":"signal","signal":"HUP","names":["web:*"]}"#,
        )
        .unwrap();
        assert_eq!(
            r.request,
            Request::Signal {
                signal: "HUP".into(),
                names: vec!["web:*".into()]
            }
        );
        let r: RequestLine = serde_json::from_str(r#"{"version":1,"command":"pid"}"#).unwrap();
        assert_eq!(r.request, Request::Pid { names: vec![] });
    }

    #[test]
    fn states_serialize_in_capitals() {
        assert_eq!(
            serde_json::to_string(&ProcessState::Backoff).unwrap(),
            "\"BACKOFF\""
        );
    }
}
