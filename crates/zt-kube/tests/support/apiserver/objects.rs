//! The JSON the stand-in serves: pods, `PodList`, `meta.k8s.io/v1` `Table`,
//! `metav1.Status` errors and the discovery documents.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Value, json};

/// The one container every stand-in pod has.
const CONTAINER: &str = "main";
/// Its image (never pulled: nothing runs).
const IMAGE: &str = "registry.invalid/zt-stand-in:1";

/// A pod in the stand-in's store. Only what kubectl shows or needs is modelled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pod {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.uid`.
    pub uid: String,
    /// `metadata.resourceVersion`: the store's counter when the pod last changed.
    pub resource_version: u64,
    /// `metadata.creationTimestamp`.
    pub created: Timestamp,
    /// `status.phase` (`Running`, `Pending`, `Succeeded`, `Failed`).
    pub phase: String,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
}

impl Pod {
    /// The `metadata` object.
    fn metadata(&self) -> Value {
        json!({
            "name": self.name,
            "namespace": self.namespace,
            "uid": self.uid,
            "resourceVersion": self.resource_version.to_string(),
            "creationTimestamp": rfc3339(self.created),
            "labels": self.labels,
        })
    }

    /// Whether the single container is ready (running pods only).
    fn ready(&self) -> bool {
        self.phase == "Running"
    }

    /// The full `v1` `Pod` object.
    pub(super) fn to_json(&self) -> Value {
        let ready = self.ready();
        json!({
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": self.metadata(),
            "spec": {
                "containers": [{ "name": CONTAINER, "image": IMAGE }],
                "nodeName": "stand-in-node",
            },
            "status": {
                "phase": self.phase,
                "podIP": "10.0.0.10",
                "conditions": [{ "type": "Ready", "status": if ready { "True" } else { "False" } }],
                "containerStatuses": [{
                    "name": CONTAINER,
                    "image": IMAGE,
                    "imageID": "",
                    "ready": ready,
                    "started": ready,
                    "restartCount": 0,
                    "state": if ready {
                        json!({ "running": { "startedAt": rfc3339(self.created) } })
                    } else {
                        json!({ "waiting": { "reason": "ContainerCreating" } })
                    },
                }],
            },
        })
    }

    /// One `Table` row: the pod printer's cells and a `PartialObjectMetadata` object
    /// (the server's default `includeObject=Metadata`).
    fn table_row(&self, now: Timestamp) -> Value {
        json!({
            "cells": [
                self.name,
                if self.ready() { "1/1" } else { "0/1" },
                self.phase,
                0,
                age(self.created, now),
                "10.0.0.10",
                "stand-in-node",
            ],
            "object": {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": self.metadata(),
            },
        })
    }
}

/// `metav1.Time` format: RFC 3339 in UTC, whole seconds.
fn rfc3339(time: Timestamp) -> String {
    time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The AGE cell, in the short form of `duration.HumanDuration` (`42s`, `5m`, `3h`, `2d`).
fn age(created: Timestamp, now: Timestamp) -> String {
    let seconds = now.as_second().saturating_sub(created.as_second()).max(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7_200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3_600),
        s => format!("{}d", s / 86_400),
    }
}

/// A `PodList` of `pods` at list resource version `rv`.
pub(super) fn pod_list(pods: &[Pod], rv: u64) -> Value {
    json!({
        "kind": "PodList",
        "apiVersion": "v1",
        "metadata": { "resourceVersion": rv.to_string() },
        "items": pods.iter().map(Pod::to_json).collect::<Vec<_>>(),
    })
}

/// A `meta.k8s.io/v1` `Table` of `pods` with the pod printer's columns (the last two
/// have priority 1: only `-o wide` shows them).
pub(super) fn pod_table(pods: &[Pod], rv: u64, now: Timestamp) -> Value {
    let column = |name: &str, kind: &str, format: &str, priority: u8| json!({ "name": name, "type": kind, "format": format, "description": "", "priority": priority });
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": { "resourceVersion": rv.to_string() },
        "columnDefinitions": [
            column("Name", "string", "name", 0),
            column("Ready", "string", "", 0),
            column("Status", "string", "", 0),
            column("Restarts", "integer", "", 0),
            column("Age", "string", "", 0),
            column("IP", "string", "", 1),
            column("Node", "string", "", 1),
        ],
        "rows": pods.iter().map(|pod| pod.table_row(now)).collect::<Vec<_>>(),
    })
}

/// A `metav1.Status` failure.
pub(super) fn status(code: u16, reason: &str, message: &str, details: Option<Value>) -> Value {
    let mut status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    if let Some(details) = details {
        status["details"] = details;
    }
    status
}

/// `/version`: the server's build (claims v1.32, the kubectl under test).
pub(super) fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.0-zt-stand-in",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// `/api`: the legacy core group's versions.
pub(super) fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": server_address }],
    })
}

/// The named API groups the stand-in serves: `(group, version)`.
pub(super) const GROUPS: [(&str, &str); 2] = [
    ("authentication.k8s.io", "v1"),
    ("authorization.k8s.io", "v1"),
];

/// `/apis`: an `APIGroupList` of [`GROUPS`].
pub(super) fn group_list() -> Value {
    let groups: Vec<Value> = GROUPS
        .iter()
        .map(|(group, version)| {
            let gv = json!({ "groupVersion": format!("{group}/{version}"), "version": version });
            json!({ "name": group, "versions": [gv], "preferredVersion": gv })
        })
        .collect();
    json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
}

/// One `APIResource`.
fn resource(name: &str, kind: &str, namespaced: bool, verbs: &[&str], short: &[&str]) -> Value {
    let singular = if name.contains('/') {
        String::new()
    } else {
        kind.to_lowercase()
    };
    json!({
        "name": name,
        "singularName": singular,
        "namespaced": namespaced,
        "kind": kind,
        "verbs": verbs,
        "shortNames": short,
    })
}

/// The verbs of an ordinary stored resource.
const CRUD: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// `/api/v1`: pods with their exec/attach/portforward/log subresources, namespaces and
/// configmaps.
pub(super) fn core_resources() -> Value {
    json!({
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": [
            resource("pods", "Pod", true, &CRUD, &["po"]),
            resource("pods/attach", "PodAttachOptions", true, &["create", "get"], &[]),
            resource("pods/exec", "PodExecOptions", true, &["create", "get"], &[]),
            resource("pods/log", "Pod", true, &["get"], &[]),
            resource("pods/portforward", "PodPortForwardOptions", true, &["create", "get"], &[]),
            resource("namespaces", "Namespace", false, &CRUD, &["ns"]),
            resource("configmaps", "ConfigMap", true, &CRUD, &["cm"]),
        ],
    })
}

/// `/apis/<group>/<version>` for one of [`GROUPS`].
pub(super) fn group_resources(group: &str, version: &str) -> Option<Value> {
    let resources = match group {
        "authentication.k8s.io" => vec![
            resource(
                "selfsubjectreviews",
                "SelfSubjectReview",
                false,
                &["create"],
                &[],
            ),
            resource("tokenreviews", "TokenReview", false, &["create"], &[]),
        ],
        "authorization.k8s.io" => vec![
            resource(
                "localsubjectaccessreviews",
                "LocalSubjectAccessReview",
                true,
                &["create"],
                &[],
            ),
            resource(
                "selfsubjectaccessreviews",
                "SelfSubjectAccessReview",
                false,
                &["create"],
                &[],
            ),
            resource(
                "selfsubjectrulesreviews",
                "SelfSubjectRulesReview",
                false,
                &["create"],
                &[],
            ),
            resource(
                "subjectaccessreviews",
                "SubjectAccessReview",
                false,
                &["create"],
                &[],
            ),
        ],
        _ => return None,
    };
    (version == "v1").then(|| {
        json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": format!("{group}/{version}"),
            "resources": resources,
        })
    })
}

/// A `v1` `Namespace` (always `Active`).
pub(super) fn namespace(name: &str, created: Timestamp) -> Value {
    json!({
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": { "name": name, "creationTimestamp": rfc3339(created), "resourceVersion": "1" },
        "spec": { "finalizers": ["kubernetes"] },
        "status": { "phase": "Active" },
    })
}

/// A `NamespaceList`, or a `Table` with the namespace printer's columns.
pub(super) fn namespace_list(names: &[String], created: Timestamp, table: bool) -> Value {
    if !table {
        let items: Vec<Value> = names.iter().map(|name| namespace(name, created)).collect();
        return json!({ "kind": "NamespaceList", "apiVersion": "v1", "metadata": {}, "items": items });
    }
    let now = Timestamp::now();
    let rows: Vec<Value> = names
        .iter()
        .map(|name| {
            json!({
                "cells": [name, "Active", age(created, now)],
                "object": { "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                            "metadata": namespace(name, created)["metadata"].clone() },
            })
        })
        .collect();
    let column = |name: &str, format: &str| json!({ "name": name, "type": "string", "format": format, "description": "", "priority": 0 });
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": [column("Name", "name"), column("Status", ""), column("Age", "")],
        "rows": rows,
    })
}
