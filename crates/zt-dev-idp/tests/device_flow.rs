//! RFC 8628 device authorization over real HTTP: pending, slow_down, approval via the
//! API and the /device form, denial and expiry.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use http::StatusCode;
use serde_json::Value;
use zt_dev_idp::{DevIdp, DevIdpError, RunningDevIdp};

async fn start(interval: Duration, ttl: Duration) -> RunningDevIdp {
    DevIdp::builder()
        .banner(false)
        .device_poll_interval(interval)
        .device_code_ttl(ttl)
        .start()
        .await
        .unwrap()
}

async fn begin(http: &Http, idp: &RunningDevIdp) -> Value {
    let resp = http
        .post(
            &format!("{}/device_authorization", idp.issuer()),
            &[("client_id", "zt-dev"), ("scope", "openid profile groups")],
            &[],
        )
        .await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    assert_eq!(resp.header("cache-control"), Some("no-store"));
    resp.json()
}

async fn poll(http: &Http, idp: &RunningDevIdp, device_code: &str) -> common::Resp {
    http.post(
        &format!("{}/token", idp.issuer()),
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", device_code),
            ("client_id", "zt-dev"),
        ],
        &[],
    )
    .await
}

#[tokio::test]
async fn pending_slow_down_then_approved() {
    let idp = start(Duration::from_millis(300), Duration::from_secs(60)).await;
    let http = Http::new();
    let start = begin(&http, &idp).await;
    let user_code = start["user_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 9);
    assert_eq!(&user_code[4..5], "-");
    assert_eq!(
        start["verification_uri"],
        format!("{}/device", idp.issuer())
    );
    assert!(
        start["verification_uri_complete"]
            .as_str()
            .unwrap()
            .ends_with(&format!("?user_code={user_code}"))
    );
    assert_eq!(start["interval"], 1);
    assert_eq!(start["expires_in"], 60);
    let device_code = start["device_code"].as_str().unwrap();
    assert!(device_code.len() >= 43);

    let first = poll(&http, &idp, device_code).await;
    assert_eq!(first.status, StatusCode::BAD_REQUEST);
    assert_eq!(first.error(), "authorization_pending");
    // Immediately again: too fast.
    assert_eq!(poll(&http, &idp, device_code).await.error(), "slow_down");
    // The interval grew by the increment (= the 300 ms poll interval): 350 ms is too soon.
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(poll(&http, &idp, device_code).await.error(), "slow_down");
    // Now 900 ms.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        poll(&http, &idp, device_code).await.error(),
        "authorization_pending"
    );

    // Lower case and without the dash is fine.
    let typed = user_code.replace('-', "").to_lowercase();
    idp.approve_device(&typed, "bob").unwrap();
    assert!(matches!(
        idp.approve_device(user_code, "alice"),
        Err(DevIdpError::DeviceNotPending(_))
    ));

    let tokens = poll(&http, &idp, device_code).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text());
    let tokens = tokens.json();
    assert_eq!(tokens["scope"], "openid profile groups");
    assert!(tokens["refresh_token"].is_string());
    let at = verify(
        &http,
        &idp,
        tokens["access_token"].as_str().unwrap(),
        "zt-dev",
    )
    .await;
    assert_eq!(at["sub"], "bob");
    assert!(at["sid"].is_string());
    let id = verify(&http, &idp, tokens["id_token"].as_str().unwrap(), "zt-dev").await;
    assert_eq!(id["sid"], at["sid"]);
    // Tokens are issued once.
    assert_eq!(
        poll(&http, &idp, device_code).await.error(),
        "invalid_grant"
    );
    idp.shutdown().await;
}

#[tokio::test]
async fn denial_and_expiry() {
    let idp = start(Duration::from_millis(10), Duration::from_millis(1000)).await;
    let http = Http::new();
    let denied = begin(&http, &idp).await;
    let expiring = begin(&http, &idp).await;
    idp.deny_device(denied["user_code"].as_str().unwrap())
        .unwrap();
    let resp = poll(&http, &idp, denied["device_code"].as_str().unwrap()).await;
    assert_eq!(resp.error(), "access_denied");
    assert!(matches!(
        idp.deny_device("BBBB-BBBB"),
        Err(DevIdpError::UnknownUserCode(_))
    ));
    assert!(matches!(
        idp.approve_device(expiring["user_code"].as_str().unwrap(), "mallory"),
        Err(DevIdpError::UnknownUser(_))
    ));

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let resp = poll(&http, &idp, expiring["device_code"].as_str().unwrap()).await;
    assert_eq!(resp.error(), "expired_token");
    assert!(matches!(
        idp.approve_device(expiring["user_code"].as_str().unwrap(), "alice"),
        Err(DevIdpError::DeviceNotPending(_))
    ));
    idp.shutdown().await;
}

#[tokio::test]
async fn the_device_form_approves_and_denies() {
    let idp = start(Duration::from_millis(10), Duration::from_secs(60)).await;
    let http = Http::new();
    let started = begin(&http, &idp).await;
    let user_code = started["user_code"].as_str().unwrap();

    let page = http
        .get(started["verification_uri_complete"].as_str().unwrap(), &[])
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("development only"));
    assert!(html.contains(&format!("value=\"{user_code}\"")));
    assert!(html.contains("value=\"deny\""));
    assert!(html.contains("name=\"username\" value=\"carol\""));

    let hostile = http
        .get(
            &format!("{}/device?user_code=%22%3E%3Cscript%3E", idp.issuer()),
            &[],
        )
        .await;
    assert!(!hostile.text().contains("<script>"));

    let device_url = format!("{}/device", idp.issuer());
    let wrong = http
        .post(
            &device_url,
            &[("user_code", "ZZZZ-ZZZZ"), ("username", "carol")],
            &[],
        )
        .await;
    assert!(wrong.text().contains("Unknown code"));
    let ok = http
        .post(
            &device_url,
            &[("user_code", user_code), ("username", "carol")],
            &[],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.text().contains("approved"));
    let tokens = poll(&http, &idp, started["device_code"].as_str().unwrap()).await;
    assert_eq!(tokens.status, StatusCode::OK);
    let at = verify(
        &http,
        &idp,
        tokens.json()["access_token"].as_str().unwrap(),
        "zt-dev",
    )
    .await;
    assert_eq!(at["sub"], "carol");

    let second = begin(&http, &idp).await;
    let denied = http
        .post(
            &device_url,
            &[
                ("user_code", second["user_code"].as_str().unwrap()),
                ("action", "deny"),
            ],
            &[],
        )
        .await;
    assert!(denied.text().contains("denied"));
    let resp = poll(&http, &idp, second["device_code"].as_str().unwrap()).await;
    assert_eq!(resp.error(), "access_denied");

    // Unknown client.
    let resp = http
        .post(
            &format!("{}/device_authorization", idp.issuer()),
            &[("client_id", "nope")],
            &[],
        )
        .await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    assert_eq!(resp.error(), "invalid_client");
    idp.shutdown().await;
}
