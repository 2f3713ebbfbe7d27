//! The `env-file` format: `KEY=VALUE` lines, the subset that systemd's `EnvironmentFile=`,
//! docker's `--env-file` and dotenv files share.
//!
//! - blank lines, and lines whose first non-blank character is `#`, are skipped (a `#`
//!   later in a line is part of the value, as in systemd and docker);
//! - an optional `export ` before the key (files written to be `source`d work as they are);
//! - the key: a letter or `_`, then letters, digits and `_`; blanks around `=` are dropped;
//! - the value: the rest of the line with surrounding blanks dropped; or `'…'` taken
//!   literally; or `"…"` where `\n`, `\t`, `\"`, `\\` and `\$` are escapes (any other
//!   backslash stays). After a closing quote only blanks or a `# comment` may follow.
//!   Quoted values end on their line (no multi-line values);
//! - no `$VAR` expansion: `$` is an ordinary character;
//! - a key given twice: the later line wins, as in a shell.
//!
//! Anything else is an `env_file_syntax` error whose span points into the file. A file is
//! read whole, at most [`MAX_ENV_FILE_BYTES`].

use std::io::Read as _;
use std::ops::Range;
use std::path::Path;

/// The largest env file read: 1 MiB (environments beyond that do not fit `execve` anyway).
pub const MAX_ENV_FILE_BYTES: u64 = 1024 * 1024;

/// One line that does not parse: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub span: Range<usize>,
    pub message: String,
    pub label: &'static str,
}

/// Reads an env file's text (UTF-8, at most [`MAX_ENV_FILE_BYTES`]); the error says why not.
pub fn read(path: &Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    })?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let mut bytes = Vec::new();
    file.take(MAX_ENV_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_ENV_FILE_BYTES {
        return Err("it is over 1 MiB".into());
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "not valid UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Every `KEY=VALUE` of `text` in file order, or every line that does not parse.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, Vec<LineError>> {
    let mut vars = Vec::new();
    let mut errors = Vec::new();
    let mut start = 0;
    for raw in text.split_inclusive('\n') {
        let line = raw.trim_end_matches(['\n', '\r']);
        match parse_line(line, start) {
            Ok(Some(kv)) => vars.push(kv),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
        start += raw.len();
    }
    if errors.is_empty() {
        Ok(vars)
    } else {
        Err(errors)
    }
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn parse_line(line: &str, at: usize) -> Result<Option<(String, String)>, LineError> {
    let body = line.trim_start_matches(is_blank);
    let mut pos = at + (line.len() - body.len());
    if body.is_empty() || body.starts_with('#') {
        return Ok(None);
    }
    let err = |span: Range<usize>, message: String, label| LineError {
        span,
        message,
        label,
    };
    let mut rest = body;
    if let Some(after) = rest.strip_prefix("export")
        && after.starts_with(is_blank)
    {
        let trimmed = after.trim_start_matches(is_blank);
        pos += rest.len() - trimmed.len();
        rest = trimmed;
    }
    let Some(eq) = rest.find('=') else {
        return Err(err(
            pos..pos + rest.len(),
            "expected KEY=VALUE".to_owned(),
            "no `=`",
        ));
    };
    let key = rest[..eq].trim_end_matches(is_blank);
    let key_ok = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !key_ok {
        let span = if key.is_empty() {
            pos..pos + eq + 1
        } else {
            pos..pos + key.len()
        };
        return Err(err(
            span,
            if key.is_empty() {
                "a line with no variable name before `=`".to_owned()
            } else {
                format!("`{key}` is not a variable name")
            },
            "not a name",
        ));
    }
    let after_eq = &rest[eq + 1..];
    let value_text = after_eq.trim_start_matches(is_blank);
    let value_at = pos + eq + 1 + (after_eq.len() - value_text.len());
    let value = value(value_text, value_at)?;
    if value.contains('\0') {
        return Err(err(
            value_at..value_at + value_text.len(),
            format!("the value of `{key}` contains a NUL character"),
            "contains \\0",
        ));
    }
    Ok(Some((key.to_owned(), value)))
}

fn value(text: &str, at: usize) -> Result<String, LineError> {
    let Some(quote @ ('"' | '\'')) = text.chars().next() else {
        return Ok(text.trim_end_matches(is_blank).to_owned());
    };
    let mut out = String::new();
    let mut chars = text.char_indices().skip(1);
    let mut end = None;
    while let Some((i, c)) = chars.next() {
        if c == quote {
            end = Some(i);
            break;
        }
        if quote == '"' && c == '\\' {
            match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, e @ ('"' | '\\' | '$'))) => out.push(e),
                Some((_, other)) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
            continue;
        }
        out.push(c);
    }
    let Some(end) = end else {
        return Err(LineError {
            span: at..at + text.len(),
            message: format!(
                "the {} quote is never closed on this line",
                quote_name(quote)
            ),
            label: "unclosed quote",
        });
    };
    let tail = text[end + 1..].trim_start_matches(is_blank);
    if !tail.is_empty() && !tail.starts_with('#') {
        let tail_at = at + text.len() - tail.len();
        return Err(LineError {
            span: tail_at..at + text.len(),
            message: "text after the closing quote".to_owned(),
            label: "after the value",
        });
    }
    Ok(out)
}

fn quote_name(q: char) -> &'static str {
    if q == '"' { "double" } else { "single" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<(String, String)> {
        parse(text).unwrap_or_else(|e| panic!("{text:?}: {e:?}"))
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_shared_subset_parses() {
        let text = "# comment\n\n  A=1\nexport B = two words  \nC='$HOME # not a comment'\n\
                    D=\"a\\nb \\\"q\\\" \\$x \\d\" # trailing\nE=\nF=x#y\r\nA=again\n";
        assert_eq!(
            ok(text),
            pairs(&[
                ("A", "1"),
                ("B", "two words"),
                ("C", "$HOME # not a comment"),
                ("D", "a\nb \"q\" $x \\d"),
                ("E", ""),
                ("F", "x#y"),
                ("A", "again"),
            ])
        );
        assert_eq!(ok("export=1"), pairs(&[("export", "1")]));
    }

    #[test]
    fn bad_lines_point_at_their_fault() {
        let text = "A=1\nnot a line\n1X=2\n=3\nQ=\"open\nR='x' y\n";
        let errors = parse(text).unwrap_err();
        let at: Vec<&str> = errors.iter().map(|e| &text[e.span.clone()]).collect();
        assert_eq!(at, ["not a line", "1X", "=", "\"open", "y"]);
        assert!(errors[3].message.contains("double quote"));
    }
}
