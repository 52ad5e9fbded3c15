//! A path is normalised before the policy and the router see it: the spellings of
//! `/admin` that a prefix rule for `/public` would let through (`/public/../admin`,
//! `/public/%2e%2e/admin`, ...) are decided as `/admin`, and the ambiguous ones are
//! answered 400 before anything else runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::{Layer, ServiceExt};
use zt_core::policy::Engine;
use zt_tower::AuthLayer;
use zt_tower::proxy::NormalizePathLayer;

const POLICY: &str = r#"
# zt-lint: allow allow-without-identity
allow "public" when request.path starts_with "/public"
"#;

async fn status(case_insensitive: bool, path: &str) -> (StatusCode, String) {
    let app = Router::new()
        .route("/admin", get(|| async { "secret" }))
        .route("/public/{*rest}", get(|| async { "public" }))
        .layer(
            AuthLayer::builder()
                .policy(Engine::from_source(POLICY).unwrap())
                .build()
                .unwrap(),
        );
    let service = NormalizePathLayer::new()
        .case_insensitive(case_insensitive)
        .layer(app);
    let request = Request::get(path)
        .header(http::header::HOST, "app.example.com")
        .body(Body::empty())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn public_paths_stay_public() {
    for path in [
        "/public/x",
        "/public/./x",
        "/public//x",
        "/%70ublic/x",
        "/public/a/../x",
    ] {
        let (status, body) = status(false, path).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "public"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn spellings_of_admin_meet_the_admin_policy() {
    for path in [
        "/admin",
        "/public/../admin",
        "/public/%2e%2e/admin",
        "/public/%2E./admin",
        "/public/./../admin",
        "//public/../admin",
        "/public/x/../../%61dmin",
    ] {
        let (status, body) = status(false, path).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        assert!(!body.contains("secret"), "{path}");
    }
    let (status, _) = status(true, "/public/../ADMIN").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn ambiguous_paths_are_bad_requests() {
    for path in [
        "/public/..%2fadmin",
        "/public/..%5cadmin",
        "/public/..;/admin",
        "/public/%252e%252e/admin",
        "/public/../../admin",
        "/public/%zz",
    ] {
        let (status, body) = status(false, path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["status"], 400);
        assert_eq!(body["title"], "Bad Request");
    }
}
