//! Criterion benchmarks for zt live in `benches/` of this package; run `cargo bench`.
//! This library holds the workload generators they share.

pub mod policy_workload;

/// An audit sink that accepts and forgets lines: isolates the request path's cost from
/// any I/O.
#[derive(Debug, Default)]
pub struct DiscardSink;

impl zt_core::audit::AuditSink for DiscardSink {
    fn append(&mut self, lines: &[u8]) -> std::io::Result<()> {
        std::hint::black_box(lines);
        Ok(())
    }

    fn sync(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
