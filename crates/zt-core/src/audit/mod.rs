//! Audit events that lose nothing.
//!
//! Every access decision leaves an [`AuditEvent`]. [`Auditor::record`] queues it cheaply
//! on the request path; one writer thread chains events with SHA-256 (each line carries
//! the hash of the line before) and hands them to an [`AuditSink`]: a rotating
//! [`FileSink`] with an explicit [`FsyncPolicy`], [`StdoutSink`], [`MemorySink`], or
//! your own. When events cannot be recorded the [`OverflowPolicy`] decides: block the
//! request, or fail closed and deny it. Nothing is dropped silently. [`verify_files`]
//! checks a log and names the first broken link, edit, truncation or torn line.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use zt_core::audit::{AuditEvent, Auditor, Decision, EventKind, MemorySink, OverflowPolicy};
//!
//! let (sink, log) = MemorySink::new();
//! let auditor = Auditor::builder(sink).overflow(OverflowPolicy::FailClosed).start()?;
//! auditor
//!     .record(AuditEvent::new(EventKind::Login).decision(Decision::allow(["sso"])))
//!     .await?;
//! auditor.shutdown().await?;
//! assert_eq!(log.lines().len(), 2); // the login and the seal
//! # Ok(()) }
//! ```

mod auditor;
mod chain;
mod event;
mod file;
mod sink;
mod verify;

pub use auditor::{AuditError, AuditStats, Auditor, AuditorBuilder, FsyncPolicy, OverflowPolicy};
pub use chain::LineError;
pub use event::{Actor, AuditEvent, Decision, Effect, EventKind, Source, Target, UnknownEventKind};
pub use file::{DEFAULT_MAX_FILE_BYTES, FileSink};
pub use sink::{AuditSink, MemoryLog, MemorySink, Recovered, StdoutSink};
pub use verify::{Location, Problem, ProblemKind, VerifyReport, verify_files, verify_lines};
