//! The policy parser accepts every example of the language reference, reports syntax
//! errors where they are with hints, recovers to report several at once, keeps its limits
//! on any input, and the JSON form is the same AST.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use zt_core::policy::{Condition, Diagnostic, Value, from_json, parse, print, render_all, to_json};

/// The fenced blocks of `lang` in docs/policy.md, with the line each starts on.
fn doc_blocks(lang: &str) -> Vec<(usize, String)> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/policy.md"))
        .unwrap();
    let fence = format!("```{lang}");
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (number, line) in doc.lines().enumerate() {
        if current.is_none() {
            if line.trim_end() == fence {
                current = Some((number + 2, String::new()));
            }
        } else if line.starts_with("```") {
            blocks.extend(current.take());
        } else if let Some((_, text)) = &mut current {
            text.push_str(line);
            text.push('\n');
        }
    }
    blocks
}

fn syntax_errors(source: &str) -> Vec<Diagnostic> {
    parse(source).1
}

#[test]
fn every_example_in_the_reference_parses() {
    let blocks = doc_blocks("zt");
    assert!(blocks.len() >= 8, "found {} zt blocks", blocks.len());
    for (line, source) in &blocks {
        let (policy, diagnostics) = parse(source);
        if source.contains("identity.groups has \"eng\" or identity.groups has \"sre\" and") {
            // Section 9's sample: its only syntax error is mixing `and` and `or`.
            assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
            let (l, c) = diagnostics[0].line_column(source);
            assert_eq!((diagnostics[0].code, l, c), ("syntax", 12, 63));
            assert_eq!(policy.rules.len(), 2, "the rules before it still parse");
        } else {
            assert!(
                diagnostics.is_empty(),
                "docs/policy.md:{line}: {}",
                render_all("doc", source, &diagnostics, 0)
            );
            assert!(!policy.rules.is_empty(), "docs/policy.md:{line}");
        }
    }
}

#[test]
fn the_reference_json_form_is_the_same_ast() {
    let text = doc_blocks("zt")
        .into_iter()
        .find(|(_, s)| s.contains("\"INC-4711\" until"))
        .unwrap()
        .1;
    let json = doc_blocks("json")
        .into_iter()
        .find(|(_, s)| s.contains("\"zt_policy\""))
        .unwrap()
        .1;
    let (from_text, diagnostics) = parse(&text);
    assert!(diagnostics.is_empty());
    let expected: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(to_json(&from_text), expected);
    assert_eq!(from_json(&json).unwrap(), from_text);
    assert_eq!(
        from_json(&to_json(&from_text).to_string()).unwrap(),
        from_text
    );
}

#[test]
fn the_json_reader_enforces_structure() {
    for bad in [
        r#"{"zt_policy": 2, "rules": []}"#,
        r#"{"zt_policy": 1, "rules": [], "extra": 1}"#,
        r#"{"zt_policy": 1, "rules": [{"effect": "allow", "id": "a", "when": {"and": [{"const": true}]}}]}"#,
        r#"{"zt_policy": 1, "rules": [{"effect": "allow", "id": "a", "when": {"cmp": {"attr": ["request", "path"], "op": "~", "value": {"regex": "a/b"}}}}]}"#,
        r#"{"zt_policy": 1, "rules": [{"effect": "maybe", "id": "a", "when": {"const": true}}]}"#,
    ] {
        assert!(from_json(bad).is_err(), "{bad}");
    }
    let error = from_json(
        r#"{"zt_policy": 1, "rules": [{"effect": "allow", "id": "a", "when": {"or": [{"const": true}]}}]}"#,
    )
    .unwrap_err();
    assert_eq!(error.pointer, "/rules/0/when/or");
}

#[test]
fn operators_literals_and_precedence() {
    let (policy, diagnostics) = parse(
        "deny \"d\" reason \"no\" when not identity.groups has \"x\" and (request.port in 1..1024 or time.weekday in [sat, sun,])",
    );
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let Condition::And(operands) = &policy.rules[0].when else {
        panic!()
    };
    assert!(matches!(&operands[0], Condition::Not(_)));
    let Condition::Or(inner) = &operands[1] else {
        panic!()
    };
    let Condition::Cmp(weekdays) = &inner[1] else {
        panic!()
    };
    let Value::List(days) = &weekdays.value.value else {
        panic!()
    };
    assert_eq!(days.len(), 2);
    let (policy, _) = parse("allow \"b\" when identity.email_verified");
    assert!(matches!(policy.rules[0].when, Condition::Test(_)));
}

#[test]
fn syntax_errors_point_at_the_mistake_with_a_hint() {
    // (source, the text the error must point at, part of the hint)
    let cases = [
        (
            "allow \"a\" when request.method not in [\"GET\"]",
            "not in",
            "write `not-in`",
        ),
        (
            "allow \"a\" when request.method = \"GET\"",
            "= ",
            "compare with `==`",
        ),
        (
            "allow \"a\" when identity.email_verified && true",
            "&&",
            "write `and`",
        ),
        (
            "allow \"a\" when \"GET\" == request.method",
            "\"GET\"",
            "swap the operands",
        ),
        (
            "allow \"a\" reason \"x\" when true",
            "reason",
            "explains itself",
        ),
        (
            "allow \"a\" when true\ntimezone \"UTC\"",
            "timezone",
            "move it to the top",
        ),
        (
            "allow \"a\" when request.path startswith \"/x\"",
            "startswith",
            "write `starts_with`",
        ),
        (
            "allow \"a\" when true or false and true",
            "and",
            "write `(… or …) and …`",
        ),
    ];
    for (source, at, hint) in cases {
        let diagnostics = syntax_errors(source);
        assert!(!diagnostics.is_empty(), "{source}");
        let diagnostic = &diagnostics[0];
        assert_eq!(
            diagnostic.span.start,
            source.find(at).unwrap(),
            "{source}: {diagnostic:?}"
        );
        assert!(
            diagnostic
                .hint
                .as_deref()
                .unwrap_or_default()
                .contains(hint),
            "{source}: {diagnostic:?}"
        );
    }
    let source = "allow \"a\" when request.method = \"GET\"\n";
    let rendered = render_all("p.zt", source, &syntax_errors(source), 0);
    assert!(rendered.contains(" --> p.zt:1:31\n"), "{rendered}");
    assert!(rendered.ends_with("\n\np.zt: 1 error\n"), "{rendered}");
}

#[test]
fn parsing_recovers_at_the_next_rule() {
    let source = "allow \"a\" when request.host == \nallow \"b\" when true\ndeny \"c\" when ( true\nallow \"d\" when false\n";
    let (policy, diagnostics) = parse(source);
    assert_eq!(diagnostics.len(), 2, "{diagnostics:?}");
    let ids: Vec<&str> = policy.rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["b", "d"]);
}

#[test]
fn limits_hold_on_hostile_input() {
    let deep = format!(
        "allow \"a\" when {}true{}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let diagnostics = syntax_errors(&deep);
    assert_eq!(diagnostics[0].code, "limit");
    let nots = format!("allow \"a\" when {}true", "not ".repeat(10_000));
    assert_eq!(syntax_errors(&nots)[0].code, "limit");
    let wide = format!("allow \"a\" when {}", vec!["true"; 600].join(" and "));
    assert_eq!(syntax_errors(&wide)[0].code, "limit");
    let at_limit = format!("allow \"a\" when {}true{}", "(".repeat(32), ")".repeat(32));
    assert!(syntax_errors(&at_limit).is_empty());
    let junk = "& ".repeat(1_000_000);
    let diagnostics = syntax_errors(&junk);
    assert_eq!(diagnostics.len(), 101, "at most 100 diagnostics and a note");
    assert!(diagnostics[100].message.contains("suppressed"));
    let huge = "#".repeat(17 * 1024 * 1024);
    assert_eq!(syntax_errors(&huge)[0].code, "limit");
}

#[test]
fn comments_attach_to_the_next_rule() {
    let (policy, _) = parse(
        "# about the policy\ntimezone \"UTC\"\n# first\nallow \"a\"\n  # inside\n  when true\n# at the end\n",
    );
    assert_eq!(policy.comments, [" about the policy"]);
    assert_eq!(policy.rules[0].comments, [" first", " inside"]);
    assert_eq!(policy.trailing_comments, [" at the end"]);
}

proptest! {
    #[test]
    fn arbitrary_input_never_panics_and_errors_point_inside_it(source in "\\PC{0,200}") {
        let (_, diagnostics) = parse(&source);
        for diagnostic in diagnostics {
            prop_assert!(diagnostic.span.start <= diagnostic.span.end);
            prop_assert!(diagnostic.span.end <= source.len());
            prop_assert!(source.is_char_boundary(diagnostic.span.start));
            let _ = diagnostic.render("p.zt", &source);
        }
    }

    #[test]
    fn rule_like_input_never_panics(parts in proptest::collection::vec(prop_oneof![
        Just("allow"), Just("deny"), Just("\"id\""), Just("when"), Just("and"), Just("or"), Just("not"),
        Just("("), Just(")"), Just("identity.groups"), Just("has"), Just("in"), Just("["), Just("]"), Just(","),
        Just("8..18"), Just("=="), Just("~"), Just("/x/"), Just("true"), Just("1h"), Just("mon"), Just("#c\n"),
    ], 0..40)) {
        let source = parts.join(" ");
        let (policy, diagnostics) = parse(&source);
        for diagnostic in &diagnostics {
            prop_assert!(diagnostic.span.end <= source.len());
        }
        if diagnostics.is_empty() {
            prop_assert_eq!(&from_json(&to_json(&policy).to_string()).unwrap(), &policy);
            let printed = print(&policy);
            let (reparsed, errors) = parse(&printed);
            prop_assert!(errors.is_empty(), "{}", printed);
            prop_assert_eq!(&reparsed, &policy);
            prop_assert_eq!(print(&reparsed), printed);
        }
    }
}

#[test]
fn printing_round_trips_every_example_of_the_reference() {
    for (line, source) in doc_blocks("zt") {
        let (policy, diagnostics) = parse(&source);
        if !diagnostics.is_empty() {
            continue; // the section 9 sample
        }
        let printed = print(&policy);
        let (reparsed, errors) = parse(&printed);
        assert!(errors.is_empty(), "docs/policy.md:{line}:\n{printed}");
        assert_eq!(reparsed, policy, "docs/policy.md:{line}:\n{printed}");
        assert_eq!(print(&reparsed), printed, "idempotent");
        let via_json = from_json(&to_json(&policy).to_string()).unwrap();
        assert_eq!(parse(&print(&via_json)).0, policy);
    }
}

#[test]
fn the_canonical_layout() {
    let (policy, _) = parse(
        "# c\ntimezone \"UTC\" deny \"d\" until \"2026-01-01T00:00:00Z\" reason \"r\" when a.b == 08 or (x.y has \"q\" and not z.w exists) or t.d < 90m",
    );
    assert_eq!(
        print(&policy),
        "# c\ntimezone \"UTC\"\n\ndeny \"d\" until \"2026-01-01T00:00:00Z\"\n  reason \"r\"\n  when a.b == 8\n    or (x.y has \"q\" and not z.w exists)\n    or t.d < 1h30m\n"
    );
}

#[test]
fn the_json_reader_refuses_what_text_cannot_say() {
    let rule = |body: &str| format!(r#"{{"zt_policy": 1, "rules": [{body}]}}"#);
    for bad in [
        rule(r#"{"effect": "allow", "id": "a", "reason": "r", "when": {"const": true}}"#),
        rule(r#"{"comments": ["a\nb"], "effect": "allow", "id": "a", "when": {"const": true}}"#),
        rule(
            r#"{"comments": ["trailing "], "effect": "allow", "id": "a", "when": {"const": true}}"#,
        ),
        rule(r#"{"effect": "allow", "id": "a", "when": {"test": ["identity", ""]}}"#),
        rule(r#"{"effect": "allow", "id": "a", "when": {"test": ["1x", "y"]}}"#),
        rule(
            r#"{"effect": "allow", "id": "a", "when": {"cmp": {"attr": ["a", "b"], "op": "<", "value": {"duration": 99999999999}}}}"#,
        ),
        rule(
            r#"{"effect": "allow", "id": "a", "when": {"cmp": {"attr": ["a", "b"], "op": "in", "value": {"list": [{"list": []}]}}}}"#,
        ),
        rule(
            r#"{"effect": "allow", "id": "a", "when": {"cmp": {"attr": ["a", "b"], "op": "==", "value": {"weekday": "not a word"}}}}"#,
        ),
        r#"{"zt_policy": 1, "comments": ["c"], "rules": []}"#.to_owned(),
    ] {
        assert!(from_json(&bad).is_err(), "{bad}");
    }
}

#[test]
fn depth_is_measured_alike_in_text_and_json_and_does_not_leak_across_rules() {
    let deep_not = format!("allow \"a\" when true and {}true", "not ".repeat(32));
    let (policy, diagnostics) = parse(&deep_not);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    assert_eq!(from_json(&to_json(&policy).to_string()).unwrap(), policy);

    let source = format!(
        "allow \"deep\" when {}true{}\nallow \"ok\" when {}true{}",
        "(".repeat(40),
        ")".repeat(40),
        "(".repeat(32),
        ")".repeat(32)
    );
    let (policy, diagnostics) = parse(&source);
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(
        policy
            .rules
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        ["ok"]
    );
}

#[test]
fn hostile_inputs_stay_linear() {
    // Each of these was quadratic or unbounded once; they must finish promptly.
    let escapes = format!("allow \"a\" when a.b == \"{}\"", "\\u{".repeat(200_000));
    assert!(!syntax_errors(&escapes).is_empty());
    let mut many = String::new();
    for i in 0..20_000 {
        many.push_str(&format!("# rule {i}\nallow \"r{i}\" when true\n"));
    }
    let (policy, diagnostics) = parse(&many);
    assert!(diagnostics.is_empty());
    assert_eq!(policy.rules[19_999].comments, [" rule 19999"]);
    let long_attr = format!("allow \"a\" when {}", vec!["x"; 100_000].join("."));
    assert_eq!(syntax_errors(&long_attr)[0].code, "limit");
}
