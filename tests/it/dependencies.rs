//! `depends-on`, WAITING, the stop order, `start --no-deps` and `wait`: the contract's
//! "Dependencies, readiness and liveness" against real children. Order is proven by
//! timestamps the children write, never by sleeping.

use std::time::Duration;

use serde_json::json;

use super::harness::{
    Config, Daemon, LONG, Program, Sandbox, assert_exit, holds_for, text, wait_for,
};

/// The time a child wrote to `rel` (`date +%s.%N`), once it exists.
fn stamp(d: &Daemon, rel: &str) -> f64 {
    let mut value = None;
    wait_for(&format!("{rel} to be written"), LONG, || {
        value =
            d.sb.read(rel)
                .lines()
                .next()
                .and_then(|l| l.trim().parse().ok());
        value.is_some()
    });
    value.unwrap_or_default()
}

/// `sh -c SCRIPT`.
fn sh(p: Program, script: &str) -> Program {
    p.cmd(["sh", "-c", script])
}

/// A program that writes the time to `NAME.t` when spawned, then sleeps.
fn stamped(p: Program, name: &str) -> Program {
    sh(p, &format!("date +%s.%N > {name}.t; exec sleep 600"))
}

#[test]
fn every_condition_gates_the_start_and_the_order_shows_in_timestamps() {
    // db is RUNNING 2 s after its spawn and writes db.t after 1 s: "started" dependents
    // start before db.t exists, "ready" and "healthy" ones after it.
    let config = Config::new()
        .program("db", |p| {
            sh(p, "sleep 1; date +%s.%N > db.t; exec sleep 600").starttime(2)
        })
        .program("migrate", |p| {
            sh(p, "sleep 1; date +%s.%N > migrate.t; exit 0")
                .starttime(0)
                .autorestart(false)
        })
        .program("web", |p| stamped(p, "web").depends_on("db"))
        .program("early", |p| {
            stamped(p, "early").depends_on_block([("db", "started")])
        })
        .program("checked", |p| {
            stamped(p, "checked").depends_on_block([("db", "healthy")])
        })
        .program("api", |p| {
            stamped(p, "api").depends_on_block([("migrate", "completed")])
        });
    let d = Daemon::start(&config);
    let web = d.must_row("web");
    assert_eq!(web["state"], "WAITING", "{web}");
    assert_eq!(web["pid"], json!(null), "{web}");
    assert_eq!(
        web["waiting_for"],
        json!([{"program": "db", "condition": "ready"}]),
        "{web}"
    );
    assert_eq!(d.must_row("db")["waiting_for"], json!(null));
    for name in ["web", "early", "checked", "api", "db"] {
        d.wait_state(name, "RUNNING");
    }
    let migrate = d.wait_state("migrate", "EXITED");
    assert_eq!(migrate["expected"], json!(true), "{migrate}");
    let db = stamp(&d, "db.t");
    assert!(stamp(&d, "early.t") < db, "started: before db wrote db.t");
    assert!(stamp(&d, "web.t") > db, "ready: after db was up");
    assert!(
        stamp(&d, "checked.t") > db,
        "healthy without liveness: as ready"
    );
    assert!(
        stamp(&d, "api.t") > stamp(&d, "migrate.t"),
        "completed: after it exited"
    );
}

#[test]
fn a_failed_dependency_makes_its_dependents_fatal_with_a_reason_naming_it() {
    let config = Config::new()
        .program("migrate", |p| {
            sh(p, "sleep 1; exit 3").starttime(0).autorestart(false)
        })
        .program("api", |p| {
            p.cmd("sleep 600")
                .depends_on_block([("migrate", "completed")])
        })
        .program("db", |p| sh(p, "exit 1").startretries(0))
        .program("web", |p| p.cmd("sleep 600").depends_on("db"));
    let d = Daemon::start(&config);
    let api = d.wait_state("api", "FATAL");
    let reason = api["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("dependency migrate exited with code 3"),
        "{api}"
    );
    assert_eq!(api["pid"], json!(null));
    let web = d.wait_state("web", "FATAL");
    assert!(
        web["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("dependency db is FATAL"),
        "{web}"
    );
    // A manual start tries again from the beginning, and fails the same way.
    let out = d.ctl(&["start", "web"]);
    assert_exit(&out, 1, "start web with a FATAL dependency");
    assert!(
        text(&out.stderr).contains("dependency db is FATAL"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn dependents_wait_through_a_dependency_s_failed_attempts() {
    // db fails its first two attempts (a counter file), then stays up.
    let config = Config::new()
        .program("db", |p| {
            sh(
                p,
                "n=$(cat n 2>/dev/null || echo 0); echo $((n+1)) > n; [ $n -ge 2 ] || exit 1; \
                 date +%s.%N > db.t; exec sleep 600",
            )
            .starttime(1)
            .startretries(3)
        })
        .program("web", |p| stamped(p, "web").depends_on("db"));
    let d = Daemon::start(&config);
    wait_for("db's second failed attempt", LONG, || {
        d.sb.read("n").trim() == "2"
    });
    let web = d.must_row("web");
    assert_eq!(web["state"], "WAITING", "{web}");
    d.wait_state("web", "RUNNING");
    assert!(stamp(&d, "web.t") > stamp(&d, "db.t"));
    assert_eq!(d.sb.read("n").trim(), "3");
}

#[test]
fn waiting_starts_a_stopped_dependency() {
    let config = Config::new()
        .program("db", |p| p.cmd("sleep 600").autostart(false).starttime(0))
        .program("web", |p| p.cmd("sleep 600").starttime(0).depends_on("db"));
    let d = Daemon::start(&config);
    d.wait_state("db", "RUNNING");
    d.wait_state("web", "RUNNING");
}

#[test]
fn start_no_deps_skips_the_wait_once() {
    let config = Config::new()
        .program("db", |p| p.cmd("sleep 600").autostart(false))
        .program("web", |p| {
            p.cmd("sleep 600")
                .autostart(false)
                .starttime(0)
                .depends_on("db")
        });
    let d = Daemon::start(&config);
    d.ok(&["start", "--no-deps", "web"]);
    assert_eq!(d.state("web"), "RUNNING");
    assert_eq!(d.state("db"), "STOPPED", "--no-deps pulls nothing");
    // Without it, a start waits, and starts db.
    d.ok(&["stop", "web"]);
    d.ok(&["start", "web"]);
    assert_eq!(d.state("db"), "RUNNING");
}

/// A program that writes the time to `NAME.term` on SIGTERM; `ignore`: and keeps running.
fn term_stamped(p: Program, name: &str, ignore: bool) -> Program {
    let then = if ignore { "" } else { "; exit 0" };
    sh(
        p,
        &format!("trap 'date +%s.%N >> {name}.term{then}' TERM; while :; do sleep 0.05; done"),
    )
    .starttime(0)
}

fn stop_order_config() -> Config {
    Config::new()
        .program("db", |p| term_stamped(p, "db", false))
        .program("web", |p| {
            term_stamped(p, "web", true).stoptime(2).depends_on("db")
        })
        .program("other", |p| term_stamped(p, "other", true).stoptime(2))
}

#[test]
fn shutdown_stops_dependents_first_and_independent_programs_in_parallel() {
    let d = Daemon::start(&stop_order_config());
    for name in ["db", "web", "other"] {
        d.wait_state(name, "RUNNING");
    }
    d.ok(&["shutdown"]);
    let web = stamp(&d, "web.term");
    let db = stamp(&d, "db.term");
    let other = stamp(&d, "other.term");
    assert!(
        db >= web + 1.9,
        "db got TERM at {db}, web at {web}: web's stoptime first"
    );
    assert!(
        (other - web).abs() < 1.0,
        "other ({other}) stops with web ({web})"
    );
}

#[test]
fn stop_all_stops_in_dependency_order() {
    let d = Daemon::start(&stop_order_config());
    for name in ["db", "web", "other"] {
        d.wait_state(name, "RUNNING");
    }
    d.ok(&["stop", "all"]);
    let web = stamp(&d, "web.term");
    assert!(stamp(&d, "db.term") >= web + 1.9);
    for name in ["db", "web", "other"] {
        assert_eq!(d.state(name), "STOPPED");
    }
}

#[test]
fn wait_exits_0_when_up_1_on_fatal_and_1_at_its_deadline() {
    let config = Config::new()
        .program("db", |p| p.cmd("sleep 600").starttime(1))
        .program("web", |p| p.cmd("sleep 600").starttime(1).depends_on("db"))
        .program("slow", |p| {
            p.cmd("sleep 600").autostart(false).starttime(60)
        })
        .program("blocked", |p| {
            p.cmd("sleep 600").autostart(false).depends_on("slow")
        })
        .program("dud", |p| sh(p, "exit 1").autostart(false).startretries(0));
    let d = Daemon::start(&config);
    // Every autostart process: db and web.
    let out = d.ctl(&["wait", "--timeout", "30s"]);
    assert_exit(&out, 0, "wait");
    assert_eq!(d.state("web"), "RUNNING");
    assert!(text(&out.stdout).contains("web"), "{}", text(&out.stdout));

    d.ctl(&["start", "dud"]);
    let out = d.ctl(&["wait", "dud", "web", "--timeout", "30s"]);
    assert_exit(&out, 1, "wait on a FATAL process");
    assert!(text(&out.stderr).contains("dud"), "{}", text(&out.stderr));

    // blocked waits for slow (RUNNING only after 60 s): the deadline ends the wait.
    let started = std::time::Instant::now();
    let mut child = d
        .ctl_command(&["start", "blocked"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start blocked");
    wait_for("blocked to wait", LONG, || d.state("blocked") == "WAITING");
    let out = d.ctl(&["wait", "blocked", "--timeout", "1s"]);
    assert_exit(&out, 1, "wait past its deadline");
    assert!(
        text(&out.stderr).contains("deadline"),
        "{}",
        text(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn reload_adds_a_dependency_in_place_and_a_removed_one_frees_a_waiting_process() {
    // db needs 60 s to be ready: nothing that waits for it starts during the test.
    let config = |web_deps: bool| {
        Config::new()
            .program("db", |p| p.cmd("sleep 600").starttime(60))
            .program("web", |p| {
                let p = p.cmd("sleep 600").starttime(0);
                if web_deps { p.depends_on("db") } else { p }
            })
            .program("api", |p| {
                let p = p.cmd("sleep 600").starttime(0);
                if web_deps { p } else { p.depends_on("db") }
            })
    };
    let sb = Sandbox::new();
    sb.write_config(config(false));
    let d = Daemon::start_in(sb, &[]);
    let pid = d.running_pid("web");
    assert_eq!(d.state("api"), "WAITING");
    // web gains a dependency, api loses its own.
    d.sb.write_config(config(true));
    let diff = d.ctl(&["diff", "--format", "json"]);
    let shown = text(&diff.stdout);
    assert!(
        shown.contains("depends-on") && shown.contains("supervision"),
        "{shown}"
    );
    d.ok(&["reload"]);
    assert_eq!(
        d.pid_of("web"),
        pid,
        "adding a dependency does not restart web"
    );
    assert_eq!(d.state("web"), "RUNNING");
    // api re-evaluated at the reload itself: RUNNING well before db could be ready.
    d.wait_state_for("api", "RUNNING", Duration::from_secs(20));
    assert_eq!(d.state("db"), "STARTING");
    holds_for("web keeps its pid", Duration::from_millis(300), || {
        d.pid_of("web") == pid
    });
}

#[test]
fn the_web_db_migrate_example_comes_up_in_order() {
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/web-db-migrate.kdl"),
    )
    .expect("the example");
    let sb = Sandbox::new();
    sb.write(
        "taskmaster.kdl",
        &example.replace("\"web-db-migrate.sock\"", "\"t.sock\""),
    );
    let d = Daemon::start_in(sb, &[]);
    assert_eq!(d.state("web"), "WAITING");
    let out = d.ctl(&["wait", "--timeout", "30s"]);
    assert_exit(&out, 0, "wait for the example");
    let migrate = d.must_row("migrate");
    assert_eq!(migrate["state"], "EXITED");
    assert_eq!(migrate["expected"], json!(true));
    let logs = d.ok(&["logs", "migrate"]);
    assert!(text(&logs.stdout).contains("migrate: done"));
    // web started after migrate ended: its uptime is shorter than db's by more than that.
    let db = d.must_row("db")["uptime_secs"].as_f64().unwrap_or_default();
    let web = d.must_row("web")["uptime_secs"]
        .as_f64()
        .unwrap_or_default();
    assert!(web + 1.0 < db, "web up {web}s, db up {db}s");
    d.ok(&["shutdown"]);
}

#[test]
fn healthy_waits_for_the_first_passed_liveness_check() {
    // db's liveness passes once the file `ok` exists; many failures are allowed before a stop.
    let config = Config::new()
        .program("db", |p| {
            p.cmd("sleep 600").starttime(0).block("liveness", (), |b| {
                b.entry("exec", ["sh", "-c", "test -f ok"])
                    .entry("interval", "200ms")
                    .entry("threshold", 100)
            })
        })
        .program("web", |p| {
            stamped(p, "web")
                .starttime(0)
                .depends_on_block([("db", "healthy")])
        });
    let d = Daemon::start(&config);
    d.wait_state("db", "RUNNING");
    holds_for("web to keep waiting", Duration::from_millis(800), || {
        d.state("web") == "WAITING"
    });
    d.sb.write("ok", "");
    d.wait_state("web", "RUNNING");
}
