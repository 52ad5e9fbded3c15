//! The TLS client configuration every outbound zt connection uses (IdP discovery, JWKS,
//! token endpoints): rustls with the aws-lc-rs provider, safe default protocol
//! versions, the platform's root certificates plus any extra roots.

use std::sync::Arc;

use rustls_pki_types::CertificateDer;

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
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
