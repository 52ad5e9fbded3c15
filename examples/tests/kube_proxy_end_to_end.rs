//! The `kube-proxy` binary end to end, as a user sets it up: `kube-proxy serve` in front
//! of the stand-in API server, `kube-proxy kubeconfig` writing kubectl's entry,
//! `kube-proxy login` signing in with the device code (approved on zt-dev-idp's page as a
//! user would), and real kubectl running the exec plugin, which serves the cached token.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../../crates/zt-kube/tests/support"]
#[allow(dead_code, unreachable_pub)]
mod support {
    pub mod apiserver;
    pub mod kubectl;
}

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use support::apiserver::{StandIn, StandInConfig};
use support::kubectl::{TempDir, describe, kubectl_or_skip};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::Command;
use zt_dev_idp::DevIdp;

const POLICY: &str = r#"
allow "discovery" when identity.authenticated and not kube.is_resource_request
allow "whoami" when identity.authenticated and kube.resource == "selfsubjectreviews"
allow "read-pods"
  when identity.groups has "engineering"
   and kube.resource == "pods"
   and kube.verb in ["get", "list", "watch"]
allow "exec" when identity.groups has "engineering" and kube.subresource == "exec"
deny "no-delete"
  reason "deleting pods is not allowed through zt"
  when kube.verb == "delete"
"#;

/// The `kube-proxy` example binary, built by `cargo test` next to this test's binary.
fn kube_proxy() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    dir.join("examples").join("kube-proxy")
}

/// A CA and a certificate for 127.0.0.1, written as PEM files; returns (ca, cert, key).
fn proxy_certificate(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let mut ca = CertificateParams::new(Vec::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("proxy.pem"),
        dir.join("proxy.key"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

/// Approves `user_code` on the dev IdP's /device page as `username`.
async fn approve(issuer: &str, user_code: &str, username: &str) {
    let authority = issuer.trim_start_matches("http://").trim_end_matches('/');
    let body = format!("user_code={user_code}&username={username}");
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    let request = format!(
        "POST /device HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("Device approved"), "{response}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_signs_in_through_the_exec_plugin_and_reaches_the_cluster_as_the_user() {
    let Some(kubectl_binary) = kubectl_or_skip("kube-proxy end to end") else {
        return;
    };
    let binary = kube_proxy();
    assert!(
        binary.exists(),
        "{} is missing: run `cargo test -p zt-examples`",
        binary.display()
    );
    let dir = TempDir::new("kube-proxy-e2e").unwrap();
    let idp = DevIdp::builder()
        .banner(false)
        .access_token_audience("kubernetes")
        .start()
        .await
        .unwrap();
    let issuer = idp.issuer().to_owned();
    let stand_in = StandIn::start(StandInConfig::default()).await.unwrap();
    // The proxy's own access to the cluster: a kubeconfig, as outside a cluster.
    let cluster_kubeconfig = dir.path().join("cluster.yaml");
    std::fs::write(&cluster_kubeconfig, stand_in.kubeconfig()).unwrap();
    let policy = dir.path().join("kube.zt");
    std::fs::write(&policy, POLICY).unwrap();
    let (ca, cert, key) = proxy_certificate(dir.path());
    let audit = dir.path().join("audit.jsonl");

    // kube-proxy serve
    let mut serve = Command::new(&binary)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--metrics",
            "127.0.0.1:0",
        ])
        .arg("--kubeconfig")
        .arg(&cluster_kubeconfig)
        .args(["--issuer", &issuer, "--audience", "kubernetes"])
        .args(["--username-claim", "email"])
        .arg("--policy")
        .arg(&policy)
        .arg("--audit")
        .arg(&audit)
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut serve_log = BufReader::new(serve.stderr.take().unwrap()).lines();
    let (addr, metrics_addr) = tokio::time::timeout(Duration::from_secs(30), async {
        let mut metrics = None;
        loop {
            let line = serve_log
                .next_line()
                .await
                .unwrap()
                .expect("kube-proxy exited");
            if let Some(rest) = line.strip_prefix("kube-proxy: metrics on http://") {
                metrics = rest.split('/').next().map(str::to_owned);
            }
            if let Some(rest) = line.strip_prefix("kube-proxy: serving https://") {
                let addr = rest.split_whitespace().next().unwrap().to_owned();
                break (addr, metrics.unwrap());
            }
        }
    })
    .await
    .unwrap();
    tokio::spawn(async move { while let Ok(Some(_)) = serve_log.next_line().await {} });

    // kube-proxy kubeconfig
    let kubeconfig = dir.path().join("kubeconfig.json");
    let output = Command::new(&binary)
        .args(["kubeconfig", "--server", &format!("https://{addr}")])
        .arg("--ca-file")
        .arg(&ca)
        .args([
            "--issuer",
            &issuer,
            "--client-id",
            "zt-dev",
            "--audience",
            "kubernetes",
        ])
        .args(["--scopes", "profile,email,groups"])
        .arg("-o")
        .arg(&kubeconfig)
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));

    // kube-proxy login, in a terminal (kubectl says so in KUBERNETES_EXEC_INFO).
    let cache = dir.path().join("cache");
    let mut login = Command::new(&binary)
        .args(["login", "--issuer", &issuer, "--client-id", "zt-dev", "--audience", "kubernetes"])
        .args(["--scopes", "profile,email,groups"])
        .env("XDG_CACHE_HOME", &cache)
        .env(
            "KUBERNETES_EXEC_INFO",
            r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":true}}"#,
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut prompt = BufReader::new(login.stderr.take().unwrap()).lines();
    let user_code = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let line = prompt
                .next_line()
                .await
                .unwrap()
                .expect("login exited early");
            if let Some((_, code)) = line.split_once("user_code=") {
                break code.trim().to_owned();
            }
        }
    })
    .await
    .unwrap();
    approve(&issuer, &user_code, "alice").await;
    let output = tokio::time::timeout(Duration::from_secs(60), login.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let credential: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(credential["kind"], "ExecCredential");
    assert!(
        credential["status"]["token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );

    // kubectl runs `kube-proxy login` (not interactive: its stdin is not a terminal),
    // which serves the cached token.
    let run = |args: &[&str]| {
        let mut command = Command::new(&kubectl_binary);
        command
            .env("KUBECONFIG", &kubeconfig)
            .env("HOME", dir.path())
            .env("XDG_CACHE_HOME", &cache)
            .arg("--cache-dir")
            .arg(dir.path().join("kubectl-cache"))
            .args(args)
            .stdin(Stdio::null());
        command
    };
    let output = run(&["get", "pods", "-n", "demo"]).output().await.unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let pods = String::from_utf8_lossy(&output.stdout);
    assert!(pods.contains("web-1") && pods.contains("web-2"), "{pods}");
    let output = run(&["auth", "whoami"]).output().await.unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("alice@example.com"));

    // exec with stdin and stdout.
    let mut exec = run(&["exec", "-i", "-n", "demo", "web-1", "--", "cat"]);
    let mut child = exec
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"over the proxy\n")
        .await
        .unwrap();
    let output = child.wait_with_output().await.unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "over the proxy\n");

    // A denied delete shows the policy's reason.
    let output = run(&["delete", "pod", "web-2", "-n", "demo"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(
            "Error from server (Forbidden): pods \"web-2\" is forbidden: deleting pods is not allowed through zt"
        ),
        "{}",
        describe(&output)
    );

    // A watch sees a pod created while it is open.
    let mut watch = run(&["get", "pods", "-n", "demo", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let mut seen = String::new();
    tokio::time::timeout(Duration::from_secs(30), async {
        let mut created = false;
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push_str(&line);
            seen.push('\n');
            if !created && seen.contains("web-2") {
                stand_in.add_pod("demo", "late-pod");
                created = true;
            }
            if seen.contains("late-pod") {
                break;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no late-pod in the watch: {seen}"));
    assert!(seen.contains("late-pod"), "{seen}");
    let _ = watch.kill().await;

    let reached: Vec<_> = stand_in
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/v1/namespaces/demo/pods"))
        .collect();
    assert!(!reached.is_empty());
    for request in &reached {
        assert_eq!(
            request.header_values("impersonate-user"),
            ["alice@example.com"]
        );
        assert_eq!(
            request.header_values("authorization"),
            [format!("Bearer {}", stand_in.token).as_str()]
        );
    }

    // kube-proxy logout: the next kubectl call has no token and says how to sign in.
    let output = Command::new(&binary)
        .args(["logout", "--issuer", &issuer, "--client-id", "zt-dev"])
        .env("XDG_CACHE_HOME", &cache)
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let output = run(&["get", "pods", "-n", "demo"]).output().await.unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("kube-proxy login"),
        "{}",
        describe(&output)
    );
    // The proxy counted what it did.
    let mut stream = tokio::net::TcpStream::connect(&metrics_addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    for expected in [
        "zt_kube_proxy_requests_total{verb=\"list\",code=\"200\"}",
        "zt_kube_proxy_requests_total{verb=\"delete\",code=\"403\"} 1",
        "zt_kube_proxy_decisions_total{effect=\"deny\",rule=\"no-delete\"} 1",
        "zt_kube_proxy_decisions_total{effect=\"allow\",rule=\"read-pods\"}",
    ] {
        assert!(text.contains(expected), "{expected} not in {text}");
    }
    let _ = serve.kill().await;
    drop(idp);
}
