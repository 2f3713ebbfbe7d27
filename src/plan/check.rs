//! The typed `readiness { … }` and `liveness { … }` blocks of a program: what a check
//! probes ([`Probe`]) and how often ([`Check`]).
//!
//! Everything here is already validated: tcp/http targets are numeric loopback addresses
//! (`localhost` became `127.0.0.1` at compile time, so the runtime never resolves a name),
//! and a `log` pattern is compiled (off the event loop, with the rest of the plan).

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use serde::{Serialize, Serializer};

use super::model::format_duration;

/// Which block a check comes from: the two differ in defaults and in what a result does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckRole {
    /// Gates STARTING → RUNNING.
    Readiness,
    /// Restarts a RUNNING process that stops answering.
    Liveness,
}

impl CheckRole {
    pub fn name(self) -> &'static str {
        match self {
            CheckRole::Readiness => "readiness",
            CheckRole::Liveness => "liveness",
        }
    }
}

/// One check block with every default filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub probe: Probe,
    /// Between the end of one attempt and the start of the next.
    pub interval: Duration,
    /// Per attempt.
    pub timeout: Duration,
    /// Readiness: consecutive passes that make the process ready. Liveness: consecutive
    /// failures that stop it.
    pub threshold: u32,
    /// Readiness only: not ready this long after the spawn is a failed start attempt.
    pub deadline: Duration,
    /// Before the first attempt (after the spawn for readiness, after RUNNING for liveness).
    pub delay: Duration,
}

impl Check {
    pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
    pub const MAX_THRESHOLD: u32 = 100;
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
    pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);

    /// A check of `probe` with `role`'s defaults.
    pub fn with_defaults(role: CheckRole, probe: Probe) -> Self {
        let (interval, threshold) = match role {
            CheckRole::Readiness => (Duration::from_secs(1), 1),
            CheckRole::Liveness => (Duration::from_secs(10), 3),
        };
        Check {
            probe,
            interval,
            timeout: Self::DEFAULT_TIMEOUT,
            threshold,
            deadline: Self::DEFAULT_DEADLINE,
            delay: Duration::ZERO,
        }
    }
}

/// What one attempt does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Passes when a TCP connect completes.
    Tcp(SocketAddr),
    /// Passes on an HTTP status 200..=399 for `GET path`.
    Http(HttpTarget),
    /// Passes when the command exits 0.
    Exec(Vec<String>),
    /// Passes when one output line matches (readiness only; no attempts, no timer).
    Log(LogPattern),
}

/// A parsed `http://HOST:PORT/PATH` with a loopback host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTarget {
    /// The URL as written, for `diff` and messages.
    pub url: String,
    pub addr: SocketAddr,
    /// The `Host:` header: the URL's authority as written.
    pub host: String,
    /// Path and query, at least `/`.
    pub path: String,
}

/// Which output stream(s) a `log` check reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogStream {
    #[default]
    Stdout,
    Stderr,
    Both,
}

impl LogStream {
    pub fn name(self) -> &'static str {
        match self {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
            LogStream::Both => "both",
        }
    }
}

/// A compiled `log` pattern; two are equal when their source text is.
#[derive(Debug, Clone)]
pub struct LogPattern {
    pub regex: regex::Regex,
    pub stream: LogStream,
}

impl LogPattern {
    /// Whether one output line (without its line ending) matches.
    pub fn matches(&self, line: &[u8]) -> bool {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // Output is bytes; a line that is not UTF-8 is matched on its lossy text.
        self.regex.is_match(&String::from_utf8_lossy(line))
    }
}

impl PartialEq for LogPattern {
    fn eq(&self, other: &Self) -> bool {
        self.regex.as_str() == other.regex.as_str() && self.stream == other.stream
    }
}

impl Eq for LogPattern {}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::Tcp(addr) => write!(f, "tcp \"{addr}\""),
            Probe::Http(t) => write!(f, "http {:?}", t.url),
            Probe::Exec(argv) => {
                let words: Vec<String> = argv.iter().map(|w| format!("{w:?}")).collect();
                write!(f, "exec {}", words.join(" "))
            }
            Probe::Log(p) => {
                write!(f, "log {:?}", p.regex.as_str())?;
                if p.stream != LogStream::Stdout {
                    write!(f, " {:?}", p.stream.name())?;
                }
                Ok(())
            }
        }
    }
}

impl Check {
    /// The block as a config would write it (every value shown, defaults included), for
    /// `diff`.
    pub fn show(&self, role: CheckRole) -> String {
        let mut parts = vec![self.probe.to_string()];
        if !matches!(self.probe, Probe::Log(_)) {
            parts.push(format!("interval \"{}\"", format_duration(self.interval)));
            parts.push(format!("timeout \"{}\"", format_duration(self.timeout)));
            parts.push(format!("threshold {}", self.threshold));
        }
        if role == CheckRole::Readiness {
            parts.push(format!("deadline \"{}\"", format_duration(self.deadline)));
        }
        if !self.delay.is_zero() {
            parts.push(format!("delay \"{}\"", format_duration(self.delay)));
        }
        format!("{{ {} }}", parts.join("; "))
    }
}

impl Serialize for Check {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut m = s.serialize_map(None)?;
        match &self.probe {
            Probe::Tcp(addr) => m.serialize_entry("tcp", &addr.to_string())?,
            Probe::Http(t) => m.serialize_entry("http", &t.url)?,
            Probe::Exec(argv) => m.serialize_entry("exec", argv)?,
            Probe::Log(p) => {
                m.serialize_entry("log", p.regex.as_str())?;
                m.serialize_entry("stream", p.stream.name())?;
            }
        }
        m.serialize_entry("interval", &self.interval.as_secs_f64())?;
        m.serialize_entry("timeout", &self.timeout.as_secs_f64())?;
        m.serialize_entry("threshold", &self.threshold)?;
        m.serialize_entry("deadline", &self.deadline.as_secs_f64())?;
        m.serialize_entry("delay", &self.delay.as_secs_f64())?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(pattern: &str) -> LogPattern {
        LogPattern {
            regex: regex::Regex::new(pattern).unwrap(),
            stream: LogStream::Stdout,
        }
    }

    #[test]
    fn log_patterns_search_lines_without_their_ending() {
        let p = log("ready$");
        assert!(p.matches(b"server ready\r\n"));
        assert!(p.matches(b"server ready"));
        assert!(!p.matches(b"ready? no\n"));
        assert!(
            log("é").matches(b"caf\xc3\xa9 \xff\n"),
            "lossy, not refused"
        );
    }

    #[test]
    fn patterns_compare_by_text() {
        assert_eq!(log("a+"), log("a+"));
        assert_ne!(log("a+"), log("a*"));
    }

    #[test]
    fn blocks_show_like_config() {
        let c = Check::with_defaults(
            CheckRole::Liveness,
            Probe::Tcp("127.0.0.1:8080".parse().unwrap()),
        );
        assert_eq!(
            c.show(CheckRole::Liveness),
            "{ tcp \"127.0.0.1:8080\"; interval \"10s\"; timeout \"1s\"; threshold 3 }"
        );
        let r = Check::with_defaults(CheckRole::Readiness, Probe::Log(log("up")));
        assert_eq!(
            r.show(CheckRole::Readiness),
            "{ log \"up\"; deadline \"60s\" }"
        );
    }
}
