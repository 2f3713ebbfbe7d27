//! From syntax tree to a validated, typed [`Plan`], and the [`diff`] of two plans.

pub mod diff;
pub mod model;

pub use diff::{PlanDiff, diff};
pub use model::{AutoRestart, DaemonSettings, OutputTarget, Plan, ProgramSpec, StopSignal};
