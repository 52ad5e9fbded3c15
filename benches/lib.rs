//! Criterion benchmarks for zt live in `benches/` of this package; run `cargo bench`.
