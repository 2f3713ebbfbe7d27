//! The command line: argument definitions and dispatch to one module per command.
//!
//! Exit statuses are the contract's ([`exit`]); what each means, and the environment
//! variables taskmaster reads, are written once in [`reference`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod check;
mod client;
mod diff;
mod export;
mod extras;
mod habits;
mod output;
mod probe;
mod progress;
pub mod reference;
mod run;
mod shell;
pub mod socket_path;

/// Exit statuses shared by every command; [`reference::EXIT_STATUSES`] says what each means.
pub mod exit {
    pub const OK: u8 = 0;
    /// Invalid config, unknown name, failed action, or (for `diff`) changes pending.
    pub const FAILED: u8 = 1;
    /// Usage error or unreadable file.
    pub const USAGE: u8 = 2;
    /// The daemon cannot be reached.
    pub const UNREACHABLE: u8 = 3;
}

/// A process supervisor driven by a declarative KDL config.
#[derive(Debug, Parser)]
#[command(
    name = "taskmaster",
    version,
    about,
    propagate_version = true,
    after_long_help = reference::help_epilogue()
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and validate a config; print every problem at once.
    Check {
        /// The config file [default: ./taskmaster.kdl].
        config: Option<PathBuf>,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Supervise the config's programs in the foreground.
    Run {
        /// The config file [default: ./taskmaster.kdl].
        config: Option<PathBuf>,
        /// Listen here instead of the config's `socket` setting.
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
    },
    /// Show the plan diff: between two files (offline), or what `reload` would do to the
    /// running daemon (online, one file or none).
    Diff {
        /// OLD NEW for an offline diff; one CONFIG (or none) for an online one.
        #[arg(num_args = 0..=2)]
        configs: Vec<PathBuf>,
        #[command(flatten)]
        format: FormatArg,
        /// Print `env` values; by default a changed key is named but its value is hidden.
        #[arg(long)]
        show_values: bool,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// One row per process: name, state, pid, uptime or exit info.
    Status {
        /// Programs, processes (`web:1`, `web:*`) or `all` to show [default: all].
        names: Vec<String>,
        /// `--json` (or `--format json`): a JSON array instead of a table.
        #[command(flatten)]
        format: FormatArg,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Start programs or processes (`web`, `web:1`, `all`) and wait until they run.
    Start(StartArgs),
    /// Stop programs or processes (`web`, `web:1`, `all`) and wait until they stopped.
    Stop(NamesArgs),
    /// Stop then start programs or processes.
    Restart(NamesArgs),
    /// Wait until processes run: exit 0 once every named process (default: every process
    /// of an autostart program) is RUNNING, 1 as soon as one is FATAL or at `--timeout`.
    Wait {
        /// Programs, processes (`web:1`, `web:*`) or `all` [default: every autostart one].
        names: Vec<String>,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Re-read the daemon's config file and apply the diff.
    Reload {
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Stop every program gracefully; the daemon then exits.
    Shutdown {
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Print a process's captured output.
    Logs {
        /// A program or a process.
        name: String,
        /// Keep printing new output, across restarts, until interrupted.
        #[arg(short, long)]
        follow: bool,
        /// Show stderr instead of stdout.
        #[arg(long, conflicts_with = "both")]
        stderr: bool,
        /// Show stdout and stderr together, line by line in the order they arrived.
        #[arg(long)]
        both: bool,
        /// Only the last LINES lines.
        #[arg(short = 'n', long = "lines", value_name = "LINES")]
        lines: Option<usize>,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Send a signal (`HUP`, `SIGUSR1`, `10`) to the process group of each named process.
    Signal {
        /// The signal: a name, with or without `SIG`, or a number.
        signal: String,
        /// Programs, processes (`web:1`, `web:*`) or `all`.
        #[arg(required = true)]
        names: Vec<String>,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Print the daemon's pid, or the pid of each named process, one a line.
    Pid {
        /// Programs, processes (`web:1`, `web:*`) or `all` [default: the daemon itself].
        names: Vec<String>,
        #[command(flatten)]
        format: FormatArg,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// An interactive control shell taking the client commands as lines.
    Shell {
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or one command's page; `--dir` writes every page.
    Man {
        /// A command whose page to print (`status` prints taskmaster-status(1); `export
        /// systemd` prints taskmaster-export-systemd(1)).
        command: Vec<String>,
        /// Write taskmaster.1 and every taskmaster-COMMAND.1 into DIR instead.
        #[arg(long, value_name = "DIR", conflicts_with = "command")]
        dir: Option<PathBuf>,
    },
    /// Convert a supervisord config into a taskmaster config (printed on stdout).
    Import {
        /// The supervisord.conf file.
        file: PathBuf,
    },
    /// Write the config for an engine that runs it beyond one taskmaster: systemd units or
    /// Kubernetes manifests.
    Export {
        #[command(subcommand)]
        target: export::Target,
    },
    /// Run one readiness check (tcp, http, exec) until it passes or its deadline comes: what
    /// `export systemd` writes as a unit's `ExecStartPost=`.
    Probe(probe::ProbeArgs),
    /// For completion scripts: the daemon's program and process names, one a line (nothing
    /// when it does not answer within a second).
    #[command(name = "__complete-names", hide = true)]
    CompleteNames {
        #[command(flatten)]
        socket: SocketArg,
    },
}

#[derive(Debug, Args)]
pub struct NamesArgs {
    /// Programs, processes (`web:1`, `web:*`) or `all`.
    #[arg(required = true)]
    pub names: Vec<String>,
    #[command(flatten)]
    pub socket: SocketArg,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Programs, processes (`web:1`, `web:*`) or `all`.
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Spawn without waiting for `depends-on`, this once.
    #[arg(long)]
    pub no_deps: bool,
    #[command(flatten)]
    pub socket: SocketArg,
}

/// How a client command finds and waits for the daemon.
#[derive(Debug, Clone, Default, Args)]
pub struct SocketArg {
    /// The daemon's control socket.
    #[arg(long, env = "TASKMASTER_SOCKET", value_name = "PATH", global = true)]
    pub socket: Option<PathBuf>,
    /// Find the socket from this config's `socket` setting [default: ./taskmaster.kdl].
    #[arg(long, value_name = "CONFIG")]
    pub config: Option<PathBuf>,
    /// Give up when the daemon sends nothing for this long (`10s`, `500ms`; default 10s);
    /// waiting commands check that it still answers this often.
    #[arg(long, value_name = "D", value_parser = parse_timeout)]
    pub timeout: Option<std::time::Duration>,
}

/// `--timeout`: a duration as in the config (`10s`, `500ms`, `1.5`), more than zero.
fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    match crate::plan::validate::values::duration_text(text) {
        Ok(d) if d.is_zero() => Err("the timeout must be more than zero".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

/// How a command that can print JSON prints: `--format json` and `--json` are the same, so
/// scripts need not remember which command took which spelling.
#[derive(Debug, Clone, Copy, Args)]
pub struct FormatArg {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Same as `--format json`.
    #[arg(long, conflicts_with = "format")]
    json: bool,
}

impl FormatArg {
    /// The format asked for.
    pub fn get(self) -> Format {
        if self.json { Format::Json } else { self.format }
    }

    /// `--format json`, as the shell and tests build it.
    pub fn json() -> Self {
        FormatArg {
            format: Format::Json,
            json: false,
        }
    }
}

/// Parses the arguments, runs the command, and turns its outcome into an exit status.
pub fn main() -> ExitCode {
    if let Some(status) = habits::intercept(std::env::args_os().skip(1)) {
        return ExitCode::from(status);
    }
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Run { .. }) {
        restore_sigpipe();
    }
    ExitCode::from(dispatch(cli))
}

/// Lets a one-shot command die quietly when its reader goes away (`taskmaster logs web |
/// head`), as Unix tools do, instead of panicking in `println!`. Rust starts programs with
/// SIGPIPE ignored; the daemon keeps it that way, since a client hanging up must never kill it.
fn restore_sigpipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: called once at start-up, before any thread exists; SIG_DFL installs no handler
    // code, so nothing can run concurrently with it.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

/// Runs one parsed command line; returns its exit status.
pub fn dispatch(cli: Cli) -> u8 {
    match cli.command {
        Command::Check { config, format } => check::run(
            &config.unwrap_or_else(|| PathBuf::from(socket_path::DEFAULT_CONFIG)),
            format.get(),
        ),
        Command::Run { config, socket } => run::run(config, socket),
        Command::Diff {
            configs,
            format,
            show_values,
            socket,
        } => diff::run(&configs, format.get(), show_values, &socket),
        Command::Completions { shell } => extras::completions(shell),
        Command::Man { command, dir } => {
            let page = (!command.is_empty()).then(|| command.join(" "));
            extras::man(page.as_deref(), dir.as_deref())
        }
        Command::Import { file } => extras::import(&file),
        Command::Export { target } => export::run(target),
        Command::Probe(args) => probe::run(args),
        Command::Shell { socket } => shell::run(&socket),
        Command::CompleteNames { socket } => shell::complete_names(&socket),
        client_command => client::run(client_command),
    }
}
