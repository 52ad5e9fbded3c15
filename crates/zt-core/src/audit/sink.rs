//! Where audit lines go: the sink trait and the stdout and in-memory sinks.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

/// A destination for audit lines. Implement it to ship events somewhere zt does not.
///
/// The writer calls a sink from one thread, in order. Both methods may block.
pub trait AuditSink: Send + 'static {
    /// Appends whole lines (each ending in `\n`). On error, none of `lines` may remain in
    /// the sink: the writer retries the same lines until they are accepted.
    fn append(&mut self, lines: &[u8]) -> io::Result<()>;

    /// Makes everything appended so far durable.
    fn sync(&mut self) -> io::Result<()>;

    /// Called once before the first append, to continue an existing log: returns its last
    /// complete line and discards (and reports) a torn final line left by a crash.
    fn recover(&mut self) -> io::Result<Recovered> {
        Ok(Recovered::default())
    }
}

/// What a sink found when the writer started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovered {
    /// The last complete line already in the sink (without `\n`), to continue its chain.
    pub last_line: Option<Vec<u8>>,
    /// Bytes of a torn final line that were discarded.
    pub discarded_bytes: u64,
}

impl Recovered {
    /// Continue after `last_line`, having discarded `discarded_bytes`.
    pub fn new(last_line: Option<Vec<u8>>, discarded_bytes: u64) -> Self {
        Self {
            last_line,
            discarded_bytes,
        }
    }
}

/// Writes lines to standard output (for container log collectors).
#[derive(Debug, Default)]
pub struct StdoutSink;

impl AuditSink for StdoutSink {
    fn append(&mut self, lines: &[u8]) -> io::Result<()> {
        io::stdout().lock().write_all(lines)
    }

    fn sync(&mut self) -> io::Result<()> {
        io::stdout().lock().flush()
    }
}

/// Keeps lines in memory, for tests; [`MemoryLog`] reads them.
#[derive(Debug, Default)]
pub struct MemorySink {
    log: MemoryLog,
}

/// A handle on what a [`MemorySink`] holds.
#[derive(Clone, Debug, Default)]
pub struct MemoryLog {
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl MemorySink {
    /// An empty sink and the handle to read it.
    pub fn new() -> (Self, MemoryLog) {
        let log = MemoryLog::default();
        (Self { log: log.clone() }, log)
    }
}

impl MemoryLog {
    /// Everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.bytes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The lines written so far, without their `\n`.
    pub fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.contents())
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl AuditSink for MemorySink {
    fn append(&mut self, lines: &[u8]) -> io::Result<()> {
        self.log
            .bytes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(lines);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}
