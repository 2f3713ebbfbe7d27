//! `completions`, `man` and `import`: the commands that help people adopt taskmaster.
//! Completions and the man page are generated from the same clap definitions as `--help`.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use super::{Cli, exit};

mod import;

pub(super) fn completions(shell: clap_complete::Shell) -> u8 {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "taskmaster", &mut out);
    write_out(&out)
}

/// What the man page says beyond the options: exit statuses and the environment.
const MAN_EXTRA: &str = "\
EXIT STATUS: 0 success; 1 an invalid config, an unknown name, a failed action, or (for diff) \
changes pending; 2 usage errors and unreadable files; 3 the daemon cannot be reached.

ENVIRONMENT: TASKMASTER_SOCKET names the control socket (like --socket). Without either, \
clients use the socket setting of ./taskmaster.kdl, else $XDG_RUNTIME_DIR/taskmaster.sock, \
else /tmp/taskmaster-$UID.sock. NO_COLOR turns colours off. The shell keeps its history in \
$XDG_STATE_HOME/taskmaster/history (default ~/.local/state/taskmaster/history).";

pub(super) fn man() -> u8 {
    let command = Cli::command().after_long_help(MAN_EXTRA);
    let mut out = Vec::new();
    if let Err(e) = clap_mangen::Man::new(command).render(&mut out) {
        eprintln!("error: cannot render the man page: {e}");
        return exit::FAILED;
    }
    write_out(&out)
}

pub(super) fn import(file: &Path) -> u8 {
    import::run(file)
}

fn write_out(bytes: &[u8]) -> u8 {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => exit::OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(e) => {
            eprintln!("error: cannot write to stdout: {e}");
            exit::FAILED
        }
    }
}
