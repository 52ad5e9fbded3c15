//! Every known way to forge or bend a JWT is rejected, each with a typed error that names
//! what failed and never echoes the token.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use support::*;
use zt_core::identity::{IssuerConfig, VerifyError};
use zt_dev_idp::{KeyRing, SigningAlg};

async fn setup() -> (KeyRing, zt_core::identity::Verifier) {
    let ring = KeyRing::generate().unwrap();
    let verifier = verifier_for(&ring).await;
    (ring, verifier)
}

/// A key the issuer never published, and its JWK.
fn attacker_key() -> (EncodingKey, Value) {
    let pair = Ed25519KeyPair::generate().unwrap();
    let pkcs8 = pair.to_pkcs8v1().unwrap();
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref())});
    (EncodingKey::from_ed_der(pkcs8.as_ref()), jwk)
}

fn attacker_token(header: Header, claims: &Value) -> String {
    let (key, _) = attacker_key();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

async fn rejected(verifier: &zt_core::identity::Verifier, token: &str) -> VerifyError {
    let error = verifier
        .verify(token)
        .await
        .expect_err("token must be rejected");
    let message = error.to_string();
    for part in token.split('.').filter(|p| p.len() > 8) {
        assert!(
            !message.contains(part),
            "error message echoes the token: {message}"
        );
    }
    error
}

#[tokio::test]
async fn accepts_genuine_tokens_of_every_algorithm() {
    let (ring, verifier) = setup().await;
    for alg in SigningAlg::ALL {
        let token = ring.sign(alg, &claims(json!({}))).unwrap();
        let identity = verifier.verify(&token).await.unwrap();
        assert_eq!(identity.subject, "alice");
        assert_eq!(identity.groups, ["engineering"]);
    }
}

#[tokio::test]
async fn rejects_alg_none() {
    let (_, verifier) = setup().await;
    let unsigned = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(claims(json!({})).to_string())
    );
    assert_eq!(
        rejected(&verifier, &unsigned).await,
        VerifyError::AlgorithmNotAllowed("none")
    );
    let with_sig = format!("{unsigned}c2ln");
    assert_eq!(
        rejected(&verifier, &with_sig).await,
        VerifyError::AlgorithmNotAllowed("none")
    );
    let upper = format!(
        "{}.{}.",
        b64(r#"{"alg":"NONE"}"#),
        b64(claims(json!({})).to_string())
    );
    assert!(matches!(
        rejected(&verifier, &upper).await,
        VerifyError::AlgorithmNotAllowed(_)
    ));
}

#[tokio::test]
async fn rejects_hs256_signed_with_the_issuers_rsa_public_key() {
    let (ring, verifier) = setup().await;
    let rsa_jwk = ring.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kty"] == "RSA")
        .cloned()
        .unwrap();
    let kid = rsa_jwk["kid"].as_str().unwrap().to_owned();
    // The secrets an attacker would try: the JWK text and the raw modulus.
    for secret in [
        rsa_jwk.to_string().into_bytes(),
        b64_decode(rsa_jwk["n"].as_str().unwrap()),
    ] {
        let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(kid.clone());
        let token = jsonwebtoken::encode(
            &header,
            &claims(json!({})),
            &EncodingKey::from_secret(&secret),
        )
        .unwrap();
        assert_eq!(
            rejected(&verifier, &token).await,
            VerifyError::AlgorithmNotAllowed("HS256")
        );
    }
}

#[tokio::test]
async fn rejects_unknown_kid() {
    let (_, verifier) = setup().await;
    let mut header = Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some("not-a-published-kid".into());
    let token = attacker_token(header, &claims(json!({})));
    assert_eq!(rejected(&verifier, &token).await, VerifyError::UnknownKey);
}

#[tokio::test]
async fn rejects_absent_kid_when_the_issuer_has_several_keys() {
    let (ring, verifier) = setup().await;
    let token = ring.sign(SigningAlg::Es256, &claims(json!({}))).unwrap();
    let header = json!({"alg": "ES256", "typ": "JWT"});
    let no_kid = with_header(&token, header.clone());
    assert_eq!(
        rejected(&verifier, &no_kid).await,
        VerifyError::AmbiguousKey
    );

    // With exactly one published key, a token without `kid` is unambiguous.
    let single: Vec<Value> = ring.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["kty"] == "EC")
        .cloned()
        .collect();
    let one_key = verifier_with(
        IssuerConfig::jwks_inline(ISSUER, json!({"keys": single}).to_string()).audience(AUDIENCE),
    )
    .await;
    // Signature covers the original header, so re-signing is needed for a positive case:
    // the exact-header token still verifies, and the stripped one fails on the signature.
    assert!(one_key.verify(&token).await.is_ok());
    assert_eq!(
        one_key.verify(&no_kid).await.err(),
        Some(VerifyError::BadSignature)
    );
}

#[tokio::test]
async fn rejects_jku_x5u_jwk_and_x5c_headers() {
    let (ring, verifier) = setup().await;
    let (_, attacker_jwk) = attacker_key();
    let kid = ring.current_kid(SigningAlg::EdDsa).unwrap().to_owned();
    let mut jku = Header::new(jsonwebtoken::Algorithm::EdDSA);
    jku.kid = Some(kid.clone());
    jku.jku = Some("https://attacker.example/jwks.json".into());
    assert_eq!(
        rejected(&verifier, &attacker_token(jku, &claims(json!({})))).await,
        VerifyError::UntrustedKeyHeader("jku")
    );

    let mut x5u = Header::new(jsonwebtoken::Algorithm::EdDSA);
    x5u.x5u = Some("https://attacker.example/cert.pem".into());
    assert_eq!(
        rejected(&verifier, &attacker_token(x5u, &claims(json!({})))).await,
        VerifyError::UntrustedKeyHeader("x5u")
    );

    // An embedded JWK of the attacker's own key, signed with that key.
    let genuine = ring.sign(SigningAlg::EdDsa, &claims(json!({}))).unwrap();
    let embedded = with_header(
        &genuine,
        json!({"alg": "EdDSA", "kid": kid, "jwk": attacker_jwk}),
    );
    assert_eq!(
        rejected(&verifier, &embedded).await,
        VerifyError::UntrustedKeyHeader("jwk")
    );

    let x5c = with_header(
        &genuine,
        json!({"alg": "EdDSA", "kid": kid, "x5c": ["MIIB"]}),
    );
    assert_eq!(
        rejected(&verifier, &x5c).await,
        VerifyError::UntrustedKeyHeader("x5c")
    );
}

#[tokio::test]
async fn rejects_crit_with_unknown_members() {
    let (ring, verifier) = setup().await;
    let genuine = ring.sign(SigningAlg::Es256, &claims(json!({}))).unwrap();
    let mut header = header_of(&genuine);
    header["crit"] = json!(["exp-ext"]);
    header["exp-ext"] = json!(1);
    assert_eq!(
        rejected(&verifier, &with_header(&genuine, header.clone())).await,
        VerifyError::UnsupportedCritical
    );
    header["crit"] = json!([]);
    assert_eq!(
        rejected(&verifier, &with_header(&genuine, header)).await,
        VerifyError::UnsupportedCritical
    );
}

#[tokio::test]
async fn rejects_expired_and_not_yet_valid() {
    let (ring, verifier) = setup().await;
    let expired = ring
        .sign(SigningAlg::Es256, &claims(json!({"exp": now() - 120})))
        .unwrap();
    assert_eq!(rejected(&verifier, &expired).await, VerifyError::Expired);
    let early = ring
        .sign(SigningAlg::Es256, &claims(json!({"nbf": now() + 600})))
        .unwrap();
    assert_eq!(rejected(&verifier, &early).await, VerifyError::NotYetValid);
    let future_iat = ring
        .sign(SigningAlg::Es256, &claims(json!({"iat": now() + 600})))
        .unwrap();
    assert_eq!(
        rejected(&verifier, &future_iat).await,
        VerifyError::IssuedInFuture
    );
}

#[tokio::test]
async fn rejects_time_claims_of_the_wrong_json_type() {
    // CVE-2026-25537: a string `exp` must not make the expiry check disappear.
    let (ring, verifier) = setup().await;
    let long_ago = (now() - 100_000).to_string();
    for claim in ["exp", "nbf", "iat"] {
        let token = ring
            .sign(SigningAlg::Es256, &claims(json!({ claim: long_ago })))
            .unwrap();
        assert!(
            matches!(
                rejected(&verifier, &token).await,
                VerifyError::InvalidClaim { .. }
            ),
            "{claim}"
        );
    }
    let token = ring
        .sign(SigningAlg::Es256, &claims(json!({"exp": {"v": 1}})))
        .unwrap();
    assert!(matches!(
        rejected(&verifier, &token).await,
        VerifyError::InvalidClaim { .. }
    ));
}

#[tokio::test]
async fn rejects_missing_exp() {
    let (ring, verifier) = setup().await;
    let token = ring
        .sign(SigningAlg::Es256, &claims_without(&["exp"]))
        .unwrap();
    assert_eq!(
        rejected(&verifier, &token).await,
        VerifyError::MissingClaim("exp".into())
    );
    // `null` is not a NumericDate either: never a skipped check.
    for claim in ["exp", "nbf", "iat"] {
        let token = ring
            .sign(SigningAlg::Es256, &claims(json!({ claim: null })))
            .unwrap();
        assert!(
            matches!(
                rejected(&verifier, &token).await,
                VerifyError::InvalidClaim { .. }
            ),
            "{claim}"
        );
    }
}

#[tokio::test]
async fn rejects_wrong_issuer() {
    let (ring, verifier) = setup().await;
    for iss in [
        json!("https://evil.test"),
        json!("https://idp.test/"),
        json!("HTTPS://IDP.TEST"),
    ] {
        let token = ring
            .sign(SigningAlg::Es256, &claims(json!({ "iss": iss })))
            .unwrap();
        assert_eq!(
            rejected(&verifier, &token).await,
            VerifyError::UntrustedIssuer
        );
    }
    let token = ring
        .sign(SigningAlg::Es256, &claims_without(&["iss"]))
        .unwrap();
    assert_eq!(
        rejected(&verifier, &token).await,
        VerifyError::MissingClaim("iss".into())
    );
    let token = ring
        .sign(SigningAlg::Es256, &claims(json!({"iss": null})))
        .unwrap();
    assert!(matches!(
        rejected(&verifier, &token).await,
        VerifyError::InvalidClaim { .. }
    ));
    let token = ring
        .sign(SigningAlg::Es256, &claims(json!({"iss": [ISSUER]})))
        .unwrap();
    assert!(matches!(
        rejected(&verifier, &token).await,
        VerifyError::InvalidClaim { .. }
    ));
}

#[tokio::test]
async fn rejects_wrong_audience() {
    let (ring, verifier) = setup().await;
    let token = ring
        .sign(
            SigningAlg::Es256,
            &claims(json!({"aud": "another-service"})),
        )
        .unwrap();
    assert_eq!(
        rejected(&verifier, &token).await,
        VerifyError::WrongAudience
    );
    let token = ring
        .sign(SigningAlg::Es256, &claims(json!({"aud": ["a", "b"]})))
        .unwrap();
    assert_eq!(
        rejected(&verifier, &token).await,
        VerifyError::WrongAudience
    );
    let token = ring
        .sign(SigningAlg::Es256, &claims(json!({"aud": ["a", AUDIENCE]})))
        .unwrap();
    assert!(verifier.verify(&token).await.is_ok());
}

#[tokio::test]
async fn rejects_stripped_signature() {
    let (ring, verifier) = setup().await;
    let token = ring.sign(SigningAlg::Rs256, &claims(json!({}))).unwrap();
    let stripped = &token[..=token.rfind('.').unwrap()];
    assert!(matches!(
        rejected(&verifier, stripped).await,
        VerifyError::Malformed(_)
    ));
    let no_dot = &token[..token.rfind('.').unwrap()];
    assert!(matches!(
        rejected(&verifier, no_dot).await,
        VerifyError::Malformed(_)
    ));
}

#[tokio::test]
async fn rejects_signature_from_another_key() {
    let (ring, verifier) = setup().await;
    // The attacker claims the issuer's kid but signs with their own key.
    let mut header = Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(ring.current_kid(SigningAlg::EdDsa).unwrap().into());
    let token = attacker_token(header, &claims(json!({})));
    assert_eq!(rejected(&verifier, &token).await, VerifyError::BadSignature);

    // A genuine signature over different claims.
    let genuine = ring.sign(SigningAlg::Es256, &claims(json!({}))).unwrap();
    let admin = ring
        .sign(SigningAlg::Es256, &claims(json!({"groups": ["admins"]})))
        .unwrap();
    let (head, rest) = genuine.split_once('.').unwrap();
    let signature = rest.rsplit_once('.').unwrap().1;
    let payload = admin.split('.').nth(1).unwrap();
    let spliced = format!("{head}.{payload}.{signature}");
    assert_eq!(
        rejected(&verifier, &spliced).await,
        VerifyError::BadSignature
    );

    // A token of another issuer's key ring under the trusted issuer's name.
    let other = KeyRing::generate().unwrap();
    let mut forged = other.sign(SigningAlg::Es256, &claims(json!({}))).unwrap();
    forged = with_header(
        &forged,
        json!({"alg": "ES256", "kid": ring.current_kid(SigningAlg::Es256).unwrap()}),
    );
    assert_eq!(
        rejected(&verifier, &forged).await,
        VerifyError::BadSignature
    );
}

#[tokio::test]
async fn rejects_encrypted_and_nested_tokens() {
    let (ring, verifier) = setup().await;
    let jwe = format!(
        "{}.a2V5.aXY.Y2lwaGVy.dGFn",
        b64(r#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#)
    );
    assert_eq!(rejected(&verifier, &jwe).await, VerifyError::Encrypted);
    let genuine = ring.sign(SigningAlg::Es256, &claims(json!({}))).unwrap();
    let mut header = header_of(&genuine);
    header["enc"] = json!("A256GCM");
    assert_eq!(
        rejected(&verifier, &with_header(&genuine, header)).await,
        VerifyError::Encrypted
    );
    let mut header = header_of(&genuine);
    header["cty"] = json!("JWT");
    assert_eq!(
        rejected(&verifier, &with_header(&genuine, header)).await,
        VerifyError::Nested
    );
}

#[tokio::test]
async fn rejects_malformed_base64_and_json() {
    let (ring, verifier) = setup().await;
    let genuine = ring.sign(SigningAlg::Es256, &claims(json!({}))).unwrap();
    let parts: Vec<&str> = genuine.split('.').collect();
    let cases = [
        format!("{}!.{}.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}+.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}==", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}", b64("{not json"), parts[1], parts[2]),
        format!("{}.{}.{}", parts[0], b64("[\"array\"]"), parts[2]),
        format!(
            "{}.{}.{}",
            parts[0],
            b64("{\"sub\":\"a\",\"sub\":\"b\"}"),
            parts[2]
        ),
        format!("{}.{}.{}", b64("\"alg\""), parts[1], parts[2]),
        String::new(),
        "...".into(),
        "\u{0}.\u{0}.\u{0}".into(),
    ];
    for token in &cases {
        assert!(
            matches!(rejected(&verifier, token).await, VerifyError::Malformed(_)),
            "{token:?}"
        );
    }
}

#[tokio::test]
async fn rejects_oversized_tokens_before_parsing() {
    let (ring, verifier) = setup().await;
    let padding = "x".repeat(20 * 1024);
    let token = ring
        .sign(SigningAlg::Es256, &claims(json!({"pad": padding})))
        .unwrap();
    assert!(matches!(
        rejected(&verifier, &token).await,
        VerifyError::TooLarge { limit: 16384, .. }
    ));
    let garbage = "a".repeat(1 << 20);
    assert!(matches!(
        rejected(&verifier, &garbage).await,
        VerifyError::TooLarge { .. }
    ));
}

#[tokio::test]
async fn rejects_algorithms_outside_the_issuers_allow_list() {
    let ring = KeyRing::generate().unwrap();
    let verifier = verifier_with(
        IssuerConfig::jwks_inline(ISSUER, ring.jwks().to_string())
            .audience(AUDIENCE)
            .algorithms([zt_core::identity::Algorithm::ES256]),
    )
    .await;
    let rs = ring.sign(SigningAlg::Rs256, &claims(json!({}))).unwrap();
    assert_eq!(
        rejected(&verifier, &rs).await,
        VerifyError::AlgorithmNotAllowed("RS256")
    );
    let es = ring.sign(SigningAlg::Es256, &claims(json!({}))).unwrap();
    assert!(verifier.verify(&es).await.is_ok());
}

#[tokio::test]
async fn cache_never_serves_an_identity_past_exp() {
    let ring = KeyRing::generate().unwrap();
    let verifier = verifier_with(
        IssuerConfig::jwks_inline(ISSUER, ring.jwks().to_string())
            .audience(AUDIENCE)
            .leeway(std::time::Duration::ZERO),
    )
    .await;
    let token = ring
        .sign(SigningAlg::Es256, &claims(json!({"exp": now() + 2})))
        .unwrap();
    assert!(verifier.verify(&token).await.is_ok());
    assert!(
        verifier.verify(&token).await.is_ok(),
        "second verification (cache hit)"
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        verifier.verify(&token).await.err(),
        Some(VerifyError::Expired)
    );
}
