//! What a decision is about: the request context of docs/policy.md section 4.2, built by
//! enforcement points (and by request fixtures), normalised on the way in.

use std::borrow::Cow;
use std::net::IpAddr;

use http::HeaderMap;
use jiff::Timestamp;

use crate::identity::Identity;

/// Which enforcement point decides (`request.protocol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// An HTTP request (including WebSocket upgrades).
    Http,
    /// A Kubernetes API request or webhook review.
    Kube,
    /// An SSH connection, channel or request.
    Ssh,
}

impl Protocol {
    /// The name policies use: `http`, `kube` or `ssh`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Kube => "kube",
            Self::Ssh => "ssh",
        }
    }
}

/// A host name as policy sees it: lower-cased, without port or one trailing dot
/// (docs/policy.md, `request.host`). Borrowed when the input is already normal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostName<'a>(Cow<'a, str>);

impl<'a> HostName<'a> {
    /// Normalises a `Host` header or `:authority` value: strips a `:port` (IPv6 literals
    /// keep their brackets; anything else after `]` is kept, so it matches no literal)
    /// and one trailing `.`, and lower-cases ASCII letters.
    pub fn normalize(raw: &'a str) -> Self {
        let is_port = |port: &str| port.bytes().all(|b| b.is_ascii_digit());
        let without_port = match raw.rsplit_once(':') {
            // `[v6]:port`, or `name:port` (a bare IPv6 address has more colons).
            Some((host, port)) if is_port(port) && (host.ends_with(']') || !host.contains(':')) => {
                host
            }
            _ => raw,
        };
        let host = without_port.strip_suffix('.').unwrap_or(without_port);
        if host.bytes().any(|b| b.is_ascii_uppercase()) {
            Self(Cow::Owned(host.to_ascii_lowercase()))
        } else {
            Self(Cow::Borrowed(host))
        }
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An owned copy.
    pub fn into_owned(self) -> HostName<'static> {
        HostName(Cow::Owned(self.0.into_owned()))
    }
}

/// Converts IPv4-mapped IPv6 addresses to IPv4, as policy sees them.
pub fn canonical_ip(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// The `kube.*` attributes of one Kubernetes request, as the API server's RequestInfo
/// computes them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KubeAttributes {
    /// `kube.verb` (`create` for exec, attach and port-forward, whatever the transport).
    pub verb: String,
    /// `kube.api_group` (`""` for the core group); `None` for non-resource requests.
    pub api_group: Option<String>,
    /// `kube.api_version`.
    pub api_version: Option<String>,
    /// `kube.resource` (plural).
    pub resource: Option<String>,
    /// `kube.subresource`.
    pub subresource: Option<String>,
    /// `kube.namespace`.
    pub namespace: Option<String>,
    /// `kube.name`.
    pub name: Option<String>,
    /// `kube.is_resource_request`.
    pub is_resource_request: bool,
}

/// What an SSH decision is about (`ssh.channel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SshChannel {
    /// A session channel: shell, exec or subsystem.
    Session,
    /// Local port forwarding.
    DirectTcpip,
    /// Remote port forwarding.
    ForwardedTcpip,
    /// Agent forwarding.
    AuthAgent,
    /// X11 forwarding.
    X11,
}

impl SshChannel {
    /// Every channel kind, in schema order.
    pub const ALL: [Self; 5] = [
        Self::Session,
        Self::DirectTcpip,
        Self::ForwardedTcpip,
        Self::AuthAgent,
        Self::X11,
    ];

    /// The name policies use, e.g. `direct-tcpip`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::DirectTcpip => "direct-tcpip",
            Self::ForwardedTcpip => "forwarded-tcpip",
            Self::AuthAgent => "auth-agent",
            Self::X11 => "x11",
        }
    }
}

/// The `ssh.*` attributes of one SSH decision (docs/policy.md, section 1.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshAttributes {
    login: String,
    host: String,
    port: u16,
    channel: Option<SshChannel>,
    command: Option<String>,
    subsystem: Option<String>,
}

impl SshAttributes {
    /// The connect decision for `login@host:port`; the host is lower-cased, without one
    /// trailing `.`.
    pub fn new(login: impl Into<String>, host: &str, port: u16) -> Self {
        Self {
            login: login.into(),
            host: host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase(),
            port,
            channel: None,
            command: None,
            subsystem: None,
        }
    }

    /// The same session, deciding a channel or request.
    #[must_use]
    pub fn with_channel(mut self, channel: SshChannel) -> Self {
        self.channel = Some(channel);
        self
    }

    /// The same session, deciding an `exec` of `command` on a session channel.
    #[must_use]
    pub fn with_command(mut self, command: impl Into<String>) -> Self {
        self.channel = Some(SshChannel::Session);
        self.command = Some(command.into());
        self
    }

    /// The same session, deciding a `subsystem` request on a session channel.
    #[must_use]
    pub fn with_subsystem(mut self, subsystem: impl Into<String>) -> Self {
        self.channel = Some(SshChannel::Session);
        self.subsystem = Some(subsystem.into());
        self
    }

    /// `ssh.login`.
    pub fn login(&self) -> &str {
        &self.login
    }

    /// `ssh.host` (lower-case).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `ssh.port`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `ssh.channel`.
    pub fn channel(&self) -> Option<SshChannel> {
        self.channel
    }

    /// `ssh.command`.
    pub fn command(&self) -> Option<&str> {
        self.command.as_deref()
    }

    /// `ssh.subsystem`.
    pub fn subsystem(&self) -> Option<&str> {
        self.subsystem.as_deref()
    }
}

/// The verified identity with the attributes derived from it once per context.
#[derive(Clone, Debug)]
pub(crate) struct IdentityView<'a> {
    pub(crate) identity: &'a Identity,
    /// `identity.domain`: after the last `@` of a verified e-mail, ASCII-lower-cased.
    pub(crate) domain: Option<Cow<'a, str>>,
}

/// Everything one decision reads (docs/policy.md, section 4.2). Built with the
/// constructor for the protocol and `with_*` methods; values are normalised on the way
/// in (hosts lower-cased, IPv4-mapped addresses converted), so policies cannot be
/// bypassed by spelling.
///
/// ```
/// use zt_core::policy::{Engine, RequestContext};
///
/// let engine = Engine::from_source("allow \"health\" when request.path == \"/healthz\"\n")?;
/// let now = "2026-11-23T12:00:00Z".parse()?;
/// let request = RequestContext::http(now).with_method("GET").with_path("/healthz");
/// assert!(engine.decide(&request).is_allowed());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct RequestContext<'a> {
    pub(crate) now: Timestamp,
    pub(crate) protocol: Protocol,
    pub(crate) identity: Option<IdentityView<'a>>,
    pub(crate) method: Option<&'a str>,
    pub(crate) host: Option<HostName<'a>>,
    pub(crate) path: Option<&'a str>,
    pub(crate) route: Option<&'a str>,
    pub(crate) query: Option<&'a str>,
    pub(crate) headers: Option<&'a HeaderMap>,
    pub(crate) source_ip: Option<IpAddr>,
    pub(crate) kube: Option<&'a KubeAttributes>,
    pub(crate) ssh: Option<&'a SshAttributes>,
}

impl<'a> RequestContext<'a> {
    fn new(now: Timestamp, protocol: Protocol) -> Self {
        Self {
            now,
            protocol,
            identity: None,
            method: None,
            host: None,
            path: None,
            route: None,
            query: None,
            headers: None,
            source_ip: None,
            kube: None,
            ssh: None,
        }
    }

    /// An HTTP request decided at `now`, unauthenticated until
    /// [`with_identity`](Self::with_identity).
    pub fn http(now: Timestamp) -> Self {
        Self::new(now, Protocol::Http)
    }

    /// A Kubernetes API request (or webhook review) decided at `now`.
    pub fn kube(now: Timestamp, kube: &'a KubeAttributes) -> Self {
        Self {
            kube: Some(kube),
            ..Self::new(now, Protocol::Kube)
        }
    }

    /// An SSH decision at `now`.
    pub fn ssh(now: Timestamp, ssh: &'a SshAttributes) -> Self {
        Self {
            ssh: Some(ssh),
            ..Self::new(now, Protocol::Ssh)
        }
    }

    /// The verified identity of the caller.
    #[must_use]
    pub fn with_identity(mut self, identity: &'a Identity) -> Self {
        let domain = identity
            .email
            .as_deref()
            .filter(|_| identity.email_verified)
            .and_then(|email| email.rsplit_once('@'))
            .map(|(_, domain)| {
                if domain.bytes().any(|b| b.is_ascii_uppercase()) {
                    Cow::Owned(domain.to_ascii_lowercase())
                } else {
                    Cow::Borrowed(domain)
                }
            });
        self.identity = Some(IdentityView { identity, domain });
        self
    }

    /// `request.method`, as received.
    #[must_use]
    pub fn with_method(mut self, method: &'a str) -> Self {
        self.method = Some(method);
        self
    }

    /// `request.host` from a `Host` or `:authority` value (normalised here).
    #[must_use]
    pub fn with_host(mut self, raw: &'a str) -> Self {
        self.host = Some(HostName::normalize(raw));
        self
    }

    /// `request.path`: the normalised path the upstream receives, without query.
    #[must_use]
    pub fn with_path(mut self, path: &'a str) -> Self {
        self.path = Some(path);
        self
    }

    /// `request.route`: the matched route template.
    #[must_use]
    pub fn with_route(mut self, route: &'a str) -> Self {
        self.route = Some(route);
        self
    }

    /// The raw query string (without `?`) that `request.query.<k>` reads.
    #[must_use]
    pub fn with_query(mut self, query: &'a str) -> Self {
        self.query = Some(query);
        self
    }

    /// The request headers that `request.header.<name>` reads. Pass them after zt
    /// removed hop-by-hop and its own identity headers.
    #[must_use]
    pub fn with_headers(mut self, headers: &'a HeaderMap) -> Self {
        self.headers = Some(headers);
        self
    }

    /// `request.source_ip` (IPv4-mapped IPv6 addresses are converted to IPv4).
    #[must_use]
    pub fn with_source_ip(mut self, address: IpAddr) -> Self {
        self.source_ip = Some(canonical_ip(address));
        self
    }

    /// The decision instant.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// `request.protocol`.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// `request.host`, normalised.
    pub fn host(&self) -> Option<&str> {
        self.host.as_ref().map(HostName::as_str)
    }

    /// `request.source_ip`, with IPv4-mapped addresses converted.
    pub fn source_ip(&self) -> Option<IpAddr> {
        self.source_ip
    }

    /// The verified identity, if any.
    pub fn identity(&self) -> Option<&'a Identity> {
        self.identity.as_ref().map(|view| view.identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_normalised() {
        for (raw, host) in [
            ("Grafana.Example.COM:443", "grafana.example.com"),
            ("example.com.", "example.com"),
            ("example.com.:8080", "example.com"),
            ("[2001:DB8::1]:443", "[2001:db8::1]"),
            ("[::1]", "[::1]"),
            ("[::1]x", "[::1]x"),
            ("2001:db8::1", "2001:db8::1"),
            ("::1", "::1"),
            ("host:", "host"),
            ("plain", "plain"),
        ] {
            assert_eq!(HostName::normalize(raw).as_str(), host, "{raw}");
        }
        assert!(matches!(HostName::normalize("a.b").0, Cow::Borrowed(_)));
    }

    #[test]
    fn mapped_addresses_become_ipv4() {
        let mapped: IpAddr = "::ffff:10.20.3.4".parse().unwrap();
        assert_eq!(canonical_ip(mapped), "10.20.3.4".parse::<IpAddr>().unwrap());
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(canonical_ip(v6), v6);
    }
}
