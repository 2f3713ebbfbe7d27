//! The supervisor: one calloop event loop applying a plan to live processes.
pub mod eventlog;
pub mod machine;
pub mod names;
pub mod ring;
pub mod socket;
pub mod spawn;
