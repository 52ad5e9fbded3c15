//! TLS for the HTTPS listener: certificates and keys from PEM files, a certificate per SNI
//! host name, ALPN (`h2`, `http/1.1`) and optional or required client certificates.
//!
//! Everything is checked when the configuration is loaded, so a bad file stops start-up
//! (or a reload) with an error that names it, instead of failing handshakes later: each
//! key must match its certificate, and each SNI certificate must be valid for its host.
//!
//! ```no_run
//! use zt_ingress::tls::{ClientAuth, TlsSettings, server_config};
//!
//! let mut settings = TlsSettings::new("tls/default.crt", "tls/default.key");
//! settings.client_ca = Some("tls/clients-ca.crt".into());
//! settings.client_auth = ClientAuth::Optional;
//! let config = server_config(&settings)?;
//! let acceptor = tokio_rustls::TlsAcceptor::from(config);
//! # let _ = acceptor;
//! # Ok::<(), zt_ingress::tls::TlsError>(())
//! ```

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::{
    ClientHello, ParsedCertificate, ResolvesServerCert, ServerConfig, WebPkiClientVerifier,
};
use rustls::sign::CertifiedKey;
use rustls::{InconsistentKeys, RootCertStore};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use zt_core::identity::{Identity, SpiffeError, SpiffeVerifier};

/// The ALPN protocols the listener offers, most preferred first.
pub const ALPN_PROTOCOLS: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// TLS settings of the HTTPS listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM certificate chain (leaf first) served when no SNI entry matches.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 RSA or SEC1) of `cert`.
    pub key: PathBuf,
    /// Per-host certificates, chosen by the client's SNI name.
    pub sni: Vec<SniCert>,
    /// PEM CA certificates that client certificates must chain to.
    pub client_ca: Option<PathBuf>,
    /// Whether clients must, may or cannot present a certificate.
    pub client_auth: ClientAuth,
}

impl TlsSettings {
    /// Settings serving one certificate, with no SNI entries and no client certificates.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Self {
            cert: cert.into(),
            key: key.into(),
            sni: Vec::new(),
            client_ca: None,
            client_auth: ClientAuth::None,
        }
    }
}

/// A certificate served for one SNI host name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SniCert {
    /// The host name, matched case-insensitively; `*.example.com` matches one label.
    pub host: String,
    /// PEM certificate chain, leaf first; the leaf must be valid for `host`.
    pub cert: PathBuf,
    /// PEM private key of `cert`.
    pub key: PathBuf,
}

/// Client certificate policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAuth {
    /// Client certificates are not requested.
    #[default]
    None,
    /// Requested; a client without one is accepted, one with an untrusted one refused.
    Optional,
    /// A certificate chaining to `client_ca` is required.
    Required,
}

/// Why the TLS settings cannot be used. Every variant names the file or entry at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not valid PEM.
    #[error("{} is not valid PEM: {reason}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A certificate file holds no certificate.
    #[error("no certificate in {}", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// A key file holds no private key.
    #[error("no private key in {}", path.display())]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// A certificate could not be parsed.
    #[error("the certificate in {} cannot be used: {reason}", path.display())]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A private key has an unsupported type or is malformed.
    #[error("the private key in {} cannot be used: {reason}", path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A private key does not belong to the certificate it is paired with.
    #[error(
        "the key in {} does not match the certificate in {}",
        key.display(),
        cert.display()
    )]
    KeyMismatch {
        /// The key file.
        key: PathBuf,
        /// The certificate file.
        cert: PathBuf,
    },
    /// An SNI entry's host name is not a DNS name or `*.` wildcard.
    #[error("SNI host `{host}` is not usable: {reason}")]
    InvalidHost {
        /// The host as configured.
        host: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Two SNI entries name the same host.
    #[error("SNI host `{host}` is configured more than once")]
    DuplicateHost {
        /// The host, normalised.
        host: String,
    },
    /// An SNI certificate does not cover its host name.
    #[error("certificate for {host} ({}) is not valid for that name", path.display())]
    NameMismatch {
        /// The host name.
        host: String,
        /// The certificate file.
        path: PathBuf,
    },
    /// The client CA file is unusable.
    #[error("client CA {}: {reason}", path.display())]
    ClientCa {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Client certificates are requested but no client CA is configured.
    #[error("client_auth = {mode:?} needs client_ca")]
    ClientCaMissing {
        /// The configured mode.
        mode: ClientAuth,
    },
    /// A client CA is configured but client certificates are not requested.
    #[error(
        "client_ca {} is set but client_auth is None; set client_auth to Optional or Required, or remove client_ca",
        path.display()
    )]
    ClientCaUnused {
        /// The file.
        path: PathBuf,
    },
    /// The crypto provider refused the configuration.
    #[error("TLS provider: {0}")]
    Provider(rustls::Error),
}

/// Builds the listener's rustls configuration (aws-lc-rs, safe default protocol
/// versions, ALPN `h2` and `http/1.1`) from `settings`, checking every file.
pub fn server_config(settings: &TlsSettings) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let resolver = Arc::new(SniResolver::load(settings, &provider)?);
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Provider)?;

    let builder = match (settings.client_auth, &settings.client_ca) {
        (ClientAuth::None, None) => builder.with_no_client_auth(),
        (ClientAuth::None, Some(path)) => {
            return Err(TlsError::ClientCaUnused { path: path.clone() });
        }
        (mode, None) => return Err(TlsError::ClientCaMissing { mode }),
        (mode, Some(path)) => {
            let roots = load_roots(path)?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if mode == ClientAuth::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier.build().map_err(|e| TlsError::ClientCa {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };

    let mut config = builder.with_cert_resolver(resolver);
    config.alpn_protocols = ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The workload identity of a TLS client from its certificate chain (leaf first, as
/// `ServerConnection::peer_certificates` returns it).
///
/// The chain is verified again as an X.509-SVID against the trust bundle of the trust
/// domain its SPIFFE ID names, so a client CA cannot vouch for another trust domain.
/// `Ok(None)`: no certificate, or one without a URI SAN (not a SPIFFE workload).
/// `Err`: a URI SAN that is not a valid SPIFFE ID, an untrusted trust domain, or a chain
/// that is not a valid SVID; the caller must not treat such a client as authenticated.
pub fn peer_identity(
    verifier: &SpiffeVerifier,
    certs: &[CertificateDer<'_>],
) -> Result<Option<Identity>, SpiffeError> {
    if certs.is_empty() {
        return Ok(None);
    }
    match verifier.verify(certs) {
        Ok(identity) => Ok(Some(identity)),
        Err(SpiffeError::SpiffeIdCount(0)) => {
            tracing::debug!("client certificate has no SPIFFE ID; no peer identity");
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

/// Picks the certificate by SNI name: exact host, then `*.parent` wildcard, then the
/// default certificate (also when the client sends no SNI).
#[derive(Debug)]
struct SniResolver {
    default: Arc<CertifiedKey>,
    /// Lowercase host names without a trailing dot.
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// Keyed by the parent domain: `example.com` for `*.example.com`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
}

impl SniResolver {
    fn load(settings: &TlsSettings, provider: &CryptoProvider) -> Result<Self, TlsError> {
        let default = Arc::new(load_certified_key(&settings.cert, &settings.key, provider)?);
        let mut exact = HashMap::new();
        let mut wildcard = HashMap::new();
        for entry in &settings.sni {
            let host = SniHost::parse(&entry.host)?;
            let key = load_certified_key(&entry.cert, &entry.key, provider)?;
            check_name(&key, &host, entry)?;
            let (map, name) = match host {
                SniHost::Exact(name) => (&mut exact, name),
                SniHost::Wildcard(parent) => (&mut wildcard, parent),
            };
            match map.entry(name) {
                Entry::Occupied(_) => {
                    return Err(TlsError::DuplicateHost {
                        host: normalise(&entry.host).into_owned(),
                    });
                }
                Entry::Vacant(slot) => {
                    slot.insert(Arc::new(key));
                }
            }
        }
        Ok(Self {
            default,
            exact,
            wildcard,
        })
    }

    fn lookup(&self, server_name: Option<&str>) -> &Arc<CertifiedKey> {
        let Some(name) = server_name else {
            return &self.default;
        };
        let name = normalise(name);
        if let Some(key) = self.exact.get(name.as_ref()) {
            return key;
        }
        if let Some((label, parent)) = name.split_once('.')
            && !label.is_empty()
            && let Some(key) = self.wildcard.get(parent)
        {
            return key;
        }
        &self.default
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(self.lookup(client_hello.server_name())))
    }
}

/// Lowercase, without one trailing dot.
fn normalise(name: &str) -> Cow<'_, str> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

/// A validated SNI entry host, normalised.
enum SniHost {
    Exact(String),
    /// The parent domain of a `*.` entry.
    Wildcard(String),
}

impl SniHost {
    fn parse(host: &str) -> Result<Self, TlsError> {
        let invalid = |reason| TlsError::InvalidHost {
            host: host.to_owned(),
            reason,
        };
        let name = normalise(host);
        let (wildcard, dns) = match name.strip_prefix("*.") {
            Some(parent) => (true, parent),
            None => (false, name.as_ref()),
        };
        if dns.contains('*') {
            return Err(invalid("only a whole first label `*.` may be a wildcard"));
        }
        match ServerName::try_from(dns) {
            Ok(ServerName::DnsName(_)) => {}
            Ok(_) => return Err(invalid("an IP address is never sent as SNI")),
            Err(_) => return Err(invalid("not a valid DNS name")),
        }
        if wildcard && !dns.contains('.') {
            return Err(invalid("a wildcard needs at least two labels after `*.`"));
        }
        Ok(if wildcard {
            Self::Wildcard(dns.to_owned())
        } else {
            Self::Exact(dns.to_owned())
        })
    }

    /// A name the certificate must be valid for: the host itself, or for a wildcard a
    /// name one label below the parent (only a `*.parent` certificate covers every one).
    fn probe(&self) -> String {
        match self {
            Self::Exact(name) => name.clone(),
            Self::Wildcard(parent) => format!("zt-wildcard-probe.{parent}"),
        }
    }
}

/// Checks that the leaf of `key` is valid for the SNI entry's host name.
fn check_name(key: &CertifiedKey, host: &SniHost, entry: &SniCert) -> Result<(), TlsError> {
    let mismatch = || TlsError::NameMismatch {
        host: entry.host.clone(),
        path: entry.cert.clone(),
    };
    let probe = host.probe();
    let name = ServerName::try_from(probe.as_str()).map_err(|_| mismatch())?;
    let leaf = key.cert.first().ok_or_else(|| TlsError::NoCertificate {
        path: entry.cert.clone(),
    })?;
    let parsed = ParsedCertificate::try_from(leaf).map_err(|e| TlsError::Certificate {
        path: entry.cert.clone(),
        reason: e.to_string(),
    })?;
    rustls::client::verify_server_name(&parsed, &name).map_err(|_| mismatch())
}

/// Loads a certificate chain and its key, and checks that they belong together.
fn load_certified_key(
    cert_path: &Path,
    key_path: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain = load_certs(cert_path)?;
    let key = load_key(key_path)?;
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError::Key {
            path: key_path.to_owned(),
            reason: e.to_string(),
        })?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) => Ok(certified),
        Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
            Err(TlsError::KeyMismatch {
                key: key_path.to_owned(),
                cert: cert_path.to_owned(),
            })
        }
        Err(rustls::Error::InconsistentKeys(_)) => {
            tracing::warn!(
                key = %key_path.display(),
                cert = %cert_path.display(),
                "cannot check that the key matches the certificate"
            );
            Ok(certified)
        }
        Err(e) => Err(TlsError::Certificate {
            path: cert_path.to_owned(),
            reason: e.to_string(),
        }),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn pem_error(path: &Path, error: pem::Error) -> TlsError {
    match error {
        pem::Error::Io(source) => TlsError::Read {
            path: path.to_owned(),
            source,
        },
        other => TlsError::Pem {
            path: path.to_owned(),
            reason: other.to_string(),
        },
    }
}

/// All certificates in a PEM file, in order; at least one.
fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::NoKey {
            path: path.to_owned(),
        },
        other => pem_error(path, other),
    })
}

/// The client CA certificates as a root store.
fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(path)? {
        roots.add(cert).map_err(|e| TlsError::ClientCa {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_names() {
        assert_eq!(normalise("Grafana.Example.COM."), "grafana.example.com");
        assert!(matches!(normalise("a.example.com"), Cow::Borrowed(_)));
    }

    #[test]
    fn parses_sni_hosts() {
        assert!(matches!(
            SniHost::parse("Grafana.example.com").unwrap(),
            SniHost::Exact(h) if h == "grafana.example.com"
        ));
        assert!(matches!(
            SniHost::parse("*.apps.example.com").unwrap(),
            SniHost::Wildcard(h) if h == "apps.example.com"
        ));
        for bad in [
            "",
            "*",
            "*.com",
            "a.*.example.com",
            "*a.example.com",
            "**.example.com",
            "10.0.0.1",
            "::1",
            "exa mple.com",
        ] {
            assert!(
                matches!(SniHost::parse(bad), Err(TlsError::InvalidHost { .. })),
                "{bad}"
            );
        }
    }
}
