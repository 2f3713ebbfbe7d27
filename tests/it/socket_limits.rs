//! Hardening of the control socket (contract Part 2, "Socket limits", "The client trusts only
//! its own daemon", "The client never hangs"): connection and buffer caps, idle connections,
//! request framing, whole characters in `logs`, and clients that never wait forever.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{
    BIN, Daemon, LONG, Sandbox, assert_exit, closed_within, program, read_reply, run_bounded, text,
    wait_for,
};

fn sleeper() -> Daemon {
    Daemon::start(&program("a", "    cmd \"sleep 3600\"\n    starttime 0"))
}

/// Sends one raw request line and reads one reply line (bounded).
fn ask(stream: &mut UnixStream, line: &[u8]) -> Value {
    stream.write_all(line).expect("write the request");
    read_reply(stream)
}

const STATUS: &[u8] = b"{\"version\":1,\"command\":\"status\"}\n";

#[test]
fn a_request_of_exactly_64_kib_may_end_in_crlf() {
    let d = sleeper();
    let head = b"{\"version\":1,\"command\":\"status\"}";
    let mut line = head.to_vec();
    // JSON allows the padding: the line itself is exactly 64 KiB, then \r\n.
    line.resize(64 * 1024, b' ');
    line.extend_from_slice(b"\r\n");
    let mut s = d.connect();
    let r = ask(&mut s, &line);
    assert_eq!(r["type"], "status", "{r}");
    // One byte more is over the limit, whatever the line end.
    let mut over = head.to_vec();
    over.resize(64 * 1024 + 1, b' ');
    over.extend_from_slice(b"\r\n");
    let mut s = d.connect();
    let r = ask(&mut s, &over);
    assert_eq!(r["type"], "error", "{r}");
    assert_eq!(r["kind"], "too_large", "{r}");
}

#[test]
fn a_version_that_is_not_an_integer_is_named_as_such() {
    let d = sleeper();
    let mut s = d.connect();
    let r = ask(&mut s, b"{\"version\":\"1\",\"command\":\"status\"}\n");
    assert_eq!(r["type"], "error", "{r}");
    let message = r["message"].as_str().unwrap_or_default();
    assert!(message.contains("must be an integer"), "{r}");
    assert!(!message.contains("missing"), "{r}");
}

#[test]
fn connections_over_256_are_refused_with_an_error_and_the_daemon_carries_on() {
    let d = sleeper();
    let pid = d.running_pid("a");
    // 256 idle connections, each past its first request so the 5 s limit does not apply.
    let mut held = Vec::new();
    for _ in 0..256 {
        let mut s = d.connect();
        let r = ask(&mut s, STATUS);
        assert_eq!(r["type"], "status", "{r}");
        held.push(s);
    }
    let mut extra = d.connect();
    let r = read_reply(&extra);
    assert_eq!(r["type"], "error", "{r}");
    assert_eq!(r["kind"], "busy", "{r}");
    assert!(
        r["message"].as_str().unwrap_or_default().contains("256"),
        "{r}"
    );
    assert!(closed_within(&mut extra, Duration::from_secs(10)));
    // The client says so with exit 3, and works again once a connection is freed.
    let out = d.ctl(&["status"]);
    assert_exit(&out, 3, "status while 256 connections are open");
    drop(held.pop());
    wait_for("a freed slot to be usable", LONG, || {
        d.ctl(&["status", "--json"]).status.code() == Some(0)
    });
    assert_eq!(d.pid_of("a"), pid);
}

#[test]
fn an_idle_connection_is_closed_after_60_s_but_a_follower_is_not() {
    let d = Daemon::start(&program(
        "a",
        "    cmd \"sh\" \"-c\" \"echo hi; exec sleep 3600\"\n    starttime 0",
    ));
    d.running_pid("a");
    let mut idle = d.connect();
    let r = ask(&mut idle, STATUS);
    assert_eq!(r["type"], "status", "{r}");
    let t0 = Instant::now();
    let mut follower = d.connect();
    follower
        .write_all(b"{\"version\":1,\"command\":\"logs\",\"name\":\"a\",\"follow\":true}\n")
        .expect("write");
    assert!(
        !closed_within(&mut idle, Duration::from_secs(50)),
        "closed before 60 s of idleness"
    );
    assert!(
        closed_within(&mut idle, Duration::from_secs(40)),
        "an idle connection is closed after 60 s"
    );
    let waited = t0.elapsed();
    assert!(waited >= Duration::from_secs(55), "{waited:?}");
    assert!(
        !closed_within(&mut follower, Duration::from_millis(500)),
        "a `logs -f` connection stays open however long it is quiet"
    );
}

#[test]
fn a_follower_that_falls_behind_gets_a_skip_notice_and_keeps_following() {
    let sb = Sandbox::new();
    // About 20 MB of output at once, then one more line once the test says so.
    sb.script(
        "flood.sh",
        "i=0\nwhile [ $i -lt 200000 ]; do\n  echo \"line $i of the flood, padded to about a hundred bytes with some filler text......\"\n  i=$((i+1))\ndone\ntouch flooded\nwhile [ ! -e go ]; do sleep 0.05; done\necho after-the-skip\nexec sleep 3600",
    );
    sb.write_config(&program(
        "flood",
        "    cmd \"./flood.sh\"\n    autostart #false\n    starttime 0",
    ));
    let d = Daemon::start_in(sb, &[]);
    let mut s = d.connect();
    s.write_all(b"{\"version\":1,\"command\":\"logs\",\"name\":\"flood\",\"follow\":true}\n")
        .expect("write");
    d.ok(&["start", "flood"]);
    wait_for("the flood to be written", LONG * 3, || {
        d.path("flooded").exists()
    });
    // Now read: the notice comes once the reader caught up, then the stream goes on.
    let mut reader = BufReader::new(s.try_clone().expect("clone"));
    s.set_read_timeout(Some(LONG)).expect("timeout");
    let mut seen_notice = false;
    let mut line = String::new();
    let deadline = Instant::now() + LONG * 3;
    loop {
        assert!(Instant::now() < deadline, "no notice and no later line");
        line.clear();
        let n = reader.read_line(&mut line).expect("the stream goes on");
        assert!(n > 0, "the daemon dropped the slow follower");
        let v: Value = serde_json::from_str(&line).expect("a protocol line");
        let text = v["text"].as_str().unwrap_or_default();
        if text.contains("[taskmaster: ") {
            let n: u64 = text
                .trim()
                .strip_prefix("[taskmaster: ")
                .and_then(|t| t.strip_suffix(" bytes skipped]"))
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("notice reads {text:?}"));
            assert!(n > 1_000_000, "{n} bytes skipped");
            seen_notice = true;
            std::fs::write(d.path("go"), "").expect("touch go");
        }
        if text.contains("after-the-skip") {
            break;
        }
    }
    assert!(seen_notice, "a `[taskmaster: N bytes skipped]` line");
}

#[test]
fn logs_of_a_program_with_many_processes_is_streamed_in_full() {
    // 140 processes × 70 KB (each ring full): about 9 MiB of answer.
    let d = Daemon::start(&program(
        "many",
        "    cmd \"sh\" \"-c\" \"yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 70000; echo; echo the-end; exec sleep 3600\"\n    numprocs 140\n    starttime 0",
    ));
    wait_for("every process to run", LONG * 3, || {
        let rows = d.status_json();
        rows.len() == 140 && rows.iter().all(|r| r["state"] == "RUNNING")
    });
    wait_for("every process to have written", LONG * 3, || {
        let out = d.ctl(&["logs", "many", "-n", "1"]);
        out.status.code() == Some(0) && text(&out.stdout).matches("the-end").count() == 140
    });
    // A reader that only starts reading once the daemon has dealt with its request gets it
    // all the same: the answer waits for it rather than piling up (or being dropped).
    let mut s = d.connect();
    s.write_all(b"{\"version\":1,\"command\":\"logs\",\"name\":\"many\"}\n")
        .expect("write");
    d.ok(&["status"]);
    s.set_read_timeout(Some(LONG)).expect("timeout");
    let mut reader = BufReader::new(s);
    let mut ends = 0;
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).expect("read") > 0,
            "the daemon closed the connection before the end of the answer"
        );
        let v: Value = serde_json::from_str(&line).expect("a protocol line");
        if v["type"] == "log_end" {
            break;
        }
        assert_eq!(v["type"], "log", "{v}");
        ends += v["text"]
            .as_str()
            .unwrap_or_default()
            .matches("the-end\n")
            .count();
    }
    assert_eq!(ends, 140);
    let out = d.ctl(&["logs", "many"]);
    assert_exit(&out, 0, "logs of 140 processes");
    let stdout = text(&out.stdout);
    assert_eq!(stdout.matches("| the-end\n").count(), 140);
    assert!(stdout.len() > 8 * 1024 * 1024, "{} bytes", stdout.len());
}

#[test]
fn logs_never_split_a_character() {
    let sb = Sandbox::new();
    // 80,002 bytes: the 64 KiB ring starts inside an `é`. Then, for a follower, a 60 KB line
    // without a newline written in pieces that each end inside an `é`: it is handed out in
    // pieces, which must fall between characters.
    let e100 = "é".repeat(100);
    let halves = "\\251\\303".repeat(100);
    sb.script(
        "utf8.sh",
        &format!(
            "printf a\ni=0\nwhile [ $i -lt 400 ]; do printf '{e100}'; i=$((i+1)); done\necho\nwhile [ ! -e go ]; do sleep 0.05; done\nprintf 'b\\303'\ni=0\nwhile [ $i -lt 300 ]; do printf '{halves}'; i=$((i+1)); done\nprintf '\\251'\nexec sleep 3600"
        ),
    );
    sb.write_config(&program("u", "    cmd \"./utf8.sh\"\n    starttime 0"));
    let d = Daemon::start_in(sb, &[]);
    d.running_pid("u");
    wait_for("the first line", LONG, || {
        text(&d.ctl(&["logs", "u"]).stdout).ends_with("é\n")
    });
    let out = d.ctl(&["logs", "u"]);
    let dump = String::from_utf8(out.stdout).expect("valid UTF-8");
    assert!(!dump.contains('\u{FFFD}'), "a character was split");
    assert!(dump.len() >= 60_000);

    let mut s = d.connect();
    s.write_all(
        b"{\"version\":1,\"command\":\"logs\",\"name\":\"u\",\"follow\":true,\"lines\":1}\n",
    )
    .expect("write");
    s.set_read_timeout(Some(LONG)).expect("timeout");
    let mut reader = BufReader::new(s.try_clone().expect("clone"));
    let mut next_text = || {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).expect("read") > 0,
            "stream ended"
        );
        let v: Value = serde_json::from_str(&line).expect("a protocol line");
        v["text"].as_str().unwrap_or_default().to_owned()
    };
    // The backlog first (its one long line, in pieces): the follower is registered by now.
    let mut backlog = String::new();
    while !backlog.ends_with('\n') {
        backlog.push_str(&next_text());
    }
    assert!(!backlog.contains('\u{FFFD}'), "a character was split");
    std::fs::write(d.path("go"), "").expect("touch go");
    let mut live = String::new();
    // 30,001 written; all but the last 8 KiB or so (an unfinished line's tail) come out,
    // however the daemon's reads happen to cut the line.
    while live.chars().filter(|&c| c == 'é').count() < 20_000 {
        live.push_str(&next_text());
    }
    assert!(!live.contains('\u{FFFD}'), "a followed character was split");
    assert!(live.starts_with('b'), "{}", &live[..10]);
}

/// A socket where something accepts connections and never answers.
fn silent_listener(sb: &Sandbox) -> std::path::PathBuf {
    let path = sb.path("silent.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    path
}

fn client(sb: &Sandbox, args: &[&str], bound: Duration) -> (std::process::Output, Duration) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(sb.root())
        .env_remove("TASKMASTER_SOCKET");
    let t = Instant::now();
    let out = run_bounded(cmd, sb.root(), bound, None);
    (out, t.elapsed())
}

#[test]
fn a_client_gives_up_on_a_daemon_that_never_answers() {
    let sb = Sandbox::new();
    let sock = silent_listener(&sb);
    let sock = sock.to_str().expect("utf-8");
    let (out, took) = client(&sb, &["status", "--socket", sock, "--timeout", "1s"], LONG);
    assert_exit(&out, 3, "status against a silent daemon");
    assert!(took < Duration::from_secs(8), "{took:?}");
    assert!(
        text(&out.stderr).contains("did not answer"),
        "{}",
        text(&out.stderr)
    );
    // The default is 10 s.
    let (out, took) = client(&sb, &["logs", "x", "--socket", sock], LONG * 2);
    assert_exit(&out, 3, "logs against a silent daemon");
    assert!(took >= Duration::from_secs(9), "{took:?}");
    // A waiting command notices that the daemon does not answer a ping either.
    let (out, took) = client(
        &sb,
        &["stop", "x", "--socket", sock, "--timeout", "1s"],
        LONG * 2,
    );
    assert_exit(&out, 3, "stop against a silent daemon");
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert!(
        text(&out.stderr).contains("stopped answering"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_long_stop_is_waited_for_however_short_the_timeout() {
    let d = Daemon::start(&program(
        "stubborn",
        "    cmd \"sh\" \"-c\" \"trap '' TERM; while :; do sleep 1; done\"\n    starttime 0\n    stoptime 7",
    ));
    d.running_pid("stubborn");
    let t = Instant::now();
    let out = d.ctl(&["stop", "stubborn", "--timeout", "1s"]);
    assert_exit(&out, 0, "stop of a program that takes 7 s to stop");
    assert!(t.elapsed() >= Duration::from_secs(6), "{:?}", t.elapsed());
    assert_eq!(d.state("stubborn"), "STOPPED");
}

#[test]
fn the_client_refuses_a_daemon_of_another_uid() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    if !nix::unistd::getuid().is_root() {
        eprintln!("skipped: needs root to run a daemon as another uid");
        return;
    }
    let sb = Sandbox::new();
    std::fs::set_permissions(sb.root(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let own = sb.path("nobody");
    std::fs::create_dir(&own).expect("mkdir");
    nix::unistd::chown(
        &own,
        Some(nix::unistd::Uid::from_raw(65534)),
        Some(nix::unistd::Gid::from_raw(65534)),
    )
    .expect("chown");
    sb.write(
        "nobody.kdl",
        &program("forged", "    cmd \"sleep 3600\"\n    autostart #false"),
    );
    std::fs::set_permissions(
        sb.path("nobody.kdl"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    let sock = own.join("t.sock");
    let mut cmd = Command::new(BIN);
    cmd.arg("run")
        .arg(sb.path("nobody.kdl"))
        .arg("--socket")
        .arg(&sock)
        .current_dir(&own)
        .env_remove("TASKMASTER_SOCKET")
        .env_remove("XDG_RUNTIME_DIR")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .uid(65534)
        .gid(65534)
        .process_group(0);
    let mut daemon = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!("skipped: cannot run the binary as uid 65534: {e}");
            return;
        }
    };
    let ready = Instant::now() + LONG;
    while !sock.exists() && Instant::now() < ready && daemon.try_wait().ok().flatten().is_none() {
        std::thread::sleep(Duration::from_millis(25));
    }
    let sock_str = sock.to_str().expect("utf-8").to_owned();
    let status = client(&sb, &["status", "--json", "--socket", &sock_str], LONG).0;
    let shutdown = client(&sb, &["shutdown", "--socket", &sock_str], LONG).0;
    // Clean up the daemon of nobody (it runs nothing), whatever the outcome.
    let _ = daemon.kill();
    let _ = daemon.wait();
    if !sock.exists() && status.status.code() == Some(3) && !text(&status.stderr).contains("uid") {
        eprintln!("skipped: the daemon of uid 65534 did not start");
        return;
    }
    assert_exit(&status, 3, "status against a daemon of uid 65534");
    let expected = format!("socket {sock_str} is served by uid 65534, not by you");
    assert!(
        text(&status.stderr).contains(&expected),
        "{}",
        text(&status.stderr)
    );
    assert!(!text(&status.stdout).contains("forged"));
    assert_exit(&shutdown, 3, "shutdown against a daemon of uid 65534");
}

/// Hostile request lines for the protocol fuzz test: random bytes, and requests with a
/// random `version`, command and fields. Commands that change anything are never formed
/// whole (no `stop`, `shutdown`, …): the daemon must survive the rest, not obey it.
fn hostile_line() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let json_value = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        ".{0,40}".prop_map(serde_json::Value::from),
        prop::collection::vec(".{0,8}", 0..5).prop_map(|v| serde_json::json!(v)),
        Just(serde_json::json!({"a": [[[[]]]]})),
    ];
    let command = prop_oneof![
        Just("status".to_owned()),
        Just("names".to_owned()),
        Just("ping".to_owned()),
        Just("pid".to_owned()),
        Just("diff".to_owned()),
        Just("logs".to_owned()),
        "[a-z_]{0,12}".prop_filter("no command that acts", |c| !matches!(
            c.as_str(),
            "start" | "stop" | "restart" | "shutdown" | "reload" | "signal"
        )),
    ];
    let request = (
        json_value.clone(),
        command,
        prop::collection::vec(("[a-z_]{1,8}", json_value), 0..4),
    )
        .prop_map(|(version, command, fields)| {
            let mut object = serde_json::Map::new();
            object.insert("version".into(), version);
            object.insert("command".into(), command.into());
            for (k, v) in fields {
                // Never follow: that answer has no end to wait for.
                if k != "follow" {
                    object.insert(k, v);
                }
            }
            serde_json::to_vec(&object).unwrap_or_default()
        });
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        request.clone(),
        request.prop_map(|mut line| {
            line.truncate(line.len() / 2);
            line
        }),
    ]
}

#[test]
fn random_request_lines_never_hurt_the_daemon() {
    use proptest::test_runner::{Config, TestRunner};
    let d = sleeper();
    let pid = d.running_pid("a");
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&hostile_line(), |mut line| {
        line.retain(|&b| b != b'\n');
        line.push(b'\n');
        let mut s = d.connect();
        s.write_all(&line).expect("write");
        s.set_read_timeout(Some(Duration::from_secs(15)))
            .expect("timeout");
        let mut reply = String::new();
        // A line of only whitespace is skipped, not answered: the connection then idles.
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        BufReader::new(&s)
            .read_line(&mut reply)
            .expect("an answer, not a hang");
        let v: Value = serde_json::from_str(&reply).expect("a protocol line");
        assert!(v["type"].is_string(), "{reply}");
        Ok(())
    });
    result.expect("every hostile line got an answer");
    assert!(crate::harness::pid_alive(d.pid()), "{}", d.daemon_output());
    assert_eq!(d.pid_of("a"), pid);
    d.ok(&["status"]);
}

#[test]
fn a_waiting_command_ends_when_its_daemon_freezes() {
    use nix::sys::signal::Signal;
    let d = Daemon::start(&program(
        "stubborn",
        "    cmd \"sh\" \"-c\" \"trap '' TERM; while :; do sleep 1; done\"\n    starttime 0\n    stoptime 60",
    ));
    d.running_pid("stubborn");
    let mut cmd = Command::new(BIN);
    cmd.args(["stop", "stubborn", "--timeout", "1s", "--socket"])
        .arg(d.socket())
        .current_dir(d.sb.root())
        .env_remove("TASKMASTER_SOCKET");
    let t = Instant::now();
    let client = std::thread::spawn(move || {
        let dir = std::env::temp_dir();
        run_bounded(cmd, &dir, Duration::from_secs(50), None)
    });
    wait_for("the stop to be under way", LONG, || {
        d.state("stubborn") == "STOPPING"
    });
    // Frozen: it answers nothing, but its connections stay open.
    d.signal_daemon(Signal::SIGSTOP);
    let out = client.join().expect("the client thread");
    d.signal_daemon(Signal::SIGCONT);
    assert_exit(&out, 3, "stop while the daemon is frozen");
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    assert!(
        text(&out.stderr).contains("stopped answering"),
        "{}",
        text(&out.stderr)
    );
}
