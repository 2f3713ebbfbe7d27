//! What supervisord itself refuses to start with, refused by `import` too, each with its
//! file and line: a `%` that is neither `%%` nor `%(name)s` (`directory=%HOME%`; supervisord
//! expands every value with Python's `%`), `environment=` entries separated by `;` instead
//! of `,` (`A=1;B=2` would become one variable `A` holding `1;B=2`), and an `[include]`
//! section without `files=`.
//!
//! Converting such a file anyway would hand over a config that silently differs from what
//! its author meant; failing points at the line to fix.

use super::ini::Ini;

/// The sections supervisord reads (and so expands); others it ignores.
fn read_by_supervisord(name: &str) -> bool {
    let kind = name.split(':').next().unwrap_or(name);
    matches!(
        kind,
        "program"
            | "supervisord"
            | "unix_http_server"
            | "inet_http_server"
            | "supervisorctl"
            | "include"
            | "group"
            | "eventlistener"
            | "fcgi-program"
    )
}

/// Every refusal in `files` (label, parsed file), as `file:line: message`.
pub(super) fn refusals(files: &[(String, Ini)]) -> Vec<String> {
    let mut out = Vec::new();
    for (label, ini) in files {
        for section in ini.sections.iter().filter(|s| read_by_supervisord(&s.name)) {
            if section.name == "include" && section.get("files").is_none() {
                out.push(format!(
                    "{label}:{}: [include] has no `files =` line; supervisord refuses such a \
                     section: list the files to include, or remove it",
                    section.line
                ));
            }
            for entry in &section.entries {
                let value = entry.value.trim();
                if super::expand::lone_percent(value).is_some() {
                    out.push(format!(
                        "{label}:{}: {} = {value}: `%` must be followed by `%` or `(name)s` \
                         (supervisord expands every value and refuses this one); write `%%` \
                         for a literal percent sign, or `%(ENV_HOME)s` for a variable",
                        entry.line, entry.key
                    ));
                }
                if entry.key == "environment" && semicolon_separated(value) {
                    out.push(format!(
                        "{label}:{}: environment = {value}: entries are separated by `,`, not \
                         `;` (supervisord refuses this line); write `A=1,B=2`",
                        entry.line
                    ));
                }
            }
        }
    }
    out
}

/// Whether `KEY=value` pairs are joined with a `;` outside quotes.
fn semicolon_separated(text: &str) -> bool {
    let mut quote = None;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, ';') => return true,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::extras::import::ini;

    fn refused(text: &str) -> Vec<String> {
        refusals(&[("s.conf".to_owned(), ini::parse(text))])
    }

    #[test]
    fn each_refusal_names_its_line() {
        let r = refused("[program:a]\ncommand=x\ndirectory=%HOME%\n");
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(r[0].starts_with("s.conf:3: directory = %HOME%"), "{r:?}");
        let r = refused("[program:a]\ncommand=x\nenvironment=A=1;B=2\n");
        assert!(r[0].starts_with("s.conf:3: environment"), "{r:?}");
        let r = refused("[supervisord]\n\n[include]\n");
        assert!(
            r[0].starts_with("s.conf:3: [include] has no `files =`"),
            "{r:?}"
        );
    }

    #[test]
    fn good_values_pass() {
        assert!(
            refused(
                "[program:a]\ncommand=x 100%%\ndirectory=%(here)s\nenvironment=A=\"1;2\",B=3\n\
                 [include]\nfiles=conf.d/*.conf\n[other]\nx=%bad\n"
            )
            .is_empty()
        );
    }
}
