//! The typed config builder: a test says which config it needs in Rust and gets KDL text
//! with every name and string escaped, instead of writing escaped strings by hand.
//!
//! ```ignore
//! let config = Config::new()
//!     .daemon(|d| d.logfile("events.log"))
//!     .program("web", |p| p.cmd("sleep 100").numprocs(2).autorestart(false))
//!     .program("talker", |p| p.cmd(["sh", "-c", r#"echo "hi"; sleep 100"#]).starttime("100ms"))
//!     .program("masked", |p| p.cmd("sleep 100").umask(raw("0o027")))
//!     .raw_program("odd", "cmd \"true\"\nnot-yet-a-method 1");
//! let d = Daemon::start(&config);
//! ```
//!
//! renders (the socket `t.sock` in the sandbox is there unless [`Config::no_socket`]):
//!
//! ```text
//! taskmaster {
//!     socket "t.sock"
//!     logfile "events.log"
//! }
//! program "web" {
//!     cmd "sleep 100"
//!     numprocs 2
//!     autorestart #false
//! }
//! program "talker" {
//!     cmd "sh" "-c" "echo \"hi\"; sleep 100"
//!     starttime "100ms"
//! }
//! program "masked" {
//!     cmd "sleep 100"
//!     umask 0o027
//! }
//! program "odd" {
//!     cmd "true"
//!     not-yet-a-method 1
//! }
//! ```
//!
//! (`the_module_doc_example_renders` below keeps this example true.)
//!
//! A directive's arguments are anything [`Args`] takes: a string, an integer, a bool, [`raw`]
//! KDL text (octal numbers, `#null`), a [`prop`] (`key=value`), or an array, slice, `Vec` or
//! tuple of those for several arguments. Strings are always quoted and escaped, so a test
//! cannot produce a config it did not mean.
//!
//! **Adding a directive** is one name in the `directives!` list of its block below
//! (`restart_backoff` renders as `restart-backoff`). Until a directive has a method, say it
//! with `.entry("name", args)`, a child block with `.block("name", args, |b| …)`, or raw KDL
//! with `.line("…")`, [`Config::raw_program`] or [`Config::line`].

use std::fmt::{self, Write as _};

/// One KDL argument or property value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i128),
    Bool(bool),
    /// Written as it is: `0o027`, `#null`, `1.5`.
    Raw(String),
    /// `key=value`.
    Prop(String, Box<Value>),
}

/// KDL text written as it is, for values the other forms cannot say (`raw("0o027")`).
pub fn raw(text: impl Into<String>) -> Value {
    Value::Raw(text.into())
}

/// A `key=value` property.
pub fn prop(key: &str, value: impl Into<Value>) -> Value {
    Value::Prop(key.to_owned(), Box::new(value.into()))
}

/// A KDL string literal: quoted, with `"`, `\` and control characters escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(&quote(s)),
            Value::Int(n) => write!(f, "{n}"),
            Value::Bool(b) => f.write_str(if *b { "#true" } else { "#false" }),
            Value::Raw(s) => f.write_str(s),
            Value::Prop(key, value) => write!(f, "{}={value}", quote(key)),
        }
    }
}

macro_rules! value_from {
    (str: $($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value {
                Value::Str(v.to_string())
            }
        }
    )*};
    (int: $($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value {
                Value::Int(i128::from(v))
            }
        }
    )*};
}
value_from!(str: &str, String, &String, std::path::Display<'_>);
value_from!(int: i8, i16, i32, i64, u8, u16, u32, u64);

impl From<usize> for Value {
    fn from(v: usize) -> Value {
        Value::Int(v as i128)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}

impl From<&std::path::Path> for Value {
    fn from(v: &std::path::Path) -> Value {
        Value::Str(v.to_string_lossy().into_owned())
    }
}

impl From<&std::path::PathBuf> for Value {
    fn from(v: &std::path::PathBuf) -> Value {
        Value::from(v.as_path())
    }
}

/// The arguments of one directive: one value, or several.
pub trait Args {
    fn into_values(self) -> Vec<Value>;
}

impl<T: Into<Value>> Args for T {
    fn into_values(self) -> Vec<Value> {
        vec![self.into()]
    }
}

impl<T: Into<Value>, const N: usize> Args for [T; N] {
    fn into_values(self) -> Vec<Value> {
        self.into_iter().map(Into::into).collect()
    }
}

impl<T: Into<Value>> Args for Vec<T> {
    fn into_values(self) -> Vec<Value> {
        self.into_iter().map(Into::into).collect()
    }
}

impl<T: Into<Value> + Clone> Args for &[T] {
    fn into_values(self) -> Vec<Value> {
        self.iter().cloned().map(Into::into).collect()
    }
}

impl Args for () {
    fn into_values(self) -> Vec<Value> {
        Vec::new()
    }
}

impl<A: Into<Value>, B: Into<Value>> Args for (A, B) {
    fn into_values(self) -> Vec<Value> {
        vec![self.0.into(), self.1.into()]
    }
}

impl<A: Into<Value>, B: Into<Value>, C: Into<Value>> Args for (A, B, C) {
    fn into_values(self) -> Vec<Value> {
        vec![self.0.into(), self.1.into(), self.2.into()]
    }
}

/// One line of a block: a directive, a child block, or raw text.
#[derive(Debug, Clone)]
enum Line {
    Entry(String, Vec<Value>),
    Block(String, Vec<Value>, Body),
    Raw(String),
}

/// The children of a block, in order.
#[derive(Debug, Clone, Default)]
pub struct Body {
    lines: Vec<Line>,
}

impl Body {
    fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    fn render(&self, out: &mut String, depth: usize) {
        let pad = "    ".repeat(depth);
        for line in &self.lines {
            match line {
                Line::Entry(name, values) => {
                    out.push_str(&pad);
                    out.push_str(&node_head(name, values));
                    out.push('\n');
                }
                Line::Block(name, values, body) => {
                    out.push_str(&pad);
                    out.push_str(&node_head(name, values));
                    out.push_str(" {\n");
                    body.render(out, depth + 1);
                    out.push_str(&pad);
                    out.push_str("}\n");
                }
                Line::Raw(text) => {
                    for l in text.lines() {
                        if !l.trim().is_empty() {
                            out.push_str(&pad);
                            out.push_str(l.trim_start());
                        }
                        out.push('\n');
                    }
                }
            }
        }
    }
}

/// A node's name (bare when it is a plain identifier, quoted otherwise) and arguments.
fn node_head(name: &str, values: &[Value]) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !name.starts_with(|c: char| c.is_ascii_digit());
    let mut head = if bare { name.to_owned() } else { quote(name) };
    for v in values {
        head.push(' ');
        head.push_str(&v.to_string());
    }
    head
}

/// The methods every block type has: a directive by name, a child block, raw lines.
macro_rules! block_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default)]
        pub struct $name {
            body: Body,
        }

        impl $name {
            /// `name ARGS` — any directive, with or without a method of its own.
            pub fn entry(mut self, name: &str, args: impl Args) -> Self {
                self.body.lines.push(Line::Entry(name.to_owned(), args.into_values()));
                self
            }

            /// `name ARGS { … }`, the children built by `build`.
            pub fn block(mut self, name: &str, args: impl Args, build: impl FnOnce(Block) -> Block) -> Self {
                let child = build(Block::default());
                self.body.lines.push(Line::Block(name.to_owned(), args.into_values(), child.body));
                self
            }

            /// Raw KDL, one or more lines, indented to fit (nothing is escaped).
            pub fn line(mut self, kdl: &str) -> Self {
                self.body.lines.push(Line::Raw(kdl.to_owned()));
                self
            }
        }
    };
}

/// One typed method per directive, named like it with `-` written `_`.
macro_rules! directives {
    ($name:ident { $($method:ident),* $(,)? }) => {
        impl $name {
            $(
                pub fn $method(self, args: impl Args) -> Self {
                    self.entry(&stringify!($method).replace('_', "-"), args)
                }
            )*
        }
    };
}

block_type!(
    /// The body of a `program "NAME" { … }` block.
    Program
);
block_type!(
    /// The body of the `taskmaster { … }` block (the socket is [`Config`]'s).
    Settings
);
block_type!(
    /// Any other child block (`env { … }`, and the block directives to come).
    Block
);

impl Program {
    /// `readiness { … }`, its check and timing built by `build`.
    pub fn readiness(self, build: impl FnOnce(Block) -> Block) -> Self {
        self.block("readiness", (), build)
    }

    /// `liveness { … }`, its check and timing built by `build`.
    pub fn liveness(self, build: impl FnOnce(Block) -> Block) -> Self {
        self.block("liveness", (), build)
    }
}

directives!(Program {
    cmd,
    numprocs,
    umask,
    workingdir,
    autostart,
    autorestart,
    exitcodes,
    startretries,
    starttime,
    stopsignal,
    stoptime,
    stdout,
    stderr,
    restart_backoff,
    crash_limit,
    user,
    group,
    groups,
    env_file,
    depends_on,
});

directives!(Settings {
    logfile,
    log_buffer
});

// The settings of a log file's block (`stdout "web.log" { max-size "1MB"; keep 3 }`).
directives!(Block {
    max_size,
    keep,
    timestamps
});

impl Program {
    /// `depends-on { PROGRAM "CONDITION" … }` from pairs (the short form is `.depends_on`).
    pub fn depends_on_block<'a>(self, deps: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        self.block("depends-on", (), |mut b| {
            for (program, condition) in deps {
                b = b.entry(program, condition);
            }
            b
        })
    }

    /// `stdout "PATH" { … }`: a daemon-written log file, its block built by `build`.
    pub fn stdout_file(self, path: &str, build: impl FnOnce(Block) -> Block) -> Self {
        self.block("stdout", path, build)
    }

    /// `stderr "PATH" { … }`: a daemon-written log file, its block built by `build`.
    pub fn stderr_file(self, path: &str, build: impl FnOnce(Block) -> Block) -> Self {
        self.block("stderr", path, build)
    }

    /// `limits { … }`, its `NAME SOFT [HARD]` entries built by `build`.
    pub fn limits(self, build: impl FnOnce(Block) -> Block) -> Self {
        self.block("limits", (), build)
    }

    /// `env { KEY "value" … }` from pairs.
    pub fn env<'a>(self, vars: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        self.block("env", (), |mut b| {
            for (key, value) in vars {
                b = b.entry(key, value);
            }
            b
        })
    }
}

/// A whole config file.
#[derive(Debug, Clone)]
pub struct Config {
    socket: Option<String>,
    settings: Settings,
    items: Vec<Item>,
}

#[derive(Debug, Clone)]
enum Item {
    Program(String, Program),
    Raw(String),
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

impl Config {
    /// A config whose daemon listens on `t.sock` in the sandbox, with no programs yet.
    pub fn new() -> Config {
        Config {
            socket: Some("t.sock".to_owned()),
            settings: Settings::default(),
            items: Vec::new(),
        }
    }

    /// Another socket path.
    pub fn socket(mut self, path: &str) -> Config {
        self.socket = Some(path.to_owned());
        self
    }

    /// No `socket` directive: the daemon and the clients fall back to their defaults.
    pub fn no_socket(mut self) -> Config {
        self.socket = None;
        self
    }

    /// Adds to the `taskmaster { … }` block.
    pub fn daemon(mut self, build: impl FnOnce(Settings) -> Settings) -> Config {
        self.settings = build(self.settings);
        self
    }

    /// `program "NAME" { … }`, built by `build`.
    pub fn program(mut self, name: &str, build: impl FnOnce(Program) -> Program) -> Config {
        self.items
            .push(Item::Program(name.to_owned(), build(Program::default())));
        self
    }

    /// `program "NAME" { BODY }` with the body as raw KDL lines.
    pub fn raw_program(self, name: &str, body: &str) -> Config {
        self.program(name, |p| p.line(body))
    }

    /// Raw top-level KDL, after what is already there.
    pub fn line(mut self, kdl: &str) -> Config {
        self.items.push(Item::Raw(kdl.to_owned()));
        self
    }

    /// The KDL text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut daemon = Body::default();
        if let Some(socket) = &self.socket {
            daemon
                .lines
                .push(Line::Entry("socket".to_owned(), vec![socket.into()]));
        }
        daemon
            .lines
            .extend(self.settings.body.lines.iter().cloned());
        if !daemon.is_empty() {
            out.push_str("taskmaster {\n");
            daemon.render(&mut out, 1);
            out.push_str("}\n");
        }
        for item in &self.items {
            match item {
                Item::Program(name, program) => {
                    let _ = writeln!(out, "program {} {{", quote(name));
                    program.body.render(&mut out, 1);
                    out.push_str("}\n");
                }
                Item::Raw(text) => {
                    out.push_str(text);
                    if !text.ends_with('\n') {
                        out.push('\n');
                    }
                }
            }
        }
        out
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

/// What [`super::Sandbox::write_config`] and [`super::Daemon::start`] take: a [`Config`], or
/// program blocks as text (written after the standard `taskmaster { socket "t.sock" }`).
pub trait IntoConfig {
    fn into_kdl(self) -> String;
}

impl IntoConfig for &Config {
    fn into_kdl(self) -> String {
        self.render()
    }
}

impl IntoConfig for Config {
    fn into_kdl(self) -> String {
        self.render()
    }
}

impl IntoConfig for &str {
    fn into_kdl(self) -> String {
        format!("{}{self}", super::PREAMBLE)
    }
}

impl IntoConfig for &String {
    fn into_kdl(self) -> String {
        self.as_str().into_kdl()
    }
}

impl IntoConfig for String {
    fn into_kdl(self) -> String {
        self.as_str().into_kdl()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_module_doc_example_renders() {
        let config = Config::new()
            .daemon(|d| d.logfile("events.log"))
            .program("web", |p| p.cmd("sleep 100").numprocs(2).autorestart(false))
            .program("talker", |p| {
                p.cmd(["sh", "-c", r#"echo "hi"; sleep 100"#])
                    .starttime("100ms")
            })
            .program("masked", |p| p.cmd("sleep 100").umask(raw("0o027")))
            .raw_program("odd", "cmd \"true\"\nnot-yet-a-method 1");
        assert_eq!(
            config.render(),
            r#"taskmaster {
    socket "t.sock"
    logfile "events.log"
}
program "web" {
    cmd "sleep 100"
    numprocs 2
    autorestart #false
}
program "talker" {
    cmd "sh" "-c" "echo \"hi\"; sleep 100"
    starttime "100ms"
}
program "masked" {
    cmd "sleep 100"
    umask 0o027
}
program "odd" {
    cmd "true"
    not-yet-a-method 1
}
"#
        );
    }

    /// Whatever the builder writes, the compiler reads back as the same values.
    #[test]
    fn strings_survive_the_round_trip_through_the_compiler() {
        let nasty = "a \"quoted\" \\back\\slash\ttab\nnewline {brace} #hash; semi /* c */ é";
        let config = Config::new()
            .program("we\"ird", |p| {
                p.cmd(["printf", nasty])
                    .env([("KEY", nasty), ("has space", "v")])
                    .exitcodes([0, 2])
                    .restart_backoff(("1s", "1m"))
                    .autostart(false)
            })
            .render();
        let compiled = taskmaster::plan::compile("t.kdl", &config, &std::env::temp_dir())
            .unwrap_or_else(|report| panic!("{config}\ndid not compile:\n{report:?}"));
        let plan = &compiled.plan;
        let spec = &plan.programs["we\"ird"];
        assert_eq!(spec.cmd, ["printf", nasty], "{config}");
        assert_eq!(spec.env.get("KEY").map(String::as_str), Some(nasty));
        assert_eq!(spec.env.get("has space").map(String::as_str), Some("v"));
        assert!(!spec.autostart);
    }

    #[test]
    fn text_configs_get_the_standard_socket() {
        assert_eq!(
            "program \"a\" { cmd \"x\"; }\n".into_kdl(),
            format!(
                "{}program \"a\" {{ cmd \"x\"; }}\n",
                crate::harness::PREAMBLE
            )
        );
        assert_eq!(Config::new().render(), crate::harness::PREAMBLE);
        assert_eq!(Config::new().no_socket().render(), "");
    }
}
