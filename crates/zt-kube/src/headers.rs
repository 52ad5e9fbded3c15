//! Client credential and impersonation headers.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::{AUTHORIZATION, HeaderName, SEC_WEBSOCKET_PROTOCOL};
use http::{HeaderMap, HeaderValue};

/// Prefix of every Kubernetes impersonation header (`Impersonate-User`, `-Group`, `-Uid`,
/// `-Extra-*`), compared case-insensitively.
pub const IMPERSONATE_PREFIX: &str = "impersonate-";

/// Prefix of a bearer token in the WebSocket subprotocol list (how browsers authenticate
/// WebSockets to the API server).
pub const WEBSOCKET_TOKEN_PREFIX: &str = "base64url.bearer.authorization.k8s.io.";

/// Removes every bearer token from `Sec-WebSocket-Protocol` (keeping the other
/// protocols) and returns the first one, decoded.
pub fn take_websocket_token(headers: &mut HeaderMap) -> Option<Vec<u8>> {
    if !headers.contains_key(SEC_WEBSOCKET_PROTOCOL) {
        return None;
    }
    let mut token = None;
    let mut kept = Vec::new();
    for value in headers.get_all(SEC_WEBSOCKET_PROTOCOL) {
        for protocol in value.as_bytes().split(|&b| b == b',') {
            let protocol = protocol.trim_ascii();
            match protocol.strip_prefix(WEBSOCKET_TOKEN_PREFIX.as_bytes()) {
                Some(encoded) => token = token.or_else(|| URL_SAFE_NO_PAD.decode(encoded).ok()),
                None if !protocol.is_empty() => kept.push(protocol.to_vec()),
                None => {}
            }
        }
    }
    headers.remove(SEC_WEBSOCKET_PROTOCOL);
    if !kept.is_empty()
        && let Ok(value) = HeaderValue::from_bytes(&kept.join(&b", "[..]))
    {
        headers.insert(SEC_WEBSOCKET_PROTOCOL, value);
    }
    token
}

/// What [`strip_client_credentials`] removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stripped {
    /// The client sent `Authorization`.
    pub authorization: bool,
    /// The client sent at least one `Impersonate-*` header: it tried to act as someone
    /// else, which the proxy answers with 403.
    pub impersonation: bool,
}

/// Removes the client's `Authorization`, bearer tokens in the WebSocket subprotocol and
/// every `Impersonate-*` header, so that only the proxy's own credential and
/// impersonation reach the API server.
pub fn strip_client_credentials(headers: &mut HeaderMap) -> Stripped {
    let authorization =
        headers.remove(AUTHORIZATION).is_some() | take_websocket_token(headers).is_some();
    let impersonating: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with(IMPERSONATE_PREFIX))
        .cloned()
        .collect();
    for name in &impersonating {
        headers.remove(name);
    }
    Stripped {
        authorization,
        impersonation: !impersonating.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_credentials_and_every_impersonation_header() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer t".parse().unwrap());
        headers.append("Impersonate-User", "admin".parse().unwrap());
        headers.append("impersonate-group", "system:masters".parse().unwrap());
        headers.append("IMPERSONATE-GROUP", "b".parse().unwrap());
        headers.append("Impersonate-Extra-scopes", "x".parse().unwrap());
        headers.append("Impersonate-Uid", "0".parse().unwrap());
        headers.insert("accept", "application/json".parse().unwrap());
        let stripped = strip_client_credentials(&mut headers);
        assert_eq!(
            stripped,
            Stripped {
                authorization: true,
                impersonation: true
            }
        );
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("accept"));
    }

    #[test]
    fn leaves_ordinary_requests_alone() {
        let mut headers = HeaderMap::new();
        headers.insert("accept", "application/json".parse().unwrap());
        headers.insert("x-impersonate-user", "not a kube header".parse().unwrap());
        assert_eq!(strip_client_credentials(&mut headers), Stripped::default());
        assert_eq!(headers.len(), 2);
    }
}
