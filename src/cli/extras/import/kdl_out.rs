//! Writing KDL text: strings escaped so any value round-trips, comments kept on one line.

/// A KDL string literal (`"…"`) for any text.
pub(super) fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if must_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Code points KDL forbids in a document (control characters, direction overrides, BOM).
fn must_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// A node name: bare when it is a plain identifier, else a string.
pub(super) fn name(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        && !text.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.')
        && !matches!(text, "true" | "false" | "null" | "inf" | "nan");
    if plain { text.to_owned() } else { string(text) }
}

/// `// text` with anything that would end or break the comment replaced by a space.
pub(super) fn comment(indent: &str, text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if must_escape(c) { ' ' } else { c })
        .collect();
    format!("{indent}// {clean}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_what_kdl_needs() {
        assert_eq!(string(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        assert_eq!(string("x\ny\u{1b}"), "\"x\\ny\\u{1b}\"");
    }

    #[test]
    fn names_are_bare_only_when_safe() {
        assert_eq!(name("PATH_2"), "PATH_2");
        assert_eq!(name("2X"), "\"2X\"");
        assert_eq!(name("a b"), "\"a b\"");
        assert_eq!(name("true"), "\"true\"");
    }

    #[test]
    fn comments_stay_on_one_line() {
        assert_eq!(comment("  ", "a\nb"), "  // a b\n");
    }
}
