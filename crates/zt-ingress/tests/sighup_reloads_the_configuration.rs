#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `SIGHUP` reloads the configuration file (without any file change), as operators
//! expect of a long-running proxy; the reload is counted in the metrics.
//!
//! Its own test binary: the signal goes to this whole process.

#[path = "support/ingress.rs"]
mod support;

use std::time::{Duration, Instant};

use support::{TempDir, base_toml, demo_upstream, idp, metrics, route_toml, sample, start};

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_configuration() {
    let idp = idp().await;
    let upstream = demo_upstream().await;
    let dir = TempDir::new("sighup");
    let mut toml = base_toml(idp.issuer(), dir.path());
    toml.push_str(&route_toml(
        "app",
        "*",
        &upstream,
        "allow \"signed-in\" when identity.authenticated\n",
        "",
    ));
    let (ingress, _) = start(&dir, &toml).await;
    let reloads = |text: &str| sample(text, "zt_ingress_config_reloads_total", &[("result", "ok")]);
    assert_eq!(reloads(&metrics(&ingress).await), 0.0);
    // Let the reload task install its signal handler before the signal arrives.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    while reloads(&metrics(&ingress).await) < 1.0 {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "no reload after SIGHUP"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("reloaded {:?} after SIGHUP", started.elapsed());
    ingress.shutdown().await;
}
