//! The README keeps what a newcomer needs: its two commands (the demo and the test suite),
//! the Rust version `Cargo.toml` asks for, the demo's other prerequisites, how to install,
//! and license files that match `Cargo.toml`'s `license`.

use std::path::Path;

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The value of `key = "…"` in Cargo.toml's `[package]`.
fn package_value(key: &str) -> String {
    let manifest = read("Cargo.toml");
    manifest
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| panic!("no {key} in Cargo.toml"))
}

#[test]
fn readme_keeps_its_two_commands_and_the_prerequisites() {
    let readme = read("README.md");
    for needed in [
        "cargo run --release -- run examples/demo.kdl",
        "cargo test",
        "cargo install --path .",
        "python3",
        "curl",
        "8080",
        "taskmaster completions bash",
        "taskmaster man --dir",
        "mdbook build book",
        "TASKMASTER_SOCKET",
    ] {
        assert!(readme.contains(needed), "README.md lacks `{needed}`");
    }
    let rust = package_value("rust-version");
    assert!(
        readme.contains(&format!("Rust **{rust}**")),
        "README.md should name rust-version {rust}"
    );
}

#[test]
fn license_files_match_cargo_toml() {
    assert_eq!(package_value("license"), "MIT OR Apache-2.0");
    assert!(read("LICENSE-MIT").contains("Permission is hereby granted, free of charge"));
    assert!(
        read("LICENSE-APACHE").contains("Apache License\n                           Version 2.0")
    );
    let readme = read("README.md");
    assert!(readme.contains("(LICENSE-MIT)") && readme.contains("(LICENSE-APACHE)"));
}
