//! Recognises an INI file (a supervisord.conf) handed to the KDL parser, so `check` can
//! say "use `taskmaster import`" once instead of printing dozens of KDL syntax errors.

use std::ops::Range;

/// The span of the first `[section]` header when `text` has the shape of an INI file: its
/// first line that is neither blank nor a `;`/`#` comment is a `[section]` header, and some
/// later line is a `key = value` or `key: value` entry.
pub(super) fn first_section(text: &str) -> Option<Range<usize>> {
    let mut lines = text
        .split_inclusive('\n')
        .scan(0usize, |offset, line| {
            let start = *offset;
            *offset += line.len();
            Some((start, line))
        })
        .filter(|(_, line)| {
            let t = line.trim();
            !t.is_empty() && !t.starts_with(';') && !t.starts_with('#')
        })
        .take(200);
    let (start, line) = lines.next()?;
    let header = line.trim();
    if !is_section(header) {
        return None;
    }
    let lead = line.len() - line.trim_start().len();
    let has_entry = lines.any(|(_, l)| is_entry(l.trim()));
    has_entry.then(|| start + lead..start + lead + header.len())
}

fn is_section(t: &str) -> bool {
    t.len() > 2
        && t.starts_with('[')
        && t.ends_with(']')
        && !t[1..t.len() - 1].contains(['[', ']', '{', '}', '"'])
}

fn is_entry(t: &str) -> bool {
    let Some(at) = t.find(['=', ':']) else {
        return false;
    };
    let key = t[..at].trim();
    !key.is_empty()
        && key
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"_-.".contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supervisord_configs_are_recognised() {
        let text = "; comment\n\n[supervisord]\nnodaemon=true\n\n[program:web]\ncommand = x\n";
        let span = first_section(text).unwrap();
        assert_eq!(&text[span], "[supervisord]");
        assert!(first_section("  [program:x]\n  command: y\n").is_some());
    }

    #[test]
    fn kdl_is_not_ini() {
        for text in [
            "",
            "program web { cmd x }",
            "[x]\n",
            "[x]\nprogram a { cmd \"b=c\" }\n",
            "a\n[x]\nk=v\n",
        ] {
            assert_eq!(first_section(text), None, "{text}");
        }
    }
}
