//! Validation: a parsed KDL document into a [`Plan`], every problem reported at once.
//!
//! The walk is one pass over the document. Duplicates are found with hash maps and
//! "did you mean" is computed only for unknown names, so the work stays linear in the size
//! of the file. Each check pushes a [`Problem`] and moves on; a setting with a problem keeps
//! its default so later checks still run.

pub(crate) mod check;
pub(crate) mod daemon;
pub(crate) mod depends;
mod fields;
pub(crate) mod identity;
pub(crate) mod logs;
mod paths;
pub(crate) mod program;
mod suggest;
pub(crate) mod values;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;

use kdl::KdlDocument;
use miette::SourceSpan;

use super::codes::Code;
use super::directive::{DAEMON, Directive, PROGRAM};
use super::model::Plan;
use super::report::Problem;
use crate::parse::syntax::name_span;
pub(crate) use paths::{PathFlaw, path_flaw, resolve};
pub(crate) use program::name_flaw;
pub(crate) use suggest::closest;

/// What every check needs: where problems go and the folder relative paths start from.
pub(crate) struct Ctx<'a> {
    pub problems: Vec<Problem>,
    pub base_dir: &'a Path,
}

impl Ctx<'_> {
    pub(crate) fn push(&mut self, problem: Problem) {
        self.problems.push(problem);
    }
}

const TOP_LEVEL: &[&str] = &["program", "taskmaster"];

/// Validates a whole document into a plan; problems go to `ctx`.
pub(crate) fn document(ctx: &mut Ctx, doc: &KdlDocument) -> Plan {
    let mut plan = Plan::default();
    let mut taskmaster_at: Option<SourceSpan> = None;
    let mut program_at: HashMap<String, SourceSpan> = HashMap::new();
    for node in doc.nodes() {
        match node.name().value() {
            "program" => {
                let program = program::program(ctx, node);
                // Duplicates are looked for even among programs with other problems.
                let Some((name, span)) = program.name else {
                    continue;
                };
                match program_at.entry(name) {
                    Entry::Vacant(slot) => {
                        if let Some(spec) = program.spec {
                            plan.programs.insert(slot.key().clone(), spec);
                        }
                        slot.insert(span);
                    }
                    Entry::Occupied(first) => ctx.push(
                        Problem::new(
                            Code::DuplicateProgram,
                            span,
                            format!("program `{}` is defined twice", first.key()),
                            "defined again here",
                        )
                        .also(*first.get(), "first defined here")
                        .help("program names must be unique: rename or remove one"),
                    ),
                }
            }
            "taskmaster" => {
                if let Some(first) = taskmaster_at {
                    ctx.push(
                        Problem::new(
                            Code::DuplicateTaskmaster,
                            name_span(node),
                            "more than one `taskmaster` node",
                            "another one here",
                        )
                        .also(first, "first one here")
                        .help("merge the daemon settings into one `taskmaster { … }` block"),
                    );
                    continue;
                }
                taskmaster_at = Some(name_span(node));
                plan.daemon = daemon::daemon(ctx, node);
            }
            other => ctx.push(unknown_node(other, name_span(node))),
        }
    }
    depends::graph(ctx, doc, &program_at, &plan);
    plan
}

fn unknown_node(name: &str, span: SourceSpan) -> Problem {
    let help = if let Some(near) = suggest::closest(name, TOP_LEVEL) {
        format!("did you mean `{near}`?")
    } else if let Some(help) = misplaced(name) {
        help
    } else {
        "the top level takes `program \"name\" { … }` and `taskmaster { … }` nodes".to_owned()
    };
    Problem::new(
        Code::UnknownNode,
        span,
        format!("unknown top-level node `{name}`"),
        "unknown node",
    )
    .help(help)
}

/// The error for a setting that a block (`program` or `daemon`, whose directives `table` lists)
/// does not have, with the most useful help: a near name, the other block when the setting
/// belongs there, else every setting the block takes (`takes` introduces the list).
fn unknown_setting<T>(
    field: &kdl::KdlNode,
    table: &[Directive<T>],
    block: &str,
    takes: &str,
) -> Problem {
    let fname = field.name().value();
    let names: Vec<&str> = Directive::names(table).collect();
    let help = if let Some(near) = suggest::closest(fname, &names) {
        format!("did you mean `{near}`?")
    } else if let Some(help) = misplaced(fname) {
        help
    } else {
        format!("{takes}: {}", names.join(", "))
    };
    Problem::new(
        Code::UnknownField,
        name_span(field),
        format!("unknown {block} setting `{fname}`"),
        "unknown setting",
    )
    .help(help)
}

/// Help for a setting written outside its block: `Some` when `name` is a program or a daemon
/// setting (the two share no name, so a block's own unknown setting can only be the other's).
fn misplaced(name: &str) -> Option<String> {
    if Directive::find(PROGRAM, name).is_some() {
        Some(format!(
            "`{name}` is a program setting: put it inside `program \"name\" {{ … }}`"
        ))
    } else if Directive::find(DAEMON, name).is_some() {
        Some(format!(
            "`{name}` is a daemon setting: put it inside `taskmaster {{ … }}`"
        ))
    } else {
        None
    }
}
