//! Arbitrary input to the token verifier never panics, and nothing but a genuine token
//! of the trusted issuer is accepted.
//!
//! The first byte picks the mode: raw token text, or claims JSON signed with the issuer's
//! real key (which drives claim validation: types, times, audiences, mappings).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use zt_core::identity::{IssuerConfig, Verifier};
use zt_dev_idp::{KeyRing, SigningAlg};

const ISSUER: &str = "https://idp.fuzz";

struct Setup {
    runtime: tokio::runtime::Runtime,
    ring: KeyRing,
    verifier: Verifier,
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ring = KeyRing::generate().unwrap();
    let verifier = runtime.block_on(async {
        Verifier::builder()
            .issuer(IssuerConfig::jwks_inline(ISSUER, ring.jwks().to_string()).audience("fuzz"))
            .cache_bytes(0)
            .build()
            .await
            .unwrap()
    });
    Setup { runtime, ring, verifier }
});

fuzz_target!(|data: &[u8]| {
    let setup = &*SETUP;
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 2 {
        0 => {
            let token = String::from_utf8_lossy(rest);
            if let Ok(identity) = setup.runtime.block_on(setup.verifier.verify(&token)) {
                panic!("accepted a token no key signed: {identity:?}");
            }
        }
        _ => {
            let Ok(claims) = serde_json::from_slice::<serde_json::Value>(rest) else { return };
            let Ok(token) = setup.ring.sign(SigningAlg::Es256, &claims) else { return };
            if let Ok(identity) = setup.runtime.block_on(setup.verifier.verify(&token)) {
                assert_eq!(identity.issuer, ISSUER);
                assert!(identity.expires_at > jiff::Timestamp::now());
            }
        }
    }
});
