//! `taskmaster logs`: a process's captured output, written raw to stdout.
//!
//! For a program of several processes the daemon tags each chunk with its process; the
//! client then starts every line with `web:0 | `, keeping track of where lines begin so a
//! chunk that ends mid-line does not get a prefix in the middle of a line.

use super::transport::{ClientError, Connection, Target, Wait};
use super::{client_error, error_exit, unexpected};
use crate::cli::{exit, output};
use crate::protocol::{Request, Response};
use std::collections::HashMap;

/// Sends a `logs` request and copies the answer to stdout.
pub(super) fn run(target: &Target, request: Request) -> u8 {
    let follow = matches!(request, Request::Logs { follow: true, .. });
    let wait = if follow { Wait::Endless } else { Wait::Answer };
    let mut conn = match Connection::open(target, wait) {
        Ok(conn) => conn,
        Err(e) => return client_error(&e),
    };
    if let Err(e) = conn.send(request) {
        return client_error(&e);
    }
    let mut prefixer = Prefixer::default();
    loop {
        match conn.recv() {
            Ok(Some(Response::Log { process, text })) => {
                if !output::write_stdout(&prefixer.apply(process.as_deref(), &text)) {
                    // The reader went away (`| head`): nothing more to do.
                    return exit::OK;
                }
            }
            Ok(Some(Response::LogEnd)) if !follow => return exit::OK,
            Ok(Some(Response::LogEnd)) => {}
            Ok(Some(Response::Error(error))) => return error_exit(&error),
            Ok(Some(other)) => return client_error(&unexpected(conn.socket(), &other)),
            Ok(None) if follow => {
                eprintln!("the daemon closed the connection; no more output");
                return exit::OK;
            }
            Ok(None) => {
                return client_error(&ClientError::Dropped {
                    socket: conn.socket().to_owned(),
                });
            }
            // Ctrl-C is how a follow ends.
            Err(ClientError::Interrupted) if follow => return exit::OK,
            Err(ClientError::Dropped { .. }) if follow => {
                eprintln!("the daemon closed the connection; no more output");
                return exit::OK;
            }
            Err(e) => return client_error(&e),
        }
    }
}

/// Puts `process | ` before every line of tagged output.
#[derive(Default)]
struct Prefixer {
    /// Processes whose last chunk ended mid-line.
    mid_line: HashMap<String, bool>,
}

impl Prefixer {
    fn apply(&mut self, process: Option<&str>, text: &str) -> String {
        let Some(process) = process else {
            return text.to_owned();
        };
        let mid_line = self.mid_line.entry(process.to_owned()).or_insert(false);
        let mut out = String::with_capacity(text.len() + 16);
        for piece in text.split_inclusive('\n') {
            if !*mid_line {
                out.push_str(process);
                out.push_str(" | ");
            }
            out.push_str(piece);
            *mid_line = !piece.ends_with('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untagged_text_passes_through() {
        let mut p = Prefixer::default();
        assert_eq!(p.apply(None, "a\nb"), "a\nb");
    }

    #[test]
    fn every_line_gets_its_process_once() {
        let mut p = Prefixer::default();
        assert_eq!(p.apply(Some("web:0"), "one\ntw"), "web:0 | one\nweb:0 | tw");
        assert_eq!(p.apply(Some("web:1"), "x\n"), "web:1 | x\n");
        assert_eq!(p.apply(Some("web:0"), "o\n"), "o\n");
        assert_eq!(p.apply(Some("web:0"), "three\n"), "web:0 | three\n");
    }
}
