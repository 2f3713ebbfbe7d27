//! The `signal`, `pid` and `timings` requests: sending a signal to named processes' groups,
//! reporting pids, and the stop/start timings a waiting client shows in its progress line.
//! They only read the supervisor's state (a signal's consequences, such as a process dying,
//! come back through the usual reaping path).

use super::Supervisor;
use crate::plan::validate::values::signal_name;
use crate::protocol::{ErrorKind, ErrorReply, ProcessPid, ProgramTimings, Response};
use crate::runtime::client::ClientId;

impl Supervisor {
    /// `signal SIG NAME…`: every name is resolved first (one unknown name sends nothing),
    /// then each named process that has a pid gets `SIG` on its process group. Those without
    /// one are listed in `not_running`.
    pub(super) fn signal_request(&mut self, cid: ClientId, signal: &str, names: &[String]) {
        let sig = match signal_name(signal) {
            Ok(sig) => sig,
            Err(e) => {
                return self.send_error(cid, ErrorReply::new(ErrorKind::BadRequest, e));
            }
        };
        if names.is_empty() {
            return self.send_error(
                cid,
                ErrorReply::new(ErrorKind::BadRequest, "signal: no names given"),
            );
        }
        let ids = match self.table.resolve(names) {
            Ok(ids) => ids,
            Err(e) => return self.send_error(cid, e),
        };
        self.log.log(format_args!(
            "request: signal {} {}",
            sig.as_str(),
            names.join(" ")
        ));
        let mut signalled = Vec::new();
        let mut not_running = Vec::new();
        for id in ids {
            let Some(proc) = self.table.procs.get(&id) else {
                continue;
            };
            let Some(pid) = proc.pid else {
                not_running.push(proc.name.clone());
                continue;
            };
            let name = proc.name.clone();
            // Each child leads its own group (pgid = pid), as `stop` relies on too.
            match self.os.signal_group(pid, sig) {
                Ok(()) => signalled.push(ProcessPid {
                    name,
                    pid: u32::try_from(pid).ok(),
                }),
                // The group emptied meanwhile: reaping will tell; for now it is not running.
                Err(e) => {
                    self.log.log(format_args!(
                        "{name}: cannot send {} to group {pid}: {e}",
                        sig.as_str()
                    ));
                    not_running.push(name);
                }
            }
        }
        self.send(
            cid,
            &Response::Signalled {
                signalled,
                not_running,
            },
        );
    }

    /// `pid [NAME…]`: the daemon's pid and, for each named process, its pid (null when it
    /// has none).
    pub(super) fn pid_request(&mut self, cid: ClientId, names: &[String]) {
        let ids = if names.is_empty() {
            Vec::new()
        } else {
            match self.table.resolve(names) {
                Ok(ids) => ids,
                Err(e) => return self.send_error(cid, e),
            }
        };
        let processes = ids
            .iter()
            .filter_map(|id| self.table.procs.get(id))
            .map(|p| ProcessPid {
                name: p.name.clone(),
                pid: p.pid.and_then(|pid| u32::try_from(pid).ok()),
            })
            .collect();
        self.send(
            cid,
            &Response::Pids {
                daemon: std::process::id(),
                processes,
            },
        );
    }

    /// `timings NAME…`: the stop signal, stoptime and starttime of each program the names
    /// reach, once each, in program order.
    pub(super) fn timings_request(&mut self, cid: ClientId, names: &[String]) {
        let ids = match self.table.resolve(names) {
            Ok(ids) => ids,
            Err(e) => return self.send_error(cid, e),
        };
        let mut programs: Vec<ProgramTimings> = Vec::new();
        for id in ids {
            let Some(proc) = self.table.procs.get(&id) else {
                continue;
            };
            if programs.last().is_some_and(|p| p.program == proc.program) {
                continue;
            }
            programs.push(ProgramTimings {
                program: proc.program.clone(),
                stopsignal: proc.spec.stopsignal.0.as_str().to_owned(),
                stoptime_secs: proc.spec.stoptime.as_secs_f64(),
                starttime_secs: proc.spec.starttime.as_secs_f64(),
            });
        }
        self.send(cid, &Response::Timings { programs });
    }
}
