//! Checking against the schema: every example of the reference checks clean, and the
//! diagnostics the reference shows for its error sample are produced exactly (so far:
//! unknown attributes and duplicate ids; the other checks are still to come).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use zt_core::policy::{check, parse, render_all};

fn doc() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/policy.md")).unwrap()
}

fn zt_blocks(doc: &str) -> Vec<String> {
    doc.split("```zt\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap().to_owned())
        .collect()
}

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
    for code in ["unknown-attribute", "duplicate-id", "syntax"] {
        let start = expected.find(&format!("error[{code}]")).unwrap();
        let block = &expected[start..];
        let block = &block[..block.find("\n\n").unwrap()];
        assert!(
            rendered.contains(block),
            "missing:\n{block}\n\nrendered:\n{rendered}"
        );
    }
}

#[test]
fn bare_attributes_must_be_booleans_and_ids_well_formed() {
    let source = "allow \"ok\" when identity.email_verified\nallow \"bad\" when identity.email\nallow \"-x\" when true\ndeny \"d\" reason \"a\\u{7}b\" when true\n";
    let (policy, syntax) = parse(source);
    assert!(syntax.is_empty());
    let codes: Vec<&str> = check(&policy, source).iter().map(|d| d.code).collect();
    assert_eq!(codes, ["type-mismatch", "bad-literal", "bad-literal"]);
}
