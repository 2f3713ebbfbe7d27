//! The `taskmaster` binary: all the work happens in [`taskmaster::cli`].

fn main() -> std::process::ExitCode {
    taskmaster::cli::main()
}
