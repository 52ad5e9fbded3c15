//! Arbitrary bytes given to the policy parser never panic, and every diagnostic points
//! inside the input and renders.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zt_core::policy::parse;

fuzz_target!(|data: &[u8]| {
    let source = String::from_utf8_lossy(data);
    let (_, diagnostics) = parse(&source);
    for diagnostic in &diagnostics {
        assert!(diagnostic.span.start <= diagnostic.span.end, "{diagnostic:?}");
        assert!(diagnostic.span.end <= source.len(), "{diagnostic:?}");
        assert!(source.is_char_boundary(diagnostic.span.start), "{diagnostic:?}");
        let _ = diagnostic.render("fuzz.zt", &source);
    }
});
