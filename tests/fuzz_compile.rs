//! Nothing a config contains may panic the compiler: random text, and valid fixtures with
//! random characters deleted, inserted or replaced, all go through `compile`, and whatever
//! comes out is rendered and turned into JSON too.
//!
//! The default case count keeps CI fast; for a long run: `PROPTEST_CASES=20000 cargo test
//! --release --test fuzz_compile`.

use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use taskmaster::plan::compile;

fn exercise(text: &str) {
    let report = match compile("fuzz.kdl", text, Path::new("/cfg")) {
        Ok(compiled) => {
            assert!(!compiled.warnings.has_errors());
            compiled.warnings
        }
        Err(report) => {
            assert!(report.has_errors());
            report
        }
    };
    let _ = report.render(false);
    let json = report.to_json();
    assert_eq!(json["valid"], !report.has_errors());
}

fn fixtures() -> &'static [String] {
    static TEXTS: OnceLock<Vec<String>> = OnceLock::new();
    TEXTS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut texts = Vec::new();
        for dir in ["valid", "invalid"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                texts.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
            }
        }
        texts.sort();
        texts
    })
}

/// Characters that matter to KDL and to the validator, plus anything at all.
fn interesting_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(vec![
            '{', '}', '"', '#', ';', '=', '\\', '/', '*', '\n', '\r', ' ', '\t', '(', ')', '-',
            '.', '0', '1', '7', '9', 'o', 'x', 'e', '_', ':', 'r', '\u{0}', '\u{feff}',
            '\u{2028}', 'é', '💥',
        ]),
        1 => any::<char>(),
    ]
}

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize),
    Insert(usize, char),
    Replace(usize, char),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), interesting_char()).prop_map(|(i, c)| Edit::Insert(i, c)),
        (any::<usize>(), interesting_char()).prop_map(|(i, c)| Edit::Replace(i, c)),
    ]
}

fn mutate(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for e in edits {
        let len = chars.len();
        match *e {
            Edit::Delete(i) if len > 0 => {
                chars.remove(i % len);
            }
            Edit::Insert(i, c) => chars.insert(i % (len + 1), c),
            Edit::Replace(i, c) if len > 0 => chars[i % len] = c,
            _ => {}
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_text_never_panics(text in "\\PC*") {
        exercise(&text);
    }

    #[test]
    fn random_kdl_ish_text_never_panics(chars in prop::collection::vec(interesting_char(), 0..200)) {
        exercise(&chars.into_iter().collect::<String>());
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..8),
    ) {
        let texts = fixtures();
        exercise(&mutate(&texts[which.index(texts.len())], &edits));
    }
}
