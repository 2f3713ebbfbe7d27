//! Nothing a config contains may panic, abort or overflow the compiler: random text, valid
//! fixtures with random characters deleted, inserted or replaced, and hostile KDL (deep
//! nesting, unbalanced braces, thousands of `}` or syslog lines, NULs, huge strings, invalid
//! UTF-8 through `load_file`) all go through the compiler, and whatever comes out is rendered
//! and turned into JSON too. A stack overflow aborts the whole test binary, so a pass here
//! means none happened.
//!
//! The default case counts keep `cargo test` within seconds (256 cases, 32 for the hostile
//! strategies, which build inputs of up to a few hundred KiB). For a long run:
//! `PROPTEST_CASES=20000 cargo test --release --test it fuzz_compile::` (the hostile strategies
//! then run PROPTEST_CASES / 8 cases).

use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use taskmaster::plan::{LoadError, compile, load_file};

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

fn cases() -> Option<u32> {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
}

/// One hostile fragment; a text is a sequence of them.
fn hostile_part() -> impl Strategy<Value = String> {
    let syslog = prop::sample::select(vec![
        "Nov 29 15:14:23 host systemd[1]: Started Session 5 of user root.\n",
        "Nov 29 15:14:23 host sshd[42]: pam_unix(sshd:session): opened for root(uid=0) by (uid=0)\n",
        "Nov 29 15:14:23 host kernel: [12.5] eth0: link up\n",
        "Nov 29 15:14:23 host CRON[7]: (root) CMD (test -x /usr/sbin/x && x 1 1)\n",
    ]);
    prop_oneof![
        // Nesting around the limit, opened and maybe closed.
        (0usize..140, any::<bool>()).prop_map(|(n, close)| {
            let open = "a {".repeat(n);
            if close {
                format!("{open}{}", "}".repeat(n))
            } else {
                open
            }
        }),
        // Many stray closing braces, on lines or not.
        (0usize..30_000, any::<bool>()).prop_map(|(n, lines)| {
            if lines {
                "}\n".repeat(n)
            } else {
                "}".repeat(n)
            }
        }),
        (1usize..8_000, syslog).prop_map(|(n, line)| line.repeat(n)),
        // A huge string, quoted, raw or left open, around the piece size.
        (0usize..200_000, 0usize..3).prop_map(|(n, kind)| {
            let body = "x{\"".repeat(n / 3);
            match kind {
                0 => format!(
                    "program \"p\" {{ cmd \"{}\" }}\n",
                    body.replace('"', "\\\"")
                ),
                1 => format!("program \"p\" {{ cmd #\"{body}\"# }}\n"),
                _ => format!("program \"p\" {{ cmd \"{body}\n"),
            }
        }),
        // NULs and other control characters between real settings.
        prop::collection::vec(
            prop::sample::select(vec![
                "\0", "\u{1}", "\u{7f}", "\u{feff}", "\r", "{", "}", ";", "/*", "*/", "//", "\\",
                "\"", "#"
            ]),
            0..200
        )
        .prop_map(|v| v.concat()),
        Just("program \"web\" {\n    cmd \"sleep 1\"\n}\n".to_owned()),
        Just("[program:web]\ncommand=sleep 1\n".to_owned()),
    ]
}

fn hostile_text() -> impl Strategy<Value = String> {
    prop::collection::vec(hostile_part(), 1..5).prop_map(|parts| parts.concat())
}

/// A folder for the byte-level cases, shared by all of them.
fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// Bytes through `load_file`: invalid UTF-8 is an unreadable file, anything else compiles
/// or is reported.
fn exercise_bytes(bytes: &[u8]) {
    let path = scratch().join(format!("{:?}.kdl", std::thread::current().id()));
    std::fs::write(&path, bytes).unwrap();
    match load_file(&path) {
        Ok(compiled) => assert!(!compiled.warnings.has_errors()),
        Err(LoadError::Invalid(report)) => {
            assert!(report.has_errors());
            let _ = report.render(false);
            let _ = report.to_json();
        }
        Err(LoadError::Unreadable { reason, .. }) => {
            assert!(std::str::from_utf8(bytes).is_err(), "{reason}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases().map_or(32, |c| (c / 8).max(1)),
        ..ProptestConfig::default()
    })]

    #[test]
    fn hostile_kdl_never_aborts(text in hostile_text()) {
        exercise(&text);
    }

    #[test]
    fn hostile_bytes_never_abort(
        text in hostile_text(),
        junk in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
    ) {
        let mut bytes = text.into_bytes();
        for (at, byte) in junk {
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
        }
        exercise_bytes(&bytes);
    }
}

/// Valid KDL 2 with every construct the pre-scan must see through, for the piece-cutting
/// property below.
const TRICKY: &str = r###"
/- program "old" {
    cmd "x { y"
}
/-

// a comment } with { braces
program "t" { cmd "a\" }" "b{" ; numprocs 1 }
program "u" {
    cmd #"raw " } { "# ##"raw "# }"## """
    multi " { line
    """
    env { A "\
        continued" ; B #"}"# }
    /* block { /* nested } */ } */ stopsignal         "TERM" // after a continuation
}
"###;

/// Cutting a big valid file into pieces must not change what it parses to: same nodes, same
/// spans, no error kdl would not give on the whole text.
fn pieces_match_the_whole(text: &str) {
    let whole = kdl::KdlDocument::parse_v2(text);
    let ours = taskmaster::parse::parse(text);
    let (Ok(whole), Ok(ours)) = (whole, ours) else {
        panic!("the pieces or the whole failed to parse");
    };
    fn spans(doc: &kdl::KdlDocument, out: &mut Vec<(usize, usize)>) {
        for n in doc.nodes() {
            out.push((n.span().offset(), n.span().len()));
            for e in n.entries() {
                out.push((e.span().offset(), e.span().len()));
            }
            if let Some(c) = n.children() {
                spans(c, out);
            }
        }
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    spans(&whole, &mut a);
    spans(&ours.doc, &mut b);
    assert!(a == b, "spans differ");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases().map_or(8, |c| (c / 32).max(1)),
        ..ProptestConfig::default()
    })]

    #[test]
    fn big_valid_files_parse_the_same_in_pieces(
        picks in prop::collection::vec(any::<prop::sample::Index>(), 400..1200),
    ) {
        let mut texts: Vec<&str> = vec![TRICKY];
        texts.extend(valid_kdl2_fixtures().iter().map(String::as_str));
        let mut text = String::new();
        for pick in picks {
            text.push_str(texts[pick.index(texts.len())]);
            text.push('\n');
        }
        prop_assume!(text.len() > 2 * taskmaster::parse::CHUNK_BYTES);
        pieces_match_the_whole(&text);
    }
}

/// The valid fixtures that are KDL 2 (some are KDL 1 on purpose).
fn valid_kdl2_fixtures() -> &'static [String] {
    static TEXTS: OnceLock<Vec<String>> = OnceLock::new();
    TEXTS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid");
        let mut texts: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .filter(|t| kdl::KdlDocument::parse_v2(t).is_ok())
            .collect();
        texts.sort();
        texts
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases().unwrap_or(256),
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
