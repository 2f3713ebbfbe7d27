//! Daemon-written log files (a `stdout`/`stderr` with a block): exact rotation, `keep`,
//! timestamps, shared files, `stderr "stdout"`, reopening after `mv` (reload, SIGUSR2),
//! the `reopen` reload class, `log-buffer`, and `logs` on every target (`--both`, `all`).

use nix::sys::signal::Signal;

use crate::harness::{Config, Daemon, LONG, Sandbox, assert_exit, signal, text, wait_for};

/// `sh -c` printing `n` numbered lines of exactly 100 bytes (`line 0001 xxx…\n`), then
/// `done` to the file `done`, then sleeping.
fn numbered(n: u32) -> Vec<String> {
    let script = format!(
        "i=0; while [ $i -lt {n} ]; do i=$((i+1)); printf 'line %04d %s\\n' $i {}; done; \
         echo done > done; exec sleep 3600",
        "x".repeat(89)
    );
    vec!["sh".into(), "-c".into(), script]
}

/// The numbers of `line NNNN` lines, checking each line is whole.
fn numbers(text: &str) -> Vec<u32> {
    text.lines()
        .map(|l| {
            assert_eq!(l.len(), 99, "a cut or mixed line: {l:?}");
            l[5..9].parse().expect("a numbered line")
        })
        .collect()
}

#[test]
fn rotation_is_exact_and_the_files_are_the_tail() {
    let d = Daemon::start(Config::new().program("p", |p| {
        p.cmd(numbered(200))
            .starttime(0)
            .stdout_file("out.log", |b| b.max_size("1KB").keep(3))
    }));
    wait_for("the child to finish writing", LONG, || {
        d.sb.read("done") == "done\n"
    });
    wait_for("the last line in out.log", LONG, || {
        d.sb.read("out.log").contains("line 0200 ")
    });
    assert!(!d.path("out.log.4").exists(), "keep 3 keeps three");
    let mut joined = String::new();
    for name in ["out.log.3", "out.log.2", "out.log.1", "out.log"] {
        let bytes = std::fs::read(d.path(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(bytes.len() <= 1024, "{name} has {} bytes", bytes.len());
        if name != "out.log" {
            assert_eq!(bytes.last(), Some(&b'\n'), "{name} ends inside a line");
        }
        joined.push_str(&text(&bytes));
    }
    let got = numbers(&joined);
    let first = got[0];
    let want: Vec<u32> = (first..=200).collect();
    assert_eq!(got, want, "the files are the stream's contiguous tail");
    // 10 lines of 100 bytes fit a 1 KiB file: three rotated files and the current one hold
    // at least 31 lines.
    assert!(got.len() > 30, "{}", got.len());
}

#[test]
fn keep_zero_truncates_instead() {
    let d = Daemon::start(Config::new().program("p", |p| {
        p.cmd(numbered(100))
            .starttime(0)
            .stdout_file("out.log", |b| b.max_size("1KB").keep(0))
    }));
    wait_for("the last line in out.log", LONG, || {
        d.sb.read("out.log").contains("line 0100 ")
    });
    assert!(!d.path("out.log.1").exists());
    let out = d.sb.read("out.log");
    assert!(out.len() <= 1024, "{}", out.len());
    let got = numbers(&out);
    assert_eq!(got.last(), Some(&100));
}

#[test]
fn timestamps_prefix_file_lines_but_not_logs() {
    let d = Daemon::start(Config::new().program("p", |p| {
        p.cmd(["sh", "-c", "echo hello; echo world; exec sleep 3600"])
            .starttime(0)
            .stdout_file("out.log", |b| b.timestamps(true))
    }));
    wait_for("two lines in out.log", LONG, || {
        d.sb.line_count("out.log") == 2
    });
    for (line, word) in d.sb.read("out.log").lines().zip(["hello", "world"]) {
        let (stamp, rest) = line.split_once(' ').expect("a prefix");
        assert_eq!(rest, word);
        let b = stamp.as_bytes();
        let shape = stamp.len() == 24
            && [4, 7].iter().all(|&i| b[i] == b'-')
            && b[10] == b'T'
            && [13, 16].iter().all(|&i| b[i] == b':')
            && b[19] == b'.'
            && b[23] == b'Z'
            && stamp
                .bytes()
                .enumerate()
                .all(|(i, c)| [4, 7, 10, 13, 16, 19, 23].contains(&i) || c.is_ascii_digit());
        assert!(shape, "{stamp:?} is not YYYY-MM-DDTHH:MM:SS.mmmZ");
    }
    let logs = d.ok(&["logs", "p"]);
    assert_eq!(
        text(&logs.stdout),
        "hello\nworld\n",
        "logs shows lines as written"
    );
}

#[test]
fn stderr_stdout_merges_into_every_kind_of_target() {
    let both = "echo to-out; echo to-err >&2; exec sleep 3600";
    let d = Daemon::start(
        Config::new()
            .program("mem", |p| {
                p.cmd(["sh", "-c", both]).starttime(0).stderr("stdout")
            })
            .program("handed", |p| {
                p.cmd(["sh", "-c", both])
                    .starttime(0)
                    .stdout("handed.log")
                    .stderr("stdout")
            })
            .program("written", |p| {
                p.cmd(["sh", "-c", both])
                    .starttime(0)
                    .stdout_file("written.log", |b| b)
                    .stderr("stdout")
            }),
    );
    for file in ["handed.log", "written.log"] {
        wait_for("both lines in the file", LONG, || {
            d.sb.read(file) == "to-out\nto-err\n"
        });
    }
    wait_for("both lines in memory", LONG, || {
        text(&d.ok(&["logs", "mem"]).stdout) == "to-out\nto-err\n"
    });
    // `--stderr` of a merged stream shows the same.
    assert_eq!(
        text(&d.ok(&["logs", "mem", "--stderr"]).stdout),
        "to-out\nto-err\n"
    );
    // Nothing went to files of its own.
    assert!(!d.path("stdout").exists());
}

#[test]
fn two_processes_and_both_streams_share_a_file_without_mixed_lines() {
    // Every line is written in three pieces, so unheld pieces would interleave.
    let script = "i=0; while [ $i -lt 200 ]; do i=$((i+1)); \
                  printf '%s-' $TASKMASTER_PROCESS; printf 'out-%03d' $i; printf -- '-end\\n'; \
                  printf '%s-' $TASKMASTER_PROCESS >&2; printf 'err-%03d' $i >&2; printf -- '-end\\n' >&2; \
                  done; echo x >> done; exec sleep 3600";
    let d = Daemon::start(Config::new().program("p", |p| {
        p.cmd(["sh", "-c", script])
            .numprocs(2)
            .starttime(0)
            .stdout_file("shared.log", |b| b)
            .stderr_file("shared.log", |b| b)
    }));
    wait_for("both processes done", LONG, || d.sb.line_count("done") == 2);
    wait_for("every line in the file", LONG, || {
        d.sb.line_count("shared.log") == 800
    });
    let log = d.sb.read("shared.log");
    let mut seen = std::collections::BTreeSet::new();
    for line in log.lines() {
        let parts: Vec<&str> = line.split('-').collect();
        let whole = parts.len() == 4
            && ["p:0", "p:1"].contains(&parts[0])
            && ["out", "err"].contains(&parts[1])
            && parts[2].len() == 3
            && parts[3] == "end";
        assert!(whole, "a mixed line: {line:?}");
        assert!(seen.insert(line.to_owned()), "a doubled line: {line:?}");
    }
}

#[test]
fn mv_then_reload_or_sigusr2_reopens_with_the_same_pid() {
    let sb = Sandbox::new();
    sb.write_config(Config::new().program("p", |p| {
        p.cmd(["sh", "-c", "while :; do echo tick; sleep 0.05; done"])
            .starttime(0)
            .stdout_file("out.log", |b| b)
    }));
    let d = Daemon::start_in(sb, &[]);
    let pid = d.running_pid("p");
    wait_for("out.log to grow", LONG, || d.sb.line_count("out.log") > 2);

    for (round, reopen) in ["reload", "SIGUSR2"].into_iter().enumerate() {
        let moved = format!("out.log.moved{round}");
        std::fs::rename(d.path("out.log"), d.path(&moved)).expect("mv");
        if reopen == "reload" {
            d.ok(&["reload"]);
        } else {
            signal(d.pid(), Signal::SIGUSR2);
        }
        wait_for("a new out.log that grows", LONG, || {
            d.sb.line_count("out.log") > 2
        });
        let frozen = d.sb.read(&moved);
        wait_for("more lines in the new file", LONG, || {
            d.sb.line_count("out.log") > 6
        });
        assert_eq!(
            d.sb.read(&moved),
            frozen,
            "{reopen}: the moved file stopped growing"
        );
        assert_eq!(d.running_pid("p"), pid, "{reopen}: no restart");
    }
}

#[test]
fn a_max_size_change_reopens_without_a_restart() {
    let with = |max: &str| {
        let max = max.to_owned();
        Config::new().program("p", move |p| {
            p.cmd(["sh", "-c", "while :; do echo tick; sleep 0.05; done"])
                .starttime(0)
                .stdout_file("out.log", |b| b.max_size(max.as_str()).keep(2))
        })
    };
    let sb = Sandbox::new();
    sb.write_config(with("1MB"));
    let d = Daemon::start_in(sb, &[]);
    let pid = d.running_pid("p");
    d.sb.write_config(with("1KB"));
    let diff = d.ctl(&["diff", "--format", "json"]);
    assert_exit(&diff, 1, "diff shows a change");
    let json: serde_json::Value = serde_json::from_slice(&diff.stdout).expect("json");
    let change = &json["programs"][0]["changes"][0];
    assert_eq!(change["field"], "stdout", "{json}");
    assert_eq!(change["class"], "reopen", "{json}");
    assert_eq!(json["programs"][0]["action"], "update", "{json}");
    d.ok(&["reload"]);
    // 5 bytes a line: a 1 KiB file rotates after about 200 lines (10 s); the old limit would
    // never have rotated in this test.
    wait_for("a rotation under the new max-size", LONG * 2, || {
        d.path("out.log.1").exists()
    });
    assert!(
        std::fs::metadata(d.path("out.log.1"))
            .expect("out.log.1")
            .len()
            <= 1024
    );
    assert_eq!(d.running_pid("p"), pid);
}

#[test]
fn logs_reads_the_end_of_a_file_handed_to_the_process() {
    let d = Daemon::start(Config::new().program("p", |p| {
        p.cmd(["sh", "-c", "seq 1 1000; exec sleep 3600"])
            .starttime(0)
            .stdout("out.log")
    }));
    wait_for("the file to be complete", LONG, || {
        d.sb.read("out.log").ends_with("1000\n")
    });
    assert_eq!(
        text(&d.ok(&["logs", "p", "-n", "3"]).stdout),
        "998\n999\n1000\n"
    );
    // Bounded by log-buffer (64 KiB): all of this small file.
    assert_eq!(d.sb.read("out.log"), text(&d.ok(&["logs", "p"]).stdout));
}

#[test]
fn both_interleaves_the_streams_in_arrival_order() {
    let script = "echo o1; sleep 0.3; echo e1 >&2; sleep 0.3; echo o2; sleep 0.3; \
                  echo e2 >&2; echo x > done; exec sleep 3600";
    let d = Daemon::start(Config::new().program("p", |p| p.cmd(["sh", "-c", script]).starttime(0)));
    wait_for("the child to finish", LONG, || d.sb.read("done") == "x\n");
    wait_for("all four lines", LONG, || {
        text(&d.ok(&["logs", "p", "--both"]).stdout) == "o1\ne1\no2\ne2\n"
    });
    assert_eq!(
        text(&d.ok(&["logs", "p", "--both", "-n", "2"]).stdout),
        "o2\ne2\n"
    );
    assert_eq!(text(&d.ok(&["logs", "p"]).stdout), "o1\no2\n");
}

#[test]
fn log_buffer_bounds_what_memory_keeps() {
    let d = Daemon::start(
        Config::new()
            .daemon(|s| s.log_buffer("1KB"))
            .program("p", |p| p.cmd(numbered(100)).starttime(0)),
    );
    wait_for("the child to finish", LONG, || {
        d.sb.read("done") == "done\n"
    });
    wait_for("the last line kept", LONG, || {
        text(&d.ok(&["logs", "p"]).stdout).ends_with(&format!("line 0100 {}\n", "x".repeat(89)))
    });
    let kept = d.ok(&["logs", "p"]).stdout;
    assert!(kept.len() <= 1024, "{} bytes kept", kept.len());
    assert!(kept.len() > 900, "{} bytes kept", kept.len());
}

#[test]
fn logs_all_labels_every_line_with_its_process() {
    let d = Daemon::start(Config::new().program("solo", |p| {
        p.cmd(["sh", "-c", "echo one; exec sleep 3600"])
            .starttime(0)
    }));
    wait_for("the line captured", LONG, || {
        text(&d.ok(&["logs", "solo"]).stdout) == "one\n"
    });
    assert_eq!(text(&d.ok(&["logs", "all"]).stdout), "solo | one\n");
    let mut follower = d.follow_logs(&["all", "-f"], "follow.out");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for("the backlog", LONG, || {
            d.sb.read("follow.out") == "solo | one\n"
        });
        d.ok(&["restart", "solo"]);
        wait_for("the new run's line, labelled", LONG, || {
            d.sb.read("follow.out") == "solo | one\nsolo | one\n"
        });
    }));
    let _ = follower.kill();
    let _ = follower.wait();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn a_daemon_written_path_takes_placeholders() {
    let d = Daemon::start(Config::new().program("w", |p| {
        p.cmd(["sh", "-c", "echo I am $TASKMASTER_PROCESS; exec sleep 3600"])
            .numprocs(2)
            .starttime(0)
            .stdout_file("w-{process_num}.log", |b| b.timestamps(false))
    }));
    for n in 0..2 {
        let file = format!("w-{n}.log");
        wait_for("each process's own file", LONG, || {
            d.sb.read(&file) == format!("I am w:{n}\n")
        });
    }
}
