//! Client credential and impersonation headers.

use http::HeaderMap;
use http::header::{AUTHORIZATION, HeaderName};

/// Prefix of every Kubernetes impersonation header (`Impersonate-User`, `-Group`, `-Uid`,
/// `-Extra-*`), compared case-insensitively.
pub const IMPERSONATE_PREFIX: &str = "impersonate-";

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

/// Removes the client's `Authorization` and every `Impersonate-*` header, so that only
/// the proxy's own credential and impersonation reach the API server.
pub fn strip_client_credentials(headers: &mut HeaderMap) -> Stripped {
    let authorization = headers.remove(AUTHORIZATION).is_some();
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
