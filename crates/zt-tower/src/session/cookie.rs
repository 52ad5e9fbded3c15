//! The session cookie: `Set-Cookie` out, `Cookie` in.

use std::fmt;

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};
use jiff::Timestamp;

use super::{Revocations, Session, SessionError, SessionKeys};

/// The default cookie name. The `__Host-` prefix makes browsers insist on `Secure`,
/// `Path=/` and no `Domain`, so sibling subdomains cannot set or shadow it.
pub const DEFAULT_COOKIE_NAME: &str = "__Host-zt-session";

/// The largest `name=value` of a session cookie, in bytes.
///
/// Browsers silently drop cookies whose name and value exceed 4096 bytes, which would sign
/// the user out without a trace; this leaves a margin.
pub const MAX_COOKIE_SIZE: usize = 4000;

/// The most `name=value` pairs scanned in a request's `Cookie` headers.
///
/// Browsers keep at most about 180 cookies per site; a request with more is refused.
pub const MAX_COOKIE_PAIRS: usize = 200;

const HOST_PREFIX: &str = "__Host-";
const ATTRIBUTES: &str = "Path=/";
const FLAGS: &str = "Secure; HttpOnly; SameSite=Lax";

/// Where and how the session travels: cookie name, domain and the [`SessionKeys`] that
/// seal it.
///
/// The cookie is always `Path=/; Secure; HttpOnly; SameSite=Lax`, with `Max-Age` set to
/// the session's remaining absolute lifetime. The cookie name is the additional data of
/// the AEAD, so a value cannot be moved to another cookie sealed with the same keys.
///
/// ```
/// use http::{HeaderMap, header};
/// use jiff::{Timestamp, ToSpan};
/// use zt_tower::session::{Session, SessionCookie, SessionError, SessionKeys};
///
/// let cookie = SessionCookie::new(SessionKeys::generate()?);
/// let now = Timestamp::now();
/// let session = Session {
///     subject: "user-123".into(),
///     issuer: "https://idp.example.com".into(),
///     session_id: Session::random_id()?,
///     access_token: "eyJhbGciOi...".into(),
///     refresh_token: None,
///     id_token: None,
///     access_token_expires_at: now + 5.minutes(),
///     created_at: now,
///     expires_at: now + 8.hours(),
///     email: Some("sally@example.com".into()),
///     name: None,
/// };
///
/// // On login: send the cookie.
/// let set_cookie = cookie.to_set_cookie(&session)?;
/// let set_cookie = set_cookie.to_str().unwrap();
/// assert!(set_cookie.starts_with("__Host-zt-session="));
/// // Max-Age is the remaining absolute lifetime: about 8 hours here.
/// assert!(set_cookie.contains("; Path=/; Max-Age=2879"));
/// assert!(set_cookie.ends_with("; Secure; HttpOnly; SameSite=Lax"));
///
/// // On a later request: the browser sends it back.
/// let (pair, _attributes) = set_cookie.split_once("; ").unwrap();
/// let mut headers = HeaderMap::new();
/// headers.insert(header::COOKIE, format!("theme=dark; {pair}").parse().unwrap());
/// let restored = cookie.from_request_headers(&headers)?.expect("session cookie present");
/// assert_eq!(restored.subject, "user-123");
///
/// // On logout: clear it.
/// assert_eq!(
///     cookie.clear(),
///     "__Host-zt-session=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax"
/// );
/// # Ok::<(), SessionError>(())
/// ```
#[derive(Clone)]
pub struct SessionCookie {
    keys: SessionKeys,
    name: String,
    domain: Option<String>,
    cleared: HeaderValue,
    revocations: Option<Revocations>,
}

impl SessionCookie {
    /// A cookie named [`DEFAULT_COOKIE_NAME`], host-only, sealed with `keys`.
    #[must_use]
    pub fn new(keys: SessionKeys) -> Self {
        Self {
            keys,
            name: DEFAULT_COOKIE_NAME.to_owned(),
            domain: None,
            cleared: HeaderValue::from_static(
                "__Host-zt-session=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax",
            ),
            revocations: None,
        }
    }

    /// The same cookie, refusing sessions revoked in `revocations` (logout adds to it).
    pub fn with_revocations(mut self, revocations: Revocations) -> Self {
        self.revocations = Some(revocations);
        self
    }

    /// Revokes `session` (until it would have expired), when revocations are kept.
    pub fn revoke(&self, session: &Session) {
        if let Some(revocations) = &self.revocations {
            revocations.revoke(&session.session_id, session.expires_at);
        }
    }

    /// The revocations this cookie checks, if any.
    pub fn revocations(&self) -> Option<&Revocations> {
        self.revocations.as_ref()
    }

    /// The same cookie under another name.
    ///
    /// # Errors
    /// [`SessionError::Config`] if `name` is not an RFC 6265 token, or it has the
    /// `__Host-` prefix while a domain is set.
    pub fn with_name(self, name: &str) -> Result<Self, SessionError> {
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(SessionError::Config(
                "the session cookie name must be a non-empty RFC 6265 token".into(),
            ));
        }
        Self::build(self.keys, name.to_owned(), self.domain, self.revocations)
    }

    /// The same cookie, sent to `domain` and its subdomains (`Domain=` attribute).
    ///
    /// Prefer a host-only cookie (the default): a `Domain` cookie is sent to, and can be
    /// overwritten from, every subdomain.
    ///
    /// # Errors
    /// [`SessionError::Config`] if `domain` is not a valid domain name, or the cookie name
    /// has the `__Host-` prefix (which forbids `Domain`; choose another name first).
    pub fn with_domain(self, domain: &str) -> Result<Self, SessionError> {
        let domain = domain.to_ascii_lowercase();
        let valid = !domain.is_empty()
            && domain.len() <= 253
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !valid {
            return Err(SessionError::Config(
                "the session cookie domain is not a valid domain name".into(),
            ));
        }
        Self::build(self.keys, self.name, Some(domain), self.revocations)
    }

    fn build(
        keys: SessionKeys,
        name: String,
        domain: Option<String>,
        revocations: Option<Revocations>,
    ) -> Result<Self, SessionError> {
        let host_prefixed = name
            .get(..HOST_PREFIX.len())
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(HOST_PREFIX));
        if host_prefixed && domain.is_some() {
            return Err(SessionError::Config(format!(
                "the session cookie {name:?} has the __Host- prefix, which forbids a Domain \
                 attribute; drop the domain or choose a name without the prefix"
            )));
        }
        let cleared = header_value(format!(
            "{name}=; {}; Max-Age=0; {FLAGS}",
            attributes(domain.as_deref())
        ))?;
        Ok(Self {
            keys,
            name,
            domain,
            cleared,
            revocations,
        })
    }

    /// The cookie name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `Domain` attribute, if any (none by default: a host-only cookie).
    #[must_use]
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// The key ring that seals and opens the cookie.
    #[must_use]
    pub fn keys(&self) -> &SessionKeys {
        &self.keys
    }

    /// The `Set-Cookie` value that stores `session`, expiring with its absolute lifetime.
    ///
    /// # Errors
    /// - [`SessionError::Expired`] if the session's absolute lifetime is already over;
    /// - [`SessionError::TooLarge`] if `name=value` would exceed [`MAX_COOKIE_SIZE`]
    ///   (store less: drop the refresh token or the ID token);
    /// - [`SessionError::Crypto`] if sealing fails.
    pub fn to_set_cookie(&self, session: &Session) -> Result<HeaderValue, SessionError> {
        self.to_set_cookie_at(session, Timestamp::now())
    }

    /// [`SessionCookie::to_set_cookie`] with an explicit current time.
    ///
    /// # Errors
    /// As [`SessionCookie::to_set_cookie`].
    pub fn to_set_cookie_at(
        &self,
        session: &Session,
        now: Timestamp,
    ) -> Result<HeaderValue, SessionError> {
        let max_age = session.remaining_seconds(now);
        if max_age <= 0 {
            return Err(SessionError::Expired);
        }
        let plaintext = serde_json::to_vec(session)
            .map_err(|_| SessionError::Malformed("session does not serialize"))?;
        let value = self.keys.seal(&plaintext, self.name.as_bytes())?;
        let size = self.name.len() + 1 + value.len();
        if size > MAX_COOKIE_SIZE {
            return Err(SessionError::TooLarge {
                size,
                limit: MAX_COOKIE_SIZE,
            });
        }
        header_value(format!(
            "{}={value}; {}; Max-Age={max_age}; {FLAGS}",
            self.name,
            attributes(self.domain.as_deref())
        ))
    }

    /// The `Set-Cookie` value that removes the cookie (empty value, `Max-Age=0`).
    #[must_use]
    pub fn clear(&self) -> HeaderValue {
        self.cleared.clone()
    }

    /// The session in the request's cookie, if it carries one.
    ///
    /// Looks through every `Cookie` header and its `;`-separated pairs (at most
    /// [`MAX_COOKIE_PAIRS`]); a cookie of this name with an empty value counts as absent.
    ///
    /// # Errors
    /// - [`SessionError::TooLarge`]: the cookie exceeds [`MAX_COOKIE_SIZE`] (checked before
    ///   decoding);
    /// - [`SessionError::Malformed`]: not a sealed session, more than one cookie of this
    ///   name, or more than [`MAX_COOKIE_PAIRS`] cookies;
    /// - [`SessionError::UnknownKey`] / [`SessionError::Tampered`]: see
    ///   [`SessionKeys::open`];
    /// - [`SessionError::Expired`]: the session's absolute lifetime is over.
    ///
    /// On any of these, treat the request as not signed in and [clear](Self::clear) the
    /// cookie.
    pub fn from_request_headers(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<Session>, SessionError> {
        self.from_request_headers_at(headers, Timestamp::now())
    }

    /// [`SessionCookie::from_request_headers`] with an explicit current time.
    ///
    /// # Errors
    /// As [`SessionCookie::from_request_headers`].
    pub fn from_request_headers_at(
        &self,
        headers: &HeaderMap,
        now: Timestamp,
    ) -> Result<Option<Session>, SessionError> {
        let Some(value) = self.find(headers)? else {
            return Ok(None);
        };
        if value.is_empty() {
            return Ok(None);
        }
        let size = self.name.len() + 1 + value.len();
        if size > MAX_COOKIE_SIZE {
            return Err(SessionError::TooLarge {
                size,
                limit: MAX_COOKIE_SIZE,
            });
        }
        let value = std::str::from_utf8(value)
            .map_err(|_| SessionError::Malformed("not unpadded URL-safe base64"))?;
        let plaintext = self.keys.open(value, self.name.as_bytes())?;
        let session: Session = serde_json::from_slice(&plaintext)
            .map_err(|_| SessionError::Malformed("session payload does not decode"))?;
        if session.is_expired_at(now) {
            return Err(SessionError::Expired);
        }
        if let Some(revocations) = &self.revocations
            && revocations.is_revoked(&session.session_id)
        {
            return Err(SessionError::Revoked);
        }
        Ok(Some(session))
    }

    /// The raw value of the one cookie with this name, scanning at most
    /// [`MAX_COOKIE_PAIRS`] pairs.
    fn find<'h>(&self, headers: &'h HeaderMap) -> Result<Option<&'h [u8]>, SessionError> {
        let name = self.name.as_bytes();
        let mut pairs = 0usize;
        let mut found = None;
        for header in headers.get_all(COOKIE) {
            for pair in header.as_bytes().split(|&b| b == b';') {
                let pair = trim_ows(pair);
                if pair.is_empty() {
                    continue;
                }
                pairs += 1;
                if pairs > MAX_COOKIE_PAIRS {
                    return Err(SessionError::Malformed("too many cookies in the request"));
                }
                let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                    continue;
                };
                if trim_ows(&pair[..eq]) != name {
                    continue;
                }
                if found.is_some() {
                    return Err(SessionError::Malformed("more than one session cookie"));
                }
                found = Some(trim_ows(&pair[eq + 1..]));
            }
        }
        Ok(found)
    }
}

impl fmt::Debug for SessionCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCookie")
            .field("name", &self.name)
            .field("domain", &self.domain)
            .field("keys", &self.keys)
            .field("revocations", &self.revocations)
            .finish()
    }
}

fn attributes(domain: Option<&str>) -> String {
    match domain {
        Some(domain) => format!("{ATTRIBUTES}; Domain={domain}"),
        None => ATTRIBUTES.to_owned(),
    }
}

fn header_value(value: String) -> Result<HeaderValue, SessionError> {
    HeaderValue::try_from(value)
        .map_err(|_| SessionError::Config("the Set-Cookie value is not a valid header".into()))
}

/// RFC 6265 `token`: visible ASCII except separators.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b)
}

fn trim_ows(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::model::tests::{NOW, session};

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    fn cookie() -> SessionCookie {
        SessionCookie::new(SessionKeys::generate().unwrap())
    }

    /// `name=value` of a `Set-Cookie` value.
    fn pair(set_cookie: &HeaderValue) -> String {
        let text = set_cookie.to_str().unwrap();
        text.split_once("; ").unwrap().0.to_owned()
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(COOKIE, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn cookie_round_trip() {
        let cookie = cookie();
        let session = session();
        let set = cookie.to_set_cookie_at(&session, at(NOW)).unwrap();
        let read = cookie
            .from_request_headers_at(&headers(&[&pair(&set)]), at(NOW + 60))
            .unwrap();
        assert_eq!(read, Some(session));
    }

    #[test]
    fn set_cookie_attributes_exact() {
        let cookie = cookie();
        let set = cookie.to_set_cookie_at(&session(), at(NOW + 100)).unwrap();
        let text = set.to_str().unwrap();
        let (pair, attributes) = text.split_once("; ").unwrap();
        assert_eq!(
            attributes,
            "Path=/; Max-Age=28700; Secure; HttpOnly; SameSite=Lax"
        );
        let (name, value) = pair.split_once('=').unwrap();
        assert_eq!(name, "__Host-zt-session");
        assert!(
            value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(
            cookie.clear(),
            "__Host-zt-session=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax"
        );
    }

    #[test]
    fn max_age_rounds_partial_seconds_down() {
        let set = cookie()
            .to_set_cookie_at(&session(), Timestamp::new(NOW, 1).unwrap())
            .unwrap();
        assert!(set.to_str().unwrap().contains("; Max-Age=28799; "));
    }

    #[test]
    fn custom_name_and_domain() {
        let cookie = cookie()
            .with_name("zt_session")
            .unwrap()
            .with_domain("Example.COM")
            .unwrap();
        assert_eq!(cookie.domain(), Some("example.com"));
        let set = cookie.to_set_cookie_at(&session(), at(NOW)).unwrap();
        assert!(set.to_str().unwrap().ends_with(
            "; Path=/; Domain=example.com; Max-Age=28800; Secure; HttpOnly; SameSite=Lax"
        ));
        assert_eq!(
            cookie.clear(),
            "zt_session=; Path=/; Domain=example.com; Max-Age=0; Secure; HttpOnly; SameSite=Lax"
        );
        let read = cookie
            .from_request_headers_at(&headers(&[&pair(&set)]), at(NOW))
            .unwrap();
        assert_eq!(read, Some(session()));
    }

    #[test]
    fn host_prefix_forbids_domain() {
        let err = cookie().with_domain("example.com").unwrap_err();
        assert!(matches!(err, SessionError::Config(_)), "{err:?}");
        let err = cookie()
            .with_name("x")
            .unwrap()
            .with_domain("example.com")
            .unwrap()
            .with_name("__host-other")
            .unwrap_err();
        assert!(matches!(err, SessionError::Config(_)), "{err:?}");
    }

    #[test]
    fn invalid_names_and_domains() {
        for name in ["", "a b", "a;b", "a=b", "é", "a\"b"] {
            assert!(cookie().with_name(name).is_err(), "{name:?}");
        }
        for domain in [
            "",
            ".example.com",
            "example..com",
            "exa mple.com",
            "a;b",
            "example.com.",
        ] {
            assert!(
                cookie()
                    .with_name("n")
                    .unwrap()
                    .with_domain(domain)
                    .is_err(),
                "{domain:?}"
            );
        }
    }

    #[test]
    fn finds_cookie_among_several_headers_and_pairs() {
        let cookie = cookie();
        let set = cookie.to_set_cookie_at(&session(), at(NOW)).unwrap();
        let pair = pair(&set);
        let map = headers(&[
            "theme=dark; lang=en",
            &format!("a=1;{pair} ;b=2"),
            "__Host-zt-session-other=x; flag",
        ]);
        assert_eq!(
            cookie.from_request_headers_at(&map, at(NOW)).unwrap(),
            Some(session())
        );
        // Absent, or present with an empty value: not signed in, not an error.
        assert_eq!(
            cookie.from_request_headers_at(&HeaderMap::new(), at(NOW)),
            Ok(None)
        );
        let map = headers(&["theme=dark", "x__Host-zt-session=abc; zt-session=abc"]);
        assert_eq!(cookie.from_request_headers_at(&map, at(NOW)), Ok(None));
        let map = headers(&["__Host-zt-session=; theme=dark"]);
        assert_eq!(cookie.from_request_headers_at(&map, at(NOW)), Ok(None));
    }

    #[test]
    fn duplicate_session_cookies_are_refused() {
        let cookie = cookie();
        let set = cookie.to_set_cookie_at(&session(), at(NOW)).unwrap();
        let pair = pair(&set);
        let map = headers(&[&pair, &pair]);
        assert_eq!(
            cookie.from_request_headers_at(&map, at(NOW)),
            Err(SessionError::Malformed("more than one session cookie"))
        );
    }

    #[test]
    fn too_many_pairs_are_refused() {
        let cookie = cookie();
        let set = cookie.to_set_cookie_at(&session(), at(NOW)).unwrap();
        let many: Vec<String> = (0..MAX_COOKIE_PAIRS).map(|i| format!("c{i}=v")).collect();
        let mut map = headers(&[&many.join("; ")]);
        assert_eq!(cookie.from_request_headers_at(&map, at(NOW)), Ok(None));
        map.append(COOKIE, HeaderValue::from_str(&pair(&set)).unwrap());
        assert_eq!(
            cookie.from_request_headers_at(&map, at(NOW)),
            Err(SessionError::Malformed("too many cookies in the request"))
        );
    }

    #[test]
    fn tampered_cookie_is_refused() {
        let cookie = cookie();
        let set = cookie.to_set_cookie_at(&session(), at(NOW)).unwrap();
        let pair = pair(&set);
        let (name, value) = pair.split_once('=').unwrap();
        let mut raw =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, value)
                .unwrap();
        let last = raw.len() - 1;
        for index in [5, 17, 40, last] {
            raw[index] ^= 0x01;
            let value =
                base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &raw);
            raw[index] ^= 0x01;
            let map = headers(&[&format!("{name}={value}")]);
            assert_eq!(
                cookie.from_request_headers_at(&map, at(NOW)),
                Err(SessionError::Tampered),
                "byte {index}"
            );
        }
    }

    #[test]
    fn foreign_keys_are_refused() {
        let ours = cookie();
        let theirs = cookie();
        let set = theirs.to_set_cookie_at(&session(), at(NOW)).unwrap();
        assert_eq!(
            ours.from_request_headers_at(&headers(&[&pair(&set)]), at(NOW)),
            Err(SessionError::UnknownKey)
        );
    }

    #[test]
    fn cookie_moved_to_another_name_is_refused() {
        let keys = SessionKeys::generate().unwrap();
        let session_cookie = SessionCookie::new(keys.clone());
        let other = SessionCookie::new(keys)
            .with_name("__Host-zt-other")
            .unwrap();
        let set = other.to_set_cookie_at(&session(), at(NOW)).unwrap();
        let value = pair(&set).split_once('=').unwrap().1.to_owned();
        let map = headers(&[&format!("__Host-zt-session={value}")]);
        assert_eq!(
            session_cookie.from_request_headers_at(&map, at(NOW)),
            Err(SessionError::Tampered)
        );
    }

    #[test]
    fn expired_session_is_refused() {
        let cookie = cookie();
        let session = session();
        let set = cookie.to_set_cookie_at(&session, at(NOW)).unwrap();
        let map = headers(&[&pair(&set)]);
        let end = session.expires_at.as_second();
        assert!(
            cookie
                .from_request_headers_at(&map, at(end - 1))
                .unwrap()
                .is_some()
        );
        assert_eq!(
            cookie.from_request_headers_at(&map, at(end)),
            Err(SessionError::Expired)
        );
        assert_eq!(
            cookie.to_set_cookie_at(&session, at(end)),
            Err(SessionError::Expired)
        );
    }

    #[test]
    fn oversize_session_is_refused_when_sealing() {
        let cookie = cookie();
        let session = Session {
            id_token: Some("x".repeat(3000)),
            ..session()
        };
        let err = cookie.to_set_cookie_at(&session, at(NOW)).unwrap_err();
        let SessionError::TooLarge { size, limit } = err else {
            panic!("{err:?}");
        };
        assert!(size > limit && limit == MAX_COOKIE_SIZE);
        let text = err.to_string();
        assert!(
            text.contains("refresh token") && text.contains("ID token"),
            "{text}"
        );
        assert!(!text.contains("xxx"));
        // Without the ID token it fits.
        let smaller = Session {
            id_token: None,
            ..session
        };
        assert!(cookie.to_set_cookie_at(&smaller, at(NOW)).is_ok());
    }

    #[test]
    fn oversize_cookie_is_refused_before_decoding() {
        let cookie = cookie();
        let value = "A".repeat(MAX_COOKIE_SIZE);
        let map = headers(&[&format!("__Host-zt-session={value}")]);
        assert_eq!(
            cookie.from_request_headers_at(&map, at(NOW)),
            Err(SessionError::TooLarge {
                size: DEFAULT_COOKIE_NAME.len() + 1 + MAX_COOKIE_SIZE,
                limit: MAX_COOKIE_SIZE
            })
        );
    }

    #[test]
    fn garbage_cookie_is_malformed() {
        let cookie = cookie();
        for value in ["abc", "\"quoted\"", "%41%42", "a+b/c=="] {
            let map = headers(&[&format!("__Host-zt-session={value}")]);
            assert!(
                matches!(
                    cookie.from_request_headers_at(&map, at(NOW)),
                    Err(SessionError::Malformed(_))
                ),
                "{value:?}"
            );
        }
        // Non-UTF-8 bytes in other cookies are no obstacle.
        let set = cookie.to_set_cookie_at(&session(), at(NOW)).unwrap();
        let mut map = HeaderMap::new();
        map.append(COOKIE, HeaderValue::from_bytes(b"x=\xff\xfe").unwrap());
        map.append(COOKIE, HeaderValue::from_str(&pair(&set)).unwrap());
        assert!(
            cookie
                .from_request_headers_at(&map, at(NOW))
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn debug_contains_no_token_or_key() {
        let secret = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [0x5a; 32]);
        let keys = SessionKeys::from_base64_secrets(&secret, [] as [&str; 0]).unwrap();
        let cookie = SessionCookie::new(keys);
        let debug = format!("{cookie:?} {:?}", session());
        for needle in [
            secret.as_str(),
            "5a5a5a5a",
            "secret-at",
            "secret-rt",
            "secret-it",
        ] {
            assert!(!debug.contains(needle), "{needle} in {debug}");
        }
    }

    #[test]
    fn now_variants_use_the_clock() {
        let cookie = cookie();
        let now = Timestamp::now();
        let session = Session {
            created_at: now,
            expires_at: now + jiff::SignedDuration::from_hours(1),
            ..session()
        };
        let set = cookie.to_set_cookie(&session).unwrap();
        let read = cookie
            .from_request_headers(&headers(&[&pair(&set)]))
            .unwrap();
        assert_eq!(read.map(|s| s.subject), Some(session.subject));
    }
}
