//! Kubernetes-format audit: one `audit.k8s.io/v1` `Event` JSON line per request, at level
//! `Metadata`, for tools that read the API server's audit log. zt's own hash-chained audit
//! log (with the same requests as `kube.request` events) stays the record of authority;
//! this one is a convenience, so a full queue drops lines (counted and logged) instead of
//! holding requests.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use axum::extract::ConnectInfo;
use http::header::USER_AGENT;
use http::{HeaderValue, StatusCode};
use jiff::Timestamp;
use serde_json::{Map, Value, json};
use zt_core::audit::Effect;
use zt_tower::Decided;

use crate::RequestInfo;
use crate::user::UserMapping;

/// Lines the writer may fall behind before new ones are dropped.
const QUEUE: usize = 8192;

/// An append-only file of `audit.k8s.io/v1` events, written by a background thread.
#[derive(Clone, Debug)]
pub struct KubeAuditLog {
    lines: SyncSender<String>,
    dropped: Arc<AtomicU64>,
    users: Arc<UserMapping>,
}

impl KubeAuditLog {
    /// Appends to `path` (created with mode 0600 if missing); `users` names the users the
    /// way the proxy impersonates them.
    ///
    /// # Errors
    /// The file cannot be opened.
    pub fn open(path: &Path, users: UserMapping) -> io::Result<Self> {
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path)?;
        let (lines, queue) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("zt-kube-audit".to_owned())
            .spawn(move || write_lines(&queue, BufWriter::new(file)))?;
        Ok(Self {
            lines,
            dropped: Arc::new(AtomicU64::new(0)),
            users: Arc::new(users),
        })
    }

    /// Lines dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn record(&self, event: &Value) {
        match self.lines.try_send(event.to_string()) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if dropped.is_power_of_two() {
                    tracing::warn!(dropped, "Kubernetes audit log is behind; lines dropped");
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                tracing::error!("the Kubernetes audit log writer stopped");
            }
        }
    }

    /// Records the event for one answered request (see [`event`]).
    pub(crate) fn answered(&self, request: &RequestMeta, answer: Answer<'_>) {
        self.record(&event(request, &answer, &self.users));
    }
}

fn write_lines(queue: &Receiver<String>, mut out: BufWriter<File>) {
    while let Ok(line) = queue.recv() {
        let mut batch = Some(line);
        while let Some(line) = batch.take().or_else(|| queue.try_recv().ok()) {
            if let Err(error) = out
                .write_all(line.as_bytes())
                .and_then(|()| out.write_all(b"\n"))
            {
                tracing::error!(%error, "cannot write the Kubernetes audit log");
            }
        }
        if let Err(error) = out.flush() {
            tracing::error!(%error, "cannot write the Kubernetes audit log");
        }
    }
}

/// What the event says about the request, kept from before it was handed on.
#[derive(Debug)]
pub(crate) struct RequestMeta {
    uri: String,
    user_agent: Option<String>,
    source: Option<SocketAddr>,
    received: Timestamp,
}

impl RequestMeta {
    pub(crate) fn of<B>(request: &http::Request<B>) -> Self {
        Self {
            uri: request
                .uri()
                .path_and_query()
                .map_or("/", |pq| pq.as_str())
                .to_owned(),
            user_agent: request
                .headers()
                .get(USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            source: request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0),
            received: Timestamp::now(),
        }
    }
}

/// How a request was answered.
#[derive(Debug)]
pub(crate) struct Answer<'a> {
    pub(crate) info: &'a RequestInfo,
    pub(crate) audit_id: &'a HeaderValue,
    pub(crate) decided: Option<&'a Decided>,
    pub(crate) status: StatusCode,
}

/// An `audit.k8s.io/v1` `Event` at level `Metadata`: stage `ResponseStarted` for watches
/// and upgraded connections (they go on), `ResponseComplete` otherwise.
pub(crate) fn event(request: &RequestMeta, answer: &Answer<'_>, users: &UserMapping) -> Value {
    let (info, status) = (answer.info, answer.status);
    let long_running = info.verb == "watch" || status == StatusCode::SWITCHING_PROTOCOLS;
    let mut event = Map::new();
    event.insert("kind".into(), json!("Event"));
    event.insert("apiVersion".into(), json!("audit.k8s.io/v1"));
    event.insert("level".into(), json!("Metadata"));
    event.insert(
        "auditID".into(),
        json!(answer.audit_id.to_str().unwrap_or_default()),
    );
    event.insert(
        "stage".into(),
        json!(if long_running {
            "ResponseStarted"
        } else {
            "ResponseComplete"
        }),
    );
    event.insert("requestURI".into(), json!(request.uri));
    event.insert("verb".into(), json!(info.verb));
    event.insert("user".into(), user(answer.decided, users));
    if let Some(source) = request.source {
        event.insert("sourceIPs".into(), json!([source.ip().to_string()]));
    }
    if let Some(agent) = &request.user_agent {
        event.insert("userAgent".into(), json!(agent));
    }
    if info.is_resource_request {
        let mut object = Map::new();
        object.insert("resource".into(), json!(info.resource));
        for (key, value) in [
            ("namespace", &info.namespace),
            ("name", &info.name),
            ("subresource", &info.subresource),
        ] {
            if !value.is_empty() {
                object.insert(key.into(), json!(value));
            }
        }
        object.insert("apiGroup".into(), json!(info.api_group));
        object.insert("apiVersion".into(), json!(info.api_version));
        event.insert("objectRef".into(), Value::Object(object));
    }
    let mut response = json!({"metadata": {}, "code": status.as_u16()});
    if !status.is_success() && status != StatusCode::SWITCHING_PROTOCOLS {
        response["status"] = json!("Failure");
    }
    event.insert("responseStatus".into(), response);
    event.insert(
        "requestReceivedTimestamp".into(),
        json!(micros(request.received)),
    );
    event.insert("stageTimestamp".into(), json!(micros(Timestamp::now())));
    if let Some(decided) = answer.decided {
        let decision = match decided.decision.effect {
            Effect::Allow => "allow",
            _ => "forbid",
        };
        let mut annotations = Map::new();
        annotations.insert("authorization.k8s.io/decision".into(), json!(decision));
        let reason = match (&decided.decision.reason, decided.decision.rules.as_slice()) {
            (Some(reason), _) => reason.clone(),
            (None, []) => String::new(),
            (None, rules) => format!("allowed by rule \"{}\"", rules.join("\", \"")),
        };
        annotations.insert("authorization.k8s.io/reason".into(), json!(reason));
        event.insert("annotations".into(), Value::Object(annotations));
    }
    Value::Object(event)
}

/// The user as the proxy impersonates it (or as far as it is known).
fn user(decided: Option<&Decided>, users: &UserMapping) -> Value {
    let Some(identity) = decided.and_then(|d| d.identity.as_deref()) else {
        return json!({"username": "system:anonymous", "groups": ["system:unauthenticated"]});
    };
    match users.kube_user(identity) {
        Ok(mut user) => {
            if !user.groups.iter().any(|g| g == "system:authenticated") {
                user.groups.push("system:authenticated".to_owned());
            }
            serde_json::to_value(user).unwrap_or(Value::Null)
        }
        Err(_) => json!({"username": identity.subject}),
    }
}

/// RFC 3339 with microseconds, as the API server writes its timestamps.
fn micros(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;
    use zt_core::identity::{Identity, IdentityKind};

    #[test]
    fn events_have_the_api_servers_shape() {
        let info = RequestInfo::resolve(&Method::DELETE, "/api/v1/namespaces/demo/pods/web", None)
            .unwrap_or_default();
        let request = http::Request::builder()
            .method(Method::DELETE)
            .uri("/api/v1/namespaces/demo/pods/web")
            .header(USER_AGENT, "kubectl/v1.32.4")
            .body(())
            .unwrap_or_default();
        let id = HeaderValue::from_static("0190-abc");
        let mut identity = Identity::new(
            IdentityKind::User,
            "alice",
            "https://idp.example.com",
            Timestamp::now(),
        );
        identity.email = Some("alice@example.com".to_owned());
        identity.claims = json!({"email": "alice@example.com", "groups": ["dev"]})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let decided = Decided::new(
            Some(Arc::new(identity)),
            zt_core::audit::Decision::deny("deleting pods is not allowed"),
        );
        let answer = Answer {
            info: &info,
            audit_id: &id,
            decided: Some(&decided),
            status: StatusCode::FORBIDDEN,
        };
        let users = UserMapping::default().username_claim("email");
        let event = event(&RequestMeta::of(&request), &answer, &users);
        assert_eq!(event["apiVersion"], "audit.k8s.io/v1");
        assert_eq!(event["auditID"], "0190-abc");
        assert_eq!(event["stage"], "ResponseComplete");
        assert_eq!(event["verb"], "delete");
        assert_eq!(event["user"]["username"], "alice@example.com");
        assert_eq!(
            event["user"]["groups"],
            json!(["dev", "system:authenticated"])
        );
        assert_eq!(event["objectRef"]["resource"], "pods");
        assert_eq!(event["objectRef"]["name"], "web");
        assert_eq!(event["objectRef"]["apiVersion"], "v1");
        assert_eq!(event["responseStatus"]["code"], 403);
        assert_eq!(
            event["annotations"]["authorization.k8s.io/decision"],
            "forbid"
        );
        assert_eq!(
            event["annotations"]["authorization.k8s.io/reason"],
            "deleting pods is not allowed"
        );
    }
}
