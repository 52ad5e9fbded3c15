//! The tests of the entry point, suppression comments, result ordering and the
//! per-rule lints, and helpers for the tests of every lint module.

use super::*;
use crate::policy::{check, parse};

pub(super) const NOW: &str = "2026-11-23T12:00:00Z";

/// The lint codes for `source` (which must check clean), in order.
fn codes_at(source: &str, now: &str) -> Vec<&'static str> {
    lint_at(source, now).iter().map(|d| d.code).collect()
}

pub(super) fn lint_at(source: &str, now: &str) -> Vec<Diagnostic> {
    let (policy, syntax) = parse(source);
    assert!(syntax.is_empty(), "{source}: {syntax:?}");
    let errors = check(&policy, source);
    assert!(errors.is_empty(), "{source}: {errors:?}");
    lint(&policy, now.parse().unwrap())
}

pub(super) fn codes(source: &str) -> Vec<&'static str> {
    codes_at(source, NOW)
}

/// The codes for one allow rule that requires an identity, with `condition` added.
pub(super) fn condition_codes(condition: &str) -> Vec<&'static str> {
    codes(&format!(
        "allow \"r\" when identity.groups has \"x\" and {condition}\n"
    ))
}

#[test]
fn lower_case_methods_are_flagged() {
    let source =
        "allow \"r\" when identity.authenticated and request.method in [\"GET\", \"get\"]\n";
    let diagnostics = lint_at(source, NOW);
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].code, NEVER);
    assert_eq!(diagnostics[0].hint.as_deref(), Some("write \"GET\""));
    let span = diagnostics[0].span;
    assert_eq!(&source[span.start..span.end], "\"get\"");
    assert_eq!(condition_codes("request.method == \"PROPFIND\""), [""; 0]);
    assert_eq!(condition_codes("kube.verb == \"get\""), [""; 0]);
}

#[test]
fn allow_without_identity() {
    for condition in [
        "request.host == \"a\"",
        "not identity.groups has \"admins\"",
        "identity.authenticated == false",
        "not identity.authenticated",
        "identity.authenticated exists",
        "identity.groups has \"a\" or request.host == \"b\"",
        "not identity.kind == \"user\"",
        "not (identity.groups has \"a\" and identity.email exists)",
        "true",
    ] {
        let source = format!("allow \"r\" when {condition}\n");
        assert_eq!(codes(&source), [WITHOUT_IDENTITY], "{condition}");
    }
    for condition in [
        "identity.groups has \"a\"",
        "identity.authenticated",
        "identity.authenticated == true",
        "identity.authenticated != false",
        "identity.kind != \"user\"",
        "not not identity.email exists",
        "not (not identity.groups has \"a\" or request.host == \"b\")",
        "request.host == \"a\" and (identity.groups has \"a\" or identity.email exists)",
        "identity.claims.admin == true",
        "identity.auth_age < 1h",
    ] {
        let source = format!("allow \"r\" when {condition}\n");
        assert_eq!(codes(&source), [""; 0], "{condition}");
    }
    assert_eq!(codes("deny \"r\" when request.host == \"a\"\n"), [""; 0]);
    assert_eq!(
        codes("allow \"r\" when not identity.authenticated and not identity.groups has \"a\"\n"),
        [WITHOUT_IDENTITY]
    );
    let suppressed = "# Anonymous health checks.\n# zt-lint: allow allow-without-identity\nallow \"r\" when request.path == \"/healthz\"\n";
    assert_eq!(codes(suppressed), [""; 0]);
}

#[test]
fn expired_rules() {
    let source = "allow \"INC-4711\" from \"2026-11-24T08:00:00Z\" until \"2026-11-24T18:00:00Z\"\n  when identity.email == \"sally@example.com\"\n";
    assert_eq!(codes_at(source, "2026-11-24T17:59:59.999999999Z"), [""; 0]);
    assert_eq!(codes_at(source, "2026-11-24T19:00:00+01:00"), [EXPIRED]);
    let diagnostics = lint_at(source, "2027-01-01T00:00:00Z");
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(
        diagnostics[0].message,
        "rule \"INC-4711\" expired at 2026-11-24T18:00:00Z"
    );
    assert_eq!(diagnostics[0].hint.as_deref(), Some("remove the rule"));
    let span = diagnostics[0].span;
    assert_eq!(&source[span.start..span.end], "\"2026-11-24T18:00:00Z\"");
    let from_only = "allow \"r\" from \"2020-01-01T00:00:00Z\" when identity.authenticated\n";
    assert_eq!(codes(from_only), [""; 0]);
}

#[test]
fn deny_skips_absent() {
    for condition in [
        "request.host != \"a\"",
        "request.source_ip not-in [\"10.0.0.0/8\"]",
        "request.header.x-team != \"payments\"",
        "request.query.debug != \"1\"",
        "identity.claims.tier not-in [\"gold\"]",
        "identity.kind != \"user\"",
        "kube.namespace != \"payments\"",
        "ssh.command != \"uptime\"",
    ] {
        let source = format!("deny \"d\" when time.weekday in mon..fri and {condition}\n");
        assert_eq!(codes(&source), [SKIPS_ABSENT], "{condition}");
    }
    for condition in [
        "not request.host == \"a\"",
        "not request.source_ip in [\"10.0.0.0/8\"]",
        "request.method != \"GET\"",
        "request.protocol != \"http\"",
        "kube.verb != \"get\"",
        "ssh.login != \"root\"",
        "ssh.port != 22",
        "time.hour not-in 8..18",
        "identity.authenticated != true",
        "(not request.host exists or request.host != \"a\")",
        "request.host exists and request.host != \"a\"",
        "request.host starts_with \"a\" and request.host != \"ab\"",
    ] {
        let source = format!("deny \"d\" when time.weekday in mon..fri and {condition}\n");
        assert_eq!(codes(&source), [""; 0], "{condition}");
    }
    let source = "deny \"d\" when request.host != \"a\"\n";
    let diagnostics = lint_at(source, NOW);
    assert_eq!(
        diagnostics[0].message,
        "`request.host != \"a\"` is false when `request.host` is absent, so deny rule \"d\" lets requests without it through"
    );
    assert_eq!(
        diagnostics[0].hint.as_deref(),
        Some("to deny requests without `request.host` too, write `not request.host == \"a\"`")
    );
    let list = lint_at(
        "deny \"d\" when identity.email not-in [\"a\", \"b\"]\n",
        NOW,
    );
    assert_eq!(
        list[0].hint.as_deref(),
        Some(
            "to deny requests without `identity.email` too, write `not identity.email in [\"a\", \"b\"]`"
        )
    );
    // Allow rules may use `!=`: absent values do not grant access.
    assert_eq!(condition_codes("request.host != \"a\""), [""; 0]);
}

#[test]
fn host_suffix() {
    for (attr, code) in [
        ("request.host", vec![HOST_SUFFIX]),
        ("ssh.host", vec![HOST_SUFFIX]),
        ("identity.domain", vec![HOST_SUFFIX]),
        ("identity.email", vec![]),
        ("request.path", vec![]),
    ] {
        assert_eq!(
            condition_codes(&format!("{attr} ends_with \"example.com\"")),
            code,
            "{attr}"
        );
    }
    assert_eq!(
        condition_codes("request.host ends_with \".example.com\""),
        [""; 0]
    );
    let source =
        "allow \"r\" when identity.authenticated and not request.host ends_with \"example.com\"\n";
    let diagnostics = lint_at(source, NOW);
    assert_eq!(
        diagnostics[0].message,
        "`request.host ends_with \"example.com\"` also matches \"evilexample.com\""
    );
    assert_eq!(
        diagnostics[0].hint.as_deref(),
        Some(
            "write `request.host ends_with \".example.com\"` or `request.host matches \"**.example.com\"` (and `request.host == \"example.com\"` for the name itself)"
        )
    );
    let span = diagnostics[0].span;
    assert_eq!(&source[span.start..span.end], "\"example.com\"");
}

#[test]
fn comments_silence_codes_per_rule() {
    let source = "# zt-lint: allow never-matches, host-suffix\nallow \"a\" when identity.authenticated and request.host ends_with \"x.com\" and false\n\nallow \"b\" when identity.authenticated and request.host ends_with \"x.com\" and false\n";
    let diagnostics = lint_at(source, NOW);
    let codes: Vec<&str> = diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [NEVER, HOST_SUFFIX]);
    assert!(
        diagnostics
            .iter()
            .all(|d| d.span.start >= source.find("\"b\"").unwrap())
    );
    assert!(allowed_codes(" zt-lint: allowance").is_none());
    assert!(allowed_codes("zt-lint: deny x").is_none());
    assert_eq!(
        allowed_codes(" zt-lint:  allow a,b ,  c")
            .unwrap()
            .collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
}

#[test]
fn results_come_in_source_order() {
    let source = "deny \"d\" until \"2020-01-01T00:00:00Z\" when request.host != \"a\" and identity.domain ends_with \"b.com\"\nallow \"a\" when false\n";
    let codes = codes(source);
    assert_eq!(codes, [EXPIRED, SKIPS_ABSENT, HOST_SUFFIX, NEVER]);
}
