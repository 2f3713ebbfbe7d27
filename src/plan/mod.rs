//! From syntax tree to a validated, typed [`Plan`], the [`diff`](mod@diff) of two plans, and its
//! human [`render`]ing.

pub mod check;
pub mod codes;
pub mod credentials;
pub mod diff;
pub mod directive;
pub mod envfile;
pub mod load;
pub mod model;
pub mod placeholder;
pub mod render;
pub mod report;
pub mod source;
pub(crate) mod validate;

pub use codes::Code;
pub use diff::{PlanDiff, diff};
pub use load::{Compiled, LoadError, compile, load_file};
pub use model::{AutoRestart, DaemonSettings, OutputTarget, Plan, ProgramSpec, StopSignal};
pub use report::{Problem, Report};
pub(crate) use validate::resolve as resolve_path;
