//! Request fixtures (docs/policy.md, section 12.2): JSON request documents and test
//! cases, normalised exactly as the enforcement points normalise real requests.

use std::net::IpAddr;

use http::{HeaderMap, HeaderName, HeaderValue};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::{Map, Value as Json};

use super::Effect;
use super::context::{
    KubeAttributes, Protocol, RequestContext, SshAttributes, SshChannel, canonical_ip,
};
use super::engine::Decision;
use super::literal::instant;
use crate::identity::{Identity, IdentityKind, SpiffeId};

/// A request document or cases file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// Not JSON, or not the documented shape (unknown members are errors).
    #[error("{context}: {source}")]
    Json {
        /// Which document.
        context: String,
        /// What serde found.
        #[source]
        source: serde_json::Error,
    },
    /// The shape is right but a value is not.
    #[error("{context}: {message}")]
    Invalid {
        /// Which document.
        context: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    now: Option<String>,
    identity: Option<IdentityDoc>,
    request: Option<RequestDoc>,
    kube: Option<KubeDoc>,
    ssh: Option<SshDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityDoc {
    kind: Option<String>,
    sub: Option<String>,
    issuer: Option<String>,
    username: Option<String>,
    email: Option<String>,
    email_verified: Option<bool>,
    groups: Option<Vec<String>>,
    spiffe_id: Option<String>,
    auth_time: Option<String>,
    claims: Option<Map<String, Json>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestDoc {
    protocol: Option<String>,
    method: Option<String>,
    host: Option<String>,
    path: Option<String>,
    route: Option<String>,
    query: Option<String>,
    headers: Option<Map<String, Json>>,
    source_ip: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KubeDoc {
    verb: String,
    api_group: Option<String>,
    api_version: Option<String>,
    resource: Option<String>,
    subresource: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    is_resource_request: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SshDoc {
    login: String,
    host: String,
    port: Option<u16>,
    channel: Option<String>,
    command: Option<String>,
    subsystem: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectDoc {
    effect: Effect,
    rules: Option<Vec<String>>,
    reason: Option<String>,
}

/// One request, owned and normalised; [`context`](Self::context) lends it to
/// [`Engine::decide`](super::Engine::decide).
#[derive(Clone, Debug)]
pub struct RequestFixture {
    now: Timestamp,
    identity: Option<Identity>,
    method: Option<String>,
    host: Option<String>,
    path: Option<String>,
    route: Option<String>,
    query: Option<String>,
    headers: Option<HeaderMap>,
    source_ip: Option<IpAddr>,
    kube: Option<KubeAttributes>,
    ssh: Option<SshAttributes>,
}

impl RequestFixture {
    /// Reads a request document. `now` is required unless `default_now` is given.
    pub fn from_json(
        document: &Json,
        default_now: Option<Timestamp>,
    ) -> Result<Self, FixtureError> {
        Self::read(document.clone(), default_now, "request")
    }

    fn read(
        document: Json,
        default_now: Option<Timestamp>,
        context: &str,
    ) -> Result<Self, FixtureError> {
        let invalid = |message: String| FixtureError::Invalid {
            context: context.to_owned(),
            message,
        };
        let doc: Document =
            serde_json::from_value(document).map_err(|source| FixtureError::Json {
                context: context.to_owned(),
                source,
            })?;
        let now = match (&doc.now, default_now) {
            (Some(text), _) => timestamp(text, "now").map_err(invalid)?,
            (None, Some(now)) => now,
            (None, None) => return Err(invalid("`now` is required".into())),
        };
        protocol(&doc).map_err(invalid)?;
        let identity = doc
            .identity
            .map(|identity| identity.into_identity(now))
            .transpose()
            .map_err(invalid)?;
        let kube = doc.kube.map(KubeDoc::into_attributes);
        let ssh = doc
            .ssh
            .map(SshDoc::into_attributes)
            .transpose()
            .map_err(invalid)?;
        let request = doc.request.unwrap_or_default();
        Ok(Self {
            now,
            identity,
            method: request.method,
            // Raw, as received: `context` normalises it once, like an enforcement point.
            host: request.host,
            path: request.path,
            route: request.route,
            query: request.query,
            headers: request.headers.map(headers).transpose().map_err(invalid)?,
            source_ip: request
                .source_ip
                .map(|text| {
                    text.parse::<IpAddr>()
                        .map(canonical_ip)
                        .map_err(|_| format!("`request.source_ip`: `{text}` is not an IP address"))
                })
                .transpose()
                .map_err(invalid)?,
            kube,
            ssh,
        })
    }

    /// The decision instant.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The request context to decide.
    pub fn context(&self) -> RequestContext<'_> {
        let mut context = match (&self.kube, &self.ssh) {
            (Some(kube), _) => RequestContext::kube(self.now, kube),
            (None, Some(ssh)) => RequestContext::ssh(self.now, ssh),
            (None, None) => RequestContext::http(self.now),
        };
        if let Some(identity) = &self.identity {
            context = context.with_identity(identity);
        }
        if let Some(method) = &self.method {
            context = context.with_method(method);
        }
        if let Some(host) = &self.host {
            context = context.with_host(host);
        }
        if let Some(path) = &self.path {
            context = context.with_path(path);
        }
        if let Some(route) = &self.route {
            context = context.with_route(route);
        }
        if let Some(query) = &self.query {
            context = context.with_query(query);
        }
        if let Some(headers) = &self.headers {
            context = context.with_headers(headers);
        }
        if let Some(address) = self.source_ip {
            context = context.with_source_ip(address);
        }
        context
    }
}

fn timestamp(text: &str, member: &str) -> Result<Timestamp, String> {
    instant(text).map_err(|(message, _)| format!("`{member}`: {message}"))
}

fn protocol(doc: &Document) -> Result<Protocol, String> {
    let implied = match (&doc.kube, &doc.ssh) {
        (Some(_), Some(_)) => return Err("a request has `kube` or `ssh` members, not both".into()),
        (Some(_), None) => Protocol::Kube,
        (None, Some(_)) => Protocol::Ssh,
        (None, None) => Protocol::Http,
    };
    match doc.request.as_ref().and_then(|r| r.protocol.as_deref()) {
        None => Ok(implied),
        Some(given) if given == implied.as_str() => Ok(implied),
        Some(given @ ("http" | "kube" | "ssh")) => Err(format!(
            "`request.protocol` is \"{given}\" but the members say \"{}\"",
            implied.as_str()
        )),
        Some(other) => Err(format!(
            "`request.protocol`: expected \"http\", \"kube\" or \"ssh\", found \"{other}\""
        )),
    }
}

impl IdentityDoc {
    fn into_identity(self, now: Timestamp) -> Result<Identity, String> {
        let kind = match self.kind.as_deref() {
            None | Some("user") => IdentityKind::User,
            Some("workload") => IdentityKind::Workload,
            Some(other) => {
                return Err(format!(
                    "`identity.kind`: expected \"user\" or \"workload\", found \"{other}\""
                ));
            }
        };
        let expires = now
            .checked_add(SignedDuration::from_hours(1))
            .unwrap_or(now);
        let mut identity = Identity::new(
            kind,
            self.sub.unwrap_or_else(|| "test-user".into()),
            self.issuer.unwrap_or_else(|| "https://idp.test".into()),
            expires,
        );
        identity.username = self.username;
        identity.email = self.email;
        identity.email_verified = self.email_verified.unwrap_or(false);
        identity.groups = self.groups.unwrap_or_default();
        identity.claims = self.claims.unwrap_or_default();
        identity.spiffe_id = self
            .spiffe_id
            .map(|id| SpiffeId::parse(&id).map_err(|e| format!("`identity.spiffe_id`: {e}")))
            .transpose()?;
        identity.auth_time = self
            .auth_time
            .map(|text| timestamp(&text, "identity.auth_time"))
            .transpose()?;
        Ok(identity)
    }
}

impl KubeDoc {
    fn into_attributes(self) -> KubeAttributes {
        let resource_request = self.resource.is_some();
        KubeAttributes {
            verb: self.verb,
            api_group: self
                .api_group
                .or_else(|| resource_request.then(String::new)),
            api_version: self
                .api_version
                .or_else(|| resource_request.then(|| "v1".to_owned())),
            resource: self.resource,
            subresource: self.subresource,
            namespace: self.namespace,
            name: self.name,
            is_resource_request: self.is_resource_request.unwrap_or(resource_request),
        }
    }
}

impl SshDoc {
    fn into_attributes(self) -> Result<SshAttributes, String> {
        let port = self.port.unwrap_or(22);
        if port == 0 {
            return Err("`ssh.port` must be 1 to 65535".into());
        }
        let on_session = self.command.is_some() || self.subsystem.is_some();
        if self.command.is_some() && self.subsystem.is_some() {
            return Err("`ssh.command` and `ssh.subsystem` are separate requests".into());
        }
        if on_session && self.channel.as_deref().is_some_and(|c| c != "session") {
            return Err(
                "`ssh.command` and `ssh.subsystem` are requests on a `session` channel".into(),
            );
        }
        let mut ssh = SshAttributes::new(self.login, &self.host, port);
        if let Some(command) = self.command {
            ssh = ssh.with_command(command);
        }
        if let Some(subsystem) = self.subsystem {
            ssh = ssh.with_subsystem(subsystem);
        }
        if let Some(name) = self.channel {
            let channel = SshChannel::ALL
                .into_iter()
                .find(|channel| channel.as_str() == name)
                .ok_or_else(|| format!("`ssh.channel`: unknown channel \"{name}\""))?;
            ssh = ssh.with_channel(channel);
        }
        Ok(ssh)
    }
}

fn headers(members: Map<String, Json>) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, value) in members {
        let header = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
            .map_err(|_| format!("`request.headers`: `{name}` is not a header name"))?;
        let lines = match value {
            Json::String(line) => vec![line],
            Json::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Json::String(line) => Ok(line),
                    _ => Err(format!("`request.headers.{name}`: expected strings")),
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(format!(
                    "`request.headers.{name}`: expected a string or an array"
                ));
            }
        };
        for line in lines {
            let value = HeaderValue::from_str(&line)
                .map_err(|_| format!("`request.headers.{name}`: not a valid field value"))?;
            map.append(header.clone(), value);
        }
    }
    Ok(map)
}

/// What a test case expects (docs/policy.md, section 12.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectation {
    /// The effect.
    pub effect: Effect,
    /// The matching rules, exactly and in source order, if given.
    pub rules: Option<Vec<String>>,
    /// The reason, if given.
    pub reason: Option<String>,
}

impl Expectation {
    /// Whether the decision meets the expectation.
    pub fn is_met_by(&self, decision: &Decision<'_>) -> bool {
        decision.effect() == self.effect
            && self
                .rules
                .as_ref()
                .is_none_or(|rules| decision.rules().eq(rules.iter().map(String::as_str)))
            && self.reason.as_ref().is_none_or(|reason| {
                decision
                    .reason()
                    .is_some_and(|actual| actual.to_string() == *reason)
            })
    }
}

/// One named case of a cases file.
#[derive(Clone, Debug)]
pub struct Case {
    /// The name shown in the result table.
    pub name: String,
    /// The request.
    pub request: RequestFixture,
    /// What the decision must be.
    pub expect: Expectation,
}

/// Reads a cases file: a JSON array of request documents with `name` and `expect`.
pub fn parse_cases(text: &str) -> Result<Vec<Case>, FixtureError> {
    let documents: Vec<Map<String, Json>> =
        serde_json::from_str(text).map_err(|source| FixtureError::Json {
            context: "cases".into(),
            source,
        })?;
    documents
        .into_iter()
        .enumerate()
        .map(|(index, mut document)| {
            let context = format!("case {}", index + 1);
            let name = match document.remove("name") {
                Some(Json::String(name)) => name,
                _ => {
                    return Err(FixtureError::Invalid {
                        context,
                        message: "`name` (a string) is required".into(),
                    });
                }
            };
            let context = format!("case {} ({name:?})", index + 1);
            let expect = document
                .remove("expect")
                .ok_or_else(|| FixtureError::Invalid {
                    context: context.clone(),
                    message: "`expect` is required".into(),
                })?;
            let expect: ExpectDoc =
                serde_json::from_value(expect).map_err(|source| FixtureError::Json {
                    context: format!("{context} `expect`"),
                    source,
                })?;
            let request = RequestFixture::read(Json::Object(document), None, &context)?;
            Ok(Case {
                name,
                request,
                expect: Expectation {
                    effect: expect.effect,
                    rules: expect.rules,
                    reason: expect.reason,
                },
            })
        })
        .collect()
}
