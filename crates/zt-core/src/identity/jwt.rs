//! Compact JWS decoding: splitting, header checks and claim decoding. No key is used here.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::map::Entry;
use serde_json::{Map, Value};

use super::{Algorithm, VerifyError};

/// A compact JWS whose header passed the structural checks; its signature is unverified.
pub(crate) struct UnverifiedJws<'t> {
    /// `BASE64URL(header) '.' BASE64URL(payload)`: the bytes the signature covers.
    pub(crate) signing_input: &'t [u8],
    pub(crate) algorithm: Algorithm,
    pub(crate) kid: Option<String>,
    pub(crate) claims: Map<String, Value>,
    pub(crate) signature: Vec<u8>,
}

/// The JOSE header fields zt looks at. Unknown fields are ignored unless listed in `crit`.
/// The `bool` fields say whether the member is present at all, even as `null`.
#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    kid: Option<String>,
    cty: Option<String>,
    #[serde(default, deserialize_with = "present")]
    enc: bool,
    #[serde(default, deserialize_with = "present")]
    jku: bool,
    #[serde(default, deserialize_with = "present")]
    x5u: bool,
    #[serde(default, deserialize_with = "present")]
    jwk: bool,
    #[serde(default, deserialize_with = "present")]
    x5c: bool,
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// Splits and decodes `token`, checking everything that can be checked without a key.
pub(crate) fn decode(token: &str) -> Result<UnverifiedJws<'_>, VerifyError> {
    let mut parts = token.splitn(4, '.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed("expected three dot-separated parts"));
    };
    if let Some(rest) = parts.next() {
        // A JWE has five parts; anything else with more dots is garbage.
        return Err(if rest.matches('.').count() == 1 {
            VerifyError::Encrypted
        } else {
            VerifyError::Malformed("expected three dot-separated parts")
        });
    }

    let header_json = base64url(header_b64, "header is not base64url")?;
    let header: Header = serde_json::from_slice(&header_json)
        .map_err(|_| VerifyError::Malformed("header is not a JSON object of JOSE fields"))?;
    let algorithm = check_header(&header)?;

    let payload_json = base64url(payload_b64, "payload is not base64url")?;
    let claims = serde_json::from_slice::<UniqueKeys>(&payload_json)
        .map_err(|_| VerifyError::Malformed("payload is not a JSON object with unique claims"))?
        .0;

    let signature = base64url(signature_b64, "signature is not base64url")?;
    if signature.is_empty() {
        return Err(VerifyError::Malformed("signature is empty"));
    }

    let signing_input_len = header_b64.len() + 1 + payload_b64.len();
    Ok(UnverifiedJws {
        signing_input: &token.as_bytes()[..signing_input_len],
        algorithm,
        kid: header.kid,
        claims,
        signature,
    })
}

fn check_header(header: &Header) -> Result<Algorithm, VerifyError> {
    if header.enc {
        return Err(VerifyError::Encrypted);
    }
    if header
        .cty
        .as_deref()
        .is_some_and(|cty| cty.eq_ignore_ascii_case("JWT"))
    {
        return Err(VerifyError::Nested);
    }
    for (present, name) in [
        (header.jku, "jku"),
        (header.x5u, "x5u"),
        (header.jwk, "jwk"),
        (header.x5c, "x5c"),
    ] {
        if present {
            return Err(VerifyError::UntrustedKeyHeader(name));
        }
    }
    // zt implements no JWS extension, so any `crit` (even an empty one, which RFC 7515
    // forbids) is refused.
    if header.crit {
        return Err(VerifyError::UnsupportedCritical);
    }
    let alg = header
        .alg
        .as_deref()
        .ok_or(VerifyError::Malformed("header has no `alg`"))?;
    alg.parse::<Algorithm>()
        .map_err(|_| VerifyError::AlgorithmNotAllowed(Algorithm::describe(alg)))
}

fn base64url(part: &str, what: &'static str) -> Result<Vec<u8>, VerifyError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| VerifyError::Malformed(what))
}

/// A JSON object whose keys are unique: a duplicated claim is ambiguous (parsers disagree
/// on which copy wins) and is refused rather than guessed at.
struct UniqueKeys(Map<String, Value>);

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct UniqueKeysVisitor;

        impl<'de> Visitor<'de> for UniqueKeysVisitor {
            type Value = UniqueKeys;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object with unique keys")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<UniqueKeys, A::Error> {
                let mut map = Map::new();
                while let Some((key, value)) = access.next_entry::<String, Value>()? {
                    match map.entry(key) {
                        Entry::Vacant(slot) => {
                            slot.insert(value);
                        }
                        Entry::Occupied(_) => return Err(de::Error::custom("duplicate claim")),
                    }
                }
                Ok(UniqueKeys(map))
            }
        }

        deserializer.deserialize_map(UniqueKeysVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(payload), b64("sig"))
    }

    #[test]
    fn decodes_a_well_formed_token() {
        let t = token(
            r#"{"alg":"ES256","kid":"k1","typ":"JWT"}"#,
            r#"{"iss":"i"}"#,
        );
        let jws = decode(&t).unwrap();
        assert_eq!(jws.algorithm, Algorithm::ES256);
        assert_eq!(jws.kid.as_deref(), Some("k1"));
        assert_eq!(jws.claims["iss"], "i");
        assert_eq!(jws.signature, b"sig");
        assert!(t.starts_with(std::str::from_utf8(jws.signing_input).unwrap()));
    }

    #[test]
    fn refuses_duplicate_claims_and_header_fields() {
        let t = token(r#"{"alg":"ES256"}"#, r#"{"sub":"a","sub":"b"}"#);
        assert!(matches!(decode(&t), Err(VerifyError::Malformed(_))));
        let t = token(r#"{"alg":"ES256","alg":"none"}"#, r#"{}"#);
        assert!(matches!(decode(&t), Err(VerifyError::Malformed(_))));
    }

    #[test]
    fn refuses_padding_and_non_objects() {
        let t = format!("{}=.{}.{}", b64(r#"{"alg":"ES256"}"#), b64("{}"), b64("s"));
        assert!(matches!(decode(&t), Err(VerifyError::Malformed(_))));
        let t = token(r#"{"alg":"ES256"}"#, "[1,2]");
        assert!(matches!(decode(&t), Err(VerifyError::Malformed(_))));
    }

    #[test]
    fn null_members_count_as_present() {
        let t = token(r#"{"alg":"ES256","crit":null}"#, r#"{}"#);
        assert_eq!(decode(&t).err(), Some(VerifyError::UnsupportedCritical));
        let t = token(r#"{"alg":"ES256","jku":null}"#, r#"{}"#);
        assert_eq!(
            decode(&t).err(),
            Some(VerifyError::UntrustedKeyHeader("jku"))
        );
    }

    #[test]
    fn part_counts() {
        assert_eq!(
            decode("a.b").err(),
            Some(VerifyError::Malformed("expected three dot-separated parts"))
        );
        assert_eq!(decode("a.b.c.d.e").err(), Some(VerifyError::Encrypted));
        assert!(matches!(
            decode("a.b.c.d.e.f"),
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(decode("a.b.c.d"), Err(VerifyError::Malformed(_))));
    }
}
