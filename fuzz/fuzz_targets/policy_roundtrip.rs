//! Every policy that parses prints to text that parses to the same AST (and prints the
//! same again), and goes through the JSON form unchanged: text -> JSON -> text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zt_core::policy::{from_json, parse, print, to_json};

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    let (policy, diagnostics) = parse(source);
    if !diagnostics.is_empty() {
        return;
    }
    let printed = print(&policy);
    let (reparsed, errors) = parse(&printed);
    assert!(errors.is_empty(), "printed policy does not parse:\n{printed}\n{errors:?}");
    assert_eq!(reparsed, policy, "print/parse changed the AST:\n{printed}");
    assert_eq!(print(&reparsed), printed, "print is not idempotent");
    let json = to_json(&policy).to_string();
    let from_json = from_json(&json).unwrap_or_else(|e| panic!("JSON form refused: {e}\n{json}"));
    assert_eq!(from_json, policy, "JSON round trip changed the AST");
    assert_eq!(parse(&print(&from_json)).0, policy, "text -> JSON -> text changed the AST");
});
