//! The evaluator: operator semantics on every attribute type, absent values, activation
//! windows, DST, and (by proptest) that the indexed decision always equals the
//! unindexed evaluation of every rule.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use serde_json::{Value, json};
use zt_core::policy::{Effect, Engine, RequestFixture, RuleResult};

fn engine(source: &str) -> Engine {
    Engine::from_source(source).unwrap_or_else(|e| panic!("{}", e.render("t.zt", source)))
}

fn fixture(document: Value) -> RequestFixture {
    let mut document = document;
    if document.get("now").is_none() {
        document["now"] = json!("2026-11-23T12:00:00Z");
    }
    RequestFixture::from_json(&document, None).unwrap()
}

/// Whether the single rule `allow "r" when CONDITION` allows the request.
fn holds(condition: &str, document: Value) -> bool {
    let engine = engine(&format!("allow \"r\" when {condition}\n"));
    engine.decide(&fixture(document).context()).is_allowed()
}

fn user(identity: Value) -> Value {
    json!({"identity": identity})
}

#[test]
fn absent_values_make_comparisons_false_and_not_true() {
    let absent = json!({});
    let present = user(json!({"email": "a@other.org", "email_verified": true}));
    assert!(!holds(
        r#"identity.domain != "example.com""#,
        absent.clone()
    ));
    assert!(holds(
        r#"not identity.domain == "example.com""#,
        absent.clone()
    ));
    assert!(!holds(
        r#"identity.domain not-in ["example.com"]"#,
        absent.clone()
    ));
    assert!(holds(
        r#"identity.domain != "example.com""#,
        present.clone()
    ));
    assert!(!holds("identity.domain exists", absent.clone()));
    assert!(holds("not identity.authenticated", absent.clone()));
    assert!(holds("identity.authenticated", present.clone()));
    assert!(!holds(r#"identity.groups has "a""#, absent.clone()));
    assert!(holds(r#"not identity.groups has "a""#, absent));
    // Unverified e-mail: no domain.
    let unverified = user(json!({"email": "a@example.com"}));
    assert!(!holds("identity.domain exists", unverified));
    let upper = user(json!({"email": "a@EXAMPLE.com", "email_verified": true}));
    assert!(holds(r#"identity.domain == "example.com""#, upper.clone()));
    assert!(holds(r#"identity.email ends_with "@EXAMPLE.com""#, upper));
}

#[test]
fn deny_overrides_allow_and_reasons_follow_source_order() {
    let engine = engine(
        "allow \"a\" when true\n\
         deny \"d1\" when request.method == \"POST\"\n\
         deny \"d2\" reason \"no writes\" when request.method in [\"POST\", \"PUT\"]\n",
    );
    let post = fixture(json!({"request": {"method": "POST"}}));
    let decision = engine.decide(&post.context());
    assert_eq!(decision.effect(), Effect::Deny);
    assert_eq!(decision.rules().collect::<Vec<_>>(), ["d1", "d2"]);
    assert_eq!(
        decision.reason().unwrap().to_string(),
        "denied by rule \"d1\""
    );
    let put = fixture(json!({"request": {"method": "PUT"}}));
    assert_eq!(
        engine.decide(&put.context()).reason().unwrap().to_string(),
        "no writes"
    );
    let get = fixture(json!({"request": {"method": "GET"}}));
    let decision = engine.decide(&get.context());
    assert!(decision.is_allowed() && decision.reason().is_none());
    let audit = decision.to_audit();
    assert_eq!(audit.rules, ["a"]);
    let empty = self::engine("deny \"x\" when false\n");
    let decision = empty.decide(&get.context());
    assert_eq!(
        decision.reason().unwrap().to_string(),
        "no allow rule matched"
    );
    assert_eq!(
        decision.to_json(),
        json!({"effect": "deny", "rules": [], "reason": "no allow rule matched"})
    );
}

#[test]
fn windows_are_half_open_and_offsets_do_not_matter() {
    let engine = engine(
        "allow \"w\" from \"2026-11-24T08:00:00Z\" until \"2026-11-24T18:00:00+00:00\" when true\n",
    );
    let at = |now: &str| {
        let request = fixture(json!({"now": now}));
        engine.decide(&request.context()).is_allowed()
    };
    assert!(!at("2026-11-24T07:59:59.999999999Z"));
    assert!(at("2026-11-24T08:00:00Z"));
    assert!(at("2026-11-24T09:00:00+01:00"));
    assert!(at("2026-11-24T17:59:59.999999999Z"));
    assert!(!at("2026-11-24T18:00:00Z"));
    assert!(!at("2026-11-24T13:00:00-05:00"));
    let request = fixture(json!({"now": "2026-11-25T00:00:00Z"}));
    let (_, trace) = engine.decide_traced(&request.context());
    assert_eq!(trace[0].result, RuleResult::Inactive);
}

#[test]
fn local_time_follows_the_policy_timezone_across_dst() {
    let ny = |condition: &str, now: &str| {
        let engine = engine(&format!(
            "timezone \"America/New_York\"\nallow \"r\" when {condition}\n"
        ));
        engine
            .decide(&fixture(json!({"now": now})).context())
            .is_allowed()
    };
    // Fall back 2026-11-01: 01:00-01:59 local happens twice (EDT then EST).
    assert!(ny("time.hour == 1", "2026-11-01T05:30:00Z"));
    assert!(ny("time.hour == 1", "2026-11-01T06:30:00Z"));
    assert!(!ny("time.hour == 1", "2026-11-01T07:30:00Z"));
    // Spring forward 2026-03-08: 02:00-02:59 does not happen.
    assert!(ny("time.hour == 3", "2026-03-08T07:00:00Z"));
    assert!(ny("time.hour == 1", "2026-03-08T06:59:59Z"));
    assert!(ny("time.minute in 55..5", "2026-03-08T06:59:00Z"));
    assert!(!ny("time.minute in 55..5", "2026-03-08T06:30:00Z"));
    // Weekday and date are local: 2026-11-23 03:00Z is still Sunday the 22nd in New York.
    assert!(ny("time.weekday == sun", "2026-11-23T03:00:00Z"));
    assert!(ny("time.weekday in fri..mon", "2026-11-23T03:00:00Z"));
    assert!(!ny("time.weekday in mon..fri", "2026-11-23T03:00:00Z"));
    assert!(ny(r#"time.date == "2026-11-22""#, "2026-11-23T03:00:00Z"));
    assert!(ny(
        r#"time.date in "2026-11-01".."2026-11-30""#,
        "2026-11-23T03:00:00Z"
    ));
    assert!(ny(r#"time.date < "2026-11-23""#, "2026-11-23T03:00:00Z"));
    assert!(ny(
        r#"time.now >= "2026-11-23T03:00:00Z""#,
        "2026-11-23T03:00:00Z"
    ));
    assert!(!ny(
        r#"time.now > "2026-11-23T03:00:00Z""#,
        "2026-11-23T03:00:00Z"
    ));
}

#[test]
fn networks_v4_v6_and_mapped_addresses() {
    let from = |ip: &str| json!({"request": {"source_ip": ip}});
    let cidrs = r#"request.source_ip in ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]"#;
    assert!(holds(cidrs, from("10.255.0.1")));
    assert!(holds(cidrs, from("::ffff:10.1.2.3")));
    assert!(holds(cidrs, from("2001:db8:ffff::1")));
    assert!(holds(cidrs, from("192.0.2.7")));
    assert!(!holds(cidrs, from("192.0.2.8")));
    assert!(!holds(cidrs, from("2001:db9::1")));
    assert!(!holds(r#"request.source_ip in "0.0.0.0/0""#, from("::1")));
    assert!(holds(r#"request.source_ip in "::/0""#, from("::1")));
    assert!(holds(r#"request.source_ip == "::1""#, from("::1")));
    assert!(holds(
        r#"request.source_ip not-in "10.0.0.0/8""#,
        from("11.0.0.1")
    ));
    assert!(!holds(
        r#"request.source_ip not-in "10.0.0.0/8""#,
        json!({})
    ));
}

#[test]
fn strings_globs_and_regexes() {
    let path = |p: &str| json!({"request": {"path": p, "host": "API.Example.com:8443"}});
    assert!(holds(
        r#"request.path matches "/api/*""#,
        path("/api/users")
    ));
    assert!(!holds(
        r#"request.path matches "/api/*""#,
        path("/api/users/7")
    ));
    assert!(holds(
        r#"request.path matches "/api/**""#,
        path("/api/users/7")
    ));
    assert!(holds(r#"request.host matches "*.example.com""#, path("/")));
    assert!(holds(r#"request.host == "api.example.com""#, path("/")));
    assert!(holds(r#"request.path ~ /\/v[0-9]+\/.*/"#, path("/v2/x")));
    assert!(
        !holds(r#"request.path ~ /\/v[0-9]+/"#, path("/v2/x")),
        "anchored"
    );
    assert!(holds(r#"request.path ~ /(?i)\/ADMIN.*/"#, path("/admin/x")));
    assert!(holds(r#"request.path contains "/us""#, path("/api/users")));
    assert!(!holds(
        r#"request.path starts_with "/API""#,
        path("/api/users")
    ));
    assert!(holds(
        r#"request.path in ["/a", "/api/users"]"#,
        path("/api/users")
    ));
    assert!(holds(
        r#"request.path not-in ["/a", "/b"]"#,
        path("/api/users")
    ));
    let unicode = json!({"identity": {"username": "jürgen"}});
    assert!(holds(
        r#"identity.username matches "j?rgen""#,
        unicode.clone()
    ));
    assert!(holds(r#"identity.username ~ /j\w+/"#, unicode));
}

#[test]
fn claims_are_typed_by_the_comparison() {
    let claims = |c: Value| user(json!({"claims": c}));
    assert!(holds(
        "identity.claims.level >= 5",
        claims(json!({"level": 5}))
    ));
    assert!(!holds(
        "identity.claims.level >= 5",
        claims(json!({"level": 5.0}))
    ));
    assert!(!holds(
        "identity.claims.level >= 5",
        claims(json!({"level": "5"}))
    ));
    assert!(!holds(
        "identity.claims.level != 5",
        claims(json!({"level": "5"}))
    ));
    assert!(holds(
        "identity.claims.level in 1..9",
        claims(json!({"level": 3}))
    ));
    assert!(holds(
        "identity.claims.admin == true",
        claims(json!({"admin": true}))
    ));
    assert!(!holds(
        "identity.claims.admin == true",
        claims(json!({"admin": "true"}))
    ));
    assert!(holds(
        r#"identity.claims.realm.roles has-all ["a", "b"]"#,
        claims(json!({"realm": {"roles": ["b", "a", "c"]}}))
    ));
    assert!(!holds(
        r#"identity.claims.roles has "a""#,
        claims(json!({"roles": ["a", 1]}))
    ));
    assert!(holds(
        r#"identity.claims.roles has "a""#,
        claims(json!({"roles": "a"}))
    ));
    assert!(holds(
        r#"identity.claims."https://x.test/team" == "blue""#,
        claims(json!({"https://x.test/team": "blue"}))
    ));
    assert!(!holds(
        "identity.claims.gone exists",
        claims(json!({"gone": null}))
    ));
    assert!(!holds(
        "identity.claims.a.b exists",
        claims(json!({"a": "b"}))
    ));
    assert!(holds(
        "identity.claims.a.b exists",
        claims(json!({"a": {"b": false}}))
    ));
}

#[test]
fn headers_queries_kinds_and_ssh() {
    let http = json!({"request": {"headers": {"X-Team": ["blue", "green"], "x-one": "1"},
                                  "query": "page=2&q=a+b&page=3"}});
    assert!(holds(
        r#"request.header.x-team == "blue, green""#,
        http.clone()
    ));
    assert!(holds(r#"request.header.x-one == "1""#, http.clone()));
    assert!(holds(r#"request.query.page == "2""#, http.clone()));
    assert!(holds(r#"request.query.q == "a b""#, http.clone()));
    assert!(!holds("request.query.none exists", http.clone()));
    assert!(holds(r#"request.protocol == "http""#, http));
    let workload = user(json!({"kind": "workload", "spiffe_id": "spiffe://example.org/ns/a/sa/b"}));
    assert!(holds(r#"identity.kind == "workload""#, workload.clone()));
    assert!(holds(
        r#"identity.spiffe_id starts_with "spiffe://example.org/""#,
        workload
    ));
    let ssh = json!({"ssh": {"login": "deploy", "host": "DB1.prod.internal", "port": 2222,
                             "channel": "direct-tcpip"}});
    assert!(holds(r#"ssh.host == "db1.prod.internal""#, ssh.clone()));
    assert!(holds("ssh.port in 2000..3000", ssh.clone()));
    assert!(holds(r#"ssh.channel == "direct-tcpip""#, ssh.clone()));
    assert!(!holds("ssh.command exists", ssh.clone()));
    assert!(!holds("kube.verb exists", ssh.clone()));
    assert!(holds(r#"request.protocol == "ssh""#, ssh));
    let auth = |time: &str| user(json!({"auth_time": time}));
    assert!(holds(
        "identity.auth_age < 1h",
        auth("2026-11-23T11:30:00Z")
    ));
    assert!(!holds(
        "identity.auth_age < 1h",
        auth("2026-11-23T10:30:00Z")
    ));
    assert!(
        holds("identity.auth_age <= 0s", auth("2026-11-23T13:00:00Z")),
        "future is 0"
    );
}

#[test]
fn the_trace_names_the_failing_conjunct_and_its_values() {
    let source = "allow \"r\"\n  when identity.groups has \"ops\"\n   and request.host == \"a.example.com\"\n";
    let engine = engine(source);
    let request =
        fixture(json!({"identity": {"groups": ["ops"]}, "request": {"host": "b.example.com"}}));
    let (decision, trace) = engine.decide_traced(&request.context());
    assert_eq!(decision.effect(), Effect::Deny);
    let failed = trace[0].failed.as_ref().unwrap();
    assert_eq!(failed.condition, "request.host == \"a.example.com\"");
    assert_eq!(failed.location(source), "3:8");
    assert_eq!(failed.location(""), "/rules/0/when/and/1");
    assert_eq!(
        failed.values,
        [("request.host".to_owned(), json!("b.example.com"))]
    );
    assert_eq!(
        trace[0].to_json(source),
        json!({"rule": "r", "effect": "allow", "result": "no-match",
               "failed": {"at": "3:8", "condition": "request.host == \"a.example.com\"",
                          "values": {"request.host": "b.example.com"}}})
    );
}

#[test]
fn more_than_eight_matching_rules_are_all_reported() {
    let source: String = (0..20)
        .map(|i| format!("allow \"r{i}\" when request.method == \"GET\"\n"))
        .collect();
    let engine = engine(&source);
    let request = fixture(json!({"request": {"method": "GET"}}));
    let decision = engine.decide(&request.context());
    assert_eq!(decision.rules().len(), 20);
    assert_eq!(decision.rules().last(), Some("r19"));
}

// ---- indexed decisions equal unindexed evaluation ------------------------------------

const ATOMS: &[&str] = &[
    r#"request.host == "a.example.com""#,
    r#"request.host in ["a.example.com", "b.example.com"]"#,
    r#"request.host matches "*.example.com""#,
    r#"request.method == "GET""#,
    r#"request.method in ["POST", "PUT"]"#,
    r#"request.path starts_with "/admin""#,
    r#"request.path starts_with "/adm""#,
    r#"request.path starts_with "/ä""#,
    r#"request.host starts_with "b.""#,
    r#"kube.namespace starts_with "pay""#,
    r#"ssh.host starts_with "web1.""#,
    r#"identity.groups has "eng""#,
    r#"identity.groups has-any ["ops", "sre"]"#,
    r#"identity.groups has-all ["eng", "ops"]"#,
    "identity.authenticated",
    r#"identity.sub == "alice""#,
    r#"kube.namespace == "payments""#,
    r#"kube.verb in ["get", "list"]"#,
    r#"ssh.login == "root""#,
    r#"ssh.host == "web1.prod.internal""#,
    r#"request.protocol == "kube""#,
    r#"request.source_ip in "10.0.0.0/8""#,
    "time.hour in 22..5",
];

fn condition() -> impl Strategy<Value = String> {
    let atom = (0..ATOMS.len(), any::<bool>()).prop_map(|(i, negate)| {
        if negate && i % 3 == 0 {
            format!("not {}", ATOMS[i])
        } else {
            ATOMS[i].to_owned()
        }
    });
    prop_oneof![
        prop::collection::vec(atom.clone(), 1..4).prop_map(|atoms| atoms.join(" and ")),
        (atom.clone(), atom.clone(), atom).prop_map(|(a, b, c)| format!("{a} and ({b} or {c})")),
    ]
}

fn policy() -> impl Strategy<Value = String> {
    prop::collection::vec((any::<bool>(), condition(), 0..4u8), 1..25).prop_map(|rules| {
        rules
            .into_iter()
            .enumerate()
            .map(|(i, (deny, when, window))| {
                let effect = if deny { "deny" } else { "allow" };
                let window = match window {
                    0 => " until \"2026-11-23T12:00:00Z\"",
                    1 => " from \"2026-11-23T06:00:00Z\"",
                    _ => "",
                };
                format!("{effect} \"r{i}\"{window} when {when}\n")
            })
            .collect()
    })
}

fn request() -> impl Strategy<Value = Value> {
    let host = prop::sample::select(vec!["a.example.com", "b.example.com", "c.example.org"]);
    let method = prop::sample::select(vec!["GET", "POST", "PUT"]);
    let path = prop::sample::select(vec!["/", "/admin/x", "/adm", "/äx", "/a"]);
    let groups = prop::sample::subsequence(vec!["eng", "ops", "sre"], 0..=3);
    let sub = prop::sample::select(vec!["alice", "bob"]);
    let ip = prop::sample::select(vec!["10.1.2.3", "192.0.2.1", "::ffff:10.9.9.9"]);
    let now = prop::sample::select(vec![
        "2026-11-23T03:00:00Z",
        "2026-11-23T11:59:59Z",
        "2026-11-23T12:00:00Z",
        "2026-11-23T23:00:00Z",
    ]);
    let kind = 0..4u8;
    (host, method, path, groups, sub, ip, now, kind, any::<bool>()).prop_map(
        |(host, method, path, groups, sub, ip, now, kind, authenticated)| {
            let mut document = json!({"now": now});
            if authenticated {
                document["identity"] = json!({"sub": sub, "groups": groups});
            }
            match kind {
                0 => document["kube"] = json!({"verb": if method == "GET" { "get" } else { "create" },
                                               "resource": "pods",
                                               "namespace": if path == "/" { "payments" } else { "ops" }}),
                1 => document["ssh"] = json!({"login": if method == "GET" { "root" } else { "deploy" },
                                              "host": if path == "/" { "web1.prod.internal" } else { "db" }}),
                _ => document["request"] = json!({"host": host, "method": method, "path": path,
                                                  "source_ip": ip}),
            }
            document
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn indexed_decisions_equal_evaluating_every_rule(
        source in policy(),
        requests in prop::collection::vec(request(), 1..8),
    ) {
        let engine = engine(&source);
        for document in requests {
            let request = fixture(document);
            let (decision, trace) = engine.decide_traced(&request.context());
            let matching = |effect| -> Vec<&str> {
                trace.iter()
                    .filter(|e| e.effect == effect && e.result == RuleResult::Match)
                    .map(|e| e.id)
                    .collect()
            };
            let (denies, allows) = (matching(Effect::Deny), matching(Effect::Allow));
            let (effect, rules) = if !denies.is_empty() {
                (Effect::Deny, denies)
            } else if !allows.is_empty() {
                (Effect::Allow, allows)
            } else {
                (Effect::Deny, Vec::new())
            };
            prop_assert_eq!(decision.effect(), effect);
            prop_assert_eq!(decision.rules().collect::<Vec<_>>(), rules);
            for entry in &trace {
                prop_assert_eq!(entry.failed.is_some(), entry.result == RuleResult::NoMatch);
            }
        }
    }
}

#[test]
fn engines_are_shared_across_threads() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Engine>();
    let engine = std::sync::Arc::new(engine("allow \"a\" when request.method == \"GET\"\n"));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let request = fixture(json!({"request": {"method": "GET"}}));
                engine.decide(&request.context()).is_allowed()
            })
        })
        .collect();
    assert!(handles.into_iter().all(|h| h.join().unwrap()));
}

#[test]
fn fixtures_normalise_hosts_once_like_enforcement_points() {
    let engine =
        engine("deny \"d\" when request.host == \"admin.example.com\"\nallow \"a\" when true\n");
    let decide = |host: &str| {
        let request = fixture(json!({"request": {"host": host}}));
        engine.decide(&request.context()).is_allowed()
    };
    assert!(!decide("Admin.Example.com.:443"));
    assert!(
        decide("admin.example.com.."),
        "one trailing dot is stripped, not two"
    );
    assert!(decide("admin.example.com:1:443"));
    let ssh = |host: &str| {
        let engine = self::engine("allow \"a\" when ssh.host == \"db.prod.internal\"\n");
        let request = fixture(json!({"ssh": {"login": "x", "host": host}}));
        engine.decide(&request.context()).is_allowed()
    };
    assert!(ssh("DB.prod.internal."));
}

#[test]
fn fixtures_refuse_requests_no_enforcement_point_makes() {
    for document in [
        json!({"ssh": {"login": "x", "host": "h", "command": "ls", "channel": "x11"}}),
        json!({"ssh": {"login": "x", "host": "h", "command": "ls", "subsystem": "sftp"}}),
        json!({"ssh": {"login": "x", "host": "h", "port": 0}}),
        json!({"kube": {"verb": "get"}, "ssh": {"login": "x", "host": "h"}}),
        json!({"request": {"protocol": "kube"}}),
        json!({"request": {"hots": "x"}}),
        json!({"identity": {"kind": "service"}}),
    ] {
        let mut document = document;
        document["now"] = json!("2026-11-23T12:00:00Z");
        assert!(
            RequestFixture::from_json(&document, None).is_err(),
            "{document}"
        );
    }
    assert!(
        RequestFixture::from_json(&json!({}), None).is_err(),
        "now is required"
    );
}

#[test]
fn a_rule_keyed_by_several_groups_is_evaluated_once() {
    let source: String = (0..12)
        .map(|i| format!("allow \"r{i}\" when identity.groups has-any [\"a\", \"b\", \"c\"]\n"))
        .collect();
    let engine = engine(&source);
    let request = fixture(json!({"identity": {"groups": ["c", "b", "a"]}}));
    let decision = engine.decide(&request.context());
    assert_eq!(decision.rules().len(), 12);
}

#[test]
fn hand_built_policies_get_the_parsers_structural_checks() {
    use zt_core::policy::{Condition, parse};
    let (mut policy, _) = parse("allow \"a\" when true\n");
    policy.rules[0].when = Condition::And(Vec::new());
    let error = Engine::compile(&policy).unwrap_err();
    assert!(
        error.to_string().contains("at least two operands"),
        "{error}"
    );
    let mut deep = Condition::Const(true);
    for _ in 0..100_000 {
        deep = Condition::Not(Box::new(deep));
    }
    let (mut policy, _) = parse("allow \"a\" when true\n");
    policy.rules[0].when = deep;
    let error = Engine::compile(&policy).unwrap_err();
    assert!(error.to_string().contains("nest deeper"), "{error}");
    // Dropping 100,000 nested nodes recursively is the AST's own business; keep the stack
    // small by unwinding it iteratively.
    let mut node = std::mem::replace(&mut policy.rules[0].when, Condition::Const(true));
    while let Condition::Not(inner) = node {
        node = *inner;
    }
    assert!(Engine::from_source("allow \"a\" when identity.claims.admin in [true]\n").is_err());
    assert!(Engine::from_source("allow \"a\" when request.header.\"x y\" exists\n").is_err());
}
