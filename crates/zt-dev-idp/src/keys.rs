//! Signing keys: generation, JWK export, JWS signing and verification.

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use serde_json::{Value, json};

use crate::random::{b64url, b64url_decode, hex16};
use crate::{DevIdpError, SigningAlg};

/// One signing key with its public JWK.
struct Key {
    alg: SigningAlg,
    kid: String,
    jwk: Value,
    private: PrivateKey,
}

enum PrivateKey {
    Ec(EcdsaKeyPair),
    Rsa(aws_lc_rs::rsa::KeyPair),
    Ed(Ed25519KeyPair),
}

impl Key {
    fn generate(alg: SigningAlg) -> Result<Key, DevIdpError> {
        let kid = hex16()?;
        let err = DevIdpError::KeyGeneration(alg.as_str());
        let (private, params) = match alg {
            SigningAlg::Es256 => {
                let kp = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| err)?;
                // Uncompressed SEC1 point: 0x04 || x (32) || y (32).
                let point = kp.public_key().as_ref();
                let (x, y) = match point {
                    [0x04, rest @ ..] if rest.len() == 64 => rest.split_at(32),
                    _ => return Err(DevIdpError::KeyGeneration("ES256 public point")),
                };
                let params = json!({"kty": "EC", "crv": "P-256", "x": b64url(x), "y": b64url(y)});
                (PrivateKey::Ec(kp), params)
            }
            SigningAlg::Rs256 => {
                let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(|_| err)?;
                let public = kp.public_key();
                let n = public.modulus().big_endian_without_leading_zero();
                let e = public.exponent().big_endian_without_leading_zero();
                let params = json!({"kty": "RSA", "n": b64url(n), "e": b64url(e)});
                (PrivateKey::Rsa(kp), params)
            }
            SigningAlg::EdDsa => {
                let kp = Ed25519KeyPair::generate().map_err(|_| err)?;
                let x = kp.public_key().as_ref();
                let params = json!({"kty": "OKP", "crv": "Ed25519", "x": b64url(x)});
                (PrivateKey::Ed(kp), params)
            }
        };
        let mut jwk = params;
        if let Value::Object(map) = &mut jwk {
            map.insert("kid".into(), Value::String(kid.clone()));
            map.insert("alg".into(), Value::String(alg.as_str().into()));
            map.insert("use".into(), Value::String("sig".into()));
        }
        Ok(Key {
            alg,
            kid,
            jwk,
            private,
        })
    }

    fn sign_bytes(&self, msg: &[u8]) -> Result<Vec<u8>, DevIdpError> {
        let err = DevIdpError::Signing(self.alg.as_str());
        match &self.private {
            PrivateKey::Ec(kp) => kp
                .sign(&SystemRandom::new(), msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| err),
            PrivateKey::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    msg,
                    &mut sig,
                )
                .map_err(|_| err)?;
                Ok(sig)
            }
            PrivateKey::Ed(kp) => Ok(kp.sign(msg).as_ref().to_vec()),
        }
    }

    fn verify_bytes(&self, msg: &[u8], sig: &[u8]) -> bool {
        let result = match &self.private {
            PrivateKey::Ec(kp) => signature::UnparsedPublicKey::new(
                &signature::ECDSA_P256_SHA256_FIXED,
                kp.public_key().as_ref(),
            )
            .verify(msg, sig),
            PrivateKey::Rsa(kp) => signature::UnparsedPublicKey::new(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                kp.public_key().as_ref(),
            )
            .verify(msg, sig),
            PrivateKey::Ed(kp) => {
                signature::UnparsedPublicKey::new(&signature::ED25519, kp.public_key().as_ref())
                    .verify(msg, sig)
            }
        };
        result.is_ok()
    }
}

/// One ES256, one RS256 and one EdDSA key.
struct Generation {
    keys: [Key; 3],
}

impl Generation {
    fn generate() -> Result<Generation, DevIdpError> {
        Ok(Generation {
            keys: [
                Key::generate(SigningAlg::Es256)?,
                Key::generate(SigningAlg::Rs256)?,
                Key::generate(SigningAlg::EdDsa)?,
            ],
        })
    }

    fn key(&self, alg: SigningAlg) -> Option<&Key> {
        self.keys.iter().find(|k| k.alg == alg)
    }
}

/// The dev IdP's signing keys: a current generation (one ES256 P-256, one RS256 2048-bit
/// and one EdDSA Ed25519 key, each with a unique random `kid`) and, after a rotation, the
/// previous generation, which stays published so tokens signed before the rotation still
/// verify.
///
/// Usable without a server. Cloning is cheap (the keys are shared).
#[derive(Clone)]
pub struct KeyRing {
    current: Arc<Generation>,
    previous: Option<Arc<Generation>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids = |g: &Generation| g.keys.iter().map(|k| k.kid.clone()).collect::<Vec<_>>();
        f.debug_struct("KeyRing")
            .field("current", &kids(&self.current))
            .field("previous", &self.previous.as_deref().map(kids))
            .finish_non_exhaustive()
    }
}

/// Why a token presented to the dev IdP was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum VerifyError {
    Malformed,
    UnknownKey,
    BadSignature,
}

impl KeyRing {
    /// Generates a fresh key ring with one key per algorithm.
    pub fn generate() -> Result<KeyRing, DevIdpError> {
        Ok(KeyRing {
            current: Arc::new(Generation::generate()?),
            previous: None,
        })
    }

    /// Generates new keys for every algorithm; the current generation becomes the previous
    /// one (still published), and the one before it is dropped.
    pub fn rotate(&mut self) -> Result<(), DevIdpError> {
        let next = Arc::new(Generation::generate()?);
        self.install(next);
        Ok(())
    }

    /// A ring whose next generation has been generated, ready to swap in cheaply.
    pub(crate) fn rotated(&self) -> Result<KeyRing, DevIdpError> {
        let mut ring = self.clone();
        ring.rotate()?;
        Ok(ring)
    }

    fn install(&mut self, next: Arc<Generation>) {
        let old = std::mem::replace(&mut self.current, next);
        self.previous = Some(old);
    }

    /// The `kid` of the current key for `alg`.
    pub fn current_kid(&self, alg: SigningAlg) -> Option<&str> {
        self.current.key(alg).map(|k| k.kid.as_str())
    }

    /// Signs `claims` as a compact JWS with the current key for `alg`; the header is
    /// `{"alg", "typ": "JWT", "kid"}`.
    pub fn sign(&self, alg: SigningAlg, claims: &Value) -> Result<String, DevIdpError> {
        let key = self
            .current
            .key(alg)
            .ok_or(DevIdpError::Signing(alg.as_str()))?;
        let header = json!({"alg": alg.as_str(), "typ": "JWT", "kid": key.kid});
        let mut input = b64url(&serde_json::to_vec(&header)?);
        input.push('.');
        input.push_str(&b64url(&serde_json::to_vec(claims)?));
        let sig = key.sign_bytes(input.as_bytes())?;
        input.push('.');
        input.push_str(&b64url(&sig));
        Ok(input)
    }

    /// The public JWKS: `{"keys": [...]}`, current generation first, then the previous one.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .generations()
            .flat_map(|g| g.keys.iter().map(|k| k.jwk.clone()))
            .collect();
        json!({ "keys": keys })
    }

    fn generations(&self) -> impl Iterator<Item = &Generation> {
        std::iter::once(&*self.current).chain(self.previous.as_deref())
    }

    /// Verifies a compact JWS signed by one of the published keys and returns its claims.
    /// Checks only the signature (and that `alg` matches the key); claims are the caller's.
    pub(crate) fn verify(&self, token: &str) -> Result<Value, VerifyError> {
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(VerifyError::Malformed);
        };
        let header: Value = b64url_decode(h)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(VerifyError::Malformed)?;
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .ok_or(VerifyError::UnknownKey)?;
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or(VerifyError::Malformed)?;
        let key = self
            .generations()
            .flat_map(|g| g.keys.iter())
            .find(|k| k.kid == kid && k.alg.as_str() == alg)
            .ok_or(VerifyError::UnknownKey)?;
        let sig = b64url_decode(s).ok_or(VerifyError::Malformed)?;
        let signed_len = h.len() + 1 + c.len();
        let signed = token.get(..signed_len).ok_or(VerifyError::Malformed)?;
        if !key.verify_bytes(signed.as_bytes(), &sig) {
            return Err(VerifyError::BadSignature);
        }
        b64url_decode(c)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(VerifyError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_every_alg() {
        let ring = KeyRing::generate().unwrap();
        let jwks = ring.jwks();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 3);
        for alg in SigningAlg::ALL {
            let t = ring.sign(alg, &json!({"sub": "x"})).unwrap();
            assert_eq!(ring.verify(&t).unwrap()["sub"], "x");
            // Tampered payload.
            let mut parts: Vec<&str> = t.split('.').collect();
            let forged = b64url(br#"{"sub":"y"}"#);
            parts[1] = &forged;
            assert_eq!(
                ring.verify(&parts.join(".")),
                Err(VerifyError::BadSignature)
            );
        }
    }

    #[test]
    fn rotation_keeps_one_previous_generation() {
        let mut ring = KeyRing::generate().unwrap();
        let t0 = ring.sign(SigningAlg::Es256, &json!({})).unwrap();
        ring.rotate().unwrap();
        assert_eq!(ring.jwks()["keys"].as_array().unwrap().len(), 6);
        assert!(ring.verify(&t0).is_ok());
        ring.rotate().unwrap();
        assert_eq!(ring.jwks()["keys"].as_array().unwrap().len(), 6);
        assert_eq!(ring.verify(&t0), Err(VerifyError::UnknownKey));
    }

    #[test]
    fn jwk_shapes() {
        let ring = KeyRing::generate().unwrap();
        let jwks = ring.jwks();
        let keys = jwks["keys"].as_array().unwrap();
        let ec = &keys[0];
        assert_eq!(ec["kty"], "EC");
        assert_eq!(b64url_decode(ec["x"].as_str().unwrap()).unwrap().len(), 32);
        assert_eq!(b64url_decode(ec["y"].as_str().unwrap()).unwrap().len(), 32);
        let rsa = &keys[1];
        assert_eq!(rsa["e"], "AQAB");
        assert_eq!(
            b64url_decode(rsa["n"].as_str().unwrap()).unwrap().len(),
            256
        );
        let ed = &keys[2];
        assert_eq!(ed["crv"], "Ed25519");
        for k in keys {
            assert_eq!(k["use"], "sig");
            assert_eq!(k["kid"].as_str().unwrap().len(), 16);
        }
    }
}
