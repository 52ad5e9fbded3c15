//! Random identifiers and small encoding helpers.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::DevIdpError;

/// Base64url without padding.
pub(crate) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding.
pub(crate) fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

fn random_bytes<const N: usize>() -> Result<[u8; N], DevIdpError> {
    let mut buf = [0u8; N];
    aws_lc_rs::rand::fill(&mut buf).map_err(|_| DevIdpError::KeyGeneration("random bytes"))?;
    Ok(buf)
}

/// A random base64url token with 256 bits of entropy (codes, refresh tokens, session ids).
pub(crate) fn token() -> Result<String, DevIdpError> {
    Ok(b64url(&random_bytes::<32>()?))
}

/// 16 lowercase hex characters (64 bits): key ids and `jti`s.
pub(crate) fn hex16() -> Result<String, DevIdpError> {
    Ok(random_bytes::<8>()?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Alphabet for user codes: consonants only (RFC 8628 §6.1), no vowels so no words,
/// nothing ambiguous.
const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// An 8-character user code, normalised (no dash, upper case).
pub(crate) fn user_code() -> Result<String, DevIdpError> {
    // 256 is not a multiple of 20: reject bytes >= 240 to avoid bias.
    let mut out = String::with_capacity(8);
    while out.len() < 8 {
        for b in random_bytes::<16>()? {
            if b < 240 && out.len() < 8 {
                out.push(char::from(USER_CODE_ALPHABET[usize::from(b % 20)]));
            }
        }
    }
    Ok(out)
}

/// Normalises what a user typed: drops dashes and whitespace, upper-cases.
pub(crate) fn normalise_user_code(input: &str) -> String {
    input
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect()
}

/// `XXXX-XXXX` for display.
pub(crate) fn display_user_code(code: &str) -> String {
    if code.len() == 8 && code.is_ascii() {
        format!("{}-{}", &code[..4], &code[4..])
    } else {
        code.to_owned()
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_well_formed() {
        for _ in 0..50 {
            let c = user_code().unwrap();
            assert_eq!(c.len(), 8);
            assert!(c.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)));
            assert_eq!(
                normalise_user_code(&display_user_code(&c).to_lowercase()),
                c
            );
        }
    }

    #[test]
    fn hex_ids() {
        let a = hex16().unwrap();
        assert_eq!(a.len(), 16);
        assert_ne!(a, hex16().unwrap());
    }
}
