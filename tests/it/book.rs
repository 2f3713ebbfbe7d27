//! Keeps the user guide (`book/src`) honest against the code.
//!
//! - Every fenced ```` ```kdl ```` block is compiled with [`taskmaster::plan::compile`]: plain
//!   blocks must be valid configs; `kdl,must-fail` blocks must be rejected, and
//!   `kdl,must-fail(CODE …)` must be rejected with each CODE among the diagnostics;
//!   `kdl,warns(CODE …)` blocks must compile and raise each CODE as a warning.
//! - Every directive ([`taskmaster::plan::directive`]) has its page (or section), whose
//!   `Type`, `Default` and `On reload` rows and prose say what its definition says; the
//!   configuration overview's field table has a row for each program directive.
//! - Every diagnostic code of the compiler ([`taskmaster::plan::Code::ALL`]) has a section in
//!   the diagnostics reference, with its severity and an example that raises it; no section
//!   names a code that does not exist.
//! - The exit statuses and environment tables of the command-line page are exactly
//!   [`taskmaster::cli::reference`]'s, the one source `--help` and the man page render.
//! - Every relative link between pages points to a page (and heading) that exists, and every
//!   page is listed in `SUMMARY.md` (mdBook would silently drop it otherwise).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use taskmaster::plan::diff::FieldClass;
use taskmaster::plan::directive::{DAEMON, Directive, PROGRAM};

fn book_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("book")
        .join("src")
}

/// Every markdown page under `book/src`, sorted so failures are reported in a stable order.
fn pages() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("readable directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&book_src(), &mut out);
    out.sort();
    assert!(
        !out.is_empty(),
        "no pages found under {}",
        book_src().display()
    );
    out
}

fn relative(path: &Path) -> String {
    path.strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")))
        .unwrap_or(path)
        .display()
        .to_string()
}

/// One fenced code block: where it starts, its info string and its text.
struct Block {
    location: String,
    info: String,
    text: String,
}

/// The fenced code blocks of one page (``` or ~~~ fences, possibly indented, as CommonMark).
fn blocks(path: &Path) -> Vec<Block> {
    let page = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    let mut open: Option<(String, usize, String, String)> = None; // fence, line, info, text
    for (number, line) in page.lines().enumerate() {
        let trimmed = line.trim_start();
        match &mut open {
            None => {
                let fence_len = trimmed
                    .chars()
                    .take_while(|&c| c == '`' || c == '~')
                    .count();
                let fence = &trimmed[..fence_len];
                let uniform = fence.chars().all(|c| c == '`') || fence.chars().all(|c| c == '~');
                if fence_len >= 3 && uniform {
                    let info = trimmed[fence_len..].trim().to_owned();
                    open = Some((fence.to_owned(), number + 1, info, String::new()));
                }
            }
            Some((fence, start, info, text)) => {
                if trimmed.starts_with(fence.as_str())
                    && trimmed
                        .trim_start_matches(fence.chars().next().unwrap_or('`'))
                        .trim()
                        .is_empty()
                {
                    out.push(Block {
                        location: format!("{}:{start}", relative(path)),
                        info: std::mem::take(info),
                        text: std::mem::take(text),
                    });
                    open = None;
                } else {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
    }
    if let Some((_, start, ..)) = open {
        panic!("{}:{start}: code block never closed", relative(path));
    }
    out
}

/// What a `kdl` block's info string asks of it.
#[derive(Debug, PartialEq)]
enum Expect {
    Valid,
    /// Rejected, with each of these codes among its diagnostics.
    Invalid(Vec<String>),
    /// Valid, with each of these codes among its warnings.
    Warns(Vec<String>),
}

/// Parses `kdl`, `kdl,must-fail`, `kdl,must-fail(a b)`, `kdl,warns(a)`. Returns `None` for
/// blocks of another language. An unknown tag is an error, so a typo cannot skip a check.
fn expectation(info: &str) -> Option<Result<Expect, String>> {
    let mut tags = info.split(',').map(str::trim);
    if tags.next() != Some("kdl") {
        return None;
    }
    let mut expect = Expect::Valid;
    for tag in tags {
        let (name, args) = match tag.split_once('(') {
            Some((name, rest)) => match rest.strip_suffix(')') {
                Some(args) => (name, args.split_whitespace().map(str::to_owned).collect()),
                None => return Some(Err(format!("unclosed tag `{tag}`"))),
            },
            None => (tag, Vec::new()),
        };
        expect = match name {
            "must-fail" => Expect::Invalid(args),
            "warns" if !args.is_empty() => Expect::Warns(args),
            _ => return Some(Err(format!("unknown tag `{tag}` in ```{info}"))),
        };
    }
    Some(Ok(expect))
}

/// The codes of a report's diagnostics, with their severity, from its JSON form.
fn codes(report: &taskmaster::plan::Report) -> Vec<(String, String)> {
    let json = report.to_json();
    json.get("diagnostics")
        .and_then(|d| d.as_array())
        .map(|list| {
            list.iter()
                .map(|d| {
                    let field =
                        |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
                    (field("code"), field("severity"))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn missing(wanted: &[String], found: &[(String, String)], severity: Option<&str>) -> Vec<String> {
    wanted
        .iter()
        .filter(|code| {
            !found
                .iter()
                .any(|(c, s)| c == *code && severity.is_none_or(|want| s == want))
        })
        .cloned()
        .collect()
}

#[test]
fn every_kdl_block_compiles_as_the_book_says() {
    let mut checked = 0;
    let mut failures = String::new();
    for page in pages() {
        for block in blocks(&page) {
            let Some(expect) = expectation(&block.info) else {
                continue;
            };
            checked += 1;
            let expect = match expect {
                Ok(e) => e,
                Err(why) => {
                    let _ = writeln!(failures, "{}: {why}", block.location);
                    continue;
                }
            };
            let result =
                taskmaster::plan::compile(&block.location, &block.text, Path::new("/book"));
            let problem = match (&expect, result) {
                (Expect::Valid, Ok(_)) => None,
                (Expect::Valid, Err(report)) => Some(format!(
                    "should be valid but was rejected:\n{}",
                    report.render(false)
                )),
                (Expect::Warns(want), Ok(compiled)) => {
                    let lost = missing(want, &codes(&compiled.warnings), Some("warning"));
                    (!lost.is_empty()).then(|| {
                        format!(
                            "should warn {lost:?}; warnings were:\n{}",
                            compiled.warnings.render(false)
                        )
                    })
                }
                (Expect::Warns(_), Err(report)) => Some(format!(
                    "should be valid (with warnings) but was rejected:\n{}",
                    report.render(false)
                )),
                (Expect::Invalid(_), Ok(_)) => Some("is marked must-fail but compiled".to_owned()),
                (Expect::Invalid(want), Err(report)) => {
                    let lost = missing(want, &codes(&report), None);
                    (!lost.is_empty()).then(|| {
                        format!(
                            "was rejected, but without {lost:?}:\n{}",
                            report.render(false)
                        )
                    })
                }
            };
            if let Some(problem) = problem {
                let _ = writeln!(failures, "{}: {problem}\n{}", block.location, block.text);
            }
        }
    }
    assert!(checked > 0, "found no ```kdl blocks in the book");
    assert!(
        failures.is_empty(),
        "{checked} kdl blocks checked; these rotted:\n\n{failures}"
    );
}

#[test]
fn info_string_tags_are_understood() {
    assert_eq!(expectation("kdl"), Some(Ok(Expect::Valid)));
    assert_eq!(expectation("sh"), None);
    assert_eq!(
        expectation("kdl,must-fail(taskmaster::a taskmaster::b)"),
        Some(Ok(Expect::Invalid(vec![
            "taskmaster::a".into(),
            "taskmaster::b".into()
        ])))
    );
    assert_eq!(
        expectation("kdl, warns(x)"),
        Some(Ok(Expect::Warns(vec!["x".into()])))
    );
    assert!(matches!(expectation("kdl,must-fial"), Some(Err(_))));
    assert!(matches!(expectation("kdl,warns"), Some(Err(_))));
}

/// The reload effect a field page must state for each class.
fn reload_words(class: FieldClass) -> &'static str {
    match class {
        FieldClass::Spawn => "restart",
        FieldClass::Supervision => "in place",
        FieldClass::Scale => "scale",
        FieldClass::Daemon => "daemon",
        FieldClass::Reopen => "reopen",
    }
}

/// The text of a directive's page, or of its `## anchor` section for a link with an anchor.
fn directive_text(page: &str) -> Result<String, String> {
    let (file, anchor) = match page.split_once('#') {
        Some((file, anchor)) => (file, Some(anchor)),
        None => (page, None),
    };
    let path = book_src().join(file);
    let text =
        fs::read_to_string(&path).map_err(|_| format!("{}: missing page", relative(&path)))?;
    let Some(anchor) = anchor else {
        return Ok(text);
    };
    let mut section: Option<String> = None;
    for line in text.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            if section.is_some() {
                break;
            }
            if title.trim() == anchor {
                section = Some(String::new());
            }
        } else if let Some(body) = &mut section {
            body.push_str(line);
            body.push('\n');
        }
    }
    section.ok_or_else(|| format!("{}: no `## {anchor}` section", relative(&path)))
}

/// The value cell of a `| Label | value |` table row.
fn row<'t>(text: &'t str, label: &str) -> Option<&'t str> {
    let prefix = format!("| {label} |");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .map(|rest| rest.trim().trim_end_matches('|').trim())
}

/// A directive's page says what its definition says: its type, its default, its reload
/// effect (the diff's class) and its one-line doc.
fn check_page<T>(d: &Directive<T>, failures: &mut Vec<String>) {
    let at = d.page;
    let text = match directive_text(at) {
        Ok(text) => text,
        Err(why) => {
            failures.push(format!("{why} (directive `{}`)", d.name));
            return;
        }
    };
    match row(&text, "On reload") {
        None => failures.push(format!("{at}: no `| On reload |` row")),
        Some(found) => {
            let want = reload_words(d.reload);
            if !found.to_lowercase().contains(want) {
                failures.push(format!(
                    "{at}: `{found}` should say `{want}` ({:?})",
                    d.reload
                ));
            }
        }
    }
    for (label, want) in [("Type", d.shape), ("Default", d.default)] {
        match row(&text, label) {
            Some(found) if found == want => {}
            found => failures.push(format!(
                "{at}: `| {label} |` is {found:?}, directive `{}` says {want:?}",
                d.name
            )),
        }
    }
    let prose = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if !prose.contains(d.doc) {
        failures.push(format!(
            "{at}: does not say directive `{}`'s doc line {:?}",
            d.name, d.doc
        ));
    }
}

#[test]
fn directive_pages_match_their_definition() {
    let mut failures = Vec::new();
    for d in PROGRAM {
        check_page(d, &mut failures);
    }
    for d in DAEMON {
        check_page(d, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The overview's field table has one row per program directive, in the directives' order,
/// linking to its page and saying its reload effect.
#[test]
fn the_overview_lists_every_program_directive() {
    let text = fs::read_to_string(book_src().join("config/overview.md")).expect("overview.md");
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| l.starts_with("| [`"))
        .map(|l| l.trim_matches('|').split('|').map(str::trim).collect())
        .collect();
    let listed: Vec<&str> = rows.iter().map(|cells| cells[0]).collect();
    let wanted: Vec<String> = PROGRAM
        .iter()
        .map(|d| {
            let page = d.page.strip_prefix("config/").unwrap_or(d.page);
            format!("[`{}`]({page})", d.name)
        })
        .collect();
    assert_eq!(listed, wanted, "config/overview.md: the field table's rows");
    for (cells, d) in rows.iter().zip(PROGRAM) {
        let reload = cells.last().copied().unwrap_or_default();
        let want = reload_words(d.reload);
        assert!(
            reload.contains(want),
            "config/overview.md: `{}` says `{reload}` on reload, not `{want}`",
            d.name
        );
    }
}

/// The anchors mdBook gives a page's headings: lower case, letters, digits, `_` and `-`
/// kept, spaces turned into `-`, everything else dropped.
fn heading_ids(page: &Path) -> BTreeSet<String> {
    let text = fs::read_to_string(page).unwrap_or_default();
    let mut in_code = false;
    let mut ids = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        }
        if in_code || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#').trim();
        let id: String = title
            .chars()
            .filter_map(|c| match c {
                c if c.is_alphanumeric() || c == '_' || c == '-' => Some(c.to_ascii_lowercase()),
                ' ' => Some('-'),
                _ => None,
            })
            .collect();
        ids.insert(id);
    }
    ids
}

/// The targets of inline links `[text](target)` on one line.
fn link_targets(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        if let Some(end) = rest.find(')') {
            out.push(&rest[..end]);
            rest = &rest[end..];
        }
    }
    out
}

#[test]
fn links_between_pages_resolve_and_every_page_is_in_the_summary() {
    let src = book_src();
    let mut failures = Vec::new();
    for page in pages() {
        let text = fs::read_to_string(&page).expect("page is readable");
        let mut in_code = false;
        for (number, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("```") {
                in_code = !in_code;
            }
            if in_code {
                continue;
            }
            for target in link_targets(line) {
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
                let resolved = if file.is_empty() {
                    page.clone()
                } else {
                    page.parent().expect("page has a folder").join(file)
                };
                if !resolved.is_file() {
                    failures.push(format!(
                        "{}:{}: broken link `{target}`",
                        relative(&page),
                        number + 1
                    ));
                } else if !anchor.is_empty() && !heading_ids(&resolved).contains(anchor) {
                    failures.push(format!(
                        "{}:{}: no heading `#{anchor}` in {}",
                        relative(&page),
                        number + 1,
                        relative(&resolved)
                    ));
                }
            }
        }
    }

    let summary = fs::read_to_string(src.join("SUMMARY.md")).expect("SUMMARY.md exists");
    let listed: BTreeSet<PathBuf> = summary
        .lines()
        .flat_map(link_targets)
        .map(|t| src.join(t))
        .collect();
    for page in pages() {
        if page.file_name().is_some_and(|n| n == "SUMMARY.md") {
            continue;
        }
        if !listed.contains(&page) {
            failures.push(format!("{}: not listed in SUMMARY.md", relative(&page)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The `### taskmaster::NAME` sections of the diagnostics reference: code → section text.
fn diagnostic_sections() -> std::collections::BTreeMap<String, String> {
    let text = fs::read_to_string(book_src().join("diagnostics.md")).expect("diagnostics.md");
    let mut sections = std::collections::BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        if line.starts_with('#') {
            if let Some((code, body)) = current.take() {
                sections.insert(code, body);
            }
            if let Some(code) = line.strip_prefix("### ") {
                current = Some((code.trim().to_owned(), String::new()));
            }
        } else if let Some((_, body)) = &mut current {
            body.push_str(line);
            body.push('\n');
        }
    }
    if let Some((code, body)) = current {
        sections.insert(code, body);
    }
    sections
}

/// Codes no config text in a code block can raise: a file over 16 MiB, a top-level node over
/// 64 KiB, a path that must exist as a FIFO, an env file with a bad line. Their example is a
/// ```console session showing the code; `tests/it/compile.rs` and `tests/it/fuzz_compile.rs`
/// raise each of them for real.
const SHOWN_BY_A_SESSION: &[&str] = &[
    "taskmaster::config_too_large",
    "taskmaster::node_too_large",
    "taskmaster::fifo_target",
    "taskmaster::env_file_syntax",
];

/// Whether a ```console block of `body` shows `code`.
fn console_shows(body: &str, code: &str) -> bool {
    body.split("```console")
        .skip(1)
        .any(|rest| rest.split("```").next().is_some_and(|b| b.contains(code)))
}

#[test]
fn every_diagnostic_code_is_documented_with_an_example() {
    use taskmaster::plan::Code;
    let sections = diagnostic_sections();
    let mut failures = Vec::new();
    for code in Code::ALL {
        let name = code.as_str();
        let Some(body) = sections.get(name) else {
            failures.push(format!("diagnostics.md: no `### {name}` section"));
            continue;
        };
        let label = match code.severity() {
            miette::Severity::Warning => "*Warning.*",
            miette::Severity::Advice => "*Advice.*",
            miette::Severity::Error => "*Error.*",
        };
        if !body.trim_start().starts_with(label) {
            failures.push(format!(
                "diagnostics.md: `{name}` should start with {label}"
            ));
        }
        let tag = match code.severity() {
            miette::Severity::Error => "kdl,must-fail(",
            _ => "kdl,warns(",
        };
        let example = body
            .lines()
            .any(|l| l.starts_with(&format!("```{tag}")) && l.contains(name))
            || (SHOWN_BY_A_SESSION.contains(&name) && console_shows(body, name));
        if !example {
            failures.push(format!(
                "diagnostics.md: `{name}` has no ```{tag}{name}) example"
            ));
        }
    }
    for documented in sections.keys() {
        if !Code::ALL.iter().any(|c| c.as_str() == documented) {
            failures.push(format!(
                "diagnostics.md: `{documented}` is no code of the compiler"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every subcommand of the real CLI is in the commands index, and every long option it takes
/// is mentioned on some command page, so a new command or flag cannot go undocumented.
#[test]
fn every_command_and_option_is_documented() {
    use clap::CommandFactory;
    let dir = book_src().join("cli");
    let index = fs::read_to_string(dir.join("index.md")).expect("cli/index.md");
    let mut text = String::new();
    for page in pages() {
        if page.starts_with(&dir) {
            text.push_str(&fs::read_to_string(&page).expect("page is readable"));
        }
    }
    let mut failures = Vec::new();
    for sub in taskmaster::cli::Cli::command().get_subcommands() {
        let name = sub.get_name();
        if name == "help" {
            continue;
        }
        if !index.contains(&format!("`{name}")) {
            failures.push(format!("cli/index.md does not list `{name}`"));
        }
        // `export systemd --dir`: options of nested subcommands count too.
        let nested = sub.get_subcommands().flat_map(clap::Command::get_arguments);
        for arg in sub.get_arguments().chain(nested) {
            if let Some(long) = arg.get_long()
                && !text.contains(&format!("--{long}"))
            {
                failures.push(format!("no command page mentions `{name} --{long}`"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The rows of the first table after the heading `## {heading}` in `page`, header and
/// separator excluded.
fn table_rows(page: &str, heading: &str) -> Vec<String> {
    let text = fs::read_to_string(book_src().join(page)).expect("read page");
    let start = text
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("{page} has no `## {heading}`"));
    text[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn exit_statuses_and_environment_are_the_reference_tables() {
    use taskmaster::cli::reference;
    assert_eq!(
        table_rows("cli/index.md", "Exit statuses"),
        reference::book_exit_rows(),
        "book/src/cli/index.md's exit statuses differ from src/cli/reference.rs"
    );
    assert_eq!(
        table_rows("cli/index.md", "Environment"),
        reference::book_environment_rows(),
        "book/src/cli/index.md's environment table differs from src/cli/reference.rs"
    );
}
