//! The lints of docs/policy.md section 12.1: the reference's examples lint clean (but for
//! the documented `expired`), warnings render as documented, and (by proptest against the
//! engine) `never-matches`, `shadowed-rule` and the absence of `allow-without-identity`
//! are never wrong.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod reference;

use reference::{doc, zt_blocks};
use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{Value, json};
use zt_core::policy::{
    Diagnostic, Engine, Policy, RequestFixture, Severity, check, lint, parse, render_all,
};

/// A Monday, before the 11.4 grant.
const NOW: &str = "2026-11-23T12:00:00Z";

/// Parses and checks `source`, which must be clean.
fn clean(source: &str) -> Policy {
    let (policy, mut diagnostics) = parse(source);
    diagnostics.extend(check(&policy, source));
    assert!(
        diagnostics.is_empty(),
        "{}",
        render_all("t.zt", source, &diagnostics, policy.rules.len())
    );
    policy
}

fn lint_at(source: &str, now: &str) -> Vec<Diagnostic> {
    lint(&clean(source), now.parse().unwrap())
}

/// The blocks of the reference that check clean (all but the section 9 error sample).
fn clean_blocks() -> Vec<String> {
    zt_blocks(&doc())
        .into_iter()
        .filter(|source| {
            let (policy, syntax) = parse(source);
            syntax.is_empty() && check(&policy, source).is_empty()
        })
        .collect()
}

#[test]
fn the_reference_examples_lint_clean() {
    let blocks = clean_blocks();
    assert!(blocks.len() >= 8, "{} blocks", blocks.len());
    for source in blocks {
        let (policy, _) = parse(&source);
        let diagnostics = lint_at(&source, NOW);
        assert!(
            diagnostics.is_empty(),
            "{}",
            render_all("doc.zt", &source, &diagnostics, policy.rules.len())
        );
    }
}

#[test]
fn the_just_in_time_grants_expire_at_their_until() {
    for source in clean_blocks() {
        let until = source.contains("until \"2026-11-24T18:00:00Z\"");
        for now in [
            "2026-11-24T17:59:59.999999999Z",
            "2026-11-24T16:00:00-01:00",
        ] {
            assert!(lint_at(&source, now).is_empty(), "{now}:\n{source}");
        }
        for now in [
            "2026-11-24T18:00:00Z",
            "2026-11-24T19:00:00+01:00",
            "2030-01-01T00:00:00Z",
        ] {
            let codes: Vec<&str> = lint_at(&source, now).iter().map(|d| d.code).collect();
            let expected: &[&str] = if until { &["expired"] } else { &[] };
            assert_eq!(codes, expected, "{now}:\n{source}");
        }
    }
}

#[test]
fn expired_renders_as_documented() {
    let source = zt_blocks(&doc())
        .into_iter()
        .find(|s| s.starts_with("# INC-4711: Sally"))
        .unwrap();
    let (policy, _) = parse(&source);
    let diagnostics = lint_at(&source, "2026-11-25T00:00:00Z");
    let rendered = render_all("jit.zt", &source, &diagnostics, policy.rules.len());
    assert_eq!(
        rendered,
        "warning[expired]: rule \"INC-4711\" expired at 2026-11-24T18:00:00Z\n \
         --> jit.zt:2:52\n  \
         |\n\
         2 | allow \"INC-4711\" from \"2026-11-24T08:00:00Z\" until \"2026-11-24T18:00:00Z\"\n  \
         |                                                    ^^^^^^^^^^^^^^^^^^^^^^\n  \
         = hint: remove the rule\n\
         \n\
         jit.zt: 0 errors, 1 warning\n"
    );
    assert_eq!(diagnostics[0].severity, Severity::Warning);
}

#[test]
fn the_health_check_needs_its_comment() {
    let source = zt_blocks(&doc())
        .into_iter()
        .find(|s| s.contains("allow \"healthz\""))
        .unwrap();
    let without = source.replace("# zt-lint: allow allow-without-identity\n", "");
    assert_ne!(without, source);
    let diagnostics = lint_at(&without, NOW);
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].code, "allow-without-identity");
    let span = diagnostics[0].span;
    assert_eq!(&without[span.start..span.end], "\"healthz\"");
}

#[test]
fn every_lint_in_one_policy() {
    let source = r#"# zt-lint: allow host-suffix
allow "old" until "2026-01-01T00:00:00Z"
  when identity.groups has "eng"
   and request.host ends_with "example.com"

allow "public"
  when request.host == "www.example.com"

allow "mixed"
  when identity.authenticated
   and kube.verb == "get"
   and ssh.login == "root"

deny "offsite"
  when request.source_ip not-in ["10.0.0.0/8"]

allow "eng-internal"
  when identity.groups has "eng"
   and request.source_ip == "192.0.2.1"

allow "suffix"
  when identity.groups has "eng"
   and request.host ends_with "example.org"
"#;
    let (policy, _) = parse(source);
    let diagnostics = lint_at(source, NOW);
    let codes: Vec<&str> = diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(
        codes,
        [
            "expired",
            "allow-without-identity",
            "never-matches",
            "deny-skips-absent",
            "shadowed-rule",
            "host-suffix",
        ],
        "{}",
        render_all("p.zt", source, &diagnostics, policy.rules.len())
    );
    let rendered = render_all("p.zt", source, &diagnostics, policy.rules.len());
    assert!(
        rendered.ends_with("p.zt: 0 errors, 6 warnings\n"),
        "{rendered}"
    );
    assert!(rendered.contains(
        "warning[shadowed-rule]: allow rule \"eng-internal\" never allows: deny rule \"offsite\" is active whenever it is and matches every request it matches"
    ));
}

// ---------------------------------------------------------------------------------------
// Soundness against the engine: random conditions over a small vocabulary, decided for a
// fixed set of random requests over the same values.

const LEAVES: &[&str] = &[
    "true",
    "false",
    "identity.authenticated",
    "not identity.authenticated",
    "identity.authenticated == false",
    "identity.groups has \"a\"",
    "identity.groups has-any [\"a\", \"b\"]",
    "identity.groups has-all [\"a\", \"b\"]",
    "identity.groups has \"c\"",
    "identity.kind == \"user\"",
    "identity.email exists",
    "identity.domain == \"b\"",
    "identity.domain ends_with \".b\"",
    "identity.claims.x == \"a\"",
    "identity.claims.x == 5",
    "identity.claims.x exists",
    "identity.claims.x has \"a\"",
    "identity.claims.x != \"a\"",
    "identity.claims.x in 1..5",
    "request.protocol == \"http\"",
    "request.protocol in [\"kube\", \"ssh\"]",
    "request.protocol != \"ssh\"",
    "request.method == \"GET\"",
    "request.method in [\"GET\", \"HEAD\"]",
    "request.method != \"POST\"",
    "request.host == \"a\"",
    "request.host != \"a\"",
    "request.host in [\"a\", \"ab\"]",
    "request.host not-in [\"b\"]",
    "request.host exists",
    "request.host starts_with \"a\"",
    "request.host ends_with \"b\"",
    "request.host matches \"*.b\"",
    "request.host matches \"ab\"",
    "request.path starts_with \"/a\"",
    "request.path starts_with \"/ab\"",
    "request.path == \"/b\"",
    "request.path in [\"/a\", \"/b\"]",
    "request.path ~ /\\/a.*/",
    "request.path contains \"b\"",
    "request.source_ip in \"10.0.0.0/8\"",
    "request.source_ip in \"10.1.0.0/16\"",
    "request.source_ip == \"10.0.0.1\"",
    "request.source_ip in [\"2001:db8::/32\", \"192.168.0.0/16\"]",
    "request.source_ip not-in \"10.0.0.0/8\"",
    "request.source_ip != \"10.0.0.1\"",
    "time.hour in 22..5",
    "time.hour in 8..18",
    "time.hour in 23..1",
    "time.hour == 12",
    "time.hour not-in 4..22",
    "time.hour < 6",
    "time.hour >= 22",
    "time.weekday in fri..mon",
    "time.weekday in mon..fri",
    "time.weekday == sat",
    "time.weekday not-in sat..sun",
    "time.date == \"2026-11-28\"",
    "time.date < \"2026-11-28\"",
    "time.now >= \"2026-11-28T00:00:00Z\"",
    "kube.verb == \"get\"",
    "kube.verb in [\"get\", \"list\"]",
    "kube.namespace == \"a\"",
    "kube.namespace != \"a\"",
    "kube.namespace exists",
    "kube.is_resource_request",
    "ssh.login == \"root\"",
    "ssh.login != \"root\"",
    "ssh.channel exists",
    "ssh.channel == \"session\"",
    "ssh.host matches \"*.b\"",
    "ssh.port == 22",
];

/// A xorshift step, for reproducible requests without a dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn pick<T: Clone>(state: &mut u64, items: &[T]) -> T {
    items[(next(state) % items.len() as u64) as usize].clone()
}

fn random_identity(state: &mut u64) -> Value {
    let groups: Vec<&str> = ["a", "b", "c"]
        .into_iter()
        .filter(|_| next(state).is_multiple_of(2))
        .collect();
    let mut identity = json!({"groups": groups, "email_verified": next(state).is_multiple_of(2)});
    if let Some(email) = pick(state, &[None, Some("u@b"), Some("u@a.b")]) {
        identity["email"] = json!(email);
    }
    let claim = pick(
        state,
        &[Value::Null, json!("a"), json!(5), json!(["a", "b"])],
    );
    if !claim.is_null() {
        identity["claims"] = json!({"x": claim});
    }
    identity
}

fn random_http(state: &mut u64) -> Value {
    let mut request = json!({"method": pick(state, &["GET", "POST", "HEAD"])});
    for (member, values) in [
        ("host", &["", "a", "b", "ab", "x.b"][..]),
        ("path", &["", "/a", "/ab", "/b"][..]),
        (
            "source_ip",
            &["", "10.0.0.1", "10.1.0.1", "192.168.0.1", "2001:db8::1"][..],
        ),
    ] {
        let value = pick(state, values);
        if !value.is_empty() {
            request[member] = json!(value);
        }
    }
    request
}

fn random_request(state: &mut u64) -> Value {
    let day = pick(state, &["23", "27", "28", "29"]);
    let time = pick(state, &["00:30", "05:30", "12:00", "22:30", "23:30"]);
    let mut document = json!({"now": format!("2026-11-{day}T{time}:00Z")});
    if !next(state).is_multiple_of(4) {
        document["identity"] = random_identity(state);
    }
    match next(state) % 4 {
        0 => {
            let mut kube = json!({"verb": pick(state, &["get", "list", "create"])});
            if let Some(namespace) = pick(state, &[None, Some("a"), Some("b")]) {
                kube["namespace"] = json!(namespace);
            }
            if next(state).is_multiple_of(2) {
                kube["resource"] = json!("pods");
            }
            document["kube"] = kube;
            document["request"] = random_http(state);
        }
        1 => {
            let mut ssh = json!({
                "login": pick(state, &["root", "deploy"]),
                "host": pick(state, &["a", "x.b"]),
            });
            if next(state).is_multiple_of(2) {
                ssh["channel"] = json!("session");
            }
            document["ssh"] = ssh;
            document["request"] = json!({"source_ip": pick(state, &["10.0.0.1", "192.168.0.1"])});
        }
        _ => document["request"] = random_http(state),
    }
    document
}

fn requests() -> &'static [RequestFixture] {
    static REQUESTS: OnceLock<Vec<RequestFixture>> = OnceLock::new();
    REQUESTS.get_or_init(|| {
        let mut state = 0x9e37_79b9_7f4a_7c15;
        (0..2_000)
            .map(|_| RequestFixture::from_json(&random_request(&mut state), None).unwrap())
            .collect()
    })
}

/// For each request, whether `condition` holds.
fn truth(condition: &str) -> Vec<bool> {
    let engine = Engine::from_source(&format!("allow \"x\" when {condition}\n")).unwrap();
    requests()
        .iter()
        .map(|request| engine.decide(&request.context()).is_allowed())
        .collect()
}

fn condition() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(LEAVES).prop_map(str::to_owned);
    let tree = leaf.prop_recursive(3, 10, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|c| format!("not ({c})")),
            prop::collection::vec(inner.clone(), 2..4)
                .prop_map(|cs| format!("({})", cs.join(" and "))),
            prop::collection::vec(inner, 2..4).prop_map(|cs| format!("({})", cs.join(" or "))),
        ]
    });
    prop::collection::vec(tree, 1..5).prop_map(|cs| cs.join(" and "))
}

/// The index of the rule a diagnostic points into.
fn rule_at(policy: &Policy, diagnostic: &Diagnostic) -> usize {
    policy
        .rules
        .iter()
        .position(|rule| {
            rule.span.start <= diagnostic.span.start && diagnostic.span.start < rule.span.end
        })
        .unwrap()
}

fn assert_sound(first: (&str, &str), second: (&str, &str)) {
    let source = format!(
        "{} \"first\" when {}\n{} \"second\" when {}\n",
        first.0, first.1, second.0, second.1
    );
    let policy = clean(&source);
    let conditions = [first.1, second.1];
    let truths = [truth(first.1), truth(second.1)];
    let diagnostics = lint(&policy, NOW.parse().unwrap());
    for diagnostic in &diagnostics {
        let rule = rule_at(&policy, diagnostic);
        match diagnostic.code {
            "never-matches" => {
                let witness = truths[rule].iter().position(|t| *t);
                assert!(
                    witness.is_none(),
                    "{}\nbut request {witness:?} matches:\n{source}",
                    diagnostic.message
                );
            }
            "shadowed-rule" => {
                let broad = 1 - rule;
                let witness =
                    (0..truths[rule].len()).find(|&i| truths[rule][i] && !truths[broad][i]);
                assert!(
                    witness.is_none(),
                    "{}\nbut request {witness:?} matches `{}` and not `{}`:\n{source}",
                    diagnostic.message,
                    conditions[rule],
                    conditions[broad]
                );
            }
            _ => {}
        }
    }
    // Silence about identity is a promise: no unauthenticated request matches.
    for (rule, (effect, _)) in [first, second].into_iter().enumerate() {
        if effect != "allow"
            || diagnostics.iter().any(|d| {
                rule_at(&policy, d) == rule
                    && matches!(d.code, "allow-without-identity" | "never-matches")
            })
        {
            continue;
        }
        let anonymous = (0..truths[rule].len()).find(|&i| truths[rule][i] && anonymous()[i]);
        assert!(
            anonymous.is_none(),
            "no allow-without-identity, but unauthenticated request {anonymous:?} matches:\n{source}"
        );
    }
}

/// For each request, whether it has no identity.
fn anonymous() -> &'static [bool] {
    static ANONYMOUS: OnceLock<Vec<bool>> = OnceLock::new();
    ANONYMOUS.get_or_init(|| truth("not identity.authenticated"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn lints_are_never_wrong(
        first in condition(),
        second in condition(),
        effects in prop::sample::select(&[("allow", "allow"), ("allow", "deny"), ("deny", "allow"), ("deny", "deny")][..]),
    ) {
        assert_sound((effects.0, &first), (effects.1, &second));
    }

    #[test]
    fn related_conditions_are_never_wrong(
        shared in condition(),
        first in condition(),
        second in condition(),
        effects in prop::sample::select(&[("allow", "allow"), ("allow", "deny"), ("deny", "deny")][..]),
    ) {
        // Conditions that share conjuncts are more likely to imply one another.
        assert_sound(
            (effects.0, &format!("{shared} and {first}")),
            (effects.1, &shared),
        );
        assert_sound((effects.0, &format!("{shared} and {first}")), (effects.1, &format!("{second} and {shared}")));
    }
}
