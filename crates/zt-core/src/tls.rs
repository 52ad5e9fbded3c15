//! The TLS client configuration every outbound zt connection uses (IdP discovery, JWKS,
//! token endpoints): rustls with the aws-lc-rs provider, safe default protocol
//! versions, the platform's root certificates plus any extra roots.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why PEM material could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PemError {
    /// Not PEM, or a PEM block that does not parse (or the file cannot be read).
    #[error("not PEM: {0}")]
    Invalid(String),
    /// No certificate (or no private key) in it.
    #[error("no {0} in it")]
    Missing(&'static str),
}

/// Every certificate in PEM text; none is an error.
pub fn pem_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PemError::Invalid(e.to_string()))?;
    if certs.is_empty() {
        return Err(PemError::Missing("certificate"));
    }
    Ok(certs)
}

/// Every certificate in a PEM file; none is an error.
pub fn read_certificates(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let pem = std::fs::read(path).map_err(|e| PemError::Invalid(e.to_string()))?;
    pem_certificates(&pem)
}

/// The private key in PEM text (PKCS#8, PKCS#1 or SEC1).
pub fn pem_private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, PemError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => PemError::Missing("private key"),
        other => PemError::Invalid(other.to_string()),
    })
}

/// The platform's root certificates (those that fail to load are logged and skipped).
pub fn platform_roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::warn!(%error, "could not load some platform root certificates");
    }
    roots.add_parsable_certificates(native.certs);
    roots
}

/// A TLS client configuration trusting the platform's roots and `extra_roots`.
pub fn client_config(
    extra_roots: &[CertificateDer<'static>],
) -> Result<rustls::ClientConfig, rustls::Error> {
    let mut roots = platform_roots();
    roots.add_parsable_certificates(extra_roots.iter().cloned());
    client_config_with(roots, None)
}

/// A TLS client configuration trusting exactly `roots`, presenting `client_auth`'s
/// certificate chain and key when given.
pub fn client_config_with(
    roots: rustls::RootCertStore,
    client_auth: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    match client_auth {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key),
        None => Ok(builder.with_no_client_auth()),
    }
}
