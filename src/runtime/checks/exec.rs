//! An `exec` attempt: the command runs as the program's processes do (its environment, its
//! `workingdir` and umask, its own process group, stdin/stdout/stderr on /dev/null), and
//! passes when it exits 0. Nothing here waits: the daemon's reaper routes the check's status
//! back by pid, and at the timeout the supervisor kills the check's whole group. Its stdout
//! and stderr go to /dev/null (the reason says how it ended: `exit code 1`, `killed by
//! SIGKILL`, `timed out after 1s`).

use nix::sys::signal::Signal;

use crate::plan::model::{OutputTarget, ProgramSpec};
use crate::runtime::machine::Exit;

/// What an exec check of a process of `spec` is spawned as: the program's spec with the
/// check's argv, its output discarded (it is not the process's: it must not land in its log
/// or its file).
pub(crate) fn check_spec(argv: &[String], spec: &ProgramSpec) -> ProgramSpec {
    let mut check = spec.clone();
    check.cmd = argv.to_vec();
    check.stdout = OutputTarget::Discard;
    check.stderr = OutputTarget::Discard;
    check
}

/// The verdict of a check that ended.
pub(crate) fn outcome(exit: Exit) -> Result<(), String> {
    match exit {
        Exit::Code(0) => Ok(()),
        Exit::Code(code) => Err(format!("exit code {code}")),
        Exit::Signal(sig) => Err(format!(
            "killed by {}",
            Signal::try_from(sig).map_or_else(|_| format!("signal {sig}"), |s| s.to_string())
        )),
    }
}

#[cfg(test)]
mod tests {
    use nix::sys::signal::killpg;
    use nix::sys::wait::{WaitStatus, waitpid};
    use nix::unistd::Pid;

    use super::*;
    use crate::runtime::spawn::{Identity, SpawnContext, SpawnError, spawn};

    /// What the supervisor does through its `Os` seam, direct: starts `argv` for a process of
    /// `spec`; returns its pid (which is also its group).
    fn start(
        argv: &[String],
        spec: &ProgramSpec,
        ctx: &SpawnContext,
        who: &Identity<'_>,
    ) -> Result<i32, SpawnError> {
        spawn(&check_spec(argv, spec), ctx, who).map(|child| child.pid)
    }

    /// Kills the check's whole group, as the supervisor does at the timeout.
    fn kill(pid: i32) {
        // ESRCH: it ended meanwhile; its status is routed as usual.
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }

    fn ctx() -> SpawnContext {
        SpawnContext {
            path: Some("/bin:/usr/bin".into()),
            nofile: None,
            environ: vec![],
        }
    }

    const WHO: Identity<'static> = Identity {
        program: "web",
        process: "web",
        num: 0,
    };

    fn wait(pid: i32) -> Exit {
        match waitpid(Pid::from_raw(pid), None).unwrap() {
            WaitStatus::Exited(_, code) => Exit::Code(code),
            WaitStatus::Signaled(_, sig, _) => Exit::Signal(sig as i32),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn runs_with_the_programs_environment_and_directory() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = ProgramSpec::with_defaults("web", vec!["sleep".into()]);
        spec.workingdir = Some(dir.path().to_owned());
        spec.env.insert("PORT".into(), "8080".into());
        spec.stdout = OutputTarget::File(dir.path().join("must-not-exist"));
        let argv: Vec<String> = ["sh", "-c", "test \"$PORT\" = 8080 && test -e here"]
            .map(String::from)
            .to_vec();
        std::fs::write(dir.path().join("here"), "").unwrap();
        let pid = start(&argv, &spec, &ctx(), &WHO).unwrap();
        assert_eq!(outcome(wait(pid)), Ok(()));
        assert!(!dir.path().join("must-not-exist").exists());
    }

    #[test]
    fn a_failure_says_how_it_ended_and_a_timeout_kills_the_group() {
        let spec = ProgramSpec::with_defaults("web", vec!["sleep".into()]);
        let argv = ["sh", "-c", "exit 3"].map(String::from).to_vec();
        let pid = start(&argv, &spec, &ctx(), &WHO).unwrap();
        assert_eq!(outcome(wait(pid)), Err("exit code 3".into()));
        // A check that would outlive its timeout, with a child of its own in its group.
        let argv = ["sh", "-c", "sleep 30 & wait"].map(String::from).to_vec();
        let pid = start(&argv, &spec, &ctx(), &WHO).unwrap();
        kill(pid);
        assert_eq!(outcome(wait(pid)), Err("killed by SIGKILL".into()));
        // Its group is gone too (the grandchild may take a moment to be killed and reaped
        // by init; it is signalled with the group, so poll briefly).
        let gone = (0..200).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            killpg(Pid::from_raw(pid), None).is_err()
        });
        assert!(gone, "the check's group outlived the kill");
    }

    #[test]
    fn a_missing_program_is_a_spawn_error() {
        let spec = ProgramSpec::with_defaults("web", vec!["sleep".into()]);
        let argv = vec!["no-such-check-program".to_owned()];
        assert!(start(&argv, &spec, &ctx(), &WHO).is_err());
    }
}
