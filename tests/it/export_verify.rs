//! Every shipped example, every valid fixture, every export fixture and the nspawn boot
//! config (`tests/export_nspawn`), exported by the real binary and checked by the engines' own
//! tools:
//!
//! - `systemd-analyze verify --man=no` on the first and last instance of every program
//!   (`tm-web@0.service`, resolved to its template) together with the target: exit 0 **and**
//!   nothing on stderr (it exits 0 on unknown keys and bad values, printing only a warning);
//! - `kubernetes-validate --strict` against the pinned Kubernetes versions, for the YAML and
//!   for each object of the JSON list.
//!
//! A validator that is missing fails the test under `CI=true` (`.ci/run` installs both) and is
//! skipped with a loud message otherwise. `kubernetes-validate` is looked for in
//! `$TASKMASTER_KUBERNETES_VALIDATE`, then `.venv/bin/` (where `.ci/run` puts it), then PATH.
//!
//! `cmd "x"` in a fixture names no real program; a stub of that name on the export's PATH
//! stands for "installed on the target host", since `verify` checks that ExecStart= exists.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The Kubernetes versions every manifest must be valid for: the oldest one the book promises
/// and the newest the pinned kubernetes-validate knows.
const KUBERNETES_VERSIONS: &[&str] = &["1.32.0", "1.37.0"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every config the export must handle.
fn configs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in [
        "examples",
        "tests/fixtures/valid",
        "tests/fixtures/export",
        "tests/export_nspawn",
    ] {
        let mut found: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "kdl"))
            .collect();
        found.sort();
        assert!(!found.is_empty(), "no configs in {dir}");
        out.extend(found);
    }
    out
}

/// Finds a validator, or says loudly why the test does not run (and fails under CI).
fn validator(name: &str, candidates: &[PathBuf]) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    let found = candidates.iter().find(|p| p.is_file()).cloned().or(on_path);
    if found.is_none() {
        let message = format!(
            "{name} is not installed: the export is NOT checked by it. `.ci/run` installs it \
             (apt-get install systemd; a venv with pip install kubernetes-validate)"
        );
        assert!(!std::env::var("CI").is_ok_and(|v| v == "true"), "{message}");
        // Written to stderr directly: the test harness captures eprintln! of passing tests,
        // and a skip must be seen.
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "\n!!!!!!!!!! SKIPPED: {message}\n");
    }
    found
}

/// Runs `taskmaster export …` for `config`; fails the test unless it exits 0.
fn export(config: &Path, args: &[&std::ffi::OsStr], path: &std::ffi::OsStr) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_taskmaster"))
        .args(args)
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .output()
        .expect("taskmaster runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}: export failed: {}",
        config.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A PATH holding a stub for every program the config names that is not installed here.
fn path_with_stubs(config: &Path, stubs: &Path) -> std::ffi::OsString {
    let system = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    let text = std::fs::read_to_string(config).expect("config readable");
    let base = config.parent().expect("config folder");
    let plan = taskmaster::plan::compile("c.kdl", &text, base)
        .expect("valid config")
        .plan;
    for spec in plan.programs.values() {
        let program = &spec.cmd[0];
        let path = spec
            .env
            .get("PATH")
            .map_or(system.as_os_str(), std::ffi::OsStr::new);
        if !program.contains('/')
            && !std::env::split_paths(path).any(|dir| dir.join(program).is_file())
        {
            let stub = stubs.join(program);
            std::fs::write(&stub, "#!/bin/sh\nexit 0\n").expect("stub written");
            std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .expect("stub executable");
        }
    }
    let mut dirs = vec![stubs.to_path_buf()];
    dirs.extend(std::env::split_paths(&system));
    std::env::join_paths(dirs).expect("joinable PATH")
}

#[test]
fn every_systemd_export_passes_systemd_analyze_verify_silently() {
    let Some(verify) = validator("systemd-analyze", &[]) else {
        return;
    };
    let mut failures = Vec::new();
    for config in configs() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (stubs, units) = (tmp.path().join("stubs"), tmp.path().join("units"));
        std::fs::create_dir(&stubs).expect("mkdir");
        let path = path_with_stubs(&config, &stubs);
        export(
            &config,
            &[
                "export".as_ref(),
                "systemd".as_ref(),
                config.as_os_str(),
                "--dir".as_ref(),
                units.as_os_str(),
            ],
            &path,
        );
        // The first and last instance of every program (autostart or not; the instances
        // of one template differ only in %i), and the target, which loads every instance
        // it wants. Naming all 10000 instances of bounds_high takes verify minutes.
        let plan = taskmaster::plan::load_file(&config).expect("valid").plan;
        let mut args: Vec<PathBuf> = Vec::new();
        for spec in plan.programs.values() {
            let mut ends = vec![0, spec.numprocs - 1];
            ends.dedup();
            for i in ends {
                args.push(units.join(taskmaster::export::systemd::instance_name(&spec.name, i)));
            }
        }
        let target = std::fs::read_dir(&units)
            .expect("units written")
            .map(|e| e.expect("entry").path())
            .find(|p| p.extension().is_some_and(|e| e == "target"))
            .expect("a target was written");
        args.push(target);
        let checked = Command::new(&verify)
            .args(["verify", "--man=no"])
            .args(&args)
            .env("PATH", &path)
            .output()
            .expect("systemd-analyze runs");
        let stderr = String::from_utf8_lossy(&checked.stderr);
        if !checked.status.success() || !stderr.trim().is_empty() {
            failures.push(format!(
                "{}: systemd-analyze verify exited {:?}:\n{stderr}",
                config.display(),
                checked.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Runs kubernetes-validate on `files` for every pinned version; returns the failures.
fn kubernetes_validate(tool: &Path, files: &[PathBuf], expected_objects: usize) -> Vec<String> {
    let mut failures = Vec::new();
    for version in KUBERNETES_VERSIONS {
        let out = Command::new(tool)
            .args(["--strict", "-k", version])
            .args(files)
            .output()
            .expect("kubernetes-validate runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let passed = stdout.lines().filter(|l| l.contains(" passed ")).count();
        let warned = stdout.contains("WARN") || stderr.contains("WARN");
        if !out.status.success() || warned || passed != expected_objects {
            failures.push(format!(
                "kubernetes-validate -k {version}: exit {:?}, {passed} of {expected_objects} \
                 objects passed:\n{stdout}{stderr}",
                out.status.code()
            ));
        }
    }
    failures
}

#[test]
fn every_kubernetes_export_passes_kubernetes_validate_strict() {
    let venv = root().join(".venv/bin/kubernetes-validate");
    let mut candidates = vec![venv];
    if let Some(tool) = std::env::var_os("TASKMASTER_KUBERNETES_VALIDATE") {
        candidates.insert(0, PathBuf::from(tool));
    }
    let Some(tool) = validator("kubernetes-validate", &candidates) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let system = std::env::var_os("PATH").unwrap_or_default();
    let (mut yaml_files, mut json_files) = (Vec::new(), Vec::new());
    let mut objects = 0;
    for (n, config) in configs().iter().enumerate() {
        let export = |format: &str| {
            let out = export(
                config,
                &[
                    "export".as_ref(),
                    "kubernetes".as_ref(),
                    config.as_os_str(),
                    "--image".as_ref(),
                    "registry.example/app:1.0".as_ref(),
                    "--namespace".as_ref(),
                    "apps".as_ref(),
                    "--format".as_ref(),
                    format.as_ref(),
                ],
                &system,
            );
            String::from_utf8(out.stdout).expect("UTF-8 output")
        };
        let yaml = tmp.path().join(format!("{n}.yaml"));
        std::fs::write(&yaml, export("yaml")).expect("write");
        yaml_files.push(yaml);
        // kubernetes-validate has no schema for a v1 List: check its items one by one.
        let list: serde_json::Value =
            serde_json::from_str(&export("json")).expect("JSON output parses");
        let items = list["items"].as_array().expect("a List with items");
        for (i, item) in items.iter().enumerate() {
            let file = tmp.path().join(format!("{n}-{i}.json"));
            std::fs::write(&file, item.to_string()).expect("write");
            json_files.push(file);
        }
        let plan = taskmaster::plan::load_file(config).expect("valid").plan;
        assert_eq!(items.len(), plan.programs.len(), "{}", config.display());
        objects += plan.programs.len();
    }
    let mut failures = kubernetes_validate(&tool, &yaml_files, objects);
    failures.extend(kubernetes_validate(&tool, &json_files, objects));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
