//! The few Kubernetes API objects the export writes, as typed structs that serialize to the
//! API's field names (apps/v1 Deployment, batch/v1 Job and their pod template). Only the
//! fields the export sets are here; `None` and empty fields are left out of the output.

use std::collections::BTreeMap;

use serde::Serialize;

/// One top-level object: a Deployment or a Job.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Object {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: WorkloadSpec,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum WorkloadSpec {
    Deployment(DeploymentSpec),
    Job(JobSpec),
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSpec {
    pub replicas: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_ready_seconds: Option<u32>,
    pub selector: LabelSelector,
    pub template: PodTemplate,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSpec {
    pub parallelism: u32,
    pub completions: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_mode: Option<&'static str>,
    pub backoff_limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    pub template: PodTemplate,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    pub match_labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PodTemplate {
    pub metadata: ObjectMeta,
    pub spec: PodSpec,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    pub restart_policy: &'static str,
    pub termination_grace_period_seconds: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_context: Option<PodSecurityContext>,
    pub containers: Vec<Container>,
}

/// The pod's `securityContext`: who its containers run as (numeric ids only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurityContext {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as_group: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub supplemental_groups: Vec<u32>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    pub image: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup_probe: Option<Probe>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,
}

/// A container probe: one action and its pacing (whole seconds, at least 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    #[serde(flatten)]
    pub action: ProbeAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_delay_seconds: Option<u64>,
    pub period_seconds: u64,
    pub timeout_seconds: u64,
    pub success_threshold: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ProbeAction {
    TcpSocket { port: u16 },
    HttpGet { path: String, port: u16 },
    Exec { command: Vec<String> },
}

#[derive(Debug, Clone, Serialize)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

/// Several objects as one JSON document, the way `kubectl get -o json` prints them.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct List<'a> {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub items: Vec<&'a Object>,
}
