//! SPIFFE workload identities from X.509-SVIDs.
//!
//! A chain is verified against the trust bundle of the trust domain named in the leaf's
//! SPIFFE ID (rustls-webpki path validation, client-auth usage), then checked against
//! the X.509-SVID rules: exactly one URI SAN, not a CA (webpki), `digitalSignature` set
//! and neither `keyCertSign` nor `cRLSign`.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use serde::Serialize;

use super::{Identity, IdentityKind, SpiffeError};

/// Longest SPIFFE ID accepted, per the SPIFFE ID specification.
const MAX_ID_BYTES: usize = 2048;
/// Longest trust domain name accepted.
const MAX_TRUST_DOMAIN_BYTES: usize = 255;

/// A SPIFFE ID, `spiffe://<trust domain>/<path>`, validated per the SPIFFE ID spec.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub struct SpiffeId {
    id: String,
    /// Byte length of `spiffe://<trust domain>`.
    domain_end: usize,
}

impl SpiffeId {
    const SCHEME: &'static str = "spiffe://";

    /// Parses and validates a SPIFFE ID.
    pub fn parse(id: &str) -> Result<Self, SpiffeError> {
        if id.len() > MAX_ID_BYTES {
            return Err(SpiffeError::InvalidId("longer than 2048 bytes"));
        }
        let rest = id
            .strip_prefix(Self::SCHEME)
            .ok_or(SpiffeError::InvalidId("scheme is not `spiffe://`"))?;
        let (domain, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if domain.is_empty() {
            return Err(SpiffeError::InvalidId("trust domain is empty"));
        }
        if domain.len() > MAX_TRUST_DOMAIN_BYTES {
            return Err(SpiffeError::InvalidId("trust domain is too long"));
        }
        if !domain.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
        }) {
            return Err(SpiffeError::InvalidId(
                "trust domain may only hold lowercase letters, digits, `.`, `-` and `_`",
            ));
        }
        if !path.is_empty() {
            for segment in path[1..].split('/') {
                if segment.is_empty() {
                    return Err(SpiffeError::InvalidId(
                        "path has an empty segment or trailing `/`",
                    ));
                }
                if segment == "." || segment == ".." {
                    return Err(SpiffeError::InvalidId("path has a `.` or `..` segment"));
                }
                if !segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
                {
                    return Err(SpiffeError::InvalidId(
                        "path may only hold letters, digits, `.`, `-` and `_`",
                    ));
                }
            }
        }
        Ok(Self {
            id: id.to_owned(),
            domain_end: Self::SCHEME.len() + domain.len(),
        })
    }

    /// The trust domain, e.g. `example.org`.
    pub fn trust_domain(&self) -> &str {
        &self.id[Self::SCHEME.len()..self.domain_end]
    }

    /// The path, e.g. `/ns/prod/sa/api` (empty for the trust domain's own ID).
    pub fn path(&self) -> &str {
        &self.id[self.domain_end..]
    }

    /// The whole ID.
    pub fn as_str(&self) -> &str {
        &self.id
    }
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

impl FromStr for SpiffeId {
    type Err = SpiffeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl From<SpiffeId> for String {
    fn from(id: SpiffeId) -> Self {
        id.id
    }
}

/// The CA certificates that sign X.509-SVIDs of one trust domain.
#[derive(Clone, Debug)]
pub struct TrustBundle {
    trust_domain: String,
    anchors: Vec<TrustAnchor<'static>>,
}

impl TrustBundle {
    /// A bundle from DER-encoded CA certificates.
    pub fn new(
        trust_domain: impl Into<String>,
        roots: impl IntoIterator<Item = CertificateDer<'static>>,
    ) -> Result<Self, SpiffeError> {
        let trust_domain = trust_domain.into();
        if !SpiffeId::parse(&format!("spiffe://{trust_domain}"))?
            .path()
            .is_empty()
        {
            return Err(SpiffeError::InvalidId("a trust domain has no path"));
        }
        let anchors = roots
            .into_iter()
            .map(|root| {
                webpki::anchor_from_trusted_cert(&root)
                    .map(|anchor| anchor.to_owned())
                    .map_err(|e| SpiffeError::Malformed(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if anchors.is_empty() {
            return Err(SpiffeError::Malformed(format!(
                "trust bundle of `{trust_domain}` holds no certificate"
            )));
        }
        Ok(Self {
            trust_domain,
            anchors,
        })
    }

    /// A bundle from PEM text holding one or more CA certificates.
    pub fn from_pem(trust_domain: impl Into<String>, pem: &[u8]) -> Result<Self, SpiffeError> {
        let roots = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SpiffeError::Malformed(e.to_string()))?;
        Self::new(trust_domain, roots)
    }

    /// The trust domain this bundle is for.
    pub fn trust_domain(&self) -> &str {
        &self.trust_domain
    }
}

/// Verifies X.509-SVID chains against per-trust-domain bundles.
#[derive(Clone, Debug, Default)]
pub struct SpiffeVerifier {
    bundles: HashMap<String, TrustBundle>,
}

impl SpiffeVerifier {
    /// A verifier trusting these bundles. Bundles for the same trust domain are merged
    /// (e.g. the old and the new CA during a rotation).
    pub fn new(bundles: impl IntoIterator<Item = TrustBundle>) -> Self {
        let mut merged: HashMap<String, TrustBundle> = HashMap::new();
        for bundle in bundles {
            match merged.get_mut(&bundle.trust_domain) {
                Some(existing) => existing.anchors.extend(bundle.anchors),
                None => {
                    merged.insert(bundle.trust_domain.clone(), bundle);
                }
            }
        }
        Self { bundles: merged }
    }

    /// Verifies `chain` (leaf first, then intermediates) for client authentication now.
    pub fn verify(&self, chain: &[CertificateDer<'_>]) -> Result<Identity, SpiffeError> {
        self.verify_at(chain, UnixTime::now())
    }

    /// Verifies `chain` as of `now`.
    pub fn verify_at(
        &self,
        chain: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<Identity, SpiffeError> {
        let (leaf_der, intermediates) = chain.split_first().ok_or(SpiffeError::NoCertificate)?;
        let leaf = LeafFacts::read(leaf_der)?;
        let id = SpiffeId::parse(&leaf.uri)?;
        let bundle = self
            .bundles
            .get(id.trust_domain())
            .ok_or_else(|| SpiffeError::UntrustedDomain(id.trust_domain().to_owned()))?;

        webpki::EndEntityCert::try_from(leaf_der)
            .map_err(|e| SpiffeError::Malformed(e.to_string()))?
            .verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &bundle.anchors,
                intermediates,
                now,
                webpki::KeyUsage::client_auth(),
                None,
                None,
            )
            .map_err(|e| SpiffeError::Chain(e.to_string()))?;

        let expires_at = Timestamp::from_second(leaf.not_after)
            .map_err(|_| SpiffeError::Malformed("notAfter is out of range".into()))?;
        let mut identity = Identity::new(
            IdentityKind::Workload,
            id.as_str(),
            format!("spiffe://{}", id.trust_domain()),
            expires_at,
        );
        identity.spiffe_id = Some(id);
        Ok(identity)
    }
}

/// What the X.509-SVID rules need from the leaf, beyond what path validation checks.
struct LeafFacts {
    /// The one URI SAN.
    uri: String,
    /// `notAfter`, Unix seconds.
    not_after: i64,
}

impl LeafFacts {
    /// Reads the leaf strictly: exactly one URI SAN (any unparsable SAN is an error),
    /// `digitalSignature` set, neither `keyCertSign` nor `cRLSign`.
    fn read(der: &[u8]) -> Result<Self, SpiffeError> {
        let malformed = |e: &dyn fmt::Display| SpiffeError::Malformed(e.to_string());
        let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| malformed(&e))?;

        let sans = cert.subject_alternative_name().map_err(|e| malformed(&e))?;
        let uris: Vec<&str> = sans
            .iter()
            .flat_map(|san| &san.value.general_names)
            .filter_map(|name| match name {
                x509_parser::extensions::GeneralName::URI(uri) => Some(*uri),
                _ => None,
            })
            .collect();
        let [uri] = uris.as_slice() else {
            return Err(SpiffeError::SpiffeIdCount(uris.len()));
        };

        let usage = cert
            .key_usage()
            .map_err(|e| malformed(&e))?
            .ok_or(SpiffeError::NotLeaf("it has no key usage extension"))?;
        if !usage.value.digital_signature() {
            return Err(SpiffeError::NotLeaf("digitalSignature is not set"));
        }
        if usage.value.key_cert_sign() || usage.value.crl_sign() {
            return Err(SpiffeError::NotLeaf("keyCertSign or cRLSign is set"));
        }
        Ok(Self {
            uri: (*uri).to_owned(),
            not_after: cert.validity().not_after.timestamp(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_ids() {
        let id = SpiffeId::parse("spiffe://example.org/ns/prod/sa/api").unwrap();
        assert_eq!(id.trust_domain(), "example.org");
        assert_eq!(id.path(), "/ns/prod/sa/api");
        assert_eq!(SpiffeId::parse("spiffe://td").unwrap().path(), "");
    }

    #[test]
    fn rejects_invalid_ids() {
        for bad in [
            "http://example.org/a",
            "SPIFFE://example.org/a",
            "spiffe://",
            "spiffe:///a",
            "spiffe://Example.org/a",
            "spiffe://user@example.org/a",
            "spiffe://example.org:443/a",
            "spiffe://example.org/a/",
            "spiffe://example.org//a",
            "spiffe://example.org/./a",
            "spiffe://example.org/a/..",
            "spiffe://example.org/a?b",
            "spiffe://example.org/a#b",
            "spiffe://example.org/a%20b",
        ] {
            assert!(SpiffeId::parse(bad).is_err(), "{bad}");
        }
        assert!(SpiffeId::parse(&format!("spiffe://td/{}", "a".repeat(2100))).is_err());
    }
}
