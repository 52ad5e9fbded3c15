#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A reload that fails (a policy that does not compile, a broken TOML file) is refused
//! with an error naming file, line and column, is counted, and leaves the routes in
//! force; a valid change to a policy file is picked up without being asked.

#[path = "support/ingress.rs"]
mod support;

use std::time::{Duration, Instant};

use support::{TempDir, base_toml, demo_upstream, get, idp, metrics, sample, start};

const SIGNED_IN: &str = "allow \"signed-in\" when identity.authenticated\n";
const ADMINS_ONLY: &str = "allow \"admins\" when identity.groups has \"admins\"\n";
const BROKEN: &str = "allow \"signed-in\"\n  when identity.authenticated and\n";

/// Whether `text` has `file:LINE:COLUMN` somewhere.
fn names_line_and_column(text: &str, file: &str) -> bool {
    text.match_indices(file).any(|(at, _)| {
        let rest = &text[at + file.len()..];
        let mut parts = rest.splitn(3, ':');
        parts.next() == Some("")
            && parts
                .next()
                .is_some_and(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
            && parts
                .next()
                .is_some_and(|c| c.bytes().next().is_some_and(|first| first.is_ascii_digit()))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_reloads_are_refused_and_valid_changes_are_picked_up() {
    let idp = idp().await;
    let upstream = demo_upstream().await;
    let dir = TempDir::new("reload");
    let policy = dir.write("app.zt", SIGNED_IN);
    let toml = format!(
        "{}\n[[routes]]\nname = \"app\"\nfrom = \"*\"\nto = [\"{upstream}\"]\npolicy = \"app.zt\"\n",
        base_toml(idp.issuer(), dir.path())
    );
    let (ingress, config_path) = start(&dir, &toml).await;
    let url = format!("http://{}/x", ingress.http_addr().unwrap());
    let bob = format!("Bearer {}", idp.mint_access_token("bob").unwrap());
    let alice = format!("Bearer {}", idp.mint_access_token("alice").unwrap());
    let status = |auth: String| {
        let url = url.clone();
        async move { get(&url, &[("authorization", auth.as_str())]).await.0 }
    };
    assert_eq!(status(bob.clone()).await, 200);
    let errors = |text: &str| {
        sample(
            text,
            "zt_ingress_config_reloads_total",
            &[("result", "error")],
        )
    };
    let before = errors(&metrics(&ingress).await);

    // A policy that does not compile.
    std::fs::write(&policy, BROKEN).unwrap();
    let error = ingress.reload().unwrap_err().to_string();
    println!("policy error: {error}");
    assert!(names_line_and_column(&error, "app.zt"), "{error}");
    assert!(error.contains("routes[0].policy"), "{error}");
    assert_eq!(status(bob.clone()).await, 200, "the old policy stays");
    let after = errors(&metrics(&ingress).await);
    assert!(after > before, "{before} -> {after}");

    // A configuration file that is not TOML.
    std::fs::write(&policy, SIGNED_IN).unwrap();
    let broken = format!("{toml}\n[[routes]\nname = 1\n");
    let broken_line = broken.lines().position(|l| l == "[[routes]").unwrap() + 1;
    std::fs::write(&config_path, &broken).unwrap();
    let error = ingress.reload().unwrap_err().to_string();
    println!("syntax error: {error}");
    assert!(error.contains("ingress.toml"), "{error}");
    assert!(
        error.contains(&format!("line {broken_line}, column 10")),
        "{error}"
    );
    assert_eq!(status(bob.clone()).await, 200, "the old routes stay");
    assert!(errors(&metrics(&ingress).await) > after);

    // Valid again, then a stricter policy written to the file only: picked up.
    std::fs::write(&config_path, &toml).unwrap();
    ingress.reload().unwrap();
    assert_eq!(status(bob.clone()).await, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let written = Instant::now();
    std::fs::write(&policy, ADMINS_ONLY).unwrap();
    loop {
        if status(bob.clone()).await == 403 {
            break;
        }
        assert!(
            written.elapsed() < Duration::from_secs(2),
            "the changed policy file was not picked up within 2 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("policy file change in force after {:?}", written.elapsed());
    assert_eq!(status(alice).await, 200);
    let text = metrics(&ingress).await;
    assert!(
        sample(
            &text,
            "zt_ingress_config_reloads_total",
            &[("result", "ok")]
        ) >= 2.0,
        "{text}"
    );
    ingress.shutdown().await;
}
