//! One test per row of the Kubernetes mapping table (the book's "Outgrowing one machine").

use std::path::Path;

use serde_json::{Value, json};

use super::*;
use crate::plan::compile;

fn export_kdl(kdl: &str) -> Export {
    let plan = compile("t.kdl", kdl, Path::new("/cfg"))
        .unwrap_or_else(|r| panic!("{}", r.render(false)))
        .plan;
    let options = Options {
        image: "img:1".into(),
        namespace: None,
    };
    export(&plan, "t", "t.kdl", &options)
}

/// Program `p`'s object as JSON, and the settings it could not map.
fn object_of(kdl: &str) -> (Value, Vec<String>) {
    let e = export_kdl(kdl);
    let object = serde_json::to_value(&e.manifests[0].object).expect("serializes");
    (
        object,
        e.unmapped.iter().map(|u| u.setting.clone()).collect(),
    )
}

fn container(object: &Value) -> &Value {
    &object["spec"]["template"]["spec"]["containers"][0]
}

/// The settings that could not map, but for those every restarting program has.
fn other(unmapped: &[String]) -> Vec<&String> {
    unmapped
        .iter()
        .filter(|s| {
            !s.starts_with("starttime")
                && !s.starts_with("autorestart")
                && !s.ends_with("(the default)")
        })
        .collect()
}

#[test]
fn cmd_becomes_the_command_as_argv() {
    let (o, _) = object_of(r#"program "p" { cmd "sh -c 'echo $HOME'"; }"#);
    assert_eq!(container(&o)["command"], json!(["sh", "-c", "echo $HOME"]));
    assert_eq!(container(&o)["image"], "img:1");
    assert_eq!(container(&o)["name"], "p");
}

#[test]
fn numprocs_becomes_replicas() {
    let (o, _) = object_of(r#"program "p" { cmd "true"; numprocs 4; }"#);
    assert_eq!(o["kind"], "Deployment");
    assert_eq!(o["spec"]["replicas"], 4);
    assert_eq!(
        o["spec"]["selector"]["matchLabels"],
        o["spec"]["template"]["metadata"]["labels"]
    );
}

#[test]
fn umask_is_a_comment_and_a_warning() {
    let (_, unmapped) = object_of(r#"program "p" { cmd "true"; umask "027"; }"#);
    assert_eq!(other(&unmapped), ["umask \"027\""]);
}

#[test]
fn workingdir_becomes_working_dir() {
    let (o, _) = object_of(r#"program "p" { cmd "true"; workingdir "/srv"; }"#);
    assert_eq!(container(&o)["workingDir"], "/srv");
}

#[test]
fn autostart_false_is_zero_replicas_or_a_suspended_job() {
    let (o, _) = object_of(r#"program "p" { cmd "true"; numprocs 2; autostart #false; }"#);
    assert_eq!(o["spec"]["replicas"], 0);
    let (o, _) = object_of(r#"program "p" { cmd "true"; autostart #false; autorestart #false; }"#);
    assert_eq!(o["spec"]["suspend"], true);
}

#[test]
fn autorestart_true_is_a_deployment_with_nothing_lost() {
    let (o, unmapped) = object_of(r#"program "p" { cmd "true"; autorestart #true; }"#);
    assert_eq!(o["kind"], "Deployment");
    assert_eq!(o["spec"]["template"]["spec"]["restartPolicy"], "Always");
    assert!(!unmapped.iter().any(|s| s.starts_with("autorestart")));
}

#[test]
fn autorestart_unexpected_is_a_deployment_and_a_warning() {
    let (o, unmapped) = object_of(r#"program "p" { cmd "true"; exitcodes 0 2; }"#);
    assert_eq!(o["kind"], "Deployment");
    assert!(unmapped.contains(&"autorestart \"unexpected\", exitcodes 0 2".to_owned()));
}

#[test]
fn autorestart_false_is_a_job_run_once() {
    let (o, _) = object_of(r#"program "p" { cmd "true"; autorestart #false; numprocs 3; }"#);
    assert_eq!(o["apiVersion"], "batch/v1");
    assert_eq!(o["kind"], "Job");
    assert_eq!(o["spec"]["backoffLimit"], 0);
    assert_eq!(o["spec"]["completions"], 3);
    assert_eq!(o["spec"]["parallelism"], 3);
    assert_eq!(o["spec"]["completionMode"], "Indexed");
    assert_eq!(o["spec"]["template"]["spec"]["restartPolicy"], "Never");
}

#[test]
fn starttime_becomes_min_ready_seconds_and_startretries_a_warning() {
    let (o, unmapped) = object_of(r#"program "p" { cmd "true"; starttime "1.5s"; }"#);
    assert_eq!(o["spec"]["minReadySeconds"], 2);
    assert!(unmapped.contains(&"starttime \"1.5s\", startretries 3".to_owned()));
    let (o, _) = object_of(r#"program "p" { cmd "true"; starttime 0; }"#);
    assert!(o["spec"].get("minReadySeconds").is_none());
}

#[test]
fn stoptime_becomes_the_grace_period_rounded_up() {
    let (o, unmapped) = object_of(r#"program "p" { cmd "true"; stoptime 7; }"#);
    assert_eq!(
        o["spec"]["template"]["spec"]["terminationGracePeriodSeconds"],
        7
    );
    assert!(other(&unmapped).is_empty(), "{unmapped:?}");
    let (o, unmapped) = object_of(r#"program "p" { cmd "true"; stoptime "2.5s"; }"#);
    assert_eq!(
        o["spec"]["template"]["spec"]["terminationGracePeriodSeconds"],
        3
    );
    assert_eq!(other(&unmapped), ["stoptime \"2.5s\""]);
}

#[test]
fn a_stopsignal_other_than_term_is_a_comment_and_a_warning() {
    let e = export_kdl(r#"program "p" { cmd "true"; stopsignal "INT"; }"#);
    let settings: Vec<String> = e.unmapped.iter().map(|u| u.setting.clone()).collect();
    assert_eq!(other(&settings), ["stopsignal \"INT\""]);
    assert!(
        e.unmapped
            .iter()
            .any(|u| u.why.contains("STOPSIGNAL SIGINT"))
    );
    let yaml = e.to_yaml().expect("yaml");
    assert!(yaml.contains("# cannot map stopsignal \"INT\""), "{yaml}");
}

#[test]
fn output_files_and_discard_are_comments_and_warnings() {
    let (_, unmapped) =
        object_of(r#"program "p" { cmd "true"; stdout "/var/log/p.out"; stderr "discard"; }"#);
    assert_eq!(
        other(&unmapped),
        ["stdout \"/var/log/p.out\"", "stderr \"discard\""]
    );
    let (_, unmapped) = object_of(r#"program "p" { cmd "true"; }"#);
    assert!(other(&unmapped).is_empty());
}

#[test]
fn env_becomes_the_container_env() {
    let (o, _) = object_of(r#"program "p" { cmd "true"; env { B "2"; A "1"; }; }"#);
    assert_eq!(
        container(&o)["env"],
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"},
               {"name": "TASKMASTER_PROCESS", "value": "p"},
               {"name": "TASKMASTER_PROCESS_NUM", "value": "0"},
               {"name": "TASKMASTER_PROGRAM", "value": "p"}])
    );
}

#[test]
fn unmapped_settings_are_also_an_annotation_for_json() {
    let (o, _) = object_of(r#"program "p" { cmd "true"; umask "027"; }"#);
    let notes = o["metadata"]["annotations"]["taskmaster/cannot-map"]
        .as_str()
        .expect("annotation");
    assert!(notes.contains("cannot map umask \"027\""), "{notes}");
    assert_eq!(o["metadata"]["annotations"]["taskmaster/program"], "p");
}

#[test]
fn names_become_dns_labels_without_collisions() {
    assert_eq!(dns_label("Web_Server"), "web-server");
    assert_eq!(dns_label("__"), "program");
    assert_eq!(dns_label(&"x".repeat(80)).len(), 63);
    let e = export_kdl(
        r#"program "a_b" { cmd "true"; }
           program "a-b" { cmd "true"; }"#,
    );
    let names: Vec<Option<String>> = e
        .manifests
        .iter()
        .map(|m| m.object.metadata.name.clone())
        .collect();
    // "a-b" keeps its name although "a_b" sorts first.
    assert_eq!(names, [Some("a-b".to_owned()), Some("a-b-2".to_owned())]);
    assert_eq!(e.manifests[0].comments[0], "taskmaster program \"a-b\"");
}

#[test]
fn namespace_is_set_on_every_object() {
    let plan = compile("t.kdl", r#"program "p" { cmd "true"; }"#, Path::new("/cfg"))
        .expect("valid")
        .plan;
    let options = Options {
        image: "img".into(),
        namespace: Some("prod".into()),
    };
    let e = export(&plan, "t", "t.kdl", &options);
    assert_eq!(
        e.manifests[0].object.metadata.namespace.as_deref(),
        Some("prod")
    );
}

#[test]
fn json_is_one_list_of_the_same_objects_as_the_yaml() {
    let e = export_kdl(
        r#"program "p" { cmd "true"; }
           program "q" { cmd "true"; autorestart #false; }"#,
    );
    let list: Value = serde_json::from_str(&e.to_json().expect("json")).expect("parses");
    assert_eq!(list["kind"], "List");
    let from_yaml: Vec<Value> = e
        .to_yaml()
        .expect("yaml")
        .split("\n---\n")
        .skip(1)
        .map(|doc| serde_norway::from_str(doc).expect("yaml parses"))
        .collect();
    assert_eq!(list["items"], Value::Array(from_yaml));
}

#[test]
fn daemon_settings_are_comments_at_the_top_and_warnings() {
    let e = export_kdl(
        r#"taskmaster { socket "tm.sock"; logfile "/var/log/tm.log"; }
           program "p" { cmd "true"; }"#,
    );
    let yaml = e.to_yaml().expect("yaml");
    let header = yaml.split("---").next().expect("header");
    assert!(
        header.contains("# cannot map socket \"/cfg/tm.sock\""),
        "{yaml}"
    );
    assert!(
        header.contains("# cannot map logfile \"/var/log/tm.log\""),
        "{yaml}"
    );
    assert_eq!(e.unmapped.iter().filter(|u| u.program.is_none()).count(), 2);
}

#[test]
fn crash_loop_settings_are_comments_and_warnings() {
    let (_, unmapped) = object_of("program \"p\" { cmd \"true\"; }");
    assert!(
        unmapped.contains(&"restart-backoff \"100ms\" \"30s\" (the default)".to_owned()),
        "{unmapped:?}"
    );
    assert!(
        !unmapped.iter().any(|w| w.contains("crash-limit")),
        "{unmapped:?}"
    );
    let (_, unmapped) =
        object_of("program \"p\" { cmd \"true\"; restart-backoff 0; crash-limit 3 \"10s\"; }");
    assert!(
        unmapped.contains(&"restart-backoff 0".to_owned()),
        "{unmapped:?}"
    );
    assert!(
        unmapped.contains(&"crash-limit 3 \"10s\"".to_owned()),
        "{unmapped:?}"
    );
    let (_, unmapped) = object_of("program \"p\" { cmd \"true\"; autorestart #false; }");
    assert!(
        !unmapped.iter().any(|w| w.contains("restart-backoff")),
        "{unmapped:?}"
    );
}

#[test]
fn readiness_is_a_startup_probe_with_the_deadline_and_a_readiness_probe_with_the_threshold() {
    let (o, unmapped) = object_of(
        r#"program "p" { cmd "true"; readiness { tcp 8080; interval "2s"; timeout "3s"; threshold 2; deadline "30s"; delay "4s"; }; }"#,
    );
    let action = json!({"port": 8080});
    assert_eq!(
        container(&o)["startupProbe"],
        json!({"tcpSocket": action, "initialDelaySeconds": 4, "periodSeconds": 2,
               "timeoutSeconds": 3, "successThreshold": 1, "failureThreshold": 13})
    );
    assert_eq!(
        container(&o)["readinessProbe"],
        json!({"tcpSocket": action, "initialDelaySeconds": 4, "periodSeconds": 2,
               "timeoutSeconds": 3, "successThreshold": 2})
    );
    assert_eq!(container(&o).get("livenessProbe"), None);
    assert!(other(&unmapped).is_empty(), "{unmapped:?}");
}

#[test]
fn liveness_is_a_liveness_probe_restarting_after_threshold_failures() {
    let (o, unmapped) = object_of(
        r#"program "p" { cmd "true"; liveness { http "http://localhost:8080/healthz?x=1"; interval "10s"; threshold 3; }; }"#,
    );
    assert_eq!(
        container(&o)["livenessProbe"],
        json!({"httpGet": {"path": "/healthz?x=1", "port": 8080}, "periodSeconds": 10,
               "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3})
    );
    assert_eq!(container(&o).get("startupProbe"), None);
    assert!(other(&unmapped).is_empty(), "{unmapped:?}");
}

#[test]
fn an_exec_check_is_an_exec_probe() {
    let (o, _) = object_of(r#"program "p" { cmd "true"; liveness { exec "pg_isready" "-q"; }; }"#);
    assert_eq!(
        container(&o)["livenessProbe"]["exec"],
        json!({"command": ["pg_isready", "-q"]})
    );
}

#[test]
fn log_readiness_and_fractions_of_seconds_are_comments_and_warnings() {
    let e = export_kdl(
        r#"program "p" { cmd "true"; readiness { log "up"; }; liveness { tcp 1; interval "1.5s"; timeout "200ms"; }; }"#,
    );
    let c = serde_json::to_value(&e.manifests[0].object).unwrap();
    assert_eq!(container(&c).get("startupProbe"), None);
    assert_eq!(container(&c)["livenessProbe"]["periodSeconds"], json!(2));
    assert_eq!(container(&c)["livenessProbe"]["timeoutSeconds"], json!(1));
    let settings: Vec<String> = e.unmapped.iter().map(|u| u.setting.clone()).collect();
    let others = other(&settings);
    assert_eq!(others.len(), 2, "{others:?}");
    assert!(others[0].starts_with("readiness { log \"up\""));
    assert!(others[1].ends_with("(its fractions of a second)"));
    let why = &e
        .unmapped
        .iter()
        .find(|u| u.setting.starts_with("liveness"))
        .unwrap()
        .why;
    assert!(
        why.contains("interval 1.5s → 2s, timeout 200ms → 1s"),
        "{why}"
    );
    let comments = e.manifests[0].comments.join("\n");
    assert!(
        comments.contains("cannot map readiness { log \"up\""),
        "{comments}"
    );
}

#[test]
fn log_blocks_and_stderr_to_stdout_go_to_the_container_log() {
    let (_, unmapped) = object_of(
        r#"program "p" { cmd "true"; stdout "p.log" { max-size "1MB"; keep 2; }; stderr "stdout"; }"#,
    );
    let others = other(&unmapped);
    assert_eq!(others.len(), 1, "{others:?}");
    assert!(others[0].starts_with("stdout \"/cfg/p.log\""), "{others:?}");
    let (_, unmapped) = object_of(r#"program "p" { cmd "true"; stderr "stdout"; }"#);
    assert!(other(&unmapped).is_empty(), "{unmapped:?}");
}

#[test]
fn numeric_user_group_and_groups_are_the_pod_security_context() {
    let (o, unmapped) =
        object_of(r#"program "p" { cmd "true"; user 1000; group "1000"; groups 4 27; }"#);
    assert_eq!(
        o["spec"]["template"]["spec"]["securityContext"],
        json!({"runAsUser": 1000, "runAsGroup": 1000, "supplementalGroups": [4, 27]})
    );
    assert!(other(&unmapped).is_empty(), "{unmapped:?}");
}

#[test]
fn user_and_group_names_are_comments_and_warnings() {
    let e = export_kdl(r#"program "p" { cmd "true"; user "root"; groups "root" 4; }"#);
    let o = serde_json::to_value(&e.manifests[0].object).unwrap();
    assert_eq!(
        o["spec"]["template"]["spec"]["securityContext"],
        json!({"supplementalGroups": [4]})
    );
    let notes: Vec<&Unmapped> = e
        .unmapped
        .iter()
        .filter(|u| u.setting.starts_with("user") || u.setting.starts_with("groups"))
        .collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert_eq!(notes[0].setting, "user \"root\"");
    assert!(
        notes[0]
            .why
            .contains("root is 0 on this machine: write user 0"),
        "{}",
        notes[0].why
    );
    assert_eq!(notes[1].setting, "groups \"root\"");
}

#[test]
fn limits_are_a_comment_and_a_warning() {
    let (o, unmapped) = object_of(r#"program "p" { cmd "true"; limits { nofile 4096 65536; }; }"#);
    assert_eq!(o["spec"]["template"]["spec"].get("securityContext"), None);
    let others = other(&unmapped);
    assert_eq!(others.len(), 1, "{others:?}");
    assert!(others[0].starts_with("limits"), "{others:?}");
}

#[test]
fn env_files_are_inlined_and_env_wins() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.env"), "A=from-file\nB=file-only\n").unwrap();
    let kdl = r#"program "p" { cmd "true"; env-file "a.env"; env { A "from-env"; }; }"#;
    let plan = compile("t.kdl", kdl, dir.path())
        .unwrap_or_else(|r| panic!("{}", r.render(false)))
        .plan;
    let options = Options {
        image: "img:1".into(),
        namespace: None,
    };
    let e = export(&plan, "t", "t.kdl", &options);
    let o = serde_json::to_value(&e.manifests[0].object).unwrap();
    let env = &container(&o)["env"];
    assert_eq!(env[0], json!({"name": "A", "value": "from-env"}));
    assert_eq!(env[1], json!({"name": "B", "value": "file-only"}));
}

#[test]
fn placeholders_take_process_0s_values_and_warn_when_there_are_replicas() {
    let (o, unmapped) = object_of(
        r#"program "p" { cmd "serve" "--port" "{process_num+8000}"; workingdir "/srv/{program}"; }"#,
    );
    assert_eq!(container(&o)["command"], json!(["serve", "--port", "8000"]));
    assert_eq!(container(&o)["workingDir"], json!("/srv/p"));
    assert!(
        other(&unmapped).is_empty(),
        "one process: exact, {unmapped:?}"
    );
    let (o, unmapped) =
        object_of(r#"program "p" { cmd "serve" "--port" "{process_num+8000}"; numprocs 3; }"#);
    assert_eq!(container(&o)["command"], json!(["serve", "--port", "8000"]));
    let others = other(&unmapped);
    assert_eq!(others.len(), 1, "{others:?}");
    assert_eq!(others[0], "cmd \"serve --port '{process_num+8000}'\"");
    assert!(
        !container(&o)["env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "TASKMASTER_PROCESS_NUM")
    );
}

#[test]
fn depends_on_is_a_comment_and_a_warning() {
    let e = export_kdl(
        r#"program "db" { cmd "true"; }
           program "p" { cmd "true"; depends-on { db "ready"; }; }"#,
    );
    let note = e
        .unmapped
        .iter()
        .find(|u| u.setting.starts_with("depends-on"))
        .expect("a note");
    assert_eq!(note.program.as_deref(), Some("p"));
    assert_eq!(note.setting, "depends-on { \"db\" \"ready\" }");
    assert!(note.why.contains("no dependencies between them"));
    assert!(
        e.manifests[1]
            .comments
            .iter()
            .any(|c| c.starts_with("cannot map depends-on"))
    );
}
