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

/// The man page's own sections after the generated ones, as roff.
const MAN_SECTIONS: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Success.
.TP
\fB1\fR
An invalid config, an unknown program or process name, a failed action; for \fBdiff\fR,
changes are pending.
.TP
\fB2\fR
A usage error or an unreadable file.
.TP
\fB3\fR
The daemon cannot be reached.
.SH ENVIRONMENT
.TP
\fBTASKMASTER_SOCKET\fR
The control socket, like \fB\-\-socket\fR. Without either, client commands use the
\fBsocket\fR setting of \fI./taskmaster.kdl\fR, else \fI$XDG_RUNTIME_DIR/taskmaster.sock\fR,
else \fI/tmp/taskmaster\-$UID.sock\fR.
.TP
\fBNO_COLOR\fR
When set and not empty, no colours.
.TP
\fBXDG_STATE_HOME\fR
The shell keeps its history in \fI$XDG_STATE_HOME/taskmaster/history\fR
(default \fI~/.local/state/taskmaster/history\fR).
"#;

pub(super) fn man() -> u8 {
    let man = clap_mangen::Man::new(Cli::command());
    let mut out = Vec::new();
    let rendered = (|| -> std::io::Result<()> {
        man.render_title(&mut out)?;
        man.render_name_section(&mut out)?;
        man.render_synopsis_section(&mut out)?;
        man.render_description_section(&mut out)?;
        man.render_options_section(&mut out)?;
        man.render_subcommands_section(&mut out)?;
        out.extend_from_slice(MAN_SECTIONS.as_bytes());
        man.render_version_section(&mut out)
    })();
    if let Err(e) = rendered {
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
