//! Containment (contract Part 2): every process the daemon started ends with it, and crash
//! loops cost nothing. One test per numbered case of issue 8, plus the backoff sequence and
//! its reset, `crash-limit`, and the state file that lets the next daemon clean up.

use std::os::unix::process::CommandExt as _;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::harness::*;

/// Whether this test process may use `unshare --pid` (root; CI runs as root).
fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Live (non-zombie) processes in group `pgid`.
fn group_members(pgid: i32) -> Vec<ProcStat> {
    all_procs()
        .into_iter()
        .filter(|p| p.pgrp == pgid && p.state != 'Z')
        .collect()
}

/// The `sleep` in the group led by `leader` (started by the program's shell).
fn sleeping_member(leader: u32) -> u32 {
    wait_some("the group member running sleep", LONG, || {
        group_members(leader as i32)
            .into_iter()
            .find(|p| p.pid != leader && p.comm == "sleep")
            .map(|p| p.pid)
    })
}

/// The two members of `leader`'s group besides the leader, once both are there.
fn two_workers(leader: u32) -> Vec<u32> {
    wait_some("two workers in the group", LONG, || {
        let m: Vec<u32> = group_members(leader as i32)
            .into_iter()
            .filter(|p| p.pid != leader)
            .map(|p| p.pid)
            .collect();
        (m.len() == 2).then_some(m)
    })
}

/// The pid written to `rel` by a child (`echo $$ > rel`).
fn pid_in(d: &Daemon, rel: &str) -> u32 {
    wait_some(&format!("a pid in {rel}"), LONG, || {
        d.sb.read(rel).trim().parse::<u32>().ok()
    })
}

fn reason(row: &serde_json::Value) -> String {
    row["reason"].as_str().unwrap_or_default().to_owned()
}

/// Case 1: as PID 1 of a pid namespace, orphans a program leaves behind are reaped: no
/// `<defunct>` accumulates. And SIGTERM (which PID 1 would drop with the default action)
/// still shuts the daemon down gracefully.
#[test]
fn no_zombies_accumulate_as_pid_1_and_sigterm_still_shuts_down() {
    if !is_root() {
        eprintln!("SKIPPED: unshare --pid needs root (CI runs as root)");
        return;
    }
    let sb = Sandbox::new();
    sb.write_config(&program(
        "orphans",
        // Each round leaves a `sleep` whose parent is gone: it is reparented to PID 1.
        r#"cmd "sh" "-c" "while true; do sh -c 'sleep 0.05 &'; sleep 0.1; done"
           starttime 0"#,
    ));
    let d = Daemon::spawn_custom(sb, &["unshare", "--pid", "--fork", "--mount-proc"], |_| {});
    d.wait_ready();
    let inner = wait_some("the daemon inside the namespace", LONG, || {
        descendants(d.pid())
            .into_iter()
            .find(|p| p.comm == "taskmaster")
    });
    d.wait_state("orphans", "RUNNING");
    // About 30 orphans die during this window; before, each stayed a zombie of PID 1.
    holds_for(
        "at most 5 zombies under PID 1",
        Duration::from_secs(3),
        || zombie_children(inner.pid).len() <= 5,
    );
    signal(inner.pid, Signal::SIGTERM);
    assert_eq!(
        d.wait_exit(LONG),
        Some(0),
        "SIGTERM to PID 1: graceful shutdown, exit 0\n{}",
        d.daemon_output()
    );
}

/// Case 2: the main process is killed and the members of its group remain (nginx's workers
/// after a `kill -9` of the master): they are stopped (SIGKILL after stoptime, since these
/// ignore SIGTERM) before the process counts as exited.
#[test]
fn leftovers_of_a_killed_main_process_are_stopped_before_it_counts_as_exited() {
    let d = Daemon::start(&program(
        "master",
        r#"cmd "sh" "-c" "trap '' TERM; sleep 1000 & sleep 1000 & wait"
           autorestart #false
           stoptime "500ms""#,
    ));
    let pid = d.running_pid("master");
    let workers = two_workers(pid);
    signal(pid, Signal::SIGKILL);
    let row = d.wait_state("master", "EXITED");
    for w in &workers {
        assert!(!pid_alive(*w), "worker {w} outlived its group's exit");
    }
    assert!(
        reason(&row).contains("stopped 2 leftover processes"),
        "{row}"
    );
    assert_eq!(row["signal"], "SIGKILL");
}

/// Case 2 with autorestart: the restart waits until the old group is gone, so the new
/// process never competes with the old one's workers (for a port, say).
#[test]
fn a_crash_restart_waits_for_the_old_group_to_be_empty() {
    let d = Daemon::start(&program(
        "master",
        r#"cmd "sh" "-c" "echo $$ >> masters; sleep 1000 & sleep 1000 & wait"
           autorestart #true
           starttime 0"#,
    ));
    let pid = d.running_pid("master");
    let old = two_workers(pid);
    signal(pid, Signal::SIGKILL);
    wait_for("a second master", LONG, || d.sb.line_count("masters") == 2);
    for w in &old {
        assert!(
            !pid_alive(*w),
            "old worker {w} still alive after the restart"
        );
    }
    d.running_pid("master");
}

/// Case 6: `stop` when the main process exits at once on the stop signal but members of its
/// group ignore it: they are SIGKILLed after stoptime (before, the kill timer was cancelled
/// with the main process's exit and they outlived `stop` and `shutdown`).
#[test]
fn stop_kills_group_members_that_ignore_the_stop_signal() {
    let d = Daemon::start(&program(
        "app",
        r#"cmd "sh" "-c" "(trap '' TERM; exec sleep 1000) & trap 'exit 0' TERM; wait"
           stoptime "500ms""#,
    ));
    let pid = d.running_pid("app");
    let member = sleeping_member(pid);
    let began = Instant::now();
    d.ok(&["stop", "app"]);
    assert!(
        !pid_alive(member),
        "the member outlived `stop` ({:?})",
        began.elapsed()
    );
    let row = d.must_row("app");
    assert_eq!(row["state"], "STOPPED");
    assert!(
        reason(&row).contains("stopped 1 leftover processes"),
        "{row}"
    );
}

/// Case 2 again, at shutdown: `shutdown` leaves nothing of any group running.
#[test]
fn shutdown_leaves_no_group_member_running() {
    let d = Daemon::start(&program(
        "app",
        r#"cmd "sh" "-c" "(trap '' TERM; exec sleep 1000) & trap 'exit 0' TERM; wait"
           stoptime "300ms""#,
    ));
    let pid = d.running_pid("app");
    let member = sleeping_member(pid);
    d.ok(&["shutdown"]);
    assert_eq!(d.wait_exit(LONG), Some(0));
    assert!(!pid_alive(member), "a group member outlived shutdown");
}

/// Case 3: a program that forks into the background (`setsid`, as `redis-server
/// --daemonize yes` does) exits 0 before starttime: the process it left is found through its
/// TASKMASTER_PROCESS, stopped, and the reason says what probably happened.
#[test]
fn a_program_that_forks_into_the_background_is_stopped_and_told_so() {
    let d = Daemon::start(&program(
        "redis",
        r#"cmd "sh" "-c" "setsid sh -c 'echo $$ > bg.pid; exec sleep 1000' & sleep 0.2; exit 0"
           startretries 0"#,
    ));
    let row = d.wait_state("redis", "FATAL");
    let bg = pid_in(&d, "bg.pid");
    wait_for("the background process to be gone", LONG, || !pid_alive(bg));
    let why = reason(&row);
    assert!(why.contains("exited with code 0 before starttime"), "{why}");
    assert!(why.contains("stopped 1 leftover processes"), "{why}");
    assert!(
        why.contains(
            "it left 1 processes running: did it fork into the background? Run it in the foreground"
        ),
        "{why}"
    );
}

/// Process identity: every child carries its program, process and number.
#[test]
fn children_carry_their_identity() {
    let d = Daemon::start(&program(
        "id",
        r#"cmd "sh" "-c" "echo $TASKMASTER_PROGRAM $TASKMASTER_PROCESS $TASKMASTER_PROCESS_NUM > id-$TASKMASTER_PROCESS_NUM; sleep 1000"
           numprocs 2"#,
    ));
    wait_for("both processes to write", LONG, || {
        d.sb.read("id-0").ends_with('\n') && d.sb.read("id-1").ends_with('\n')
    });
    assert_eq!(d.sb.read("id-0"), "id id:0 0\n");
    assert_eq!(d.sb.read("id-1"), "id id:1 1\n");
}

/// Case 4: `false` in a crash loop restarts a handful of times, not a thousand a second, and
/// waits in BACKOFF saying why.
#[test]
fn a_crash_loop_backs_off() {
    let sb = Sandbox::new();
    sb.write_config_with_logfile(
        "events.log",
        &program(
            "crash",
            r#"cmd "false"
               starttime 0
               autorestart #true"#,
        ),
    );
    let d = Daemon::start_in(sb, &[]);
    let row = wait_some("a crash BACKOFF of 400ms or more", LONG, || {
        d.row("crash")
            .filter(|r| reason(r).contains("restarting in 400ms"))
    });
    assert_eq!(row["state"], "BACKOFF");
    assert_eq!(
        reason(&row),
        "restarting in 400ms after exit code 1 (crash 4 in a row)"
    );
    // 0 + 100 + 200 + 400 + 800 ms: at most a few restarts in 2 s.
    std::thread::sleep(Duration::from_secs(2));
    let restarts = d.must_row("crash")["restarts"].as_u64().unwrap_or(u64::MAX);
    assert!(restarts <= 8, "{restarts} restarts in about 2 s");
    let log = d.sb.read("events.log");
    assert!(log.len() < 20_000, "event log grew to {} bytes", log.len());
}

/// The backoff sequence (first crash immediate, then MIN doubling up to MAX) and its reset
/// once a process stayed RUNNING for MAX.
#[test]
fn backoff_doubles_up_to_max_then_resets_after_a_long_run() {
    let d = Daemon::start(&program(
        "w",
        r#"cmd "sh" "-c" "date +%s.%N >> times; if [ -e long ]; then rm -f long; sleep 1.2; else sleep 0.3; fi; exit 1"
           starttime "100ms"
           autorestart #true
           restart-backoff "200ms" "800ms""#,
    ));
    wait_for("6 runs", Duration::from_secs(30), || {
        d.sb.line_count("times") >= 6
    });
    // The next run is a long one: it resets the run of crashes.
    d.sb.write("long", "");
    wait_for("9 runs", Duration::from_secs(30), || {
        d.sb.line_count("times") >= 9
    });
    let times: Vec<f64> =
        d.sb.read("times")
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
    let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // Run 1 crashes, restart at once (gap ≈ 0.3 s of life); then 0.2, 0.4, 0.8, 0.8.
    let waits: Vec<f64> = gaps.iter().map(|g| g - 0.3).collect();
    let want_min = [0.0, 0.2, 0.4, 0.8, 0.8];
    for (i, (w, min)) in waits.iter().zip(want_min).enumerate() {
        assert!(
            *w >= min - 0.05,
            "wait {i}: {w:.3}s, want >= {min}s ({waits:?})"
        );
    }
    assert!(
        waits[0] < 0.6,
        "the first crash restart is immediate: {waits:?}"
    );
    // Which run was the long one: the first gap of more than a second.
    let long = gaps
        .iter()
        .position(|g| *g >= 1.2)
        .unwrap_or_else(|| panic!("no long run in {gaps:?}"));
    let after = gaps.get(long).copied().unwrap_or_default() - 1.2;
    assert!(
        after < 0.6,
        "after a run of MAX the next restart is immediate again: {gaps:?}"
    );
    let next = gaps.get(long + 1).map(|g| g - 0.3);
    assert!(
        next.is_some_and(|w| (0.15..0.75).contains(&w)),
        "then the backoff starts again at MIN: {gaps:?}"
    );
}

/// crash-limit: the (N+1)-th crash restart within the window is a FATAL; a manual start
/// clears the history.
#[test]
fn crash_limit_gives_up_and_start_clears_it() {
    let d = Daemon::start(&program(
        "worker",
        r#"cmd "sh" "-c" "echo $$ >> pids; if [ -e ok ]; then exec sleep 1000; fi; sleep 0.3; exit 1"
           starttime "100ms"
           autorestart #true
           restart-backoff 0
           crash-limit 3 "10s""#,
    ));
    let row = d.wait_state("worker", "FATAL");
    assert_eq!(row["restarts"], 3, "{row}");
    assert_eq!(d.sb.line_count("pids"), 4);
    assert!(
        reason(&row).contains("crash loop: 3 restarts within 10s"),
        "{row}"
    );
    d.sb.write("ok", "");
    d.ok(&["start", "worker"]);
    let row = d.must_row("worker");
    assert_eq!(row["state"], "RUNNING");
    assert_eq!(row["restarts"], 0);
}

/// Failed start attempts stay under startretries, whatever crash-limit says.
#[test]
fn crash_limit_leaves_start_retries_alone() {
    let d = Daemon::start(&program(
        "early",
        r#"cmd "sh" "-c" "exit 1"
           starttime 1
           startretries 1
           crash-limit 100 "60s""#,
    ));
    let row = d.wait_state("early", "FATAL");
    let why = reason(&row);
    assert!(why.contains("before starttime"), "{why}");
    assert!(!why.contains("crash loop"), "{why}");
}

/// Case 5: a daemon killed with SIGKILL leaves its groups; the next `run` on the same socket
/// stops them before it starts its own, and says so.
#[test]
fn the_next_daemon_stops_what_a_killed_one_left() {
    let sb = Sandbox::new();
    sb.write_config(&program(
        "app",
        r#"cmd "sh" "-c" "sleep 1000 & exec sleep 1000"
           numprocs 2
           stoptime "500ms""#,
    ));
    let first = Daemon::start_in(sb, &[]);
    let a = first.running_pid("app:0");
    let b = first.running_pid("app:1");
    let record = first.socket().with_extension("sock.groups");
    wait_for("the record of both groups", LONG, || {
        let text = std::fs::read_to_string(&record).unwrap_or_default();
        text.contains(&format!("{a} ")) && text.contains(&format!("{b} "))
    });
    let left: Vec<u32> = [a, b]
        .iter()
        .flat_map(|&p| group_members(p as i32))
        .map(|p| p.pid)
        .collect();
    assert_eq!(left.len(), 4, "two processes per group");
    first.signal_daemon(Signal::SIGKILL);
    first.wait_exit(LONG);
    assert!(left.iter().all(|&p| pid_alive(p)), "SIGKILL leaves them");
    // A second daemon over the same sandbox and socket.
    let sb2 = Sandbox::new();
    std::fs::copy(first.sb.config(), sb2.config()).expect("copy config");
    let second = Daemon::spawn_custom(sb2, &[], |cmd| {
        cmd.arg("--socket").arg(first.socket());
    });
    wait_for("the second daemon to answer", LONG, || {
        std::os::unix::net::UnixStream::connect(first.socket()).is_ok()
            && second.sb.read("daemon.err").contains("previous daemon")
    });
    for p in &left {
        wait_for("the old processes to be gone", LONG, || !pid_alive(*p));
    }
    let err = second.sb.read("daemon.err");
    assert!(err.contains("app:0") && err.contains("app:1"), "{err}");
    // Let the second daemon's own processes be cleaned up with it.
    let _ = std::process::Command::new(BIN)
        .args(["shutdown", "--socket"])
        .arg(first.socket())
        .output();
    second.wait_exit(LONG);
}

/// The record never makes a daemon signal a recycled pid: a group whose leader's start time
/// differs is left alone.
#[test]
fn a_recorded_pid_that_was_recycled_is_never_signalled() {
    let sb = Sandbox::new();
    sb.write_config(&program("app", r#"cmd "sleep" "1000""#));
    let mut bystander = std::process::Command::new("sleep");
    bystander.arg("1000").process_group(0);
    let mut bystander = bystander.spawn().expect("spawn a bystander");
    let pid = bystander.id();
    let start = proc_stat(pid).expect("its stat").starttime;
    // The record says "a group `pid`", started at another time, named like ours.
    sb.write(
        "t.sock.groups",
        &format!("{pid} {} 15 100 app\n", start.saturating_sub(1)),
    );
    let d = Daemon::start_in(sb, &[]);
    d.running_pid("app");
    let alive = pid_alive(pid);
    // Cleaned up before asserting, so a failure leaves no bystander behind.
    let _ = bystander.kill();
    let _ = bystander.wait();
    assert!(alive, "a recycled pid was signalled");
}

/// Case 7: descriptors the daemon inherited without close-on-exec never reach a child.
#[test]
fn inherited_descriptors_do_not_reach_children() {
    let sb = Sandbox::new();
    sb.write_config(&format!(
        "{}{}",
        program("plain", r#"cmd "sleep" "1000""#),
        program(
            "forked",
            r#"cmd "sleep" "1000"
               workingdir ".""#
        )
    ));
    let held = std::fs::File::open(sb.config()).expect("open a file to leak");
    let raw = std::os::fd::AsRawFd::as_raw_fd(&held);
    let d = Daemon::spawn_custom(sb, &[], move |cmd| {
        // SAFETY: dup2 is async-signal-safe; fd 9 is a plain copy without FD_CLOEXEC.
        unsafe {
            cmd.pre_exec(move || {
                if nix::libc::dup2(raw, 9) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    });
    d.wait_ready();
    assert!(
        std::fs::read_link(format!("/proc/{}/fd/9", d.pid())).is_ok(),
        "the daemon did inherit fd 9"
    );
    for name in ["plain", "forked"] {
        let pid = d.running_pid(name);
        let fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .expect("read the child's fds")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        let mut fds: Vec<u32> = fds.iter().filter_map(|f| f.parse().ok()).collect();
        fds.sort_unstable();
        assert_eq!(fds, [0, 1, 2], "{name}: {fds:?}");
    }
    drop(held);
}

/// Case 8: a log file is created with the program's umask, not the daemon's; and on the fork
/// path (workingdir) a relative PATH entry is searched where the child runs.
#[test]
fn log_files_take_the_program_umask_and_relative_path_entries_follow_workingdir() {
    use std::os::unix::fs::PermissionsExt as _;
    let sb = Sandbox::new();
    sb.script("wd/bin/tool", "echo from-wd > tool.out; exec sleep 1000");
    sb.write_config(&format!(
        "{}{}",
        program(
            "logger",
            r#"cmd "sh" "-c" "echo hi; exec sleep 1000"
               umask 0o022
               stdout "out.log""#,
        ),
        program(
            "tool",
            r#"cmd "tool"
               workingdir "wd"
               env { PATH "bin:/usr/bin:/bin"; }"#,
        )
    ));
    let d = Daemon::spawn_custom(sb, &[], |cmd| {
        // SAFETY: umask is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
                Ok(())
            });
        }
    });
    d.wait_ready();
    d.running_pid("logger");
    let mode = std::fs::metadata(d.path("out.log"))
        .expect("out.log exists")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o644, "out.log is {mode:o}");
    let row = d.wait_state("tool", "RUNNING");
    assert_eq!(row["reason"], serde_json::Value::Null, "{row}");
    wait_for("the tool to run from wd/bin", LONG, || {
        d.sb.read("wd/tool.out") == "from-wd\n"
    });
}

/// Both crash settings apply in place on reload: `diff` classes them as supervision, the
/// process keeps its pid, and the new values decide at the next crash.
#[test]
fn crash_settings_apply_in_place_on_reload() {
    let d = Daemon::start(&program(
        "w",
        r#"cmd "sh" "-c" "echo $$ >> pids; if [ -e crash ]; then sleep 0.3; exit 1; fi; exec sleep 1000"
           starttime "100ms"
           autorestart #true"#,
    ));
    let pid = d.running_pid("w");
    d.sb.write_config(&program(
        "w",
        r#"cmd "sh" "-c" "echo $$ >> pids; if [ -e crash ]; then sleep 0.3; exit 1; fi; exec sleep 1000"
           starttime "100ms"
           autorestart #true
           restart-backoff 0
           crash-limit 2 "1m""#,
    ));
    let diff = d.ctl(&["diff"]);
    assert_exit(&diff, 1, "diff");
    let shown = text(&diff.stdout);
    assert!(
        shown.contains("restart-backoff") && shown.contains("crash-limit"),
        "{shown}"
    );
    d.ok(&["reload"]);
    assert_eq!(d.pid_of("w"), pid, "applied in place: same pid");
    // The new limit decides: two crash restarts, then FATAL at the third crash.
    d.sb.write("crash", "");
    signal(pid, Signal::SIGKILL);
    let row = d.wait_state("w", "FATAL");
    assert!(
        reason(&row).contains("crash loop: 2 restarts within 60s"),
        "{row}"
    );
    assert_eq!(row["restarts"], 2);
}

/// A double fork (the classic daemonize: fork, setsid, fork again, the middle one exits):
/// the grandchild is reparented to the daemon when the middle process dies, and is still
/// found by its TASKMASTER_PROCESS and stopped.
#[test]
fn a_double_forking_daemon_is_stopped_too() {
    let sb = Sandbox::new();
    sb.script(
        "daemonize.sh",
        r#"( setsid sh -c 'sh -c "echo \$\$ > bg.pid; exec sleep 1000" & sleep 0.3' & )
sleep 0.1
exit 0"#,
    );
    sb.write_config(&program(
        "classic",
        r#"cmd "./daemonize.sh"
           startretries 0
           stoptime 60"#,
    ));
    let d = Daemon::start_in(sb, &[]);
    // Found late, it still gets the stop signal at once, not SIGKILL after stoptime.
    let row = d.wait_state_for("classic", "FATAL", Duration::from_secs(15));
    let bg = pid_in(&d, "bg.pid");
    wait_for("the daemonized grandchild to be gone", LONG, || {
        !pid_alive(bg)
    });
    assert!(
        reason(&row).contains("did it fork into the background?"),
        "{row}"
    );
}
