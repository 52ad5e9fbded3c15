//! The proxy's ES256 signing key: generation, PKCS#8 loading, JWK and thumbprint.

use std::fmt;

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, Signature,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use super::AssertionError;

/// Length of one P-256 coordinate.
const COORDINATE: usize = 32;

/// A P-256 private key that signs assertions (ES256).
///
/// `Debug` shows only the key id; the private key never leaves aws-lc-rs.
pub struct SigningKey {
    pair: EcdsaKeyPair,
    kid: String,
    x: String,
    y: String,
    /// `BASE64URL({"alg":"ES256","typ":"JWT","kid":...})`, computed once.
    header_b64: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, AssertionError> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| AssertionError::KeyGeneration)?;
        Self::from_pair(pair)
    }

    /// A key from DER: PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`), on P-256.
    pub fn from_der(der: &[u8]) -> Result<Self, AssertionError> {
        let pair = EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map_err(|_| AssertionError::InvalidKey("not a P-256 private key in PKCS#8 or SEC1"))?;
        Self::from_pair(pair)
    }

    /// A key from PEM: the first `PRIVATE KEY` (PKCS#8) or `EC PRIVATE KEY` (SEC1) block.
    /// Encrypted keys are not supported.
    pub fn from_pem(pem: &str) -> Result<Self, AssertionError> {
        Self::from_der(&pem_block(pem)?)
    }

    /// The key as an unencrypted PKCS#8 v1 document, e.g. to persist a generated key so
    /// that it survives restarts. Handle it as the secret it is.
    pub fn to_pkcs8_der(&self) -> Result<Vec<u8>, AssertionError> {
        self.pair
            .to_pkcs8v1()
            .map(|document| document.as_ref().to_vec())
            .map_err(|_| AssertionError::InvalidKey("the key cannot be exported"))
    }

    /// The key id: the RFC 7638 JWK thumbprint (SHA-256, base64url).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK: `kty`, `crv`, `x`, `y`, `kid`, `alg` (`ES256`), `use` (`sig`).
    pub fn public_jwk(&self) -> Value {
        json!({
            "kty": "EC",
            "crv": "P-256",
            "x": self.x,
            "y": self.y,
            "kid": self.kid,
            "alg": "ES256",
            "use": "sig",
        })
    }

    pub(crate) fn header_b64(&self) -> &str {
        &self.header_b64
    }

    /// The fixed-size (`r || s`) ES256 signature of `message`.
    pub(crate) fn sign(
        &self,
        rng: &SystemRandom,
        message: &[u8],
    ) -> Result<Signature, AssertionError> {
        self.pair
            .sign(rng, message)
            .map_err(|_| AssertionError::Signing)
    }

    fn from_pair(pair: EcdsaKeyPair) -> Result<Self, AssertionError> {
        // Uncompressed point: 0x04 || x || y.
        let point = pair.public_key().as_ref();
        let (Some(0x04), true) = (point.first(), point.len() == 1 + 2 * COORDINATE) else {
            return Err(AssertionError::InvalidKey("unexpected public key encoding"));
        };
        let x = URL_SAFE_NO_PAD.encode(&point[1..=COORDINATE]);
        let y = URL_SAFE_NO_PAD.encode(&point[1 + COORDINATE..]);
        let kid = thumbprint(&x, &y);
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": kid});
        let header_b64 = URL_SAFE_NO_PAD.encode(header.to_string());
        Ok(Self {
            pair,
            kid,
            x,
            y,
            header_b64,
        })
    }
}

/// RFC 7638 thumbprint of a P-256 key: SHA-256 over the required members in
/// lexicographic order, without whitespace.
fn thumbprint(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
}

/// The DER of the first private-key PEM block.
fn pem_block(pem: &str) -> Result<Vec<u8>, AssertionError> {
    const LABELS: [&str; 2] = ["PRIVATE KEY", "EC PRIVATE KEY"];
    let mut lines = pem.lines().map(str::trim);
    let label = lines
        .by_ref()
        .find_map(|line| {
            let label = line.strip_prefix("-----BEGIN ")?.strip_suffix("-----")?;
            LABELS.contains(&label).then_some(label)
        })
        .ok_or(AssertionError::InvalidKey(
            "no PRIVATE KEY or EC PRIVATE KEY PEM block",
        ))?;
    let end = format!("-----END {label}-----");
    let mut body = String::new();
    for line in lines {
        if line == end {
            return STANDARD
                .decode(body)
                .map_err(|_| AssertionError::InvalidKey("PEM block is not base64"));
        }
        if line.contains(':') {
            return Err(AssertionError::InvalidKey(
                "encrypted PEM keys are not supported",
            ));
        }
        body.push_str(line);
    }
    Err(AssertionError::InvalidKey("PEM block is not terminated"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem(label: &str, der: &[u8]) -> String {
        let body = STANDARD.encode(der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|chunk| std::str::from_utf8(chunk).unwrap())
            .collect();
        format!(
            "junk before\n-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn thumbprint_matches_rfc_7638_for_the_rfc_7517_example_key() {
        // RFC 7517 appendix A.1; expected value computed independently (SHA-256 of the
        // canonical member string).
        assert_eq!(
            thumbprint(
                "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
                "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"
            ),
            "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s"
        );
    }

    #[test]
    fn generated_keys_round_trip_through_pkcs8_pem_and_der() {
        let key = SigningKey::generate().unwrap();
        let der = key.to_pkcs8_der().unwrap();
        let from_der = SigningKey::from_der(&der).unwrap();
        let from_pem = SigningKey::from_pem(&pem("PRIVATE KEY", &der)).unwrap();
        assert_eq!(from_der.kid(), key.kid());
        assert_eq!(from_pem.kid(), key.kid());
        assert_eq!(from_pem.public_jwk(), key.public_jwk());
        assert_ne!(SigningKey::generate().unwrap().kid(), key.kid());
    }

    #[test]
    fn public_jwk_has_the_expected_shape() {
        let key = SigningKey::generate().unwrap();
        let jwk = key.public_jwk();
        let object = jwk.as_object().unwrap();
        let mut members: Vec<&str> = object.keys().map(String::as_str).collect();
        members.sort_unstable();
        assert_eq!(members, ["alg", "crv", "kid", "kty", "use", "x", "y"]);
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-256");
        assert_eq!(jwk["alg"], "ES256");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["kid"], key.kid());
        for coordinate in ["x", "y"] {
            let bytes = URL_SAFE_NO_PAD
                .decode(jwk[coordinate].as_str().unwrap())
                .unwrap();
            assert_eq!(bytes.len(), COORDINATE);
        }
        assert_eq!(
            key.kid(),
            thumbprint(jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap())
        );
        assert!(!format!("{key:?}").contains(jwk["x"].as_str().unwrap()));
    }

    #[test]
    fn rejects_unusable_keys() {
        assert!(matches!(
            SigningKey::from_der(b"not a key"),
            Err(AssertionError::InvalidKey(_))
        ));
        assert!(matches!(
            SigningKey::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            Err(AssertionError::InvalidKey(_))
        ));
        assert!(matches!(
            SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n"),
            Err(AssertionError::InvalidKey(_))
        ));
        assert!(matches!(
            SigningKey::from_pem(
                "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nAAAA\n-----END EC PRIVATE KEY-----\n"
            ),
            Err(AssertionError::InvalidKey(_))
        ));
        // A P-384 key is not an ES256 key.
        let p384 = aws_lc_rs::signature::EcdsaKeyPair::generate(
            &aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        )
        .unwrap()
        .to_pkcs8v1()
        .unwrap();
        assert!(SigningKey::from_der(p384.as_ref()).is_err());
    }
}
