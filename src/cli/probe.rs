//! `taskmaster probe tcp|http|exec …`: one readiness check, run outside any daemon until it
//! passes or its deadline comes. It is what `export systemd` writes as a unit's
//! `ExecStartPost=`, so a systemd unit with a `readiness` block becomes active only once the
//! program is ready, as taskmaster's RUNNING; anyone may run it by hand as well.
//!
//! The check is read by the config compiler itself: the arguments become a `readiness { … }`
//! block of a one-program config, so `probe` accepts exactly what a `readiness` block does
//! (loopback addresses only, the same durations, defaults and diagnostics). tcp and http
//! attempts are the daemon's own ([`NetAttempt`]), driven here with poll(2); an exec attempt
//! is a child in its own process group, its output discarded, killed with its group at the
//! timeout. Passing is `threshold` passes in a row; attempts are `interval` apart, the first
//! after `delay`. Exit 0 ready, 1 not ready within the deadline (the last failure on stderr),
//! 2 a bad check.
//!
//! Caps: one attempt at a time; an attempt never outlives the deadline (its timeout is cut to
//! what is left).

use std::os::fd::AsFd as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::{exit, output};
use crate::plan::check::{Check, Probe};
use crate::plan::model::format_duration;
use crate::runtime::checks::{Interest, NetAttempt, Step};

/// What kind of check to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// Connect to PORT or HOST:PORT (a loopback address).
    Tcp,
    /// GET the URL (`http://127.0.0.1:8080/healthz`); a status 200 to 399 passes.
    Http,
    /// Run the command (no shell); exit status 0 passes.
    Exec,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Tcp => "tcp",
            Kind::Http => "http",
            Kind::Exec => "exec",
        }
    }
}

/// `taskmaster probe`'s arguments: a readiness block on the command line.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Time between the end of one attempt and the start of the next [default: 1s].
    #[arg(long, value_name = "D")]
    pub interval: Option<String>,
    /// Time one attempt may take [default: 1s].
    #[arg(long, value_name = "D")]
    pub timeout: Option<String>,
    /// Passes in a row needed [default: 1].
    #[arg(long, value_name = "N")]
    pub threshold: Option<u32>,
    /// Give up (exit 1) when not ready this long after the start [default: 60s].
    #[arg(long, value_name = "D")]
    pub deadline: Option<String>,
    /// Wait this long before the first attempt [default: 0].
    #[arg(long, value_name = "D")]
    pub delay: Option<String>,
    /// The kind of check.
    #[arg(value_enum)]
    pub kind: Kind,
    /// What to check: tcp PORT|HOST:PORT, http URL, exec PROGRAM [ARG…].
    #[arg(required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
    pub target: Vec<String>,
}

pub(super) fn run(args: ProbeArgs) -> u8 {
    let check = match compile_check(&args) {
        Ok(check) => check,
        Err(status) => return status,
    };
    match until_ready(&check) {
        Ok(()) => exit::OK,
        Err(why) => {
            eprintln!("taskmaster probe: {why}");
            exit::FAILED
        }
    }
}

/// The config a probe's arguments stand for: one program whose `readiness` block is them
/// (with `starttime 0`, which a deadline shorter than the default starttime would trip on).
pub(super) fn config_text(args: &ProbeArgs) -> String {
    let target: Vec<String> = match args.kind {
        // `tcp 8080` is a port number; `tcp "127.0.0.1:8080"` a string.
        Kind::Tcp
            if args.target.len() == 1 && args.target[0].bytes().all(|b| b.is_ascii_digit()) =>
        {
            vec![args.target[0].clone()]
        }
        _ => args.target.iter().map(|w| format!("{w:?}")).collect(),
    };
    let mut block = vec![format!("{} {}", args.kind.word(), target.join(" "))];
    for (name, value) in [
        ("interval", &args.interval),
        ("timeout", &args.timeout),
        ("deadline", &args.deadline),
        ("delay", &args.delay),
    ] {
        if let Some(value) = value {
            block.push(format!("{name} {value:?}"));
        }
    }
    if let Some(n) = args.threshold {
        block.push(format!("threshold {n}"));
    }
    let lines: Vec<String> = block.iter().map(|l| format!("        {l}\n")).collect();
    format!(
        "program \"probe\" {{\n    cmd \"true\"\n    starttime 0\n    readiness {{\n{}    }}\n}}\n",
        lines.concat()
    )
}

fn compile_check(args: &ProbeArgs) -> Result<Check, u8> {
    let text = config_text(args);
    let compiled = match crate::plan::compile("probe arguments", &text, Path::new("/")) {
        Ok(compiled) => compiled,
        Err(report) => {
            output::eprint_block(&report.render(output::stderr_color()));
            return Err(exit::USAGE);
        }
    };
    compiled
        .plan
        .programs
        .get("probe")
        .and_then(|spec| spec.readiness.clone())
        .ok_or(exit::USAGE)
}

/// Runs `check`'s attempts until `threshold` pass in a row (`Ok`) or the deadline comes
/// (`Err` with the reason, as `status` would show it).
pub(super) fn until_ready(check: &Check) -> Result<(), String> {
    let start = Instant::now();
    let deadline = start + check.deadline;
    let not_ready = |last: &str| {
        format!(
            "not ready within {} (last check: {last})",
            format_duration(check.deadline)
        )
    };
    std::thread::sleep(check.delay.min(check.deadline));
    let mut passes = 0;
    let mut last = String::from("none ran");
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(not_ready(&last));
        }
        match attempt(&check.probe, check.timeout.min(left)) {
            Ok(()) => {
                passes += 1;
                if passes >= check.threshold {
                    return Ok(());
                }
            }
            Err(why) => {
                passes = 0;
                last = why;
            }
        }
        if Instant::now() + check.interval >= deadline {
            return Err(not_ready(&last));
        }
        std::thread::sleep(check.interval);
    }
}

/// One attempt, at most `timeout` long.
fn attempt(probe: &Probe, timeout: Duration) -> Result<(), String> {
    let timed_out = || format!("timed out after {}", format_duration(timeout));
    match probe {
        Probe::Exec(argv) => exec(argv, timeout).unwrap_or_else(|| Err(timed_out())),
        Probe::Log(_) => Err("a log check reads a supervised process's output".into()),
        Probe::Tcp(_) | Probe::Http(_) => {
            let Some((mut net, mut step)) = NetAttempt::start(probe) else {
                return Err("not a network check".into());
            };
            let until = Instant::now() + timeout;
            loop {
                let interest = match step {
                    Step::Done(result) => return result,
                    Step::Wait(interest) => interest,
                };
                let left = until.saturating_duration_since(Instant::now());
                let Some(socket) = net.socket().filter(|_| !left.is_zero()) else {
                    return Err(timed_out());
                };
                let flags = match interest {
                    Interest::Read => PollFlags::POLLIN,
                    Interest::Write => PollFlags::POLLOUT,
                };
                let mut fds = [PollFd::new(socket.as_fd(), flags)];
                let ms = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
                match poll(&mut fds, PollTimeout::from(ms)) {
                    Ok(0) => {}
                    Ok(_) | Err(nix::errno::Errno::EINTR) => step = net.step(),
                    Err(e) => return Err(format!("poll: {e}")),
                }
            }
        }
    }
}

/// An exec attempt: `None` when it timed out (its group is then killed and reaped).
fn exec(argv: &[String], timeout: Duration) -> Option<Result<(), String>> {
    let (program, args) = argv.split_first()?;
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => return Some(Err(format!("cannot run {program}: {e}"))),
    };
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let verdict = match rx.recv_timeout(timeout) {
        Ok(Ok(status)) => Some(exit_verdict(status)),
        Ok(Err(e)) => Some(Err(format!("wait: {e}"))),
        Err(_) => {
            if let Ok(pid) = i32::try_from(pid) {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
            None
        }
    };
    let _ = waiter.join();
    verdict
}

fn exit_verdict(status: std::process::ExitStatus) -> Result<(), String> {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(()),
        (Some(code), _) => Err(format!("exit code {code}")),
        (None, Some(sig)) => Err(format!(
            "killed by {}",
            Signal::try_from(sig).map_or_else(|_| format!("signal {sig}"), |s| s.to_string())
        )),
        (None, None) => Err("ended without a status".into()),
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    fn args(kind: Kind, target: &[&str]) -> ProbeArgs {
        ProbeArgs {
            interval: Some("100ms".into()),
            timeout: None,
            threshold: None,
            deadline: Some("2s".into()),
            delay: None,
            kind,
            target: target
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
        }
    }

    fn check(kind: Kind, target: &[&str]) -> Check {
        compile_check(&args(kind, target)).expect("a valid check")
    }

    #[test]
    fn the_arguments_are_a_readiness_block() {
        let mut a = args(Kind::Exec, &["sh", "-c", "test -f \"x\""]);
        a.threshold = Some(2);
        assert_eq!(
            config_text(&a),
            "program \"probe\" {\n    cmd \"true\"\n    starttime 0\n    readiness {\n        \
             exec \"sh\" \"-c\" \"test -f \\\"x\\\"\"\n        interval \"100ms\"\n        \
             deadline \"2s\"\n        threshold 2\n    }\n}\n"
        );
        let c = compile_check(&a).unwrap();
        assert_eq!(
            c.probe,
            Probe::Exec(vec!["sh".into(), "-c".into(), "test -f \"x\"".into()])
        );
        assert_eq!(c.threshold, 2);
        assert_eq!(c.interval, Duration::from_millis(100));
        assert_eq!(
            check(Kind::Tcp, &["8080"]).probe,
            Probe::Tcp("127.0.0.1:8080".parse().unwrap())
        );
    }

    #[test]
    fn what_a_readiness_block_refuses_is_a_usage_error() {
        assert_eq!(
            compile_check(&args(Kind::Tcp, &["10.0.0.1:80"])).err(),
            Some(exit::USAGE)
        );
        assert_eq!(
            compile_check(&args(Kind::Http, &["https://127.0.0.1:1/"])).err(),
            Some(exit::USAGE)
        );
    }

    #[test]
    fn a_listening_port_is_ready_and_a_closed_one_is_not_within_the_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port().to_string();
        assert_eq!(until_ready(&check(Kind::Tcp, &[&port])), Ok(()));
        drop(listener);
        let mut closed = check(Kind::Tcp, &[&port]);
        closed.deadline = Duration::from_millis(300);
        let started = Instant::now();
        let err = until_ready(&closed).unwrap_err();
        assert_eq!(
            err,
            format!(
                "not ready within 300ms (last check: connect 127.0.0.1:{port}: connection refused)"
            )
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn exec_passes_on_exit_0_and_threshold_counts_passes_in_a_row() {
        assert_eq!(until_ready(&check(Kind::Exec, &["true"])), Ok(()));
        let dir = tempfile::tempdir().unwrap();
        let count = dir.path().join("n");
        // Fails, then passes twice: a threshold of 2 is met on the third attempt.
        let script = format!(
            "n=$(cat {0} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {0}; [ $n -ge 2 ]",
            count.display()
        );
        let mut c = check(Kind::Exec, &["sh", "-c", &script]);
        c.threshold = 2;
        assert_eq!(until_ready(&c), Ok(()));
        assert_eq!(std::fs::read_to_string(&count).unwrap().trim(), "3");
    }

    #[test]
    fn an_exec_attempt_past_its_timeout_is_killed() {
        let mut c = check(Kind::Exec, &["sleep", "30"]);
        c.timeout = Duration::from_millis(200);
        c.deadline = Duration::from_millis(250);
        let started = Instant::now();
        assert_eq!(
            until_ready(&c),
            Err("not ready within 250ms (last check: timed out after 200ms)".into())
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(
            attempt(&Probe::Exec(vec!["false".into()]), Duration::from_secs(5)),
            Err("exit code 1".into())
        );
    }
}
