//! The back-channel HTTP client for talking to an OpenID provider with `openidconnect`
//! (discovery, JWKS, token, device authorization and revocation endpoints): HTTPS
//! verified against the platform's roots, or plain HTTP to loopback hosts only; a timeout
//! per request, a bounded response body and no redirects.
//!
//! Browser [`login`](crate::login) uses it, and so does `zt-kube`'s exec-credential plugin.
//! [`HttpClient`] implements [`openidconnect::AsyncHttpClient`], so it is passed to
//! `request_async` wherever `openidconnect` asks for a client.

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

/// Largest response body accepted from the IdP.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Why a back-channel request failed. Never carries request bodies (codes, secrets).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The URL is neither HTTPS nor HTTP to a loopback host.
    #[error("refused URL {0}: only https, or http to a loopback host")]
    Insecure(String),
    /// Connecting or exchanging the request failed.
    #[error("request to {url} failed: {reason}")]
    Request {
        /// The URL without its query.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The IdP did not answer in time.
    #[error("no answer from {url} within {timeout:?}")]
    Timeout {
        /// The URL without its query.
        url: String,
        /// The timeout that passed.
        timeout: Duration,
    },
    /// The body could not be read or is over [`MAX_RESPONSE_BYTES`].
    #[error("response from {url} could not be read or is over {MAX_RESPONSE_BYTES} bytes")]
    Body {
        /// The URL without its query.
        url: String,
    },
    /// The TLS client configuration could not be built.
    #[error("TLS configuration: {0}")]
    Tls(String),
}

/// The back-channel client: cheap to clone (connections are pooled and shared).
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client whose every request (connect, send, read the whole body) must finish
    /// within `timeout`.
    ///
    /// # Errors
    /// [`HttpError::Tls`] if the platform's root certificates cannot be loaded.
    pub fn new(timeout: Duration) -> Result<Self, HttpError> {
        let tls = zt_core::tls::client_config(&[]).map_err(|e| HttpError::Tls(e.to_string()))?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
        })
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let uri = request.uri().clone();
        let url = redacted(&uri);
        if !is_allowed(&uri) {
            return Err(HttpError::Insecure(url));
        }
        let request = request.map(|body| Full::new(Bytes::from(body)));
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| HttpError::Request {
                    url: url.clone(),
                    reason: e.to_string(),
                })?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|_| HttpError::Body { url: url.clone() })?
                .to_bytes();
            Ok(http::Response::from_parts(parts, body.to_vec()))
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(HttpError::Timeout {
                url,
                timeout: self.timeout,
            }),
        }
    }
}

impl<'c> AsyncHttpClient<'c> for HttpClient {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// `uri` without its query, for logs.
fn redacted(uri: &http::Uri) -> String {
    format!(
        "{}://{}{}",
        uri.scheme_str().unwrap_or("?"),
        uri.authority().map_or("?", |a| a.host()),
        uri.path()
    )
}

fn is_allowed(uri: &http::Uri) -> bool {
    match uri.scheme_str() {
        Some("https") => uri.host().is_some(),
        Some("http") => uri.host().is_some_and(is_loopback_host),
        _ => false,
    }
}

/// `localhost`, or a loopback IP address (IPv6 with or without brackets).
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether `url` may be used for the IdP or the app: `https`, or `http` to loopback.
pub fn is_secure_or_loopback(url: &url::Url) -> bool {
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => url.host_str().is_some_and(is_loopback_host),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        for ok in [
            "https://idp.example.com/token",
            "http://127.0.0.1:9000/token",
            "http://localhost/x",
            "http://[::1]:8080/jwks",
        ] {
            assert!(is_allowed(&ok.parse().unwrap()), "{ok}");
        }
        for bad in [
            "http://idp.example.com/token",
            "http://10.0.0.1/token",
            "ftp://idp.example.com/",
            "http://127.0.0.1.evil.example/",
        ] {
            assert!(!is_allowed(&bad.parse().unwrap()), "{bad}");
        }
    }

    #[test]
    fn redacts_query() {
        let uri: http::Uri = "https://idp.example/token?code=secret".parse().unwrap();
        assert_eq!(redacted(&uri), "https://idp.example/token");
    }
}
