//! Per-issuer configuration and claim validation.

use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::{Algorithm, ClaimPath, Identity, IdentityKind, VerifyError};

/// Where an issuer's signing keys come from.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwksSource {
    /// OIDC discovery: `{issuer}/.well-known/openid-configuration` names the `jwks_uri`.
    Discovery,
    /// A JWKS document at this URL (HTTPS, or HTTP on a loopback address).
    Url(String),
    /// A JWKS document in this file, re-read on every refresh.
    File(PathBuf),
    /// A JWKS document given inline; never refreshed.
    Inline(String),
}

impl std::fmt::Debug for JwksSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Discovery => f.write_str("Discovery"),
            // URLs may carry credentials in userinfo or query.
            Self::Url(url) => f
                .debug_tuple("Url")
                .field(&super::fetch::redacted(url))
                .finish(),
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Inline(json) => write!(f, "Inline({} bytes)", json.len()),
        }
    }
}

/// Which claims carry the user name, e-mail address and groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimMapping {
    /// User name claim (default `preferred_username`).
    pub username: ClaimPath,
    /// E-mail claim (default `email`).
    pub email: ClaimPath,
    /// Groups claim, a string or an array of strings (default `groups`).
    pub groups: ClaimPath,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self {
            username: ClaimPath::new("preferred_username"),
            email: ClaimPath::new("email"),
            groups: ClaimPath::new("groups"),
        }
    }
}

/// How to trust one token issuer.
///
/// Start from [`discover`](Self::discover), [`jwks_url`](Self::jwks_url),
/// [`jwks_file`](Self::jwks_file) or [`jwks_inline`](Self::jwks_inline), then name at
/// least one audience. Defaults: every asymmetric algorithm, 60 s leeway, keys refreshed
/// every 10 min and at most every 30 s on an unknown `kid`, last good keys kept for 24 h
/// while the issuer is unreachable.
#[derive(Clone, Debug)]
pub struct IssuerConfig {
    pub(crate) issuer: String,
    pub(crate) source: JwksSource,
    pub(crate) audiences: Vec<String>,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) leeway: Duration,
    pub(crate) claims: ClaimMapping,
    pub(crate) required_claims: Vec<(ClaimPath, Option<Value>)>,
    pub(crate) refresh_interval: Duration,
    pub(crate) min_refresh_interval: Duration,
    pub(crate) keep_stale_keys_for: Duration,
    pub(crate) http_timeout: Duration,
}

impl IssuerConfig {
    fn new(issuer: impl Into<String>, source: JwksSource) -> Self {
        Self {
            issuer: issuer.into(),
            source,
            audiences: Vec::new(),
            algorithms: Algorithm::ALL.to_vec(),
            leeway: Duration::from_secs(60),
            claims: ClaimMapping::default(),
            required_claims: Vec::new(),
            refresh_interval: Duration::from_secs(600),
            min_refresh_interval: Duration::from_secs(30),
            keep_stale_keys_for: Duration::from_secs(24 * 3600),
            http_timeout: Duration::from_secs(10),
        }
    }

    /// An issuer whose keys are found through OIDC discovery.
    pub fn discover(issuer: impl Into<String>) -> Self {
        Self::new(issuer, JwksSource::Discovery)
    }

    /// An issuer whose JWKS is served at `url`.
    pub fn jwks_url(issuer: impl Into<String>, url: impl Into<String>) -> Self {
        Self::new(issuer, JwksSource::Url(url.into()))
    }

    /// An issuer whose JWKS is kept in a file.
    pub fn jwks_file(issuer: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Self::new(issuer, JwksSource::File(path.into()))
    }

    /// An issuer whose JWKS is given as JSON text.
    pub fn jwks_inline(issuer: impl Into<String>, jwks_json: impl Into<String>) -> Self {
        Self::new(issuer, JwksSource::Inline(jwks_json.into()))
    }

    /// The issuer identifier, compared exactly with a token's `iss`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Accepts tokens whose `aud` contains `audience` (call once per audience).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Restricts the accepted signature algorithms.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Clock skew tolerated for `exp`, `nbf` and `iat`.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Which claims carry user name, e-mail and groups.
    pub fn claim_mapping(mut self, mapping: ClaimMapping) -> Self {
        self.claims = mapping;
        self
    }

    /// Rejects tokens that lack `claim`.
    pub fn require_claim(mut self, claim: impl Into<ClaimPath>) -> Self {
        self.required_claims.push((claim.into(), None));
        self
    }

    /// Rejects tokens whose `claim` is absent or not equal to `value`.
    pub fn require_claim_value(mut self, claim: impl Into<ClaimPath>, value: Value) -> Self {
        self.required_claims.push((claim.into(), Some(value)));
        self
    }

    /// How often keys are refreshed in the background.
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// The least time between two fetches, bounding refreshes caused by unknown `kid`s
    /// and retries after failures.
    pub fn min_refresh_interval(mut self, interval: Duration) -> Self {
        self.min_refresh_interval = interval;
        self
    }

    /// How long the last good keys stay in use while refreshes fail; after that every
    /// token of this issuer is rejected until keys can be fetched again.
    pub fn keep_stale_keys_for(mut self, duration: Duration) -> Self {
        self.keep_stale_keys_for = duration;
        self
    }

    /// Timeout of one discovery or JWKS request.
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// Checks the claims of a token whose signature verified, and builds the identity.
    pub(crate) fn validate(
        &self,
        claims: Map<String, Value>,
        now: Timestamp,
    ) -> Result<Identity, VerifyError> {
        let now = now.as_second();
        let leeway = i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX);

        let exp = numeric_date(&claims, "exp")?.ok_or_else(|| missing("exp"))?;
        if now >= exp.saturating_add(leeway) {
            return Err(VerifyError::Expired);
        }
        if let Some(nbf) = numeric_date(&claims, "nbf")?
            && now.saturating_add(leeway) < nbf
        {
            return Err(VerifyError::NotYetValid);
        }
        if let Some(iat) = numeric_date(&claims, "iat")?
            && iat > now.saturating_add(leeway)
        {
            return Err(VerifyError::IssuedInFuture);
        }
        self.check_audience(&claims)?;
        for (path, expected) in &self.required_claims {
            match (path.lookup(&claims), expected) {
                (None | Some(Value::Null), _) => return Err(missing(path.as_str())),
                (Some(actual), Some(expected)) if actual != expected => {
                    return Err(invalid(path.as_str(), "does not have the required value"));
                }
                _ => {}
            }
        }

        let subject = match claims.get("sub") {
            Some(Value::String(sub)) if !sub.is_empty() => sub.clone(),
            None => return Err(missing("sub")),
            Some(_) => return Err(invalid("sub", "not a non-empty string")),
        };
        let expires_at = timestamp(exp, "exp")?;
        let mut identity =
            Identity::new(IdentityKind::User, subject, self.issuer.clone(), expires_at);
        let mapping = &self.claims;
        identity.username = mapping
            .username
            .string(&claims)
            .map_err(|()| invalid(mapping.username.as_str(), "not a string"))?;
        identity.email = mapping
            .email
            .string(&claims)
            .map_err(|()| invalid(mapping.email.as_str(), "not a string"))?;
        identity.email_verified = match claims.get("email_verified") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(verified)) => *verified,
            // Some providers send the boolean as a string.
            Some(Value::String(s)) if s == "true" || s == "false" => s == "true",
            Some(_) => return Err(invalid("email_verified", "not a boolean")),
        };
        identity.groups = mapping
            .groups
            .strings(&claims)
            .map_err(|()| invalid(mapping.groups.as_str(), "not a string or array of strings"))?;
        identity.session_id = match claims.get("sid") {
            None | Some(Value::Null) => None,
            Some(Value::String(sid)) => Some(sid.clone()),
            Some(_) => return Err(invalid("sid", "not a string")),
        };
        identity.auth_time = numeric_date(&claims, "auth_time")?
            .map(|t| timestamp(t, "auth_time"))
            .transpose()?;
        identity.claims = claims;
        Ok(identity)
    }

    fn check_audience(&self, claims: &Map<String, Value>) -> Result<(), VerifyError> {
        let accepted = |aud: &str| self.audiences.iter().any(|a| a == aud);
        match claims.get("aud") {
            None => Err(missing("aud")),
            Some(Value::String(aud)) if accepted(aud) => Ok(()),
            Some(Value::String(_)) => Err(VerifyError::WrongAudience),
            Some(Value::Array(auds)) => {
                let mut found = false;
                for aud in auds {
                    let aud = aud
                        .as_str()
                        .ok_or_else(|| invalid("aud", "not a string or array of strings"))?;
                    found |= accepted(aud);
                }
                if found {
                    Ok(())
                } else {
                    Err(VerifyError::WrongAudience)
                }
            }
            Some(_) => Err(invalid("aud", "not a string or array of strings")),
        }
    }
}

fn missing(claim: &str) -> VerifyError {
    VerifyError::MissingClaim(claim.to_owned())
}

fn invalid(claim: &str, reason: &'static str) -> VerifyError {
    VerifyError::InvalidClaim {
        claim: claim.to_owned(),
        reason,
    }
}

/// A NumericDate claim (RFC 7519 §2): a JSON number of seconds. Any other JSON type is an
/// error, never a silently skipped check.
fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, VerifyError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite() && f.abs() < 1e15)
                    .map(|f| f.floor() as i64)
            })
            .map(Some)
            .ok_or_else(|| invalid(name, "not a NumericDate in range")),
        Some(_) => Err(invalid(name, "not a NumericDate")),
    }
}

fn timestamp(seconds: i64, name: &'static str) -> Result<Timestamp, VerifyError> {
    Timestamp::from_second(seconds).map_err(|_| invalid(name, "out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn config() -> IssuerConfig {
        IssuerConfig::jwks_inline("https://idp.example", "{}").audience("api")
    }

    fn claims(extra: Value) -> Map<String, Value> {
        let mut base = json!({
            "iss": "https://idp.example", "sub": "u1", "aud": "api",
            "exp": NOW + 300, "iat": NOW, "nbf": NOW,
        });
        if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
            for (k, v) in e {
                if v.is_null() {
                    b.remove(&k);
                } else {
                    b.insert(k, v);
                }
            }
        }
        match base {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn validate(extra: Value) -> Result<Identity, VerifyError> {
        config().validate(claims(extra), Timestamp::from_second(NOW).unwrap())
    }

    #[test]
    fn maps_standard_claims() {
        let id = validate(json!({
            "preferred_username": "alice", "email": "a@x", "email_verified": true,
            "groups": ["eng", "ops"], "sid": "s1", "auth_time": NOW - 10,
        }))
        .unwrap();
        assert_eq!(id.subject, "u1");
        assert_eq!(id.username.as_deref(), Some("alice"));
        assert_eq!(id.email.as_deref(), Some("a@x"));
        assert!(id.email_verified);
        assert_eq!(id.groups, ["eng", "ops"]);
        assert_eq!(id.session_id.as_deref(), Some("s1"));
        assert_eq!(id.auth_time.unwrap().as_second(), NOW - 10);
        assert_eq!(id.expires_at.as_second(), NOW + 300);
    }

    #[test]
    fn time_claims_with_leeway() {
        assert_eq!(
            validate(json!({"exp": NOW - 61})).err(),
            Some(VerifyError::Expired)
        );
        assert!(validate(json!({"exp": NOW - 30})).is_ok());
        assert_eq!(
            validate(json!({"nbf": NOW + 61})).err(),
            Some(VerifyError::NotYetValid)
        );
        assert!(validate(json!({"nbf": NOW + 30})).is_ok());
        assert_eq!(
            validate(json!({"iat": NOW + 61})).err(),
            Some(VerifyError::IssuedInFuture)
        );
        assert!(validate(json!({"exp": (NOW + 300) as f64 + 0.5})).is_ok());
    }

    #[test]
    fn wrongly_typed_time_claims_are_rejected_not_skipped() {
        for claim in ["exp", "nbf", "iat", "auth_time"] {
            let err = validate(json!({ claim: (NOW - 100_000).to_string() })).err();
            assert!(
                matches!(err, Some(VerifyError::InvalidClaim { .. })),
                "{claim}: {err:?}"
            );
        }
        assert_eq!(
            validate(json!({"exp": null})).err(),
            Some(VerifyError::MissingClaim("exp".into()))
        );
    }

    #[test]
    fn audience_string_or_array() {
        assert!(validate(json!({"aud": ["other", "api"]})).is_ok());
        assert_eq!(
            validate(json!({"aud": "other"})).err(),
            Some(VerifyError::WrongAudience)
        );
        assert_eq!(
            validate(json!({"aud": ["other"]})).err(),
            Some(VerifyError::WrongAudience)
        );
        assert!(matches!(
            validate(json!({"aud": [1]})),
            Err(VerifyError::InvalidClaim { .. })
        ));
        assert_eq!(
            validate(json!({"aud": null})).err(),
            Some(VerifyError::MissingClaim("aud".into()))
        );
    }

    #[test]
    fn required_claims_and_custom_mapping() {
        let cfg = config()
            .require_claim("tid")
            .require_claim_value("realm.tier", json!("gold"))
            .claim_mapping(ClaimMapping {
                username: "upn".into(),
                email: "mail".into(),
                groups: "realm.roles".into(),
            });
        let now = Timestamp::from_second(NOW).unwrap();
        let ok = claims(
            json!({"tid": "t", "realm": {"tier": "gold", "roles": "admin"}, "upn": "al", "mail": "m"}),
        );
        let id = cfg.validate(ok, now).unwrap();
        assert_eq!(
            (id.username.as_deref(), id.email.as_deref()),
            (Some("al"), Some("m"))
        );
        assert_eq!(id.groups, ["admin"]);
        let no_tid = claims(json!({"realm": {"tier": "gold"}}));
        assert_eq!(
            cfg.validate(no_tid, now).err(),
            Some(VerifyError::MissingClaim("tid".into()))
        );
        let silver = claims(json!({"tid": "t", "realm": {"tier": "silver"}}));
        assert!(matches!(
            cfg.validate(silver, now),
            Err(VerifyError::InvalidClaim { .. })
        ));
    }

    #[test]
    fn null_claims_are_wrongly_typed_not_absent() {
        let now = Timestamp::from_second(NOW).unwrap();
        for claim in ["exp", "nbf", "iat", "aud", "sub"] {
            let mut c = claims(json!({}));
            c.insert(claim.into(), Value::Null);
            let err = config().validate(c, now).err();
            assert!(
                matches!(err, Some(VerifyError::InvalidClaim { .. })),
                "{claim}: {err:?}"
            );
        }
    }

    #[test]
    fn subject_must_be_a_string() {
        assert_eq!(
            validate(json!({"sub": null})).err(),
            Some(VerifyError::MissingClaim("sub".into()))
        );
        assert!(matches!(
            validate(json!({"sub": 5})),
            Err(VerifyError::InvalidClaim { .. })
        ));
        assert!(matches!(
            validate(json!({"groups": {"a": 1}})),
            Err(VerifyError::InvalidClaim { .. })
        ));
    }
}
