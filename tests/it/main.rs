//! The one integration-test binary (`cargo test --test it`): everything that drives the
//! `taskmaster` binary or the library from outside, linked once.
//!
//! - `harness` is the fixture every black-box test uses: a [`harness::Sandbox`] folder, a
//!   [`harness::Daemon`] running in it (cleaned up by pid on drop), bounded waits, /proc
//!   inspection, and the typed config builder [`harness::Config`] (see its module doc).
//! - The contract suite proper (check, commands, containment, daemon, dependencies,
//!   hardening, logs, more_commands, reload, shell, socket, socket_limits, spawn, states) drives
//!   the binary only through what `CONTRACT.md` promises, against real children. Each test
//!   has its own sandbox, daemon and socket, so they run in parallel.
//! - runtime_smoke talks the JSON protocol straight over the socket; client_e2e drives the
//!   client commands against a real daemon; client_commands and shell_piped drive them
//!   against `client_fake`, a fake daemon.
//! - The rest checks the compiler, diff, import, export and the documents: compile,
//!   fuzz_compile, diff_cli, diff_props, examples, export_cli, export_golden, export_verify,
//!   import_fixtures, schema_sync, book, readme, client_extras; layout keeps the suite one
//!   binary.
//!
//! A module's insta snapshots live in `snapshots/` named `it__MODULE__NAME`; proptest keeps
//! its regressions next to the module (`diff_props.proptest-regressions`). Run one module
//! with `cargo test --test it MODULE::`.

// The harness's helpers are `pub` for the test modules beside it; this crate has no API.
#![allow(unreachable_pub)]
// `Daemon::start` and `Sandbox::write_config` take a `Config` or text; the many tests (here and
// on branches to come) that pass `&format!(…)` or `&program(…)` stay as they are.
#![allow(clippy::needless_borrows_for_generic_args)]

mod client_fake;
mod harness;

mod check;
mod checks;
mod commands;
mod containment;
mod daemon;
mod dependencies;
mod hardening;
mod identity;
mod log_files;
mod logs;
mod more_commands;
mod reload;
mod shell;
mod socket;
mod socket_limits;
mod spawn;
mod states;

mod book;
mod client_commands;
mod client_e2e;
mod client_extras;
mod compile;
mod diff_cli;
mod diff_props;
mod examples;
mod export_cli;
mod export_golden;
mod export_verify;
mod fuzz_compile;
mod import_fixtures;
mod layout;
mod readme;
mod runtime_smoke;
mod schema_sync;
mod shell_piped;
