//! `SubjectAccessReview` (authorization.k8s.io/v1 and v1beta1): Kubernetes' webhook
//! authorization, decided by the zt policy.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, json};
use zt_core::audit::{Actor, AuditEvent, EventKind, Target};
use zt_core::identity::{Identity, IdentityKind};
use zt_core::policy::{Decision, KubeAttributes, Reason, RequestContext};

use super::{Refusal, Shared, audit, json_response, parse_review};

const V1: &str = "authorization.k8s.io/v1";
const V1BETA1: &str = "authorization.k8s.io/v1beta1";
const KIND: &str = "SubjectAccessReview";

/// The `identity.issuer` of identities built from SubjectAccessReviews (the API server
/// vouches for them; configurable with
/// [`WebhookBuilder::review_issuer`](super::WebhookBuilder::review_issuer)).
pub const REVIEW_ISSUER: &str = "kubernetes";
/// The user Kubernetes gives unauthenticated requests; reviewed without an identity.
pub const ANONYMOUS_USER: &str = "system:anonymous";
/// The group of unauthenticated requests; reviewed without an identity.
pub const UNAUTHENTICATED_GROUP: &str = "system:unauthenticated";
/// User names of service accounts; their identities are workloads.
const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";
/// User names of kubelets; their identities are workloads.
const NODE_PREFIX: &str = "system:node:";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    api_version: String,
    kind: String,
    spec: Spec,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    resource_attributes: Option<ResourceAttributes>,
    non_resource_attributes: Option<NonResourceAttributes>,
    user: Option<String>,
    /// v1.
    groups: Option<Vec<String>>,
    /// v1beta1.
    group: Option<Vec<String>>,
    extra: Option<BTreeMap<String, Option<Vec<String>>>>,
    uid: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ResourceAttributes {
    namespace: Option<String>,
    verb: Option<String>,
    group: Option<String>,
    version: Option<String>,
    resource: Option<String>,
    subresource: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct NonResourceAttributes {
    path: Option<String>,
    verb: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Answer<'a> {
    api_version: &'a str,
    kind: &'static str,
    status: Status,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    allowed: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    denied: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    reason: String,
}

/// The subject of a review.
#[derive(Debug)]
struct Subject {
    user: String,
    groups: Vec<String>,
    uid: String,
    extra: BTreeMap<String, Vec<String>>,
}

/// What is being reviewed.
#[derive(Debug)]
struct Attributes {
    kube: KubeAttributes,
    /// The path of a non-resource request (`request.path`).
    path: Option<String>,
}

/// `POST /subject-access-review`.
pub(super) async fn handle(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refusal> {
    review(&shared, &headers, body).await
}

async fn review(
    shared: &Shared,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refusal> {
    let started = Instant::now();
    let request: Request = parse_review(headers, body)?;
    if request.kind != KIND {
        return Err(Refusal::bad_request(format!("kind must be {KIND}")));
    }
    let subject = subject(&request.api_version, &request.spec)?;
    let attributes = attributes(&request.spec)?;
    let Some(policy) = &shared.policy else {
        return Err(Refusal::bad_request("this webhook does not authorize"));
    };

    let now = Timestamp::now();
    let identity = identity(&subject, &shared.review_issuer, now);
    let mut context = RequestContext::kube(now, &attributes.kube);
    if let Some(identity) = &identity {
        context = context.with_identity(identity);
    }
    if let Some(path) = &attributes.path {
        context = context.with_path(path);
    }
    // The policy guard and the decision borrowing it are dropped before any await.
    let (status, decided) = {
        let engine = policy.load();
        let decision = engine.decide(&context);
        (review_status(&decision), decision.to_audit())
    };

    let outcome = match (status.allowed, status.denied) {
        (true, _) => "allowed",
        (false, true) => "denied",
        (false, false) => "no-opinion",
    };
    let mut event = AuditEvent::new(EventKind::KubeRequest)
        .target(Target::kube(
            &attributes.kube,
            attributes.path.as_deref().unwrap_or_default(),
        ))
        .decision(decided)
        .field("review", KIND)
        .field("api_version", request.api_version.as_str())
        .field("user", subject.user.as_str())
        .field("outcome", outcome)
        .latency(started.elapsed());
    if let Some(identity) = &identity {
        event = event.actor(Actor::from(identity));
    }
    audit(shared, event).await?;
    Ok(json_response(
        StatusCode::OK,
        &Answer {
            api_version: &request.api_version,
            kind: KIND,
            status,
        },
    ))
}

/// The user, groups, uid and extra of the review; `spec.groups` in v1, `spec.group` in
/// v1beta1 (the other spelling is refused, not ignored: a group silently dropped could
/// skip a deny rule).
fn subject(api_version: &str, spec: &Spec) -> Result<Subject, Refusal> {
    let (groups, other) = match api_version {
        V1 => (&spec.groups, ("spec.group", &spec.group)),
        V1BETA1 => (&spec.group, ("spec.groups", &spec.groups)),
        _ => {
            return Err(Refusal::bad_request(format!(
                "apiVersion must be {V1} or {V1BETA1}"
            )));
        }
    };
    if other.1.as_ref().is_some_and(|groups| !groups.is_empty()) {
        return Err(Refusal::bad_request(format!(
            "{} is not a field of {api_version}",
            other.0
        )));
    }
    let subject = Subject {
        user: spec.user.clone().unwrap_or_default(),
        groups: groups.clone().unwrap_or_default(),
        uid: spec.uid.clone().unwrap_or_default(),
        extra: spec
            .extra
            .iter()
            .flatten()
            .map(|(key, values)| (key.clone(), values.clone().unwrap_or_default()))
            .collect(),
    };
    if subject.user.is_empty() && subject.groups.is_empty() {
        return Err(Refusal::bad_request(
            "at least one of spec.user and spec.groups must be set",
        ));
    }
    Ok(subject)
}

/// `kube.*` (and `request.path`) from exactly one of `resourceAttributes` and
/// `nonResourceAttributes`.
fn attributes(spec: &Spec) -> Result<Attributes, Refusal> {
    let some = |value: &Option<String>| value.clone().filter(|value| !value.is_empty());
    match (&spec.resource_attributes, &spec.non_resource_attributes) {
        (Some(resource), None) => Ok(Attributes {
            kube: KubeAttributes {
                verb: required(&resource.verb, "spec.resourceAttributes.verb")?,
                // The core group is "", which is a value, not an absence.
                api_group: Some(resource.group.clone().unwrap_or_default()),
                api_version: some(&resource.version),
                resource: some(&resource.resource),
                subresource: some(&resource.subresource),
                namespace: some(&resource.namespace),
                name: some(&resource.name),
                is_resource_request: true,
            },
            path: None,
        }),
        (None, Some(non_resource)) => Ok(Attributes {
            kube: KubeAttributes {
                verb: required(&non_resource.verb, "spec.nonResourceAttributes.verb")?,
                is_resource_request: false,
                ..KubeAttributes::default()
            },
            path: Some(required(
                &non_resource.path,
                "spec.nonResourceAttributes.path",
            )?),
        }),
        (Some(_), Some(_)) => Err(Refusal::bad_request(
            "spec.resourceAttributes and spec.nonResourceAttributes are mutually exclusive",
        )),
        (None, None) => Err(Refusal::bad_request(
            "one of spec.resourceAttributes and spec.nonResourceAttributes is required",
        )),
    }
}

fn required(value: &Option<String>, field: &str) -> Result<String, Refusal> {
    value
        .clone()
        .filter(|value| !value.is_empty())
        .ok_or_else(|| Refusal::bad_request(format!("{field} is required")))
}

/// The identity the policy sees: `None` for anonymous requests (`identity.authenticated`
/// is false), otherwise subject and user name = `spec.user`, groups = `spec.groups`, and
/// the claims `sub`, `uid`, `groups` and `extra` for `identity.claims.*`.
fn identity(subject: &Subject, issuer: &str, now: Timestamp) -> Option<Identity> {
    if subject.user == ANONYMOUS_USER || subject.groups.iter().any(|g| g == UNAUTHENTICATED_GROUP) {
        return None;
    }
    let kind = if subject.user.starts_with(SERVICE_ACCOUNT_PREFIX)
        || subject.user.starts_with(NODE_PREFIX)
    {
        IdentityKind::Workload
    } else {
        IdentityKind::User
    };
    let mut identity = Identity::new(kind, subject.user.as_str(), issuer, now);
    identity.username = Some(subject.user.clone()).filter(|user| !user.is_empty());
    identity.groups = subject.groups.clone();
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(subject.user));
    claims.insert("groups".into(), json!(subject.groups));
    if !subject.uid.is_empty() {
        claims.insert("uid".into(), json!(subject.uid));
    }
    if !subject.extra.is_empty() {
        claims.insert("extra".into(), json!(subject.extra));
    }
    identity.claims = claims;
    Some(identity)
}

/// The review's status: allowed by an allow rule, denied by an explicit deny rule, and
/// otherwise no opinion (neither), so that other authorizers may still allow.
fn review_status(decision: &Decision<'_>) -> Status {
    match decision.reason() {
        None => Status {
            allowed: true,
            denied: false,
            reason: allowed_reason(decision),
        },
        Some(reason @ (Reason::Stated(_) | Reason::DeniedByRule(_))) => Status {
            allowed: false,
            denied: true,
            reason: reason.to_string(),
        },
        Some(reason @ Reason::NoAllowRuleMatched) => Status {
            allowed: false,
            denied: false,
            reason: reason.to_string(),
        },
    }
}

/// `allowed by rule "a"` (or `rules "a", "b"`).
fn allowed_reason(decision: &Decision<'_>) -> String {
    let rules: Vec<String> = decision.rules().map(|id| format!("\"{id}\"")).collect();
    let noun = if rules.len() == 1 { "rule" } else { "rules" };
    format!("allowed by {noun} {}", rules.join(", "))
}

/// The audit target: the resource, or the non-resource path as `resource`.
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn spec(json: Value) -> Spec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn groups_follow_the_api_version() {
        let v1 = spec(json!({"user": "jane", "groups": ["a"]}));
        assert_eq!(subject(V1, &v1).unwrap().groups, ["a"]);
        assert!(subject(V1BETA1, &v1).is_err());
        let beta = spec(json!({"user": "jane", "group": ["b"]}));
        assert_eq!(subject(V1BETA1, &beta).unwrap().groups, ["b"]);
        assert!(subject(V1, &beta).is_err());
        assert!(subject("authorization.k8s.io/v2", &v1).is_err());
        assert!(subject(V1, &spec(json!({}))).is_err());
    }

    #[test]
    fn anonymous_requests_have_no_identity() {
        let now = Timestamp::now();
        let anonymous = Subject {
            user: ANONYMOUS_USER.to_owned(),
            groups: vec![UNAUTHENTICATED_GROUP.to_owned()],
            uid: String::new(),
            extra: BTreeMap::new(),
        };
        assert!(identity(&anonymous, REVIEW_ISSUER, now).is_none());
        let robot = Subject {
            user: "system:serviceaccount:ci:deployer".to_owned(),
            groups: vec!["system:serviceaccounts".to_owned()],
            uid: "42".to_owned(),
            extra: BTreeMap::from([("example.com/team".to_owned(), vec!["ci".to_owned()])]),
        };
        let identity = identity(&robot, REVIEW_ISSUER, now).unwrap();
        assert_eq!(identity.kind, IdentityKind::Workload);
        assert_eq!(identity.claims["uid"], "42");
        assert_eq!(identity.claims["extra"]["example.com/team"], json!(["ci"]));
    }

    #[test]
    fn exactly_one_kind_of_attributes() {
        assert!(attributes(&spec(json!({"user": "jane"}))).is_err());
        assert!(
            attributes(&spec(json!({
                "resourceAttributes": {"verb": "get"},
                "nonResourceAttributes": {"path": "/", "verb": "get"}
            })))
            .is_err()
        );
        assert!(attributes(&spec(json!({"nonResourceAttributes": {"verb": "get"}}))).is_err());
        let core = attributes(&spec(
            json!({"resourceAttributes": {"verb": "list", "resource": "pods"}}),
        ))
        .unwrap();
        assert_eq!(core.kube.api_group.as_deref(), Some(""));
        assert_eq!(core.kube.namespace, None);
        assert!(core.kube.is_resource_request);
    }
}
