//! Keys load from files and URLs, a key replaced under the same `kid` stops vouching for
//! cached tokens, and configurations that would disable or hammer an issuer are refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::*;
use zt_core::identity::{ConfigError, IssuerConfig, Verifier, VerifyError};
use zt_dev_idp::{DevIdp, KeyRing, SigningAlg};

/// `ring`'s JWKS with every key's `kid` replaced by the `kid` of `names`' key of the
/// same type: new key material under old names.
fn impostor_jwks(ring: &KeyRing, names: &KeyRing) -> Value {
    let mut jwks = ring.jwks();
    for key in jwks["keys"].as_array_mut().unwrap() {
        let alg = match key["kty"].as_str().unwrap() {
            "EC" => SigningAlg::Es256,
            "RSA" => SigningAlg::Rs256,
            _ => SigningAlg::EdDsa,
        };
        key["kid"] = json!(names.current_kid(alg).unwrap());
    }
    jwks
}

#[tokio::test]
async fn a_key_file_is_reread_and_a_replaced_key_stops_vouching_for_cached_tokens() {
    let dir = std::env::temp_dir().join(format!("zt-jwks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("jwks.json");
    let original = KeyRing::generate().unwrap();
    std::fs::write(&path, original.jwks().to_string()).unwrap();

    let verifier = verifier_with(
        IssuerConfig::jwks_file(ISSUER, &path)
            .audience(AUDIENCE)
            .refresh_interval(Duration::from_secs(1))
            .min_refresh_interval(Duration::from_secs(1)),
    )
    .await;
    let token = original
        .sign(SigningAlg::Es256, &claims(json!({})))
        .unwrap();
    assert!(verifier.verify(&token).await.is_ok());
    assert!(verifier.verify(&token).await.is_ok(), "cached");

    // The file now holds other keys under the same kids: the cached identity must go.
    let replacement = KeyRing::generate().unwrap();
    std::fs::write(&path, impostor_jwks(&replacement, &original).to_string()).unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        verifier.verify(&token).await.err(),
        Some(VerifyError::BadSignature)
    );

    // Back to the original keys: the token verifies again.
    std::fs::write(&path, original.jwks().to_string()).unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(verifier.verify(&token).await.is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn keys_load_from_a_jwks_url() {
    let idp = DevIdp::builder().banner(false).start().await.unwrap();
    let verifier = Verifier::builder()
        .issuer(
            IssuerConfig::jwks_url(idp.issuer(), format!("{}/jwks", idp.issuer()))
                .audience("zt-dev"),
        )
        .build()
        .await
        .unwrap();
    let token = idp.mint_access_token("carol").unwrap();
    assert_eq!(
        verifier.verify(&token).await.unwrap().username.as_deref(),
        Some("carol")
    );
    idp.shutdown().await;
}

#[tokio::test]
async fn configurations_that_cannot_work_safely_are_refused() {
    let ring = KeyRing::generate().unwrap();
    let inline = || IssuerConfig::jwks_inline(ISSUER, ring.jwks().to_string()).audience(AUDIENCE);
    let build = |config: IssuerConfig| async { Verifier::builder().issuer(config).build().await };

    assert!(matches!(
        Verifier::builder().build().await,
        Err(ConfigError::NoIssuers)
    ));
    assert!(matches!(
        build(IssuerConfig::jwks_inline(ISSUER, ring.jwks().to_string())).await,
        Err(ConfigError::NoAudience(_))
    ));
    assert!(matches!(
        build(inline().algorithms([])).await,
        Err(ConfigError::NoAlgorithms(_))
    ));
    for config in [
        inline().min_refresh_interval(Duration::ZERO),
        inline().refresh_interval(Duration::from_millis(10)),
        inline().http_timeout(Duration::ZERO),
        inline().keep_stale_keys_for(Duration::from_secs(1)),
        inline().leeway(Duration::from_secs(3600)),
    ] {
        assert!(matches!(
            build(config).await,
            Err(ConfigError::Timing { .. })
        ));
    }
    assert!(matches!(
        Verifier::builder()
            .issuer(inline())
            .issuer(inline())
            .build()
            .await,
        Err(ConfigError::DuplicateIssuer(_))
    ));
    assert!(matches!(
        build(IssuerConfig::discover("http://idp.example.com").audience(AUDIENCE)).await,
        Err(ConfigError::BadUrl { .. })
    ));
    let leaky = build(
        IssuerConfig::jwks_url(ISSUER, "ftp://user:hunter2@idp.example.com/jwks?key=s3cret")
            .audience(AUDIENCE),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        !leaky.contains("hunter2") && !leaky.contains("s3cret"),
        "{leaky}"
    );
    assert!(matches!(
        build(IssuerConfig::jwks_inline(ISSUER, "{\"keys\": []}").audience(AUDIENCE)).await,
        Err(ConfigError::InlineJwks { .. })
    ));
}
