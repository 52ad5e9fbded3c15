#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The listener's TLS settings: SNI selection, key/name checks at load time, client
//! certificates, and the SPIFFE peer identity, over real rustls handshakes.

#[path = "support/ingress.rs"]
mod support;

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use support::TempDir;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use zt_core::identity::{IdentityKind, SpiffeVerifier, TrustBundle};
use zt_ingress::tls::{ClientAuth, SniCert, TlsError, TlsSettings, peer_identity, server_config};

/// A test CA that issues leaf certificates into a temp dir.
struct Pki {
    dir: TempDir,
    ca: CertifiedIssuer<'static, KeyPair>,
    ca_path: PathBuf,
}

/// A leaf written to disk.
struct Leaf {
    cert: PathBuf,
    key: PathBuf,
    der: CertificateDer<'static>,
    key_pem: String,
}

impl Pki {
    fn new(name: &str) -> Self {
        let dir = TempDir::new(name);
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("zt test CA {name}"));
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let ca_path = dir.write("ca.crt", &ca.pem());
        Self { dir, ca, ca_path }
    }

    fn ca_der(&self) -> CertificateDer<'static> {
        self.ca.der().clone()
    }

    fn issue(&self, file: &str, params: CertificateParams) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        let key_pem = key.serialize_pem();
        Leaf {
            cert: self.dir.write(&format!("{file}.crt"), &cert.pem()),
            key: self.dir.write(&format!("{file}.key"), &key_pem),
            der: cert.der().clone(),
            key_pem,
        }
    }

    /// A server certificate for `name` whose key file is in the legacy format: PKCS#1
    /// `RSA PRIVATE KEY` for RSA, SEC1 `EC PRIVATE KEY` for ECDSA.
    fn server_legacy_key(
        &self,
        file: &str,
        name: &str,
        alg: &'static rcgen::SignatureAlgorithm,
    ) -> Leaf {
        let key = KeyPair::generate_for(alg).unwrap();
        let cert = CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .signed_by(&key, &self.ca)
            .unwrap();
        let label = if alg == &rcgen::PKCS_RSA_SHA256 {
            "RSA PRIVATE KEY"
        } else {
            "EC PRIVATE KEY"
        };
        let key_pem = pem(label, pkcs8_private_key(&key.serialize_der()));
        Leaf {
            cert: self.dir.write(&format!("{file}.crt"), &cert.pem()),
            key: self.dir.write(&format!("{file}.key"), &key_pem),
            der: cert.der().clone(),
            key_pem,
        }
    }

    /// A server certificate for these DNS names.
    fn server(&self, file: &str, names: &[&str]) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(file, params)
    }

    /// A client certificate, with a URI SAN if given.
    fn client(&self, file: &str, uri: Option<&str>) -> Leaf {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        if let Some(uri) = uri {
            params.subject_alt_names = vec![SanType::URI(uri.try_into().unwrap())];
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(file, params)
    }
}

/// A client trusting `pki`'s CA, optionally with a client certificate.
fn client_config(
    pki: &Pki,
    client_cert: Option<&Leaf>,
    sni: bool,
    alpn: &[&[u8]],
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca_der()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match client_cert {
        Some(leaf) => {
            let key = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap();
            builder
                .with_client_auth_cert(vec![leaf.der.clone()], key)
                .unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    config.enable_sni = sni;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// What each side saw of one handshake.
struct Handshake {
    /// The server's leaf as the client received it, if the client side completed.
    served: Option<CertificateDer<'static>>,
    /// The client's chain as the server received it, or the server's error.
    server: Result<Vec<CertificateDer<'static>>, std::io::Error>,
    /// The negotiated ALPN protocol.
    alpn: Option<Vec<u8>>,
}

async fn handshake(
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
    name: &str,
) -> Handshake {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let acceptor = TlsAcceptor::from(server);
    let connector = TlsConnector::from(client);
    let name = ServerName::try_from(name.to_owned()).unwrap();
    let (server, client) = tokio::join!(
        async move {
            let stream = acceptor.accept(server_io).await?;
            let chain = stream.get_ref().1.peer_certificates().unwrap_or_default();
            Ok::<_, std::io::Error>(chain.to_vec())
        },
        async move {
            let stream = connector.connect(name, client_io).await.ok()?;
            let conn = stream.get_ref().1;
            let served = conn.peer_certificates()?.first()?.clone();
            let alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
            // Kept open until the server is done: it writes session tickets after the
            // client's handshake has finished.
            Some((served, alpn, stream))
        }
    );
    let (served, alpn) = client.map(|(served, alpn, _)| (served, alpn)).unzip();
    Handshake {
        served,
        server,
        alpn: alpn.flatten(),
    }
}

/// A default certificate plus SNI certificates for an exact name and a wildcard.
struct SniSetup {
    pki: Pki,
    default: Leaf,
    grafana: Leaf,
    apps: Leaf,
    settings: TlsSettings,
}

fn sni_setup() -> SniSetup {
    let pki = Pki::new("sni");
    let default = pki.server(
        "default",
        &[
            "default.example.com",
            "unknown.example.com",
            "a.b.apps.example.com",
        ],
    );
    let grafana = pki.server("grafana", &["grafana.example.com"]);
    let apps = pki.server("apps", &["*.apps.example.com"]);
    let mut settings = TlsSettings::new(&default.cert, &default.key);
    settings.sni = vec![
        SniCert {
            host: "Grafana.Example.com".into(),
            cert: grafana.cert.clone(),
            key: grafana.key.clone(),
        },
        SniCert {
            host: "*.apps.example.com".into(),
            cert: apps.cert.clone(),
            key: apps.key.clone(),
        },
    ];
    SniSetup {
        pki,
        default,
        grafana,
        apps,
        settings,
    }
}

#[tokio::test]
async fn default_cert_without_sni_and_for_unknown_names() {
    let s = sni_setup();
    let config = server_config(&s.settings).unwrap();

    let no_sni = client_config(&s.pki, None, false, &[]);
    let h = handshake(config.clone(), no_sni.clone(), "default.example.com").await;
    assert_eq!(h.served.as_ref(), Some(&s.default.der));
    // Without SNI the server cannot know the name, even one an SNI entry covers.
    let h = handshake(config.clone(), no_sni, "grafana.example.com").await;
    assert!(
        h.served.is_none(),
        "the default cert is not valid for grafana"
    );

    let sni = client_config(&s.pki, None, true, &[]);
    // `*.apps.example.com` covers one label only.
    for name in ["unknown.example.com", "a.b.apps.example.com"] {
        let h = handshake(config.clone(), sni.clone(), name).await;
        assert_eq!(h.served.as_ref(), Some(&s.default.der), "{name}");
        assert!(h.server.is_ok());
    }
}

#[tokio::test]
async fn sni_picks_the_host_certificate() {
    let s = sni_setup();
    let config = server_config(&s.settings).unwrap();
    let client = client_config(&s.pki, None, true, &[]);

    for (name, expected) in [
        ("grafana.example.com", &s.grafana.der),
        ("GRAFANA.example.COM", &s.grafana.der),
        ("web.apps.example.com", &s.apps.der),
        ("Api.Apps.Example.Com", &s.apps.der),
    ] {
        let h = handshake(config.clone(), client.clone(), name).await;
        assert_eq!(h.served.as_ref(), Some(expected), "{name}");
    }
}

#[tokio::test]
async fn alpn_offers_h2_and_http1() {
    let s = sni_setup();
    let config = server_config(&s.settings).unwrap();
    assert_eq!(
        config.alpn_protocols,
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    );
    for proto in [&b"h2"[..], b"http/1.1"] {
        let client = client_config(&s.pki, None, true, &[proto]);
        let h = handshake(config.clone(), client, "grafana.example.com").await;
        assert_eq!(h.alpn.as_deref(), Some(proto));
    }
}

#[test]
fn mismatched_key_is_rejected() {
    let pki = Pki::new("mismatch");
    let a = pki.server("a", &["a.example.com"]);
    let b = pki.server("b", &["b.example.com"]);

    let err = server_config(&TlsSettings::new(&a.cert, &b.key)).unwrap_err();
    assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "the key in {} does not match the certificate in {}",
            b.key.display(),
            a.cert.display()
        )
    );

    let mut settings = TlsSettings::new(&a.cert, &a.key);
    settings.sni = vec![SniCert {
        host: "b.example.com".into(),
        cert: b.cert.clone(),
        key: a.key.clone(),
    }];
    let err = server_config(&settings).unwrap_err();
    assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err:?}");
}

#[test]
fn sni_cert_must_be_valid_for_its_host() {
    let pki = Pki::new("names");
    let a = pki.server("a", &["a.example.com"]);
    let b = pki.server("b", &["b.example.com"]);

    let mut settings = TlsSettings::new(&a.cert, &a.key);
    settings.sni = vec![SniCert {
        host: "grafana.example.com".into(),
        cert: b.cert.clone(),
        key: b.key.clone(),
    }];
    let err = server_config(&settings).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "certificate for grafana.example.com ({}) is not valid for that name",
            b.cert.display()
        )
    );

    // A wildcard entry needs a wildcard certificate, not one for a single name below it.
    settings.sni[0].host = "*.example.com".into();
    let err = server_config(&settings).unwrap_err();
    assert!(matches!(err, TlsError::NameMismatch { .. }), "{err:?}");

    settings.sni[0].host = "b.example.com".into();
    settings.sni.push(settings.sni[0].clone());
    settings.sni[1].host = "B.example.com.".into();
    let err = server_config(&settings).unwrap_err();
    assert!(matches!(err, TlsError::DuplicateHost { .. }), "{err:?}");

    settings.sni.truncate(1);
    settings.sni[0].host = "10.0.0.1".into();
    let err = server_config(&settings).unwrap_err();
    assert!(matches!(err, TlsError::InvalidHost { .. }), "{err:?}");
}

#[test]
fn file_errors_name_the_path() {
    let pki = Pki::new("files");
    let a = pki.server("a", &["a.example.com"]);
    let missing = pki.dir.path().join("missing.crt");

    let err = server_config(&TlsSettings::new(&missing, &a.key)).unwrap_err();
    assert!(matches!(err, TlsError::Read { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("cannot read {}: ", missing.display())),
        "{err}"
    );

    let empty = pki.dir.write("empty.crt", "");
    let err = server_config(&TlsSettings::new(&empty, &a.key)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("no certificate in {}", empty.display())
    );

    // A certificate where the key should be.
    let err = server_config(&TlsSettings::new(&a.cert, &a.cert)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("no private key in {}", a.cert.display())
    );

    let broken = pki.dir.write(
        "broken.crt",
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    );
    let err = server_config(&TlsSettings::new(&broken, &a.key)).unwrap_err();
    assert!(matches!(err, TlsError::Pem { .. }), "{err:?}");
    assert!(err.to_string().contains(&broken.display().to_string()));

    let mut settings = TlsSettings::new(&a.cert, &a.key);
    settings.client_auth = ClientAuth::Required;
    settings.client_ca = Some(pki.dir.path().join("no-ca.crt"));
    let err = server_config(&settings).unwrap_err();
    assert!(err.to_string().contains("no-ca.crt"), "{err}");
}

#[test]
fn client_auth_and_client_ca_must_agree() {
    let pki = Pki::new("agree");
    let a = pki.server("a", &["a.example.com"]);

    let mut settings = TlsSettings::new(&a.cert, &a.key);
    settings.client_auth = ClientAuth::Optional;
    let err = server_config(&settings).unwrap_err();
    assert!(matches!(err, TlsError::ClientCaMissing { .. }), "{err:?}");

    settings.client_auth = ClientAuth::None;
    settings.client_ca = Some(pki.ca_path.clone());
    let err = server_config(&settings).unwrap_err();
    assert!(matches!(err, TlsError::ClientCaUnused { .. }), "{err:?}");
}

fn mtls_config(pki: &Pki, server: &Leaf, mode: ClientAuth) -> Arc<rustls::ServerConfig> {
    let mut settings = TlsSettings::new(&server.cert, &server.key);
    settings.client_ca = Some(pki.ca_path.clone());
    settings.client_auth = mode;
    server_config(&settings).unwrap()
}

#[tokio::test]
async fn required_client_auth_refuses_clients_without_a_certificate() {
    let pki = Pki::new("required");
    let server = pki.server("server", &["a.example.com"]);
    let client = pki.client("client", None);
    let config = mtls_config(&pki, &server, ClientAuth::Required);

    let anonymous = client_config(&pki, None, true, &[]);
    let h = handshake(config.clone(), anonymous, "a.example.com").await;
    let err = h.server.unwrap_err();
    assert_eq!(err.to_string(), "peer sent no certificates");

    let with_cert = client_config(&pki, Some(&client), true, &[]);
    let h = handshake(config.clone(), with_cert, "a.example.com").await;
    assert_eq!(h.server.unwrap(), vec![client.der.clone()]);

    // A certificate from another CA is refused.
    let other = Pki::new("required-other");
    let stranger = client_config(&pki, Some(&other.client("stranger", None)), true, &[]);
    let h = handshake(config, stranger, "a.example.com").await;
    let err = h.server.unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
}

#[tokio::test]
async fn optional_client_auth_accepts_with_and_without() {
    let pki = Pki::new("optional");
    let server = pki.server("server", &["a.example.com"]);
    let client = pki.client("client", None);
    let config = mtls_config(&pki, &server, ClientAuth::Optional);

    let anonymous = client_config(&pki, None, true, &[]);
    let h = handshake(config.clone(), anonymous, "a.example.com").await;
    assert_eq!(h.server.unwrap(), Vec::new());

    let with_cert = client_config(&pki, Some(&client), true, &[]);
    let h = handshake(config.clone(), with_cert, "a.example.com").await;
    assert_eq!(h.server.unwrap(), vec![client.der.clone()]);

    // Optional is not "anything goes": an untrusted certificate is still refused.
    let other = Pki::new("optional-other");
    let stranger = client_config(&pki, Some(&other.client("stranger", None)), true, &[]);
    let h = handshake(config, stranger, "a.example.com").await;
    let err = h.server.unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
}

#[tokio::test]
async fn spiffe_client_certificate_yields_the_workload_identity() {
    let pki = Pki::new("spiffe");
    let server = pki.server("server", &["a.example.com"]);
    let api = pki.client("api", Some("spiffe://example.org/ns/prod/sa/api"));
    let plain = pki.client("plain", None);
    let config = mtls_config(&pki, &server, ClientAuth::Optional);
    let bundle = TrustBundle::new("example.org", [pki.ca_der()]).unwrap();
    let verifier = SpiffeVerifier::new([bundle]);

    let with_svid = client_config(&pki, Some(&api), true, &[]);
    let h = handshake(config.clone(), with_svid, "a.example.com").await;
    let identity = peer_identity(&verifier, &h.server.unwrap())
        .unwrap()
        .expect("a SPIFFE identity");
    assert_eq!(identity.kind, IdentityKind::Workload);
    assert_eq!(identity.subject, "spiffe://example.org/ns/prod/sa/api");
    assert_eq!(identity.issuer, "spiffe://example.org");
    assert_eq!(
        identity.spiffe_id.as_ref().map(|id| id.as_str()),
        Some("spiffe://example.org/ns/prod/sa/api")
    );

    // A trusted certificate without a SPIFFE ID, or no certificate: no identity.
    let without_svid = client_config(&pki, Some(&plain), true, &[]);
    let h = handshake(config.clone(), without_svid, "a.example.com").await;
    assert!(
        peer_identity(&verifier, &h.server.unwrap())
            .unwrap()
            .is_none()
    );
    let anonymous = client_config(&pki, None, true, &[]);
    let h = handshake(config, anonymous, "a.example.com").await;
    assert!(
        peer_identity(&verifier, &h.server.unwrap())
            .unwrap()
            .is_none()
    );

    // The client CA does not vouch for a trust domain the SPIFFE verifier does not trust.
    let elsewhere = pki.client("elsewhere", Some("spiffe://other.org/ns/prod/sa/api"));
    assert!(peer_identity(&verifier, std::slice::from_ref(&elsewhere.der)).is_err());
}

/// One DER TLV: (tag, contents, rest).
fn der_tlv(input: &[u8]) -> (u8, &[u8], &[u8]) {
    let (tag, first) = (input[0], input[1]);
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        let len = input[2..2 + n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, 2 + n)
    };
    (tag, &input[header..header + len], &input[header + len..])
}

/// The `privateKey` OCTET STRING of a PKCS#8 `PrivateKeyInfo`: a PKCS#1 `RSAPrivateKey`
/// or a SEC1 `ECPrivateKey`.
fn pkcs8_private_key(der: &[u8]) -> &[u8] {
    let (_, info, _) = der_tlv(der);
    let (_, _version, rest) = der_tlv(info);
    let (_, _algorithm, rest) = der_tlv(rest);
    let (tag, key, _) = der_tlv(rest);
    assert_eq!(tag, 0x04, "privateKey is an OCTET STRING");
    key
}

/// PEM-encodes `der` under `label`.
fn pem(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[tokio::test]
async fn loads_pkcs1_rsa_and_sec1_ec_keys() {
    let pki = Pki::new("legacy-keys");
    let rsa = pki.server_legacy_key("rsa", "rsa.example.com", &rcgen::PKCS_RSA_SHA256);
    let ec = pki.server_legacy_key("ec", "ec.example.com", &rcgen::PKCS_ECDSA_P384_SHA384);
    assert!(
        std::fs::read_to_string(&rsa.key)
            .unwrap()
            .starts_with("-----BEGIN RSA PRIVATE KEY-----")
    );
    assert!(
        std::fs::read_to_string(&ec.key)
            .unwrap()
            .starts_with("-----BEGIN EC PRIVATE KEY-----")
    );

    let mut settings = TlsSettings::new(&rsa.cert, &rsa.key);
    settings.sni = vec![SniCert {
        host: "ec.example.com".into(),
        cert: ec.cert.clone(),
        key: ec.key.clone(),
    }];
    let config = server_config(&settings).unwrap();
    let client = client_config(&pki, None, true, &[]);
    for (name, leaf) in [("rsa.example.com", &rsa), ("ec.example.com", &ec)] {
        let h = handshake(config.clone(), client.clone(), name).await;
        assert_eq!(h.served.as_ref(), Some(&leaf.der), "{name}");
    }

    // A legacy key of the other certificate is still caught.
    let err = server_config(&TlsSettings::new(&rsa.cert, &ec.key)).unwrap_err();
    assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err:?}");
}
