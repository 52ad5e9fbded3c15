//! Reading credentials from requests.

use http::HeaderMap;
use http::header::AUTHORIZATION;

/// Why a request's `Authorization` header could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// More than one `Authorization` header: ambiguous, refused.
    #[error("more than one Authorization header")]
    Multiple,
    /// The header is not `Bearer <token>` with an RFC 6750 `b64token`.
    #[error("Authorization header is not a well-formed Bearer credential")]
    MalformedBearer,
}

/// The bearer token of a request (RFC 6750 §2.1), if it carries one.
///
/// The scheme is matched case-insensitively; other schemes (e.g. `Basic`) yield `None`.
/// Several `Authorization` headers, or a bearer value that is not a `b64token`, are errors
/// rather than guesses.
///
/// ```
/// use http::HeaderMap;
/// use zt_tower::credentials::bearer_token;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("authorization", "Bearer eyJhbGciOi.eyJzdWIi.c2ln".parse().unwrap());
/// assert_eq!(bearer_token(&headers), Ok(Some("eyJhbGciOi.eyJzdWIi.c2ln")));
/// ```
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, CredentialError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(CredentialError::Multiple);
    }
    // One pass over the token: the b64token check admits only ASCII, so the UTF-8 view
    // below cannot fail (and costs a fast validation, not a second character scan).
    let Some((scheme, token)) = split_at_space(value.as_bytes()) else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Ok(None);
    }
    let token = token.trim_ascii_start();
    if is_b64token(token) {
        std::str::from_utf8(token)
            .map(Some)
            .map_err(|_| CredentialError::MalformedBearer)
    } else {
        Err(CredentialError::MalformedBearer)
    }
}

/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`
fn is_b64token(token: &[u8]) -> bool {
    let padding = token.iter().rev().take_while(|b| **b == b'=').count();
    let body = token.get(..token.len() - padding).unwrap_or_default();
    !body.is_empty()
        && body.iter().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// `bytes` split at its first space.
fn split_at_space(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = bytes.iter().position(|b| *b == b' ')?;
    Some((bytes.get(..at)?, bytes.get(at + 1..)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn extracts_bearer_tokens() {
        assert_eq!(
            bearer_token(&headers(&["Bearer abc.def-_~+/="])),
            Ok(Some("abc.def-_~+/="))
        );
        assert_eq!(bearer_token(&headers(&["bearer  abc"])), Ok(Some("abc")));
        assert_eq!(bearer_token(&headers(&[])), Ok(None));
        assert_eq!(bearer_token(&headers(&["Basic dXNlcjpwYXNz"])), Ok(None));
    }

    #[test]
    fn refuses_ambiguous_or_malformed_credentials() {
        assert_eq!(
            bearer_token(&headers(&["Bearer a", "Bearer b"])),
            Err(CredentialError::Multiple)
        );
        for bad in [
            "Bearer ",
            "Bearer a b",
            "Bearer ===",
            "Bearer a\"b",
            "Bearer a,b",
        ] {
            assert_eq!(
                bearer_token(&headers(&[bad])),
                Err(CredentialError::MalformedBearer),
                "{bad}"
            );
        }
    }
}

/// The identity a TLS acceptor verified from the client's certificate (e.g. a SPIFFE
/// X.509-SVID via `zt_core::identity::SpiffeVerifier`). Put it in the request's
/// extensions; clients cannot set extensions, so this cannot be spoofed by headers.
#[derive(Clone, Debug)]
pub struct PeerIdentity(pub std::sync::Arc<zt_core::identity::Identity>);
