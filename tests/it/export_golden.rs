//! Golden files for both exports of every shipped example, every valid fixture and every
//! export fixture (`tests/fixtures/export`, one per thing that cannot map): the unit files or
//! manifests, and the warnings the command prints for what could not map.
//!
//! Configs are compiled as if they lived in `/srv/config` and exported with PATH
//! `/usr/bin:/bin`, so the snapshots do not depend on the checkout or the machine's PATH.

use std::path::Path;

use taskmaster::export::{ExportEnv, Unmapped, kubernetes, systemd};
use taskmaster::plan::{Plan, compile};

const BASE: &str = "/srv/config";

fn plan_of(path: &Path) -> (String, Plan) {
    let text = std::fs::read_to_string(path).expect("config readable");
    let file = path
        .file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned();
    let plan = compile(&file, &text, Path::new(BASE))
        .unwrap_or_else(|r| panic!("{file}: {}", r.render(false)))
        .plan;
    (file, plan)
}

fn warnings(unmapped: &[Unmapped]) -> String {
    if unmapped.is_empty() {
        return "(no warnings)\n".to_owned();
    }
    // As `taskmaster export` prints them: a note shared by several programs once.
    taskmaster::export::warning_lines(unmapped)
        .iter()
        .map(|line| format!("warning: {line}\n"))
        .collect()
}

fn systemd_golden(path: &Path) -> String {
    let (file, plan) = plan_of(path);
    let env = ExportEnv {
        path: Some("/usr/bin:/bin".into()),
        cwd: BASE.into(),
        taskmaster: "/usr/local/bin/taskmaster".into(),
    };
    let name = taskmaster::export::config_name(path);
    let exported = systemd::export(&plan, &name, &file, &env).expect("exports");
    let mut out = format!("== stderr ==\n{}", warnings(&exported.unmapped));
    for unit in &exported.units {
        out.push_str(&format!("\n== {} ==\n{}", unit.name, abridged(&unit.text)));
    }
    out
}

/// The text with a long run of `Wants=` lines (10000 for bounds_high) cut to its ends, so
/// the golden stays readable; export_verify checks the whole target.
fn abridged(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let wants: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("Wants="))
        .collect();
    let (Some(&first), Some(&last)) = (wants.first(), wants.last()) else {
        return text.to_owned();
    };
    if wants.len() <= 12 {
        return text.to_owned();
    }
    let mut out: Vec<String> = lines[..first + 3].iter().map(ToString::to_string).collect();
    out.push(format!("[… {} more Wants= lines …]", wants.len() - 6));
    out.extend(lines[last - 2..].iter().map(ToString::to_string));
    out.join("\n") + "\n"
}

fn kubernetes_golden(path: &Path) -> String {
    let (file, plan) = plan_of(path);
    let options = kubernetes::Options {
        image: "registry.example/app:1.0".into(),
        namespace: None,
    };
    let name = taskmaster::export::config_name(path);
    let exported = kubernetes::export(&plan, &name, &file, &options);
    format!(
        "== stderr ==\n{}\n== stdout ==\n{}",
        warnings(&exported.unmapped),
        exported.to_yaml().expect("YAML")
    )
}

#[test]
fn systemd_examples() {
    insta::glob!("../../examples", "*.kdl", |path| {
        insta::assert_snapshot!(systemd_golden(path));
    });
}

#[test]
fn systemd_valid_fixtures() {
    insta::glob!("../fixtures/valid", "*.kdl", |path| {
        insta::assert_snapshot!(systemd_golden(path));
    });
}

#[test]
fn systemd_export_fixtures() {
    insta::glob!("../fixtures/export", "*.kdl", |path| {
        insta::assert_snapshot!(systemd_golden(path));
    });
}

#[test]
fn kubernetes_examples() {
    insta::glob!("../../examples", "*.kdl", |path| {
        insta::assert_snapshot!(kubernetes_golden(path));
    });
}

#[test]
fn kubernetes_valid_fixtures() {
    insta::glob!("../fixtures/valid", "*.kdl", |path| {
        insta::assert_snapshot!(kubernetes_golden(path));
    });
}

#[test]
fn kubernetes_export_fixtures() {
    insta::glob!("../fixtures/export", "*.kdl", |path| {
        insta::assert_snapshot!(kubernetes_golden(path));
    });
}

/// Each export fixture exists to show something that cannot map: its golden must hold that
/// thing's comment and warning for at least one engine.
#[test]
fn every_cannot_map_fixture_shows_a_comment_and_a_warning() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/export");
    for entry in std::fs::read_dir(dir).expect("fixtures") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        if !name.starts_with("cannot_map_") {
            continue;
        }
        let both = [systemd_golden(&path), kubernetes_golden(&path)];
        let shown = both.iter().any(|golden| {
            golden
                .lines()
                .filter(|l| l.starts_with("warning: "))
                .any(|w| {
                    let setting = w
                        .split_once("cannot map ")
                        .map(|(_, rest)| rest.split(':').next().unwrap_or(rest))
                        .unwrap_or_default();
                    !setting.starts_with("starttime")
                        && golden.contains(&format!("# cannot map {setting}"))
                })
        });
        assert!(
            shown,
            "{name}: no warning beyond starttime with its comment in either export"
        );
    }
}
