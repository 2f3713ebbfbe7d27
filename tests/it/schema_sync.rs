//! `schema/taskmaster.schema.json` stays in step with the plan: the directive tables'
//! names and reload classes, the model's defaults. Adding a directive without describing it
//! in the schema fails here, and so does the other way round.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use taskmaster::plan::ProgramSpec;
use taskmaster::plan::diff::FieldClass;
use taskmaster::plan::directive::{DAEMON, Directive, PROGRAM};

fn schema() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/taskmaster.schema.json");
    let text = std::fs::read_to_string(&path).expect("the schema file is readable");
    serde_json::from_str(&text).expect("the schema is valid JSON")
}

fn keys(object: &Value) -> BTreeSet<String> {
    object
        .as_object()
        .expect("a JSON object")
        .keys()
        .cloned()
        .collect()
}

fn program_properties(schema: &Value) -> &serde_json::Map<String, Value> {
    schema["$defs"]["program"]["properties"]
        .as_object()
        .expect("$defs.program.properties is an object")
}

#[test]
fn the_schema_has_the_expected_shape() {
    let s = schema();
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(s["type"], "object");
    assert_eq!(
        keys(&s["properties"]),
        BTreeSet::from(["program".to_owned(), "taskmaster".to_owned()])
    );
    assert_eq!(
        s["properties"]["program"]["additionalProperties"]["$ref"],
        "#/$defs/program"
    );
    assert_eq!(
        s["$defs"]["program"]["required"],
        serde_json::json!(["cmd"])
    );
    assert_eq!(s["$defs"]["program"]["additionalProperties"], false);
    for (name, property) in program_properties(&s) {
        let description = property["description"].as_str().unwrap_or_default();
        assert!(!description.is_empty(), "{name} has no description");
    }
}

#[test]
fn program_fields_match_the_plan() {
    let s = schema();
    let in_schema: BTreeSet<String> = program_properties(&s).keys().cloned().collect();
    let in_plan: BTreeSet<String> = Directive::names(PROGRAM).map(str::to_owned).collect();
    assert_eq!(
        in_schema.difference(&in_plan).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "fields in the schema but not in the plan"
    );
    assert_eq!(
        in_plan.difference(&in_schema).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "fields in the plan but not in the schema"
    );
}

#[test]
fn daemon_fields_match_the_plan() {
    let s = schema();
    let in_plan: BTreeSet<String> = Directive::names(DAEMON).map(str::to_owned).collect();
    assert_eq!(keys(&s["properties"]["taskmaster"]["properties"]), in_plan);
}

/// JSON numbers compare by value: the plan serializes `1s` as `1.0`, the schema writes `1`.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

#[test]
fn defaults_match_the_plan() {
    let s = schema();
    let defaults = serde_json::to_value(ProgramSpec::with_defaults("x", vec!["true".into()]))
        .expect("serializes");
    for (name, property) in program_properties(&s) {
        let plan_default = &defaults[name.as_str()];
        match property.get("default") {
            Some(schema_default) => assert!(
                same_value(schema_default, plan_default),
                "{name}: schema default {schema_default}, plan default {plan_default}"
            ),
            // No writable default: required (cmd), or "unset" means inherited/memory.
            None if name == "cmd" => {}
            None => {
                let unset = property["x-taskmaster-unset"].as_str();
                assert!(
                    unset.is_some(),
                    "{name}: no default and no x-taskmaster-unset"
                );
                assert!(
                    plan_default.is_null() || plan_default.as_str() == unset,
                    "{name}: unset is {unset:?} in the schema, {plan_default} in the plan"
                );
            }
        }
    }
}

#[test]
fn reload_classes_match_the_diff() {
    let s = schema();
    for (name, property) in program_properties(&s) {
        let expected = match Directive::find(PROGRAM, name).map(|d| d.reload) {
            Some(FieldClass::Spawn) => "restart",
            Some(FieldClass::Supervision) => "in-place",
            Some(FieldClass::Scale) => "scale",
            other => panic!("{name}: unexpected class {other:?}"),
        };
        assert_eq!(property["x-taskmaster-reload"], expected, "{name}");
    }
}
