//! `taskmaster man`: the man pages, rendered by clap_mangen from the same definitions as
//! `--help`. One page per subcommand (`taskmaster-status(1)` …), as the main page's
//! COMMANDS section names them; the main page adds EXIT STATUS, ENVIRONMENT, FILES,
//! SIGNALS, EXAMPLES and a SEE ALSO that lists exactly the pages generated beside it.

use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;

/// The CLI as the pages show it: no `help` subcommand (every page documents `--help`).
fn command() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// The subcommands that get a page of their own: every visible one, and theirs in turn
/// (`taskmaster-export-systemd(1)`), as the pages' COMMANDS sections name them. Each is
/// given its page name as display name, which its title and COMMANDS section use.
fn documented(cmd: &clap::Command) -> Vec<clap::Command> {
    let prefix = cmd
        .get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_owned();
    let mut out = Vec::new();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let sub = sub
            .clone()
            .disable_help_subcommand(true)
            .display_name(format!("{prefix}-{}", sub.get_name()));
        out.push(sub.clone());
        out.extend(documented(&sub));
    }
    out
}

/// A page's name without the `taskmaster-` prefix: `status`, `export-systemd`.
fn page_name(sub: &clap::Command) -> String {
    let full = sub.get_display_name().unwrap_or_else(|| sub.get_name());
    full.strip_prefix("taskmaster-").unwrap_or(full).to_owned()
}

/// The main page's own sections after EXIT STATUS and ENVIRONMENT (which
/// [`crate::cli::reference`] renders), as roff.
const MAN_SECTIONS: &str = r".SH FILES
.TP
\fI./taskmaster.kdl\fR
The config \fBrun\fR reads when given none; client commands look in it for the \fBsocket\fR
setting.
.TP
\fI$XDG_RUNTIME_DIR/taskmaster.sock\fR, \fI/tmp/taskmaster\-$UID/taskmaster.sock\fR
The default control socket (mode 0600).
.TP
The \fBlogfile\fR setting
The daemon's event log, also written to the standard error of \fBrun\fR.
.TP
\fI~/.local/state/taskmaster/history\fR
The shell's history.
.SH SIGNALS
Signals to \fBtaskmaster run\fR:
.TP
\fBSIGHUP\fR
Reload: re\-read the config file and apply the plan diff, like \fBtaskmaster reload\fR.
.TP
\fBSIGTERM\fR, \fBSIGINT\fR, \fBSIGQUIT\fR
Stop every program gracefully (\fBstopsignal\fR, then \fBSIGKILL\fR after \fBstoptime\fR),
remove the socket, exit 0. A second one kills every process group at once.
.TP
\fBSIGUSR2\fR
Reopen every log file the daemon writes.
.PP
Each supervised process runs in its own process group; \fBstop\fR and \fBtaskmaster signal\fR
signal the whole group.
.SH EXAMPLES
.TP
\fBtaskmaster check taskmaster.kdl\fR
Validate a config; every problem is reported with its line.
.TP
\fBtaskmaster run taskmaster.kdl\fR
Supervise in the foreground.
.TP
\fBtaskmaster status\fR; \fBtaskmaster status \-\-json\fR
One row per process; the same as JSON for scripts.
.TP
\fBtaskmaster diff && taskmaster reload\fR
Show what a reload would change, then apply it.
.TP
\fBtaskmaster restart web:*\fR
Restart every process of the program web.
.TP
\fBtaskmaster signal HUP web\fR
Send SIGHUP to web's process groups.
.TP
\fBtaskmaster logs web \-f\fR
Follow web's output.
.TP
\fBtaskmaster import supervisord.conf > taskmaster.kdl\fR
Convert a supervisord config.
";

/// The SEE ALSO section: the page of every subcommand, all of which `--dir` writes.
fn see_also(cmd: &clap::Command) -> String {
    let pages: Vec<String> = documented(cmd)
        .iter()
        .map(|s| {
            format!(
                "\\fBtaskmaster\\-{}\\fR(1)",
                page_name(s).replace('-', "\\-")
            )
        })
        .collect();
    format!(".SH \"SEE ALSO\"\n{}\n", pages.join(",\n"))
}

/// The main page, `taskmaster(1)`.
pub(super) fn main_page() -> std::io::Result<Vec<u8>> {
    let cmd = command();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    man.render_subcommands_section(&mut out)?;
    out.extend_from_slice(crate::cli::reference::man_sections().as_bytes());
    out.extend_from_slice(MAN_SECTIONS.as_bytes());
    out.extend_from_slice(see_also(&cmd).as_bytes());
    man.render_version_section(&mut out)?;
    Ok(out)
}

/// The page of one subcommand, `taskmaster-NAME(1)`; `None` for a name that has none.
pub(super) fn sub_page(name: &str) -> Option<std::io::Result<Vec<u8>>> {
    // `export systemd` and `export-systemd` both name taskmaster-export-systemd(1).
    let wanted = name.split_whitespace().collect::<Vec<_>>().join("-");
    let sub = documented(&command())
        .into_iter()
        .find(|s| page_name(s) == wanted)?;
    let mut out = Vec::new();
    Some(clap_mangen::Man::new(sub).render(&mut out).map(|()| out))
}

/// Writes `taskmaster.1` and one `taskmaster-NAME.1` per subcommand into `dir`; returns the
/// paths written.
pub(super) fn write_all(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let main = dir.join("taskmaster.1");
    std::fs::write(&main, main_page()?)?;
    written.push(main);
    for sub in documented(&command()) {
        let path = dir.join(format!("taskmaster-{}.1", page_name(&sub)));
        let mut out = Vec::new();
        clap_mangen::Man::new(sub).render(&mut out)?;
        std::fs::write(&path, out)?;
        written.push(path);
    }
    Ok(written)
}

/// The names of the subcommand pages, for `man`'s usage error.
pub(super) fn page_names() -> Vec<String> {
    documented(&command()).iter().map(page_name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn see_also_names_exactly_the_pages_written() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_all(dir.path()).unwrap();
        let main = String::from_utf8(std::fs::read(&written[0]).unwrap()).unwrap();
        let see_also = &main[main.find(".SH \"SEE ALSO\"").unwrap()..];
        let mut named = Vec::new();
        for part in see_also.split("\\fBtaskmaster\\-").skip(1) {
            let name = part.split("\\fR").next().unwrap().replace("\\-", "-");
            named.push(name.clone());
            let file = dir.path().join(format!("taskmaster-{name}.1"));
            assert!(
                file.exists(),
                "SEE ALSO names {name} but {file:?} was not written"
            );
        }
        assert_eq!(named.len(), written.len() - 1, "{named:?}");
        // The COMMANDS section's `taskmaster-x(1)` references all exist too.
        for part in main.split("taskmaster\\-").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name.is_empty() {
                continue;
            }
            let file = dir.path().join(format!("taskmaster-{name}.1"));
            assert!(
                file.exists(),
                "main page names taskmaster-{name}, not written"
            );
        }
        for section in ["FILES", "EXAMPLES", "SIGNALS", "EXIT STATUS", "ENVIRONMENT"] {
            assert!(
                main.contains(&format!(".SH {section}"))
                    || main.contains(&format!(".SH \"{section}\"")),
                "{section}"
            );
        }
        assert!(
            !main.contains("complete\\-names"),
            "hidden commands get no page"
        );
    }

    #[test]
    fn a_sub_page_documents_its_options() {
        let page = String::from_utf8(sub_page("status").unwrap().unwrap()).unwrap();
        assert!(page.contains(".TH taskmaster-status"), "{page}");
        assert!(page.contains("\\-\\-json"), "{page}");
        assert!(sub_page("__complete-names").is_none());
        assert!(sub_page("nope").is_none());
        let nested = String::from_utf8(sub_page("export systemd").unwrap().unwrap()).unwrap();
        assert!(nested.contains(".TH taskmaster-export-systemd"), "{nested}");
    }
}
