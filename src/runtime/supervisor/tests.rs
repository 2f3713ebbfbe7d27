//! Unit tests of the glue: a real [`Supervisor`] on a calloop loop that is never run, with
//! the [`FakeOs`] double as its operating system. A test drives it the way the loop would —
//! a request from a connection, a SIGCHLD ([`Supervisor::reap`]), a timer's callback — and
//! scripts what the children do (exit, leave members behind, fail to spawn) through the
//! double. Replies are read from the other end of a real socket pair; nothing waits on a
//! clock.

use std::collections::HashMap;
use std::io::Read as _;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use calloop::EventLoop;
use nix::sys::signal::Signal;

use super::*;
use crate::plan::diff;
use crate::plan::model::AutoRestart;
use crate::protocol::Request;
use crate::runtime::client::ConnState;
use crate::runtime::os::fake::{Call, FakeOs};
use crate::runtime::socket;

/// A supervisor with a fake OS, and the client connections a test opened on it.
struct Fixture {
    sup: Supervisor,
    os: FakeOs,
    /// The peer end of each client's connection, for reading its replies.
    peers: HashMap<ClientId, UnixStream>,
    _event_loop: EventLoop<'static, Supervisor>,
    _dir: tempfile::TempDir,
}

/// `sleep 3600` with the contract's defaults.
fn spec(name: &str) -> ProgramSpec {
    ProgramSpec::with_defaults(name, vec!["sleep".into(), "3600".into()])
}

impl Fixture {
    /// A supervisor that took on a plan of `programs` (the autostart ones are spawned).
    fn new(programs: impl IntoIterator<Item = ProgramSpec>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (_listener, socket_file) = socket::bind(&dir.path().join("t.sock")).unwrap();
        let event_loop: EventLoop<'static, Supervisor> = EventLoop::try_new().unwrap();
        let os = FakeOs::default();
        let mut sup = Supervisor::new(
            event_loop.handle(),
            event_loop.get_signal(),
            EventLog::open(None).unwrap(),
            PathBuf::from("/nonexistent/taskmaster.kdl"),
            socket_file,
            StateFile::new(dir.path().join("t.groups")),
            Box::new(os.clone()),
        );
        sup.start_plan(programs.into_iter().collect());
        Fixture {
            sup,
            os,
            peers: HashMap::new(),
            _event_loop: event_loop,
            _dir: dir,
        }
    }

    /// The process now named `name` (live or retiring).
    fn id(&self, name: &str) -> ProcId {
        let mut ids: Vec<ProcId> = self
            .sup
            .table
            .procs
            .iter()
            .filter(|(_, p)| p.name == name)
            .map(|(&id, _)| id)
            .collect();
        assert_eq!(ids.len(), 1, "processes named {name}: {ids:?}");
        ids.pop().unwrap()
    }

    fn proc(&self, name: &str) -> &Proc {
        &self.sup.table.procs[&self.id(name)]
    }

    fn state(&self, name: &str) -> ProcessState {
        self.proc(name).machine.state()
    }

    fn pid(&self, name: &str) -> i32 {
        self.proc(name).pid.expect("a pid")
    }

    /// `name`'s armed timer goes off (start, backoff or stoptime).
    fn fire_timer(&mut self, name: &str) {
        let id = self.id(name);
        let proc = &self.sup.table.procs[&id];
        assert!(proc.timer.is_some(), "{name} has no timer armed");
        let seq = proc.timer_seq;
        self.sup.timer_fired(id, seq);
    }

    /// `name` has been spawned and is RUNNING (its starttime has passed).
    fn running(&mut self, name: &str) {
        assert_eq!(self.state(name), ProcessState::Starting);
        self.fire_timer(name);
        assert_eq!(self.state(name), ProcessState::Running);
    }

    /// `pid` ends as `exit`, and SIGCHLD is handled.
    fn exit(&mut self, pid: i32, exit: Exit) {
        self.os.exit(pid, exit);
        self.sup.reap();
    }

    /// A new control connection.
    fn connect(&mut self) -> ClientId {
        let (ours, theirs) = UnixStream::pair().unwrap();
        theirs.set_nonblocking(true).unwrap();
        let cid = self.sup.conns.next_id;
        self.sup.add_client(ours);
        assert!(self.sup.conns.clients.contains_key(&cid));
        self.peers.insert(cid, theirs);
        cid
    }

    fn request(&mut self, cid: ClientId, request: Request) {
        self.sup.handle_request(cid, request);
    }

    /// Every reply `cid` has been sent since the last call.
    fn replies(&mut self, cid: ClientId) -> Vec<Response> {
        let mut text = Vec::new();
        let mut buf = [0u8; 64 * 1024];
        loop {
            match (&self.peers[&cid]).read(&mut buf) {
                Ok(0) => break,
                Ok(n) => text.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("read: {e}"),
            }
        }
        text.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect()
    }

    /// The one `Done` reply `cid` got: (name, state) of each process, and the failed ones.
    fn done(&mut self, cid: ClientId) -> (Vec<(String, ProcessState)>, Vec<String>) {
        match self.replies(cid).as_slice() {
            [Response::Done { processes, failed }] => (
                processes
                    .iter()
                    .map(|p| (p.name.clone(), p.state))
                    .collect(),
                failed.clone(),
            ),
            other => panic!("expected one Done reply, got {other:?}"),
        }
    }

    fn status(&self, name: &str) -> ProcessStatus {
        status_of(self.proc(name))
    }

    /// Applies a reload to `programs`, as `reload` does once the config compiled.
    fn reload(&mut self, programs: impl IntoIterator<Item = ProgramSpec>) {
        let new: Plan = programs.into_iter().collect();
        let diff = diff(&self.sup.plan, &new);
        self.sup.apply_diff(new, &diff);
    }

    /// The event log lines since the last call.
    fn log(&mut self) -> String {
        self.sup.log.take_unflushed()
    }
}

impl Drop for Fixture {
    /// The event log is read by the tests, not printed.
    fn drop(&mut self) {
        self.log();
    }
}

fn stop(names: &[&str]) -> Request {
    Request::Stop {
        names: names.iter().map(|&n| n.to_owned()).collect(),
    }
}

fn start(names: &[&str]) -> Request {
    Request::Start {
        names: names.iter().map(|&n| n.to_owned()).collect(),
        no_deps: false,
    }
}

fn spawned(process: &str, pid: i32) -> Call {
    Call::Spawn {
        process: process.into(),
        pid: Some(pid),
    }
}

fn to_group(pgid: i32, signal: Signal) -> Call {
    Call::SignalGroup { pgid, signal }
}

#[test]
fn autostart_spawns_and_starttime_makes_running() {
    let mut t = Fixture::new([spec("web")]);
    let pid = t.pid("web");
    assert_eq!(t.os.take_calls(), [spawned("web", pid)]);
    t.running("web");
    assert_eq!(t.status("web").pid, u32::try_from(pid).ok());
}

/// The bug: client A's `stop` was never answered when client B's `start`, queued while the
/// process was stopping, started it again straight from STOPPING.
#[test]
fn a_stop_is_answered_when_another_clients_start_restarts_the_process() {
    let mut t = Fixture::new([spec("web")]);
    t.running("web");
    let old = t.pid("web");
    t.os.take_calls();
    let (a, b) = (t.connect(), t.connect());

    t.request(a, stop(&["web"]));
    assert_eq!(t.state("web"), ProcessState::Stopping);
    assert_eq!(t.os.take_calls(), [to_group(old, Signal::SIGTERM)]);
    t.request(b, start(&["web"]));
    assert!(t.replies(a).is_empty() && t.replies(b).is_empty());

    t.exit(old, Exit::Signal(Signal::SIGTERM as i32));
    let new = t.pid("web");
    assert_ne!(new, old);
    assert_eq!(t.os.take_calls(), [spawned("web", new)]);
    // A's stop is done (its child is gone); the reply shows the state the process is in now.
    assert_eq!(
        t.done(a),
        (vec![("web".into(), ProcessState::Starting)], vec![])
    );
    // B's start waits for RUNNING.
    assert!(t.replies(b).is_empty());
    t.fire_timer("web");
    assert_eq!(
        t.done(b),
        (vec![("web".into(), ProcessState::Running)], vec![])
    );
}

/// The bug: when the main process exited and members of its group remained, they got the
/// stop signal but were never SIGKILLed after stoptime.
#[test]
fn group_members_left_by_the_leader_get_the_stopsignal_then_sigkill() {
    let mut web = spec("web");
    web.autorestart = AutoRestart::Never;
    let mut t = Fixture::new([web]);
    t.running("web");
    let leader = t.pid("web");
    let worker = t.os.add_member(leader);
    t.os.take_calls();

    // Exit code 1: not a fork into the background (that is an exit 0 while RUNNING).
    t.exit(leader, Exit::Code(1));
    assert_eq!(t.state("web"), ProcessState::Stopping);
    assert_eq!(t.os.take_calls(), [to_group(leader, Signal::SIGTERM)]);
    assert!(
        t.log()
            .contains("web: 1 process it started is still running; stopping them")
    );

    // The worker ignores SIGTERM: stoptime later, the group is killed.
    t.fire_timer("web");
    assert_eq!(t.os.take_calls(), [to_group(leader, Signal::SIGKILL)]);
    assert_eq!(t.state("web"), ProcessState::Stopping);

    // Only once the group is empty does the leader's exit count.
    t.exit(worker, Exit::Signal(Signal::SIGKILL as i32));
    let row = t.status("web");
    assert_eq!(row.state, ProcessState::Exited);
    assert_eq!(row.exit_code, Some(1));
    assert_eq!(row.reason.as_deref(), Some("stopped 1 leftover processes"));
    assert!(t.sup.table.draining.is_empty() && t.sup.table.adopted.is_empty());
    assert!(t.os.take_calls().is_empty());
}

/// When the members leave before stoptime, no SIGKILL is sent and the process is restarted
/// as its autorestart says, only then.
#[test]
fn a_group_emptied_before_stoptime_is_not_killed_and_restarts_then() {
    let mut t = Fixture::new([spec("web")]);
    t.running("web");
    let leader = t.pid("web");
    let worker = t.os.add_member(leader);
    t.os.take_calls();

    t.exit(leader, Exit::Code(1));
    assert_eq!(t.os.take_calls(), [to_group(leader, Signal::SIGTERM)]);
    t.exit(worker, Exit::Signal(Signal::SIGTERM as i32));
    // Unexpected exit code: restarted at once (the first crash of a run), no SIGKILL.
    let new = t.pid("web");
    assert_eq!(t.os.take_calls(), [spawned("web", new)]);
    assert_eq!(t.state("web"), ProcessState::Starting);
    assert!(t.proc("web").timer.is_some());
}

/// A spawn failure is a failed attempt: BACKOFF with the reason, retried `startretries`
/// times, then FATAL with the reason; a waiting `start` fails.
#[test]
fn spawn_failures_go_to_backoff_then_fatal_with_the_reason() {
    let mut web = spec("web");
    web.autostart = false;
    let mut t = Fixture::new([web]);
    t.os.fail_spawns("web", true);
    let c = t.connect();

    t.request(c, start(&["web"]));
    let row = t.status("web");
    assert_eq!(row.state, ProcessState::Backoff);
    assert_eq!(row.reason.as_deref(), Some("sleep: not found on PATH"));
    assert!(
        t.log()
            .contains("web: spawn failed: sleep: not found on PATH")
    );
    for _ in 0..3 {
        assert!(t.replies(c).is_empty());
        t.fire_timer("web");
    }
    let failed_spawn = Call::Spawn {
        process: "web".into(),
        pid: None,
    };
    assert_eq!(t.os.take_calls(), vec![failed_spawn; 4]);
    let row = t.status("web");
    assert_eq!(row.state, ProcessState::Fatal);
    assert_eq!(
        row.reason.as_deref(),
        Some("gave up after 4 attempts: sleep: not found on PATH")
    );
    assert_eq!(
        t.done(c),
        (
            vec![("web".into(), ProcessState::Fatal)],
            vec!["web".into()]
        )
    );

    // A later start that works clears the reason.
    t.os.fail_spawns("web", false);
    t.request(c, start(&["web"]));
    assert_eq!(t.state("web"), ProcessState::Starting);
    assert_eq!(t.status("web").reason, None);
}

/// A program removed by a reload stays listed (STOPPING) until its child is gone; added back
/// meanwhile, it is taken back, and started only once the old child is gone: two live
/// processes never share a name.
#[test]
fn a_program_readded_while_stopping_starts_once_the_old_child_is_gone() {
    let mut t = Fixture::new([spec("web"), spec("db")]);
    t.running("web");
    let old = t.pid("web");
    t.os.take_calls();

    t.reload([spec("db")]);
    assert_eq!(t.os.take_calls(), [to_group(old, Signal::SIGTERM)]);
    assert_eq!(t.state("web"), ProcessState::Stopping);
    assert!(t.proc("web").retiring);
    assert_eq!(t.sup.table.status_ids().len(), 2, "web is still listed");
    assert!(
        t.sup.table.resolve(&["web".into()]).is_err(),
        "but is not a target"
    );

    t.reload([spec("db"), spec("web")]);
    assert!(
        t.os.take_calls().is_empty(),
        "nothing spawned while the old child lives"
    );
    assert!(!t.proc("web").retiring);
    assert!(
        t.log()
            .contains("web: added back while stopping; starts again once its old process is gone")
    );

    t.exit(old, Exit::Signal(Signal::SIGTERM as i32));
    let new = t.pid("web");
    assert_eq!(t.os.take_calls(), [spawned("web", new)]);
    assert_eq!(t.state("web"), ProcessState::Starting);
}

/// A program removed for good is forgotten once its child is gone; a `stop` waiting on it
/// is answered with its last status.
#[test]
fn a_removed_program_is_forgotten_once_stopped() {
    let mut t = Fixture::new([spec("web")]);
    t.running("web");
    let old = t.pid("web");
    let c = t.connect();
    t.request(c, stop(&["web"]));
    t.reload([]);
    t.exit(old, Exit::Signal(Signal::SIGTERM as i32));
    assert!(t.sup.table.procs.is_empty() && t.sup.table.retired.is_empty());
    assert!(t.sup.table.status_ids().is_empty());
    assert_eq!(
        t.done(c),
        (vec![("web".into(), ProcessState::Stopped)], vec![])
    );
}

/// numprocs 3 → 1: the highest numbers are stopped first, and the survivor keeps its pid
/// under its new name.
#[test]
fn scaling_down_stops_the_highest_numbers_first_and_renames_the_survivor() {
    let mut web = spec("web");
    web.numprocs = 3;
    let mut t = Fixture::new([web.clone()]);
    let pids: Vec<i32> = (0..3).map(|i| t.pid(&format!("web:{i}"))).collect();
    for i in 0..3 {
        t.running(&format!("web:{i}"));
    }
    t.os.take_calls();

    web.numprocs = 1;
    t.reload([web]);
    assert_eq!(
        t.os.take_calls(),
        [
            to_group(pids[2], Signal::SIGTERM),
            to_group(pids[1], Signal::SIGTERM)
        ]
    );
    assert_eq!(t.pid("web"), pids[0]);
    assert_eq!(t.state("web"), ProcessState::Running);
    assert!(t.log().contains("web:0: renamed to web"));
    // The retiring ones are listed under their old names until gone.
    let listed: Vec<String> = t
        .sup
        .table
        .status_rows(&t.sup.table.status_ids())
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(listed, ["web", "web:1", "web:2"]);
    t.exit(pids[2], Exit::Signal(Signal::SIGTERM as i32));
    t.exit(pids[1], Exit::Signal(Signal::SIGTERM as i32));
    assert_eq!(t.sup.table.status_ids(), [t.id("web")]);
}

/// `stop` waits for stoptime and SIGKILLs the group of a process that ignores its
/// stopsignal; the reply comes once the group is gone.
#[test]
fn stop_kills_after_stoptime_and_answers_once_the_group_is_gone() {
    let mut web = spec("web");
    web.stoptime = Duration::from_secs(3);
    let mut t = Fixture::new([web]);
    t.running("web");
    let pid = t.pid("web");
    t.os.take_calls();
    let c = t.connect();
    t.request(c, stop(&["web"]));
    t.fire_timer("web");
    assert_eq!(
        t.os.take_calls(),
        [
            to_group(pid, Signal::SIGTERM),
            to_group(pid, Signal::SIGKILL)
        ]
    );
    assert!(t.replies(c).is_empty());
    t.exit(pid, Exit::Signal(Signal::SIGKILL as i32));
    assert_eq!(
        t.done(c),
        (vec![("web".into(), ProcessState::Stopped)], vec![])
    );
}

/// A command naming an unknown process changes nothing.
#[test]
fn an_unknown_name_changes_nothing() {
    let mut t = Fixture::new([spec("web")]);
    t.running("web");
    t.os.take_calls();
    let c = t.connect();
    t.request(c, stop(&["web", "nope"]));
    assert!(t.os.take_calls().is_empty());
    assert_eq!(t.state("web"), ProcessState::Running);
    match t.replies(c).as_slice() {
        [Response::Error(e)] => assert_eq!(e.kind, crate::protocol::ErrorKind::UnknownName),
        other => panic!("{other:?}"),
    }
}

/// Shutdown stops every process and is answered once no child is left.
#[test]
fn shutdown_answers_once_every_child_is_gone() {
    let mut t = Fixture::new([spec("web"), spec("db")]);
    let (web, db) = (t.pid("web"), t.pid("db"));
    t.os.take_calls();
    let c = t.connect();
    t.request(c, Request::Shutdown);
    let mut calls = t.os.take_calls();
    calls.sort_by_key(|c| format!("{c:?}"));
    let mut want = [
        to_group(db, Signal::SIGTERM),
        to_group(web, Signal::SIGTERM),
    ];
    want.sort_by_key(|c| format!("{c:?}"));
    assert_eq!(calls, want);
    t.exit(web, Exit::Code(0));
    assert!(t.replies(c).is_empty());
    t.exit(db, Exit::Code(0));
    assert_eq!(t.replies(c), [Response::ShutDown]);
}

/// Replies keep the order of requests: a line that arrives behind a pending `stop` waits
/// until the stop is answered.
#[test]
fn a_request_behind_a_pending_reply_waits_its_turn() {
    let mut t = Fixture::new([spec("web")]);
    t.running("web");
    let pid = t.pid("web");
    let c = t.connect();
    let lines = b"{\"version\":1,\"command\":\"stop\",\"names\":[\"web\"]}\n\
                  {\"version\":1,\"command\":\"status\"}\n";
    t.sup.conns.clients.get_mut(&c).unwrap().inbuf.extend(lines);
    t.sup.process_lines(c);
    assert_eq!(t.sup.conns.clients[&c].state, ConnState::Waiting);
    assert!(t.replies(c).is_empty());

    t.exit(pid, Exit::Signal(Signal::SIGTERM as i32));
    assert_eq!(
        t.done(c),
        (vec![("web".into(), ProcessState::Stopped)], vec![])
    );
    // What the idle callback queued by `client_resume` does.
    t.sup.process_lines(c);
    match t.replies(c).as_slice() {
        [Response::Status { processes }] => assert_eq!(processes[0].state, ProcessState::Stopped),
        other => panic!("{other:?}"),
    }
    assert_eq!(t.sup.conns.clients[&c].state, ConnState::Idle);
}

/// The same with `restart` as the overtaking request.
#[test]
fn a_stop_is_answered_when_another_clients_restart_overtakes_it() {
    let mut t = Fixture::new([spec("web")]);
    t.running("web");
    let old = t.pid("web");
    let (a, b) = (t.connect(), t.connect());
    t.request(a, stop(&["web"]));
    t.request(
        b,
        Request::Restart {
            names: vec!["web".into()],
        },
    );
    t.exit(old, Exit::Signal(Signal::SIGTERM as i32));
    assert_eq!(
        t.done(a),
        (vec![("web".into(), ProcessState::Starting)], vec![])
    );
    t.fire_timer("web");
    assert_eq!(
        t.done(b),
        (vec![("web".into(), ProcessState::Running)], vec![])
    );
}

/// A crash restart: the first of a run is immediate, the second waits `restart-backoff`'s
/// MIN in BACKOFF, with the reason `status` shows.
#[test]
fn a_second_crash_in_a_row_backs_off_with_its_reason() {
    let mut t = Fixture::new([spec("web")]);
    t.running("web");
    t.exit(t.pid("web"), Exit::Code(1));
    assert_eq!(t.state("web"), ProcessState::Starting);
    t.fire_timer("web");
    t.os.take_calls();
    t.exit(t.pid("web"), Exit::Code(1));
    let row = t.status("web");
    assert_eq!(row.state, ProcessState::Backoff);
    assert_eq!(
        row.reason.as_deref(),
        Some("restarting in 100ms after exit code 1 (crash 2 in a row)")
    );
    assert!(t.os.take_calls().is_empty());
    t.fire_timer("web");
    let pid = t.pid("web");
    assert_eq!(t.os.take_calls(), [spawned("web", pid)]);
    assert_eq!(t.status("web").restarts, 2);
}

/// A program that exits 0 while starting and leaves a process behind forked into the
/// background: what it left is stopped, also a child that left the group with `setsid`
/// (found by its `TASKMASTER_PROCESS`), and the reason says so.
#[test]
fn a_fork_into_the_background_is_stopped_and_explained() {
    let mut t = Fixture::new([spec("web")]);
    let leader = t.pid("web");
    let escaped = t.os.add_escaped("web");
    t.os.take_calls();
    t.exit(leader, Exit::Code(0));
    assert_eq!(t.state("web"), ProcessState::Stopping);
    // Its group is empty, so killpg finds no one; the escaped child gets the signal itself.
    assert_eq!(
        t.os.take_calls(),
        [
            to_group(leader, Signal::SIGTERM),
            Call::SignalProcess {
                pid: escaped,
                signal: Signal::SIGTERM
            }
        ]
    );
    t.exit(escaped, Exit::Signal(Signal::SIGTERM as i32));
    let row = t.status("web");
    assert_eq!(row.state, ProcessState::Backoff);
    let reason = row.reason.unwrap();
    assert!(
        reason.starts_with("exited with code 0 before starttime; stopped 1 leftover processes"),
        "{reason}"
    );
    assert!(
        reason.contains("did it fork into the background? Run it in the foreground"),
        "{reason}"
    );
}

/// A leftover that forks before it dies (a double fork) leaves a new orphan: it is found
/// when the leftover is reaped and gets the stop signal at once, not SIGKILL after stoptime.
#[test]
fn a_leftover_found_late_gets_the_stop_signal_at_once() {
    let mut t = Fixture::new([spec("web")]);
    t.running("web");
    let leader = t.pid("web");
    let middle = t.os.add_member(leader);
    t.exit(leader, Exit::Code(1));
    t.os.take_calls();
    // The middle process forks a grandchild that calls setsid, then exits.
    let grandchild = t.os.add_escaped("web");
    t.exit(middle, Exit::Code(0));
    assert_eq!(
        t.os.take_calls(),
        [Call::SignalProcess {
            pid: grandchild,
            signal: Signal::SIGTERM
        }]
    );
    assert_eq!(t.state("web"), ProcessState::Stopping);
    // After stoptime, the group and the escaped grandchild are killed.
    t.fire_timer("web");
    assert_eq!(
        t.os.take_calls(),
        [
            to_group(leader, Signal::SIGKILL),
            Call::SignalProcess {
                pid: grandchild,
                signal: Signal::SIGKILL
            }
        ]
    );
    t.exit(grandchild, Exit::Signal(Signal::SIGKILL as i32));
    assert_eq!(t.state("web"), ProcessState::Starting, "restarted only now");
}

/// A reload that changes how a program is spawned stops it with its *old* stop signal and
/// starts it again under the new spec once the old child is gone.
#[test]
fn a_spawn_change_restarts_with_the_old_stopsignal_then_the_new_spec() {
    let mut t = Fixture::new([spec("web")]);
    t.running("web");
    let old = t.pid("web");
    t.os.take_calls();
    let mut web = spec("web");
    web.cmd = vec!["sleep".into(), "7200".into()];
    web.stopsignal = crate::plan::model::StopSignal(Signal::SIGINT);
    t.reload([web]);
    assert_eq!(t.os.take_calls(), [to_group(old, Signal::SIGTERM)]);
    t.exit(old, Exit::Signal(Signal::SIGTERM as i32));
    let new = t.pid("web");
    assert_eq!(t.os.take_calls(), [spawned("web", new)]);
    assert_eq!(t.proc("web").spec.cmd[1], "7200");
    t.running("web");
    let c = t.connect();
    t.request(c, stop(&["web"]));
    assert_eq!(t.os.take_calls(), [to_group(new, Signal::SIGINT)]);
}

/// numprocs 1 → 2: the process keeps its pid under its new name, and only the new index
/// is started.
#[test]
fn scaling_up_from_one_renames_and_starts_only_the_new_index() {
    let mut t = Fixture::new([spec("web")]);
    t.running("web");
    let pid = t.pid("web");
    t.os.take_calls();
    let mut web = spec("web");
    web.numprocs = 2;
    t.reload([web]);
    assert_eq!(t.pid("web:0"), pid);
    let new = t.pid("web:1");
    assert_eq!(t.os.take_calls(), [spawned("web:1", new)]);
    assert!(t.log().contains("web: renamed to web:0"));
}

/// `signal`: each named process's group gets the signal; one without a pid is listed as
/// not running.
#[test]
fn signal_goes_to_each_group_and_lists_the_stopped_ones() {
    let mut db = spec("db");
    db.autostart = false;
    let mut t = Fixture::new([spec("web"), db]);
    let web = t.pid("web");
    t.os.take_calls();
    let c = t.connect();
    t.request(
        c,
        Request::Signal {
            signal: "HUP".into(),
            names: vec!["all".into()],
        },
    );
    assert_eq!(t.os.take_calls(), [to_group(web, Signal::SIGHUP)]);
    match t.replies(c).as_slice() {
        [
            Response::Signalled {
                signalled,
                not_running,
            },
        ] => {
            assert_eq!(signalled.len(), 1);
            assert_eq!(signalled[0].name, "web");
            assert_eq!(signalled[0].pid, u32::try_from(web).ok());
            assert_eq!(not_running, &["db".to_owned()]);
        }
        other => panic!("{other:?}"),
    }
}

/// A `start` waiting on a process that a reload removes fails for it, with its last status.
#[test]
fn a_start_waiting_on_a_removed_process_fails_with_its_last_status() {
    let mut t = Fixture::new([spec("web")]);
    let pid = t.pid("web");
    let c = t.connect();
    t.request(c, start(&["web"]));
    assert!(t.replies(c).is_empty(), "waiting for RUNNING");
    t.reload([]);
    t.exit(pid, Exit::Signal(Signal::SIGTERM as i32));
    assert_eq!(
        t.done(c),
        (
            vec![("web".into(), ProcessState::Stopped)],
            vec!["web".into()]
        )
    );
}

/// A client that hangs up while its `stop` is pending loses only its reply: the stop goes
/// on, and other clients are unaffected.
#[test]
fn a_client_gone_while_waiting_does_not_stop_the_work() {
    let mut t = Fixture::new([spec("web")]);
    t.running("web");
    let pid = t.pid("web");
    let (a, b) = (t.connect(), t.connect());
    t.request(a, stop(&["web"]));
    t.sup.drop_client(a, "");
    assert!(t.sup.conns.pending.is_empty());
    t.request(b, stop(&["web"]));
    t.exit(pid, Exit::Signal(Signal::SIGTERM as i32));
    assert_eq!(t.state("web"), ProcessState::Stopped);
    assert_eq!(
        t.done(b),
        (vec![("web".into(), ProcessState::Stopped)], vec![])
    );
}

// ---------------------------------------------------------------------------------------
// Readiness and liveness checks (`checks.rs`): exec checks through the seam and the reaper.

/// `web` with `liveness { exec "check-web"; timeout "1s"; threshold 1 }`, starttime 0.
fn exec_checked(name: &str) -> ProgramSpec {
    use crate::plan::check::{Check, CheckRole, Probe};
    let mut s = spec(name);
    s.starttime = Duration::ZERO;
    s.liveness = Some(Check {
        threshold: 1,
        ..Check::with_defaults(CheckRole::Liveness, Probe::Exec(vec!["check-web".into()]))
    });
    s
}

/// The pids of the spawns of `process` the double saw since the last look.
fn spawns_of(t: &Fixture, process: &str) -> Vec<i32> {
    t.os.take_calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Spawn { process: p, pid } if p == process => pid,
            _ => None,
        })
        .collect()
}

#[test]
fn an_exec_check_is_routed_back_by_the_reaper_and_killed_at_its_timeout() {
    let mut t = Fixture::new([exec_checked("web")]);
    let id = t.id("web");
    assert_eq!(t.state("web"), ProcessState::Running);
    let main = t.pid("web");
    // The process, then its first check, both spawned as `web`.
    let pids = spawns_of(&t, "web");
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert_eq!(pids[0], main);
    let check = pids[1];
    assert!(t.sup.table.is_check_pid(check));
    t.exit(check, Exit::Code(0));
    assert!(!t.sup.table.is_check_pid(check), "reaped");
    assert_eq!(t.proc("web").machine.healthy(), Some(true));
    assert!(t.sup.check_timer_armed(id), "the next check is scheduled");
    // The next check never ends: at its timeout its group is killed and the process is
    // stopped (threshold 1).
    t.sup.fire_check_timer(id);
    let check = spawns_of(&t, "web")[0];
    t.sup.fire_check_timer(id);
    let calls = t.os.take_calls();
    assert!(
        calls.contains(&Call::SignalGroup {
            pgid: check,
            signal: Signal::SIGKILL
        }),
        "{calls:?}"
    );
    assert!(
        calls.contains(&Call::SignalGroup {
            pgid: main,
            signal: Signal::SIGTERM
        }),
        "{calls:?}"
    );
    assert_eq!(t.state("web"), ProcessState::Stopping);
    assert_eq!(
        t.proc("web").check_status().as_deref(),
        Some("liveness: timed out after 1s")
    );
    // The killed check's status is reaped and ignored; the process's exit is a crash,
    // restarted at once.
    t.exit(check, Exit::Signal(9));
    t.exit(main, Exit::Signal(15));
    assert_eq!(t.state("web"), ProcessState::Running);
    assert_ne!(t.pid("web"), main);
    assert_eq!(t.proc("web").machine.restarts(), 1);
}

#[test]
fn a_forgotten_process_takes_its_check_with_it() {
    let mut t = Fixture::new([exec_checked("web")]);
    let check = spawns_of(&t, "web")[1];
    let id = t.id("web");
    t.sup.drop_checks(id);
    assert!(t.os.take_calls().contains(&Call::SignalGroup {
        pgid: check,
        signal: Signal::SIGKILL
    }));
    assert!(!t.sup.check_timer_armed(id));
}
