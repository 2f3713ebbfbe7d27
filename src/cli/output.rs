//! How the client commands show things to people: the status table, state colours, a
//! config's diagnostics, and writing to stdout without panicking when the reader has gone
//! (`taskmaster logs | head`).

use std::cmp::Ordering;
use std::io::{IsTerminal, Write};
use std::path::Path;

use super::exit;
use crate::plan::{Compiled, LoadError, load_file};
use crate::protocol::{ProcessState, ProcessStatus};

/// Whether to colour what goes to stdout: only on a terminal, and never when `NO_COLOR` is set
/// to a non-empty value (<https://no-color.org>).
pub(super) fn stdout_color() -> bool {
    std::io::stdout().is_terminal() && !no_color_env()
}

/// The same rule for what goes to stderr (diagnostics).
pub(super) fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && !no_color_env()
}

/// `error: MESSAGE`, then the diagnostic's help on its own `help:` line when it has one.
pub(super) fn eprint_diagnostic(e: &dyn miette::Diagnostic) {
    match e.help() {
        Some(help) => eprint_with_help(e, &help),
        None => eprintln!("error: {e}"),
    }
}

/// `error: MESSAGE` and, on its own line, `help: HELP`: what went wrong, then what to do.
pub(super) fn eprint_with_help(message: &dyn std::fmt::Display, help: &dyn std::fmt::Display) {
    eprintln!("error: {message}\nhelp: {help}");
}

/// Prints an already rendered block (diagnostics, warnings) on stderr, ending it with a
/// newline when it lacks one so the next line starts clean.
pub(super) fn eprint_block(text: &str) {
    if text.is_empty() {
        return;
    }
    if text.ends_with('\n') {
        eprint!("{text}");
    } else {
        eprintln!("{text}");
    }
}

/// Compiles `config` for a command that needs its plan (`run`, `export`), printing its
/// warnings, or why it did not compile, on stderr; the error is the exit status (1 invalid,
/// 2 unreadable).
pub(super) fn load_config(config: &Path) -> Result<Compiled, u8> {
    match load_file(config) {
        Ok(compiled) => {
            eprint_block(&compiled.warnings.render(stderr_color()));
            Ok(compiled)
        }
        Err(LoadError::Invalid(report)) => {
            eprint_block(&report.render(stderr_color()));
            Err(exit::FAILED)
        }
        Err(err @ LoadError::Unreadable { .. }) => {
            eprintln!("error: {err}");
            Err(exit::USAGE)
        }
    }
}

fn no_color_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Writes `text` to stdout and flushes. A closed pipe is not an error worth reporting; it
/// returns `false` so a follower (`logs -f`) knows to stop.
pub(super) fn write_stdout(text: &str) -> bool {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_ok()
}

/// Orders names the way people count: `web:2` before `web:10`.
pub(super) fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.is_empty(), b.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        let (a_chunk, a_rest) = split_chunk(a);
        let (b_chunk, b_rest) = split_chunk(b);
        let a_num = a_chunk.starts_with(|c: char| c.is_ascii_digit());
        let b_num = b_chunk.starts_with(|c: char| c.is_ascii_digit());
        let order = if a_num && b_num {
            let (a_trim, b_trim) = (
                a_chunk.trim_start_matches('0'),
                b_chunk.trim_start_matches('0'),
            );
            a_trim
                .len()
                .cmp(&b_trim.len())
                .then_with(|| a_trim.cmp(b_trim))
                .then_with(|| a_chunk.len().cmp(&b_chunk.len()))
        } else {
            a_chunk.cmp(b_chunk)
        };
        if order != Ordering::Equal {
            return order;
        }
        (a, b) = (a_rest, b_rest);
    }
}

/// The leading run of digits, or of non-digits, and the rest.
fn split_chunk(s: &str) -> (&str, &str) {
    let digits = s.starts_with(|c: char| c.is_ascii_digit());
    let end = s
        .find(|c: char| c.is_ascii_digit() != digits)
        .unwrap_or(s.len());
    s.split_at(end)
}

/// Sorts status rows by process name, naturally.
pub(super) fn sort_rows(rows: &mut [ProcessStatus]) {
    rows.sort_by(|a, b| natural_cmp(&a.name, &b.name));
}

/// `1:02:03`: hours (unbounded), minutes, seconds, like supervisorctl.
pub(super) fn format_uptime(secs: f64) -> String {
    let total = if secs.is_finite() && secs > 0.0 {
        secs as u64
    } else {
        0
    };
    format!(
        "{}:{:02}:{:02}",
        total / 3600,
        (total / 60) % 60,
        total % 60
    )
}

/// What ended the process last: `exited 2 (expected)`, `exited 1 (unexpected)`,
/// `killed by SIGKILL`, or `None` when it has not ended.
fn exit_info(row: &ProcessStatus) -> Option<String> {
    if let Some(signal) = &row.signal {
        return Some(format!("killed by {signal}"));
    }
    let code = row.exit_code?;
    Some(match row.expected {
        Some(true) => format!("exited {code} (expected)"),
        Some(false) => format!("exited {code} (unexpected)"),
        None => format!("exited {code}"),
    })
}

/// Whether a state is one where the process is alive and `uptime_secs` means something.
fn is_alive(state: ProcessState) -> bool {
    matches!(
        state,
        ProcessState::Starting | ProcessState::Running | ProcessState::Stopping
    )
}

/// The last column of a row: uptime for live processes, else how it ended and why.
pub(super) fn info_column(row: &ProcessStatus) -> String {
    let mut info = if is_alive(row.state) {
        match row.uptime_secs {
            Some(secs) => format!("uptime {}", format_uptime(secs)),
            // STOPPING without a main process: its leftovers are being stopped, and why.
            None => row.reason.clone().unwrap_or_default(),
        }
    } else {
        // The daemon's reason already tells how the process ended ("exited with code 3
        // before starttime"), so repeating the exit code after it would only add noise.
        match row.reason.as_deref().filter(|r| !r.is_empty()) {
            Some(reason) => reason.to_owned(),
            None => exit_info(row).unwrap_or_default(),
        }
    };
    if let Some(health) = check_info(row) {
        if !info.is_empty() {
            info.push_str(", ");
        }
        info.push_str(&health);
    }
    if row.restarts > 0 {
        let times = if row.restarts == 1 { "time" } else { "times" };
        if !info.is_empty() {
            info.push_str(", ");
        }
        info.push_str(&format!("restarted {} {times}", row.restarts));
    }
    info
}

/// What the checks say about a live process, when it is news: `not ready` while a readiness
/// check holds it STARTING, `unhealthy` while its liveness check fails (with the failure).
fn check_info(row: &ProcessStatus) -> Option<String> {
    let what = match row.state {
        ProcessState::Starting if row.ready == Some(false) => "not ready",
        ProcessState::Running if row.healthy == Some(false) => "unhealthy",
        _ => return None,
    };
    Some(match &row.check {
        Some(check) => format!("{what} ({check})"),
        None => what.to_owned(),
    })
}

/// Whether the row is a failure a person should notice (red).
fn is_bad(row: &ProcessStatus) -> bool {
    match row.state {
        ProcessState::Fatal => true,
        ProcessState::Exited => row.expected != Some(true),
        _ => false,
    }
}

/// The ANSI colour of a row's state, if any.
fn state_color(row: &ProcessStatus) -> Option<&'static str> {
    if is_bad(row) {
        return Some("\x1b[31m");
    }
    match row.state {
        ProcessState::Running => Some("\x1b[32m"),
        ProcessState::Waiting
        | ProcessState::Starting
        | ProcessState::Backoff
        | ProcessState::Stopping => Some("\x1b[33m"),
        _ => None,
    }
}

/// The status table: one line per row, columns aligned, sorted as given.
///
/// ```text
/// web:0    RUNNING   pid 4242   uptime 0:01:02
/// web:1    EXITED    -          exited 1 (unexpected)
/// worker   FATAL     -          exited too quickly (exited 1 (unexpected))
/// ```
pub(super) fn status_table(rows: &[ProcessStatus], color: bool) -> String {
    let pids: Vec<String> = rows
        .iter()
        .map(|r| r.pid.map_or_else(|| "-".to_owned(), |p| format!("pid {p}")))
        .collect();
    let name_width = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(0);
    let pid_width = pids.iter().map(String::len).max().unwrap_or(0);
    // STARTING and STOPPING are the longest state names.
    const STATE_WIDTH: usize = 8;
    let mut out = String::new();
    for (row, pid) in rows.iter().zip(&pids) {
        let state = row.state.as_str();
        let state = match state_color(row).filter(|_| color) {
            Some(code) => format!("{code}{state}\x1b[0m"),
            None => state.to_owned(),
        };
        let state_pad = STATE_WIDTH.saturating_sub(row.state.as_str().len());
        let line = format!(
            "{name:<name_width$}   {state}{spaces}   {pid:<pid_width$}   {info}",
            name = row.name,
            spaces = " ".repeat(state_pad),
            info = info_column(row),
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, state: ProcessState) -> ProcessStatus {
        ProcessStatus {
            name: name.into(),
            program: name.split(':').next().unwrap_or(name).into(),
            state,
            pid: None,
            exit_code: None,
            signal: None,
            uptime_secs: None,
            restarts: 0,
            reason: None,
            expected: None,
            ready: None,
            healthy: None,
            check: None,
            waiting_for: None,
        }
    }

    #[test]
    fn natural_order_counts_numbers() {
        let mut names = vec!["web:10", "web:2", "api", "web:1", "web", "a10", "a9"];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            ["a9", "a10", "api", "web", "web:1", "web:2", "web:10"]
        );
        assert_eq!(natural_cmp("x01", "x1"), Ordering::Greater);
        assert_eq!(natural_cmp("x1", "x1"), Ordering::Equal);
    }

    #[test]
    fn uptime_is_hours_minutes_seconds() {
        assert_eq!(format_uptime(5.9), "0:00:05");
        assert_eq!(format_uptime(3723.0), "1:02:03");
        assert_eq!(format_uptime(90000.0), "25:00:00");
        assert_eq!(format_uptime(-1.0), "0:00:00");
        assert_eq!(format_uptime(f64::NAN), "0:00:00");
    }

    #[test]
    fn info_tells_how_a_process_ended() {
        let mut r = row("a", ProcessState::Exited);
        r.exit_code = Some(2);
        r.expected = Some(true);
        assert_eq!(info_column(&r), "exited 2 (expected)");
        r.exit_code = Some(1);
        r.expected = Some(false);
        assert_eq!(info_column(&r), "exited 1 (unexpected)");
        r.exit_code = None;
        r.signal = Some("SIGKILL".into());
        assert_eq!(info_column(&r), "killed by SIGKILL");
        let mut f = row("b", ProcessState::Fatal);
        f.reason = Some("spawn error: No such file or directory".into());
        assert_eq!(info_column(&f), "spawn error: No such file or directory");
        f.restarts = 3;
        assert_eq!(
            info_column(&f),
            "spawn error: No such file or directory, restarted 3 times"
        );
        let mut b = row("c", ProcessState::Backoff);
        b.reason = Some("exited with code 1 before starttime".into());
        b.exit_code = Some(1);
        assert_eq!(info_column(&b), "exited with code 1 before starttime");
        let mut s = row("d", ProcessState::Stopping);
        s.reason = Some("stopping 2 leftover processes".into());
        assert_eq!(info_column(&s), "stopping 2 leftover processes");
    }

    #[test]
    fn info_says_when_checks_fail() {
        let mut s = row("api", ProcessState::Starting);
        s.uptime_secs = Some(3.0);
        s.ready = Some(false);
        assert_eq!(info_column(&s), "uptime 0:00:03, not ready");
        s.check = Some("readiness: connect 127.0.0.1:8080: connection refused".into());
        assert_eq!(
            info_column(&s),
            "uptime 0:00:03, not ready (readiness: connect 127.0.0.1:8080: connection refused)"
        );
        let mut r = row("api", ProcessState::Running);
        r.uptime_secs = Some(3.0);
        r.ready = Some(true);
        r.healthy = Some(true);
        r.check = Some("liveness: HTTP 503".into());
        assert_eq!(
            info_column(&r),
            "uptime 0:00:03",
            "an old failure is not news"
        );
        r.healthy = Some(false);
        r.restarts = 1;
        assert_eq!(
            info_column(&r),
            "uptime 0:00:03, unhealthy (liveness: HTTP 503), restarted 1 time"
        );
    }

    #[test]
    fn table_aligns_columns() {
        let mut a = row("web:10", ProcessState::Running);
        a.pid = Some(12345);
        a.uptime_secs = Some(62.0);
        let mut b = row("db", ProcessState::Stopped);
        b.reason = None;
        let table = status_table(&[b, a], false);
        assert_eq!(
            table,
            "db       STOPPED    -\n\
             web:10   RUNNING    pid 12345   uptime 0:01:02\n"
        );
    }

    #[test]
    fn colour_wraps_only_the_state() {
        let mut a = row("web", ProcessState::Running);
        a.pid = Some(7);
        a.uptime_secs = Some(1.0);
        let plain = status_table(std::slice::from_ref(&a), false);
        let colored = status_table(&[a], true);
        assert!(colored.contains("\x1b[32mRUNNING\x1b[0m"));
        assert_eq!(
            colored.replace("\x1b[32m", "").replace("\x1b[0m", ""),
            plain
        );
        let mut e = row("x", ProcessState::Exited);
        e.exit_code = Some(0);
        e.expected = Some(true);
        assert!(!status_table(std::slice::from_ref(&e), true).contains('\x1b'));
        e.expected = Some(false);
        assert!(status_table(&[e], true).contains("\x1b[31mEXITED"));
    }
}
