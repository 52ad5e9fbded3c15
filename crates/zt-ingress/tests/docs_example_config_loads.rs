//! The complete configuration example in docs/ingress.md loads: every key it shows exists
//! and its values are valid (the files it names are created for the test).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use zt_ingress::config::{AuditTarget, Config};

/// The first TOML block after "A complete example".
fn example() -> String {
    let doc = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/ingress.md"),
    )
    .unwrap();
    let from = doc
        .find("A complete example")
        .expect("the example's heading");
    let rest = &doc[from..];
    let start = rest.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = rest[start..].find("```").unwrap();
    rest[start..start + end].to_owned()
}

#[test]
fn documented_example_loads() {
    let dir = std::env::temp_dir().join(format!("zt-ingress-doc-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("secrets")).unwrap();
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::write(dir.join("secrets/oidc-client-secret"), "s3cret\n").unwrap();
    std::fs::write(
        dir.join("policies/grafana.zt"),
        "allow \"eng\" when identity.groups has \"engineering\"\n",
    )
    .unwrap();
    let path = dir.join("ingress.toml");
    std::fs::write(&path, example()).unwrap();

    let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    std::fs::remove_dir_all(&dir).unwrap();

    assert_eq!(config.routes.len(), 1);
    let route = &config.routes[0];
    assert_eq!(route.name, "grafana");
    assert_eq!(route.upstreams.len(), 2);
    assert!(route.websockets && route.assertion && !route.case_insensitive);
    assert_eq!(route.set_headers.len(), 1);
    assert_eq!(route.remove_headers.len(), 1);
    assert_eq!(config.spiffe_trust_domains, ["prod.example.org"]);
    let (_, login) = config.login_provider().expect("browser login");
    assert_eq!(login.client_id, "zt-ingress");
    assert_eq!(login.client_secret.as_deref(), Some("s3cret"));
    assert!(matches!(config.audit, AuditTarget::File(_)));
    assert_eq!(config.tls.as_ref().unwrap().sni.len(), 1);
    assert_eq!(config.limits.max_connections, 10_000);
}
