//! The audit event model and its stable JSON form (see `docs/audit.md`).

use std::net::IpAddr;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::identity::Identity;
use crate::policy::KubeAttributes;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EventKind {
    /// An HTTP request was decided.
    #[serde(rename = "http.request")]
    HttpRequest,
    /// A Kubernetes API request was decided.
    #[serde(rename = "kube.request")]
    KubeRequest,
    /// An SSH session was opened (or refused).
    #[serde(rename = "ssh.session")]
    SshSession,
    /// A command ran in an SSH session (or was refused).
    #[serde(rename = "ssh.exec")]
    SshExec,
    /// A user signed in.
    #[serde(rename = "login")]
    Login,
    /// A user signed out or a session was revoked.
    #[serde(rename = "logout")]
    Logout,
    /// A policy was loaded or a reload was refused.
    #[serde(rename = "policy.reload")]
    PolicyReload,
    /// A presented credential was rejected.
    #[serde(rename = "token.rejected")]
    TokenRejected,
    /// The audit writer resumed a log whose last line was torn (the writer had been killed).
    #[serde(rename = "audit.recovered")]
    AuditRecovered,
    /// The audit writer shut down cleanly; nothing follows in this chain until it restarts.
    #[serde(rename = "audit.sealed")]
    AuditSealed,
}

impl EventKind {
    /// Every kind, in documentation order.
    pub const ALL: [EventKind; 10] = [
        Self::HttpRequest,
        Self::KubeRequest,
        Self::SshSession,
        Self::SshExec,
        Self::Login,
        Self::Logout,
        Self::PolicyReload,
        Self::TokenRejected,
        Self::AuditRecovered,
        Self::AuditSealed,
    ];

    /// The JSON name, e.g. `http.request`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HttpRequest => "http.request",
            Self::KubeRequest => "kube.request",
            Self::SshSession => "ssh.session",
            Self::SshExec => "ssh.exec",
            Self::Login => "login",
            Self::Logout => "logout",
            Self::PolicyReload => "policy.reload",
            Self::TokenRejected => "token.rejected",
            Self::AuditRecovered => "audit.recovered",
            Self::AuditSealed => "audit.sealed",
        }
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a name that is no [`EventKind`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown event kind (one of: http.request, kube.request, ssh.session, ssh.exec, login, \
     logout, policy.reload, token.rejected, audit.recovered, audit.sealed)"
)]
pub struct UnknownEventKind;

impl std::str::FromStr for EventKind {
    type Err = UnknownEventKind;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or(UnknownEventKind)
    }
}

/// Who acted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Actor {
    /// Subject (`sub`, or the SPIFFE ID of a workload).
    #[serde(rename = "sub", skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// E-mail address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// The issuer that vouched for the actor.
    #[serde(rename = "iss", skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// SPIFFE ID of a workload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spiffe_id: Option<String>,
    /// Login session id.
    #[serde(rename = "session", skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

impl From<&Identity> for Actor {
    fn from(identity: &Identity) -> Self {
        Self {
            subject: Some(identity.subject.clone()),
            email: identity.email.clone(),
            groups: identity.groups.clone(),
            issuer: Some(identity.issuer.clone()),
            spiffe_id: identity.spiffe_id.as_ref().map(|id| id.as_str().to_owned()),
            session_id: identity.session_id.clone(),
        }
    }
}

/// Where the request came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Source {
    /// Client IP address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// HTTP `User-Agent`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// SSH client version string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_client: Option<String>,
}

/// What was accessed, per protocol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Target {
    /// An HTTP request.
    Http {
        /// Method.
        method: String,
        /// Host.
        host: String,
        /// Normalised path.
        path: String,
    },
    /// A Kubernetes API request.
    Kube {
        /// Verb (`get`, `list`, `create`, ...).
        verb: String,
        /// API group (empty for the core group).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        api_group: String,
        /// Resource (`pods`), or the non-resource path.
        resource: String,
        /// Subresource (`exec`, `log`, ...).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subresource: Option<String>,
        /// Namespace.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
        /// Object name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// An SSH login, session or command.
    Ssh {
        /// Account on the upstream host.
        login: String,
        /// Upstream host.
        host: String,
        /// Upstream port.
        port: u16,
        /// Command of an exec request.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        command: Option<String>,
    },
}

impl Target {
    /// The target of a Kubernetes request with these attributes; `path` stands in for the
    /// resource of a non-resource request (`/healthz`).
    pub fn kube(kube: &KubeAttributes, path: &str) -> Self {
        Self::Kube {
            verb: kube.verb.clone(),
            api_group: kube.api_group.clone().unwrap_or_default(),
            resource: match (&kube.resource, kube.is_resource_request) {
                (Some(resource), true) => resource.clone(),
                _ => path.to_owned(),
            },
            subresource: kube.subresource.clone(),
            namespace: kube.namespace.clone(),
            name: kube.name.clone(),
        }
    }
}

/// Allow or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Access was granted.
    Allow,
    /// Access was refused.
    Deny,
}

/// The access decision an event records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Decision {
    /// Allow or deny.
    pub effect: Effect,
    /// Ids of the rules that matched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    /// Why access was denied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Decision {
    /// An allow decision by the given rules.
    pub fn allow(rules: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            effect: Effect::Allow,
            rules: rules.into_iter().map(Into::into).collect(),
            reason: None,
        }
    }

    /// A deny decision with a reason.
    pub fn deny(reason: impl Into<String>) -> Self {
        Self {
            effect: Effect::Deny,
            rules: Vec::new(),
            reason: Some(reason.into()),
        }
    }

    /// A deny decision by the given rules, with a reason.
    pub fn deny_by(
        rules: impl IntoIterator<Item = impl Into<String>>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            rules: rules.into_iter().map(Into::into).collect(),
            ..Self::deny(reason)
        }
    }
}

/// One audit event.
///
/// `id` (UUIDv7, time-ordered) and `time` are set when the event is created; the writer
/// adds the sequence number and hash chain when it writes the event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditEvent {
    /// Unique, time-ordered id.
    pub id: Uuid,
    /// When it happened.
    pub time: Timestamp,
    /// What happened.
    pub kind: EventKind,
    /// Who acted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
    /// From where.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// On what.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// With what outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// How long the decision (or request) took, in microseconds.
    #[serde(
        default,
        rename = "latency_us",
        with = "micros",
        skip_serializing_if = "Option::is_none"
    )]
    pub latency: Option<Duration>,
    /// The request id, linking to proxy and upstream logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Anything else worth keeping.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub fields: Map<String, Value>,
}

impl AuditEvent {
    /// A new event of `kind`, stamped now.
    pub fn new(kind: EventKind) -> Self {
        Self {
            id: Uuid::now_v7(),
            time: Timestamp::now(),
            kind,
            actor: None,
            source: None,
            target: None,
            decision: None,
            latency: None,
            request_id: None,
            fields: Map::new(),
        }
    }

    /// Sets the actor.
    pub fn actor(mut self, actor: impl Into<Actor>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// Sets the source.
    pub fn source(mut self, source: Source) -> Self {
        self.source = Some(source);
        self
    }

    /// Sets the target.
    pub fn target(mut self, target: Target) -> Self {
        self.target = Some(target);
        self
    }

    /// Sets the decision.
    pub fn decision(mut self, decision: Decision) -> Self {
        self.decision = Some(decision);
        self
    }

    /// Sets the latency.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = Some(latency);
        self
    }

    /// Sets the request id.
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }

    /// Adds a free-form field.
    pub fn field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.fields.insert(name.into(), value.into());
        self
    }
}

/// `Option<Duration>` as whole microseconds.
mod micros {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => s.serialize_u64(u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_micros))
    }
}
