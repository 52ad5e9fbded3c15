//! JWKS parsing into verification keys that are parsed once and reused for every token.

use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;

use super::algorithm::KeyFamily;
use super::{Algorithm, KeySourceError};

/// RSA modulus sizes accepted, in bits (what aws-lc-rs verifies).
const RSA_MODULUS_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

/// One public key, ready to verify signatures with each algorithm it may be used for.
pub(crate) struct VerifyingKey {
    pub(crate) kid: Option<String>,
    /// The public key material (RSA `e || n`, EC point or Ed25519 key), to tell a replaced
    /// key from an unchanged one.
    pub(crate) material: Vec<u8>,
    /// Parsed once per algorithm the key may serve.
    parsed: Vec<(Algorithm, ParsedPublicKey)>,
}

impl VerifyingKey {
    /// The key parsed for `alg`, if the key may be used with it.
    pub(crate) fn for_algorithm(&self, alg: Algorithm) -> Option<&ParsedPublicKey> {
        self.parsed
            .iter()
            .find_map(|(candidate, key)| (*candidate == alg).then_some(key))
    }
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Value>,
}

/// The JWK members zt reads. Private-key members are never looked at.
#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// Parses a JWKS document, keeping every signature-verification key usable with one of
/// `allowed`. Keys of unknown type, for encryption, or malformed are skipped (and logged)
/// so that one odd key does not take the issuer's other keys down with it.
pub(crate) fn parse_jwks(
    json: &[u8],
    allowed: &[Algorithm],
) -> Result<Vec<VerifyingKey>, KeySourceError> {
    let set: JwkSet = serde_json::from_slice(json)
        .map_err(|e| KeySourceError::InvalidJwks(format!("not a JWK set: {e}")))?;
    let keys: Vec<VerifyingKey> = set
        .keys
        .into_iter()
        .enumerate()
        .filter_map(|(index, value)| match parse_jwk(value, allowed) {
            Ok(key) => key,
            Err(reason) => {
                tracing::warn!(index, reason, "skipping unusable JWK");
                None
            }
        })
        .collect();
    if keys.is_empty() {
        return Err(KeySourceError::NoUsableKeys);
    }
    Ok(keys)
}

/// `Ok(None)` for keys that are fine but not for us (encryption keys, other algorithms).
fn parse_jwk(value: Value, allowed: &[Algorithm]) -> Result<Option<VerifyingKey>, &'static str> {
    let jwk: Jwk = serde_json::from_value(value).map_err(|_| "not a JWK object")?;
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return Ok(None);
    }
    if jwk
        .key_ops
        .as_ref()
        .is_some_and(|ops| !ops.iter().any(|op| op == "verify"))
    {
        return Ok(None);
    }
    let declared = match jwk.alg.as_deref() {
        None => None,
        Some(name) => match name.parse::<Algorithm>() {
            Ok(alg) => Some(alg),
            Err(_) => return Ok(None),
        },
    };
    let family = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("RSA", _) => KeyFamily::Rsa,
        ("EC", Some("P-256")) => KeyFamily::P256,
        ("EC", Some("P-384")) => KeyFamily::P384,
        ("OKP", Some("Ed25519")) => KeyFamily::Ed25519,
        _ => return Ok(None),
    };
    let material = KeyMaterial::decode(family, &jwk)?;

    let mut parsed = Vec::new();
    for &alg in allowed {
        if alg.family() != family || declared.is_some_and(|d| d != alg) {
            continue;
        }
        parsed.push((alg, material.parse_for(alg)?));
    }
    if parsed.is_empty() {
        return Ok(None);
    }
    Ok(Some(VerifyingKey {
        kid: jwk.kid,
        material: material.into_bytes(),
        parsed,
    }))
}

/// Decoded public-key bytes of one JWK.
enum KeyMaterial {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// Uncompressed point (`0x04 || x || y`) or raw Ed25519 key.
    Raw(Vec<u8>),
}

impl KeyMaterial {
    fn decode(family: KeyFamily, jwk: &Jwk) -> Result<Self, &'static str> {
        let field = |value: &Option<String>, missing: &'static str| {
            let text = value.as_deref().ok_or(missing)?;
            URL_SAFE_NO_PAD
                .decode(text)
                .map_err(|_| "key member is not base64url")
        };
        match family {
            KeyFamily::Rsa => {
                let n = without_leading_zeros(field(&jwk.n, "RSA key lacks `n`")?);
                let e = without_leading_zeros(field(&jwk.e, "RSA key lacks `e`")?);
                let bits = n
                    .first()
                    .map_or(0, |top| 8 * n.len() - top.leading_zeros() as usize);
                if !RSA_MODULUS_BITS.contains(&bits) {
                    return Err("RSA modulus is not between 2048 and 8192 bits");
                }
                Ok(Self::Rsa { n, e })
            }
            KeyFamily::P256 | KeyFamily::P384 => {
                let width = if family == KeyFamily::P256 { 32 } else { 48 };
                let x = field(&jwk.x, "EC key lacks `x`")?;
                let y = field(&jwk.y, "EC key lacks `y`")?;
                if x.len() != width || y.len() != width {
                    return Err("EC coordinates have the wrong length");
                }
                let mut point = Vec::with_capacity(1 + 2 * width);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Ok(Self::Raw(point))
            }
            KeyFamily::Ed25519 => {
                let x = field(&jwk.x, "OKP key lacks `x`")?;
                if x.len() != 32 {
                    return Err("Ed25519 key has the wrong length");
                }
                Ok(Self::Raw(x))
            }
        }
    }

    fn into_bytes(self) -> Vec<u8> {
        match self {
            // `e` is short and fixed-width in practice; its length prefix keeps the
            // encoding unambiguous.
            Self::Rsa { n, mut e } => {
                let mut bytes = Vec::with_capacity(1 + e.len() + n.len());
                bytes.push(u8::try_from(e.len()).unwrap_or(u8::MAX));
                bytes.append(&mut e);
                bytes.extend_from_slice(&n);
                bytes
            }
            Self::Raw(bytes) => bytes,
        }
    }

    fn parse_for(&self, alg: Algorithm) -> Result<ParsedPublicKey, &'static str> {
        let parsed = match (self, alg.rsa_parameters(), alg.raw_key_algorithm()) {
            (Self::Rsa { n, e }, Some(params), _) => RsaPublicKeyComponents {
                n: n.as_slice(),
                e: e.as_slice(),
            }
            .to_parsed_public_key(params),
            (Self::Raw(bytes), _, Some(algorithm)) => ParsedPublicKey::new(algorithm, bytes),
            _ => return Err("key type does not fit the algorithm"),
        };
        parsed.map_err(|_| "public key is invalid")
    }
}

/// Big-endian integers in JWKs should be minimal, but some issuers pad them.
fn without_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // A P-256 public key (RFC 7515 appendix A.3).
    fn p256_jwk() -> Value {
        json!({
            "kty": "EC", "crv": "P-256", "kid": "a3",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
        })
    }

    #[test]
    fn parses_ec_key_for_allowed_algorithms_only() {
        let doc = json!({"keys": [p256_jwk()]}).to_string();
        let keys = parse_jwks(doc.as_bytes(), &Algorithm::ALL).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys[0].for_algorithm(Algorithm::ES256).is_some());
        assert!(keys[0].for_algorithm(Algorithm::RS256).is_none());
        assert!(matches!(
            parse_jwks(doc.as_bytes(), &[Algorithm::RS256]),
            Err(KeySourceError::NoUsableKeys)
        ));
    }

    #[test]
    fn skips_encryption_symmetric_and_broken_keys() {
        let mut enc = p256_jwk();
        enc["use"] = json!("enc");
        let mut bad = p256_jwk();
        bad["x"] = json!("AAAA");
        let doc = json!({"keys": [
            enc, bad,
            {"kty": "oct", "k": "c2VjcmV0"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
            "not an object",
            p256_jwk()
        ]})
        .to_string();
        let keys = parse_jwks(doc.as_bytes(), &Algorithm::ALL).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid.as_deref(), Some("a3"));
    }

    #[test]
    fn declared_alg_restricts_use() {
        let mut key = p256_jwk();
        key["alg"] = json!("ES384");
        let doc = json!({"keys": [key]}).to_string();
        assert!(parse_jwks(doc.as_bytes(), &Algorithm::ALL).is_err());
    }

    #[test]
    fn rejects_non_jwks() {
        assert!(matches!(
            parse_jwks(b"{}", &Algorithm::ALL),
            Err(KeySourceError::InvalidJwks(_))
        ));
        assert!(matches!(
            parse_jwks(b"nope", &Algorithm::ALL),
            Err(KeySourceError::InvalidJwks(_))
        ));
    }
}
