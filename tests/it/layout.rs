//! The test suite's layout stays one binary: a test file or snapshot added where the old
//! layout kept them (a branch that forked before the fold) is named here, with where it goes.

use std::path::Path;

#[test]
fn every_test_lives_in_tests_it_and_every_snapshot_in_tests_it_snapshots() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut misplaced = Vec::new();
    for entry in std::fs::read_dir(&tests).expect("read tests/").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".rs") {
            misplaced.push(format!(
                "tests/{name}: a separate test binary; make it tests/it/{name} and add `mod {};` to tests/it/main.rs",
                name.trim_end_matches(".rs")
            ));
        }
    }
    if let Ok(dir) = std::fs::read_dir(tests.join("snapshots")) {
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            misplaced.push(format!(
                "tests/snapshots/{name}: `git mv` it to tests/it/snapshots/it__{name} (and its `source:` line to tests/it/…)"
            ));
        }
    }
    assert!(misplaced.is_empty(), "{}", misplaced.join("\n"));
}
