//! Which Kubernetes user a verified identity is: the claim mapping shared by the
//! TokenReview webhook (`status.user`) and the kube proxy (`Impersonate-*` headers).
//!
//! The rules follow kube-apiserver's OpenID Connect flags (`--oidc-username-claim`,
//! `--oidc-username-prefix`, `--oidc-groups-claim`, `--oidc-groups-prefix`), so a cluster
//! moving between its built-in OIDC authenticator and zt sees the same user names:
//!
//! - the user name comes from `username_claim` (default `sub`);
//! - unless a prefix is set, every user name claim other than `email` is prefixed with
//!   the issuer URL and `#` (`https://idp.example.com#1234`), so names from different
//!   issuers and from other authenticators cannot collide; the prefix `-` disables all
//!   prefixing;
//! - with `username_claim = "email"`, a present `email_verified` claim must be `true`;
//! - groups come from `groups_claim`, a string or an array of strings, each prefixed
//!   with `groups_prefix`.
//!
//! ```
//! use zt_core::identity::{Identity, IdentityKind};
//! use zt_kube::user::UserMapping;
//!
//! let mut identity = Identity::new(
//!     IdentityKind::User,
//!     "1234",
//!     "https://idp.example.com",
//!     "2030-01-01T00:00:00Z".parse()?,
//! );
//! identity.claims = serde_json::json!({"sub": "1234", "groups": ["eng"]})
//!     .as_object()
//!     .cloned()
//!     .unwrap_or_default();
//! let user = UserMapping::default().groups_prefix("oidc:").kube_user(&identity)?;
//! assert_eq!(user.username, "https://idp.example.com#1234");
//! assert_eq!(user.groups, ["oidc:eng"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use zt_core::identity::{ClaimPath, Identity};

/// The user name prefix that disables prefixing (`--oidc-username-prefix=-`).
pub const NO_PREFIX: &str = "-";

/// Names starting with this are Kubernetes' own (`system:masters`, `system:anonymous`,
/// `system:serviceaccount:...`); a mapped user or group never may.
pub const RESERVED_PREFIX: &str = "system:";

/// How a verified identity's claims become a Kubernetes user (see the
/// [module documentation](self) for the rules).
///
/// Deserializes from configuration with every field optional:
/// `{"username_claim": "email", "groups_claim": "groups", "groups_prefix": "oidc:"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct UserMapping {
    /// The claim holding the user name (`--oidc-username-claim`, default `sub`). A dotted
    /// path reaches into nested claims.
    pub username_claim: ClaimPath,
    /// Prepended to the user name (`--oidc-username-prefix`). `None` (or empty): the
    /// issuer URL and `#` for every claim but `email`; [`NO_PREFIX`] (`-`): none.
    pub username_prefix: Option<String>,
    /// The claim holding the groups, a string or an array of strings
    /// (`--oidc-groups-claim`, default `groups`); `None`: no groups.
    pub groups_claim: Option<ClaimPath>,
    /// Prepended to every group name (`--oidc-groups-prefix`); `None`: none.
    pub groups_prefix: Option<String>,
    /// The claim holding the user's uid (`claimMappings.uid` of kube-apiserver's
    /// structured authentication configuration); `None` (default): no uid.
    pub uid_claim: Option<ClaimPath>,
    /// `extra` keys and the claims (a string or an array of strings) that fill them. Keys
    /// must be lower-case, domain-prefixed paths (`example.com/tenant`), as Kubernetes
    /// requires; a claim the token lacks leaves its key out.
    pub extra_claims: BTreeMap<String, ClaimPath>,
}

impl Default for UserMapping {
    fn default() -> Self {
        Self {
            username_claim: ClaimPath::new("sub"),
            username_prefix: None,
            groups_claim: Some(ClaimPath::new("groups")),
            groups_prefix: None,
            uid_claim: None,
            extra_claims: BTreeMap::new(),
        }
    }
}

/// A Kubernetes user: what a TokenReview answers in `status.user` and what the proxy
/// impersonates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct KubeUser {
    /// The user name (`Impersonate-User`).
    pub username: String,
    /// The uid (`Impersonate-Uid`), if mapped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// The groups (`Impersonate-Group`), prefixed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Extra attributes (`Impersonate-Extra-<key>`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Vec<String>>,
}

/// Why an identity has no Kubernetes user.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MappingError {
    /// A claim the mapping needs is absent (or `null`).
    #[error("the token lacks the claim `{0}`")]
    MissingClaim(String),
    /// A claim has the wrong type.
    #[error("the claim `{claim}` is not {expected}")]
    InvalidClaim {
        /// The claim's name (or path).
        claim: String,
        /// What it should have been.
        expected: &'static str,
    },
    /// The user name claim is an empty string.
    #[error("the user name claim `{0}` is empty")]
    EmptyUsername(String),
    /// `username_claim` is `email` and the token says the address is not verified.
    #[error("the e-mail address is not verified")]
    EmailNotVerified,
    /// The mapped user or a group name starts with `system:`.
    #[error("the mapped name `{0}` is reserved for Kubernetes (`system:` prefix)")]
    Reserved(String),
    /// An `extra_claims` key is not a lower-case, domain-prefixed path.
    #[error("the extra key `{0}` is not a lower-case, domain-prefixed path")]
    InvalidExtraKey(String),
}

impl UserMapping {
    /// The user name from this claim.
    #[must_use]
    pub fn username_claim(mut self, claim: impl Into<String>) -> Self {
        self.username_claim = ClaimPath::new(claim);
        self
    }

    /// Prefixes user names with this ([`NO_PREFIX`] disables the issuer prefix).
    #[must_use]
    pub fn username_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.username_prefix = Some(prefix.into());
        self
    }

    /// Groups from this claim.
    #[must_use]
    pub fn groups_claim(mut self, claim: impl Into<String>) -> Self {
        self.groups_claim = Some(ClaimPath::new(claim));
        self
    }

    /// No groups at all.
    #[must_use]
    pub fn without_groups(mut self) -> Self {
        self.groups_claim = None;
        self
    }

    /// Prefixes group names with this.
    #[must_use]
    pub fn groups_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.groups_prefix = Some(prefix.into());
        self
    }

    /// The uid from this claim (which then must be present).
    #[must_use]
    pub fn uid_claim(mut self, claim: impl Into<String>) -> Self {
        self.uid_claim = Some(ClaimPath::new(claim));
        self
    }

    /// Fills the `extra` key `key` from `claim`.
    #[must_use]
    pub fn extra_claim(mut self, key: impl Into<String>, claim: impl Into<String>) -> Self {
        self.extra_claims.insert(key.into(), ClaimPath::new(claim));
        self
    }

    /// The prefix user names get for an identity from `issuer`.
    pub fn effective_username_prefix(&self, issuer: &str) -> String {
        match self.username_prefix.as_deref() {
            Some(NO_PREFIX) => String::new(),
            Some(prefix) if !prefix.is_empty() => prefix.to_owned(),
            _ if self.username_claim.as_str() == "email" => String::new(),
            _ => format!("{issuer}#"),
        }
    }

    /// Checks the parts of the mapping that do not depend on a token (the `extra` keys).
    pub fn validate(&self) -> Result<(), MappingError> {
        for key in self.extra_claims.keys() {
            if !valid_extra_key(key) {
                return Err(MappingError::InvalidExtraKey(key.clone()));
            }
        }
        Ok(())
    }

    /// The Kubernetes user `identity` is, by this mapping.
    ///
    /// The claims are read from [`Identity::claims`]; for an identity without claims (a
    /// SPIFFE workload), `sub` is its subject.
    pub fn kube_user(&self, identity: &Identity) -> Result<KubeUser, MappingError> {
        self.validate()?;
        let claim = self.username_claim.as_str();
        let name = match lookup(identity, &self.username_claim) {
            // A workload identity (SPIFFE) has no claims: its subject is its name.
            None if identity.claims.is_empty() && claim == "sub" => identity.subject.clone(),
            None => return Err(MappingError::MissingClaim(claim.to_owned())),
            Some(Value::String(name)) if name.is_empty() => {
                return Err(MappingError::EmptyUsername(claim.to_owned()));
            }
            Some(Value::String(name)) => name.clone(),
            Some(_) => return Err(invalid(claim, "a string")),
        };
        if claim == "email" {
            match identity.claims.get("email_verified") {
                None | Some(Value::Null) | Some(Value::Bool(true)) => {}
                Some(Value::Bool(false)) => return Err(MappingError::EmailNotVerified),
                Some(_) => return Err(invalid("email_verified", "a boolean")),
            }
        }
        let username = format!("{}{name}", self.effective_username_prefix(&identity.issuer));
        reject_reserved(&username)?;

        let uid = match &self.uid_claim {
            None => None,
            Some(path) => match lookup(identity, path) {
                None => return Err(MappingError::MissingClaim(path.as_str().to_owned())),
                Some(Value::String(uid)) => Some(uid.clone()),
                Some(_) => return Err(invalid(path.as_str(), "a string")),
            },
        };

        let prefix = self.groups_prefix.as_deref().unwrap_or("");
        let mut groups = Vec::new();
        if let Some(path) = &self.groups_claim {
            for group in strings(identity, path)? {
                let group = format!("{prefix}{group}");
                reject_reserved(&group)?;
                if !groups.contains(&group) {
                    groups.push(group);
                }
            }
        }

        let mut extra = BTreeMap::new();
        for (key, path) in &self.extra_claims {
            let values = strings(identity, path)?;
            if !values.is_empty() {
                extra.insert(key.clone(), values);
            }
        }
        Ok(KubeUser {
            username,
            uid,
            groups,
            extra,
        })
    }
}

/// The claim at `path`; `null` counts as absent.
fn lookup<'a>(identity: &'a Identity, path: &ClaimPath) -> Option<&'a Value> {
    path.lookup(&identity.claims)
        .filter(|value| !value.is_null())
}

/// A string or array of strings; absent is empty.
fn strings(identity: &Identity, path: &ClaimPath) -> Result<Vec<String>, MappingError> {
    let expected = "a string or an array of strings";
    match lookup(identity, path) {
        None => Ok(Vec::new()),
        Some(Value::String(value)) => Ok(vec![value.clone()]),
        Some(Value::Array(values)) => values
            .iter()
            .map(|value| {
                value
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid(path.as_str(), expected))
            })
            .collect(),
        Some(_) => Err(invalid(path.as_str(), expected)),
    }
}

fn invalid(claim: &str, expected: &'static str) -> MappingError {
    MappingError::InvalidClaim {
        claim: claim.to_owned(),
        expected,
    }
}

fn reject_reserved(name: &str) -> Result<(), MappingError> {
    if name.starts_with(RESERVED_PREFIX) {
        return Err(MappingError::Reserved(name.to_owned()));
    }
    Ok(())
}

/// `example.com/key`: a lower-case DNS name, `/`, and a non-empty lower-case path.
fn valid_extra_key(key: &str) -> bool {
    let Some((domain, path)) = key.split_once('/') else {
        return false;
    };
    let label = |label: &str| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    domain.contains('.')
        && domain.split('.').all(label)
        && !path.is_empty()
        && path.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.' | b'/')
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use zt_core::identity::IdentityKind;

    use super::*;

    const ISSUER: &str = "https://idp.example.com";

    fn identity(claims: Value) -> Identity {
        let mut identity = Identity::new(
            IdentityKind::User,
            "1234",
            ISSUER,
            "2030-01-01T00:00:00Z".parse().unwrap(),
        );
        identity.claims = claims.as_object().cloned().unwrap();
        identity
    }

    fn jane() -> Identity {
        identity(json!({
            "iss": ISSUER,
            "sub": "1234",
            "email": "jane@example.com",
            "email_verified": true,
            "name": "Jane Doe",
            "preferred_username": "jane",
            "groups": ["engineering", "infra"],
            "tenant": "blue",
        }))
    }

    #[test]
    fn sub_is_prefixed_with_the_issuer_by_default() {
        let user = UserMapping::default().kube_user(&jane()).unwrap();
        assert_eq!(user.username, "https://idp.example.com#1234");
        assert_eq!(user.groups, ["engineering", "infra"]);
        assert_eq!(user.uid, None);
        assert!(user.extra.is_empty());
    }

    #[test]
    fn every_claim_but_email_gets_the_issuer_prefix() {
        let name = UserMapping::default().username_claim("preferred_username");
        assert_eq!(
            name.kube_user(&jane()).unwrap().username,
            "https://idp.example.com#jane"
        );
        let email = UserMapping::default().username_claim("email");
        assert_eq!(
            email.kube_user(&jane()).unwrap().username,
            "jane@example.com"
        );
    }

    #[test]
    fn an_explicit_prefix_replaces_the_issuer_prefix() {
        let oidc = UserMapping::default()
            .username_claim("email")
            .username_prefix("oidc:");
        assert_eq!(
            oidc.kube_user(&jane()).unwrap().username,
            "oidc:jane@example.com"
        );
        let sub = UserMapping::default().username_prefix("oidc:");
        assert_eq!(sub.kube_user(&jane()).unwrap().username, "oidc:1234");
        // An empty prefix is the same as none given (the flag's default).
        let empty = UserMapping::default().username_prefix("");
        assert_eq!(
            empty.kube_user(&jane()).unwrap().username,
            "https://idp.example.com#1234"
        );
    }

    #[test]
    fn dash_disables_prefixing() {
        let mapping = UserMapping::default()
            .username_claim("preferred_username")
            .username_prefix(NO_PREFIX);
        assert_eq!(mapping.kube_user(&jane()).unwrap().username, "jane");
        assert_eq!(mapping.effective_username_prefix(ISSUER), "");
    }

    #[test]
    fn groups_are_prefixed_and_may_be_a_single_string() {
        let mapping = UserMapping::default().groups_prefix("oidc:");
        assert_eq!(
            mapping.kube_user(&jane()).unwrap().groups,
            ["oidc:engineering", "oidc:infra"]
        );
        let single = identity(json!({"sub": "1", "roles": "admin"}));
        let roles = UserMapping::default().groups_claim("roles");
        assert_eq!(roles.kube_user(&single).unwrap().groups, ["admin"]);
        // An absent groups claim is no groups; a mapping without one ignores the claim.
        let none = identity(json!({"sub": "1"}));
        assert!(
            UserMapping::default()
                .kube_user(&none)
                .unwrap()
                .groups
                .is_empty()
        );
        let ignored = UserMapping::default().without_groups();
        assert!(ignored.kube_user(&jane()).unwrap().groups.is_empty());
    }

    #[test]
    fn nested_claims_are_reachable() {
        let keycloak = identity(json!({
            "sub": "1",
            "realm_access": {"roles": ["dev", "dev"]},
        }));
        let mapping = UserMapping::default().groups_claim("realm_access.roles");
        // Duplicates collapse.
        assert_eq!(mapping.kube_user(&keycloak).unwrap().groups, ["dev"]);
    }

    #[test]
    fn ill_typed_or_missing_claims_are_errors() {
        let mapping = UserMapping::default().username_claim("email");
        assert_eq!(
            mapping.kube_user(&identity(json!({"sub": "1"}))),
            Err(MappingError::MissingClaim("email".into()))
        );
        assert_eq!(
            mapping.kube_user(&identity(json!({"sub": "1", "email": null}))),
            Err(MappingError::MissingClaim("email".into()))
        );
        assert!(matches!(
            mapping.kube_user(&identity(json!({"sub": "1", "email": 7}))),
            Err(MappingError::InvalidClaim { .. })
        ));
        assert_eq!(
            mapping.kube_user(&identity(json!({"sub": "1", "email": ""}))),
            Err(MappingError::EmptyUsername("email".into()))
        );
        assert!(matches!(
            UserMapping::default().kube_user(&identity(json!({"sub": "1", "groups": [1, 2]}))),
            Err(MappingError::InvalidClaim { .. })
        ));
        assert!(matches!(
            UserMapping::default().kube_user(&identity(json!({"sub": "1", "groups": {"a": 1}}))),
            Err(MappingError::InvalidClaim { .. })
        ));
    }

    #[test]
    fn an_unverified_email_is_refused_as_user_name() {
        let mapping = UserMapping::default().username_claim("email");
        let unverified =
            identity(json!({"sub": "1", "email": "j@example.com", "email_verified": false}));
        assert_eq!(
            mapping.kube_user(&unverified),
            Err(MappingError::EmailNotVerified)
        );
        // Absent `email_verified` is accepted, as by kube-apiserver.
        let silent = identity(json!({"sub": "1", "email": "j@example.com"}));
        assert_eq!(
            mapping.kube_user(&silent).unwrap().username,
            "j@example.com"
        );
        let odd = identity(json!({"sub": "1", "email": "j@example.com", "email_verified": "yes"}));
        assert!(matches!(
            mapping.kube_user(&odd),
            Err(MappingError::InvalidClaim { .. })
        ));
        // Other claims do not care.
        assert!(UserMapping::default().kube_user(&unverified).is_ok());
    }

    #[test]
    fn system_names_are_reserved() {
        let mapping = UserMapping::default()
            .username_claim("preferred_username")
            .username_prefix(NO_PREFIX);
        let root = identity(json!({"sub": "1", "preferred_username": "system:admin"}));
        assert_eq!(
            mapping.kube_user(&root),
            Err(MappingError::Reserved("system:admin".into()))
        );
        let masters = identity(json!({"sub": "1", "groups": ["system:masters"]}));
        assert_eq!(
            UserMapping::default().kube_user(&masters),
            Err(MappingError::Reserved("system:masters".into()))
        );
        // A prefix keeps such groups out of Kubernetes' namespace.
        let prefixed = UserMapping::default().groups_prefix("oidc:");
        assert_eq!(
            prefixed.kube_user(&masters).unwrap().groups,
            ["oidc:system:masters"]
        );
    }

    #[test]
    fn uid_and_extra() {
        let mapping = UserMapping::default()
            .uid_claim("sub")
            .extra_claim("example.com/tenant", "tenant")
            .extra_claim("example.com/roles", "roles");
        let user = mapping.kube_user(&jane()).unwrap();
        assert_eq!(user.uid.as_deref(), Some("1234"));
        assert_eq!(
            user.extra,
            BTreeMap::from([("example.com/tenant".to_owned(), vec!["blue".to_owned()])])
        );
        let missing = UserMapping::default().uid_claim("oid");
        assert_eq!(
            missing.kube_user(&jane()),
            Err(MappingError::MissingClaim("oid".into()))
        );
        for key in [
            "tenant",
            "Example.com/tenant",
            "example.com/",
            "example.com/Tenant",
            "/x",
        ] {
            let bad = UserMapping::default().extra_claim(key, "tenant");
            assert_eq!(
                bad.kube_user(&jane()),
                Err(MappingError::InvalidExtraKey(key.into())),
                "{key}"
            );
        }
    }

    #[test]
    fn workloads_without_claims_use_their_subject() {
        let workload = Identity::new(
            IdentityKind::Workload,
            "spiffe://example.org/ns/ci/sa/deployer",
            "spiffe://example.org",
            "2030-01-01T00:00:00Z".parse().unwrap(),
        );
        let user = UserMapping::default()
            .username_prefix("spiffe:")
            .kube_user(&workload)
            .unwrap();
        assert_eq!(
            user.username,
            "spiffe:spiffe://example.org/ns/ci/sa/deployer"
        );
    }

    #[test]
    fn deserializes_from_configuration() {
        let mapping: UserMapping = serde_json::from_value(json!({
            "username_claim": "email",
            "groups_prefix": "oidc:",
        }))
        .unwrap();
        assert_eq!(
            mapping,
            UserMapping::default()
                .username_claim("email")
                .groups_prefix("oidc:")
        );
        assert!(serde_json::from_value::<UserMapping>(json!({"username": "email"})).is_err());
    }

    #[test]
    fn kube_user_serializes_like_user_info() {
        let user = UserMapping::default().kube_user(&jane()).unwrap();
        assert_eq!(
            serde_json::to_value(&user).unwrap(),
            json!({"username": "https://idp.example.com#1234", "groups": ["engineering", "infra"]})
        );
    }
}
