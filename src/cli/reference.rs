//! The exit statuses and environment variables every command shares, one table each. The
//! [`super::exit`] constants, `taskmaster --help`'s epilogue and the man page's EXIT STATUS
//! and ENVIRONMENT sections are rendered from these tables, and `tests/it/book.rs` checks the
//! book's tables (book/src/cli/index.md) against them, so the text lives here only.
//!
//! Texts are plain sentences in which `backticks` mark a literal: the help strips them, the
//! man page sets them in bold, the book keeps them as Markdown code.

use super::exit;

/// One exit status and what it means.
#[derive(Debug, Clone, Copy)]
pub struct ExitStatus {
    pub code: u8,
    pub meaning: &'static str,
}

/// Every exit status a command uses (`Ctrl-C` aside, which gives the shell's 130).
pub const EXIT_STATUSES: &[ExitStatus] = &[
    ExitStatus {
        code: exit::OK,
        meaning: "success",
    },
    ExitStatus {
        code: exit::FAILED,
        meaning: "an invalid config, an unknown name, or a failed action (for `diff`: changes pending)",
    },
    ExitStatus {
        code: exit::USAGE,
        meaning: "a usage error or an unreadable file",
    },
    ExitStatus {
        code: exit::UNREACHABLE,
        meaning: "the daemon cannot be reached",
    },
];

/// One environment variable taskmaster reads and what it does.
#[derive(Debug, Clone, Copy)]
pub struct EnvVar {
    pub name: &'static str,
    pub meaning: &'static str,
}

/// Every environment variable taskmaster itself reads.
pub const ENVIRONMENT: &[EnvVar] = &[
    EnvVar {
        name: "TASKMASTER_SOCKET",
        meaning: "the control socket, for `run` and every client command. First match wins: \
                  `--socket`; `TASKMASTER_SOCKET`; the config's `socket` setting (`run`'s \
                  CONFIG, else `./taskmaster.kdl` when it exists); \
                  `$XDG_RUNTIME_DIR/taskmaster.sock`; else `/tmp/taskmaster-$UID/taskmaster.sock`",
    },
    EnvVar {
        name: "XDG_RUNTIME_DIR",
        meaning: "where the default socket lives: `$XDG_RUNTIME_DIR/taskmaster.sock` when it \
                  is set and not empty, else `/tmp/taskmaster-$UID/taskmaster.sock`",
    },
    EnvVar {
        name: "XDG_STATE_HOME",
        meaning: "the shell keeps its history in `$XDG_STATE_HOME/taskmaster/history` \
                  (default `~/.local/state/taskmaster/history`)",
    },
    EnvVar {
        name: "NO_COLOR",
        meaning: "when set and not empty, no colours",
    },
];

/// `taskmaster --help`'s epilogue: both tables as plain text.
pub fn help_epilogue() -> String {
    let mut out = String::from("Exit status:\n");
    for s in EXIT_STATUSES {
        out.push_str(&item(&s.code.to_string(), &plain(s.meaning)));
    }
    out.push_str("\nEnvironment:\n");
    for v in ENVIRONMENT {
        out.push_str(&item(v.name, &plain(v.meaning)));
    }
    out
}

/// `  NAME  text…`, the text wrapped under itself.
fn item(name: &str, text: &str) -> String {
    let head = format!("  {name}  ");
    let rest = " ".repeat(6);
    let options = textwrap::Options::new(76)
        .initial_indent(&head)
        .subsequent_indent(&rest)
        // Narrower than any terminal clap wraps help for, so clap leaves these lines be;
        // paths and options stay whole.
        .break_words(false)
        .word_separator(textwrap::WordSeparator::AsciiSpace)
        .word_splitter(textwrap::WordSplitter::NoHyphenation);
    format!("{}\n", textwrap::fill(text, options))
}

/// The man page's EXIT STATUS and ENVIRONMENT sections, as roff.
pub fn man_sections() -> String {
    let mut out = String::from(".SH \"EXIT STATUS\"\n");
    for s in EXIT_STATUSES {
        out.push_str(&format!(
            ".TP\n\\fB{}\\fR\n{}\n",
            s.code,
            roff_sentence(s.meaning)
        ));
    }
    out.push_str(".SH ENVIRONMENT\n");
    for v in ENVIRONMENT {
        out.push_str(&format!(
            ".TP\n\\fB{}\\fR\n{}\n",
            roff_escape(v.name),
            roff_sentence(v.meaning)
        ));
    }
    out
}

/// The book's rows: `| 0 | success |` for each exit status.
pub fn book_exit_rows() -> Vec<String> {
    EXIT_STATUSES
        .iter()
        .map(|s| format!("| {} | {} |", s.code, s.meaning))
        .collect()
}

/// The book's rows: ``| `NAME` | meaning |`` for each variable.
pub fn book_environment_rows() -> Vec<String> {
    ENVIRONMENT
        .iter()
        .map(|v| format!("| `{}` | {} |", v.name, v.meaning))
        .collect()
}

/// The text without its literal marks.
fn plain(text: &str) -> String {
    text.replace('`', "")
}

/// Capitalised, ending with a full stop, literals in bold, roff's specials escaped.
fn roff_sentence(text: &str) -> String {
    let mut chars = text.chars();
    let capital: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    let mut out = String::new();
    for (i, part) in capital.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str(&format!("\\fB{}\\fR", roff_escape(part)));
        } else {
            out.push_str(&roff_escape(part));
        }
    }
    out.push('.');
    out
}

fn roff_escape(text: &str) -> String {
    text.replace('\\', "\\e").replace('-', "\\-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_holds_every_exit_constant_once_in_order() {
        let codes: Vec<u8> = EXIT_STATUSES.iter().map(|s| s.code).collect();
        assert_eq!(
            codes,
            [exit::OK, exit::FAILED, exit::USAGE, exit::UNREACHABLE]
        );
    }

    #[test]
    fn every_literal_mark_is_closed() {
        let texts = EXIT_STATUSES
            .iter()
            .map(|s| s.meaning)
            .chain(ENVIRONMENT.iter().map(|v| v.meaning));
        for text in texts {
            assert_eq!(text.matches('`').count() % 2, 0, "{text}");
            assert!(
                !text.contains("  "),
                "a line continuation left spaces: {text}"
            );
        }
    }

    #[test]
    fn the_renderings_carry_every_entry() {
        let help = help_epilogue();
        let man = man_sections();
        for v in ENVIRONMENT {
            assert!(help.contains(v.name), "{help}");
            assert!(man.contains(&roff_escape(v.name)), "{man}");
        }
        assert!(help.contains("  3  the daemon cannot be reached"), "{help}");
        assert!(
            man.contains(".TP\n\\fB3\\fR\nThe daemon cannot be reached.\n"),
            "{man}"
        );
        assert!(
            man.contains("\\fB/tmp/taskmaster\\-$UID/taskmaster.sock\\fR"),
            "{man}"
        );
        assert!(!help.contains('`'), "{help}");
    }
}
