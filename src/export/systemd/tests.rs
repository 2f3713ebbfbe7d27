//! One test per row of the systemd mapping table (the book's "Outgrowing one machine").

use std::path::{Path, PathBuf};

use super::*;
use crate::plan::compile;

/// PATH for these tests: `sh`, `true` and `env` are in /usr/bin on every Debian.
fn test_env() -> ExportEnv {
    ExportEnv {
        path: Some("/usr/bin:/bin".into()),
        cwd: PathBuf::from("/home/me"),
        taskmaster: PathBuf::from("/usr/local/bin/taskmaster"),
    }
}

fn export_kdl(kdl: &str) -> Export {
    let plan = compile("t.kdl", kdl, Path::new("/cfg"))
        .unwrap_or_else(|r| panic!("{}", r.render(false)))
        .plan;
    export(&plan, "t", "t.kdl", &test_env()).expect("exports")
}

/// The text of program `p`'s unit, and its warnings.
fn unit_of(kdl: &str) -> (String, Vec<String>) {
    let e = export_kdl(kdl);
    let unit = e
        .units
        .iter()
        .find(|u| u.name == "tm-p@.service")
        .expect("tm-p@.service")
        .text
        .clone();
    (unit, e.unmapped.iter().map(Unmapped::warning).collect())
}

fn section<'a>(unit: &'a str, name: &str) -> &'a str {
    let start = unit
        .find(&format!("[{name}]"))
        .unwrap_or_else(|| panic!("no [{name}] in\n{unit}"));
    let rest = &unit[start..];
    let end = rest[1..].find("\n[").map_or(rest.len(), |e| e + 1);
    &rest[..end]
}

fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

#[track_caller]
fn assert_line(text: &str, line: &str) {
    assert!(has_line(text, line), "no line `{line}` in\n{text}");
}

/// The warnings but for the two every restarting program has (starttime, default backoff).
fn other_warnings(warnings: &[String]) -> Vec<&String> {
    warnings
        .iter()
        .filter(|w| !w.contains("starttime") && !w.contains("(the default)"))
        .collect()
}

#[test]
fn cmd_becomes_exec_start_with_an_absolute_path_and_argv0_kept() {
    let (unit, warnings) = unit_of(r#"program "p" { cmd "sh -c 'echo 100% $HOME'"; }"#);
    assert_line(&unit, "ExecStart=@/usr/bin/sh sh -c \"echo 100%% $$HOME\"");
    assert!(other_warnings(&warnings).is_empty(), "{warnings:?}");
}

#[test]
fn cmd_is_looked_up_on_the_programs_own_path_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tool = dir.path().join("mytool");
    std::fs::write(&tool, "#!/bin/sh\n").expect("write");
    std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let kdl = format!(
        r#"program "p" {{ cmd "mytool"; env {{ PATH "{}"; }} }}"#,
        dir.path().display()
    );
    let (unit, _) = unit_of(&kdl);
    assert_line(&unit, &format!("ExecStart=@{} mytool", tool.display()));
}

#[test]
fn an_absolute_cmd_is_written_as_is() {
    let (unit, _) = unit_of(r#"program "p" { cmd "/usr/bin/env" "A=1"; }"#);
    assert_line(&unit, "ExecStart=/usr/bin/env A=1");
}

#[test]
fn a_program_not_found_is_a_comment_and_a_warning() {
    let (unit, warnings) = unit_of(r#"program "p" { cmd "no-such-program-here" "x"; }"#);
    assert_line(&unit, "ExecStart=no-such-program-here x");
    assert!(unit.contains("# cannot map cmd \"no-such-program-here\": not found on PATH"));
    assert_eq!(other_warnings(&warnings).len(), 1, "{warnings:?}");
}

#[test]
fn numprocs_are_instances_wanted_by_the_target() {
    let e = export_kdl(r#"program "p" { cmd "true"; numprocs 3; }"#);
    let target = &e.units.last().expect("target").text;
    assert_eq!(e.target, "tm-t.target");
    for i in 0..3 {
        assert_line(target, &format!("Wants=tm-p@{i}.service"));
    }
    assert_eq!(
        e.instances,
        ["tm-p@0.service", "tm-p@1.service", "tm-p@2.service"]
    );
    assert!(e.units[0].text.contains("are p:0 … p:2"));
    assert_line(section(&e.units[0].text, "Unit"), "PartOf=tm-t.target");
}

#[test]
fn umask_becomes_umask() {
    let (unit, _) = unit_of(r#"program "p" { cmd "true"; umask "027"; }"#);
    assert_line(&unit, "UMask=0027");
    let (unit, _) = unit_of(r#"program "p" { cmd "true"; }"#);
    assert!(!unit.contains("UMask="));
}

#[test]
fn workingdir_becomes_working_directory() {
    let (unit, _) = unit_of(r#"program "p" { cmd "true"; workingdir "www/100%"; }"#);
    assert_line(&unit, "WorkingDirectory=/cfg/www/100%%");
}

#[test]
fn autostart_false_is_left_out_of_the_target() {
    let e = export_kdl(
        r#"program "p" { cmd "true"; autostart #false; }
           program "q" { cmd "true"; }"#,
    );
    let target = &e.units.last().expect("target").text;
    assert!(!target.contains("tm-p@"), "{target}");
    assert_line(target, "Wants=tm-q@0.service");
    assert!(e.units[0].text.contains("autostart #false"));
    assert!(e.instances.contains(&"tm-p@0.service".to_owned()));
}

#[test]
fn autorestart_true_is_always_with_no_start_limit_in_the_unit_section() {
    let (unit, _) = unit_of(r#"program "p" { cmd "true"; autorestart #true; }"#);
    assert_line(&unit, "Restart=always");
    assert_line(section(&unit, "Unit"), "StartLimitIntervalSec=0");
    assert!(!section(&unit, "Service").contains("StartLimit"));
    assert!(!unit.contains("RestartForceExitStatus"));
}

#[test]
fn autorestart_false_is_no() {
    let (unit, _) = unit_of(r#"program "p" { cmd "true"; autorestart #false; }"#);
    assert_line(&unit, "Restart=no");
    assert!(!unit.contains("StartLimitIntervalSec"));
}

#[test]
fn unexpected_with_exitcodes_is_on_failure_with_success_and_forced_statuses() {
    let (unit, _) = unit_of(r#"program "p" { cmd "true"; exitcodes 0 2 75; }"#);
    assert_line(&unit, "Restart=on-failure");
    assert_line(&unit, "SuccessExitStatus=2 75");
    assert_line(
        &unit,
        "RestartForceExitStatus=SIGHUP SIGINT SIGTERM SIGPIPE",
    );
    assert_line(section(&unit, "Unit"), "StartLimitIntervalSec=0");
}

#[test]
fn unexpected_without_zero_forces_a_restart_on_exit_zero() {
    let (unit, _) = unit_of(r#"program "p" { cmd "true"; exitcodes 2; }"#);
    assert_line(&unit, "SuccessExitStatus=2");
    assert_line(
        &unit,
        "RestartForceExitStatus=0 SIGHUP SIGINT SIGTERM SIGPIPE",
    );
}

#[test]
fn starttime_and_startretries_are_a_comment_and_a_warning() {
    let (unit, warnings) = unit_of(r#"program "p" { cmd "true"; starttime 5; startretries 7; }"#);
    assert!(
        unit.contains("# cannot map starttime \"5s\", startretries 7: systemd has no starttime"),
        "{unit}"
    );
    assert!(other_warnings(&warnings).is_empty(), "{warnings:?}");
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("program \"p\": cannot map starttime \"5s\", startretries 7")),
        "{warnings:?}"
    );
}

#[test]
fn stopsignal_and_stoptime_kill_the_control_group() {
    let (unit, _) = unit_of(r#"program "p" { cmd "true"; stopsignal "INT"; stoptime "1.5s"; }"#);
    assert_line(&unit, "KillMode=control-group");
    assert_line(&unit, "KillSignal=SIGINT");
    assert_line(&unit, "TimeoutStopSec=1500ms");
}

#[test]
fn stoptime_zero_is_the_shortest_timeout_not_none() {
    let (unit, _) = unit_of(r#"program "p" { cmd "true"; stoptime 0; }"#);
    assert_line(&unit, "TimeoutStopSec=1us");
}

#[test]
fn outputs_map_to_append_null_and_journal() {
    let (unit, _) =
        unit_of(r#"program "p" { cmd "true"; stdout "logs/p.out"; stderr "discard"; }"#);
    assert_line(&unit, "StandardOutput=append:/cfg/logs/p.out");
    assert_line(&unit, "StandardError=null");
    let (unit, _) = unit_of(r#"program "p" { cmd "true"; }"#);
    assert_line(&unit, "StandardOutput=journal");
    assert_line(&unit, "StandardError=journal");
}

#[test]
fn an_output_path_systemd_cannot_read_back_is_a_comment_and_a_warning() {
    let (unit, warnings) = unit_of(r#"program "p" { cmd "true"; stdout "/tmp/x "; }"#);
    assert_line(&unit, "StandardOutput=journal");
    assert!(unit.contains("# cannot map stdout \"/tmp/x \""), "{unit}");
    assert_eq!(other_warnings(&warnings).len(), 1);
}

#[test]
fn env_is_inlined_and_escaped() {
    let (unit, _) = unit_of(r#"program "p" { cmd "true"; env { A "x y"; P "100% $HOME"; }; }"#);
    assert_line(&unit, "Environment=\"A=x y\"");
    assert_line(&unit, "Environment=\"P=100%% $HOME\"");
}

#[test]
fn an_env_name_systemd_refuses_is_a_comment_and_a_warning() {
    let (unit, warnings) = unit_of(r#"program "p" { cmd "true"; env { "a.b" "1"; OK "2"; }; }"#);
    assert!(!unit.contains("a.b=1"));
    assert!(unit.contains("# cannot map env \"a.b\""), "{unit}");
    assert_line(&unit, "Environment=\"OK=2\"");
    assert_eq!(other_warnings(&warnings).len(), 1);
}

#[test]
fn unit_names_are_escaped_and_the_target_is_last() {
    let e = export_kdl(r#"program "a@b" { cmd "true"; }"#);
    assert_eq!(e.units[0].name, "tm-a\\x40b@.service");
    assert_eq!(e.instances, ["tm-a\\x40b@0.service"]);
    assert_eq!(e.units.last().map(|u| u.name.as_str()), Some("tm-t.target"));
}

#[test]
fn a_name_longer_than_systemd_allows_is_an_error() {
    let name = "n".repeat(250);
    let plan = compile(
        "t.kdl",
        &format!(r#"program "{name}" {{ cmd "true"; }}"#),
        Path::new("/cfg"),
    )
    .expect("valid")
    .plan;
    assert!(matches!(
        export(&plan, "t", "t.kdl", &test_env()),
        Err(ExportError::NameTooLong { .. })
    ));
}

#[test]
fn timespans_are_exact() {
    assert_eq!(timespan(Duration::from_secs(10)), "10s");
    assert_eq!(timespan(Duration::from_millis(1500)), "1500ms");
    assert_eq!(timespan(Duration::from_nanos(1_500)), "2us");
}

#[test]
fn daemon_settings_are_comments_in_the_target_and_warnings() {
    let e = export_kdl(
        r#"taskmaster { socket "tm.sock"; logfile "/var/log/tm.log"; }
           program "p" { cmd "true"; }"#,
    );
    let target = &e.units.last().expect("target").text;
    assert!(
        target.contains("# cannot map socket \"/cfg/tm.sock\""),
        "{target}"
    );
    assert!(
        target.contains("# cannot map logfile \"/var/log/tm.log\""),
        "{target}"
    );
    let daemon: Vec<String> = e
        .unmapped
        .iter()
        .filter(|u| u.program.is_none())
        .map(Unmapped::warning)
        .collect();
    assert_eq!(daemon.len(), 2, "{daemon:?}");
    assert!(daemon[0].starts_with("taskmaster block: cannot map socket"));
    let plain = export_kdl(r#"program "p" { cmd "true"; }"#);
    assert!(plain.unmapped.iter().all(|u| u.program.is_some()));
}

#[test]
fn crash_loop_settings_map_to_restart_sec_and_start_limits() {
    let (unit, warnings) = unit_of("program \"p\" { cmd \"true\"; }");
    assert!(
        !unit.lines().any(|l| l.starts_with("RestartSec=")),
        "{unit}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("restart-backoff \"100ms\" \"30s\" (the default)")),
        "{warnings:?}"
    );
    let (unit, warnings) = unit_of(
        "program \"p\" { cmd \"true\"; autorestart #true; restart-backoff \"1s\" \"1m\"; crash-limit 5 \"60s\"; }",
    );
    assert_line(section(&unit, "Service"), "RestartSec=1s");
    assert_line(section(&unit, "Unit"), "StartLimitIntervalSec=60s");
    assert_line(section(&unit, "Unit"), "StartLimitBurst=6");
    assert!(!has_line(&unit, "StartLimitIntervalSec=0"), "{unit}");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("restart-backoff \"1s\" \"60s\"") && w.contains("doubling")),
        "{warnings:?}"
    );
    assert!(
        !warnings.iter().any(|w| w.contains("crash-limit")),
        "{warnings:?}"
    );
}

#[test]
fn restart_backoff_zero_is_restart_sec_zero_with_nothing_lost() {
    let (unit, warnings) = unit_of("program \"p\" { cmd \"true\"; restart-backoff 0; }");
    assert_line(section(&unit, "Service"), "RestartSec=0s");
    assert!(
        !warnings.iter().any(|w| w.contains("restart-backoff")),
        "{warnings:?}"
    );
}

#[test]
fn autorestart_false_has_no_crash_restarts_to_pace() {
    let (unit, warnings) = unit_of("program \"p\" { cmd \"true\"; autorestart #false; }");
    assert!(
        !unit.lines().any(|l| l.starts_with("RestartSec=")),
        "{unit}"
    );
    assert!(
        !warnings.iter().any(|w| w.contains("restart-backoff")),
        "{warnings:?}"
    );
}

#[test]
fn a_readiness_check_is_a_probe_run_as_exec_start_post() {
    let (unit, warnings) = unit_of(
        r#"program "p" { cmd "true"; readiness { tcp 8080; interval "500ms"; deadline "30s"; }; }"#,
    );
    let service = section(&unit, "Service");
    assert_line(
        service,
        "ExecStartPost=/usr/local/bin/taskmaster probe --interval 500ms --timeout 1s \
         --threshold 1 --deadline 30s tcp 127.0.0.1:8080",
    );
    assert_line(service, "TimeoutStartSec=35s");
    assert!(other_warnings(&warnings).is_empty(), "{warnings:?}");
}

#[test]
fn http_and_exec_readiness_keep_their_words_escaped_and_the_delay() {
    let (unit, _) = unit_of(
        r#"program "p" { cmd "true"; readiness { http "http://localhost:80/h?a=100%"; threshold 2; delay "2s"; }; }"#,
    );
    assert_line(
        &unit,
        "ExecStartPost=/usr/local/bin/taskmaster probe --interval 1s --timeout 1s \
         --threshold 2 --deadline 60s --delay 2s http \"http://localhost:80/h?a=100%%\"",
    );
    let (unit, _) =
        unit_of(r#"program "p" { cmd "true"; readiness { exec "sh" "-c" "test -e $HOME/up"; }; }"#);
    assert_line(
        &unit,
        "ExecStartPost=/usr/local/bin/taskmaster probe --interval 1s --timeout 1s \
         --threshold 1 --deadline 60s exec sh -c \"test -e $$HOME/up\"",
    );
}

#[test]
fn log_readiness_and_liveness_are_comments_and_warnings() {
    let (unit, warnings) = unit_of(
        r#"program "p" { cmd "true"; readiness { log "listening"; }; liveness { tcp 8080; }; }"#,
    );
    assert!(!unit.contains("ExecStartPost="), "{unit}");
    assert!(
        unit.contains("# cannot map readiness { log \"listening\""),
        "{unit}"
    );
    assert!(
        unit.contains("# cannot map liveness { tcp \"127.0.0.1:8080\""),
        "{unit}"
    );
    let others = other_warnings(&warnings);
    assert_eq!(others.len(), 2, "{others:?}");
    assert!(others[0].starts_with("program \"p\": cannot map readiness"));
    assert!(others[1].contains("WatchdogSec="));
}

#[test]
fn a_log_block_appends_and_its_rotation_is_a_comment_and_a_warning() {
    let (unit, warnings) = unit_of(
        r#"program "p" { cmd "true"; stdout "p.log" { max-size "1MB"; keep 3; timestamps #true; }; stderr "stdout"; }"#,
    );
    assert_line(&unit, "StandardOutput=append:/cfg/p.log");
    assert_line(&unit, "StandardError=inherit");
    let others = other_warnings(&warnings);
    assert_eq!(others.len(), 1, "{others:?}");
    assert!(
        others[0].contains("cannot map stdout \"/cfg/p.log\""),
        "{others:?}"
    );
    assert!(others[0].contains("neither rotates nor timestamps"));
    assert!(
        unit.contains("# cannot map stdout \"/cfg/p.log\""),
        "{unit}"
    );
}

#[test]
fn stderr_to_stdout_follows_stdout_wherever_it_goes() {
    for (stdout, expected) in [
        ("", "StandardOutput=journal"),
        ("stdout \"discard\";", "StandardOutput=null"),
        ("stdout \"o.log\";", "StandardOutput=append:/cfg/o.log"),
    ] {
        let (unit, warnings) = unit_of(&format!(
            r#"program "p" {{ cmd "true"; {stdout} stderr "stdout"; }}"#
        ));
        assert_line(&unit, expected);
        assert_line(&unit, "StandardError=inherit");
        assert!(other_warnings(&warnings).is_empty(), "{warnings:?}");
    }
}

#[test]
fn user_group_and_groups_are_written_as_the_config_names_them() {
    let (unit, warnings) =
        unit_of(r#"program "p" { cmd "true"; user "www-data"; group 33; groups "adm" "4"; }"#);
    assert_line(&unit, "User=www-data");
    assert_line(&unit, "Group=33");
    assert_line(&unit, "SupplementaryGroups=adm 4");
    assert!(other_warnings(&warnings).is_empty(), "{warnings:?}");
}

#[test]
fn limits_are_soft_colon_hard_and_unlimited_is_infinity() {
    let (unit, warnings) = unit_of(
        r#"program "p" { cmd "true"; limits { nofile 4096 65536; nproc 512; core "unlimited"; as "1GB" "unlimited"; cpu 60; }; }"#,
    );
    for line in [
        "LimitNOFILE=4096:65536",
        "LimitNPROC=512",
        "LimitCORE=infinity",
        "LimitAS=1073741824:infinity",
        "LimitCPU=60",
    ] {
        assert_line(&unit, line);
    }
    assert!(other_warnings(&warnings).is_empty(), "{warnings:?}");
}

#[test]
fn env_files_are_inlined_and_env_wins() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.env"), "A=from-file\nB=100% file\n").unwrap();
    let kdl = r#"program "p" { cmd "true"; env-file "a.env"; env { A "from-env"; }; }"#;
    let plan = compile("t.kdl", kdl, dir.path())
        .unwrap_or_else(|r| panic!("{}", r.render(false)))
        .plan;
    let e = export(&plan, "t", "t.kdl", &test_env()).expect("exports");
    let unit = &e.units[0].text;
    assert_line(unit, "Environment=\"A=from-env\"");
    assert_line(unit, "Environment=\"B=100%% file\"");
    assert!(!unit.contains("from-file"), "{unit}");
}

#[test]
fn every_process_gets_its_identity_variables() {
    let (unit, _) = unit_of(r#"program "p" { cmd "true"; numprocs 2; }"#);
    assert_line(&unit, "Environment=\"TASKMASTER_PROGRAM=p\"");
    assert_line(&unit, "Environment=\"TASKMASTER_PROCESS=p:%i\"");
    assert_line(&unit, "Environment=\"TASKMASTER_PROCESS_NUM=%i\"");
    let (unit, _) = unit_of(r#"program "p" { cmd "true"; }"#);
    assert_line(&unit, "Environment=\"TASKMASTER_PROCESS=p\"");
}

#[test]
fn placeholders_are_expanded_per_instance_in_drop_ins() {
    let e = export_kdl(
        r#"program "p" { cmd "sh" "-c" "serve {process_num+8000}"; numprocs 3; stdout "/log/{process}.out"; env { N "{process_num}"; }; }"#,
    );
    let names: Vec<&str> = e.units.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "tm-p@.service",
            "tm-p@1.service.d/50-taskmaster-process.conf",
            "tm-p@2.service.d/50-taskmaster-process.conf",
            "tm-t.target"
        ]
    );
    let template = &e.units[0].text;
    assert_line(template, "ExecStart=@/usr/bin/sh sh -c \"serve 8000\"");
    assert_line(template, "StandardOutput=append:/log/p:0.out");
    assert_line(template, "Environment=\"N=0\"");
    let two = &e.units[2].text;
    let service = section(two, "Service");
    assert!(service.starts_with("[Service]\nExecStart=\n"), "{two}");
    assert_line(service, "ExecStart=@/usr/bin/sh sh -c \"serve 8002\"");
    assert_line(service, "StandardOutput=append:/log/p:2.out");
    assert_line(service, "Environment=\"N=2\"");
    assert!(
        !two.contains("Restart="),
        "only the per-process values: {two}"
    );
}

#[test]
fn placeholders_of_a_single_process_are_expanded_in_the_template() {
    let e = export_kdl(r#"program "p" { cmd "echo" "{program}" "{process}" "{process_num+1}"; }"#);
    assert_eq!(e.units.len(), 2, "no drop-in");
    assert_line(&e.units[0].text, "ExecStart=@/usr/bin/echo echo p p 1");
    assert!(e.unmapped.iter().all(|u| !u.setting.contains('{')));
}

fn unit_named(e: &Export, name: &str) -> String {
    e.units
        .iter()
        .find(|u| u.name == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .text
        .clone()
}

#[test]
fn a_started_dependency_is_wants_and_after_on_each_of_its_instances() {
    let e = export_kdl(
        r#"program "db" { cmd "true"; numprocs 2; }
           program "p" { cmd "true"; depends-on { db "started"; }; }"#,
    );
    let unit = unit_of_export(&e);
    let section = section(&unit, "Unit");
    for line in [
        "Wants=tm-db@0.service",
        "Wants=tm-db@1.service",
        "After=tm-db@0.service",
        "After=tm-db@1.service",
    ] {
        assert_line(section, line);
    }
    assert!(!unit.contains("Requires="), "{unit}");
    assert!(
        other_warnings(&warnings_of(&e)).is_empty(),
        "{:?}",
        warnings_of(&e)
    );
}

#[test]
fn a_ready_dependency_is_requires_and_after_and_its_probe_gates_it() {
    let e = export_kdl(
        r#"program "db" { cmd "true"; readiness { tcp 5432; }; }
           program "p" { cmd "true"; depends-on "db"; }"#,
    );
    let unit = unit_of_export(&e);
    assert_line(section(&unit, "Unit"), "Requires=tm-db@0.service");
    assert_line(section(&unit, "Unit"), "After=tm-db@0.service");
    let db = unit_named(&e, "tm-db@.service");
    assert!(
        db.contains("ExecStartPost=/usr/local/bin/taskmaster probe"),
        "{db}"
    );
    assert_line(&db, "Type=exec");
    let warnings = warnings_of(&e);
    let others = other_warnings(&warnings);
    assert_eq!(others.len(), 1, "{others:?}");
    assert!(
        others[0].contains("depends-on { \"db\" \"ready\" }"),
        "{others:?}"
    );
    assert!(
        others[0].contains("instead of waiting through"),
        "{others:?}"
    );
}

#[test]
fn a_completed_dependency_is_a_oneshot_that_remains_active() {
    let e = export_kdl(
        r#"program "migrate" { cmd "true"; autorestart #false; }
           program "p" { cmd "true"; depends-on { migrate "completed"; }; }"#,
    );
    let unit = unit_of_export(&e);
    assert_line(section(&unit, "Unit"), "Requires=tm-migrate@0.service");
    assert_line(section(&unit, "Unit"), "After=tm-migrate@0.service");
    let migrate = unit_named(&e, "tm-migrate@.service");
    for line in [
        "Type=oneshot",
        "RemainAfterExit=yes",
        "TimeoutStartSec=infinity",
    ] {
        assert_line(&migrate, line);
    }
    assert!(!migrate.contains("Type=exec"), "{migrate}");
}

#[test]
fn an_unexpected_restarting_oneshot_loses_its_forced_restarts_with_a_note() {
    let e = export_kdl(
        r#"program "migrate" { cmd "true"; }
           program "p" { cmd "true"; depends-on { migrate "completed"; }; }"#,
    );
    let migrate = unit_named(&e, "tm-migrate@.service");
    assert_line(&migrate, "Restart=on-failure");
    assert!(
        !migrate
            .lines()
            .any(|l| l.starts_with("RestartForceExitStatus=")),
        "{migrate}"
    );
    assert!(
        migrate.contains("# cannot map autorestart \"unexpected\" (of a dependency"),
        "{migrate}"
    );
}

#[test]
fn a_healthy_dependency_is_taken_as_ready_with_a_note() {
    let e = export_kdl(
        r#"program "db" { cmd "true"; liveness { tcp 5432; }; }
           program "p" { cmd "true"; depends-on { db "healthy"; }; }"#,
    );
    let unit = unit_of_export(&e);
    assert_line(section(&unit, "Unit"), "Requires=tm-db@0.service");
    assert!(
        unit.contains("# cannot map depends-on { \"db\" \"healthy\" }: systemd has no liveness"),
        "{unit}"
    );
}

fn unit_of_export(e: &Export) -> String {
    unit_named(e, "tm-p@.service")
}

fn warnings_of(e: &Export) -> Vec<String> {
    e.unmapped.iter().map(Unmapped::warning).collect()
}
