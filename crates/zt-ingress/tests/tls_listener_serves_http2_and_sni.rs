#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The HTTPS listener end to end: the certificate chosen by SNI, HTTP/2 by ALPN through
//! to the upstream, a client certificate's SPIFFE ID as an identity the policy decides
//! on, and the plain listener redirecting to HTTPS.

#[path = "support/ingress.rs"]
mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use support::{TempDir, demo_upstream, idp, raw};
use tokio_rustls::TlsConnector;
use zt_ingress::Ingress;
use zt_ingress::config::Config;

const WORKLOAD: &str = "spiffe://example.org/ns/prod/sa/api";

struct Leaf {
    der: CertificateDer<'static>,
    key_pem: String,
}

struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    fn new(dir: &TempDir) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        dir.write("ca.crt", &ca.pem());
        Self { ca }
    }

    fn issue(&self, dir: &TempDir, file: &str, params: CertificateParams) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        dir.write(&format!("{file}.crt"), &cert.pem());
        dir.write(&format!("{file}.key"), &key.serialize_pem());
        Leaf {
            der: cert.der().clone(),
            key_pem: key.serialize_pem(),
        }
    }

    fn server(&self, dir: &TempDir, file: &str, name: &str) -> Leaf {
        let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(dir, file, params)
    }

    fn client(&self, dir: &TempDir, file: &str, uri: &str) -> Leaf {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = vec![SanType::URI(uri.try_into().unwrap())];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(dir, file, params)
    }
}

struct Answer {
    status: u16,
    version: http::Version,
    alpn: Option<Vec<u8>>,
    served: CertificateDer<'static>,
    body: Value,
}

/// One HTTP/2 GET over TLS with SNI `name`, optionally with a client certificate and a
/// bearer token.
async fn h2_get(
    addr: SocketAddr,
    ca: &CertificateDer<'static>,
    name: &str,
    client: Option<&Leaf>,
    token: Option<&str>,
) -> Answer {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match client {
        Some(leaf) => builder
            .with_client_auth_cert(
                vec![leaf.der.clone()],
                PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from(name.to_owned()).unwrap(), tcp)
        .await
        .unwrap();
    let (_, session) = tls.get_ref();
    let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
    let served = session.peer_certificates().unwrap()[0].clone();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(connection);
    let mut request = http::Request::get(format!("https://{name}/hello?x=1"));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = sender
        .send_request(request.body(Empty::<Bytes>::new()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let version = response.version();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        version,
        alpn,
        served,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

fn config_toml(dir: &TempDir, issuer: &str, upstream: &str) -> PathBuf {
    let toml = format!(
        r#"[listen]
http = "127.0.0.1:0"
https = "127.0.0.1:0"

[tls]
cert = "default.crt"
key = "default.key"
client_ca = "ca.crt"
spiffe_trust_domains = ["example.org"]

[[tls.sni]]
host = "api.example.com"
cert = "api.crt"
key = "api.key"

[[providers]]
issuer = "{issuer}"
audiences = ["zt-dev"]

[audit]
file = "audit.jsonl"

[[routes]]
name = "app"
from = "*"
to = ["{upstream}"]
assertion = true
policy_inline = '''
allow "workload" when identity.spiffe_id == "{WORKLOAD}"
allow "users" when identity.kind == "user" and identity.authenticated
'''
"#
    );
    dir.write("ingress.toml", &toml)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_serves_h2_by_sni_with_spiffe_identities_and_http_redirects() {
    let idp = idp().await;
    let upstream = demo_upstream().await;
    let dir = TempDir::new("tls");
    let pki = Pki::new(&dir);
    let ca = pki.ca.der().clone();
    let default = pki.server(&dir, "default", "default.example.com");
    let api = pki.server(&dir, "api", "api.example.com");
    let prod = pki.client(&dir, "prod", WORKLOAD);
    let dev = pki.client(&dir, "dev", "spiffe://example.org/ns/dev/sa/api");
    let path = config_toml(&dir, idp.issuer(), &upstream);
    let ingress = Ingress::start(Config::load(&path).unwrap(), Some(path))
        .await
        .unwrap();
    let https = ingress.https_addr().unwrap();

    // SNI picks the certificate; ALPN picks HTTP/2; the SPIFFE ID is the identity.
    let answer = h2_get(https, &ca, "api.example.com", Some(&prod), None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.version, http::Version::HTTP_2);
    assert_eq!(answer.alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(answer.served, api.der);
    assert_eq!(answer.body["path"], "/hello");
    assert_eq!(answer.body["query"], "x=1");
    assert_eq!(answer.body["x_forwarded_proto"], "https");
    assert!(
        answer.body["identity"].to_string().contains(WORKLOAD),
        "{}",
        answer.body
    );

    // Another name gets the default certificate.
    let answer = h2_get(https, &ca, "default.example.com", Some(&prod), None).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.served, default.der);

    // Another workload of the trust domain is not allowed; no credential is a 401.
    let answer = h2_get(https, &ca, "api.example.com", Some(&dev), None).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    let answer = h2_get(https, &ca, "api.example.com", None, None).await;
    assert_eq!(answer.status, 401);
    let token = idp.mint_access_token("bob").unwrap();
    let answer = h2_get(https, &ca, "api.example.com", None, Some(&token)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["identity"]["sub"], "bob", "{}", answer.body);

    // Plain HTTP redirects to the same URL on HTTPS.
    let http = ingress.http_addr().unwrap();
    let response = raw(
        http,
        "GET /a/b?c=d HTTP/1.1\r\nHost: API.example.com:80\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(response.status, 308, "{response:?}");
    assert_eq!(
        response.header("location"),
        Some(format!("https://api.example.com:{}/a/b?c=d", https.port()).as_str())
    );
    ingress.shutdown().await;
}
