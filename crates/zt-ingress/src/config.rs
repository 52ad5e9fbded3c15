//! The ingress configuration file (TOML): parsed strictly, checked, and resolved into a
//! [`Config`]. Every error names the file, line, column and key.
//!
//! The format is documented with a complete example in `docs/ingress.md`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::{HeaderName, HeaderValue, Uri};
use serde::Deserialize;
use toml::Spanned;
use zt_core::policy::Engine;

use crate::routes::HostPattern;
use crate::tls::{ClientAuth, SniCert, TlsSettings};

/// A configuration that cannot be used, with where it went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not fit the format (unknown key, wrong type).
    #[error("{file}: {message}")]
    Syntax {
        /// The file (or `<inline>`).
        file: String,
        /// toml's message: line, column, a caret under the offending text, and the key.
        message: String,
    },
    /// A value is well-formed TOML but unusable.
    #[error("{file}:{line}:{column}: {key}: {message}")]
    Invalid {
        /// The file (or `<inline>`).
        file: String,
        /// 1-based line of the value.
        line: usize,
        /// 1-based column of the value.
        column: usize,
        /// The key, e.g. `routes[1].to`.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A route's policy does not compile (rendered diagnostics with file:line:column).
    #[error("{key}: the policy does not compile:\n{rendered}")]
    Policy {
        /// The key, e.g. `routes[0].policy`.
        key: String,
        /// The policy diagnostics.
        rendered: String,
    },
}

/// A checked ingress configuration.
#[derive(Debug)]
#[non_exhaustive]
pub struct Config {
    /// Where the listeners are.
    pub listen: Listen,
    /// Connection limits and timeouts.
    pub limits: Limits,
    /// The HTTPS listener's TLS settings.
    pub tls: Option<TlsSettings>,
    /// SPIFFE trust domains whose X.509-SVIDs (issued under `tls.client_ca`) identify
    /// workloads; client certificates are not identities without one.
    pub spiffe_trust_domains: Vec<String>,
    /// Trusted OpenID providers.
    pub providers: Vec<Provider>,
    /// Browser sessions.
    pub session: SessionSettings,
    /// Where audit events go.
    pub audit: AuditTarget,
    /// Identity assertions to upstreams.
    pub assertion: AssertionSettings,
    /// Routes, in file order (the most specific match wins, see [`crate::routes`]).
    pub routes: Vec<RouteConfig>,
}

/// Listener addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Listen {
    /// Plain HTTP: redirects to HTTPS when `https` is set, serves the routes otherwise.
    pub http: Option<SocketAddr>,
    /// HTTPS (needs `[tls]`).
    pub https: Option<SocketAddr>,
    /// `/metrics`, `/healthz`, `/readyz`.
    pub metrics: Option<SocketAddr>,
    /// The URL browsers use to reach the proxy (for the login callback).
    pub public_url: Option<String>,
}

/// Connection limits and timeouts.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest request head (request line and headers) accepted, in bytes.
    pub max_header_bytes: usize,
    /// Time a client has to send its request head (slow-client protection).
    pub header_read_timeout: Duration,
    /// Time a client has to finish the TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// Connections served at once; more wait in the kernel's accept queue.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_header_bytes: 16 * 1024,
            header_read_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(10),
            max_connections: 10_000,
        }
    }
}

/// A trusted OpenID provider.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Provider {
    /// Issuer URL (the tokens' `iss`).
    pub issuer: String,
    /// Accepted audiences.
    pub audiences: Vec<String>,
    /// Keys from a file instead of discovery.
    pub jwks_file: Option<PathBuf>,
    /// Keys from a URL instead of discovery.
    pub jwks_url: Option<String>,
    /// Extra CA certificates (PEM) to trust for the provider's HTTPS.
    pub ca: Option<PathBuf>,
    /// Browser login through this provider, when set.
    pub login: Option<LoginClient>,
}

/// The OAuth client used for browser login.
#[derive(Clone)]
#[non_exhaustive]
pub struct LoginClient {
    /// Client id.
    pub client_id: String,
    /// Client secret (confidential clients), read from a file or the environment.
    pub client_secret: Option<String>,
    /// Extra scopes beyond `openid`.
    pub scopes: Option<Vec<String>>,
}

impl fmt::Debug for LoginClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginClient")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// Browser session settings.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct SessionSettings {
    /// File with base64 session secrets, one per line, newest first (generated at start
    /// when absent, so sessions then end with the process).
    pub keys_file: Option<PathBuf>,
    /// Absolute session lifetime.
    pub lifetime: Option<Duration>,
}

/// Where audit events go.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditTarget {
    /// JSON lines on standard output.
    Stdout,
    /// A JSON-lines file (hash-chained, rotated).
    File(PathBuf),
}

/// Identity-assertion signing.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct AssertionSettings {
    /// PEM (PKCS#8) ES256 key; generated at start when absent.
    pub key_file: Option<PathBuf>,
    /// The assertions' `iss` (default: the public URL).
    pub issuer: Option<String>,
}

/// One route: requests for `host` under `prefix` go to `upstreams` if `policy` allows.
#[derive(Debug)]
#[non_exhaustive]
pub struct RouteConfig {
    /// Name (for `request.route`, metrics and logs).
    pub name: String,
    /// Host pattern.
    pub host: HostPattern,
    /// Path prefix (normalised, starts with `/`).
    pub prefix: String,
    /// Upstream base URLs (round-robin).
    pub upstreams: Vec<Uri>,
    /// The route's compiled policy.
    pub policy: Engine,
    /// Where the policy came from (file path or `inline`), for logs.
    pub policy_origin: String,
    /// The policy file, watched for changes.
    pub policy_file: Option<PathBuf>,
    /// Add a signed identity assertion to forwarded requests.
    pub assertion: bool,
    /// Allow WebSocket upgrades.
    pub websockets: bool,
    /// Paths are matched and forwarded lower-cased (for case-insensitive upstreams).
    pub case_insensitive: bool,
    /// Time allowed for the upstream's response head.
    pub timeout: Duration,
    /// Idle time after which an upgraded (WebSocket) connection is closed.
    pub idle_timeout: Duration,
    /// Extra CA certificates (PEM) for HTTPS upstreams.
    pub upstream_ca: Option<PathBuf>,
    /// Forward the client's `Host` instead of the upstream's.
    pub preserve_host: bool,
    /// Forward the client's `Authorization` header (default: removed, so upstreams never
    /// see the caller's IdP token; they get the identity assertion instead).
    pub pass_authorization: bool,
    /// Request headers to set on the way upstream (after hop-by-hop removal).
    pub set_headers: Vec<(HeaderName, HeaderValue)>,
    /// Request headers to remove on the way upstream.
    pub remove_headers: Vec<HeaderName>,
}

// ---- The file format (private; serde) ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    listen: ListenFile,
    #[serde(default)]
    limits: LimitsFile,
    tls: Option<TlsFile>,
    #[serde(default)]
    providers: Vec<ProviderFile>,
    #[serde(default)]
    session: SessionFile,
    #[serde(default)]
    audit: AuditFile,
    #[serde(default)]
    assertion: AssertionFile,
    #[serde(default)]
    routes: Vec<RouteFile>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListenFile {
    http: Option<SocketAddr>,
    https: Option<SocketAddr>,
    metrics: Option<SocketAddr>,
    public_url: Option<Spanned<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    max_header_bytes: Option<Spanned<usize>>,
    header_read_timeout: Option<Spanned<String>>,
    tls_handshake_timeout: Option<Spanned<String>>,
    max_connections: Option<Spanned<usize>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    cert: PathBuf,
    key: PathBuf,
    #[serde(default)]
    sni: Vec<SniFile>,
    client_ca: Option<PathBuf>,
    client_auth: Option<Spanned<String>>,
    #[serde(default)]
    spiffe_trust_domains: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SniFile {
    host: String,
    cert: PathBuf,
    key: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderFile {
    issuer: Spanned<String>,
    #[serde(default)]
    audiences: Vec<String>,
    jwks_file: Option<PathBuf>,
    jwks_url: Option<String>,
    ca: Option<PathBuf>,
    client_id: Option<String>,
    client_secret_file: Option<Spanned<PathBuf>>,
    client_secret_env: Option<Spanned<String>>,
    scopes: Option<Vec<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionFile {
    keys_file: Option<PathBuf>,
    lifetime: Option<Spanned<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditFile {
    file: Option<PathBuf>,
    #[serde(default)]
    stdout: bool,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssertionFile {
    key_file: Option<PathBuf>,
    issuer: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteFile {
    name: Spanned<String>,
    from: Spanned<String>,
    to: Spanned<Vec<String>>,
    policy: Option<Spanned<PathBuf>>,
    policy_inline: Option<Spanned<String>>,
    #[serde(default)]
    assertion: bool,
    #[serde(default)]
    websockets: bool,
    #[serde(default)]
    case_insensitive: bool,
    timeout: Option<Spanned<String>>,
    idle_timeout: Option<Spanned<String>>,
    upstream_ca: Option<PathBuf>,
    #[serde(default)]
    preserve_host: bool,
    #[serde(default)]
    pass_authorization: bool,
    #[serde(default)]
    headers: HeadersFile,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeadersFile {
    set: Option<Spanned<BTreeMap<String, String>>>,
    remove: Option<Spanned<Vec<String>>>,
}

impl Config {
    /// Reads and checks the configuration at `path`; relative paths in it (policy files,
    /// certificates) are relative to the file's directory.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file, line, column and key of the first problem.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, &path.display().to_string(), base)
    }

    /// Checks configuration `text` named `file` (for messages), resolving relative paths
    /// against `base`.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn parse(text: &str, file: &str, base: &Path) -> Result<Self, ConfigError> {
        let parsed: File = toml::from_str(text).map_err(|error| ConfigError::Syntax {
            file: file.to_owned(),
            message: error.to_string().trim_end().to_owned(),
        })?;
        let at = Locator { text, file, base };
        at.resolve(parsed)
    }

    /// The provider browsers sign in with, if any.
    pub fn login_provider(&self) -> Option<(&Provider, &LoginClient)> {
        self.providers
            .iter()
            .find_map(|provider| provider.login.as_ref().map(|login| (provider, login)))
    }
}

/// Turns spans into `file:line:column` and resolves paths.
struct Locator<'a> {
    text: &'a str,
    file: &'a str,
    base: &'a Path,
}

impl Locator<'_> {
    fn invalid(
        &self,
        span: std::ops::Range<usize>,
        key: &str,
        message: impl Into<String>,
    ) -> ConfigError {
        let before = self.text.get(..span.start).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let column = before
            .rfind('\n')
            .map_or(before.len(), |nl| before.len() - nl - 1)
            + 1;
        ConfigError::Invalid {
            file: self.file.to_owned(),
            line,
            column,
            key: key.to_owned(),
            message: message.into(),
        }
    }

    fn path(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_owned()
        } else {
            self.base.join(path)
        }
    }

    fn duration(
        &self,
        value: Option<&Spanned<String>>,
        key: &str,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        let Some(value) = value else {
            return Ok(default);
        };
        parse_duration(value.get_ref()).ok_or_else(|| {
            self.invalid(
                value.span(),
                key,
                format!(
                    "`{}` is not a duration; write e.g. \"30s\", \"5m\" or \"1h 30m\"",
                    value.get_ref()
                ),
            )
        })
    }

    fn resolve(&self, file: File) -> Result<Config, ConfigError> {
        let listen = self.listen(file.listen)?;
        let limits = self.limits(file.limits)?;
        let spiffe_trust_domains = file
            .tls
            .as_ref()
            .map(|tls| tls.spiffe_trust_domains.clone())
            .unwrap_or_default();
        let tls = file.tls.map(|tls| self.tls(tls)).transpose()?;
        if listen.https.is_some() && tls.is_none() {
            return Err(self.invalid(
                0..0,
                "listen.https",
                "an HTTPS listener needs a [tls] section",
            ));
        }
        if listen.http.is_none() && listen.https.is_none() {
            return Err(self.invalid(
                0..0,
                "listen",
                "no listener: set listen.http and/or listen.https",
            ));
        }
        let mut providers = Vec::with_capacity(file.providers.len());
        for (index, provider) in file.providers.into_iter().enumerate() {
            providers.push(self.provider(index, provider)?);
        }
        if providers.iter().filter(|p| p.login.is_some()).count() > 1 {
            return Err(self.invalid(
                0..0,
                "providers",
                "more than one provider has a client_id; browser login uses exactly one",
            ));
        }
        let session = SessionSettings {
            keys_file: file.session.keys_file.map(|p| self.path(&p)),
            lifetime: file
                .session
                .lifetime
                .as_ref()
                .map(|l| self.duration(Some(l), "session.lifetime", Duration::ZERO))
                .transpose()?,
        };
        let audit = match (file.audit.file, file.audit.stdout) {
            (Some(_), true) => {
                return Err(self.invalid(
                    0..0,
                    "audit",
                    "choose one of audit.file and audit.stdout",
                ));
            }
            (Some(path), false) => AuditTarget::File(self.path(&path)),
            (None, _) => AuditTarget::Stdout,
        };
        let assertion = AssertionSettings {
            key_file: file.assertion.key_file.map(|p| self.path(&p)),
            issuer: file.assertion.issuer,
        };
        let mut routes: Vec<RouteConfig> = Vec::with_capacity(file.routes.len());
        for (index, route) in file.routes.into_iter().enumerate() {
            let name_span = route.name.span();
            let route = self.route(index, route)?;
            if let Some(other) = routes
                .iter()
                .find(|r| r.case_insensitive != route.case_insensitive && r.host == route.host)
            {
                return Err(self.invalid(
                    name_span,
                    &format!("routes[{index}].case_insensitive"),
                    format!(
                        "route `{}` and route `{}` serve the same host but only one matches paths case-insensitively, so `/ADMIN` could reach one under the other's policy; make both case_insensitive (or neither)",
                        other.name, route.name
                    ),
                ));
            }
            if routes.iter().any(|r| r.name == route.name) {
                return Err(self.invalid(
                    name_span,
                    &format!("routes[{index}].name"),
                    format!("duplicate route name `{}`", route.name),
                ));
            }
            routes.push(route);
        }
        Ok(Config {
            listen,
            limits,
            tls,
            spiffe_trust_domains,
            providers,
            session,
            audit,
            assertion,
            routes,
        })
    }

    fn listen(&self, listen: ListenFile) -> Result<Listen, ConfigError> {
        let public_url = match listen.public_url {
            None => None,
            Some(url) => {
                let parsed = url::Url::parse(url.get_ref()).ok().filter(|u| {
                    matches!(u.scheme(), "http" | "https")
                        && u.host().is_some()
                        && matches!(u.path(), "" | "/")
                        && u.query().is_none()
                });
                if parsed.is_none() {
                    return Err(self.invalid(
                        url.span(),
                        "listen.public_url",
                        "expected an http(s) URL with a host and no path, e.g. \"https://ingress.example.com\"",
                    ));
                }
                Some(url.get_ref().trim_end_matches('/').to_owned())
            }
        };
        Ok(Listen {
            http: listen.http,
            https: listen.https,
            metrics: listen.metrics,
            public_url,
        })
    }

    fn limits(&self, limits: LimitsFile) -> Result<Limits, ConfigError> {
        let default = Limits::default();
        let max_header_bytes = match limits.max_header_bytes {
            Some(value) if *value.get_ref() < 8192 => {
                return Err(self.invalid(
                    value.span(),
                    "limits.max_header_bytes",
                    "must be at least 8192",
                ));
            }
            Some(value) => value.into_inner(),
            None => default.max_header_bytes,
        };
        let max_connections = match limits.max_connections {
            Some(value) if *value.get_ref() == 0 => {
                return Err(self.invalid(
                    value.span(),
                    "limits.max_connections",
                    "must be at least 1",
                ));
            }
            Some(value) => value.into_inner(),
            None => default.max_connections,
        };
        Ok(Limits {
            max_header_bytes,
            header_read_timeout: self.duration(
                limits.header_read_timeout.as_ref(),
                "limits.header_read_timeout",
                default.header_read_timeout,
            )?,
            tls_handshake_timeout: self.duration(
                limits.tls_handshake_timeout.as_ref(),
                "limits.tls_handshake_timeout",
                default.tls_handshake_timeout,
            )?,
            max_connections,
        })
    }

    fn tls(&self, tls: TlsFile) -> Result<TlsSettings, ConfigError> {
        let client_auth = match (&tls.client_ca, &tls.client_auth) {
            (None, None) => ClientAuth::None,
            (None, Some(value)) => {
                return Err(self.invalid(value.span(), "tls.client_auth", "needs tls.client_ca"));
            }
            (Some(_), None) => ClientAuth::Optional,
            (Some(_), Some(value)) => match value.get_ref().as_str() {
                "optional" => ClientAuth::Optional,
                "required" => ClientAuth::Required,
                other => {
                    return Err(self.invalid(
                        value.span(),
                        "tls.client_auth",
                        format!("`{other}`: expected \"optional\" or \"required\""),
                    ));
                }
            },
        };
        Ok(TlsSettings {
            cert: self.path(&tls.cert),
            key: self.path(&tls.key),
            sni: tls
                .sni
                .into_iter()
                .map(|sni| SniCert {
                    host: sni.host,
                    cert: self.path(&sni.cert),
                    key: self.path(&sni.key),
                })
                .collect(),
            client_ca: tls.client_ca.map(|p| self.path(&p)),
            client_auth,
        })
    }

    fn provider(&self, index: usize, provider: ProviderFile) -> Result<Provider, ConfigError> {
        let key = |field: &str| format!("providers[{index}].{field}");
        let issuer = provider.issuer.get_ref();
        let valid = url::Url::parse(issuer)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !valid {
            return Err(self.invalid(
                provider.issuer.span(),
                &key("issuer"),
                "expected the issuer's http(s) URL, exactly as in its tokens' `iss`",
            ));
        }
        if provider.jwks_file.is_some() && provider.jwks_url.is_some() {
            return Err(self.invalid(
                provider.issuer.span(),
                &key("jwks_file"),
                "choose one of jwks_file and jwks_url",
            ));
        }
        let secret = match (&provider.client_secret_file, &provider.client_secret_env) {
            (Some(_), Some(env)) => {
                return Err(self.invalid(
                    env.span(),
                    &key("client_secret_env"),
                    "choose one of client_secret_file and client_secret_env",
                ));
            }
            (Some(file), None) => {
                let path = self.path(file.get_ref());
                let secret = std::fs::read_to_string(&path).map_err(|error| {
                    self.invalid(
                        file.span(),
                        &key("client_secret_file"),
                        format!("cannot read {}: {error}", path.display()),
                    )
                })?;
                Some(secret.trim().to_owned())
            }
            (None, Some(env)) => Some(std::env::var(env.get_ref()).map_err(|_| {
                self.invalid(
                    env.span(),
                    &key("client_secret_env"),
                    format!("the environment variable {} is not set", env.get_ref()),
                )
            })?),
            (None, None) => None,
        };
        if provider.audiences.is_empty() && provider.client_id.is_none() {
            return Err(self.invalid(
                provider.issuer.span(),
                &key("audiences"),
                "list the audiences this proxy accepts (tokens for other services must not pass)",
            ));
        }
        let login = match provider.client_id {
            Some(client_id) => Some(LoginClient {
                client_id,
                client_secret: secret,
                scopes: provider.scopes,
            }),
            None if secret.is_some() => {
                return Err(self.invalid(
                    provider.issuer.span(),
                    &key("client_id"),
                    "a client secret without a client_id",
                ));
            }
            None => None,
        };
        Ok(Provider {
            issuer: provider.issuer.into_inner(),
            audiences: provider.audiences,
            jwks_file: provider.jwks_file.map(|p| self.path(&p)),
            jwks_url: provider.jwks_url,
            ca: provider.ca.map(|p| self.path(&p)),
            login,
        })
    }

    fn route(&self, index: usize, route: RouteFile) -> Result<RouteConfig, ConfigError> {
        let key = |field: &str| format!("routes[{index}].{field}");
        let name = route.name.get_ref().trim().to_owned();
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(self.invalid(
                route.name.span(),
                &key("name"),
                "a route name is one word (letters, digits, `-`, `_`, `.`)",
            ));
        }
        let (host, prefix) = parse_from(route.from.get_ref(), route.case_insensitive)
            .map_err(|message| self.invalid(route.from.span(), &key("from"), message))?;
        if route.to.get_ref().is_empty() {
            return Err(self.invalid(route.to.span(), &key("to"), "at least one upstream URL"));
        }
        let mut upstreams = Vec::with_capacity(route.to.get_ref().len());
        for url in route.to.get_ref() {
            let uri = parse_upstream(url)
                .map_err(|message| self.invalid(route.to.span(), &key("to"), message))?;
            upstreams.push(uri);
        }
        let (source, origin, policy_file) = match (&route.policy, &route.policy_inline) {
            (Some(_), Some(inline)) => {
                return Err(self.invalid(
                    inline.span(),
                    &key("policy_inline"),
                    "choose one of policy and policy_inline",
                ));
            }
            (None, None) => {
                return Err(self.invalid(
                    route.name.span(),
                    &key("policy"),
                    "every route needs a policy (policy = \"FILE\" or policy_inline = '''...''')",
                ));
            }
            (Some(path), None) => {
                let resolved = self.path(path.get_ref());
                let source = std::fs::read_to_string(&resolved).map_err(|error| {
                    self.invalid(
                        path.span(),
                        &key("policy"),
                        format!("cannot read {}: {error}", resolved.display()),
                    )
                })?;
                let origin = resolved.display().to_string();
                (source, origin, Some(resolved))
            }
            (None, Some(inline)) => (
                inline.get_ref().clone(),
                format!("{}[inline]", key("policy_inline")),
                None,
            ),
        };
        let policy = Engine::from_source(&source).map_err(|error| ConfigError::Policy {
            key: key(if policy_file.is_some() {
                "policy"
            } else {
                "policy_inline"
            }),
            rendered: error.render(&origin, &source),
        })?;
        let mut set_headers = Vec::new();
        if let Some(set) = &route.headers.set {
            for (name, value) in set.get_ref() {
                let parsed = HeaderName::try_from(name.as_str())
                    .ok()
                    .zip(HeaderValue::try_from(value.as_str()).ok())
                    .ok_or_else(|| {
                        self.invalid(
                            set.span(),
                            &key("headers.set"),
                            format!("`{name}: {value}` is not a valid header"),
                        )
                    })?;
                set_headers.push(parsed);
            }
        }
        let mut remove_headers = Vec::new();
        if let Some(remove) = &route.headers.remove {
            for name in remove.get_ref() {
                let parsed = HeaderName::try_from(name.as_str()).map_err(|_| {
                    self.invalid(
                        remove.span(),
                        &key("headers.remove"),
                        format!("`{name}` is not a header name"),
                    )
                })?;
                remove_headers.push(parsed);
            }
        }
        Ok(RouteConfig {
            name,
            host,
            prefix,
            upstreams,
            policy,
            policy_origin: origin,
            policy_file,
            assertion: route.assertion,
            websockets: route.websockets,
            case_insensitive: route.case_insensitive,
            timeout: self.duration(
                route.timeout.as_ref(),
                &key("timeout"),
                Duration::from_secs(30),
            )?,
            idle_timeout: self.duration(
                route.idle_timeout.as_ref(),
                &key("idle_timeout"),
                Duration::from_secs(300),
            )?,
            upstream_ca: route.upstream_ca.map(|p| self.path(&p)),
            preserve_host: route.preserve_host,
            pass_authorization: route.pass_authorization,
            set_headers,
            remove_headers,
        })
    }
}

/// `"30s"`, `"5m"`, `"1h 30m"` (jiff's friendly format) or ISO 8601 (`"PT30S"`); positive.
fn parse_duration(text: &str) -> Option<Duration> {
    let signed: jiff::SignedDuration = text.trim().parse().ok()?;
    Duration::try_from(signed).ok().filter(|d| !d.is_zero())
}

/// `from = "[scheme://]host[/prefix]"`, host `*`, `*.example.com` or a name.
fn parse_from(from: &str, case_insensitive: bool) -> Result<(HostPattern, String), String> {
    let rest = from
        .strip_prefix("https://")
        .or_else(|| from.strip_prefix("http://"))
        .unwrap_or(from);
    let (host, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, "/"),
    };
    let host = HostPattern::parse(host).map_err(|why| format!("`{from}`: {why}"))?;
    let prefix = zt_tower::proxy::path::normalize_path(path, case_insensitive)
        .map_err(|error| format!("`{from}`: the path prefix is not a normal path: {error}"))?;
    Ok((host, prefix.into_owned()))
}

/// An upstream base URL: `http` or `https`, a host, an optional base path, no query.
fn parse_upstream(url: &str) -> Result<Uri, String> {
    let uri: Uri = url.parse().map_err(|_| format!("`{url}` is not a URL"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => {
            return Err(format!(
                "`{url}`: the upstream must be an http:// or https:// URL"
            ));
        }
    }
    if uri.authority().is_none() {
        return Err(format!("`{url}`: the upstream URL has no host"));
    }
    if uri.query().is_some() {
        return Err(format!("`{url}`: an upstream URL cannot have a query"));
    }
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTE: &str = r#"
[listen]
http = "127.0.0.1:8080"

[[routes]]
name = "app"
from = "app.example.com"
to = ["http://127.0.0.1:3000"]
policy_inline = 'allow "all" when identity.authenticated'
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, "ingress.toml", Path::new("."))
    }

    #[test]
    fn minimal_config_parses() {
        let config = parse(ROUTE).unwrap();
        assert_eq!(config.routes.len(), 1);
        assert_eq!(config.routes[0].prefix, "/");
        assert_eq!(config.routes[0].timeout, Duration::from_secs(30));
        assert_eq!(config.audit, AuditTarget::Stdout);
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let text = ROUTE
            .replace("websocket", "")
            .replace("policy_inline", "polcy_inline");
        let error = parse(&text).unwrap_err().to_string();
        assert!(error.contains("ingress.toml"), "{error}");
        assert!(error.contains("line 9"), "{error}");
        assert!(error.contains("polcy_inline"), "{error}");
    }

    #[test]
    fn bad_upstream_names_line_column_and_key() {
        let text = ROUTE.replace("http://127.0.0.1:3000", "ftp://x");
        let error = parse(&text).unwrap_err().to_string();
        assert!(
            error.starts_with("ingress.toml:8:6: routes[0].to:"),
            "{error}"
        );
    }

    #[test]
    fn bad_duration_is_explained() {
        let text = format!("{ROUTE}timeout = \"soon\"\n");
        let error = parse(&text).unwrap_err().to_string();
        assert!(error.contains("routes[0].timeout"), "{error}");
        assert!(error.contains("is not a duration"), "{error}");
    }

    #[test]
    fn policy_errors_are_rendered() {
        let text = ROUTE.replace("identity.authenticated", "identity.group has \"x\"");
        let error = parse(&text).unwrap_err().to_string();
        assert!(error.contains("routes[0].policy_inline"), "{error}");
        assert!(error.contains("identity.groups"), "{error}");
    }

    #[test]
    fn mixed_case_sensitivity_on_one_host_is_refused() {
        let text = format!(
            "{ROUTE}\n[[routes]]\nname = \"ci\"\nfrom = \"app.example.com/docs\"\nto = [\"http://127.0.0.1:3001\"]\ncase_insensitive = true\npolicy_inline = 'allow \"all\" when identity.authenticated'\n"
        );
        let error = parse(&text).unwrap_err().to_string();
        assert!(error.contains("routes[1].case_insensitive"), "{error}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("1h 30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("PT5M"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(parse_duration("-5s"), None);
    }

    #[test]
    fn from_forms() {
        let (host, prefix) = parse_from("https://app.example.com/api/", false).unwrap();
        assert_eq!(host, HostPattern::parse("app.example.com").unwrap());
        assert_eq!(prefix, "/api/");
        assert!(parse_from("app.example.com/a/../b", false).is_ok());
        assert!(parse_from("app.example.com/a%2fb", false).is_err());
    }
}
