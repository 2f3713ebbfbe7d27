//! taskmaster: a process supervisor driven by a declarative KDL config.
//!
//! The pipeline has three stages, each in its own module:
//! - [`parse`] reads KDL text into a syntax tree that keeps every source span;
//! - [`plan`] validates that tree into a typed, span-free [`plan::Plan`] and diffs two plans;
//! - [`runtime`] applies a plan (or a plan diff on reload) to live processes.
//!
//! [`protocol`] holds the control-socket wire types shared by the daemon and the client,
//! and [`cli`] is the command-line front end.

pub mod cli;
pub mod export;
pub mod parse;
pub mod plan;
pub(crate) mod protocol;
pub(crate) mod runtime;
pub(crate) mod words;
