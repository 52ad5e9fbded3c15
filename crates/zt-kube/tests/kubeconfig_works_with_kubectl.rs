#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The real kubectl reads the kubeconfig `kube-proxy kubeconfig` writes: `kubectl config
//! view --minify` shows the proxy cluster with its CA and the user's exec block exactly as
//! generated, and a merged file keeps the other contexts. No API server is needed.
//!
//! kubectl is `$KUBECTL` or `/usr/bin/kubectl`. Without it the test says so and passes,
//! unless `ZT_INTEROP=require` (as CI sets), which makes it a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use serde_json::{Value, json};
use zt_kube::cli::KubeconfigArgs;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: KubeconfigArgs,
}

const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----\n";

fn kubectl() -> Option<PathBuf> {
    let path = std::env::var_os("KUBECTL")
        .map_or_else(|| PathBuf::from("/usr/bin/kubectl"), PathBuf::from);
    if path.is_file() {
        return Some(path);
    }
    match std::env::var("ZT_INTEROP").as_deref().map(str::trim) {
        Ok("require" | "1") => panic!(
            "kubectl not found at {} with ZT_INTEROP=require",
            path.display()
        ),
        _ => {
            eprintln!("skipped: no kubectl at {}; set KUBECTL", path.display());
            None
        }
    }
}

fn view(kubectl: &Path, kubeconfig: &Path, args: &[&str]) -> String {
    let out = Command::new(kubectl)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env_remove("KUBERNETES_EXEC_INFO")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn kubectl_reads_the_generated_exec_entry() {
    let Some(kubectl) = kubectl() else { return };
    let dir = TempDir(std::env::temp_dir().join(format!("zt-kube-kubectl-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).unwrap();
    let ca = dir.0.join("ca.pem");
    std::fs::write(&ca, CA).unwrap();
    let output = dir.0.join("kubeconfig.json");
    let args = |extra: &[&str]| {
        let mut argv = vec![
            "kubeconfig",
            "--server",
            "https://kube.example.test:8443",
            "--ca-file",
            ca.to_str().unwrap(),
            "--issuer",
            "https://idp.example.test",
            "--client-id",
            "kubectl",
            "--command",
            "/opt/zt/kube-proxy",
            "--output",
            output.to_str().unwrap(),
        ];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().args
    };
    args(&["--context-name", "zt-test", "--token-kind", "id"])
        .run()
        .unwrap();

    let minified: Value = serde_json::from_str(&view(
        &kubectl,
        &output,
        &["config", "view", "--minify", "--raw", "-o", "json"],
    ))
    .unwrap();
    assert_eq!(minified["current-context"], "zt-test");
    let cluster = &minified["clusters"][0];
    assert_eq!(cluster["name"], "zt-test");
    assert_eq!(
        cluster["cluster"]["server"],
        "https://kube.example.test:8443"
    );
    use base64::Engine as _;
    let ca_data = cluster["cluster"]["certificate-authority-data"]
        .as_str()
        .unwrap();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(ca_data)
            .unwrap(),
        CA.as_bytes()
    );
    let exec = &minified["users"][0]["user"]["exec"];
    assert_eq!(exec["apiVersion"], "client.authentication.k8s.io/v1");
    assert_eq!(exec["command"], "/opt/zt/kube-proxy");
    assert_eq!(
        exec["args"],
        json!([
            "login",
            "--issuer",
            "https://idp.example.test",
            "--client-id",
            "kubectl",
            "--token-kind",
            "id"
        ])
    );
    assert_eq!(exec["interactiveMode"], "IfAvailable");
    assert_eq!(exec["provideClusterInfo"], false);
    assert_eq!(minified["contexts"][0]["context"]["user"], "zt-test");

    // An existing file is not overwritten without --force...
    let err = args(&["--context-name", "other"]).run().unwrap_err();
    assert!(err.to_string().contains("--force"), "{err}");
    // ...and --merge adds a second context, current, keeping the first.
    args(&["--context-name", "zt-second", "--merge"])
        .run()
        .unwrap();
    let contexts = view(&kubectl, &output, &["config", "get-contexts", "-o", "name"]);
    let mut names: Vec<&str> = contexts.lines().collect();
    names.sort_unstable();
    assert_eq!(names, ["zt-second", "zt-test"]);
    assert_eq!(
        view(&kubectl, &output, &["config", "current-context"]).trim(),
        "zt-second"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&output).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
