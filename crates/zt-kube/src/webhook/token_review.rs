//! `TokenReview` (authentication.k8s.io/v1 and v1beta1): Kubernetes' webhook token
//! authentication, backed by zt's verifier and user mapping.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zt_core::audit::{Actor, AuditEvent, Decision, EventKind, Target};
use zt_core::identity::Identity;

use super::{Refusal, Shared, audit, json_response, parse_review};
use crate::user::KubeUser;

const GROUP: &str = "authentication.k8s.io";
const VERSIONS: [&str; 2] = ["authentication.k8s.io/v1", "authentication.k8s.io/v1beta1"];
const KIND: &str = "TokenReview";

/// What the API server is told about every token that does not authenticate; the
/// audit log records why.
const GENERIC_ERROR: &str = "the token is invalid or not accepted";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    api_version: String,
    kind: String,
    spec: Spec,
}

#[derive(Debug, Deserialize)]
struct Spec {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    audiences: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Answer<'a> {
    api_version: &'a str,
    kind: &'static str,
    status: Status,
}

#[derive(Debug, Default, Serialize)]
struct Status {
    authenticated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<KubeUser>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    audiences: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
}

/// `POST /token-review`.
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
    if !VERSIONS.contains(&request.api_version.as_str()) {
        return Err(Refusal::bad_request(format!(
            "apiVersion must be one of {}",
            VERSIONS.join(", ")
        )));
    }
    let token = request.spec.token.unwrap_or_default();
    let requested = request.spec.audiences.unwrap_or_default();

    let outcome = authenticate(shared, &token, &requested).await;
    let event = AuditEvent::new(EventKind::KubeRequest)
        .target(Target::Kube {
            verb: "create".to_owned(),
            api_group: GROUP.to_owned(),
            resource: "tokenreviews".to_owned(),
            subresource: None,
            namespace: None,
            name: None,
        })
        .field("review", KIND)
        .field("api_version", request.api_version.as_str());
    let (status, event) = match outcome {
        Ok((identity, user, audiences)) => {
            let event = event
                .actor(Actor::from(&*identity))
                .decision(Decision::allow(Vec::<String>::new()))
                .field("username", user.username.as_str());
            let status = Status {
                authenticated: true,
                user: Some(user),
                audiences,
                error: None,
            };
            (status, event)
        }
        Err(failure) => {
            tracing::debug!(why = %failure.why, "token review: not authenticated");
            let mut event = event.decision(Decision::deny(failure.why));
            if let Some(identity) = failure.identity {
                event = event.actor(Actor::from(&*identity));
            }
            let status = Status {
                error: Some(GENERIC_ERROR),
                ..Status::default()
            };
            (status, event)
        }
    };
    audit(shared, event.latency(started.elapsed())).await?;
    Ok(json_response(
        StatusCode::OK,
        &Answer {
            api_version: &request.api_version,
            kind: KIND,
            status,
        },
    ))
}

/// Why a token did not authenticate (for the audit log only).
struct Failure {
    why: String,
    identity: Option<Arc<Identity>>,
}

type Authenticated = (Arc<Identity>, KubeUser, Vec<String>);

/// Verifies the token, checks the requested audiences and maps the user.
async fn authenticate(
    shared: &Shared,
    token: &str,
    requested: &[String],
) -> Result<Authenticated, Failure> {
    let failure = |why: String, identity: Option<&Arc<Identity>>| Failure {
        why,
        identity: identity.cloned(),
    };
    let Some(verifier) = &shared.verifier else {
        return Err(failure("no verifier is configured".to_owned(), None));
    };
    if token.is_empty() {
        return Err(failure("the review carries no token".to_owned(), None));
    }
    let identity = verifier
        .verify(token)
        .await
        .map_err(|error| failure(error.to_string(), None))?;
    // The verifier already checked `aud` against the audiences configured for this
    // cluster. Requested audiences the token names are returned (audience-aware);
    // with none, `status.audiences` stays empty, which the API server reads as "valid
    // for the API server's own audiences" and intersects with what it asked for, as it
    // does for its built-in OIDC authenticator.
    let audiences = matching_audiences(&identity, requested);
    let user = shared
        .mapping
        .kube_user(&identity)
        .map_err(|error| failure(error.to_string(), Some(&identity)))?;
    Ok((identity, user, audiences))
}

/// The requested audiences the token's `aud` names, in request order.
fn matching_audiences(identity: &Identity, requested: &[String]) -> Vec<String> {
    let token_audiences: Vec<&str> = match identity.claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.as_str()],
        Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    requested
        .iter()
        .filter(|audience| token_audiences.contains(&audience.as_str()))
        .cloned()
        .collect()
}
