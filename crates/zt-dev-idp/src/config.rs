//! Users, clients, algorithms and the settings the builder collects.

use std::fmt;
use std::time::Duration;

/// A JWS signing algorithm the dev IdP can issue tokens with.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    /// ECDSA over P-256 with SHA-256.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (2048-bit key).
    Rs256,
    /// EdDSA over Ed25519.
    EdDsa,
}

impl SigningAlg {
    /// Every algorithm, in the order keys are published.
    pub const ALL: [SigningAlg; 3] = [SigningAlg::Es256, SigningAlg::Rs256, SigningAlg::EdDsa];

    /// The JOSE `alg` name (`ES256`, `RS256`, `EdDSA`).
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Es256 => "ES256",
            SigningAlg::Rs256 => "RS256",
            SigningAlg::EdDsa => "EdDSA",
        }
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A development user. There are no passwords: the login page has one button per user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevUser {
    /// Login name, also the `preferred_username` claim.
    pub username: String,
    /// The `sub` claim.
    pub subject: String,
    /// The `name` claim.
    pub name: String,
    /// The `email` claim.
    pub email: String,
    /// The `email_verified` claim.
    pub email_verified: bool,
    /// The `groups` claim.
    pub groups: Vec<String>,
}

impl DevUser {
    /// A user with `subject = username`, `email = username@example.com`, a capitalised
    /// display name, a verified email and no groups.
    pub fn new(username: &str) -> Self {
        let mut chars = username.chars();
        let name = match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        };
        Self {
            username: username.to_owned(),
            subject: username.to_owned(),
            name,
            email: format!("{username}@example.com"),
            email_verified: true,
            groups: Vec::new(),
        }
    }

    /// Replaces the user's groups.
    pub fn groups(mut self, groups: &[&str]) -> Self {
        self.groups = groups.iter().map(|g| (*g).to_owned()).collect();
        self
    }

    /// The default dev users: alice (engineering, admins), bob (engineering), carol (ops)
    /// and dave (contractors).
    pub fn defaults() -> Vec<DevUser> {
        vec![
            DevUser::new("alice").groups(&["engineering", "admins"]),
            DevUser::new("bob").groups(&["engineering"]),
            DevUser::new("carol").groups(&["ops"]),
            DevUser::new("dave").groups(&["contractors"]),
        ]
    }
}

/// An OAuth client registered with the dev IdP.
#[derive(Clone, PartialEq, Eq)]
pub struct DevClient {
    /// The `client_id`.
    pub client_id: String,
    /// The secret of a confidential client; `None` for a public client. Redacted in `Debug`.
    pub client_secret: Option<String>,
    /// Registered redirect URIs (exact match). They are also accepted as
    /// `post_logout_redirect_uri`.
    pub redirect_uris: Vec<String>,
    /// Accept any port on `http://127.0.0.1`, `http://[::1]` and `http://localhost`
    /// (RFC 8252 §7.3), any path.
    pub allow_loopback_redirects: bool,
}

impl fmt::Debug for DevClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevClient")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("redirect_uris", &self.redirect_uris)
            .field("allow_loopback_redirects", &self.allow_loopback_redirects)
            .finish()
    }
}

impl DevClient {
    /// A public client (no secret) that accepts loopback redirect URIs.
    pub fn public(id: &str) -> Self {
        Self {
            client_id: id.to_owned(),
            client_secret: None,
            redirect_uris: Vec::new(),
            allow_loopback_redirects: true,
        }
    }

    /// A confidential client authenticating with `client_secret_basic` or
    /// `client_secret_post`. Only registered redirect URIs are accepted.
    pub fn confidential(id: &str, secret: &str) -> Self {
        Self {
            client_id: id.to_owned(),
            client_secret: Some(secret.to_owned()),
            redirect_uris: Vec::new(),
            allow_loopback_redirects: false,
        }
    }

    /// Registers one more exact redirect URI.
    pub fn redirect_uri(mut self, uri: &str) -> Self {
        self.redirect_uris.push(uri.to_owned());
        self
    }

    /// Sets whether loopback redirect URIs on any port are accepted.
    pub fn allow_loopback_redirects(mut self, on: bool) -> Self {
        self.allow_loopback_redirects = on;
        self
    }

    /// The default client: public `zt-dev`, loopback redirects allowed.
    pub fn default_client() -> Self {
        Self::public("zt-dev")
    }

    /// Whether `uri` is an acceptable redirect URI for this client.
    pub(crate) fn accepts_redirect(&self, uri: &str) -> bool {
        if self.redirect_uris.iter().any(|r| r == uri) {
            return true;
        }
        self.allow_loopback_redirects && is_loopback_redirect(uri)
    }
}

/// RFC 8252 loopback redirect: `http`, host 127.0.0.1 / [::1] / localhost, no fragment,
/// no user info.
fn is_loopback_redirect(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    if url.scheme() != "http" || url.fragment().is_some() || !url.username().is_empty() {
        return false;
    }
    if url.password().is_some() {
        return false;
    }
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(url::Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Lifetimes and knobs, fixed once the server starts.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) signing_alg: SigningAlg,
    pub(crate) access_token_ttl: Duration,
    pub(crate) id_token_ttl: Duration,
    pub(crate) refresh_token_ttl: Duration,
    pub(crate) session_ttl: Duration,
    pub(crate) auth_code_ttl: Duration,
    pub(crate) device_code_ttl: Duration,
    pub(crate) device_poll_interval: Duration,
    /// `None`: grow by the configured poll interval (5 s at the defaults, as in RFC 8628).
    pub(crate) device_slow_down_increment: Option<Duration>,
    pub(crate) access_token_audience: Option<String>,
    pub(crate) refresh_requires_offline_access: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            signing_alg: SigningAlg::Es256,
            access_token_ttl: Duration::from_secs(5 * 60),
            id_token_ttl: Duration::from_secs(5 * 60),
            refresh_token_ttl: Duration::from_secs(8 * 3600),
            session_ttl: Duration::from_secs(8 * 3600),
            auth_code_ttl: Duration::from_secs(60),
            device_code_ttl: Duration::from_secs(10 * 60),
            device_poll_interval: Duration::from_secs(5),
            device_slow_down_increment: None,
            access_token_audience: None,
            refresh_requires_offline_access: false,
        }
    }
}

impl Settings {
    pub(crate) fn slow_down_increment(&self) -> Duration {
        self.device_slow_down_increment
            .unwrap_or(self.device_poll_interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_user_defaults() {
        let u = DevUser::new("alice");
        assert_eq!(u.name, "Alice");
        assert_eq!(u.subject, "alice");
        assert_eq!(u.email, "alice@example.com");
        assert!(u.email_verified);
    }

    #[test]
    fn secret_is_redacted() {
        let c = DevClient::confidential("app", "hunter2");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("hunter2"));
        assert!(dbg.contains("redacted"));
    }

    #[test]
    fn loopback_redirects() {
        let c = DevClient::public("x");
        assert!(c.accepts_redirect("http://127.0.0.1:1234/cb"));
        assert!(c.accepts_redirect("http://[::1]:9/cb?x=1"));
        assert!(c.accepts_redirect("http://localhost:8080/"));
        assert!(c.accepts_redirect("http://LOCALHOST/"));
        assert!(!c.accepts_redirect("https://127.0.0.1/cb"));
        assert!(!c.accepts_redirect("http://127.0.0.2/cb"));
        assert!(!c.accepts_redirect("http://localhost.evil.com/cb"));
        assert!(!c.accepts_redirect("http://127.0.0.1/cb#frag"));
        assert!(!c.accepts_redirect("http://u@127.0.0.1/cb"));
        let c = DevClient::confidential("y", "s").redirect_uri("https://app.example/cb");
        assert!(c.accepts_redirect("https://app.example/cb"));
        assert!(!c.accepts_redirect("https://app.example/cb2"));
        assert!(!c.accepts_redirect("http://127.0.0.1:1/cb"));
    }
}
