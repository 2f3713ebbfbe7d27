//! Pure parsers for the setting values that have their own little syntax: durations,
//! signals, octal umask text, single-string commands. No spans here; callers attach them.

use std::time::Duration;

use nix::sys::signal::Signal;

/// The longest `starttime` / `stoptime` accepted: one day. Longer is surely a typo, and the
/// bound keeps `Instant + Duration` arithmetic in the runtime far from overflow.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// Largest `umask`.
pub(crate) const MAX_UMASK: u32 = 0o777;

/// Bounds of `numprocs`: at least one process, and few enough that a typo cannot fork-bomb.
pub(crate) const NUMPROCS: std::ops::RangeInclusive<i128> = 1..=10_000;

/// The units a duration string takes, as the diagnostics' help names them.
pub(crate) const DURATION_UNITS: &str = "ms, s, m, h";

/// Why a duration was refused; its text is the diagnostic's reason (the way to write it
/// instead is the diagnostic's help, written by the caller).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DurationError {
    /// Its own code (`negative_number`), like every other negative setting.
    #[error("a duration cannot be negative")]
    Negative,
    #[error("a duration must be a number")]
    NotANumber,
    #[error("a duration must be at most 24h (86400 seconds)")]
    TooLong,
    #[error("`{0}` does not start with a number")]
    NoNumber(String),
    #[error("unknown unit `{0}`")]
    UnknownUnit(String),
    #[error("`{0}` is not a number")]
    BadNumber(String),
}

/// A duration string: `500ms`, `1.5s`, `2m`, `1h`, or a bare number of seconds (`"3"`).
pub(crate) fn duration_text(text: &str) -> Result<Duration, DurationError> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    if number.is_empty() {
        return Err(if t.starts_with('-') {
            DurationError::Negative
        } else {
            DurationError::NoNumber(t.to_owned())
        });
    }
    let scale = match unit.trim() {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => return Err(DurationError::UnknownUnit(other.to_owned())),
    };
    let value: f64 = number
        .replace('_', "")
        .parse()
        .map_err(|_| DurationError::BadNumber(number.to_owned()))?;
    seconds(value * scale)
}

/// A number of seconds (integer or float) as a bounded duration.
pub(crate) fn seconds(secs: f64) -> Result<Duration, DurationError> {
    if secs.is_nan() {
        return Err(DurationError::NotANumber);
    }
    if secs < 0.0 {
        return Err(DurationError::Negative);
    }
    if secs > MAX_DURATION.as_secs_f64() {
        return Err(DurationError::TooLong);
    }
    // Whole milliseconds: finer steps mean nothing to a supervisor and would make
    // `1.1s` and `1.1000000001s` differ in the plan.
    Ok(Duration::from_millis((secs * 1000.0).round() as u64))
}

/// A signal name (`TERM`, `SIGTERM`, `term`) or number (`15`).
pub(crate) fn signal_name(text: &str) -> Result<Signal, String> {
    let t = text.trim();
    if let Ok(n) = t.parse::<i32>() {
        return signal_number(n.into());
    }
    let upper = t.to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    full.parse::<Signal>()
        .map_err(|_| format!("`{t}` is not a signal name"))
}

/// A signal number.
pub(crate) fn signal_number(n: i128) -> Result<Signal, String> {
    i32::try_from(n)
        .ok()
        .and_then(|n| Signal::try_from(n).ok())
        .ok_or_else(|| format!("{n} is not a signal number"))
}

/// Octal umask text: `022`, `0022`, `0o022`.
pub(crate) fn umask_text(text: &str) -> Result<u32, String> {
    let t = text.trim();
    let digits = t.strip_prefix("0o").unwrap_or(t);
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return Err(format!("\"{t}\" is not an octal umask"));
    }
    let value =
        u32::from_str_radix(digits, 8).map_err(|_| format!("\"{t}\" is not an octal umask"))?;
    if value > MAX_UMASK {
        return Err(format!("0o{value:o} is above 0o777"));
    }
    Ok(value)
}

/// Why a single-string command could not be used.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CmdError {
    /// Unbalanced quotes or a trailing backslash.
    Unsplittable,
    /// No words, or an empty program word.
    Empty,
}

/// Splits a single-string `cmd` the way a POSIX shell would split words (no shell runs).
pub(crate) fn split_cmd(text: &str) -> Result<Vec<String>, CmdError> {
    let argv = shlex::split(text).ok_or(CmdError::Unsplittable)?;
    match argv.first() {
        Some(program) if !program.is_empty() => Ok(argv),
        _ => Err(CmdError::Empty),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_text("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration_text("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration_text("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration_text("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(duration_text("3"), Ok(Duration::from_secs(3)));
        assert_eq!(duration_text("0"), Ok(Duration::ZERO));
        assert_eq!(duration_text("24h"), Ok(MAX_DURATION));
        assert!(duration_text("25h").is_err());
        assert!(
            duration_text("-1s")
                .unwrap_err()
                .to_string()
                .contains("negative")
        );
        assert!(
            duration_text("5 parsecs")
                .unwrap_err()
                .to_string()
                .contains("unit")
        );
        assert!(duration_text("").is_err());
        assert!(duration_text("1.2.3s").is_err());
        assert!(duration_text("s").is_err());
        assert!(seconds(f64::INFINITY).is_err());
        assert!(seconds(f64::NAN).is_err());
        assert_eq!(seconds(0.25), Ok(Duration::from_millis(250)));
    }

    #[test]
    fn signals() {
        assert_eq!(signal_name("TERM"), Ok(Signal::SIGTERM));
        assert_eq!(signal_name("sigusr1"), Ok(Signal::SIGUSR1));
        assert_eq!(signal_name("SIGKILL"), Ok(Signal::SIGKILL));
        assert_eq!(signal_name("9"), Ok(Signal::SIGKILL));
        assert!(signal_name("TERMINATE").is_err());
        assert!(signal_name("").is_err());
        assert_eq!(signal_number(2), Ok(Signal::SIGINT));
        assert!(signal_number(0).is_err());
        assert!(signal_number(99_999_999_999).is_err());
    }

    #[test]
    fn umask_strings() {
        assert_eq!(umask_text("022"), Ok(0o022));
        assert_eq!(umask_text("0o027"), Ok(0o027));
        assert_eq!(umask_text("0777"), Ok(0o777));
        assert_eq!(umask_text("0"), Ok(0));
        assert!(umask_text("1000").is_err());
        assert!(umask_text("089").is_err());
        assert!(umask_text("").is_err());
        assert!(umask_text("0o").is_err());
        assert!(umask_text("00000").is_err());
    }

    #[test]
    fn commands() {
        assert_eq!(
            split_cmd("python3 -m 'http.server' 8080"),
            Ok(vec![
                "python3".into(),
                "-m".into(),
                "http.server".into(),
                "8080".into()
            ])
        );
        assert_eq!(
            split_cmd("sh -c 'echo \"a b\"'").unwrap()[2],
            "echo \"a b\""
        );
        assert_eq!(split_cmd("echo 'oops"), Err(CmdError::Unsplittable));
        assert_eq!(split_cmd("   "), Err(CmdError::Empty));
        assert_eq!(split_cmd("'' x"), Err(CmdError::Empty));
    }
}
