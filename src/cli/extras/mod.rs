//! `completions`, `man` and `import`: the commands that help people adopt taskmaster.
//! Completions and the man pages are generated from the same clap definitions as `--help`.

use std::io::Write;
use std::path::Path;

use super::exit;

mod completions;
mod import;
mod man;

pub(super) fn completions(shell: clap_complete::Shell) -> u8 {
    write_out(&completions::script(shell))
}

/// `man`: the main page; `man COMMAND`: that command's page; `man --dir DIR`: every page,
/// written as files.
pub(super) fn man(page: Option<&str>, dir: Option<&Path>) -> u8 {
    if let Some(dir) = dir {
        return match man::write_all(dir) {
            Ok(written) => {
                eprintln!("wrote {} man pages into {}", written.len(), dir.display());
                exit::OK
            }
            Err(e) => {
                eprintln!(
                    "error: cannot write the man pages into {}: {e}",
                    dir.display()
                );
                exit::USAGE
            }
        };
    }
    let rendered = match page {
        None => man::main_page(),
        Some(name) => match man::sub_page(name) {
            Some(page) => page,
            None => {
                eprintln!(
                    "error: no man page for `{name}`; pages: {}",
                    man::page_names().join(", ")
                );
                return exit::USAGE;
            }
        },
    };
    match rendered {
        Ok(bytes) => write_out(&bytes),
        Err(e) => {
            eprintln!("error: cannot render the man page: {e}");
            exit::FAILED
        }
    }
}

pub(super) fn import(file: &Path) -> u8 {
    import::run(file)
}

fn write_out(bytes: &[u8]) -> u8 {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => exit::OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(e) => {
            eprintln!("error: cannot write to stdout: {e}");
            exit::FAILED
        }
    }
}
