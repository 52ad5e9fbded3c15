//! Criterion benchmarks for zt live in `benches/` of this package; run `cargo bench`.
//! This library holds the workload generators they share.

pub mod policy_workload;
