//! Real-process smoke tests of the daemon, talking the JSON protocol directly over the
//! control socket (independent of the CLI client), with the harness's daemon fixture.

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{BIN, Config, Daemon, LONG, Sandbox, pid_alive as is_alive, zombie_children};

/// Every process, through the protocol's `status`.
fn status(d: &Daemon) -> Vec<Value> {
    let reply = d.request(&json!({"version": 1, "command": "status"}));
    reply["processes"].as_array().cloned().unwrap_or_default()
}

/// The status row of `name`, through the protocol.
#[track_caller]
fn proc(d: &Daemon, name: &str) -> Value {
    status(d)
        .into_iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no process {name}"))
}

/// A daemon started the way a careless script might: with `signals` ignored, which exec
/// passes on (`trap "" INT; taskmaster run … &`).
fn start_ignoring(config: Config, signals: &str) -> Daemon {
    let sb = Sandbox::new();
    sb.write_config(config);
    let trap = format!("trap '' {signals}; exec \"$0\" \"$@\"");
    let d = Daemon::spawn_custom(sb, &["sh", "-c", &trap], |_| {});
    d.wait_ready();
    d
}

fn pid_of(p: &Value) -> u32 {
    p["pid"].as_u64().unwrap_or_else(|| panic!("no pid in {p}")) as u32
}

/// `sleeper` (argv form, stoptime 20 s) and two `web` processes.
fn two_programs(web_procs: u32) -> Config {
    Config::new()
        .program("sleeper", |p| {
            p.cmd(["sleep", "1000"]).starttime(0).stoptime(20)
        })
        .program("web", |p| {
            p.cmd("sleep 1000").numprocs(web_procs).starttime("100ms")
        })
}

/// A program that just sleeps, started at once.
fn with_sleeper(config: Config, name: &str) -> Config {
    config.program(name, |p| p.cmd(["sleep", "1000"]).starttime(0))
}

#[test]
fn status_stop_start_restart_and_shutdown() {
    let d = Daemon::start(two_programs(2));
    d.wait_until("everything runs", |_| {
        status(&d).iter().all(|p| p["state"] == "RUNNING")
    });
    let names: Vec<Value> = status(&d).iter().map(|p| p["name"].clone()).collect();
    assert_eq!(names, ["sleeper", "web:0", "web:1"]);

    let reply = d.request(&json!({"version":1,"command":"stop","names":["web:1"]}));
    assert_eq!(reply["type"], "done", "{reply}");
    assert_eq!(reply["processes"][0]["state"], "STOPPED");
    assert_eq!(reply["processes"][0]["pid"], Value::Null);
    assert_eq!(proc(&d, "web:0")["state"], "RUNNING");

    let reply = d.request(&json!({"version":1,"command":"start","names":["web"]}));
    assert_eq!(reply["type"], "done", "{reply}");
    assert_eq!(reply["failed"], json!([]));
    assert!(
        reply["processes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["state"] == "RUNNING")
    );

    let before = pid_of(&proc(&d, "sleeper"));
    let reply = d.request(&json!({"version":1,"command":"restart","names":["sleeper:0"]}));
    assert_eq!(reply["processes"][0]["state"], "RUNNING", "{reply}");
    assert_ne!(pid_of(&reply["processes"][0]), before);
    assert!(!is_alive(before));

    let reply = d.request(&json!({"version":1,"command":"stop","names":["web", "nope"]}));
    assert_eq!(reply["type"], "error");
    assert_eq!(reply["kind"], "unknown_name");
    assert_eq!(
        proc(&d, "web:0")["state"],
        "RUNNING",
        "an unknown name changes nothing"
    );

    let pids: Vec<u32> = status(&d).iter().map(pid_of).collect();
    let reply = d.request(&json!({"version":1,"command":"shutdown"}));
    assert_eq!(reply["type"], "shut_down");
    assert_eq!(d.wait_exit(LONG), Some(0));
    assert!(!d.socket().exists(), "socket removed on shutdown");
    for pid in pids {
        assert!(!is_alive(pid), "child {pid} survived the shutdown");
    }
}

#[test]
fn direct_exec_child_gets_sigterm_and_an_empty_mask() {
    let d = Daemon::start(two_programs(2));
    d.wait_until("sleeper runs", |_| {
        proc(&d, "sleeper")["state"] == "RUNNING"
    });
    let pid = pid_of(&proc(&d, "sleeper"));
    let proc_status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let blocked = proc_status
        .lines()
        .find(|l| l.starts_with("SigBlk:"))
        .unwrap();
    assert!(blocked.ends_with("0000000000000000"), "{blocked}");
    let started = Instant::now();
    let reply = d.request(&json!({"version":1,"command":"stop","names":["sleeper"]}));
    // stoptime is 20 s: a quick stop means SIGTERM worked, no SIGKILL was needed.
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(reply["processes"][0]["signal"], "SIGTERM", "{reply}");
}

#[test]
fn children_get_default_signal_dispositions_back() {
    let d = start_ignoring(
        Config::new().program("sleeper", |p| {
            p.cmd(["sleep", "1000"])
                .starttime(0)
                .stopsignal("USR1")
                .stoptime(20)
        }),
        "USR1 QUIT",
    );
    d.wait_until("sleeper runs", |_| {
        proc(&d, "sleeper")["state"] == "RUNNING"
    });
    let pid = pid_of(&proc(&d, "sleeper"));
    let proc_status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let ignored = proc_status
        .lines()
        .find(|l| l.starts_with("SigIgn:"))
        .unwrap();
    let mask = u64::from_str_radix(ignored.trim_start_matches("SigIgn:").trim(), 16).unwrap();
    let (usr1, quit) = (1u64 << (10 - 1), 1u64 << (3 - 1));
    assert_eq!(mask & (usr1 | quit), 0, "{ignored}");
    let started = Instant::now();
    let reply = d.request(&json!({"version":1,"command":"stop","names":["sleeper"]}));
    // An inherited SIG_IGN would leave only the SIGKILL after stoptime (20 s).
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(reply["processes"][0]["signal"], "SIGUSR1", "{reply}");
}

#[test]
fn sigterm_stops_everything_and_exits_zero() {
    let d = Daemon::start(two_programs(2));
    d.wait_until("everything runs", |_| {
        status(&d).iter().all(|p| p["state"] == "RUNNING")
    });
    let pids: Vec<u32> = status(&d).iter().map(pid_of).collect();
    let daemon = d.pid();
    Command::new("kill")
        .arg("-TERM")
        .arg(daemon.to_string())
        .status()
        .unwrap();
    assert_eq!(d.wait_exit(LONG), Some(0));
    assert!(!d.socket().exists());
    for pid in pids {
        assert!(!is_alive(pid), "child {pid} survived");
    }
}

#[test]
fn reload_keeps_unchanged_pids_and_applies_the_diff() {
    let d = Daemon::start(two_programs(2));
    d.wait_until("everything runs", |_| {
        status(&d).iter().all(|p| p["state"] == "RUNNING")
    });
    let sleeper = pid_of(&proc(&d, "sleeper"));
    let web0 = pid_of(&proc(&d, "web:0"));
    let web1 = pid_of(&proc(&d, "web:1"));
    let with_extra = with_sleeper(two_programs(1), "extra");
    d.sb.write_config(&with_extra);
    let reply = d.request(&json!({"version":1,"command":"reload"}));
    assert_eq!(reply["type"], "reloaded", "{reply}");
    d.wait_until("web:1 is gone and extra runs", |_| {
        let s = status(&d);
        s.len() == 3 && s.iter().all(|p| p["state"] == "RUNNING")
    });
    assert_eq!(
        pid_of(&proc(&d, "sleeper")),
        sleeper,
        "unchanged program untouched"
    );
    assert_eq!(
        pid_of(&proc(&d, "web")),
        web0,
        "web:0 keeps its pid as `web`"
    );
    d.wait_until("the highest index was stopped", |_| !is_alive(web1));

    // SIGHUP reloads too.
    d.sb.write_config(with_sleeper(with_extra, "late"));
    Command::new("kill")
        .arg("-HUP")
        .arg(d.pid().to_string())
        .status()
        .unwrap();
    d.wait_until("late runs", |_| {
        status(&d)
            .iter()
            .any(|p| p["name"] == "late" && p["state"] == "RUNNING")
    });
    assert_eq!(pid_of(&proc(&d, "sleeper")), sleeper);

    // An invalid config changes nothing and says why.
    std::fs::write(d.sb.config(), "program \"x\" { numprocs 0 }").unwrap();
    let reply = d.request(&json!({"version":1,"command":"reload"}));
    assert_eq!(reply["kind"], "invalid_config", "{reply}");
    assert!(!reply["diagnostics"].as_str().unwrap_or("").is_empty());
    assert_eq!(status(&d).len(), 4);
}

#[test]
fn crash_restart_cycles_leave_no_zombie() {
    let d = Daemon::start(Config::new().program("crasher", |p| {
        p.cmd("false")
            .starttime(0)
            .autorestart(true)
            .restart_backoff(0)
    }));
    d.wait_until("200 restarts", |_| {
        proc(&d, "crasher")["restarts"].as_u64().unwrap_or(0) >= 200
    });
    let reply = d.request(&json!({"version":1,"command":"stop","names":["crasher"]}));
    assert_eq!(reply["type"], "done", "{reply}");
    let daemon = d.pid();
    d.wait_until("no zombie children", |_| zombie_children(daemon).is_empty());
    assert_eq!(proc(&d, "crasher")["state"], "STOPPED");
}

#[test]
fn backoff_then_fatal_with_the_spawn_error_as_reason() {
    let d = Daemon::start(Config::new().program("ghost", |p| {
        p.cmd("no-such-program-anywhere").startretries(1)
    }));
    d.wait_until("ghost is FATAL", |_| proc(&d, "ghost")["state"] == "FATAL");
    let p = proc(&d, "ghost");
    assert!(p["reason"].as_str().unwrap().contains("not found"), "{p}");
    let reply = d.request(&json!({"version":1,"command":"start","names":["ghost"]}));
    assert_eq!(reply["failed"], json!(["ghost"]), "{reply}");
}

#[test]
fn fatal_reason_counts_attempts_in_good_english() {
    let d = Daemon::start(Config::new().program("ghost", |p| {
        p.cmd("no-such-program-anywhere").startretries(0)
    }));
    d.wait_until("ghost is FATAL", |_| proc(&d, "ghost")["state"] == "FATAL");
    let p = proc(&d, "ghost");
    let reason = p["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("gave up after 1 attempt: "), "{p}");
}

/// An attempt that could not be spawned has no exit code, even when an earlier attempt of
/// the same start sequence exited with one.
#[test]
fn a_spawn_failure_after_an_exit_shows_no_exit_code() {
    let d = Daemon::start(Config::new().program("flaky", |p| {
        p.cmd("./tool")
            .workingdir(".")
            .autostart(false)
            .startretries(1)
            .starttime(5)
    }));
    // The first attempt exits 1 and takes its program away, so the retry cannot spawn.
    let tool = d.path("tool");
    std::fs::write(&tool, "#!/bin/sh\nrm -f \"$0\"\nexit 1\n").unwrap();
    std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let reply = d.request(&json!({"version":1,"command":"start","names":["flaky"]}));
    assert_eq!(reply["failed"], json!(["flaky"]), "{reply}");
    let p = proc(&d, "flaky");
    assert_eq!(p["state"], "FATAL", "{p}");
    assert_eq!(p["exit_code"], Value::Null, "{p}");
    assert_eq!(p["signal"], Value::Null, "{p}");
    let reason = p["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("tool"),
        "the spawn error is the reason: {p}"
    );
}

/// A `diff` naming a FIFO is refused instead of blocking the daemon until someone writes.
#[test]
fn diff_of_a_fifo_is_refused_and_the_daemon_keeps_answering() {
    let d = Daemon::start(two_programs(2));
    let fifo = d.path("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let reply = d.request(&json!({"version":1,"command":"diff","config":fifo}));
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["kind"], "unreadable", "{reply}");
    assert!(!status(&d).is_empty());
}

#[test]
fn a_second_daemon_on_a_live_socket_exits_2() {
    let d = Daemon::start(two_programs(2));
    let out = Command::new(BIN)
        .arg("run")
        .arg(d.sb.config())
        .arg("--socket")
        .arg(d.socket())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already"));
    assert!(
        UnixStream::connect(d.socket()).is_ok(),
        "first daemon still answers"
    );
}

#[test]
fn bad_requests_get_errors_and_oversized_ones_close_the_connection() {
    let d = Daemon::start(two_programs(2));
    let mut s = UnixStream::connect(d.socket()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    s.write_all(b"not json\n{\"version\":1,\"command\":\"names\"}\n")
        .unwrap();
    r.read_line(&mut line).unwrap();
    assert!(line.contains("bad_request"), "{line}");
    line.clear();
    r.read_line(&mut line).unwrap();
    assert!(line.contains("\"names\""), "connection kept: {line}");
    line.clear();
    s.write_all(&vec![b'x'; 70 * 1024]).unwrap();
    r.read_line(&mut line).unwrap();
    assert!(line.contains("too_large"), "{line}");
    line.clear();
    assert_eq!(r.read_line(&mut line).unwrap(), 0, "closed after too_large");
}

#[test]
fn logs_keep_output_and_follow_new_lines() {
    let d = Daemon::start(Config::new().program("talker", |p| {
        p.cmd(["sh", "-c", "echo one; echo two; sleep 1000"])
            .starttime(0)
    }));
    d.wait_until("output captured", |_| {
        let r = d.request(&json!({"version":1,"command":"logs","name":"talker"}));
        r["type"] == "log" && r["text"] == "one\ntwo\n"
    });
    let r = d.request(&json!({"version":1,"command":"logs","name":"talker","lines":1}));
    assert_eq!(r["text"], "two\n");

    let mut s = UnixStream::connect(d.socket()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(
        b"{\"version\":1,\"command\":\"logs\",\"name\":\"talker\",\"follow\":true,\"lines\":0}\n",
    )
    .unwrap();
    let mut r = BufReader::new(s);
    // A restart's output reaches the follower.
    d.request(&json!({"version":1,"command":"restart","names":["talker"]}));
    let mut text = String::new();
    while !text.ends_with("two\n") {
        let mut line = String::new();
        assert!(r.read_line(&mut line).unwrap() > 0, "stream ended early");
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["type"], "log", "{v}");
        text.push_str(v["text"].as_str().unwrap());
    }
    assert_eq!(text, "one\ntwo\n");
}

#[test]
fn a_stalled_client_is_dropped_after_5_s_without_delaying_others() {
    let d = Daemon::start(two_programs(2));
    let mut slow = UnixStream::connect(d.socket()).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    slow.write_all(b"{\"version\":1,").unwrap();
    let started = Instant::now();
    // Others are served meanwhile.
    assert_eq!(status(&d).len(), 3);
    assert!(started.elapsed() < Duration::from_secs(4));
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut slow, &mut rest).unwrap();
    let waited = started.elapsed();
    assert!(rest.is_empty(), "no reply to half a request");
    assert!(
        waited >= Duration::from_secs(4) && waited < Duration::from_secs(15),
        "{waited:?}"
    );
}

#[test]
fn followed_logs_of_several_processes_name_each_process() {
    let d = Daemon::start(Config::new().program("duo", |p| {
        p.cmd(["sh", "-c", "sleep 0.3; echo hi; sleep 1000"])
            .numprocs(2)
            .starttime(0)
    }));
    let mut s = UnixStream::connect(d.socket()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"{\"version\":1,\"command\":\"logs\",\"name\":\"duo\",\"follow\":true}\n")
        .unwrap();
    let mut r = BufReader::new(s);
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 2 {
        let mut line = String::new();
        assert!(r.read_line(&mut line).unwrap() > 0);
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["type"], "log", "{v}");
        assert_eq!(v["text"], "hi\n");
        seen.insert(v["process"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["duo:0", "duo:1"]);
    status(&d);
}

#[test]
fn an_unread_stderr_pipe_never_blocks_the_daemon() {
    // 300 processes log far more than a pipe holds; nobody reads the daemon's stderr.
    let sb = Sandbox::new();
    sb.write_config(Config::new().program("many", |p| {
        p.cmd(["sleep", "1000"]).numprocs(300).starttime(0)
    }));
    let d = Daemon::spawn_custom(sb, &[], |cmd| {
        cmd.stderr(Stdio::piped());
    });
    d.wait_ready();
    d.wait_until("all 300 run", |_| {
        status(&d)
            .iter()
            .filter(|p| p["state"] == "RUNNING")
            .count()
            == 300
    });
    let reply = d.request(&json!({"version":1,"command":"stop","names":["all"]}));
    assert_eq!(reply["failed"], json!([]), "{reply}");
    let reply = d.request(&json!({"version":1,"command":"shutdown"}));
    assert_eq!(reply["type"], "shut_down");
    assert_eq!(d.wait_exit(LONG), Some(0));
}
