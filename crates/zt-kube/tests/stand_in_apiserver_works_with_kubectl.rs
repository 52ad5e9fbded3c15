//! The stand-in API server (tests/support/apiserver.rs) is only worth testing the proxy
//! against if real kubectl works with it. kubectl talks to it directly here, with its
//! own `--as alice --as-group dev` sending exactly the impersonation headers the proxy
//! will send, and the stand-in's records show what reached the "cluster".
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use support::apiserver::{RecordedRequest, StandIn, StandInConfig};
use support::kubectl::{Kubectl, describe, kubectl_or_skip};
use tokio::io::{AsyncBufReadExt as _, BufReader};

/// kubectl's own impersonation flags: what the proxy will send for alice in dev.
const AS_ALICE: [&str; 4] = ["--as", "alice", "--as-group", "dev"];

/// How long to wait for a line from a running `kubectl get -w`.
const LINE_TIMEOUT: Duration = Duration::from_secs(30);

/// A stand-in with the default pods and kubectl pointed at it; `None` if kubectl is
/// missing and the test skips.
async fn setup(test: &str, config: StandInConfig) -> Option<(StandIn, Kubectl)> {
    let binary = kubectl_or_skip(test)?;
    let stand_in = StandIn::start(config).await.unwrap();
    let kubectl = Kubectl::new(binary, test, &stand_in.kubeconfig()).unwrap();
    Some((stand_in, kubectl))
}

/// `kubectl --as alice --as-group dev <args>`, which must succeed; returns stdout.
async fn run_as_alice(kubectl: &Kubectl, args: &[&str], stdin: Option<&str>) -> String {
    let args: Vec<&str> = AS_ALICE.iter().chain(args).copied().collect();
    let output = kubectl.run(&args, stdin).await.unwrap();
    assert!(
        output.status.success(),
        "kubectl {args:?}: {}",
        describe(&output)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Requests that reached a path (exactly) or a path prefix.
fn requests_to(stand_in: &StandIn, method: &str, path: &str) -> Vec<RecordedRequest> {
    stand_in
        .requests()
        .into_iter()
        .filter(|request| request.method == method && request.path.starts_with(path))
        .collect()
}

/// Each request carries the proxy's token and alice's impersonation headers, and the
/// stand-in saw alice in dev (plus `system:authenticated`).
fn assert_alice(requests: &[RecordedRequest]) {
    assert!(!requests.is_empty(), "no request recorded");
    for request in requests {
        assert_eq!(
            request.header_values("impersonate-user"),
            ["alice"],
            "{request:?}"
        );
        assert_eq!(
            request.header_values("impersonate-group"),
            ["dev"],
            "{request:?}"
        );
        assert!(
            request.header_values("authorization")[0].starts_with("Bearer stand-in-token-"),
            "{request:?}"
        );
        let user = request.user.as_ref().expect("authenticated");
        assert_eq!(user.username, "alice");
        assert_eq!(user.groups, ["dev", "system:authenticated"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_pods_prints_the_table_the_stand_in_serves() {
    let Some((stand_in, kubectl)) = setup("get", StandInConfig::default()).await else {
        return;
    };
    let stdout = run_as_alice(&kubectl, &["get", "pods", "-n", "demo"], None).await;
    println!("{stdout}");
    let header: Vec<&str> = stdout.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    assert!(
        stdout.contains("web-1") && stdout.contains("web-2"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Running") && !stdout.contains("db-0"),
        "{stdout}"
    );
    let lists = requests_to(&stand_in, "GET", "/api/v1/namespaces/demo/pods");
    assert!(lists[0].header_values("accept")[0].contains("as=Table"));
    assert_alice(&lists);

    // Without a Table, kubectl prints the PodList itself.
    let json = run_as_alice(
        &kubectl,
        &["get", "pod", "web-1", "-n", "demo", "-o", "json"],
        None,
    )
    .await;
    let pod: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(pod["metadata"]["name"], "web-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_watch_prints_a_pod_added_while_it_runs() {
    let Some((stand_in, kubectl)) = setup("watch", StandInConfig::default()).await else {
        return;
    };
    let args: Vec<&str> = AS_ALICE
        .iter()
        .chain(&["get", "pods", "-n", "demo", "-w"])
        .copied()
        .collect();
    let mut child = kubectl.command(&args).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let mut next_line = async || {
        let line = tokio::time::timeout(LINE_TIMEOUT, lines.next_line()).await;
        line.expect("kubectl printed nothing in time")
            .unwrap()
            .expect("kubectl exited")
    };
    while !seen.iter().any(|line: &String| line.starts_with("web-2")) {
        seen.push(next_line().await);
    }
    stand_in.add_pod("demo", "late-pod");
    stand_in.set_phase("demo", "web-1", "Failed");
    while !seen
        .iter()
        .any(|line| line.starts_with("web-1") && line.contains("Failed"))
    {
        seen.push(next_line().await);
    }
    child.kill().await.unwrap();
    println!("{}", seen.join("\n"));
    assert!(
        seen.iter().any(|line| line.starts_with("late-pod")),
        "{seen:?}"
    );
    let watches: Vec<RecordedRequest> =
        requests_to(&stand_in, "GET", "/api/v1/namespaces/demo/pods")
            .into_iter()
            .filter(|request| {
                request
                    .query
                    .as_deref()
                    .unwrap_or_default()
                    .contains("watch=true")
            })
            .collect();
    assert_eq!(watches.len(), 1, "{watches:?}");
    assert!(
        watches[0]
            .query
            .as_deref()
            .unwrap()
            .contains("resourceVersion=")
    );
    assert!(watches[0].header_values("accept")[0].contains("as=Table"));
    assert_alice(&watches);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_runs_commands_over_websocket_v5() {
    let Some((stand_in, kubectl)) = setup("exec", StandInConfig::default()).await else {
        return;
    };
    let stdout = run_as_alice(
        &kubectl,
        &["exec", "-n", "demo", "web-1", "--", "echo", "hello"],
        None,
    )
    .await;
    assert_eq!(stdout, "hello\n");

    let stdout = run_as_alice(
        &kubectl,
        &["exec", "-i", "-n", "demo", "web-1", "--", "cat"],
        Some("line one\nline two\n"),
    )
    .await;
    assert_eq!(stdout, "line one\nline two\n");

    let args: Vec<&str> = AS_ALICE
        .iter()
        .chain(&["exec", "-n", "demo", "web-1", "--", "sh", "-c", "exit 3"])
        .copied()
        .collect();
    let output = kubectl.run(&args, None).await.unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));

    let execs = requests_to(&stand_in, "GET", "/api/v1/namespaces/demo/pods/web-1/exec");
    assert_eq!(execs.len(), 3, "{execs:?}");
    for exec in &execs {
        assert_eq!(exec.status, 101);
        assert_eq!(exec.header_values("upgrade"), ["websocket"]);
        assert!(exec.header_values("sec-websocket-protocol")[0].contains("v5.channel.k8s.io"));
    }
    assert!(
        execs[0]
            .query
            .as_deref()
            .unwrap()
            .contains("command=echo&command=hello")
    );
    assert_alice(&execs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_whoami_prints_the_impersonated_user() {
    let Some((stand_in, kubectl)) = setup("whoami", StandInConfig::default()).await else {
        return;
    };
    let stdout = run_as_alice(&kubectl, &["auth", "whoami"], None).await;
    println!("{stdout}");
    let username = stdout
        .lines()
        .find(|line| line.starts_with("Username"))
        .unwrap();
    assert_eq!(username.split_whitespace().nth(1), Some("alice"));
    let groups = stdout
        .lines()
        .find(|line| line.starts_with("Groups"))
        .unwrap();
    assert!(groups.contains("[dev system:authenticated]"), "{stdout}");
    assert_alice(&requests_to(
        &stand_in,
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
    ));

    // Without impersonation the token's own user shows.
    let output = kubectl.run(&["auth", "whoami"], None).await.unwrap();
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("system:serviceaccount:zt:kube-proxy"),
        "{}",
        describe(&output)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_pod_is_recorded_as_alice() {
    let Some((stand_in, kubectl)) = setup("delete", StandInConfig::default()).await else {
        return;
    };
    let stdout = run_as_alice(&kubectl, &["delete", "pod", "web-2", "-n", "demo"], None).await;
    assert_eq!(stdout.trim(), "pod \"web-2\" deleted");
    assert!(!stand_in.pods().iter().any(|pod| pod.name == "web-2"));
    let deletes = requests_to(&stand_in, "DELETE", "/api/v1/namespaces/demo/pods/web-2");
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0].status, 200);
    assert_alice(&deletes);

    let args: Vec<&str> = AS_ALICE
        .iter()
        .chain(&["get", "pod", "web-2", "-n", "demo"])
        .copied()
        .collect();
    let output = kubectl.run(&args, None).await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Error from server (NotFound): pods \"web-2\" not found"),
        "{}",
        describe(&output)
    );
    let args: Vec<&str> = AS_ALICE
        .iter()
        .chain(&["get", "pod", "x", "-n", "nowhere"])
        .copied()
        .collect();
    let output = kubectl.run(&args, None).await.unwrap();
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("namespaces \"nowhere\" not found"),
        "{}",
        describe(&output)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_statuses_kubectl_understands() {
    let config = StandInConfig {
        forbidden_users: vec!["mallory".to_owned()],
        ..StandInConfig::default()
    };
    let Some((stand_in, kubectl)) = setup("errors", config).await else {
        return;
    };
    let output = kubectl
        .run(&["--as", "mallory", "get", "pods", "-n", "demo"], None)
        .await
        .unwrap();
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(
            "Error from server (Forbidden): pods is forbidden: User \"mallory\" cannot list resource \"pods\" in API group \"\" in the namespace \"demo\""
        ),
        "{}",
        describe(&output)
    );

    let output = kubectl
        .run(&["--token", "wrong", "get", "pods", "-n", "demo"], None)
        .await
        .unwrap();
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("(Unauthorized)"),
        "{}",
        describe(&output)
    );
    let unauthorized = stand_in
        .requests()
        .into_iter()
        .filter(|request| request.status == 401)
        .count();
    assert!(unauthorized > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impersonation_follows_the_api_server_rules() {
    let Some((stand_in, kubectl)) = setup("impersonation", StandInConfig::default()).await else {
        return;
    };
    // A uid, and groups that already include system:authenticated.
    let args = [
        "--as",
        "bob",
        "--as-uid",
        "u-42",
        "--as-group",
        "ops",
        "--as-group",
        "system:authenticated",
        "auth",
        "whoami",
        "-o",
        "json",
    ];
    let output = kubectl.run(&args, None).await.unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let review: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let info = &review["status"]["userInfo"];
    assert_eq!(info["username"], "bob");
    assert_eq!(info["uid"], "u-42");
    assert_eq!(
        info["groups"],
        serde_json::json!(["ops", "system:authenticated"])
    );

    // kubectl refuses groups without a user itself ...
    let output = kubectl
        .run(&["--as-group", "dev", "get", "pods"], None)
        .await
        .unwrap();
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("without impersonating a user"),
        "{}",
        describe(&output)
    );
    // ... and the API server's filter answers it with 500 InternalError (not 400).
    let token = format!("Authorization: Bearer {}", stand_in.token);
    let (status, body) = raw_request(
        &stand_in,
        "GET /api/v1/namespaces/demo/pods",
        &[&token, "Impersonate-Group: dev"],
    )
    .await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains(r#""reason":"InternalError""#)
            && body.contains("without impersonating a user"),
        "{body}"
    );

    // Extra keys are lower-cased and percent-decoded; every value is kept.
    let headers = [
        token.as_str(),
        "Impersonate-User: carol",
        "Impersonate-Extra-Scopes: read",
        "Impersonate-Extra-Scopes: write",
        "Impersonate-Extra-acme.com%2FTeam: payments",
    ];
    let (status, body) = raw_request(
        &stand_in,
        "POST /apis/authentication.k8s.io/v1/selfsubjectreviews",
        &headers,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let review: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        review["status"]["userInfo"],
        serde_json::json!({
            "username": "carol",
            "groups": ["system:authenticated"],
            "extra": { "acme.com/team": ["payments"], "scopes": ["read", "write"] },
        })
    );
}

/// One HTTP/1.1 request (`"METHOD /path"` plus header lines) over TLS to the stand-in;
/// returns the status code and body.
async fn raw_request(stand_in: &StandIn, request_line: &str, headers: &[&str]) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let tcp = tokio::net::TcpStream::connect(stand_in.addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(stand_in.client_tls().unwrap());
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let mut head = format!(
        "{request_line} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n"
    );
    for header in headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    tls.write_all(head.as_bytes()).await.unwrap();
    let mut response = String::new();
    tls.read_to_string(&mut response).await.unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

/// Port-forward is not implemented; this pins down what kubectl 1.32 tries, for
/// whoever implements it: a WebSocket upgrade offering `SPDY/3.1+portforward.k8s.io`
/// (SPDY tunnelled over WebSocket), then on refusal a plain SPDY upgrade (POST).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_forward_is_refused_plainly() {
    let Some((stand_in, kubectl)) = setup("port-forward", StandInConfig::default()).await else {
        return;
    };
    let args: Vec<&str> = AS_ALICE
        .iter()
        .chain(&["port-forward", "-n", "demo", "pod/web-1", "0:80"])
        .copied()
        .collect();
    let output = kubectl.run(&args, None).await.unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("not implemented by the zt stand-in"),
        "{}",
        describe(&output)
    );
    let attempts: Vec<RecordedRequest> = stand_in
        .requests()
        .into_iter()
        .filter(|request| request.path == "/api/v1/namespaces/demo/pods/web-1/portforward")
        .collect();
    let seen: Vec<(String, Vec<&str>, Vec<&str>, u16)> = attempts
        .iter()
        .map(|request| {
            let upgrade = request.header_values("upgrade");
            let protocol = request.header_values("sec-websocket-protocol");
            (request.method.clone(), upgrade, protocol, request.status)
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                "GET".to_owned(),
                vec!["websocket"],
                vec!["SPDY/3.1+portforward.k8s.io"],
                400
            ),
            ("POST".to_owned(), vec!["SPDY/3.1"], vec![], 400),
        ]
    );
    assert_alice(&attempts);
}
