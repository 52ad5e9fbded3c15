//! Serving the proxy's assertion keys.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use tower::Service;

use super::AssertionSigner;

/// The media type of the JWKS response (RFC 7517 §8.5).
pub const JWKS_CONTENT_TYPE: &str = "application/jwk-set+json";

/// `Cache-Control` of the JWKS response: short, so that rotated keys spread quickly.
pub const JWKS_CACHE_CONTROL: &str = "public, max-age=60";

/// A Tower service answering `GET` and `HEAD` with the signer's JWK set
/// (`application/jwk-set+json`), and any other method with 405. It reads the keys on
/// every request, so rotations show at once. Any path is answered: mount it at
/// [`JWKS_PATH`](super::JWKS_PATH).
///
/// ```
/// use axum::Router;
/// use zt_tower::assertion::{AssertionSigner, JWKS_PATH};
///
/// let signer = AssertionSigner::builder("https://proxy.example.com").build()?;
/// let app: Router = Router::new().route_service(JWKS_PATH, signer.jwks_service());
/// # Ok::<(), zt_tower::assertion::AssertionError>(())
/// ```
#[derive(Clone, Debug)]
pub struct JwksService {
    signer: AssertionSigner,
}

impl JwksService {
    pub(crate) fn new(signer: AssertionSigner) -> Self {
        Self { signer }
    }

    /// The response to `request`'s method.
    pub(crate) fn respond(&self, method: &Method) -> Response<Full<Bytes>> {
        if method != Method::GET && method != Method::HEAD {
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        let mut response = Response::new(Full::new(self.signer.jwks_bytes()));
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(JWKS_CONTENT_TYPE));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(JWKS_CACHE_CONTROL));
        response
    }
}

impl<B> Service<Request<B>> for JwksService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        ready(Ok(self.respond(request.method())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;
    use serde_json::Value;

    async fn get(service: &mut JwksService, method: Method) -> (Response<()>, Bytes) {
        let request = Request::builder().method(method).body(()).unwrap();
        let response = service.call(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        (Response::from_parts(parts, ()), body)
    }

    #[tokio::test]
    async fn serves_the_jwks_with_its_media_type_and_a_short_cache_lifetime() {
        let signer = AssertionSigner::builder("https://proxy.example")
            .build()
            .unwrap();
        let mut service = signer.jwks_service();
        let (response, body) = get(&mut service, Method::GET).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/jwk-set+json");
        assert_eq!(response.headers()[CACHE_CONTROL], "public, max-age=60");
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap(),
            signer.jwks()
        );

        // Rotation shows on the next request.
        signer.rotate(super::super::SigningKey::generate().unwrap());
        let (_, body) = get(&mut service, Method::HEAD).await;
        let jwks: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);

        let (response, body) = get(&mut service, Method::POST).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[ALLOW], "GET, HEAD");
        assert!(body.is_empty());
    }
}
