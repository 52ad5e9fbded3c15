//! Discovery metadata, the published JWKS, key rotation, every signing algorithm,
//! server-less `KeyRing` use and shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use http::StatusCode;
use jsonwebtoken::jwk::JwkSet;
use serde_json::json;
use zt_dev_idp::{DevIdp, DevUser, KeyRing, SigningAlg};

#[tokio::test]
async fn discovery_document_has_every_field() {
    let idp = start_default().await;
    assert!(idp.addr().ip().is_loopback());
    assert_eq!(idp.issuer(), format!("http://{}", idp.addr()));
    let http = Http::new();
    let resp = http
        .get(
            &format!("{}/.well-known/openid-configuration", idp.issuer()),
            &[],
        )
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    let doc = resp.json();
    let iss = idp.issuer();
    assert_eq!(doc["issuer"], iss);
    for (field, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("jwks_uri", "/jwks"),
        ("userinfo_endpoint", "/userinfo"),
        ("device_authorization_endpoint", "/device_authorization"),
        ("end_session_endpoint", "/end_session"),
    ] {
        assert_eq!(doc[field], format!("{iss}{path}"), "{field}");
    }
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(
        doc["grant_types_supported"],
        json!([
            "authorization_code",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code"
        ])
    );
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(doc["subject_types_supported"], json!(["public"]));
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["none", "client_secret_basic", "client_secret_post"])
    );
    assert_eq!(
        doc["scopes_supported"],
        json!(["openid", "profile", "email", "groups", "offline_access"])
    );
    assert_eq!(doc["id_token_signing_alg_values_supported"][0], "ES256");
    assert!(
        doc["claims_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("groups"))
    );
    assert_eq!(idp.users().len(), 4);
    assert_eq!(idp.users()[0].groups, vec!["engineering", "admins"]);
    idp.shutdown().await;
}

#[tokio::test]
async fn rotation_publishes_the_new_kid_and_keeps_the_previous_one() {
    let idp = start_default().await;
    let http = Http::new();
    let jwks_url = format!("{}/jwks", idp.issuer());
    let before: JwkSet = serde_json::from_slice(&http.get(&jwks_url, &[]).await.body).unwrap();
    assert_eq!(before.keys.len(), 3);
    assert_eq!(
        serde_json::to_value(&before).unwrap()["keys"],
        idp.jwks()["keys"]
    );
    let old_token = idp.mint_access_token("alice").unwrap();
    let old_kid = idp.current_kid(SigningAlg::Es256).unwrap();

    idp.rotate_keys();
    let resp = http.get(&jwks_url, &[]).await;
    assert_eq!(resp.header("cache-control"), Some("max-age=60"));
    let after: JwkSet = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(after.keys.len(), 6);
    let new_kid = idp.current_kid(SigningAlg::Es256).unwrap();
    assert_ne!(new_kid, old_kid);
    assert!(after.find(&new_kid).is_some());
    assert!(after.find(&old_kid).is_some());
    let new_token = idp.mint_access_token("alice").unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(&new_token)
            .unwrap()
            .kid
            .as_deref(),
        Some(new_kid.as_str())
    );
    verify_with(&after, idp.issuer(), &old_token, "zt-dev");
    verify_with(&after, idp.issuer(), &new_token, "zt-dev");

    idp.rotate_keys();
    let third: JwkSet = serde_json::from_slice(&http.get(&jwks_url, &[]).await.body).unwrap();
    assert_eq!(third.keys.len(), 6);
    assert!(
        third.find(&old_kid).is_none(),
        "two generations back is dropped"
    );
    assert!(third.find(&new_kid).is_some());
    idp.shutdown().await;
}

#[tokio::test]
async fn every_algorithm_issues_verifiable_tokens() {
    for alg in [SigningAlg::Es256, SigningAlg::Rs256, SigningAlg::EdDsa] {
        let idp = DevIdp::builder()
            .banner(false)
            .signing_alg(alg)
            .user(DevUser::new("erin").groups(&["qa"]))
            .start()
            .await
            .unwrap();
        assert_eq!(idp.users().len(), 1, "user() replaces the defaults");
        let http = Http::new();
        let token = idp.mint_access_token("erin").unwrap();
        assert_eq!(
            format!("{:?}", jsonwebtoken::decode_header(&token).unwrap().alg),
            alg.as_str()
        );
        let claims = verify(&http, &idp, &token, "zt-dev").await;
        assert_eq!(claims["groups"], json!(["qa"]));
        let ui = http
            .get(
                &format!("{}/userinfo", idp.issuer()),
                &[("authorization", &format!("Bearer {token}"))],
            )
            .await;
        assert_eq!(ui.json()["sub"], "erin");
        // sign_claims uses the current key of the requested algorithm, whatever is configured.
        for other in [SigningAlg::Es256, SigningAlg::Rs256, SigningAlg::EdDsa] {
            let t = idp
                .sign_claims(
                    other,
                    &json!({"iss": idp.issuer(), "aud": "x", "exp": 4_000_000_000u64, "sub": "z"}),
                )
                .unwrap();
            assert_eq!(verify(&http, &idp, &t, "x").await["sub"], "z");
        }
        assert!(idp.mint_access_token("nobody").is_err());
        idp.shutdown().await;
    }
}

#[test]
fn key_ring_works_without_a_server() {
    let mut ring = KeyRing::generate().unwrap();
    let jwks: JwkSet = serde_json::from_value(ring.jwks()).unwrap();
    assert_eq!(jwks.keys.len(), 3);
    let kids: std::collections::HashSet<_> = jwks
        .keys
        .iter()
        .filter_map(|k| k.common.key_id.clone())
        .collect();
    assert_eq!(kids.len(), 3);
    let claims = json!({"iss": "https://bench", "aud": "a", "exp": 4_000_000_000u64});
    for alg in [SigningAlg::Es256, SigningAlg::Rs256, SigningAlg::EdDsa] {
        let t = ring.sign(alg, &claims).unwrap();
        verify_with(&jwks, "https://bench", &t, "a");
    }
    ring.rotate().unwrap();
    let jwks: JwkSet = serde_json::from_value(ring.jwks()).unwrap();
    assert_eq!(jwks.keys.len(), 6);
    let t = ring.sign(SigningAlg::EdDsa, &claims).unwrap();
    verify_with(&jwks, "https://bench", &t, "a");
}

#[tokio::test]
async fn shutdown_stops_listening() {
    let idp = start_default().await;
    let addr = idp.addr();
    assert!(tokio::net::TcpStream::connect(addr).await.is_ok());
    idp.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
