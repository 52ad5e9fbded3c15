//! Webhook mode end to end: the router answers the TokenReview and SubjectAccessReview
//! bodies the Kubernetes API server sends (the examples of the Kubernetes documentation,
//! verbatim, in v1 and v1beta1), with tokens from a real OpenID provider (zt-dev-idp)
//! and decisions from a hot-swappable policy; every review is audited, and bodies that
//! are not reviews are refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use zt_core::audit::{Auditor, MemoryLog, MemorySink};
use zt_core::identity::{IssuerConfig, Verifier};
use zt_core::policy::Engine;
use zt_dev_idp::{DevIdp, RunningDevIdp};
use zt_kube::UserMapping;
use zt_kube::webhook::{SUBJECT_ACCESS_REVIEW_PATH, TOKEN_REVIEW_PATH, Webhook};
use zt_tower::PolicyHandle;

const POLICY: &str = r#"
allow "unicorn-readers"
  when identity.groups has "group1"
   and kube.namespace == "kittensandponies"
   and kube.api_group == "unicorn.example.org"
   and kube.verb in ["get", "list", "watch"]

deny "no-secrets" reason "secrets are read through the vault"
  when kube.resource == "secrets"

deny "no-delete" when kube.verb == "delete" and kube.namespace == "kittensandponies"

allow "debug-paths"
  when identity.authenticated
   and not kube.is_resource_request
   and kube.verb == "get"
   and request.path starts_with "/debug"
"#;

// The examples of https://kubernetes.io/docs/reference/access-authn-authz/webhook/,
// verbatim.
const SAR_V1: &str = r#"{
  "apiVersion": "authorization.k8s.io/v1",
  "kind": "SubjectAccessReview",
  "spec": {
    "resourceAttributes": {
      "namespace": "kittensandponies",
      "verb": "get",
      "group": "unicorn.example.org",
      "resource": "pods"
    },
    "user": "jane",
    "groups": [
      "group1",
      "group2"
    ]
  }
}"#;

const SAR_V1BETA1: &str = r#"{
  "apiVersion": "authorization.k8s.io/v1beta1",
  "kind": "SubjectAccessReview",
  "spec": {
    "resourceAttributes": {
      "namespace": "kittensandponies",
      "verb": "get",
      "group": "unicorn.example.org",
      "resource": "pods"
    },
    "user": "jane",
    "group": [
      "group1",
      "group2"
    ]
  }
}"#;

const SAR_NON_RESOURCE_V1: &str = r#"{
  "apiVersion": "authorization.k8s.io/v1",
  "kind": "SubjectAccessReview",
  "spec": {
    "nonResourceAttributes": {
      "path": "/debug",
      "verb": "get"
    },
    "user": "jane",
    "groups": [
      "group1",
      "group2"
    ]
  }
}"#;

const SAR_NON_RESOURCE_V1BETA1: &str = r#"{
  "apiVersion": "authorization.k8s.io/v1beta1",
  "kind": "SubjectAccessReview",
  "spec": {
    "nonResourceAttributes": {
      "path": "/debug",
      "verb": "get"
    },
    "user": "jane",
    "group": [
      "group1",
      "group2"
    ]
  }
}"#;

// The request example of
// https://kubernetes.io/docs/reference/access-authn-authz/authentication/#webhook-token-authentication
// (its comments removed, as JSON has none), with TOKEN replaced by a real token.
const TOKEN_REVIEW_V1: &str = r#"{
  "apiVersion": "authentication.k8s.io/v1",
  "kind": "TokenReview",
  "spec": {
    "token": "TOKEN",
    "audiences": ["https://myserver.example.com", "https://myserver.internal.example.com"]
  }
}"#;

const TOKEN_REVIEW_V1BETA1: &str = r#"{
  "apiVersion": "authentication.k8s.io/v1beta1",
  "kind": "TokenReview",
  "spec": {
    "token": "TOKEN",
    "audiences": ["https://myserver.example.com", "https://myserver.internal.example.com"]
  }
}"#;

struct Setup {
    idp: RunningDevIdp,
    verifier: Verifier,
    policy: PolicyHandle,
    auditor: Auditor,
    log: MemoryLog,
    app: Router,
}

async fn setup_with(mapping: UserMapping) -> Setup {
    let idp = DevIdp::builder().banner(false).start().await.unwrap();
    let verifier = Verifier::builder()
        .issuer(IssuerConfig::discover(idp.issuer()).audience("zt-dev"))
        .build()
        .await
        .unwrap();
    let policy = PolicyHandle::new(Engine::from_source(POLICY).unwrap());
    let (sink, log) = MemorySink::new();
    let auditor = Auditor::builder(sink).start().unwrap();
    let app = Webhook::builder()
        .verifier(verifier.clone())
        .policy(policy.clone())
        .user_mapping(mapping)
        .auditor(auditor.clone())
        .build()
        .unwrap()
        .router();
    Setup {
        idp,
        verifier,
        policy,
        auditor,
        log,
        app,
    }
}

async fn setup() -> Setup {
    setup_with(
        UserMapping::default()
            .username_claim("email")
            .groups_prefix("oidc:"),
    )
    .await
}

async fn post(app: &Router, path: &str, body: impl Into<Body>) -> (StatusCode, Value) {
    let request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap();
    send(app, request).await
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&body)))
    };
    (status, json)
}

async fn review_token(app: &Router, fixture: &str, token: &str) -> (StatusCode, Value) {
    post(app, TOKEN_REVIEW_PATH, fixture.replace("TOKEN", token)).await
}

async fn audit_events(setup: &Setup) -> Vec<Value> {
    setup.auditor.flush().await.unwrap();
    setup
        .log
        .lines()
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test]
async fn token_review_v1_authenticates_a_dev_idp_token() {
    let setup = setup().await;
    let alice = setup.idp.mint_access_token("alice").unwrap();
    let (status, body) = review_token(&setup.app, TOKEN_REVIEW_V1, &alice).await;
    assert_eq!(status, StatusCode::OK);
    // The token was issued for `zt-dev`, none of the requested audiences: it is valid
    // for the API server itself, so `status.audiences` stays empty.
    assert_eq!(
        body,
        json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "status": {
                "authenticated": true,
                "user": {
                    "username": "alice@example.com",
                    "groups": ["oidc:engineering", "oidc:admins"]
                }
            }
        })
    );
}

#[tokio::test]
async fn token_review_returns_the_requested_audiences_the_token_names() {
    let setup = setup().await;
    let bob = setup.idp.mint_access_token("bob").unwrap();
    let fixture = TOKEN_REVIEW_V1.replace("https://myserver.internal.example.com", "zt-dev");
    let (status, body) = review_token(&setup.app, &fixture, &bob).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"]["authenticated"], true);
    assert_eq!(body["status"]["audiences"], json!(["zt-dev"]));
    assert_eq!(body["status"]["user"]["username"], "bob@example.com");
}

#[tokio::test]
async fn token_review_v1beta1_has_the_same_shape() {
    let setup = setup().await;
    let carol = setup.idp.mint_access_token("carol").unwrap();
    let (status, body) = review_token(&setup.app, TOKEN_REVIEW_V1BETA1, &carol).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({
            "apiVersion": "authentication.k8s.io/v1beta1",
            "kind": "TokenReview",
            "status": {
                "authenticated": true,
                "user": {"username": "carol@example.com", "groups": ["oidc:ops"]}
            }
        })
    );
}

#[tokio::test]
async fn token_review_default_mapping_prefixes_sub_with_the_issuer() {
    let setup = setup_with(UserMapping::default().uid_claim("sub")).await;
    let alice = setup.idp.mint_access_token("alice").unwrap();
    let (_, body) = review_token(&setup.app, TOKEN_REVIEW_V1, &alice).await;
    assert_eq!(
        body["status"]["user"],
        json!({
            "username": format!("{}#alice", setup.idp.issuer()),
            "uid": "alice",
            "groups": ["engineering", "admins"]
        })
    );
}

#[tokio::test]
async fn invalid_tokens_are_not_authenticated_with_a_generic_error() {
    let setup = setup().await;
    let foreign = DevIdp::builder().banner(false).start().await.unwrap();
    let forged = foreign.mint_access_token("alice").unwrap();
    let genuine = setup.idp.mint_access_token("alice").unwrap();
    let tampered = format!("{}x", genuine);
    for token in [forged.as_str(), tampered.as_str(), "not-a-jwt", ""] {
        let (status, body) = review_token(&setup.app, TOKEN_REVIEW_V1, token).await;
        assert_eq!(status, StatusCode::OK, "{token}");
        assert_eq!(
            body,
            json!({
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenReview",
                "status": {
                    "authenticated": false,
                    "error": "the token is invalid or not accepted"
                }
            }),
            "{token}"
        );
    }
    // The audit log has the details the API server is not told.
    let events = audit_events(&setup).await;
    let reasons: Vec<&str> = events
        .iter()
        .map(|e| e["decision"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 4);
    assert_eq!(reasons[0], "token issuer is not trusted");
    assert_eq!(reasons[3], "the review carries no token");
}

#[tokio::test]
async fn tokens_that_map_to_no_user_are_not_authenticated() {
    // `dave`'s groups claim is fine, but a uid claim he lacks is required.
    let setup = setup_with(UserMapping::default().uid_claim("employee_id")).await;
    let dave = setup.idp.mint_access_token("dave").unwrap();
    let (status, body) = review_token(&setup.app, TOKEN_REVIEW_V1, &dave).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"]["authenticated"], false);
    assert!(body["status"].get("user").is_none());
    let events = audit_events(&setup).await;
    assert_eq!(events[0]["actor"]["sub"], "dave");
    assert_eq!(
        events[0]["decision"]["reason"],
        "the token lacks the claim `employee_id`"
    );
}

#[tokio::test]
async fn subject_access_review_v1_allowed_by_an_allow_rule() {
    let setup = setup().await;
    let (status, body) = post(&setup.app, SUBJECT_ACCESS_REVIEW_PATH, SAR_V1).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "status": {"allowed": true, "reason": "allowed by rule \"unicorn-readers\""}
        })
    );
}

#[tokio::test]
async fn subject_access_review_v1beta1_allowed_by_an_allow_rule() {
    let setup = setup().await;
    let (status, body) = post(&setup.app, SUBJECT_ACCESS_REVIEW_PATH, SAR_V1BETA1).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({
            "apiVersion": "authorization.k8s.io/v1beta1",
            "kind": "SubjectAccessReview",
            "status": {"allowed": true, "reason": "allowed by rule \"unicorn-readers\""}
        })
    );
}

#[tokio::test]
async fn explicit_deny_rules_deny_with_their_reason() {
    let setup = setup().await;
    for fixture in [SAR_V1, SAR_V1BETA1] {
        let secrets = fixture.replace("\"pods\"", "\"secrets\"");
        let (status, body) = post(&setup.app, SUBJECT_ACCESS_REVIEW_PATH, secrets).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body["status"],
            json!({
                "allowed": false,
                "denied": true,
                "reason": "secrets are read through the vault"
            })
        );
    }
    let delete = SAR_V1.replace("\"get\"", "\"delete\"");
    let (_, body) = post(&setup.app, SUBJECT_ACCESS_REVIEW_PATH, delete).await;
    assert_eq!(
        body["status"],
        json!({"allowed": false, "denied": true, "reason": "denied by rule \"no-delete\""})
    );
}

#[tokio::test]
async fn no_matching_rule_is_no_opinion() {
    let setup = setup().await;
    for fixture in [SAR_V1, SAR_V1BETA1] {
        // Not in group1: no rule matches, so RBAC may still allow it.
        let outsider = fixture.replace("\"group1\"", "\"group3\"");
        let (status, body) = post(&setup.app, SUBJECT_ACCESS_REVIEW_PATH, outsider).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body["status"],
            json!({"allowed": false, "reason": "no allow rule matched"})
        );
    }
}

#[tokio::test]
async fn non_resource_paths_are_decided_by_path_and_verb() {
    let setup = setup().await;
    for fixture in [SAR_NON_RESOURCE_V1, SAR_NON_RESOURCE_V1BETA1] {
        let (status, body) = post(&setup.app, SUBJECT_ACCESS_REVIEW_PATH, fixture).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body["status"],
            json!({"allowed": true, "reason": "allowed by rule \"debug-paths\""})
        );
        let metrics = fixture.replace("/debug", "/metrics");
        let (_, body) = post(&setup.app, SUBJECT_ACCESS_REVIEW_PATH, metrics).await;
        assert_eq!(
            body["status"],
            json!({"allowed": false, "reason": "no allow rule matched"})
        );
    }
    // Anonymous requests are decided without an identity.
    let anonymous = SAR_NON_RESOURCE_V1
        .replace("\"jane\"", "\"system:anonymous\"")
        .replace("\"group1\"", "\"system:unauthenticated\"");
    let (_, body) = post(&setup.app, SUBJECT_ACCESS_REVIEW_PATH, anonymous).await;
    assert_eq!(body["status"]["allowed"], false);
}

#[tokio::test]
async fn policy_reloads_apply_to_the_next_review() {
    let setup = setup().await;
    let (_, body) = post(&setup.app, SUBJECT_ACCESS_REVIEW_PATH, SAR_V1).await;
    assert_eq!(body["status"]["allowed"], true);
    setup.policy.store(
        Engine::from_source("deny \"freeze\" reason \"change freeze\" when kube.verb == \"get\"\n")
            .unwrap(),
    );
    let (_, body) = post(&setup.app, SUBJECT_ACCESS_REVIEW_PATH, SAR_V1).await;
    assert_eq!(
        body["status"],
        json!({"allowed": false, "denied": true, "reason": "change freeze"})
    );
}

#[tokio::test]
async fn every_review_is_audited() {
    let setup = setup().await;
    let alice = setup.idp.mint_access_token("alice").unwrap();
    review_token(&setup.app, TOKEN_REVIEW_V1, &alice).await;
    post(&setup.app, SUBJECT_ACCESS_REVIEW_PATH, SAR_V1).await;
    post(
        &setup.app,
        SUBJECT_ACCESS_REVIEW_PATH,
        SAR_V1.replace("\"pods\"", "\"secrets\""),
    )
    .await;
    post(
        &setup.app,
        SUBJECT_ACCESS_REVIEW_PATH,
        SAR_NON_RESOURCE_V1BETA1,
    )
    .await;
    let events = audit_events(&setup).await;
    let summary: Vec<Value> = events
        .iter()
        .map(|e| {
            json!([
                e["kind"],
                e["actor"]["sub"],
                e["target"]["kube"]["resource"],
                e["decision"]["effect"],
                e["fields"]["review"],
            ])
        })
        .collect();
    assert_eq!(
        summary,
        [
            json!([
                "kube.request",
                "alice",
                "tokenreviews",
                "allow",
                "TokenReview"
            ]),
            json!([
                "kube.request",
                "jane",
                "pods",
                "allow",
                "SubjectAccessReview"
            ]),
            json!([
                "kube.request",
                "jane",
                "secrets",
                "deny",
                "SubjectAccessReview"
            ]),
            json!([
                "kube.request",
                "jane",
                "/debug",
                "allow",
                "SubjectAccessReview"
            ]),
        ]
    );
    assert_eq!(
        events[1]["target"]["kube"],
        json!({
            "verb": "get",
            "api_group": "unicorn.example.org",
            "resource": "pods",
            "namespace": "kittensandponies"
        })
    );
    assert_eq!(events[1]["decision"]["rules"], json!(["unicorn-readers"]));
    assert_eq!(events[2]["fields"]["outcome"], "denied");
    assert_eq!(events[0]["fields"]["username"], "alice@example.com");
}

#[tokio::test]
async fn unauditable_reviews_are_refused() {
    let setup = setup().await;
    setup.auditor.shutdown().await.unwrap();
    let (status, body) = post(&setup.app, SUBJECT_ACCESS_REVIEW_PATH, SAR_V1).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["kind"], "Status");
    let alice = setup.idp.mint_access_token("alice").unwrap();
    let (status, _) = review_token(&setup.app, TOKEN_REVIEW_V1, &alice).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn malformed_requests_are_bad_requests() {
    let setup = setup().await;
    let cases = [
        (SUBJECT_ACCESS_REVIEW_PATH, "{\"apiVersion\": ".to_owned()),
        (SUBJECT_ACCESS_REVIEW_PATH, "[]".to_owned()),
        (
            SUBJECT_ACCESS_REVIEW_PATH,
            SAR_V1.replace("\"groups\"", "\"group\""),
        ),
        (
            SUBJECT_ACCESS_REVIEW_PATH,
            SAR_V1BETA1.replace("\"group\"", "\"groups\""),
        ),
        (SUBJECT_ACCESS_REVIEW_PATH, SAR_V1.replace("v1\"", "v2\"")),
        (
            SUBJECT_ACCESS_REVIEW_PATH,
            SAR_V1.replace("SubjectAccessReview", "TokenReview"),
        ),
        (
            SUBJECT_ACCESS_REVIEW_PATH,
            SAR_V1.replace("\"verb\": \"get\",", ""),
        ),
        (
            SUBJECT_ACCESS_REVIEW_PATH,
            json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview"})
                .to_string(),
        ),
        (TOKEN_REVIEW_PATH, "not json".to_owned()),
        (
            TOKEN_REVIEW_PATH,
            TOKEN_REVIEW_V1.replace("TokenReview", "SubjectAccessReview"),
        ),
        (
            TOKEN_REVIEW_PATH,
            TOKEN_REVIEW_V1.replace("authentication.k8s.io/v1", "authorization.k8s.io/v1"),
        ),
        (
            TOKEN_REVIEW_PATH,
            TOKEN_REVIEW_V1.replace("\"token\": \"TOKEN\"", "\"token\": 7"),
        ),
    ];
    for (path, body) in cases {
        let (status, json) = post(&setup.app, path, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}");
        assert_eq!(json["kind"], "Status", "{body}");
        assert_eq!(json["code"], 400, "{body}");
    }
    // Refused bodies are not reviews: nothing to audit.
    assert!(audit_events(&setup).await.is_empty());
}

#[tokio::test]
async fn non_json_bodies_and_other_methods_are_refused() {
    let setup = setup().await;
    let yaml = Request::post(SUBJECT_ACCESS_REVIEW_PATH)
        .header(header::CONTENT_TYPE, "application/yaml")
        .body(Body::from(SAR_V1))
        .unwrap();
    assert_eq!(
        send(&setup.app, yaml).await.0,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let untyped = Request::post(TOKEN_REVIEW_PATH)
        .body(Body::from(TOKEN_REVIEW_V1))
        .unwrap();
    assert_eq!(
        send(&setup.app, untyped).await.0,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let get = Request::get(SUBJECT_ACCESS_REVIEW_PATH)
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&setup.app, get).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let setup = setup().await;
    // Over the default 1 MiB limit: padding in a field the review ignores.
    let padding = "x".repeat(1024 * 1024);
    let big = SAR_V1.replacen(
        '{',
        &format!("{{\"metadata\": {{\"name\": \"{padding}\"}},"),
        1,
    );
    let (status, body) = post(&setup.app, SUBJECT_ACCESS_REVIEW_PATH, big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["code"], 413);

    // A smaller configured limit, and a body without Content-Length (streamed).
    let app = Webhook::builder()
        .verifier(setup.verifier.clone())
        .body_limit(512)
        .build()
        .unwrap()
        .router();
    let token = setup.idp.mint_access_token("alice").unwrap();
    let fixture = TOKEN_REVIEW_V1.replace("TOKEN", &token);
    assert!(fixture.len() > 512);
    let (status, _) = post(&app, TOKEN_REVIEW_PATH, fixture.clone()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let chunks: Vec<Result<_, std::io::Error>> = fixture
        .as_bytes()
        .chunks(100)
        .map(|chunk| Ok(bytes::Bytes::copy_from_slice(chunk)))
        .collect();
    let streamed = Request::post(TOKEN_REVIEW_PATH)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    assert_eq!(send(&app, streamed).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    // Only the endpoints the webhook was built for are served.
    let (status, _) = post(&app, SUBJECT_ACCESS_REVIEW_PATH, SAR_V1).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
