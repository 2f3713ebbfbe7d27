//! The supervisor: one calloop event loop applying a plan to live processes.
