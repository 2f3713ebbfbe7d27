//! The stable diagnostic codes of the config compiler, one per kind of problem.
//!
//! Each code renders as `taskmaster::<name>`; the book documents every entry of [`Code::ALL`]
//! (name, severity, meaning). Codes are never renamed once released.

use miette::Severity;

macro_rules! codes {
    ($( $variant:ident = $name:literal, $sev:ident, $meaning:literal; )*) => {
        /// A kind of config problem.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $( #[doc = $meaning] $variant, )*
        }

        impl Code {
            /// Every code, in the order the book lists them.
            pub const ALL: &[Code] = &[$( Code::$variant, )*];

            /// The full code, e.g. `taskmaster::unknown_field`.
            pub fn as_str(self) -> &'static str {
                match self { $( Code::$variant => concat!("taskmaster::", $name), )* }
            }

            /// The short name, e.g. `unknown_field`.
            pub fn name(self) -> &'static str {
                match self { $( Code::$variant => $name, )* }
            }

            /// Errors make a config invalid; warnings are printed but leave it valid.
            pub fn severity(self) -> Severity {
                match self { $( Code::$variant => Severity::$sev, )* }
            }

            /// One line saying what the code means.
            pub fn meaning(self) -> &'static str {
                match self { $( Code::$variant => $meaning, )* }
            }
        }
    };
}

codes! {
    Syntax = "syntax", Error, "The file is not valid KDL 2 (nor KDL 1).";
    NestingTooDeep = "nesting_too_deep", Error, "Blocks nested deeper than 64 levels; refused before the KDL parser runs.";
    ConfigTooLarge = "config_too_large", Error, "A config file over 16 MiB; refused without reading it whole.";
    NodeTooLarge = "node_too_large", Error, "One top-level node (a `program` block with everything in it) longer than 64 KiB.";
    IniFile = "ini_file", Error, "The file is an INI file (a supervisord config?), not KDL; `taskmaster import` converts it.";
    KdlV1 = "kdl_v1", Warning, "The file is KDL 1; it is accepted, but KDL 2 is the documented syntax.";
    UnknownNode = "unknown_node", Error, "A top-level node other than `program` or `taskmaster`.";
    UnknownField = "unknown_field", Error, "A setting that `program` or `taskmaster` does not have.";
    DuplicateProgram = "duplicate_program", Error, "Two `program` nodes with the same name.";
    DuplicateField = "duplicate_field", Error, "A setting (or an `env` key) given twice in one block.";
    DuplicateTaskmaster = "duplicate_taskmaster", Error, "More than one `taskmaster` node.";
    MissingProgramName = "missing_program_name", Error, "A `program` node without its name argument.";
    InvalidProgramName = "invalid_program_name", Error, "A program name that is empty, `all`, or contains `:`, `/`, whitespace or a control character.";
    UnexpectedArgument = "unexpected_argument", Error, "An argument where the node takes none, or more arguments than it takes.";
    UnexpectedProperty = "unexpected_property", Error, "A `key=value` property; taskmaster settings are child nodes.";
    UnexpectedChildren = "unexpected_children", Error, "A `{ … }` block on a setting that takes none.";
    MissingValue = "missing_value", Error, "A setting without its value.";
    WrongType = "wrong_type", Error, "A value of the wrong type (e.g. a string where an integer is expected).";
    MissingCmd = "missing_cmd", Error, "A program without `cmd`.";
    EmptyCmd = "empty_cmd", Error, "A `cmd` whose program (first word) is empty.";
    UnbalancedQuotes = "unbalanced_quotes", Error, "A single-string `cmd` that cannot be split into words (unbalanced quotes or a trailing backslash).";
    NulByte = "nul_byte", Error, "A NUL character in a command, environment entry or path.";
    NegativeNumber = "negative_number", Error, "A negative number where only zero or more makes sense.";
    NumprocsRange = "numprocs_range", Error, "`numprocs` outside 1..=10000.";
    NumberRange = "number_range", Error, "A number too large for its setting (e.g. `startretries` above 4294967295).";
    UmaskRange = "umask_range", Error, "A `umask` that is not an octal number in 0..=0o777.";
    UmaskDecimal = "umask_decimal", Warning, "A `umask` written as a decimal integer (`022`, `18`); write `0o022` or \"022\".";
    ExitcodeRange = "exitcode_range", Error, "An exit code outside 0..=255.";
    UnknownSignal = "unknown_signal", Error, "A `stopsignal` that names no signal.";
    BadAutorestart = "bad_autorestart", Error, "An `autorestart` other than #true, #false or \"unexpected\".";
    BadDuration = "bad_duration", Error, "A duration that is malformed or above 24 hours.";
    IgnoredSetting = "ignored_setting", Warning, "A setting that can never take effect, such as `crash-limit` with `autorestart #false`.";
    BackoffMinAboveMax = "backoff_min_above_max", Error, "A `restart-backoff` whose first wait (MIN) is longer than its longest (MAX).";
    InvalidEnvKey = "invalid_env_key", Error, "An `env` key that is empty or contains `=`.";
    EmptyPath = "empty_path", Error, "An empty path.";
    WorkingdirMissing = "workingdir_missing", Warning, "`workingdir` does not exist (yet) or is not a directory; starting will fail until it does.";
    ParentDirMissing = "parent_dir_missing", Warning, "The folder of a log file, output file or socket does not exist (yet).";
    PathIsDirectory = "path_is_directory", Error, "A log file, output file or socket path that is an existing directory.";
    CheckKindMissing = "check_kind_missing", Error, "A `readiness` or `liveness` block without a check (`tcp`, `http`, `exec`, `log`).";
    CheckKindConflict = "check_kind_conflict", Error, "A `readiness` or `liveness` block with more than one check.";
    CheckNotLoopback = "check_not_loopback", Error, "A tcp or http check whose host is not this machine (127.0.0.0/8, [::1], localhost).";
    CheckBadUrl = "check_bad_url", Error, "An http check URL not of the form `http://HOST:PORT/PATH`, or a tcp address not `HOST:PORT`.";
    InvalidRegex = "invalid_regex", Error, "A `log` check pattern that is not a valid regular expression.";
    LogCheckInLiveness = "log_check_in_liveness", Error, "A `log` check in `liveness` (it can only say a process is ready).";
    LogCheckNotCaptured = "log_check_not_captured", Error, "A `log` check on a stream handed to the child as a plain file (no block) or discarded, which the daemon never reads.";
    DeadlineBeforeStarttime = "deadline_before_starttime", Error, "A readiness `deadline` shorter than `starttime`: the process could never be RUNNING.";
    UnknownDependency = "unknown_dependency", Error, "A `depends-on` naming a program the file does not define.";
    SelfDependency = "self_dependency", Error, "A program that names itself in its `depends-on`.";
    DependencyCycle = "dependency_cycle", Error, "Programs whose `depends-on` form a cycle (`web → db → web`): none of them could ever start.";
    UnknownCondition = "unknown_condition", Error, "A `depends-on` condition other than \"started\", \"ready\", \"healthy\" or \"completed\".";
    ConditionWithoutCheck = "condition_without_check", Warning, "`\"healthy\"` on a program without `liveness`: it means `\"ready\"` then.";
    ConditionNeverMet = "condition_never_met", Error, "`\"completed\"` on a program with `autorestart #true`, which never stays exited.";
    FifoTarget = "fifo_target", Warning, "A log file or output file that is an existing FIFO: a start fails while no process reads it.";
    // Process identity, user, limits, env files.
    UnknownPlaceholder = "unknown_placeholder", Warning, "Text in braces that looks like a misspelt placeholder (`{proces_num}`); it is left as written.";
    ShellSyntax = "shell_syntax", Warning, "A one-string `cmd` holding shell syntax (`|`, `>`, `<`, `&&`, `;`, `$VAR`, a backquote) outside quotes: no shell runs, so it reaches the program as text.";
    UnknownUser = "unknown_user", Warning, "A `user` that is not in this machine's user database; every start fails until it is.";
    UnknownGroup = "unknown_group", Warning, "A `group` or `groups` entry that is not in this machine's group database; every start fails until it is.";
    UnknownLimit = "unknown_limit", Error, "A `limits` entry that names no limit (the names are nofile, nproc, core, fsize, stack, memlock, as, cpu).";
    BadLimit = "bad_limit", Error, "A `limits` value that is not a whole number, \"unlimited\", or (for a byte limit) a size such as \"512MB\".";
    LimitSoftAboveHard = "limit_soft_above_hard", Error, "A limit whose soft value is above its hard value.";
    EnvFileMissing = "env_file_missing", Error, "An `env-file` that does not exist or cannot be read.";
    EnvFileSyntax = "env_file_syntax", Error, "A line of an `env-file` that is not `KEY=VALUE`; the diagnostic points into that file.";
    BadSize = "bad_size", Error, "A size (`max-size`, `log-buffer`) that is not a whole number of bytes or a number with a unit such as \"50MB\".";
    OptionsOnDiscard = "options_on_discard", Error, "A `{ … }` block on `\"discard\"` or on `stderr \"stdout\"`: only a file takes one.";
    KeepWithoutMaxSize = "keep_without_max_size", Warning, "`keep` in a log block without `max-size`: the file never rotates, so nothing is kept.";
    RotationOnSpecialFile = "rotation_on_special_file", Warning, "`max-size` on a target that is not a regular file (under /dev or /proc, a FIFO, a device): it is never rotated.";
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_prefixed() {
        let names: HashSet<_> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), Code::ALL.len());
        assert!(
            Code::ALL
                .iter()
                .all(|c| c.as_str() == format!("taskmaster::{}", c.name()))
        );
    }
}
