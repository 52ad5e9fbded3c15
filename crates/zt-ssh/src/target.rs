//! The `login@host` a user asks the gateway for.
//!
//! Users run `ssh -p PORT login@host@gateway`; OpenSSH splits at the last `@`, so the
//! gateway receives the SSH user name `login@host` and splits it again at its last `@`.

use std::fmt;
use std::str::FromStr;

/// Longest login name accepted (Linux `LOGIN_NAME_MAX` is 256 including the NUL).
const MAX_LOGIN: usize = 255;
/// Longest host name accepted (RFC 1035).
const MAX_HOST: usize = 253;

/// Why an SSH user name is not a `login@host` target.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// No `@` separates login and host.
    #[error("expected `login@host`, e.g. `ssh -p PORT ubuntu@web1@gateway`")]
    MissingHost,
    /// The login part is empty, too long or has characters not allowed in user names.
    #[error("`{0}` is not a valid login name")]
    InvalidLogin(String),
    /// The host part is not a DNS name or IP address.
    #[error("`{0}` is not a valid host name")]
    InvalidHost(String),
}

/// An upstream login and host, parsed from the SSH user name the client sent.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SshTarget {
    login: String,
    host: String,
}

impl SshTarget {
    /// Parses `login@host`.
    pub fn parse(user: &str) -> Result<Self, TargetError> {
        let (login, host) = user.rsplit_once('@').ok_or(TargetError::MissingHost)?;
        if !valid_login(login) {
            return Err(TargetError::InvalidLogin(printable(login)));
        }
        if !valid_host(host) {
            return Err(TargetError::InvalidHost(printable(host)));
        }
        Ok(Self {
            login: login.to_owned(),
            host: host.to_ascii_lowercase(),
        })
    }

    /// The account on the upstream host.
    pub fn login(&self) -> &str {
        &self.login
    }

    /// The upstream host, lower-cased.
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl fmt::Display for SshTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.login, self.host)
    }
}

impl FromStr for SshTarget {
    type Err = TargetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// POSIX portable user names, as `useradd` accepts them: `[A-Za-z_][A-Za-z0-9_.-]*`,
/// optionally ending in `$`.
pub(crate) fn valid_login(login: &str) -> bool {
    let body = login.strip_suffix('$').unwrap_or(login);
    let mut bytes = body.bytes();
    login.len() <= MAX_LOGIN
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// A DNS name of letter-digit-hyphen labels, or an IPv4/IPv6 address.
fn valid_host(host: &str) -> bool {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    !host.is_empty()
        && host.len() <= MAX_HOST
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Client-sent text, shortened and with control characters escaped, for error messages.
fn printable(text: &str) -> String {
    text.chars()
        .take(64)
        .flat_map(char::escape_default)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_last_at_sign() {
        let t = SshTarget::parse("ubuntu@web1.prod.internal").unwrap();
        assert_eq!((t.login(), t.host()), ("ubuntu", "web1.prod.internal"));
        assert_eq!(
            SshTarget::parse("deploy@10.0.0.7").unwrap().host(),
            "10.0.0.7"
        );
        assert_eq!(SshTarget::parse("svc$@::1").unwrap().login(), "svc$");
        assert_eq!(SshTarget::parse("a@WEB1").unwrap().to_string(), "a@web1");
    }

    #[test]
    fn rejects_what_is_not_login_at_host() {
        assert_eq!(SshTarget::parse("ubuntu"), Err(TargetError::MissingHost));
        for bad in [
            "@host",
            "a@b@host",
            "-rf@host",
            "1abc@host",
            "ro ot@host",
            "a\n@host",
        ] {
            assert!(
                matches!(SshTarget::parse(bad), Err(TargetError::InvalidLogin(_))),
                "{bad}"
            );
        }
        for bad in ["a@", "a@-x", "a@x..y", "a@x_y", "a@x/y", "a@x:22"] {
            assert!(
                matches!(SshTarget::parse(bad), Err(TargetError::InvalidHost(_))),
                "{bad}"
            );
        }
        assert_eq!(
            SshTarget::parse("a\u{1b}[31m@host"),
            Err(TargetError::InvalidLogin("a\\u{1b}[31m".into()))
        );
    }
}
