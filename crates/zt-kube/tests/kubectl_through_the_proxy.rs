//! Real kubectl through the zt kube proxy to the stand-in API server: the proxy verifies
//! the user's token (minted by zt-dev-idp), decides each request with kube attributes,
//! and forwards it with its own credential and the user's impersonation. Also: the
//! header-smuggling attempts a client could make never reach the API server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support::apiserver::{RecordedRequest, StandIn, StandInConfig};
use support::kubectl::{Kubectl, describe, kubectl_or_skip};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tower::Layer;
use zt_core::audit::{Auditor, MemorySink};
use zt_core::identity::{IssuerConfig, Verifier};
use zt_core::policy::Engine;
use zt_dev_idp::{DevIdp, RunningDevIdp};
use zt_kube::user::UserMapping;
use zt_kube::{KubeAuditLog, KubeProxy, KubeRequestLayer};
use zt_tower::{AuthLayer, PolicyHandle};

const POLICY: &str = r#"
allow "discovery" when identity.authenticated and not kube.is_resource_request
allow "whoami" when identity.authenticated and kube.resource == "selfsubjectreviews"
allow "read-pods"
  when identity.groups has "engineering"
   and kube.resource == "pods"
   and kube.verb in ["get", "list", "watch"]
allow "exec" when identity.groups has "engineering" and kube.subresource == "exec"
allow "port-forward" when identity.groups has "engineering" and kube.subresource == "portforward"
deny "no-delete"
  reason "deleting pods is not allowed through zt"
  when kube.verb == "delete"
"#;

/// The IdP, the stand-in, the proxy in front of it, and kubectl pointed at the proxy
/// with alice's token.
struct Setup {
    idp: RunningDevIdp,
    stand_in: StandIn,
    proxy: SocketAddr,
    policy: PolicyHandle,
    kubectl: Option<Kubectl>,
    token: String,
    /// The CA of the proxy's certificate, PEM.
    proxy_ca: String,
    /// Holds the Kubernetes-format audit log.
    audit_dir: support::kubectl::TempDir,
}

async fn setup(test: &str, with_kubectl: bool) -> Option<Setup> {
    setup_with(test, with_kubectl, None).await
}

/// [`setup`], with the proxy sending to `upstream` (URL and CA, PEM) instead of the
/// stand-in.
async fn setup_with(
    test: &str,
    with_kubectl: bool,
    upstream: Option<(String, String)>,
) -> Option<Setup> {
    let binary = if with_kubectl {
        Some(kubectl_or_skip(test)?)
    } else {
        None
    };
    let idp = DevIdp::builder()
        .banner(false)
        .access_token_audience("kubernetes")
        .start()
        .await
        .unwrap();
    let stand_in = StandIn::start(StandInConfig::default()).await.unwrap();
    let verifier = Verifier::builder()
        .issuer(IssuerConfig::discover(idp.issuer()).audience("kubernetes"))
        .build()
        .await
        .unwrap();
    let policy = PolicyHandle::new(Engine::from_source(POLICY).unwrap());
    let auditor = Auditor::builder(MemorySink::default()).start().unwrap();
    let (upstream_url, upstream_ca) =
        upstream.unwrap_or_else(|| (stand_in.url(), stand_in.ca_pem.clone()));
    let ca = {
        use rustls_pki_types::pem::PemObject as _;
        rustls_pki_types::CertificateDer::from_pem_slice(upstream_ca.as_bytes())
    };
    let proxy = KubeProxy::builder(upstream_url)
        .cluster_ca(ca.unwrap())
        .token(&stand_in.token)
        .users(UserMapping::default().username_claim("email"))
        .build()
        .unwrap();
    let auth = AuthLayer::builder()
        .verifier(verifier)
        .policy(policy.clone())
        .auditor(auditor.clone())
        .build()
        .unwrap();
    let audit_dir = support::kubectl::TempDir::new(&format!("{test}-audit")).unwrap();
    let kube_audit = audit_dir.path().join("kube-audit.jsonl");
    let log = KubeAuditLog::open(&kube_audit, UserMapping::default().username_claim("email"));
    let service = KubeRequestLayer::new(Some(auditor))
        .kube_audit(log.unwrap())
        .layer(auth.layer(proxy));
    // kubectl sends bearer tokens over TLS only.
    let tls = support::apiserver::tls::generate().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(zt_kube::serve::serve(
        listener,
        Some(tokio_rustls::TlsAcceptor::from(tls.config)),
        service,
        std::future::pending(),
    ));
    let ca_data = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        tls.ca_pem.as_bytes(),
    );
    let token = idp.mint_access_token("alice").unwrap();
    let kubectl = binary.map(|binary| {
        let kubeconfig = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: zt\n  cluster:\n    server: https://{addr}\n    certificate-authority-data: {ca_data}\n\
             users:\n- name: alice\n  user:\n    token: {token}\ncontexts:\n- name: zt\n  context:\n    cluster: zt\n    user: alice\n\
             current-context: zt\n"
        );
        Kubectl::new(binary, test, &kubeconfig).unwrap()
    });
    Some(Setup {
        idp,
        stand_in,
        proxy: addr,
        policy,
        kubectl,
        token,
        proxy_ca: tls.ca_pem,
        audit_dir,
    })
}

impl Setup {
    fn kubectl(&self) -> &Kubectl {
        self.kubectl.as_ref().unwrap()
    }

    async fn run(&self, args: &[&str], stdin: Option<&str>) -> std::process::Output {
        self.kubectl().run(args, stdin).await.unwrap()
    }

    async fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let output = self.run(args, stdin).await;
        assert!(
            output.status.success(),
            "kubectl {args:?}: {}",
            describe(&output)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn requests(&self, method: &str, path: &str) -> Vec<RecordedRequest> {
        self.stand_in
            .requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.starts_with(path))
            .collect()
    }
}

/// What reached the API server came with the proxy's credential and alice's
/// impersonation, never with alice's own token.
fn assert_impersonated_alice(setup: &Setup, requests: &[RecordedRequest]) {
    assert!(!requests.is_empty(), "nothing reached the API server");
    for request in requests {
        assert_eq!(
            request.header_values("impersonate-user"),
            ["alice@example.com"]
        );
        assert_eq!(
            request.header_values("impersonate-group"),
            ["engineering", "admins", "system:authenticated"]
        );
        let authorization = request.header_values("authorization");
        assert_eq!(
            authorization,
            [format!("Bearer {}", setup.stand_in.token).as_str()]
        );
        assert!(!authorization[0].contains(&setup.token));
        assert_eq!(request.username(), Some("alice@example.com"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_pods_and_whoami_run_as_the_signed_in_user() {
    let Some(setup) = setup("kube-get", true).await else {
        return;
    };
    let pods = setup.ok(&["get", "pods", "-n", "demo"], None).await;
    assert!(pods.contains("web-1") && pods.contains("web-2"), "{pods}");
    assert_impersonated_alice(
        &setup,
        &setup.requests("GET", "/api/v1/namespaces/demo/pods"),
    );

    let whoami = setup.ok(&["auth", "whoami"], None).await;
    assert!(whoami.contains("alice@example.com"), "{whoami}");
    assert!(whoami.contains("engineering"), "{whoami}");
    drop(setup.idp);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_passes_stdin_and_stdout_through() {
    let Some(setup) = setup("kube-exec", true).await else {
        return;
    };
    let hello = setup
        .ok(
            &["exec", "-n", "demo", "web-1", "--", "echo", "hello"],
            None,
        )
        .await;
    assert_eq!(hello.trim(), "hello");
    let echoed = setup
        .ok(
            &["exec", "-i", "-n", "demo", "web-1", "--", "cat"],
            Some("line one\nline two\n"),
        )
        .await;
    assert_eq!(echoed, "line one\nline two\n");
    let failed = setup
        .run(
            &["exec", "-n", "demo", "web-1", "--", "sh", "-c", "exit 3"],
            None,
        )
        .await;
    assert_eq!(failed.status.code(), Some(3), "{}", describe(&failed));
    assert_impersonated_alice(
        &setup,
        &setup.requests("GET", "/api/v1/namespaces/demo/pods/web-1/exec"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_delete_shows_the_policy_reason_and_never_reaches_the_cluster() {
    let Some(setup) = setup("kube-delete", true).await else {
        return;
    };
    let output = setup
        .run(&["delete", "pod", "web-2", "-n", "demo"], None)
        .await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "Error from server (Forbidden): pods \"web-2\" is forbidden: deleting pods is not allowed through zt"
        ),
        "{}",
        describe(&output)
    );
    assert!(setup.requests("DELETE", "/").is_empty());
    assert!(setup.stand_in.pods().iter().any(|pod| pod.name == "web-2"));

    // The Kubernetes-format audit log has it, as the API server would have logged it.
    let path = setup.audit_dir.path().join("kube-audit.jsonl");
    let deadline = Instant::now() + Duration::from_secs(5);
    let event = loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let found = text
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .find(|event| event["verb"] == "delete");
        if let Some(event) = found {
            break event;
        }
        assert!(Instant::now() < deadline, "no delete event in {text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(event["kind"], "Event");
    assert_eq!(event["apiVersion"], "audit.k8s.io/v1");
    assert_eq!(event["user"]["username"], "alice@example.com");
    assert_eq!(event["objectRef"]["name"], "web-2");
    assert_eq!(event["responseStatus"]["code"], 403);
    assert_eq!(
        event["annotations"]["authorization.k8s.io/decision"],
        "forbid"
    );
    assert_eq!(
        event["annotations"]["authorization.k8s.io/reason"],
        "deleting pods is not allowed through zt"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_streams_events_and_ends_when_the_policy_stops_allowing_it() {
    let Some(setup) = setup("kube-watch", true).await else {
        return;
    };
    let mut child = setup
        .kubectl()
        .command(&["get", "pods", "-n", "demo", "-w"])
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = String::new();
    let read_until = async |lines: &mut tokio::io::Lines<_>, seen: &mut String, what: &str| {
        tokio::time::timeout(Duration::from_secs(30), async {
            while !seen.contains(what) {
                match lines.next_line().await.unwrap() {
                    Some(line) => {
                        seen.push_str(&line);
                        seen.push('\n');
                    }
                    None => panic!("kubectl ended before {what}: {seen}"),
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {what} in kubectl's output: {seen}"));
    };
    read_until(&mut lines, &mut seen, "web-2").await;
    setup.stand_in.add_pod("demo", "late-pod");
    read_until(&mut lines, &mut seen, "late-pod").await;
    assert_impersonated_alice(
        &setup,
        &setup.requests("GET", "/api/v1/namespaces/demo/pods"),
    );

    // Revoke: the open watch ends within a second.
    setup.policy.store(
        Engine::from_source(&POLICY.replace(r#"["get", "list", "watch"]"#, r#"["get", "list"]"#))
            .unwrap(),
    );
    let revoked = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while lines.next_line().await.ok().flatten().is_some() {}
    })
    .await;
    let elapsed = revoked.elapsed();
    assert!(
        ended.is_ok(),
        "the watch stayed open after the policy changed"
    );
    assert!(
        elapsed < Duration::from_secs(1),
        "the watch ended only after {elapsed:?}"
    );
    eprintln!("watch ended {elapsed:?} after the policy change");
    let _ = child.kill().await;
}

/// A TLS connection to the proxy.
async fn tls_to_proxy(setup: &Setup) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    use rustls_pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(setup.proxy_ca.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(setup.proxy).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap()
}

/// Sends a raw HTTP/1.1 request to the proxy (over TLS) and returns the status code.
async fn raw(setup: &Setup, head: &str) -> u16 {
    let mut stream = tls_to_proxy(setup).await;
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = vec![0; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut response))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&response[..n]);
    text.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smuggled_identity_headers_never_reach_the_api_server() {
    let Some(setup) = setup("kube-smuggling", false).await else {
        return;
    };
    let token = &setup.token;
    let get = |extra: &str| {
        format!(
            "GET /api/v1/namespaces/demo/pods HTTP/1.1\r\nHost: k\r\nAuthorization: Bearer {token}\r\n{extra}Connection: close\r\n\r\n"
        )
    };
    // Impersonation in any form or case is refused before anything is forwarded.
    for header in [
        "Impersonate-User: admin\r\n",
        "impersonate-group: system:masters\r\n",
        "IMPERSONATE-UID: 0\r\n",
        "Impersonate-Extra-Scopes: all\r\n",
        "iMpErSoNaTe-UsEr: admin\r\nImpersonate-Group: system:masters\r\n",
    ] {
        assert_eq!(raw(&setup, &get(header)).await, 403, "{header}");
    }
    assert!(
        setup.stand_in.requests().is_empty(),
        "{:?}",
        setup.stand_in.requests()
    );

    // The policy decides on the path the API server acts on: `pods/../secrets/x` is a
    // secret (no rule allows it), not a pod named `..`; ambiguous encodings are refused.
    let path = |path: &str| {
        format!(
            "GET {path} HTTP/1.1\r\nHost: k\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        )
    };
    assert_eq!(
        raw(&setup, &path("/api/v1/namespaces/demo/pods/../secrets/x")).await,
        403
    );
    assert_eq!(
        raw(
            &setup,
            &path("/api/v1/namespaces/demo//pods/.%2E/secrets/x")
        )
        .await,
        403
    );
    assert_eq!(
        raw(
            &setup,
            &path("/api/v1/namespaces/demo/pods/x%2F..%2F..%2Fsecrets")
        )
        .await,
        400
    );
    assert_eq!(raw(&setup, &path("/api/../../etc")).await, 400);
    assert!(
        setup.stand_in.requests().is_empty(),
        "{:?}",
        setup.stand_in.requests()
    );

    // Naming the proxy's own headers in `Connection` does not remove them.
    let head = format!(
        "GET /api/v1/namespaces/demo/pods HTTP/1.1\r\nHost: k\r\nAuthorization: Bearer {token}\r\nAudit-ID: smuggle-1\r\nConnection: Impersonate-User, Impersonate-Group, Authorization, Audit-ID\r\n\r\n"
    );
    assert_eq!(raw(&setup, &head).await, 200);
    // Two Authorization headers are ambiguous: refused.
    let head = format!(
        "GET /api/v1/namespaces/demo/pods HTTP/1.1\r\nHost: k\r\nAuthorization: Bearer {token}\r\nAuthorization: Bearer other\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(raw(&setup, &head).await, 401);
    // A token in the WebSocket subprotocol authenticates but is not passed on.
    let subprotocol = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        token.as_bytes(),
    );
    let head = format!(
        "GET /api/v1/namespaces/demo/pods HTTP/1.1\r\nHost: k\r\nSec-WebSocket-Protocol: base64url.bearer.authorization.k8s.io.{subprotocol}, v5.channel.k8s.io\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(raw(&setup, &head).await, 200);

    let forwarded = setup.stand_in.requests();
    // The Audit-ID the API server logs is the one zt audited, `Connection` or not.
    assert_eq!(forwarded[0].header_values("audit-id"), ["smuggle-1"]);
    assert_eq!(forwarded.len(), 2, "{forwarded:?}");
    assert_impersonated_alice(&setup, &forwarded);
    for request in &forwarded {
        for (name, value) in &request.headers {
            assert!(
                !value.contains(token.as_str()),
                "{name} carried the user's token"
            );
            assert_ne!(name.to_ascii_lowercase(), "connection", "{request:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exec_session_ends_when_the_policy_stops_allowing_it() {
    let Some(setup) = setup("kube-exec-revoked", true).await else {
        return;
    };
    let mut child = setup
        .kubectl()
        .command(&["exec", "-i", "-n", "demo", "web-1", "--", "cat"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    stdin.write_all(b"still here\n").await.unwrap();
    let echoed = tokio::time::timeout(Duration::from_secs(30), stdout.next_line())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(echoed.as_deref(), Some("still here"));

    setup
        .policy
        .store(Engine::from_source(&POLICY.replace("allow \"exec\"", "deny \"exec\"")).unwrap());
    let revoked = Instant::now();
    // The proxy cuts the session: the API server side sees its connection close.
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(ended) = setup.stand_in.exec_sessions_ended().first() {
                break ended.saturating_duration_since(revoked);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("the exec session stayed open after the policy changed");
    assert!(
        closed < Duration::from_secs(1),
        "the session ended only after {closed:?}"
    );
    // kubectl then exits (after its own close handshake, which may wait up to a second).
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("kubectl exec stayed connected after the policy changed")
        .unwrap();
    eprintln!(
        "exec session ended {closed:?} after the policy change; kubectl exited after {:?} ({status})",
        revoked.elapsed()
    );
    drop(stdin);
}

/// Sends `head` over TLS and returns the whole response as text (the connection must end).
async fn raw_response(setup: &Setup, head: &str) -> String {
    let mut stream = tls_to_proxy(setup).await;
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("the proxy kept the connection open after a refused upgrade")
        .ok();
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_connection_that_refused_an_upgrade_is_never_reused() {
    let Some(setup) = setup("kube-refused-upgrade", false).await else {
        return;
    };
    let token = &setup.token;
    let get = format!(
        "GET /api/v1/namespaces/demo/pods HTTP/1.1\r\nHost: k\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(raw(&setup, &get).await, 200);
    // A SPDY port-forward upgrade the API server refuses (the stand-in has no SPDY).
    let upgrade = format!(
        "POST /api/v1/namespaces/demo/pods/web-1/portforward HTTP/1.1\r\nHost: k\r\nAuthorization: Bearer {token}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\nContent-Length: 0\r\n\r\n"
    );
    let response = raw_response(&setup, &upgrade).await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(
        response.to_ascii_lowercase().contains("connection: close"),
        "{response}"
    );
    assert_eq!(raw(&setup, &get).await, 200);

    let requests = setup.stand_in.requests();
    let refused = requests
        .iter()
        .find(|r| r.path.ends_with("/portforward"))
        .expect("the upgrade reached the API server");
    assert_eq!(refused.header_values("upgrade"), ["SPDY/3.1"]);
    let last = requests.last().unwrap();
    assert_eq!(last.path, "/api/v1/namespaces/demo/pods");
    assert_ne!(
        last.peer, refused.peer,
        "the next request went over the connection that refused the upgrade"
    );
}

/// An upstream that accepts any upgrade (as the API server does SPDY) and then echoes
/// bytes; it hands over the request head it received.
async fn echo_upstream() -> (String, String, tokio::sync::oneshot::Receiver<String>) {
    let tls = support::apiserver::tls::generate().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let (head_tx, head_rx) = tokio::sync::oneshot::channel();
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.config);
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut stream = acceptor.accept(tcp).await.unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
        let _ = head_tx.send(String::from_utf8_lossy(&head).into_owned());
        stream
            .write_all(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n")
            .await
            .unwrap();
        let mut buffer = vec![0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if stream.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    (url, tls.ca_pem, head_rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spdy_upgrades_are_bridged_both_ways_and_cut_off_when_revoked() {
    let (url, ca_pem, head) = echo_upstream().await;
    let Some(setup) = setup_with("kube-spdy", false, Some((url, ca_pem))).await else {
        return;
    };
    let token = &setup.token;
    let mut stream = tls_to_proxy(&setup).await;
    let request = format!(
        "POST /api/v1/namespaces/demo/pods/web-1/portforward HTTP/1.1\r\nHost: k\r\nAuthorization: Bearer {token}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\nContent-Length: 0\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let mut byte = [0u8; 1];
    while !response.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.unwrap();
        response.push(byte[0]);
    }
    let response = String::from_utf8_lossy(&response).to_ascii_lowercase();
    assert!(response.starts_with("http/1.1 101"), "{response}");
    assert!(response.contains("upgrade: spdy/3.1"), "{response}");

    // What reached the "API server": the upgrade, as alice, with the proxy's credential.
    let head = head.await.unwrap().to_ascii_lowercase();
    assert!(head.contains("upgrade: spdy/3.1"), "{head}");
    assert!(
        head.contains("impersonate-user: alice@example.com"),
        "{head}"
    );
    assert!(!head.contains(&token.to_ascii_lowercase()), "{head}");

    // Bytes flow both ways (SPDY frames are opaque to the proxy).
    let frame = b"\x80\x03\x00\x01\x01\x00\x00\x0aframe-data";
    stream.write_all(frame).await.unwrap();
    let mut echoed = vec![0u8; frame.len()];
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut echoed))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&echoed, frame);

    // Revoking port-forward closes the bridged connection within a second.
    setup.policy.store(
        Engine::from_source(&POLICY.replace("allow \"port-forward\"", "deny \"port-forward\""))
            .unwrap(),
    );
    let revoked = Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the upgraded connection stayed open after the policy changed"
    );
    assert!(
        revoked.elapsed() < Duration::from_secs(1),
        "closed after {:?}",
        revoked.elapsed()
    );
}
