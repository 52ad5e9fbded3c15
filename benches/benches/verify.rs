//! Token verification cost: cold (signature checked) per algorithm, next to the bare
//! signature check with the same key and to `jsonwebtoken::decode`, and the cache hit.
//!
//! Targets (issue: zt-core identity): cold verify within 1.3x of the bare signature
//! check; cache hit under 300 ns. Run: `cargo bench --bench verify`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use zt_core::identity::{IssuerConfig, Verifier};
use zt_dev_idp::{KeyRing, SigningAlg};

const ISSUER: &str = "https://idp.bench";
const AUDIENCE: &str = "bench-api";

fn claims() -> Value {
    let now = jiff::Timestamp::now().as_second();
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "248289761001", "iat": now, "nbf": now,
        "exp": now + 3600, "auth_time": now, "sid": "3f1c0b6e9a2d4e7f",
        "jti": "8c1b6d2e4f3a5b7c", "client_id": "bench", "scope": "openid profile email groups",
        "email": "jane.doe@example.com", "email_verified": true, "name": "Jane Doe",
        "preferred_username": "jane", "groups": ["engineering", "oncall", "grafana-viewers"],
    })
}

fn b64d(text: &Value) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text.as_str().unwrap()).unwrap()
}

/// The issuer's public key for `alg`, parsed once with aws-lc-rs: the bare check.
fn parsed_key(ring: &KeyRing, alg: SigningAlg) -> ParsedPublicKey {
    let kid = ring.current_kid(alg).unwrap();
    let jwks = ring.jwks();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap();
    match alg {
        SigningAlg::Rs256 => {
            let (n, e) = (b64d(&jwk["n"]), b64d(&jwk["e"]));
            RsaPublicKeyComponents {
                n: n.as_slice(),
                e: e.as_slice(),
            }
            .to_parsed_public_key(&sig::RSA_PKCS1_2048_8192_SHA256)
            .unwrap()
        }
        SigningAlg::Es256 => {
            let mut point = vec![4];
            point.extend(b64d(&jwk["x"]));
            point.extend(b64d(&jwk["y"]));
            ParsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, point).unwrap()
        }
        _ => ParsedPublicKey::new(&sig::ED25519, b64d(&jwk["x"])).unwrap(),
    }
}

fn jsonwebtoken_key(
    ring: &KeyRing,
    alg: SigningAlg,
) -> (jsonwebtoken::DecodingKey, jsonwebtoken::Validation) {
    let kid = ring.current_kid(alg).unwrap();
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(ring.jwks()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwks.find(kid).unwrap()).unwrap();
    let jwt_alg = match alg {
        SigningAlg::Rs256 => jsonwebtoken::Algorithm::RS256,
        SigningAlg::Es256 => jsonwebtoken::Algorithm::ES256,
        _ => jsonwebtoken::Algorithm::EdDSA,
    };
    let mut validation = jsonwebtoken::Validation::new(jwt_alg);
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&[ISSUER]);
    (key, validation)
}

fn verifier(runtime: &Runtime, ring: &KeyRing, cache_bytes: u64) -> Verifier {
    runtime.block_on(async {
        Verifier::builder()
            .issuer(IssuerConfig::jwks_inline(ISSUER, ring.jwks().to_string()).audience(AUDIENCE))
            .cache_bytes(cache_bytes)
            .build()
            .await
            .unwrap()
    })
}

fn bench_verify(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ring = KeyRing::generate().unwrap();
    let cold = verifier(&runtime, &ring, 0);
    let cached = verifier(&runtime, &ring, zt_core::identity::DEFAULT_CACHE_BYTES);

    let mut group = c.benchmark_group("verify");
    for alg in [SigningAlg::Rs256, SigningAlg::Es256, SigningAlg::EdDsa] {
        let token = ring.sign(alg, &claims()).unwrap();
        let (signing_input, signature) = token.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        let key = parsed_key(&ring, alg);
        key.verify_sig(signing_input.as_bytes(), &signature)
            .unwrap();
        runtime.block_on(cold.verify(&token)).unwrap();

        group.bench_with_input(BenchmarkId::new("signature_only", alg), &token, |b, _| {
            b.iter(|| key.verify_sig(black_box(signing_input.as_bytes()), black_box(&signature)))
        });
        group.bench_with_input(BenchmarkId::new("cold", alg), &token, |b, token| {
            b.to_async(&runtime).iter(|| cold.verify(black_box(token)))
        });
        let (jwt_key, validation) = jsonwebtoken_key(&ring, alg);
        jsonwebtoken::decode::<Value>(&token, &jwt_key, &validation).unwrap();
        group.bench_with_input(
            BenchmarkId::new("jsonwebtoken_decode", alg),
            &token,
            |b, token| {
                b.iter(|| jsonwebtoken::decode::<Value>(black_box(token), &jwt_key, &validation))
            },
        );
    }

    let token = ring.sign(SigningAlg::Es256, &claims()).unwrap();
    runtime.block_on(cached.verify(&token)).unwrap();
    group.bench_function("cache_hit", |b| {
        b.to_async(&runtime)
            .iter(|| cached.verify(black_box(&token)))
    });
    group.finish();
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
