//! Writing values into unit files so systemd reads back exactly what the plan holds.
//!
//! systemd expands `%` specifiers in most values, expands `$VAR` in command arguments (not
//! in the executable path), splits command lines on whitespace, honours `'`/`"` quotes with
//! C escapes inside, treats a bare `;` as a command separator, and strips the whitespace at
//! both ends of a value. Each function here undoes exactly the parts that apply to its kind of
//! value (checked against `systemd-analyze verify`, systemd 252).

use std::fmt::Write as _;

/// One word of `ExecStart=`. `is_path` for the executable itself, where `$` is literal.
pub fn exec_word(word: &str, is_path: bool) -> String {
    let doubled = double_specials(word, if is_path { "%" } else { "%$" });
    if !word.is_empty() && word.chars().all(is_plain) && word != ";" {
        doubled
    } else {
        quoted(&doubled)
    }
}

/// One `Environment=` assignment, always quoted: `"KEY=value"`. `$` is literal there.
pub fn env_assignment(key: &str, value: &str) -> String {
    quoted(&double_specials(&format!("{key}={value}"), "%"))
}

/// A path for `WorkingDirectory=` or `append:`. `None` when systemd cannot read it back
/// (a control character, or whitespace at its end, which the parser strips).
pub fn path_value(path: &str) -> Option<String> {
    let representable = !path.chars().any(char::is_control)
        && !path.ends_with(char::is_whitespace)
        && !path.starts_with(char::is_whitespace);
    representable.then(|| double_specials(path, "%"))
}

/// Free text for `Description=`: only specifiers are special.
pub fn text_value(text: &str) -> String {
    double_specials(text, "%")
}

/// A unit name component, escaped the way `systemd-escape` does for the characters unit
/// names may not hold: every byte outside `[A-Za-z0-9:_.-]` becomes `\xNN`.
pub fn unit_name_part(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b":_.-".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out
}

/// Characters a command word may hold without quotes.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_./:,+=@^~%$".contains(c) || (!c.is_ascii() && !c.is_control())
}

/// Doubles each of `specials` (`%` → `%%`, `$` → `$$`).
fn double_specials(s: &str, specials: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if specials.contains(c) {
            out.push(c);
        }
        out.push(c);
    }
    out
}

/// `"…"` with C escapes for what cannot stand inside double quotes.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_stay_bare() {
        assert_eq!(exec_word("-m", false), "-m");
        assert_eq!(exec_word("http.server", false), "http.server");
        assert_eq!(exec_word("/usr/bin/python3", true), "/usr/bin/python3");
    }

    #[test]
    fn percent_and_dollar_are_doubled_in_arguments() {
        assert_eq!(exec_word("100%", false), "100%%");
        assert_eq!(exec_word("$HOME", false), "$$HOME");
        assert_eq!(exec_word("date +%T $$", false), "\"date +%%T $$$$\"");
    }

    #[test]
    fn the_executable_path_keeps_its_dollar() {
        assert_eq!(exec_word("/opt/a$b%/x", true), "/opt/a$b%%/x");
        assert_eq!(exec_word("/opt/my prog", true), "\"/opt/my prog\"");
    }

    #[test]
    fn quotes_backslashes_newlines_and_semicolons_are_quoted() {
        assert_eq!(exec_word("a b", false), "\"a b\"");
        assert_eq!(exec_word("it's", false), "\"it's\"");
        assert_eq!(exec_word("say \"hi\"", false), "\"say \\\"hi\\\"\"");
        assert_eq!(exec_word("a\\b", false), "\"a\\\\b\"");
        assert_eq!(exec_word("l1\nl2\t\u{1}", false), "\"l1\\nl2\\t\\x01\"");
        assert_eq!(exec_word(";", false), "\";\"");
        assert_eq!(exec_word("", false), "\"\"");
        assert_eq!(exec_word("é", false), "é");
    }

    #[test]
    fn environment_assignments_escape_percent_but_not_dollar() {
        assert_eq!(env_assignment("A", "x y"), "\"A=x y\"");
        assert_eq!(env_assignment("A", "100% $HOME"), "\"A=100%% $HOME\"");
        assert_eq!(env_assignment("EMPTY", ""), "\"EMPTY=\"");
        assert_eq!(env_assignment("Q", "\"q\""), "\"Q=\\\"q\\\"\"");
    }

    #[test]
    fn paths_double_percent_and_refuse_what_cannot_be_read_back() {
        assert_eq!(
            path_value("/srv/a b/100%").as_deref(),
            Some("/srv/a b/100%%")
        );
        assert_eq!(path_value("/srv/$x").as_deref(), Some("/srv/$x"));
        assert_eq!(path_value("/srv/x "), None);
        assert_eq!(path_value("/srv/a\nb"), None);
    }

    #[test]
    fn unit_names_escape_like_systemd_escape() {
        assert_eq!(unit_name_part("web-1_a.b:c"), "web-1_a.b:c");
        assert_eq!(unit_name_part("a@b"), "a\\x40b");
        assert_eq!(unit_name_part("é"), "\\xc3\\xa9");
        assert_eq!(unit_name_part("a\\b%"), "a\\x5cb\\x25");
    }
}
