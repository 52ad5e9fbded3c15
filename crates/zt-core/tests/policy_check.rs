//! Checking against the schema: every example of the reference checks clean, the
//! reference's error sample yields exactly the documented output, and misuse of every
//! operator and literal is an error with a hint.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod reference;

use reference::{doc, zt_blocks};
use zt_core::policy::{check, parse, render_all};

#[test]
fn every_example_of_the_reference_checks_clean() {
    for source in zt_blocks(&doc()) {
        let (policy, syntax) = parse(&source);
        if !syntax.is_empty() {
            continue; // the section 9 error sample
        }
        let diagnostics = check(&policy, &source);
        assert!(
            diagnostics.is_empty(),
            "{}",
            render_all("doc.zt", &source, &diagnostics, policy.rules.len())
        );
    }
}

#[test]
fn the_reference_error_sample_renders_as_documented() {
    let doc = doc();
    let sample = zt_blocks(&doc)
        .into_iter()
        .find(|s| s.contains("identity.group has"))
        .unwrap();
    let expected = doc
        .split("```text\n")
        .find(|block| block.starts_with("error[unknown-attribute]"))
        .unwrap();
    let (policy, mut diagnostics) = parse(&sample);
    diagnostics.extend(check(&policy, &sample));
    let rendered = render_all("policy.zt", &sample, &diagnostics, policy.rules.len());
    let expected = &expected[..expected.find("```").unwrap()];
    assert_eq!(rendered, expected);
}

#[test]
fn bare_attributes_must_be_booleans_and_ids_well_formed() {
    let source = "allow \"ok\" when identity.email_verified\nallow \"bad\" when identity.email\nallow \"-x\" when true\ndeny \"d\" reason \"a\\u{7}b\" when true\n";
    let (policy, syntax) = parse(source);
    assert!(syntax.is_empty());
    let codes: Vec<&str> = check(&policy, source).iter().map(|d| d.code).collect();
    assert_eq!(codes, ["type-mismatch", "bad-literal", "bad-literal"]);
}

#[test]
fn misuse_of_operators_and_literals_is_refused() {
    let cases = [
        ("identity.groups == \"admins\"", "type-mismatch"),
        ("identity.auth_age == 1h", "type-mismatch"),
        ("time.weekday < fri", "type-mismatch"),
        ("request.method in \"GET\"", "type-mismatch"),
        ("request.source_ip == \"10.0.0.0/8\"", "type-mismatch"),
        ("request.host has \"a\"", "type-mismatch"),
        ("identity.groups contains \"a\"", "type-mismatch"),
        ("request.method == GET", "type-mismatch"),
        ("request.method in [\"GET\", 1]", "type-mismatch"),
        ("identity.kind == \"service\"", "bad-literal"),
        ("time.hour in 8..24", "bad-literal"),
        ("ssh.port == 0", "bad-literal"),
        ("ssh.port in 1024..22", "bad-literal"),
        ("request.host == \"Example.com\"", "bad-literal"),
        ("request.source_ip in [\"::ffff:10.0.0.1\"]", "bad-literal"),
        ("request.path ~ /(a)\\1/", "bad-literal"),
        ("ssh.host matches \"***.x\"", "bad-literal"),
        ("time.date == \"2026-02-30\"", "bad-literal"),
        ("request.method in []", "bad-literal"),
        ("identity.groups has-any []", "bad-literal"),
        ("identity.claims.tier < \"gold\"", "type-mismatch"),
        ("identity.claims.tier in [\"a\", 1]", "type-mismatch"),
        ("identity.claims.tier in \"a\"..\"b\"", "type-mismatch"),
        ("identity.email_verified in [true]", "type-mismatch"),
        ("time.now == \"2026-11-24T18:00:00Z\"", "type-mismatch"),
    ];
    for (condition, code) in cases {
        let source = format!("allow \"r\" when {condition}\n");
        let (policy, syntax) = parse(&source);
        assert!(syntax.is_empty(), "{condition}: {syntax:?}");
        let diagnostics = check(&policy, &source);
        assert_eq!(diagnostics.len(), 1, "{condition}: {diagnostics:?}");
        assert_eq!(diagnostics[0].code, code, "{condition}: {diagnostics:?}");
    }
    for fine in [
        "time.hour in 22..5",
        "time.weekday in fri..mon",
        "request.source_ip in [\"10.0.0.0/8\", \"2001:db8::/32\", \"192.0.2.7\"]",
        "identity.claims.tier == \"gold\"",
        "identity.claims.level >= 3",
        "identity.auth_age < 1h30m",
        "time.now < \"2026-11-24T18:00:00Z\"",
        "ssh.host matches \"**.prod.internal\"",
        "request.path ~ /\\/v[0-9]+\\/.*/",
    ] {
        let source = format!("allow \"r\" when {fine}\n");
        let (policy, syntax) = parse(&source);
        assert!(syntax.is_empty(), "{fine}: {syntax:?}");
        assert_eq!(check(&policy, &source), vec![], "{fine}");
    }
}

#[test]
fn timezones_and_windows() {
    let source = "timezone \"Mars/Olympus\"\nallow \"a\" from \"2026-11-24T00:00:00Z\" until \"2026-11-23T00:00:00Z\" when true\nallow \"b\" until \"tomorrow\" when true\n";
    let (policy, _) = parse(source);
    let codes: Vec<&str> = check(&policy, source).iter().map(|d| d.code).collect();
    assert_eq!(codes, ["unknown-timezone", "empty-window", "bad-literal"]);
    let (policy, _) = parse("timezone \"Europe/Berlin\"\nallow \"a\" when true\n");
    assert!(check(&policy, "").is_empty());
    let (policy, _) = parse("timezone \"europe/berlin\"\ndeny \"a\" reason \"\" when true\n");
    let codes: Vec<&str> = check(&policy, "").iter().map(|d| d.code).collect();
    assert_eq!(
        codes,
        ["unknown-timezone", "bad-literal"],
        "exact IANA spelling; no empty reason"
    );
}
