//! X.509-SVIDs become workload identities only when the chain verifies against the trust
//! bundle of the SPIFFE ID's own trust domain and the leaf follows the X.509-SVID rules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls_pki_types::CertificateDer;
use zt_core::identity::{IdentityKind, SpiffeError, SpiffeVerifier, TrustBundle};

struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        Self {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    fn der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }
}

fn svid_params(uris: &[&str]) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::new()).unwrap();
    params.subject_alt_names = uris
        .iter()
        .map(|uri| SanType::URI((*uri).try_into().unwrap()))
        .collect();
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsagePurpose::ServerAuth,
    ];
    params
}

fn leaf(ca: &Ca, params: CertificateParams) -> CertificateDer<'static> {
    let key = KeyPair::generate().unwrap();
    params.signed_by(&key, ca.issuer()).unwrap().der().clone()
}

fn verifier(domain: &str, ca: &Ca) -> SpiffeVerifier {
    SpiffeVerifier::new([TrustBundle::new(domain, [ca.der()]).unwrap()])
}

#[test]
fn a_valid_svid_becomes_a_workload_identity() {
    let ca = Ca::new("example.org CA");
    let svid = leaf(&ca, svid_params(&["spiffe://example.org/ns/prod/sa/api"]));
    let identity = verifier("example.org", &ca).verify(&[svid]).unwrap();
    assert_eq!(identity.kind, IdentityKind::Workload);
    assert_eq!(identity.subject, "spiffe://example.org/ns/prod/sa/api");
    assert_eq!(identity.issuer, "spiffe://example.org");
    let id = identity.spiffe_id.unwrap();
    assert_eq!(
        (id.trust_domain(), id.path()),
        ("example.org", "/ns/prod/sa/api")
    );
}

#[test]
fn a_chain_through_an_intermediate_verifies() {
    let root = Ca::new("root");
    let mut params = CertificateParams::new(Vec::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "intermediate");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let intermediate = Ca {
        issuer: CertifiedIssuer::signed_by(params, KeyPair::generate().unwrap(), root.issuer())
            .unwrap(),
    };
    let svid = leaf(&intermediate, svid_params(&["spiffe://example.org/web"]));
    let verifier = verifier("example.org", &root);
    assert!(verifier.verify(&[svid.clone(), intermediate.der()]).is_ok());
    assert!(matches!(
        verifier.verify(&[svid]),
        Err(SpiffeError::Chain(_))
    ));
}

#[test]
fn a_bundle_only_vouches_for_its_own_trust_domain() {
    let ca = Ca::new("example.org CA");
    let other_domain = leaf(&ca, svid_params(&["spiffe://evil.org/api"]));
    assert!(matches!(
        verifier("example.org", &ca).verify(&[other_domain]),
        Err(SpiffeError::UntrustedDomain(domain)) if domain == "evil.org"
    ));
    // The other trust domain's bundle does not sign for example.org.
    let evil_ca = Ca::new("evil CA");
    let forged = leaf(&evil_ca, svid_params(&["spiffe://example.org/api"]));
    let verifier = SpiffeVerifier::new([
        TrustBundle::new("example.org", [ca.der()]).unwrap(),
        TrustBundle::new("evil.org", [evil_ca.der()]).unwrap(),
    ]);
    assert!(matches!(
        verifier.verify(&[forged]),
        Err(SpiffeError::Chain(_))
    ));
}

#[test]
fn exactly_one_spiffe_uri_san() {
    let ca = Ca::new("CA");
    let v = verifier("example.org", &ca);
    let none = leaf(&ca, svid_params(&[]));
    assert!(matches!(
        v.verify(&[none]),
        Err(SpiffeError::SpiffeIdCount(0))
    ));
    let two = leaf(
        &ca,
        svid_params(&["spiffe://example.org/a", "spiffe://example.org/b"]),
    );
    assert!(matches!(
        v.verify(&[two]),
        Err(SpiffeError::SpiffeIdCount(2))
    ));
    let https = leaf(&ca, svid_params(&["https://example.org/a"]));
    assert!(matches!(v.verify(&[https]), Err(SpiffeError::InvalidId(_))));
}

#[test]
fn ca_certificates_and_signing_key_usages_are_not_svids() {
    let ca = Ca::new("CA");
    let v = verifier("example.org", &ca);
    let mut as_ca = svid_params(&["spiffe://example.org/a"]);
    as_ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    assert!(
        matches!(v.verify(&[leaf(&ca, as_ca)]), Err(SpiffeError::Chain(e)) if e.contains("CaUsedAsEndEntity"))
    );

    let mut cert_sign = svid_params(&["spiffe://example.org/a"]);
    cert_sign.key_usages.push(KeyUsagePurpose::KeyCertSign);
    assert!(matches!(
        v.verify(&[leaf(&ca, cert_sign)]),
        Err(SpiffeError::NotLeaf(_))
    ));

    let mut no_signature = svid_params(&["spiffe://example.org/a"]);
    no_signature.key_usages = vec![KeyUsagePurpose::KeyEncipherment];
    assert!(matches!(
        v.verify(&[leaf(&ca, no_signature)]),
        Err(SpiffeError::NotLeaf(_))
    ));
}

#[test]
fn expired_and_server_only_svids_are_rejected() {
    let ca = Ca::new("CA");
    let v = verifier("example.org", &ca);
    let mut expired = svid_params(&["spiffe://example.org/a"]);
    expired.not_before = rcgen::date_time_ymd(2020, 1, 1);
    expired.not_after = rcgen::date_time_ymd(2021, 1, 1);
    assert!(matches!(
        v.verify(&[leaf(&ca, expired)]),
        Err(SpiffeError::Chain(_))
    ));

    let mut server_only = svid_params(&["spiffe://example.org/a"]);
    server_only.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    assert!(matches!(
        v.verify(&[leaf(&ca, server_only)]),
        Err(SpiffeError::Chain(_))
    ));
}

#[test]
fn bundles_load_from_pem_and_reject_garbage() {
    let ca = Ca::new("CA");
    let pem = ca.issuer.pem();
    let bundle = TrustBundle::from_pem("example.org", pem.as_bytes()).unwrap();
    assert_eq!(bundle.trust_domain(), "example.org");
    assert!(matches!(
        TrustBundle::from_pem("example.org", b""),
        Err(SpiffeError::Malformed(_))
    ));
    assert!(matches!(
        TrustBundle::new("Bad Domain", [ca.der()]),
        Err(SpiffeError::InvalidId(_))
    ));
    assert!(matches!(
        TrustBundle::new("example.org/path", [ca.der()]),
        Err(SpiffeError::InvalidId(_))
    ));
    assert!(matches!(
        TrustBundle::new("example.org", []),
        Err(SpiffeError::Malformed(_))
    ));
    assert!(matches!(
        SpiffeVerifier::default().verify(&[]),
        Err(SpiffeError::NoCertificate)
    ));
}

#[test]
fn bundles_of_one_trust_domain_are_merged_for_ca_rotation() {
    let old = Ca::new("old CA");
    let new = Ca::new("new CA");
    let verifier = SpiffeVerifier::new([
        TrustBundle::new("example.org", [old.der()]).unwrap(),
        TrustBundle::new("example.org", [new.der()]).unwrap(),
    ]);
    for ca in [&old, &new] {
        assert!(
            verifier
                .verify(&[leaf(ca, svid_params(&["spiffe://example.org/a"]))])
                .is_ok()
        );
    }
}
