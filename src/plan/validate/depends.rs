//! `depends-on`: the shape of each node ([`depends_on`], short form `depends-on "db"
//! "cache"`, block form `depends-on { migrate "completed" }`, repeated nodes adding up) and,
//! once every program of the file is known, the checks across programs ([`graph`]): unknown
//! programs, self-dependencies, cycles, a dependency given twice, and `completed` on a
//! program that never stays exited.
//!
//! The plan keeps no spans, so [`graph`] walks the document's `depends-on` nodes again for
//! them; the work is linear in the number of edges (one depth-first search for cycles).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kdl::{KdlDocument, KdlEntry, KdlNode};
use miette::SourceSpan;

use super::fields::{self, cover};
use super::{Ctx, suggest};
use crate::parse::syntax::{arguments, name_span, value_span};
use crate::plan::codes::Code;
use crate::plan::model::{AutoRestart, Condition, Plan, ProgramSpec};
use crate::plan::report::Problem;

const EXAMPLE: &str = "depends-on \"db\" or depends-on { migrate \"completed\" }";

/// One dependency as written: the program, where its name is, its condition and where that is.
struct Site<'n> {
    program: &'n str,
    span: SourceSpan,
    condition: Condition,
    condition_span: SourceSpan,
}

/// The parse function of the `depends-on` directive: every dependency of one node into
/// `spec` (a program named twice keeps its first condition; [`graph`] reports it).
pub(crate) fn depends_on(ctx: &mut Ctx, field: &KdlNode, spec: &mut ProgramSpec) {
    for site in sites(field, Some(ctx)) {
        spec.depends_on
            .entry(site.program.to_owned())
            .or_insert(site.condition);
    }
}

/// The dependencies of one node, its shape problems reported to `ctx` when given.
fn sites<'n>(field: &'n KdlNode, mut ctx: Option<&mut Ctx>) -> Vec<Site<'n>> {
    if let Some(ctx) = ctx.as_deref_mut() {
        fields::no_properties(ctx, field, EXAMPLE);
    }
    let children = field.children().map_or(&[][..], |c| c.nodes());
    let args: Vec<&KdlEntry> = arguments(field).collect();
    if args.is_empty() && children.is_empty() {
        if let Some(ctx) = ctx.as_deref_mut() {
            ctx.push(fields::missing_value(field, EXAMPLE));
        }
        return Vec::new();
    }
    let mut out = Vec::new();
    for entry in args {
        let name = match ctx.as_deref_mut() {
            Some(ctx) => fields::string(ctx, entry, "depends-on", EXAMPLE),
            None => entry.value().as_string(),
        };
        if let Some(name) = name {
            out.push(Site {
                program: name,
                span: value_span(entry),
                condition: Condition::Ready,
                condition_span: value_span(entry),
            });
        }
    }
    for child in children {
        if let Some(site) = block_site(child, ctx.as_deref_mut()) {
            out.push(site);
        }
    }
    out
}

/// One `PROGRAM ["CONDITION"]` node of the block form.
fn block_site<'n>(child: &'n KdlNode, mut ctx: Option<&mut Ctx>) -> Option<Site<'n>> {
    let program = child.name().value();
    let example = format!("{program} \"ready\"");
    if let Some(ctx) = ctx.as_deref_mut() {
        fields::no_properties(ctx, child, &example);
        fields::no_children(ctx, child);
    }
    let args: Vec<&KdlEntry> = arguments(child).collect();
    let span = name_span(child);
    let Some(&entry) = args.first() else {
        return Some(Site {
            program,
            span,
            condition: Condition::Ready,
            condition_span: span,
        });
    };
    if let (Some(ctx), Some(second), Some(last)) = (ctx.as_deref_mut(), args.get(1), args.last()) {
        ctx.push(
            Problem::new(
                Code::UnexpectedArgument,
                cover(second.span(), last.span()),
                format!("`{program}` takes one condition"),
                "extra value",
            )
            .help(format!(
                "one node per program: {program} \"ready\"; the conditions are {}",
                Condition::NAMES.join(", ")
            )),
        );
    }
    let text = match ctx.as_deref_mut() {
        Some(ctx) => fields::string(ctx, entry, program, &example)?,
        None => entry.value().as_string()?,
    };
    let Some(condition) = Condition::parse(text) else {
        if let Some(ctx) = ctx {
            let help = match suggest::closest(text, Condition::NAMES) {
                Some(near) => format!("did you mean \"{near}\"?"),
                None => format!("the conditions are {}", Condition::NAMES.join(", ")),
            };
            ctx.push(
                Problem::new(
                    Code::UnknownCondition,
                    value_span(entry),
                    format!(
                        "unknown condition \"{}\" for `{program}`",
                        text.escape_debug()
                    ),
                    "not a condition",
                )
                .help(help),
            );
        }
        return None;
    };
    Some(Site {
        program,
        span,
        condition,
        condition_span: value_span(entry),
    })
}

/// The checks across programs, once every program node has been read. `known` holds every
/// program name of the file (also those with problems of their own, so they are not reported
/// again as unknown), `plan` the programs that compiled.
pub(crate) fn graph(
    ctx: &mut Ctx,
    doc: &KdlDocument,
    known: &HashMap<String, SourceSpan>,
    plan: &Plan,
) {
    let names: Vec<&str> = known.keys().map(String::as_str).collect();
    // program → its dependencies (name → the span of that name in its block), first wins.
    let mut edges: BTreeMap<&str, BTreeMap<&str, SourceSpan>> = BTreeMap::new();
    let mut walked: BTreeSet<&str> = BTreeSet::new();
    for node in doc.nodes().iter().filter(|n| n.name().value() == "program") {
        let Some(owner) = arguments(node).next().and_then(|e| e.value().as_string()) else {
            continue;
        };
        // A duplicate program is reported elsewhere; only the first one counts.
        if !known.contains_key(owner) || !walked.insert(owner) {
            continue;
        }
        let mut seen: HashMap<&str, SourceSpan> = HashMap::new();
        let fields = node.children().map_or(&[][..], |c| c.nodes());
        for field in fields.iter().filter(|f| f.name().value() == "depends-on") {
            for site in sites(field, None) {
                if let Some(&first) = seen.get(site.program) {
                    ctx.push(
                        Problem::new(
                            Code::DuplicateField,
                            site.span,
                            format!("dependency `{}` is given twice", site.program),
                            "given again here",
                        )
                        .also(first, "first given here")
                        .help("keep one of them, with the condition you mean"),
                    );
                    continue;
                }
                seen.insert(site.program, site.span);
                check_site(ctx, owner, &site, &names, plan);
                if site.program != owner && known.contains_key(site.program) {
                    edges
                        .entry(owner)
                        .or_default()
                        .insert(site.program, site.span);
                }
            }
        }
    }
    for cycle in cycles(&edges) {
        ctx.push(cycle_problem(&cycle, &edges));
    }
}

/// The checks of one dependency on its own: itself, an unknown program, a condition that can
/// never hold.
fn check_site(ctx: &mut Ctx, owner: &str, site: &Site, names: &[&str], plan: &Plan) {
    if site.program == owner {
        ctx.push(
            Problem::new(
                Code::SelfDependency,
                site.span,
                format!("program `{owner}` depends on itself"),
                "itself",
            )
            .help("a program cannot wait for itself: remove this dependency"),
        );
        return;
    }
    if !names.contains(&site.program) {
        let others: Vec<&str> = names.iter().copied().filter(|n| *n != owner).collect();
        let help = match suggest::closest(site.program, &others) {
            Some(near) => format!("did you mean `{near}`?"),
            None if others.is_empty() => "this is the only program of the file".to_owned(),
            None => {
                let mut sorted = others;
                sorted.sort_unstable();
                format!("the programs are {}", sorted.join(", "))
            }
        };
        ctx.push(
            Problem::new(
                Code::UnknownDependency,
                site.span,
                format!(
                    "`{owner}` depends on `{}`, which is not a program",
                    site.program
                ),
                "no such program",
            )
            .help(help),
        );
        return;
    }
    let no_liveness = plan
        .programs
        .get(site.program)
        .is_some_and(|p| p.liveness.is_none());
    if site.condition == Condition::Healthy && no_liveness {
        ctx.push(
            Problem::new(
                Code::ConditionWithoutCheck,
                site.condition_span,
                format!(
                    "`{}` has no liveness check: \"healthy\" means \"ready\" here",
                    site.program
                ),
                "no liveness check",
            )
            .help(format!(
                "give `{}` a liveness block, or write \"ready\"",
                site.program
            )),
        );
    }
    let always = plan
        .programs
        .get(site.program)
        .is_some_and(|p| p.autorestart == AutoRestart::Always);
    if site.condition == Condition::Completed && always {
        ctx.push(
            Problem::new(
                Code::ConditionNeverMet,
                site.condition_span,
                format!(
                    "`{}` has autorestart #true: it never stays exited, so \"completed\" never holds",
                    site.program
                ),
                "never holds",
            )
            .help(format!(
                "set autorestart #false or \"unexpected\" on `{}`, or wait for it \"ready\"",
                site.program
            )),
        );
    }
}

/// Every cycle of the graph, each once, as the path of program names from a program back to
/// itself (`["web", "db", "web"]`), found by one depth-first search in name order.
pub(crate) fn cycles<'a, V>(edges: &BTreeMap<&'a str, BTreeMap<&'a str, V>>) -> Vec<Vec<&'a str>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    let mut marks: HashMap<&str, Mark> = HashMap::new();
    let mut found = Vec::new();
    for &root in edges.keys() {
        if marks.contains_key(root) {
            continue;
        }
        // The path from the root, each with the dependencies still to visit.
        let mut path: Vec<(&str, Vec<&str>)> = vec![(root, next_of(edges, root))];
        marks.insert(root, Mark::Open);
        while let Some((_, todo)) = path.last_mut() {
            let Some(next) = todo.pop() else {
                if let Some((done, _)) = path.pop() {
                    marks.insert(done, Mark::Done);
                }
                continue;
            };
            match marks.get(next) {
                Some(Mark::Open) => {
                    let from = path.iter().position(|(n, _)| *n == next).unwrap_or(0);
                    let mut cycle: Vec<&str> = path[from..].iter().map(|(n, _)| *n).collect();
                    cycle.push(next);
                    found.push(cycle);
                }
                Some(Mark::Done) => {}
                None => {
                    marks.insert(next, Mark::Open);
                    path.push((next, next_of(edges, next)));
                }
            }
        }
    }
    found
}

/// A program's dependencies in reverse name order (the search pops them, so visits in order).
fn next_of<'a, V>(edges: &BTreeMap<&'a str, BTreeMap<&'a str, V>>, from: &str) -> Vec<&'a str> {
    edges
        .get(from)
        .map(|deps| deps.keys().rev().copied().collect())
        .unwrap_or_default()
}

fn cycle_problem(cycle: &[&str], edges: &BTreeMap<&str, BTreeMap<&str, SourceSpan>>) -> Problem {
    let span_of = |from: &str, to: &str| edges.get(from).and_then(|d| d.get(to)).copied();
    let label = |from: &str, to: &str| format!("{from} depends on {to}");
    let pairs: Vec<(&str, &str)> = cycle.windows(2).map(|w| (w[0], w[1])).collect();
    let first = pairs.first().copied().unwrap_or(("", ""));
    let mut problem = Problem::new(
        Code::DependencyCycle,
        span_of(first.0, first.1).unwrap_or_else(|| (0, 0).into()),
        format!("dependency cycle: {}", cycle.join(" → ")),
        label(first.0, first.1),
    )
    .help("each program of a cycle waits for the next, so none would ever start: remove one of these dependencies");
    for &(from, to) in pairs.iter().skip(1) {
        if let Some(span) = span_of(from, to) {
            problem = problem.also(span, label(from, to));
        }
    }
    problem
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph_of<'a>(pairs: &[(&'a str, &'a str)]) -> BTreeMap<&'a str, BTreeMap<&'a str, ()>> {
        let mut g: BTreeMap<&str, BTreeMap<&str, ()>> = BTreeMap::new();
        for &(a, b) in pairs {
            g.entry(a).or_default().insert(b, ());
        }
        g
    }

    #[test]
    fn finds_each_cycle_with_its_path() {
        let g = graph_of(&[("web", "db"), ("db", "web"), ("api", "db")]);
        assert_eq!(cycles(&g), vec![vec!["db", "web", "db"]]);
        let g = graph_of(&[("a", "b"), ("b", "c"), ("c", "a"), ("x", "y")]);
        assert_eq!(cycles(&g), vec![vec!["a", "b", "c", "a"]]);
    }

    #[test]
    fn a_diamond_is_no_cycle() {
        let g = graph_of(&[
            ("web", "db"),
            ("web", "cache"),
            ("cache", "db"),
            ("db", "z"),
        ]);
        assert!(cycles(&g).is_empty());
    }
}
