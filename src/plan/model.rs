//! The validated, typed plan: what a config file means once every check has passed.
//!
//! A [`Plan`] holds no source spans and no raw KDL; it is what the runtime applies and
//! what [`super::diff()`] compares. Every field of [`ProgramSpec`] carries its contract
//! default, so two configs that mean the same thing give equal plans.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Serialize, Serializer};

use super::check::Check;
use super::credentials::{EnvFiles, Group, Limits, User};

/// A whole validated config: daemon settings plus every program, keyed by name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Plan {
    pub daemon: DaemonSettings,
    pub programs: BTreeMap<String, ProgramSpec>,
}

impl Plan {
    /// How many processes the plan runs in all (the sum of every `numprocs`).
    pub fn process_count(&self) -> usize {
        self.programs.values().map(|p| p.numprocs as usize).sum()
    }
}

impl FromIterator<ProgramSpec> for Plan {
    /// A plan of these programs with the default daemon settings.
    fn from_iter<I: IntoIterator<Item = ProgramSpec>>(specs: I) -> Self {
        Plan {
            daemon: DaemonSettings::default(),
            programs: specs.into_iter().map(|s| (s.name.clone(), s)).collect(),
        }
    }
}

/// The optional `taskmaster { … }` node. Paths are already absolute.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct DaemonSettings {
    pub socket: Option<PathBuf>,
    pub logfile: Option<PathBuf>,
    /// Bytes of output kept in memory per stream of each process, for `logs`.
    #[serde(rename = "log-buffer")]
    pub log_buffer: LogBuffer,
}

/// `log-buffer`: how much of each stream is kept in memory (see [`LogBuffer::MAX`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct LogBuffer(pub u64);

impl LogBuffer {
    pub const DEFAULT: u64 = 64 * 1024;
    pub const MIN: u64 = 1024;
    /// Each stream of each process may hold this much: with 1,000 processes that is up to
    /// 2 × 1,000 × the buffer, so it stays well below what a host has.
    pub const MAX: u64 = 16 * 1024 * 1024;
}

impl Default for LogBuffer {
    fn default() -> Self {
        LogBuffer(Self::DEFAULT)
    }
}

/// One `program "name" { … }` node with every default filled in and every relative path
/// resolved against the config file's folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgramSpec {
    pub name: String,
    /// argv: the program then its arguments; never empty.
    pub cmd: Vec<String>,
    pub numprocs: u32,
    /// `None`: inherit the daemon's umask.
    #[serde(serialize_with = "serialize_umask")]
    pub umask: Option<u32>,
    /// `None`: inherit the daemon's working directory.
    pub workingdir: Option<PathBuf>,
    pub autostart: bool,
    pub autorestart: AutoRestart,
    pub exitcodes: BTreeSet<u8>,
    pub startretries: u32,
    #[serde(serialize_with = "serialize_duration")]
    pub starttime: Duration,
    pub stopsignal: StopSignal,
    #[serde(serialize_with = "serialize_duration")]
    pub stoptime: Duration,
    pub stdout: OutputTarget,
    pub stderr: OutputTarget,
    pub env: BTreeMap<String, String>,
    /// How long a crash restart waits (see [`RestartBackoff`]).
    #[serde(rename = "restart-backoff")]
    pub restart_backoff: RestartBackoff,
    /// `None`: crash restarts are never given up.
    #[serde(rename = "crash-limit")]
    pub crash_limit: Option<CrashLimit>,
    // Identity: who the process runs as, with which limits and env files (see
    // `super::credentials`).
    /// `None`: the daemon's own user.
    pub user: Option<User>,
    /// `None`: the user's primary group (the daemon's, without `user`).
    pub group: Option<Group>,
    /// `None`: the user's groups (the daemon's, without `user`).
    pub groups: Option<Vec<Group>>,
    #[serde(serialize_with = "super::credentials::serialize_limits")]
    pub limits: Limits,
    #[serde(rename = "env-file")]
    pub env_file: EnvFiles,
    /// `None`: RUNNING once `starttime` elapsed, as before (see [`super::check`]).
    pub readiness: Option<Check>,
    /// `None`: a RUNNING process is never probed.
    pub liveness: Option<Check>,
    /// `depends-on`: the programs that must reach a condition before a process of this one
    /// is spawned. Empty (the default) is left out of the JSON, so plans without it read as
    /// before.
    #[serde(rename = "depends-on", skip_serializing_if = "BTreeMap::is_empty")]
    pub depends_on: BTreeMap<String, Condition>,
}

impl ProgramSpec {
    pub const DEFAULT_NUMPROCS: u32 = 1;
    pub const DEFAULT_AUTOSTART: bool = true;
    pub const DEFAULT_STARTRETRIES: u32 = 3;
    pub const DEFAULT_STARTTIME: Duration = Duration::from_secs(1);
    pub const DEFAULT_STOPTIME: Duration = Duration::from_secs(10);

    /// A spec with every contract default and the given argv.
    pub fn with_defaults(name: impl Into<String>, cmd: Vec<String>) -> Self {
        ProgramSpec {
            name: name.into(),
            cmd,
            numprocs: Self::DEFAULT_NUMPROCS,
            umask: None,
            workingdir: None,
            autostart: Self::DEFAULT_AUTOSTART,
            autorestart: AutoRestart::default(),
            exitcodes: BTreeSet::from([0]),
            startretries: Self::DEFAULT_STARTRETRIES,
            starttime: Self::DEFAULT_STARTTIME,
            stopsignal: StopSignal::default(),
            stoptime: Self::DEFAULT_STOPTIME,
            stdout: OutputTarget::default(),
            stderr: OutputTarget::default(),
            env: BTreeMap::new(),
            restart_backoff: RestartBackoff::default(),
            crash_limit: None,
            user: None,
            group: None,
            groups: None,
            limits: Limits::new(),
            env_file: EnvFiles::default(),
            readiness: None,
            liveness: None,
            depends_on: BTreeMap::new(),
        }
    }

    /// The name of process `index` of this program: `web` when numprocs is 1, else `web:N`.
    pub fn process_name(&self, index: u32) -> String {
        process_name(&self.name, self.numprocs, index)
    }

    /// The names of all this program's processes, in index order.
    pub fn process_names(&self) -> Vec<String> {
        (0..self.numprocs).map(|i| self.process_name(i)).collect()
    }
}

/// The name of process `index` of a program of `numprocs` processes.
pub fn process_name(program: &str, numprocs: u32, index: u32) -> String {
    if numprocs == 1 {
        program.to_owned()
    } else {
        format!("{program}:{index}")
    }
}

/// When a process that exits while RUNNING is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoRestart {
    /// `#true`: always.
    Always,
    /// `#false`: never; the process goes to EXITED.
    Never,
    /// `"unexpected"`: when its exit code is not in `exitcodes`, or it died by a signal.
    #[default]
    Unexpected,
}

impl AutoRestart {
    /// Whether a process that ended this way while RUNNING is restarted.
    /// `exit_code` is `None` for a death by signal, which is always unexpected.
    pub fn restarts(self, exit_code: Option<i32>, exitcodes: &BTreeSet<u8>) -> bool {
        match self {
            AutoRestart::Always => true,
            AutoRestart::Never => false,
            AutoRestart::Unexpected => !is_expected_exit(exit_code, exitcodes),
        }
    }
}

/// Whether an exit is one of the program's expected ones (a death by signal never is).
pub fn is_expected_exit(exit_code: Option<i32>, exitcodes: &BTreeSet<u8>) -> bool {
    exit_code
        .and_then(|c| u8::try_from(c).ok())
        .is_some_and(|c| exitcodes.contains(&c))
}

impl fmt::Display for AutoRestart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AutoRestart::Always => "#true",
            AutoRestart::Never => "#false",
            AutoRestart::Unexpected => "\"unexpected\"",
        })
    }
}

impl Serialize for AutoRestart {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AutoRestart::Always => s.serialize_bool(true),
            AutoRestart::Never => s.serialize_bool(false),
            AutoRestart::Unexpected => s.serialize_str("unexpected"),
        }
    }
}

/// `restart-backoff MIN MAX`: the k-th crash restart in a row waits min(MIN·2^(k−2), MAX)
/// (the first is immediate); the run of crashes resets once the process stayed RUNNING for
/// MAX. `restart-backoff 0` (both zero) restarts at once every time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartBackoff {
    pub min: Duration,
    pub max: Duration,
}

impl RestartBackoff {
    pub const DEFAULT_MIN: Duration = Duration::from_millis(100);
    pub const DEFAULT_MAX: Duration = Duration::from_secs(30);

    /// The wait before the `k`-th crash restart in a row (`k` ≥ 1; the first is immediate).
    pub fn delay(&self, k: u32) -> Duration {
        if k <= 1 {
            return Duration::ZERO;
        }
        // 2^(k−2) saturates long before u32 does: MAX is at most a day.
        let factor = 1u32.checked_shl(k - 2).unwrap_or(u32::MAX);
        self.min.saturating_mul(factor).min(self.max)
    }
}

impl Default for RestartBackoff {
    fn default() -> Self {
        RestartBackoff {
            min: Self::DEFAULT_MIN,
            max: Self::DEFAULT_MAX,
        }
    }
}

impl fmt::Display for RestartBackoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min.is_zero() && self.max.is_zero() {
            f.write_str("0")
        } else {
            write!(
                f,
                "\"{}\" \"{}\"",
                format_duration(self.min),
                format_duration(self.max)
            )
        }
    }
}

impl Serialize for RestartBackoff {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        [format_duration(self.min), format_duration(self.max)].serialize(s)
    }
}

/// `crash-limit N W`: the (N+1)-th crash restart within any W is not done: FATAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrashLimit {
    pub restarts: u32,
    pub window: Duration,
}

impl fmt::Display for CrashLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} \"{}\"", self.restarts, format_duration(self.window))
    }
}

impl Serialize for CrashLimit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple as _;
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&self.restarts)?;
        t.serialize_element(&format_duration(self.window))?;
        t.end()
    }
}

/// What a dependency must reach before its dependent is spawned (`depends-on`); it holds
/// when it holds for every process of the dependency program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Condition {
    /// Spawned and alive: STARTING or RUNNING.
    Started,
    /// RUNNING (the default).
    #[default]
    Ready,
    /// RUNNING and its last liveness check passed (without one: RUNNING).
    Healthy,
    /// EXITED with an expected code.
    Completed,
}

impl Condition {
    /// Every condition, as a config writes it.
    pub const NAMES: &[&str] = &["started", "ready", "healthy", "completed"];

    /// The condition a config names, `None` for an unknown one.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "started" => Some(Condition::Started),
            "ready" => Some(Condition::Ready),
            "healthy" => Some(Condition::Healthy),
            "completed" => Some(Condition::Completed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Started => "started",
            Condition::Ready => "ready",
            Condition::Healthy => "healthy",
            Condition::Completed => "completed",
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The signal `stop` sends first, held as its number; it displays as its name (`TERM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopSignal(pub nix::sys::signal::Signal);

impl Default for StopSignal {
    fn default() -> Self {
        StopSignal(nix::sys::signal::Signal::SIGTERM)
    }
}

impl fmt::Display for StopSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let full = self.0.as_str();
        f.write_str(full.strip_prefix("SIG").unwrap_or(full))
    }
}

impl Serialize for StopSignal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Where a process's stdout or stderr goes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OutputTarget {
    /// Kept in an in-memory ring for `taskmaster logs` (the default).
    #[default]
    Memory,
    /// `"discard"`: /dev/null.
    Discard,
    /// A file without a block, opened for appending and handed to the child; the path is
    /// absolute.
    File(PathBuf),
    /// A file with a `{ … }` block: the stream is a pipe and the daemon writes the file
    /// (rotation, timestamps, shared by several sources); the path is absolute.
    Written(PathBuf, LogOptions),
    /// `stderr "stdout"`: the child's stderr is its stdout (supervisord's `redirect_stderr`).
    /// Only `stderr` takes it.
    SameAsStdout,
}

impl OutputTarget {
    /// The path of a file target, handed to the child or written by the daemon.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            OutputTarget::File(p) | OutputTarget::Written(p, _) => Some(p),
            _ => None,
        }
    }
}

/// The `{ … }` block of a daemon-written log target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LogOptions {
    /// Rotate before the file would pass this many bytes; `None`: never rotate.
    #[serde(rename = "max-size")]
    pub max_size: Option<u64>,
    /// Rotated files kept (`F.1` newest … `F.keep`); 0 truncates instead.
    pub keep: u32,
    /// Each line starts with the UTC time it was read.
    pub timestamps: bool,
}

impl LogOptions {
    pub const DEFAULT_KEEP: u32 = 10;
    pub const MAX_KEEP: u32 = 1000;
    /// The smallest and largest `max-size`.
    pub const MIN_SIZE: u64 = 1024;
    pub const MAX_SIZE: u64 = 1024 * 1024 * 1024 * 1024;
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            max_size: None,
            keep: Self::DEFAULT_KEEP,
            timestamps: false,
        }
    }
}

impl fmt::Display for LogOptions {
    /// The block as a config writes it: `{ max-size "50MB"; keep 10 }` (defaults left out).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(max) = self.max_size {
            parts.push(format!("max-size \"{}\"", format_size(max)));
        }
        if self.keep != Self::DEFAULT_KEEP {
            parts.push(format!("keep {}", self.keep));
        }
        if self.timestamps {
            parts.push("timestamps #true".to_owned());
        }
        if parts.is_empty() {
            f.write_str("{ }")
        } else {
            write!(f, "{{ {} }}", parts.join("; "))
        }
    }
}

/// A size as a config writes it: `"50MB"` when a whole number of a 1024-based unit, else
/// bytes (`"1500B"`).
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1 << 40, "TB"),
        (1 << 30, "GB"),
        (1 << 20, "MB"),
        (1 << 10, "KB"),
    ];
    for (unit, name) in UNITS {
        if bytes >= unit && bytes.is_multiple_of(unit) {
            return format!("{}{name}", bytes / unit);
        }
    }
    format!("{bytes}B")
}

impl fmt::Display for OutputTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputTarget::Memory => f.write_str("memory"),
            OutputTarget::Discard => f.write_str("discard"),
            OutputTarget::File(p) => write!(f, "{}", p.display()),
            OutputTarget::Written(p, options) => write!(f, "{} {options}", p.display()),
            OutputTarget::SameAsStdout => f.write_str("stdout"),
        }
    }
}

impl Serialize for OutputTarget {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Octal text (`"0o022"`), as people read a umask; decimal 18 means nothing to anyone.
#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `serialize_with` passes a reference
fn serialize_umask<S: Serializer>(umask: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
    match umask {
        Some(u) => s.collect_str(&format_args!("0o{u:03o}")),
        None => s.serialize_none(),
    }
}

fn serialize_duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Shows a duration the way a config would write it: `1s`, `500ms`, `1.5s`.
pub fn format_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) && d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_names_follow_numprocs() {
        let mut spec = ProgramSpec::with_defaults("web", vec!["sleep".into()]);
        assert_eq!(spec.process_names(), ["web"]);
        spec.numprocs = 3;
        assert_eq!(spec.process_names(), ["web:0", "web:1", "web:2"]);
    }

    #[test]
    fn unexpected_restarts_on_unlisted_codes_and_signals() {
        let codes = BTreeSet::from([0, 2]);
        assert!(!AutoRestart::Unexpected.restarts(Some(2), &codes));
        assert!(AutoRestart::Unexpected.restarts(Some(1), &codes));
        assert!(AutoRestart::Unexpected.restarts(None, &codes));
        assert!(AutoRestart::Always.restarts(Some(0), &codes));
        assert!(!AutoRestart::Never.restarts(None, &codes));
    }

    #[test]
    fn restart_backoff_doubles_from_the_second_crash_up_to_max() {
        let b = RestartBackoff::default();
        let ms = |k| b.delay(k).as_millis();
        assert_eq!([ms(1), ms(2), ms(3), ms(4), ms(5)], [0, 100, 200, 400, 800]);
        assert_eq!(b.delay(10), Duration::from_millis(25_600));
        assert_eq!(b.delay(11), RestartBackoff::DEFAULT_MAX);
        assert_eq!(b.delay(u32::MAX), RestartBackoff::DEFAULT_MAX);
        let none = RestartBackoff {
            min: Duration::ZERO,
            max: Duration::ZERO,
        };
        assert_eq!(none.delay(7), Duration::ZERO);
        assert_eq!(none.to_string(), "0");
        assert_eq!(b.to_string(), "\"100ms\" \"30s\"");
    }

    #[test]
    fn sizes_print_like_config_values() {
        assert_eq!(format_size(50 * 1024 * 1024), "50MB");
        assert_eq!(format_size(1024), "1KB");
        assert_eq!(format_size(1536), "1536B");
        assert_eq!(format_size(3 << 30), "3GB");
        let o = LogOptions {
            max_size: Some(1 << 20),
            keep: 3,
            timestamps: true,
        };
        assert_eq!(
            o.to_string(),
            r#"{ max-size "1MB"; keep 3; timestamps #true }"#
        );
        assert_eq!(LogOptions::default().to_string(), "{ }");
    }

    #[test]
    fn durations_print_like_config_values() {
        assert_eq!(format_duration(Duration::from_secs(10)), "10s");
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
    }
}
