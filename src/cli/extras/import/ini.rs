//! The INI dialect supervisord reads (Python's `RawConfigParser` as supervisord configures
//! it): `[section]` headers, `key = value` or `key: value`, whole-line `;`/`#` comments,
//! inline comments after whitespace (`cmd ; note`), indented continuation lines, option
//! names folded to lower case, and repeated sections or keys merged with the last one winning.
//!
//! No INI crate reproduces this dialect and keeps line numbers for warnings, so this small
//! parser does; `%(…)s` expansions are [`super::expand`]'s job.

/// A parsed file: its sections in first-seen order.
#[derive(Debug, Default)]
pub(super) struct Ini {
    pub sections: Vec<Section>,
    /// Lines that could not be read (with their number), for warnings.
    pub problems: Vec<(usize, String)>,
}

#[derive(Debug)]
pub(super) struct Section {
    pub name: String,
    pub line: usize,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// Lower-cased, as configparser does.
    pub key: String,
    /// Continuation lines joined with `\n`.
    pub value: String,
    pub line: usize,
}

impl Section {
    /// The value of `key`, if set.
    pub(super) fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    fn set(&mut self, entry: Entry) {
        match self.entries.iter_mut().find(|e| e.key == entry.key) {
            Some(old) => *old = entry,
            None => self.entries.push(entry),
        }
    }
}

/// Strips an inline comment: `;` or `#` preceded by whitespace.
fn strip_inline_comment(value: &str) -> &str {
    let bytes = value.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if (b == b';' || b == b'#') && i > 0 && bytes[i - 1].is_ascii_whitespace() {
            return value[..i].trim_end();
        }
    }
    value
}

fn is_comment(trimmed: &str) -> bool {
    trimmed.starts_with(';') || trimmed.starts_with('#')
}

/// Parses supervisord's INI dialect. Never fails: unreadable lines become [`Ini::problems`].
pub(super) fn parse(text: &str) -> Ini {
    let mut ini = Ini::default();
    // Index of the current section and of the entry a continuation line extends.
    let mut current: Option<usize> = None;
    let mut last_key: Option<String> = None;
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            last_key = None;
            continue;
        }
        if is_comment(trimmed) {
            continue;
        }
        let indented = raw.starts_with([' ', '\t']);
        if indented && let (Some(section), Some(key)) = (current, last_key.as_ref()) {
            let section = &mut ini.sections[section];
            if let Some(entry) = section.entries.iter_mut().find(|e| &e.key == key) {
                let more = strip_inline_comment(trimmed);
                if !more.is_empty() {
                    if !entry.value.is_empty() {
                        entry.value.push('\n');
                    }
                    entry.value.push_str(more);
                }
                continue;
            }
        }
        if let Some(rest) = trimmed.strip_prefix('[') {
            let Some(end) = rest.find(']') else {
                ini.problems
                    .push((number, format!("unclosed section header `{trimmed}`")));
                current = None;
                continue;
            };
            let name = rest[..end].trim().to_owned();
            last_key = None;
            current = Some(match ini.sections.iter().position(|s| s.name == name) {
                Some(existing) => existing,
                None => {
                    ini.sections.push(Section {
                        name,
                        line: number,
                        entries: Vec::new(),
                    });
                    ini.sections.len() - 1
                }
            });
            continue;
        }
        let Some(split) = trimmed.find(['=', ':']) else {
            ini.problems.push((
                number,
                format!("`{trimmed}` is neither `key = value` nor a section"),
            ));
            continue;
        };
        let key = trimmed[..split].trim().to_lowercase();
        let value = strip_inline_comment(trimmed[split + 1..].trim()).to_owned();
        let Some(section) = current else {
            ini.problems
                .push((number, format!("`{key}` is outside any [section]")));
            continue;
        };
        ini.sections[section].set(Entry {
            key: key.clone(),
            value,
            line: number,
        });
        last_key = Some(key);
    }
    ini
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_keys_comments_and_continuations() {
        let ini = parse(
            "; top comment\n\
             [program:web]\n\
             Command = python3 -m http.server ; serve files\n\
             environment=A=\"1\",\n\
             \x20   B=\"2\"\n\
             # a comment\n\
             numprocs: 2\n\
             url=http://x/#anchor\n\
             \n\
             [supervisord]\n\
             logfile=/tmp/s.log\n\
             [program:web]\n\
             numprocs=3\n",
        );
        assert!(ini.problems.is_empty(), "{:?}", ini.problems);
        assert_eq!(ini.sections.len(), 2);
        let web = &ini.sections[0];
        assert_eq!(web.name, "program:web");
        assert_eq!(web.get("command").unwrap().value, "python3 -m http.server");
        assert_eq!(web.get("command").unwrap().line, 3);
        assert_eq!(web.get("environment").unwrap().value, "A=\"1\",\nB=\"2\"");
        assert_eq!(web.get("numprocs").unwrap().value, "3");
        assert_eq!(web.get("url").unwrap().value, "http://x/#anchor");
        assert_eq!(ini.sections[1].get("logfile").unwrap().value, "/tmp/s.log");
    }

    #[test]
    fn bad_lines_are_reported_not_fatal() {
        let ini = parse("orphan=1\n[program:a]\njunk\n[broken\ncommand=x\n");
        let lines: Vec<usize> = ini.problems.iter().map(|(n, _)| *n).collect();
        assert_eq!(lines, [1, 3, 4, 5]);
    }
}
