//! Arbitrary policy + arbitrary request: deciding never panics, and the indexed decision
//! equals the traced evaluation of every rule.
//!
//! Input: policy text, a NUL byte, then the request: a JSON request document
//! (docs/policy.md, section 12.2) or, if it is not one, fields separated by U+0001 that
//! fill the attributes of an HTTP, a Kubernetes and an SSH request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use zt_core::policy::{Effect, Engine, RequestFixture, RuleResult};

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    let Ok(source) = std::str::from_utf8(&data[..split]) else { return };
    let Ok(engine) = Engine::from_source(source) else { return };
    let request = String::from_utf8_lossy(data.get(split + 1..).unwrap_or_default());
    for document in documents(&request) {
        if let Ok(fixture) = RequestFixture::from_json(&document, None) {
            decide(&engine, &fixture);
        }
    }
});

fn documents(request: &str) -> Vec<Value> {
    if let Ok(document) = serde_json::from_str::<Value>(request) {
        return vec![document];
    }
    let f: Vec<&str> = request.split('\u{1}').collect();
    let field = |i: usize| f.get(i).copied().unwrap_or("");
    let now = ["2026-11-23T12:00:00Z", "2026-03-29T01:30:00Z", "2026-10-25T01:30:00Z"]
        [field(0).len() % 3];
    let identity = json!({
        "sub": field(1), "email": field(2), "email_verified": true,
        "groups": field(3).split(',').collect::<Vec<_>>(),
        "claims": serde_json::from_str::<Value>(field(4)).ok()
            .filter(Value::is_object).unwrap_or_else(|| json!({"x": field(4)})),
        "auth_time": "2026-11-23T08:00:00Z",
    });
    vec![
        json!({"now": now, "identity": identity, "request": {
            "method": field(5), "host": field(6), "path": field(7), "route": field(7),
            "query": field(8), "headers": {"x-f": field(9)}, "source_ip": field(10)}}),
        json!({"now": now, "identity": identity, "kube": {
            "verb": field(5), "resource": field(6), "namespace": field(7), "name": field(8),
            "subresource": field(9)}}),
        json!({"now": now, "ssh": {"login": field(5), "host": field(6), "command": field(7)}}),
        json!({"now": now, "request": {"host": field(6), "path": field(7)}}),
    ]
}

fn decide(engine: &Engine, fixture: &RequestFixture) {
    let context = fixture.context();
    let decision = engine.decide(&context);
    let (_, trace) = engine.decide_traced(&context);
    let matching = |effect| -> Vec<&str> {
        trace
            .iter()
            .filter(|e| e.effect == effect && e.result == RuleResult::Match)
            .map(|e| e.id)
            .collect()
    };
    let denies = matching(Effect::Deny);
    let (effect, rules) = if !denies.is_empty() {
        (Effect::Deny, denies)
    } else {
        let allows = matching(Effect::Allow);
        if allows.is_empty() { (Effect::Deny, allows) } else { (Effect::Allow, allows) }
    };
    assert_eq!(decision.effect(), effect, "index and trace disagree");
    assert_eq!(decision.rules().collect::<Vec<_>>(), rules, "index and trace disagree");
    assert_eq!(decision.reason().is_some(), effect == Effect::Deny);
    let _ = decision.to_json();
    for entry in &trace {
        let _ = entry.to_json("");
    }
}
