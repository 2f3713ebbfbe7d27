//! The optional `taskmaster { … }` node: daemon settings.

use std::collections::HashMap;
use std::path::PathBuf;

use kdl::KdlNode;
use miette::SourceSpan;

use super::fields::{self, cover};
use super::{Ctx, paths, unknown_setting};
use crate::parse::syntax::{arguments, name_span};
use crate::plan::codes::Code;
use crate::plan::directive::{DAEMON, Directive};
use crate::plan::model::DaemonSettings;
use crate::plan::report::Problem;

/// Validates a `taskmaster` node into daemon settings.
pub(crate) fn daemon(ctx: &mut Ctx, node: &KdlNode) -> DaemonSettings {
    fields::no_properties(ctx, node, "taskmaster { socket \"taskmaster.sock\" }");
    let args: Vec<_> = arguments(node).collect();
    if let (Some(first), Some(last)) = (args.first(), args.last()) {
        ctx.push(
            Problem::new(
                Code::UnexpectedArgument,
                cover(first.span(), last.span()),
                "`taskmaster` takes no arguments",
                "unexpected",
            )
            .help("daemon settings go inside the block: taskmaster { socket \"taskmaster.sock\" }"),
        );
    }
    let mut settings = DaemonSettings::default();
    let mut seen: HashMap<&str, SourceSpan> = HashMap::new();
    for field in node.children().map_or(&[][..], |c| c.nodes()) {
        let fname = field.name().value();
        let Some(directive) = Directive::find(DAEMON, fname) else {
            ctx.push(unknown_setting(
                field,
                DAEMON,
                "daemon",
                "`taskmaster` takes",
            ));
            continue;
        };
        if fields::is_duplicate(ctx, &mut seen, fname, name_span(field), "setting") {
            continue;
        }
        (directive.parse)(ctx, field, &mut settings);
    }
    settings
}

/// The parse function of the daemon's path directives (see
/// [`crate::plan::directive::DAEMON`]): an absolute path, or `None` after a problem.
pub(crate) fn path(ctx: &mut Ctx, field: &KdlNode) -> Option<PathBuf> {
    let fname = field.name().value();
    let ex = Directive::find(DAEMON, fname).map_or("", |d| d.example);
    let entry = fields::one_arg(ctx, field, ex)?;
    let path = paths::path(ctx, entry, fname, ex)?;
    paths::warn_parent_missing(ctx, entry, fname, &path);
    Some(path)
}

#[cfg(test)]
mod tests {
    use crate::plan::compile;
    use std::path::Path;

    fn codes(text: &str) -> Vec<&'static str> {
        let report = match compile("t.kdl", text, Path::new("/")) {
            Ok(c) => c.warnings,
            Err(r) => r,
        };
        report.problems().iter().map(|p| p.code.name()).collect()
    }

    #[test]
    fn daemon_settings_are_checked() {
        let c = compile(
            "t",
            "taskmaster { socket \"s.sock\"; logfile \"/tmp/t.log\" }",
            Path::new("/tmp"),
        )
        .unwrap();
        assert_eq!(
            c.plan.daemon.socket.as_deref(),
            Some(Path::new("/tmp/s.sock"))
        );
        assert_eq!(
            c.plan.daemon.logfile.as_deref(),
            Some(Path::new("/tmp/t.log"))
        );
        assert_eq!(
            codes("taskmaster { socket \"a\"; socket \"b\" }"),
            ["duplicate_field"]
        );
        assert_eq!(codes("taskmaster x { }"), ["unexpected_argument"]);
        assert_eq!(codes("taskmaster { numprocs 2 }"), ["unknown_field"]);
        assert_eq!(codes("taskmaster { socket 1 }"), ["wrong_type"]);
        assert_eq!(codes("taskmaster { logfile }"), ["missing_value"]);
        assert_eq!(
            codes("taskmaster { logfile \"/nonexistent/x.log\" }"),
            ["parent_dir_missing"]
        );
    }
}
