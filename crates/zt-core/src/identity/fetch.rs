//! Fetching discovery documents and JWKS over HTTPS (or HTTP on loopback only).

use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use url::Url;

use super::{ConfigError, KeySourceError};

/// Largest discovery or JWKS document accepted, over HTTP or from a file.
pub(crate) const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// `url` without credentials or query, fit for logs and error messages.
pub(crate) fn redacted(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            if parsed.query().is_some() {
                parsed.set_query(Some("..."));
            }
            parsed.set_fragment(None);
            parsed.to_string()
        }
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

/// Checks that `url` is absolute HTTPS, or HTTP to a loopback host (local development).
pub(crate) fn checked_url(url: &str) -> Result<Url, ConfigError> {
    let bad = |reason| ConfigError::BadUrl {
        url: redacted(url),
        reason,
    };
    let parsed = Url::parse(url).map_err(|_| bad("not an absolute URL"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback(&parsed) => {}
        "http" => return Err(bad("plain HTTP is only allowed to loopback addresses")),
        _ => return Err(bad("only https URLs are supported")),
    }
    if parsed.host().is_none() {
        return Err(bad("URL has no host"));
    }
    Ok(parsed)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// A small HTTP client for key material: TLS verified against the platform's roots plus
/// any extra roots, bounded response size, per-request timeout, no redirects.
#[derive(Clone)]
pub(crate) struct Fetcher {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

impl Fetcher {
    pub(crate) fn new(extra_roots: &[CertificateDer<'static>]) -> Result<Self, ConfigError> {
        let tls =
            crate::tls::client_config(extra_roots).map_err(|e| ConfigError::Tls(e.to_string()))?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// GETs `url` and returns the body of a 200 response.
    pub(crate) async fn get(&self, url: &Url, timeout: Duration) -> Result<Bytes, KeySourceError> {
        let fail = |reason: String| KeySourceError::Fetch {
            url: redacted(url.as_str()),
            reason,
        };
        let uri: http::Uri = url
            .as_str()
            .parse()
            .map_err(|_| fail("invalid URI".into()))?;
        let request = http::Request::get(uri)
            .header(http::header::ACCEPT, "application/json")
            .header(
                http::header::USER_AGENT,
                concat!("zt/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::new())
            .map_err(|e| fail(e.to_string()))?;
        let fetch = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| fail(e.to_string()))?;
            if response.status() != http::StatusCode::OK {
                return Err(fail(format!("HTTP status {}", response.status())));
            }
            Limited::new(response.into_body(), MAX_DOCUMENT_BYTES)
                .collect()
                .await
                .map(|body| body.to_bytes())
                .map_err(|e| fail(e.to_string()))
        };
        tokio::time::timeout(timeout, fetch)
            .await
            .map_err(|_| fail(format!("no answer within {timeout:?}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials_and_queries() {
        assert_eq!(
            redacted("https://user:secret@idp.example/jwks?token=abc#frag"),
            "https://idp.example/jwks?..."
        );
        assert_eq!(
            redacted("https://idp.example/jwks"),
            "https://idp.example/jwks"
        );
    }

    #[test]
    fn https_anywhere_http_only_on_loopback() {
        for ok in [
            "https://idp.example.com/x",
            "http://127.0.0.1:8080/jwks",
            "http://localhost/jwks",
            "http://[::1]:9/jwks",
        ] {
            assert!(checked_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://idp.example.com/jwks",
            "http://10.0.0.1/jwks",
            "ftp://idp.example.com",
            "file:///etc/jwks.json",
            "/relative",
        ] {
            assert!(checked_url(bad).is_err(), "{bad}");
        }
    }
}
