//! The verified caller.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value};

use super::SpiffeId;

/// Whether an identity is a person or a workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum IdentityKind {
    /// A person, authenticated by an OpenID provider.
    User,
    /// A workload, e.g. authenticated by a SPIFFE X.509-SVID.
    Workload,
}

/// A caller whose credentials have been verified.
///
/// Built only by [`Verifier`](super::Verifier) and [`SpiffeVerifier`](super::SpiffeVerifier)
/// or, for tests and custom authenticators, [`Identity::new`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Identity {
    /// Person or workload.
    pub kind: IdentityKind,
    /// The issuer-scoped subject (`sub`, or the SPIFFE ID for workloads).
    pub subject: String,
    /// The issuer that vouched for this identity (`iss`, or `spiffe://<trust domain>`).
    pub issuer: String,
    /// The user name from the issuer's username claim mapping, if present.
    pub username: Option<String>,
    /// The e-mail address from the issuer's email claim mapping, if present.
    pub email: Option<String>,
    /// Whether the issuer says it verified the e-mail address (`email_verified`).
    pub email_verified: bool,
    /// Group names from the issuer's groups claim mapping (string or array).
    pub groups: Vec<String>,
    /// All claims of the verified token (empty for workloads).
    pub claims: Map<String, Value>,
    /// The SPIFFE ID of a workload.
    pub spiffe_id: Option<SpiffeId>,
    /// When the user authenticated at the issuer (`auth_time`).
    pub auth_time: Option<Timestamp>,
    /// When the credential stops being valid (`exp`, or the SVID's `notAfter`).
    pub expires_at: Timestamp,
    /// The issuer's session id (`sid`), linking the identity to a login session.
    pub session_id: Option<String>,
}

impl Identity {
    /// An identity with the given kind, subject, issuer and expiry, and nothing else.
    pub fn new(
        kind: IdentityKind,
        subject: impl Into<String>,
        issuer: impl Into<String>,
        expires_at: Timestamp,
    ) -> Self {
        Self {
            kind,
            subject: subject.into(),
            issuer: issuer.into(),
            username: None,
            email: None,
            email_verified: false,
            groups: Vec::new(),
            claims: Map::new(),
            spiffe_id: None,
            auth_time: None,
            expires_at,
            session_id: None,
        }
    }

    /// Whether the identity is in the named group.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}
