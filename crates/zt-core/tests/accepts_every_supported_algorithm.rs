//! Every algorithm zt supports verifies end to end with keys published as JWKs, including
//! those the dev IdP does not issue (RS384/512, PS256/384/512, ES384), and a token without
//! `kid` is accepted when, and only when, the issuer has exactly one key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, KeyPair, RsaKeyPair};
use serde_json::{Value, json};
use support::*;
use zt_core::identity::{Algorithm, IssuerConfig, VerifyError};

enum TestKey {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair, &'static str, usize),
}

impl TestKey {
    fn rsa() -> Self {
        Self::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).unwrap())
    }

    fn p384() -> Self {
        Self::Ec(
            EcdsaKeyPair::generate(&sig::ECDSA_P384_SHA384_FIXED_SIGNING).unwrap(),
            "P-384",
            48,
        )
    }

    fn jwk(&self, kid: Option<&str>) -> Value {
        let mut jwk = match self {
            Self::Rsa(key) => {
                let public = key.public_key();
                json!({
                    "kty": "RSA",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                })
            }
            Self::Ec(key, crv, width) => {
                let point = key.public_key().as_ref();
                json!({
                    "kty": "EC", "crv": crv,
                    "x": b64(&point[1..1 + width]), "y": b64(&point[1 + width..]),
                })
            }
        };
        if let Some(kid) = kid {
            jwk["kid"] = json!(kid);
        }
        jwk
    }

    /// A compact JWS over `claims`, signed by hand: the dev IdP does not issue these.
    fn sign(&self, alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
        let mut header = json!({"alg": alg.name(), "typ": "JWT"});
        if let Some(kid) = kid {
            header["kid"] = json!(kid);
        }
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let rng = SystemRandom::new();
        let signature = match self {
            Self::Rsa(key) => {
                let encoding: &'static dyn sig::RsaEncoding = match alg {
                    Algorithm::RS256 => &sig::RSA_PKCS1_SHA256,
                    Algorithm::RS384 => &sig::RSA_PKCS1_SHA384,
                    Algorithm::RS512 => &sig::RSA_PKCS1_SHA512,
                    Algorithm::PS256 => &sig::RSA_PSS_SHA256,
                    Algorithm::PS384 => &sig::RSA_PSS_SHA384,
                    Algorithm::PS512 => &sig::RSA_PSS_SHA512,
                    other => panic!("{other} is not RSA"),
                };
                let mut out = vec![0; key.public_modulus_len()];
                key.sign(encoding, &rng, input.as_bytes(), &mut out)
                    .unwrap();
                out
            }
            Self::Ec(key, ..) => key.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
        };
        format!("{input}.{}", b64(signature))
    }
}

#[tokio::test]
async fn rsa_pkcs1_pss_and_p384_tokens_verify() {
    let rsa = TestKey::rsa();
    let p384 = TestKey::p384();
    let jwks = json!({"keys": [rsa.jwk(Some("rsa")), p384.jwk(Some("p384"))]});
    let verifier =
        verifier_with(IssuerConfig::jwks_inline(ISSUER, jwks.to_string()).audience(AUDIENCE)).await;
    for alg in [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
    ] {
        let token = rsa.sign(alg, Some("rsa"), &claims(json!({})));
        assert_eq!(
            verifier.verify(&token).await.unwrap().subject,
            "alice",
            "{alg}"
        );
    }
    let token = p384.sign(Algorithm::ES384, Some("p384"), &claims(json!({})));
    assert!(verifier.verify(&token).await.is_ok());

    // A PKCS#1 signature presented as PSS (and vice versa) does not verify.
    let pkcs1 = rsa.sign(Algorithm::RS256, Some("rsa"), &claims(json!({})));
    let relabelled = with_header(&pkcs1, json!({"alg": "PS256", "typ": "JWT", "kid": "rsa"}));
    assert_eq!(
        verifier.verify(&relabelled).await.err(),
        Some(VerifyError::BadSignature)
    );
}

#[tokio::test]
async fn a_jwk_alg_restricts_the_key_to_that_algorithm() {
    let rsa = TestKey::rsa();
    let mut jwk = rsa.jwk(Some("rsa"));
    jwk["alg"] = json!("PS256");
    let verifier = verifier_with(
        IssuerConfig::jwks_inline(ISSUER, json!({"keys": [jwk]}).to_string()).audience(AUDIENCE),
    )
    .await;
    assert!(
        verifier
            .verify(&rsa.sign(Algorithm::PS256, Some("rsa"), &claims(json!({}))))
            .await
            .is_ok()
    );
    let rs256 = rsa.sign(Algorithm::RS256, Some("rsa"), &claims(json!({})));
    assert_eq!(
        verifier.verify(&rs256).await.err(),
        Some(VerifyError::UnknownKey)
    );
}

#[tokio::test]
async fn a_token_without_kid_verifies_only_against_a_single_key() {
    let only = TestKey::p384();
    let single = verifier_with(
        IssuerConfig::jwks_inline(ISSUER, json!({"keys": [only.jwk(None)]}).to_string())
            .audience(AUDIENCE),
    )
    .await;
    let token = only.sign(Algorithm::ES384, None, &claims(json!({})));
    assert!(single.verify(&token).await.is_ok());

    let other = TestKey::p384();
    let two = verifier_with(
        IssuerConfig::jwks_inline(
            ISSUER,
            json!({"keys": [only.jwk(None), other.jwk(None)]}).to_string(),
        )
        .audience(AUDIENCE),
    )
    .await;
    assert_eq!(
        two.verify(&token).await.err(),
        Some(VerifyError::AmbiguousKey)
    );
}
