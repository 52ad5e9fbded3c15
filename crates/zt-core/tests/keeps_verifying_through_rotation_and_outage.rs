//! The verifier discovers a real OpenID provider (zt-dev-idp) over HTTP, verifies the
//! tokens its token endpoint issues, follows a key rotation, keeps working on its last
//! good keys for the configured time while the provider is down, and then fails closed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use zt_core::identity::{IssuerConfig, Verifier, VerifyError};
use zt_dev_idp::{DevIdp, RunningDevIdp, SigningAlg};

const AUDIENCE: &str = "zt-dev";
const STALE_BOUND: Duration = Duration::from_secs(3);
const MIN_REFRESH: Duration = Duration::from_secs(1);

async fn post_form(url: &str, form: &[(&str, &str)]) -> Value {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let request = http::Request::post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let response = client.request(request).await.unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

/// An access token obtained the way a CLI would: RFC 8628 device authorization.
async fn device_code_token(idp: &RunningDevIdp, user: &str) -> String {
    let issuer = idp.issuer();
    let start = post_form(
        &format!("{issuer}/device_authorization"),
        &[
            ("client_id", "zt-dev"),
            ("scope", "openid profile email groups"),
        ],
    )
    .await;
    let device_code = start["device_code"].as_str().unwrap();
    let pending = post_form(
        &format!("{issuer}/token"),
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", device_code),
            ("client_id", "zt-dev"),
        ],
    )
    .await;
    assert_eq!(pending["error"], "authorization_pending");
    idp.approve_device(start["user_code"].as_str().unwrap(), user)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tokens = post_form(
        &format!("{issuer}/token"),
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", device_code),
            ("client_id", "zt-dev"),
        ],
    )
    .await;
    tokens["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {tokens}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifier_follows_rotation_and_survives_a_bounded_outage() {
    let idp = DevIdp::builder()
        .banner(false)
        .signing_alg(SigningAlg::Es256)
        .device_poll_interval(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let verifier = Verifier::builder()
        .issuer(
            IssuerConfig::discover(idp.issuer())
                .audience(AUDIENCE)
                .refresh_interval(Duration::from_secs(3600))
                .min_refresh_interval(MIN_REFRESH)
                .keep_stale_keys_for(STALE_BOUND)
                .http_timeout(Duration::from_secs(1)),
        )
        .build()
        .await
        .unwrap();

    // Tokens from the real token endpoint verify, with the dev user's claims.
    let token = device_code_token(&idp, "alice").await;
    let alice = verifier.verify(&token).await.unwrap();
    assert_eq!(alice.username.as_deref(), Some("alice"));
    assert!(alice.in_group("admins"));
    assert!(alice.session_id.is_some());

    // Rotation: the new kid is unknown to the verifier, which refreshes on demand.
    let old_kid = idp.current_kid(SigningAlg::Es256).unwrap();
    idp.rotate_keys();
    assert_ne!(idp.current_kid(SigningAlg::Es256).unwrap(), old_kid);
    let rotated = idp.mint_access_token("bob").unwrap();
    assert_eq!(verifier.verify(&rotated).await.unwrap().subject, "bob");
    // Tokens signed before the rotation still verify: the old key is still published.
    assert!(verifier.verify(&token).await.is_ok());

    // A second rotation withdraws the first generation's keys; the refresh that finds the
    // third generation also drops cached identities resting on withdrawn keys.
    idp.rotate_keys();
    let fresh = idp.mint_access_token("carol").unwrap();
    // Unknown-kid refreshes are rate limited: within MIN_REFRESH of the last one, none.
    assert_eq!(
        verifier.verify(&fresh).await.err(),
        Some(VerifyError::UnknownKey)
    );
    tokio::time::sleep(MIN_REFRESH + Duration::from_millis(100)).await;
    assert!(verifier.verify(&fresh).await.is_ok());
    assert_eq!(
        verifier.verify(&token).await.err(),
        Some(VerifyError::UnknownKey)
    );

    // Outage: the provider stops. Tokens (cached or not) still verify on the last good keys.
    let uncached = idp.mint_access_token("dave").unwrap();
    let outage_started = std::time::Instant::now();
    idp.shutdown().await;
    assert!(verifier.verify(&fresh).await.is_ok());
    assert_eq!(verifier.verify(&uncached).await.unwrap().subject, "dave");

    // After the staleness bound, every token of the issuer is rejected: fail closed.
    let remaining = STALE_BOUND.saturating_sub(outage_started.elapsed());
    tokio::time::sleep(remaining + Duration::from_millis(600)).await;
    assert_eq!(
        verifier.verify(&fresh).await.err(),
        Some(VerifyError::NoKeys)
    );
    assert_eq!(
        verifier.verify(&uncached).await.err(),
        Some(VerifyError::NoKeys)
    );
}

#[tokio::test]
async fn an_unreachable_issuer_fails_closed_from_the_start() {
    let idp = DevIdp::builder().banner(false).start().await.unwrap();
    let issuer = idp.issuer().to_owned();
    let token = idp.mint_access_token("alice").unwrap();
    idp.shutdown().await;

    let verifier = Verifier::builder()
        .issuer(
            IssuerConfig::discover(&issuer)
                .audience(AUDIENCE)
                .http_timeout(Duration::from_secs(1)),
        )
        .build()
        .await
        .unwrap();
    assert_eq!(
        verifier.verify(&token).await.err(),
        Some(VerifyError::NoKeys)
    );
}

#[tokio::test]
async fn discovery_must_name_the_configured_issuer() {
    let idp = DevIdp::builder().banner(false).start().await.unwrap();
    // Same server, but configured under another issuer name: discovery disagrees.
    let alias = idp.issuer().replace("127.0.0.1", "localhost");
    let verifier = Verifier::builder()
        .issuer(IssuerConfig::discover(&alias).audience(AUDIENCE))
        .build()
        .await
        .unwrap();
    let token = idp.mint_access_token("alice").unwrap();
    assert_eq!(
        verifier.verify(&token).await.err(),
        Some(VerifyError::UntrustedIssuer)
    );
    let forged_iss = idp
        .sign_claims(
            SigningAlg::Es256,
            &serde_json::json!({"iss": alias, "sub": "alice", "aud": AUDIENCE, "exp": jiff::Timestamp::now().as_second() + 60}),
        )
        .unwrap();
    assert_eq!(
        verifier.verify(&forged_iss).await.err(),
        Some(VerifyError::NoKeys)
    );
}
