//! The black-box contract suite: drives the `taskmaster` binary only through what
//! `CONTRACT.md` promises (commands, exit codes, `status --json`, the socket's limits), against
//! real children. Each test has its own sandbox, daemon and socket, so they run in parallel.

mod harness;

mod check;
mod commands;
mod containment;
mod daemon;
mod dependencies;
mod hardening;
mod logs;
mod more_commands;
mod reload;
mod shell;
mod socket;
mod socket_limits;
mod spawn;
mod states;
