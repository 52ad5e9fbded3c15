//! A STAND-IN for kube-apiserver, for tests only: there is no API server binary on the
//! test machines, so zt-kube's tests talk to this instead. It is not an API server and
//! must never be mistaken for one; it reproduces, from the outside, just what `kubectl`
//! (v1.32) and the zt kube proxy exercise, and records every request it receives so a
//! test can assert what reached the "cluster".
//!
//! # What it reproduces
//!
//! - **TLS** on `127.0.0.1:0` with a throw-away CA ([`StandIn::ca_pem`]), HTTP/1.1.
//! - **Authentication**: exactly one credential, `Authorization: Bearer <token>` (the
//!   proxy's service account token); anything else is `401 Unauthorized` as a
//!   `metav1.Status`, as with `--anonymous-auth=false`
//!   (<https://kubernetes.io/docs/reference/access-authn-authz/authentication/#anonymous-requests>).
//! - **Impersonation**
//!   (<https://kubernetes.io/docs/reference/access-authn-authz/authentication/#user-impersonation>):
//!   the token's user may impersonate anyone. The effective user is `Impersonate-User`,
//!   its groups every `Impersonate-Group` header in order, then `system:authenticated`
//!   added unless `system:authenticated` or `system:unauthenticated` is already there
//!   (`system:unauthenticated` for `system:anonymous`; a service account without groups
//!   gets `system:serviceaccounts` and `system:serviceaccounts:<ns>`), `Impersonate-Uid`
//!   and `Impersonate-Extra-<key>` (key lower-cased and percent-decoded). Groups, uid or
//!   extra without a user are refused. The docs only say a user is required; the API
//!   server's `WithImpersonation` filter answers that case with
//!   `responsewriters.InternalError`, so it is a **500** `InternalError` Status, not 400.
//! - **Authorization**: everyone may do everything, except the users named in
//!   [`StandInConfig::forbidden_users`], whose resource requests get `403 Forbidden` with
//!   the RBAC authorizer's message (`pods is forbidden: User "x" cannot list resource
//!   "pods" in API group "" in the namespace "demo"`).
//! - **Discovery** (<https://kubernetes.io/docs/concepts/overview/kubernetes-api/#discovery-api>):
//!   `/version`, `/api`, `/api/v1`, `/apis`, `/apis/{authentication,authorization}.k8s.io/v1`,
//!   always in the unaggregated form (`application/json`): kubectl asks for aggregated
//!   discovery (`as=APIGroupDiscoveryList`) first and falls back when the response's
//!   content type is plain JSON, as against a server without aggregated discovery.
//!   `/openapi/v2` and `/openapi/v3` are 404; kubectl 1.32's `get`, `get -w`, `delete`,
//!   `exec` and `auth whoami` never asked for them in the interop test.
//! - **Pods** in an in-memory store: list (`PodList`, or a `meta.k8s.io/v1` `Table` when
//!   the `Accept` header asks for `as=Table`, see
//!   <https://kubernetes.io/docs/reference/using-api/api-concepts/#receiving-resources-as-tables>),
//!   `fieldSelector` on `metadata.name` / `metadata.namespace`, get, delete (returns the
//!   deleted pod), and **watch** (`watch=true|1`, `resourceVersion`, `timeoutSeconds`):
//!   a chunked stream of `WatchEvent` JSON lines, one flushed chunk per event, `Table`
//!   objects when asked for
//!   (<https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes>).
//!   Every `Table` watch event carries the column definitions.
//!   Without a `resourceVersion` (or with `0`) a watch starts with synthetic `ADDED`
//!   events for the current pods; with one, it replays the changes after it. Tests change
//!   pods while watches are open with [`StandIn::add_pod`], [`StandIn::set_phase`],
//!   [`StandIn::delete_pod`].
//! - **SelfSubjectReview** (`POST /apis/authentication.k8s.io/v1/selfsubjectreviews`,
//!   <https://kubernetes.io/docs/reference/access-authn-authz/authentication/#self-subject-review>):
//!   the effective user, which is what `kubectl auth whoami` prints.
//! - **exec** over WebSocket (KEP-4006; kubectl uses it by default since 1.30, and the
//!   interop test checks that 1.32 never falls back to SPDY here):
//!   subprotocol `v5.channel.k8s.io` (or `v4.channel.k8s.io`); each binary message starts
//!   with its stream id (0 stdin, 1 stdout, 2 stderr, 3 status, 4 resize, and in v5
//!   `255 <id>` closes a stream). The "container" runs built-in commands only: `echo`,
//!   `cat`, `true`, `false`, `exit N`, and `sh -c '<one of those>'`. The exit status goes
//!   out on stream 3 as a `metav1.Status` (`Success`, or `NonZeroExitCode` with an
//!   `ExitCode` cause), which kubectl turns into its own exit code.
//! - **Namespaces**: get and list of `default`, `kube-system` and every namespace a pod
//!   was created in; kubectl asks for the namespace after a 404 to word its error.
//! - **Errors** as `metav1.Status` JSON: 401 `Unauthorized`, 403 `Forbidden`, 404
//!   `NotFound`, 400 `BadRequest`, 405 `MethodNotAllowed`, 500 `InternalError`.
//!
//! # What it leaves out
//!
//! Everything else. Request bodies are never parsed (`kubectl auth whoami` sends its
//! review as protobuf; the answer is JSON, which kubectl also accepts). No etcd
//! semantics beyond a resource version counter (no `410 Gone` for old versions, no
//! bookmarks, no `continue` tokens, no label selectors), no resources except pods and
//! namespaces, no create/update/patch, no RBAC (only the deny list), no admission, no
//! OpenAPI, no aggregated discovery, no HTTP/2, no SPDY (an exec over SPDY is refused
//! with 400, so a client that cannot use WebSocket fails loudly), no `attach`, and **no
//! port-forward** (400 `BadRequest`): kubectl 1.32 port-forward opens a WebSocket with
//! subprotocol `SPDY/3.1+portforward.k8s.io` and runs SPDY/3.1 inside it (KEP-4006's
//! tunnelling), so serving it means a SPDY/3.1 framer whose header blocks are one zlib
//! stream with SPDY's preset dictionary; the workspace has no inflater for that (no
//! flate2 / miniz_oxide / zlib-rs in its dependencies).

mod auth;
mod exec;
mod objects;
pub mod tls;
mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

pub use auth::UserInfo;
pub use objects::Pod;

/// Errors from [`StandIn::start`].
pub type StartError = Box<dyn std::error::Error + Send + Sync>;

/// Response bodies: whole JSON documents or a watch stream.
type Body = BoxBody<Bytes, Infallible>;

/// How many changes an open watch may fall behind before it is closed.
const WATCH_BUFFER: usize = 1024;

/// What a [`StandIn`] starts with.
#[derive(Clone, Debug)]
pub struct StandInConfig {
    /// The one bearer token the stand-in accepts (the proxy's own credential).
    pub token: String,
    /// The user that token authenticates as (what the proxy is without impersonation).
    pub token_user: String,
    /// Effective users whose resource requests get 403 Forbidden.
    pub forbidden_users: Vec<String>,
    /// Pods the store starts with, as `(namespace, name)`; they are `Running`.
    pub pods: Vec<(String, String)>,
}

impl Default for StandInConfig {
    /// A fresh random-enough token for `system:serviceaccount:zt:kube-proxy` and the pods
    /// `demo/web-1`, `demo/web-2` and `other/db-0`.
    fn default() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        Self {
            token: format!("stand-in-token-{nanos:x}"),
            token_user: "system:serviceaccount:zt:kube-proxy".to_owned(),
            forbidden_users: Vec::new(),
            pods: [("demo", "web-1"), ("demo", "web-2"), ("other", "db-0")]
                .iter()
                .map(|(namespace, name)| ((*namespace).to_owned(), (*name).to_owned()))
                .collect(),
        }
    }
}

/// One request as it reached the stand-in.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// The client's address: requests with the same one came on the same connection.
    pub peer: SocketAddr,
    /// HTTP method.
    pub method: String,
    /// URL path.
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// Every header as received (lower-case names, in order, repeated names repeated).
    pub headers: Vec<(String, String)>,
    /// The effective user after authentication and impersonation; `None` when the
    /// request was rejected before that (401, or impersonation without a user).
    pub user: Option<UserInfo>,
    /// The response status (101 for upgraded exec streams).
    pub status: u16,
}

impl RecordedRequest {
    /// Every value of the header `name` (case-insensitive).
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// The effective user name, if the request got that far.
    pub fn username(&self) -> Option<&str> {
        self.user.as_ref().map(|user| user.username.as_str())
    }
}

/// A pod change, as watches see it.
#[derive(Clone, Debug)]
struct Event {
    /// `ADDED`, `MODIFIED` or `DELETED`.
    kind: &'static str,
    /// The pod after the change (for `DELETED`, its last state at the new version).
    pod: Pod,
}

/// The store: pods, the resource version counter, the change log, recorded requests.
#[derive(Default)]
struct Store {
    /// Pods by `(namespace, name)`.
    pods: BTreeMap<(String, String), Pod>,
    /// The last resource version handed out.
    resource_version: u64,
    /// Every change, in resource version order (for watches that resume).
    log: Vec<Event>,
    /// Every request received.
    requests: Vec<RecordedRequest>,
    /// When each exec session's connection ended.
    exec_ended: Vec<std::time::Instant>,
    /// Namespaces: `default`, `kube-system` and every namespace a pod was created in.
    namespaces: BTreeSet<String>,
}

/// State shared by the connections and the [`StandIn`] handle.
struct Shared {
    /// The accepted bearer token.
    token: String,
    /// The user it authenticates as.
    token_user: String,
    /// Users denied every resource request.
    forbidden_users: Vec<String>,
    /// `host:port` for `serverAddressByClientCIDRs`.
    address: String,
    /// When the stand-in started: the creation time of its namespaces.
    started: Timestamp,
    /// Pods, versions, log, requests.
    store: Mutex<Store>,
    /// Live changes for open watches.
    changes: broadcast::Sender<Event>,
}

impl Shared {
    /// Locks the store (a panicked test thread does not poison it for the others).
    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies one change under the store lock: bumps the resource version, stores or
    /// removes the pod, logs the event and tells open watches.
    fn commit(&self, store: &mut Store, kind: &'static str, mut pod: Pod) -> Pod {
        store.resource_version += 1;
        pod.resource_version = store.resource_version;
        let key = (pod.namespace.clone(), pod.name.clone());
        if kind == "DELETED" {
            store.pods.remove(&key);
        } else {
            store.pods.insert(key, pod.clone());
        }
        let event = Event {
            kind,
            pod: pod.clone(),
        };
        store.log.push(event.clone());
        // No receiver is fine: nobody is watching.
        let _ = self.changes.send(event);
        pod
    }

    /// Creates a running pod (replacing one of the same name).
    fn add_pod(&self, namespace: &str, name: &str, created: Timestamp) -> Pod {
        let mut store = self.store();
        store.namespaces.insert(namespace.to_owned());
        let pod = Pod {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            uid: format!("00000000-0000-4000-8000-{:012}", store.resource_version + 1),
            resource_version: 0,
            created,
            phase: "Running".to_owned(),
            labels: BTreeMap::from([("app".to_owned(), name.to_owned())]),
        };
        self.commit(&mut store, "ADDED", pod)
    }
}

/// A running stand-in API server. Dropping it stops accepting connections.
pub struct StandIn {
    /// Where it listens (`127.0.0.1`, ephemeral port).
    pub addr: SocketAddr,
    /// Its CA certificate, PEM.
    pub ca_pem: String,
    /// The bearer token it accepts.
    pub token: String,
    /// Pods, requests, settings.
    shared: Arc<Shared>,
    /// The accept loop.
    accept: JoinHandle<()>,
}

impl StandIn {
    /// Starts a stand-in on `127.0.0.1:0` on the current tokio runtime.
    pub async fn start(config: StandInConfig) -> Result<Self, StartError> {
        let tls = tls::generate()?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (changes, _) = broadcast::channel(WATCH_BUFFER);
        let shared = Arc::new(Shared {
            token: config.token.clone(),
            token_user: config.token_user,
            forbidden_users: config.forbidden_users,
            address: addr.to_string(),
            started: Timestamp::now(),
            store: Mutex::new(Store {
                namespaces: ["default", "kube-system"].map(str::to_owned).into(),
                ..Store::default()
            }),
            changes,
        });
        let created = Timestamp::now() - jiff::SignedDuration::from_secs(300);
        for (namespace, name) in &config.pods {
            shared.add_pod(namespace, name, created);
        }
        let accept = tokio::spawn(accept_loop(
            listener,
            TlsAcceptor::from(tls.config),
            Arc::clone(&shared),
        ));
        Ok(Self {
            addr,
            ca_pem: tls.ca_pem,
            token: config.token,
            shared,
            accept,
        })
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// A rustls client configuration that trusts the stand-in's CA (for test clients
    /// and for the proxy under test).
    pub fn client_tls(&self) -> Result<Arc<rustls::ClientConfig>, StartError> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject as _;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(self.ca_pem.as_bytes())?)?;
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }

    /// A kubeconfig (JSON, which is valid YAML) for this server with its CA and token.
    pub fn kubeconfig(&self) -> String {
        use base64::Engine as _;
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.ca_pem);
        json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{ "name": "stand-in", "cluster": {
                "server": self.url(), "certificate-authority-data": ca } }],
            "users": [{ "name": "proxy", "user": { "token": self.token } }],
            "contexts": [{ "name": "stand-in", "context": { "cluster": "stand-in", "user": "proxy" } }],
            "current-context": "stand-in",
        })
        .to_string()
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.store().requests.clone()
    }

    /// When each exec session ended (its connection closed), oldest first.
    pub fn exec_sessions_ended(&self) -> Vec<std::time::Instant> {
        self.shared.store().exec_ended.clone()
    }

    /// The pods now in the store.
    pub fn pods(&self) -> Vec<Pod> {
        self.shared.store().pods.values().cloned().collect()
    }

    /// Test hook: creates a running pod now; open watches see `ADDED`.
    pub fn add_pod(&self, namespace: &str, name: &str) -> Pod {
        self.shared.add_pod(namespace, name, Timestamp::now())
    }

    /// Test hook: sets a pod's phase; open watches see `MODIFIED`. `None` if there is
    /// no such pod.
    pub fn set_phase(&self, namespace: &str, name: &str, phase: &str) -> Option<Pod> {
        let mut store = self.shared.store();
        let mut pod = store
            .pods
            .get(&(namespace.to_owned(), name.to_owned()))?
            .clone();
        phase.clone_into(&mut pod.phase);
        Some(self.shared.commit(&mut store, "MODIFIED", pod))
    }

    /// Test hook: deletes a pod; open watches see `DELETED`.
    pub fn delete_pod(&self, namespace: &str, name: &str) -> Option<Pod> {
        delete(&self.shared, namespace, name)
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Removes a pod, logging `DELETED`.
fn delete(shared: &Shared, namespace: &str, name: &str) -> Option<Pod> {
    let mut store = shared.store();
    let pod = store
        .pods
        .get(&(namespace.to_owned(), name.to_owned()))?
        .clone();
    Some(shared.commit(&mut store, "DELETED", pod))
}

/// Accepts TCP connections and serves each on a task of its own.
async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, shared: Arc<Shared>) {
    while let Ok((tcp, peer)) = listener.accept().await {
        tokio::spawn(connection(tcp, peer, acceptor.clone(), Arc::clone(&shared)));
    }
}

/// TLS handshake, then HTTP/1.1 with upgrades (for exec).
async fn connection(tcp: TcpStream, peer: SocketAddr, acceptor: TlsAcceptor, shared: Arc<Shared>) {
    let Ok(tls) = acceptor.accept(tcp).await else {
        return;
    };
    let service = service_fn(move |request| {
        let shared = Arc::clone(&shared);
        async move { Ok::<_, Infallible>(serve(shared, peer, request).await) }
    });
    // A client that goes away mid-request is not the stand-in's problem.
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(tls), service)
        .with_upgrades()
        .await;
}

/// Authenticates, impersonates, routes and records one request.
async fn serve(
    shared: Arc<Shared>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Response<Body> {
    let mut record = RecordedRequest {
        peer,
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
        query: request.uri().query().map(str::to_owned),
        headers: request
            .headers()
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect(),
        user: None,
        status: 0,
    };
    let response = match auth::authenticate(request.headers(), &shared.token, &shared.token_user) {
        Err(auth::Rejection::Unauthorized) => error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Unauthorized",
            None,
        ),
        Err(auth::Rejection::WithoutUser(message)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            &format!("Internal error occurred: {message}"),
            Some(json!({ "causes": [{ "message": message }] })),
        ),
        Ok(user) => {
            record.user = Some(user.clone());
            route(&shared, request, &user).await
        }
    };
    record.status = response.status().as_u16();
    shared.store().requests.push(record);
    response
}

/// Dispatches an authenticated request by method and path.
async fn route(
    shared: &Arc<Shared>,
    request: Request<Incoming>,
    user: &UserInfo,
) -> Response<Body> {
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = request.method().clone();
    match (&method, segments.as_slice()) {
        (&Method::GET, ["version"]) => json_ok(&objects::version()),
        (&Method::GET, ["api"]) => json_ok(&objects::core_versions(&shared.address)),
        (&Method::GET, ["api", "v1"]) => json_ok(&objects::core_resources()),
        (&Method::GET, ["apis"]) => json_ok(&objects::group_list()),
        (&Method::GET, ["apis", group, version]) => objects::group_resources(group, version)
            .map_or_else(path_not_found, |list| json_ok(&list)),
        (&Method::POST, ["apis", "authentication.k8s.io", "v1", "selfsubjectreviews"]) => {
            self_subject_review(user)
        }
        (_, ["api", "v1", "namespaces", namespace, "pods", rest @ ..]) => {
            let namespace = (*namespace).to_owned();
            let rest: Vec<String> = rest.iter().map(|part| (*part).to_owned()).collect();
            pods(shared, request, user, Some(&namespace), &rest).await
        }
        (_, ["api", "v1", "pods"]) => pods(shared, request, user, None, &[]).await,
        (&Method::GET, ["api", "v1", "namespaces", rest @ ..]) if rest.len() <= 1 => {
            namespaces(shared, &request, rest.first().copied())
        }
        _ => path_not_found(),
    }
}

/// The `pods` resource and its subresources.
async fn pods(
    shared: &Arc<Shared>,
    request: Request<Incoming>,
    user: &UserInfo,
    namespace: Option<&str>,
    rest: &[String],
) -> Response<Body> {
    let query = Query::parse(request.uri().query());
    let method = request.method().clone();
    let (verb, name, subresource) = match (&method, rest) {
        (&Method::GET, []) if query.watch() => ("watch", None, None),
        (&Method::GET, []) => ("list", None, None),
        (&Method::GET, [name]) => ("get", Some(name.as_str()), None),
        (&Method::DELETE, [name]) => ("delete", Some(name.as_str()), None),
        (&Method::GET | &Method::POST, [_, sub]) if sub == "portforward" || sub == "attach" => {
            return bad_request(&format!(
                "pods/{sub} is not implemented by the zt stand-in API server"
            ));
        }
        (&Method::GET | &Method::POST, [name, sub]) if sub == "exec" || sub == "log" => {
            let verb = if method == Method::GET {
                "get"
            } else {
                "create"
            };
            (verb, Some(name.as_str()), Some(sub.as_str()))
        }
        (_, [] | [_]) => {
            return error(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                &format!(
                    "the server does not allow this method on the requested resource ({method})"
                ),
                None,
            );
        }
        _ => return path_not_found(),
    };
    if let Some(denied) = forbidden(shared, user, verb, namespace, name, subresource) {
        return denied;
    }
    let table = wants_table(&request);
    match (verb, name, subresource) {
        ("watch", _, _) => watch::serve(shared, namespace, &query, table),
        ("list", _, _) => list(shared, namespace, &query, table),
        (_, Some(name), Some("exec")) => exec::serve(shared, request, namespace, name, &query),
        (_, Some(name), Some(_)) => log(shared, namespace, name),
        ("get", Some(name), None) => {
            with_pod(shared, namespace, name, |pod| json_ok(&pod.to_json()))
        }
        (_, Some(name), None) => {
            match namespace.and_then(|namespace| delete(shared, namespace, name)) {
                Some(pod) => json_ok(&pod.to_json()),
                None => pod_not_found(name),
            }
        }
        _ => path_not_found(),
    }
}

/// `GET /api/v1/namespaces[/NAME]`: the namespaces that have (or had) pods, plus
/// `default` and `kube-system`. kubectl asks for the namespace after a 404 to tell a
/// missing object from a missing namespace.
fn namespaces<B>(shared: &Shared, request: &Request<B>, name: Option<&str>) -> Response<Body> {
    let names: Vec<String> = shared.store().namespaces.iter().cloned().collect();
    let table = wants_table(request);
    let Some(name) = name else {
        return json_ok(&objects::namespace_list(&names, shared.started, table));
    };
    if !names.iter().any(|known| known == name) {
        return error(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("namespaces \"{name}\" not found"),
            Some(json!({ "name": name, "kind": "namespaces" })),
        );
    }
    if table {
        let list = objects::namespace_list(&[name.to_owned()], shared.started, true);
        return table_response(&list);
    }
    json_ok(&objects::namespace(name, shared.started))
}

/// The RBAC stand-in: a 403 for [`StandInConfig::forbidden_users`], who may not touch
/// resources at all; `None` for everyone else.
fn forbidden(
    shared: &Shared,
    user: &UserInfo,
    verb: &str,
    namespace: Option<&str>,
    name: Option<&str>,
    subresource: Option<&str>,
) -> Option<Response<Body>> {
    if !shared.forbidden_users.contains(&user.username) {
        return None;
    }
    let resource = subresource.map_or_else(|| "pods".to_owned(), |sub| format!("pods/{sub}"));
    let subject = name.map_or_else(|| "pods".to_owned(), |name| format!("pods \"{name}\""));
    let scope = namespace.map_or_else(
        || "at the cluster scope".to_owned(),
        |namespace| format!("in the namespace \"{namespace}\""),
    );
    let message = format!(
        "{subject} is forbidden: User \"{}\" cannot {verb} resource \"{resource}\" in API group \"\" {scope}",
        user.username
    );
    let mut details = json!({ "kind": "pods" });
    if let Some(name) = name {
        details["name"] = json!(name);
    }
    Some(error(
        StatusCode::FORBIDDEN,
        "Forbidden",
        &message,
        Some(details),
    ))
}

/// `GET .../pods`: a `PodList` or a `Table`.
fn list(shared: &Shared, namespace: Option<&str>, query: &Query, table: bool) -> Response<Body> {
    let selector = match query.field_selector() {
        Ok(selector) => selector,
        Err(message) => return bad_request(&message),
    };
    let store = shared.store();
    let pods: Vec<Pod> = store
        .pods
        .values()
        .filter(|pod| matches(pod, namespace, &selector))
        .cloned()
        .collect();
    let version = store.resource_version;
    drop(store);
    if table {
        table_response(&objects::pod_table(&pods, version, Timestamp::now()))
    } else {
        json_ok(&objects::pod_list(&pods, version))
    }
}

/// `GET .../pods/NAME/log`: a fixed two-line log.
fn log(shared: &Shared, namespace: Option<&str>, name: &str) -> Response<Body> {
    with_pod(shared, namespace, name, |pod| {
        let text = format!(
            "stand-in log of {}/{}\nno real container runs here\n",
            pod.namespace, pod.name
        );
        let mut response = Response::new(Full::new(Bytes::from(text)).boxed());
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        response
    })
}

/// Calls `f` with the pod, or answers 404.
fn with_pod(
    shared: &Shared,
    namespace: Option<&str>,
    name: &str,
    f: impl FnOnce(&Pod) -> Response<Body>,
) -> Response<Body> {
    let pod = namespace.and_then(|namespace| {
        shared
            .store()
            .pods
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    });
    pod.map_or_else(|| pod_not_found(name), |pod| f(&pod))
}

/// Whether a pod is in the namespace (if any) and passes the field selector.
fn matches(pod: &Pod, namespace: Option<&str>, selector: &[(String, String)]) -> bool {
    namespace.is_none_or(|namespace| pod.namespace == namespace)
        && selector.iter().all(|(field, value)| match field.as_str() {
            "metadata.name" => pod.name == *value,
            _ => pod.namespace == *value,
        })
}

/// `POST selfsubjectreviews`: the caller's effective user.
fn self_subject_review(user: &UserInfo) -> Response<Body> {
    let review = json!({
        "kind": "SelfSubjectReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": { "creationTimestamp": Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string() },
        "status": { "userInfo": user.to_json() },
    });
    json_response(StatusCode::CREATED, &review, "application/json")
}

/// Whether the `Accept` header asks for a `meta.k8s.io` `Table`.
fn wants_table<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|accept| accept.contains("as=Table") && accept.contains("g=meta.k8s.io"))
}

/// The query parameters the stand-in understands.
struct Query(Vec<(String, String)>);

impl Query {
    /// Parses `application/x-www-form-urlencoded` pairs.
    fn parse(query: Option<&str>) -> Self {
        Self(
            url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// The first value of `name`.
    fn get<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.all(name).next()
    }

    /// Every value of `name`, in order.
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// A boolean parameter (`true` or `1`, as the API server's query decoding takes it).
    fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some("true" | "1"))
    }

    /// `watch=true|1`.
    fn watch(&self) -> bool {
        self.flag("watch")
    }

    /// `fieldSelector` as `(field, value)` pairs; only `metadata.name` and
    /// `metadata.namespace` are supported fields for pods here (400 otherwise).
    fn field_selector(&self) -> Result<Vec<(String, String)>, String> {
        let Some(selector) = self.get("fieldSelector").filter(|s| !s.is_empty()) else {
            return Ok(Vec::new());
        };
        selector
            .split(',')
            .map(|term| {
                let (field, value) = term
                    .split_once("==")
                    .or_else(|| term.split_once('='))
                    .ok_or_else(|| format!("invalid field selector: {term}"))?;
                if field != "metadata.name" && field != "metadata.namespace" {
                    return Err(format!("field label not supported: {field}"));
                }
                Ok((field.to_owned(), value.to_owned()))
            })
            .collect()
    }
}

/// 200 with a JSON body.
fn json_ok(value: &Value) -> Response<Body> {
    json_response(StatusCode::OK, value, "application/json")
}

/// 200 with a `Table`.
fn table_response(value: &Value) -> Response<Body> {
    json_response(
        StatusCode::OK,
        value,
        "application/json;as=Table;v=v1;g=meta.k8s.io",
    )
}

/// A JSON response with a status and content type.
fn json_response(status: StatusCode, value: &Value, content_type: &'static str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())).boxed());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A `metav1.Status` error response.
fn error(
    status: StatusCode,
    reason: &str,
    message: &str,
    details: Option<Value>,
) -> Response<Body> {
    json_response(
        status,
        &objects::status(status.as_u16(), reason, message, details),
        "application/json",
    )
}

/// 400 `BadRequest`.
fn bad_request(message: &str) -> Response<Body> {
    error(StatusCode::BAD_REQUEST, "BadRequest", message, None)
}

/// 404 for a path the stand-in does not serve, worded like the API server's.
fn path_not_found() -> Response<Body> {
    error(
        StatusCode::NOT_FOUND,
        "NotFound",
        "the server could not find the requested resource",
        Some(json!({})),
    )
}

/// 404 for a missing pod.
fn pod_not_found(name: &str) -> Response<Body> {
    error(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("pods \"{name}\" not found"),
        Some(json!({ "name": name, "kind": "pods" })),
    )
}
