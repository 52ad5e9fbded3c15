//! Webhook mode: the Kubernetes API server asks zt, no proxy in the request path.
//!
//! Two endpoints, both `POST` with a JSON body (`Content-Type: application/json`):
//!
//! | path | API server flag | review |
//! |---|---|---|
//! | [`TOKEN_REVIEW_PATH`] `/token-review` | `--authentication-token-webhook-config-file` | `authentication.k8s.io/v1` or `v1beta1` `TokenReview`: the bearer token is verified with zt's [`Verifier`] and mapped to a user with a [`UserMapping`] |
//! | [`SUBJECT_ACCESS_REVIEW_PATH`] `/subject-access-review` | `--authorization-webhook-config-file` (or an `AuthorizationConfiguration` webhook) | `authorization.k8s.io/v1` or `v1beta1` `SubjectAccessReview`: decided by the zt policy in a [`PolicyHandle`] |
//!
//! A SubjectAccessReview is answered `allowed: true` when an allow rule matches,
//! `denied: true` only when an explicit `deny` rule matches (the API server then stops
//! asking other authorizers), and with neither ("no opinion") when no rule matches, so
//! other authorizers such as RBAC may still allow the request. Every review is audited
//! (`kube.request` events) when an [`Auditor`] is configured; a review that cannot be
//! audited is answered `503` (the API server retries, then treats it as an error).
//!
//! What the policy sees in a SubjectAccessReview (`request.protocol` is `kube`):
//!
//! - `kube.*` from `spec.resourceAttributes` (`kube.is_resource_request` true; the core
//!   group is `kube.api_group == ""`), or `kube.verb` and `request.path` from
//!   `spec.nonResourceAttributes` (`kube.is_resource_request` false). Exactly one of the
//!   two must be present. Wildcards (`"*"`, as `kubectl auth can-i '*' '*'` sends) are
//!   compared as the literal string `*`.
//! - The identity the API server vouches for: `identity.sub` and `identity.username` =
//!   `spec.user`, `identity.groups` = `spec.groups` (v1) or `spec.group` (v1beta1; the
//!   other spelling is refused rather than ignored), `identity.issuer` = [`REVIEW_ISSUER`],
//!   `identity.kind` = `workload` for `system:serviceaccount:*` and `system:node:*`, and
//!   the claims `sub`, `groups`, `uid` and `extra` (`identity.claims.extra."<key>"`).
//!   `identity.email` is absent: the API server sends a user name, not a verified
//!   address. Anonymous requests ([`ANONYMOUS_USER`] or [`UNAUTHENTICATED_GROUP`]) are
//!   decided without an identity (`identity.authenticated` false).
//!
//! A TokenReview is authentication only (no policy decision). The verifier checks the
//! token's `aud` against the audiences configured for the cluster; of the audiences the
//! API server asks for (`spec.audiences`), those the token names are returned in
//! `status.audiences`. When it names none, `status.audiences` is left empty, which the
//! API server reads as "valid for the API server itself", the way kube-apiserver treats
//! its own OIDC authenticator.
//!
//! Answers: `200` with the review's `status` (an invalid token is `authenticated: false`
//! with a generic `status.error`; details go to the audit log), `400` for a body that is
//! not a review of a supported version, `413` for a body over the limit (1 MiB by
//! default), `415` for a body that is not JSON, `405` for other methods; error bodies are
//! Kubernetes `Status` objects.
//!
//! **Deploy the router behind TLS with client certificates.** The API server presents a
//! client certificate (the `users` entry of the webhook kubeconfig); the listener must
//! require it and trust only the CA that issued it, or anyone who can reach the port can
//! probe tokens and policy. This module builds the [`Router`] only; the binary serving it
//! terminates TLS.
//!
//! ```no_run
//! # async fn demo(verifier: zt_core::identity::Verifier) -> Result<(), Box<dyn std::error::Error>> {
//! use zt_core::policy::Engine;
//! use zt_kube::user::UserMapping;
//! use zt_kube::webhook::Webhook;
//! use zt_tower::PolicyHandle;
//!
//! let policy = PolicyHandle::new(Engine::from_source(
//!     "allow \"read\" when kube.verb in [\"get\", \"list\", \"watch\"]\n",
//! )?);
//! let router = Webhook::builder()
//!     .verifier(verifier)
//!     .policy(policy)
//!     .user_mapping(UserMapping::default().username_claim("email"))
//!     .build()?
//!     .router();
//! // Serve `router` on a TLS listener that requires the API server's client certificate.
//! # let _ = router; Ok(()) }
//! ```

mod access_review;
mod token_review;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use zt_core::audit::{AuditEvent, Auditor};
use zt_core::identity::Verifier;
use zt_tower::PolicyHandle;

use crate::user::{MappingError, UserMapping};

pub use access_review::{ANONYMOUS_USER, REVIEW_ISSUER, UNAUTHENTICATED_GROUP};

/// Where the TokenReview endpoint is served.
pub const TOKEN_REVIEW_PATH: &str = "/token-review";
/// Where the SubjectAccessReview endpoint is served.
pub const SUBJECT_ACCESS_REVIEW_PATH: &str = "/subject-access-review";
/// Default limit of a review's body: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The TokenReview and SubjectAccessReview webhooks (see the [module documentation](self)).
/// Cheap to clone.
#[derive(Clone, Debug)]
pub struct Webhook {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    verifier: Option<Verifier>,
    policy: Option<PolicyHandle>,
    mapping: UserMapping,
    auditor: Option<Auditor>,
    body_limit: usize,
    review_issuer: String,
}

/// Builds a [`Webhook`].
#[derive(Debug, Default)]
#[must_use]
pub struct WebhookBuilder {
    verifier: Option<Verifier>,
    policy: Option<PolicyHandle>,
    mapping: Option<UserMapping>,
    auditor: Option<Auditor>,
    body_limit: Option<usize>,
    review_issuer: Option<String>,
}

/// Why a [`Webhook`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Neither a verifier (TokenReview) nor a policy (SubjectAccessReview) was given.
    #[error("the webhook needs a verifier, a policy, or both")]
    NothingToServe,
    /// The user mapping is invalid.
    #[error("invalid user mapping: {0}")]
    Mapping(#[from] MappingError),
    /// The body limit is zero.
    #[error("the body limit must be at least one byte")]
    ZeroBodyLimit,
}

impl WebhookBuilder {
    /// Serves TokenReviews, verifying tokens with `verifier`.
    pub fn verifier(mut self, verifier: Verifier) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// Serves SubjectAccessReviews, deciding with the policy in force in `policy` at each
    /// review (so reloads apply to the next review).
    pub fn policy(mut self, policy: PolicyHandle) -> Self {
        self.policy = Some(policy);
        self
    }

    /// How verified identities become Kubernetes users (default: [`UserMapping::default`]).
    pub fn user_mapping(mut self, mapping: UserMapping) -> Self {
        self.mapping = Some(mapping);
        self
    }

    /// Records every review.
    pub fn auditor(mut self, auditor: Auditor) -> Self {
        self.auditor = Some(auditor);
        self
    }

    /// Largest accepted body in bytes (default [`DEFAULT_BODY_LIMIT`]); larger ones get `413`.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = Some(bytes);
        self
    }

    /// The `identity.issuer` of identities built from SubjectAccessReviews (default
    /// [`REVIEW_ISSUER`]).
    pub fn review_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.review_issuer = Some(issuer.into());
        self
    }

    /// Checks the configuration.
    pub fn build(self) -> Result<Webhook, BuildError> {
        if self.verifier.is_none() && self.policy.is_none() {
            return Err(BuildError::NothingToServe);
        }
        let mapping = self.mapping.unwrap_or_default();
        mapping.validate()?;
        let body_limit = self.body_limit.unwrap_or(DEFAULT_BODY_LIMIT);
        if body_limit == 0 {
            return Err(BuildError::ZeroBodyLimit);
        }
        Ok(Webhook {
            shared: Arc::new(Shared {
                verifier: self.verifier,
                policy: self.policy,
                mapping,
                auditor: self.auditor,
                body_limit,
                review_issuer: self
                    .review_issuer
                    .unwrap_or_else(|| REVIEW_ISSUER.to_owned()),
            }),
        })
    }
}

impl Webhook {
    /// Starts configuring a webhook.
    pub fn builder() -> WebhookBuilder {
        WebhookBuilder::default()
    }

    /// The axum router: [`TOKEN_REVIEW_PATH`] when a verifier was given,
    /// [`SUBJECT_ACCESS_REVIEW_PATH`] when a policy was given, bodies limited.
    pub fn router(&self) -> Router {
        let mut router = Router::new();
        if self.shared.verifier.is_some() {
            router = router.route(TOKEN_REVIEW_PATH, post(token_review::handle));
        }
        if self.shared.policy.is_some() {
            router = router.route(SUBJECT_ACCESS_REVIEW_PATH, post(access_review::handle));
        }
        router
            .layer(DefaultBodyLimit::max(self.shared.body_limit))
            .with_state(Arc::clone(&self.shared))
    }
}

/// A request the handlers refuse before reviewing it.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    message: String,
}

impl Refusal {
    fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    fn unavailable() -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "the review cannot be audited right now; try again later".to_owned(),
        }
    }
}

impl IntoResponse for Refusal {
    /// A Kubernetes `Status` object, as the API server itself answers errors.
    fn into_response(self) -> Response {
        let reason = match self.status {
            StatusCode::BAD_REQUEST => "BadRequest",
            StatusCode::PAYLOAD_TOO_LARGE => "RequestEntityTooLarge",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "UnsupportedMediaType",
            StatusCode::SERVICE_UNAVAILABLE => "ServiceUnavailable",
            _ => "Unknown",
        };
        let body = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": reason,
            "code": self.status.as_u16(),
        });
        json_response(self.status, &body)
    }
}

/// A JSON response.
fn json_response(status: StatusCode, value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (
            status,
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            body,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "could not serialise a review response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Checks the content type and parses the body of a review.
fn parse_review<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, Refusal> {
    if !is_json(headers) {
        return Err(Refusal {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: "the body must be JSON (Content-Type: application/json)".to_owned(),
        });
    }
    let body = body.map_err(|rejection| Refusal {
        status: rejection.status(),
        message: match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => "the body is too large".to_owned(),
            _ => "the body could not be read".to_owned(),
        },
    })?;
    serde_json::from_slice(&body)
        .map_err(|error| Refusal::bad_request(format!("the body is not a valid review: {error}")))
}

/// `application/json`, with or without parameters, in any case.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// Records `event` if an auditor is configured; `Err` means the review must be refused.
async fn audit(shared: &Shared, event: AuditEvent) -> Result<(), Refusal> {
    let Some(auditor) = &shared.auditor else {
        return Ok(());
    };
    auditor.record(event).await.map_err(|error| {
        tracing::error!(%error, "review refused: the audit log cannot record it");
        Refusal::unavailable()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        let mut headers = HeaderMap::new();
        assert!(!is_json(&headers));
        for (value, json) in [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("Application/JSON", true),
            ("application/yaml", false),
            ("application/json-patch+json", false),
            ("text/plain", false),
        ] {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(value));
            assert_eq!(is_json(&headers), json, "{value}");
        }
    }

    #[test]
    fn a_webhook_serves_something() {
        assert!(matches!(
            Webhook::builder().build(),
            Err(BuildError::NothingToServe)
        ));
        let policy = PolicyHandle::new(
            zt_core::policy::Engine::from_source("deny \"all\" when true\n").unwrap(),
        );
        assert!(matches!(
            Webhook::builder()
                .policy(policy.clone())
                .body_limit(0)
                .build(),
            Err(BuildError::ZeroBodyLimit)
        ));
        assert!(matches!(
            Webhook::builder()
                .policy(policy)
                .user_mapping(UserMapping::default().extra_claim("Tenant", "tenant"))
                .build(),
            Err(BuildError::Mapping(MappingError::InvalidExtraKey(_)))
        ));
    }
}
