//! Shared set-up for zt-core's integration tests: keys from zt-dev-idp, claims, verifiers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use zt_core::identity::{IssuerConfig, Verifier};
use zt_dev_idp::KeyRing;

pub(crate) const ISSUER: &str = "https://idp.test";
pub(crate) const AUDIENCE: &str = "zt-test";

pub(crate) fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Valid claims for `ISSUER`/`AUDIENCE`, with `extra` merged in.
pub(crate) fn claims(extra: Value) -> Value {
    let now = now();
    let mut claims = json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "alice",
        "iat": now, "nbf": now, "exp": now + 300,
        "email": "alice@example.com", "groups": ["engineering"],
    });
    for (key, value) in extra.as_object().unwrap() {
        claims[key] = value.clone();
    }
    claims
}

/// Valid claims without the named ones.
pub(crate) fn claims_without(names: &[&str]) -> Value {
    let mut claims = claims(json!({}));
    for name in names {
        claims.as_object_mut().unwrap().remove(*name);
    }
    claims
}

/// A verifier trusting exactly the keys of `ring` for `ISSUER`.
pub(crate) async fn verifier_for(ring: &KeyRing) -> Verifier {
    verifier_with(IssuerConfig::jwks_inline(ISSUER, ring.jwks().to_string()).audience(AUDIENCE))
        .await
}

pub(crate) async fn verifier_with(config: IssuerConfig) -> Verifier {
    Verifier::builder().issuer(config).build().await.unwrap()
}

pub(crate) fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn b64_decode(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

/// Replaces the header of a signed token, keeping payload and signature.
pub(crate) fn with_header(token: &str, header: Value) -> String {
    let (_, rest) = token.split_once('.').unwrap();
    format!("{}.{rest}", b64(header.to_string()))
}

/// The decoded header of a token.
pub(crate) fn header_of(token: &str) -> Value {
    serde_json::from_slice(&b64_decode(token.split('.').next().unwrap())).unwrap()
}
