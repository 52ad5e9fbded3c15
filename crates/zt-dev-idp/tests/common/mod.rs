//! Shared helpers for the integration tests: a tiny HTTP client and JWT checks.
#![allow(dead_code)]

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use serde_json::Value;
use zt_dev_idp::{DevIdp, RunningDevIdp};

pub(crate) struct Resp {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Resp {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub(crate) fn location(&self) -> url::Url {
        url::Url::parse(self.header("location").expect("no Location")).expect("bad Location")
    }
    /// The `name=value` part of Set-Cookie.
    pub(crate) fn cookie(&self) -> Option<String> {
        self.header("set-cookie")
            .and_then(|c| c.split(';').next())
            .map(str::to_owned)
    }
    /// The OAuth error code.
    pub(crate) fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }
}

pub(crate) fn query_param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

#[derive(Clone)]
pub(crate) struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Http {
    pub(crate) fn new() -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    pub(crate) async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .unwrap();
        let resp = self.client.request(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        Resp {
            status,
            headers,
            body,
        }
    }

    pub(crate) async fn get(&self, url: &str, headers: &[(&str, &str)]) -> Resp {
        self.send(Method::GET, url, headers, None).await
    }

    pub(crate) async fn post(
        &self,
        url: &str,
        pairs: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Resp {
        self.send(Method::POST, url, headers, Some(form(pairs)))
            .await
    }
}

pub(crate) async fn start_default() -> RunningDevIdp {
    DevIdp::builder().banner(false).start().await.unwrap()
}

/// Verifies `token` against the JWKS the IdP publishes over HTTP and returns its claims.
pub(crate) async fn verify(http: &Http, idp: &RunningDevIdp, token: &str, aud: &str) -> Value {
    let jwks: JwkSet =
        serde_json::from_slice(&http.get(&format!("{}/jwks", idp.issuer()), &[]).await.body)
            .unwrap();
    verify_with(&jwks, idp.issuer(), token, aud)
}

pub(crate) fn verify_with(jwks: &JwkSet, issuer: &str, token: &str, aud: &str) -> Value {
    let header = decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let kid = header.kid.as_deref().expect("kid");
    let jwk = jwks
        .find(kid)
        .unwrap_or_else(|| panic!("kid {kid} not in JWKS"));
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[aud]);
    validation.set_issuer(&[issuer]);
    decode::<Value>(token, &key, &validation)
        .unwrap_or_else(|e| panic!("token does not verify: {e}"))
        .claims
}

/// A PKCE pair (verifier, S256 challenge).
pub(crate) fn pkce() -> (String, String) {
    use base64::Engine as _;
    let mut raw = [0u8; 32];
    aws_lc_rs::rand::fill(&mut raw).unwrap();
    let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    (verifier, challenge)
}

pub(crate) const REDIRECT: &str = "http://127.0.0.1:4321/callback";

/// The authorization request parameters of the default client, without PKCE.
pub(crate) const AUTHORIZE_PARAMS: [(&str, &str); 6] = [
    ("response_type", "code"),
    ("client_id", "zt-dev"),
    ("redirect_uri", REDIRECT),
    ("scope", "openid profile email groups"),
    ("state", "st4te"),
    ("nonce", "n0nce"),
];

/// Builds an /authorize URL for the default client.
pub(crate) fn authorize_url(idp: &RunningDevIdp, extra: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(&str, &str)> = AUTHORIZE_PARAMS.to_vec();
    pairs.extend_from_slice(extra);
    format!("{}/authorize?{}", idp.issuer(), form(&pairs))
}

/// Runs the browser part of the code flow for `username` (GET form, POST the button)
/// and returns (code, session cookie).
pub(crate) async fn login(
    http: &Http,
    idp: &RunningDevIdp,
    username: &str,
    challenge: &str,
) -> (String, String) {
    let url = authorize_url(
        idp,
        &[
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let page = http.get(&url, &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("development only"));
    let resp = http
        .post(
            &format!("{}/authorize", idp.issuer()),
            &[
                AUTHORIZE_PARAMS.as_slice(),
                &[
                    ("code_challenge", challenge),
                    ("code_challenge_method", "S256"),
                    ("username", username),
                ],
            ]
            .concat(),
            &[],
        )
        .await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.text());
    let loc = resp.location();
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st4te"));
    assert_eq!(query_param(&loc, "iss").as_deref(), Some(idp.issuer()));
    (
        query_param(&loc, "code").expect("code"),
        resp.cookie().expect("session cookie"),
    )
}

pub(crate) async fn exchange(http: &Http, idp: &RunningDevIdp, code: &str, verifier: &str) -> Resp {
    http.post(
        &format!("{}/token", idp.issuer()),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", "zt-dev"),
            ("code_verifier", verifier),
        ],
        &[],
    )
    .await
}
