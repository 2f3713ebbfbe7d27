//! How fast `taskmaster check` is on big configs, and what validation costs on top of parsing.
//!
//! For generated configs of 100, 1,000 and 10,000 programs (every field set, values varied):
//! - `parse`: the bare `kdl::KdlDocument::parse_v2` of the whole text, the floor (and what
//!   the parse step was before it was cut into pieces);
//! - `prescan`: the pre-scan alone (nesting limit, cut points), which runs before every parse;
//! - `parse_pieces`: `taskmaster::parse::parse`, the parse step now: the pre-scan, then kdl on
//!   each piece on the parser thread, spans shifted back;
//! - `compile`: the whole `plan::compile` (parse, validate, build the plan);
//! - `invalid_report`: `plan::compile` of a variant where every program has one error, plus
//!   rendering the report (what `check` prints).
//!
//! Run: `cargo bench --bench check`; `bench/check/peak_memory.py` measures memory.
//! The compile overhead over the parse, (compile − parse) / parse, should stay under 20%.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use taskmaster::plan;

const SIZES: [usize; 3] = [100, 1_000, 10_000];

/// A config of `programs` realistic programs with most fields set. With `broken`, every
/// program carries exactly one error (five kinds, in turn).
fn config(programs: usize, broken: bool) -> String {
    const CMDS: [&str; 4] = [
        r#"cmd "python3 -m http.server {port} --bind 127.0.0.1""#,
        r#"cmd "sh" "-c" "while true; do echo tick; sleep 5; done""#,
        r#"cmd "/usr/bin/env" "sleep" "3600""#,
        r#"cmd "sh -c 'exec sleep 3600'""#,
    ];
    const AUTORESTART: [&str; 3] = [r#""unexpected""#, "#true", "#false"];
    const SIGNALS: [&str; 4] = [r#""TERM""#, r#""INT""#, r#""SIGQUIT""#, "15"];
    const STOPTIMES: [&str; 3] = ["10", r#""500ms""#, r#""1.5s""#];
    let mut out = String::from(
        "// generated for benches/check.rs\ntaskmaster {\n    socket \"bench.sock\"\n    logfile \"bench.log\"\n}\n\n",
    );
    for i in 0..programs {
        let port = 8000 + i % 50_000;
        let cmd = CMDS[i % CMDS.len()].replace("{port}", &port.to_string());
        let error = broken.then_some(i % 5);
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            r#"program "svc-{i}" {{
    {cmd}
    numprocs {numprocs}
    umask {umask}
    workingdir "/tmp"
    autostart {autostart}
    autorestart {autorestart}
    exitcodes 0 {code}
    startretries {retries}
    starttime {starttime}
    stopsignal {signal}
    stoptime {stoptime}
    stdout "/tmp/svc-{i}.out"
    stderr "discard"
    env {{
        PORT "{port}"
        RUST_LOG "info"
        APP_NAME "svc-{i}"
    }}
{extra}}}

"#,
            numprocs = if error == Some(0) { 0 } else { 1 + i % 4 },
            umask = if i % 2 == 0 { "0o022" } else { r#""027""# },
            autostart = if i % 7 == 0 { "#false" } else { "#true" },
            autorestart = if error == Some(1) {
                r#""sometimes""#
            } else {
                AUTORESTART[i % AUTORESTART.len()]
            },
            code = 1 + i % 3,
            retries = i % 5,
            starttime = if error == Some(2) {
                r#""5 parsecs""#
            } else {
                r#""1.5s""#
            },
            signal = if error == Some(3) {
                r#""TERMINATE""#
            } else {
                SIGNALS[i % SIGNALS.len()]
            },
            stoptime = STOPTIMES[i % STOPTIMES.len()],
            extra = if error == Some(4) {
                "    numproc 2\n"
            } else {
                ""
            },
        );
    }
    out
}

fn check(c: &mut Criterion) {
    let base = Path::new("/tmp");
    let mut group = c.benchmark_group("check");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for programs in SIZES {
        let valid = config(programs, false);
        let broken = config(programs, true);
        // Guard the benchmark's premise: the valid config compiles, the broken one does not.
        assert!(
            plan::compile("bench.kdl", &valid, base).is_ok(),
            "the generated config must be valid"
        );
        assert!(plan::compile("bench.kdl", &broken, base).is_err());
        group.throughput(Throughput::Bytes(valid.len() as u64));
        group.bench_with_input(BenchmarkId::new("parse", programs), &valid, |b, text| {
            b.iter(|| kdl::KdlDocument::parse_v2(black_box(text)));
        });
        group.bench_with_input(BenchmarkId::new("prescan", programs), &valid, |b, text| {
            b.iter(|| taskmaster::parse::prescan::scan(black_box(text)));
        });
        group.bench_with_input(
            BenchmarkId::new("parse_pieces", programs),
            &valid,
            |b, text| b.iter(|| taskmaster::parse::parse(black_box(text)).is_ok()),
        );
        group.bench_with_input(BenchmarkId::new("compile", programs), &valid, |b, text| {
            b.iter(|| plan::compile("bench.kdl", black_box(text), base));
        });
        group.bench_with_input(
            BenchmarkId::new("invalid_report", programs),
            &broken,
            |b, text| {
                b.iter(|| match plan::compile("bench.kdl", black_box(text), base) {
                    Ok(_) => String::new(),
                    Err(report) => report.render(false),
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, check);
criterion_main!(benches);
