//! Every `examples/*.kdl` is a valid config with no warnings: a broken example fails here.

use std::path::{Path, PathBuf};

use taskmaster::plan::{self, LoadError};

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("examples/ is readable")
        .map(|entry| entry.expect("examples/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "kdl"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_documented_examples_exist() {
    let names: Vec<String> = examples()
        .iter()
        .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
        .collect();
    for expected in [
        "crashing.kdl",
        "demo.kdl",
        "oneshot.kdl",
        "web.kdl",
        "web-db-migrate.kdl",
        "worker.kdl",
    ] {
        assert!(names.iter().any(|n| n == expected), "missing {expected}");
    }
}

#[test]
fn every_example_is_kdl_2() {
    for file in examples() {
        let text = std::fs::read_to_string(&file).expect("example is readable");
        if let Err(e) = kdl::KdlDocument::parse_v2(&text) {
            panic!("{}: {:?}", file.display(), e.diagnostics);
        }
    }
}

#[test]
fn every_example_compiles_without_warnings() {
    for file in examples() {
        match plan::load_file(&file) {
            Ok(compiled) => {
                assert!(
                    compiled.warnings.is_empty(),
                    "{}: warnings:\n{}",
                    file.display(),
                    compiled.warnings.render(false)
                );
                assert!(!compiled.plan.programs.is_empty(), "{}", file.display());
            }
            Err(LoadError::Invalid(report)) => {
                panic!("{} is invalid:\n{}", file.display(), report.render(false))
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn the_demo_has_what_the_readme_promises() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo.kdl");
    let plan = match plan::load_file(&demo) {
        Ok(compiled) => compiled.plan,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(
        plan.daemon.socket.as_deref(),
        Some(demo.with_file_name("demo.sock").as_path()),
        "the socket sits next to the file"
    );
    assert!(
        plan.programs.values().any(|p| p.numprocs == 3),
        "a program of three processes"
    );
    assert!(
        plan.programs
            .values()
            .any(|p| p.cmd.join(" ").contains("http.server")),
        "a web server"
    );
}
