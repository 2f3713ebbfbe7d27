//! Entry points of the compiler: config text or file in, [`Plan`] (plus warnings) out.
//!
//! `compile` never panics on any input: syntax errors, validation errors and warnings all
//! end up in one [`Report`], in source order. Parsing is bounded as [`crate::parse`]
//! explains; the file itself is bounded here: a config over [`MAX_CONFIG_BYTES`] is refused
//! (`config_too_large`) after reading at most one byte more than that (a regular file whose
//! size says so is not read at all), so `check /dev/zero` ends at once.
//!
//! Both functions may run on any thread (the daemon compiles on a worker thread).

use std::io::{self, Read as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::codes::Code;
use super::model::Plan;
use super::report::{Problem, Report};
use super::source::IndexedSource;
use super::validate::{self, Ctx};
use crate::parse::{self, SyntaxKind};

/// A config that compiled: its plan and its warnings (possibly none).
#[derive(Debug)]
pub struct Compiled {
    pub plan: Plan,
    pub warnings: Report,
}

/// Why a config file gave no plan.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Missing, unreadable, a directory, or not UTF-8: exit status 2.
    #[error("cannot read {}: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    /// Read, but invalid: every problem (errors and warnings) is in the report; exit status 1.
    #[error("{0}")]
    Invalid(Report),
}

/// The largest config taskmaster reads: 16 MiB.
pub const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// Compiles config text. `source_name` names the file in diagnostics; relative paths in the
/// config are resolved against `base_dir`.
pub fn compile(source_name: &str, text: &str, base_dir: &Path) -> Result<Compiled, Report> {
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(too_large(source_name, Some(text.len() as u64)));
    }
    let mut ctx = Ctx {
        problems: Vec::new(),
        base_dir,
    };
    let plan = match parse::parse(text) {
        Ok(parsed) => {
            if let Some(span) = parsed.kdl_v1 {
                ctx.push(
                    Problem::new(
                        Code::KdlV1,
                        span,
                        "this file is written in KDL 1",
                        "KDL 2 rejects this",
                    )
                    .help("KDL 1 is accepted for now; KDL 2 spells booleans #true/#false, null #null and raw strings #\"…\"#"),
                );
            }
            validate::document(&mut ctx, &parsed.doc)
        }
        Err(errors) => {
            ctx.problems
                .extend(errors.into_iter().map(|e| syntax_problem(source_name, e)));
            Plan::default()
        }
    };
    let mut problems = ctx.problems;
    // The config's problems first, then each other file's (env files), each in file order.
    problems.sort_by(|a, b| {
        let file = |p: &Problem| p.file.as_ref().map(|f| f.name().to_owned());
        (file(a), a.span.offset()).cmp(&(file(b), b.span.offset()))
    });
    let report = Report::new(Arc::new(IndexedSource::new(source_name, text)), problems);
    if report.has_errors() {
        Err(report)
    } else {
        Ok(Compiled {
            plan,
            warnings: report,
        })
    }
}

fn syntax_problem(source_name: &str, e: parse::SyntaxError) -> Problem {
    let code = match e.kind {
        SyntaxKind::Kdl | SyntaxKind::TooManyErrors => Code::Syntax,
        SyntaxKind::NestingTooDeep => Code::NestingTooDeep,
        SyntaxKind::NodeTooLarge => Code::NodeTooLarge,
        SyntaxKind::LooksLikeIni => Code::IniFile,
    };
    let help = match e.kind {
        SyntaxKind::LooksLikeIni => Some(format!(
            "convert a supervisord config with `taskmaster import {source_name}`"
        )),
        _ => e.help,
    };
    Problem::new(code, e.span, e.message, e.label).maybe_help(help)
}

/// The report of a config over [`MAX_CONFIG_BYTES`]; `size` when known.
fn too_large(source_name: &str, size: Option<u64>) -> Report {
    let what = size.map_or_else(String::new, |n| format!(" ({n} bytes)"));
    let problem = Problem::new(
        Code::ConfigTooLarge,
        (0, 0).into(),
        format!("the config is over 16 MiB{what}; taskmaster reads configs of 16 MiB at most"),
        "not read",
    )
    .help("is this the right file? A config of thousands of programs is far smaller");
    Report::new(
        Arc::new(IndexedSource::new(source_name, String::new())),
        vec![problem],
    )
}

/// Reads and compiles a config file. Relative paths in it are resolved against its folder.
/// Reads at most [`MAX_CONFIG_BYTES`] + 1 bytes (see the module doc). Opening a FIFO waits
/// for a writer, as `cat` would: the daemon refuses non-regular files before calling this.
pub fn load_file(path: &Path) -> Result<Compiled, LoadError> {
    let unreadable = |reason: String| LoadError::Unreadable {
        path: path.to_owned(),
        reason,
    };
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| unreadable(io_reason(&e)))?;
    let meta = file.metadata().map_err(|e| unreadable(io_reason(&e)))?;
    if meta.is_dir() {
        return Err(unreadable("it is a directory".into()));
    }
    if meta.is_file() && meta.len() > MAX_CONFIG_BYTES {
        return Err(LoadError::Invalid(too_large(&name, Some(meta.len()))));
    }
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(io_reason(&e)))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(LoadError::Invalid(too_large(&name, None)));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        unreadable(format!(
            "not valid UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let base_dir = absolute.parent().unwrap_or(Path::new("/"));
    compile(&name, &text, base_dir).map_err(LoadError::Invalid)
}

fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        io::ErrorKind::IsADirectory => "it is a directory".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<(&'static str, String)> {
        let report = match compile("t.kdl", text, Path::new("/cfg")) {
            Ok(c) => c.warnings,
            Err(r) => r,
        };
        report
            .problems()
            .iter()
            .map(|p| (p.code.name(), p.message.clone()))
            .collect()
    }

    fn codes(text: &str) -> Vec<&'static str> {
        problems(text).into_iter().map(|(c, _)| c).collect()
    }

    #[test]
    fn a_full_program_compiles_with_every_value() {
        let text = r#"
            taskmaster { socket "/tmp/tm.sock"; logfile "/tmp/tm.log" }
            program "web" {
                cmd "python3 -m http.server 8080"
                numprocs 2
                umask 0o022
                workingdir "/tmp"
                autostart #false
                autorestart #true
                exitcodes 0 2
                startretries 5
                starttime "500ms"
                stopsignal "SIGINT"
                stoptime 1.5
                stdout "discard"
                stderr "/tmp/web.err"
                env { GREETING "hello"; PORT 8080 }
            }
        "#;
        let c = compile("t.kdl", text, Path::new("/cfg")).unwrap();
        assert!(c.warnings.is_empty(), "{}", c.warnings.render(false));
        let web = &c.plan.programs["web"];
        assert_eq!(web.cmd, ["python3", "-m", "http.server", "8080"]);
        assert_eq!(web.numprocs, 2);
        assert_eq!(web.umask, Some(0o022));
        assert!(!web.autostart);
        assert_eq!(web.autorestart, crate::plan::AutoRestart::Always);
        assert_eq!(web.exitcodes, [0, 2].into());
        assert_eq!(web.starttime, std::time::Duration::from_millis(500));
        assert_eq!(web.stoptime, std::time::Duration::from_millis(1500));
        assert_eq!(web.stopsignal.to_string(), "INT");
        assert_eq!(web.stdout, crate::plan::OutputTarget::Discard);
        assert_eq!(web.env["PORT"], "8080");
        assert_eq!(c.plan.process_count(), 2);
        assert_eq!(
            c.plan.daemon.socket.as_deref(),
            Some(Path::new("/tmp/tm.sock"))
        );
    }

    #[test]
    fn defaults_fill_every_unset_field() {
        let c = compile("t.kdl", "program a { cmd \"sleep 1\" }", Path::new("/cfg")).unwrap();
        let expected =
            crate::plan::ProgramSpec::with_defaults("a", vec!["sleep".into(), "1".into()]);
        assert_eq!(c.plan.programs["a"], expected);
    }

    #[test]
    fn relative_paths_resolve_against_the_base() {
        let c = compile(
            "t.kdl",
            "taskmaster { socket \"run/tm.sock\" }\nprogram a { cmd \"x\"; stdout \"./a.out\" }",
            Path::new("/cfg"),
        )
        .unwrap_or_else(|r| panic!("{}", r.render(false)));
        assert_eq!(
            c.plan.daemon.socket.as_deref(),
            Some(Path::new("/cfg/run/tm.sock"))
        );
        assert_eq!(
            c.plan.programs["a"].stdout,
            crate::plan::OutputTarget::File("/cfg/a.out".into())
        );
        assert_eq!(
            codes("program a { cmd \"x\"; workingdir \"www\" }"),
            ["workingdir_missing"]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once_in_source_order() {
        let got = codes(
            "program web { numprocs 0; umask 0o1000; cmd \"a\" }\n\
             program web { cmd \"b\"; stopsignal \"NOPE\"; exitcodes 0 256 }\n\
             progam x { }",
        );
        assert_eq!(
            got,
            [
                "numprocs_range",
                "umask_range",
                "duplicate_program",
                "unknown_signal",
                "exitcode_range",
                "unknown_node"
            ]
        );
    }

    #[test]
    fn duplicates() {
        assert_eq!(
            codes("program a { cmd \"x\" }\nprogram a { cmd \"y\" }"),
            ["duplicate_program"]
        );
        assert_eq!(
            codes("program a { cmd \"x\"; cmd \"y\" }"),
            ["duplicate_field"]
        );
        assert_eq!(codes("taskmaster\ntaskmaster"), ["duplicate_taskmaster"]);
        assert_eq!(
            codes("program a { cmd x; env { A \"1\"; A \"2\" } }"),
            ["duplicate_field"]
        );
    }

    #[test]
    fn did_you_mean() {
        let p = compile("t.kdl", "program a { cmd x; numproc 2 }", Path::new("/")).unwrap_err();
        assert_eq!(
            p.problems()[0].help.as_deref(),
            Some("did you mean `numprocs`?")
        );
        let p = compile("t.kdl", "programs a { cmd x }", Path::new("/")).unwrap_err();
        assert_eq!(
            p.problems()[0].help.as_deref(),
            Some("did you mean `program`?")
        );
    }

    #[test]
    fn cmd_forms() {
        assert_eq!(codes("program a"), ["missing_cmd"]);
        assert_eq!(codes("program a { cmd \"  \" }"), ["empty_cmd"]);
        assert_eq!(codes("program a { cmd \"\" \"x\" }"), ["empty_cmd"]);
        assert_eq!(
            codes("program a { cmd \"echo 'hi\" }"),
            ["unbalanced_quotes"]
        );
        assert_eq!(codes("program a { cmd }"), ["missing_value"]);
        assert_eq!(codes("program a { cmd 1 }"), ["wrong_type"]);
        let c = compile(
            "t",
            "program a { cmd \"sh\" \"-c\" \"echo 'a b\" }",
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(c.plan.programs["a"].cmd, ["sh", "-c", "echo 'a b"]);
    }

    #[test]
    fn umask_forms() {
        let umask = |v: &str| {
            compile(
                "t",
                &format!("program a {{ cmd x; umask {v} }}"),
                Path::new("/"),
            )
            .map(|c| (c.plan.programs["a"].umask, c.warnings.problems().len()))
            .map_err(|r| r.problems()[0].code.name())
        };
        assert_eq!(umask("0o022"), Ok((Some(0o022), 0)));
        assert_eq!(umask("\"027\""), Ok((Some(0o027), 0)));
        assert_eq!(umask("022"), Ok((Some(0o022), 1)));
        assert_eq!(umask("18"), Ok((Some(18), 1)));
        assert_eq!(umask("0"), Ok((Some(0), 0)));
        assert_eq!(umask("0o777"), Ok((Some(0o777), 0)));
        assert_eq!(umask("0o1000"), Err("umask_range"));
        assert_eq!(umask("089"), Err("umask_range"));
        assert_eq!(umask("-1"), Err("negative_number"));
        assert_eq!(umask("\"abc\""), Err("umask_range"));
        assert_eq!(umask("#true"), Err("wrong_type"));
    }

    #[test]
    fn values_out_of_bounds() {
        assert_eq!(
            codes("program a { cmd x; numprocs -1 }"),
            ["negative_number"]
        );
        assert_eq!(
            codes("program a { cmd x; numprocs 10001 }"),
            ["numprocs_range"]
        );
        assert_eq!(
            codes("program a { cmd x; startretries -3 }"),
            ["negative_number"]
        );
        assert_eq!(
            codes("program a { cmd x; startretries 4294967296 }"),
            ["number_range"]
        );
        assert_eq!(
            codes("program a { cmd x; starttime -1 }"),
            ["negative_number"]
        );
        assert_eq!(
            codes("program a { cmd x; starttime \"-1s\" }"),
            ["negative_number"]
        );
        assert_eq!(
            codes("program a { cmd x; stoptime \"1 fortnight\" }"),
            ["bad_duration"]
        );
        assert_eq!(
            codes("program a { cmd x; stoptime 86401 }"),
            ["bad_duration"]
        );
        assert_eq!(
            codes("program a { cmd x; stoptime #inf }"),
            ["bad_duration"]
        );
        assert_eq!(
            codes("program a { cmd x; exitcodes -1 }"),
            ["exitcode_range"]
        );
        assert_eq!(
            codes("program a { cmd x; stopsignal 0 }"),
            ["unknown_signal"]
        );
        assert_eq!(
            codes("program a { cmd x; autorestart \"always\" }"),
            ["bad_autorestart"]
        );
        assert_eq!(
            codes("program a { cmd x; autostart \"true\" }"),
            ["wrong_type"]
        );
    }

    #[test]
    fn names_and_shapes() {
        assert_eq!(codes("program { cmd x }"), ["missing_program_name"]);
        assert_eq!(codes("program \"a:b\" { cmd x }"), ["invalid_program_name"]);
        assert_eq!(codes("program \"a b\" { cmd x }"), ["invalid_program_name"]);
        assert_eq!(codes("program \"\" { cmd x }"), ["invalid_program_name"]);
        assert_eq!(codes("program all { cmd x }"), ["invalid_program_name"]);
        assert_eq!(codes("program a b { cmd x }"), ["unexpected_argument"]);
        assert_eq!(
            codes("program a { cmd x; numprocs 1 2 }"),
            ["unexpected_argument"]
        );
        assert_eq!(
            codes("program a { cmd x; numprocs n=1 }"),
            ["unexpected_property"]
        );
        assert_eq!(
            codes("program a { cmd x; numprocs 1 { } }"),
            ["unexpected_children"]
        );
        assert_eq!(
            codes("program a { cmd x; env { \"\" \"v\" } }"),
            ["invalid_env_key"]
        );
        assert_eq!(
            codes("program a { cmd x; env { \"A=B\" \"v\" } }"),
            ["invalid_env_key"]
        );
        assert_eq!(
            codes("program a { cmd x; env { A #true } }"),
            ["wrong_type"]
        );
        assert_eq!(codes("program a { cmd x; stdout \"\" }"), ["empty_path"]);
        assert_eq!(
            codes("program a { cmd x; stdout \"a\\u{0}b\" }"),
            ["nul_byte"]
        );
        assert_eq!(codes("cmd x"), ["unknown_node"]);
        assert_eq!(
            codes("program a { cmd x; socket \"s\" }"),
            ["unknown_field"]
        );
    }

    #[test]
    fn syntax_errors_and_kdl1() {
        assert_eq!(
            codes("program a { cmd \"x\"; autostart true; umask 0o9 }"),
            ["syntax", "syntax"]
        );
        assert_eq!(
            codes("program \"a\" {\n cmd \"x\"\n autostart false\n}\n"),
            ["kdl_v1"]
        );
        let msgs = problems("a {\nb 1.\n");
        assert!(
            msgs.len() >= 2 && msgs.iter().all(|(c, _)| *c == "syntax"),
            "{msgs:?}"
        );
    }

    #[test]
    fn empty_files_are_valid() {
        let c = compile("t", "", Path::new("/")).unwrap();
        assert!(c.plan.programs.is_empty() && c.warnings.is_empty());
        let c = compile("t", "// nothing\n", Path::new("/")).unwrap();
        assert_eq!(c.plan.process_count(), 0);
    }

    #[test]
    fn load_file_reasons() {
        let dir = tempfile::tempdir().unwrap();
        let reason = |p: &Path| match load_file(p) {
            Err(LoadError::Unreadable { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(reason(&dir.path().join("nope.kdl")), "no such file");
        assert_eq!(reason(dir.path()), "it is a directory");
        let bad = dir.path().join("bad.kdl");
        std::fs::write(&bad, b"program \"\xff\"").unwrap();
        assert!(reason(&bad).contains("UTF-8"));
        let good = dir.path().join("good.kdl");
        std::fs::write(&good, "program a { cmd x; stdout \"out/a.log\" }").unwrap();
        let c = load_file(&good).unwrap();
        assert_eq!(
            c.plan.programs["a"].stdout,
            crate::plan::OutputTarget::File(dir.path().join("out/a.log"))
        );
        assert_eq!(c.warnings.problems()[0].code, Code::ParentDirMissing);
    }

    #[test]
    fn configs_over_16_mib_are_refused() {
        let text = " ".repeat(MAX_CONFIG_BYTES as usize + 1);
        assert_eq!(codes(&text), ["config_too_large"]);

        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.kdl");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(MAX_CONFIG_BYTES + 1)
            .unwrap();
        let too_large = |p: &Path| match load_file(p) {
            Err(LoadError::Invalid(r)) => {
                assert_eq!(r.problems().len(), 1);
                assert_eq!(r.problems()[0].code, Code::ConfigTooLarge);
                r.problems()[0].message.clone()
            }
            other => panic!("{other:?}"),
        };
        assert!(too_large(&big).contains("(16777217 bytes)"));
        assert!(too_large(Path::new("/dev/zero")).starts_with("the config is over 16 MiB;"));
    }
}
