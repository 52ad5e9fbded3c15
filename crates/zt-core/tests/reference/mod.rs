//! The policy reference (docs/policy.md) and its examples, shared by the policy tests.
// Each test binary uses a different part.
#![allow(dead_code, clippy::unwrap_used)]

/// The reference's text.
pub(crate) fn doc() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/policy.md")).unwrap()
}

/// Every fenced `zt` block of `doc`, in order.
pub(crate) fn zt_blocks(doc: &str) -> Vec<String> {
    doc.split("```zt\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap().to_owned())
        .collect()
}
