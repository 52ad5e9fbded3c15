//! The auditor: a bounded queue on the request path and one writer thread that chains
//! events and hands them to the sink, never dropping one silently.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};

use super::chain::Chain;
use super::{AuditEvent, AuditSink, EventKind};

/// What `record` does when an event cannot be queued or the sink is failing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OverflowPolicy {
    /// Wait for room in the queue: requests slow down, nothing is refused.
    Block,
    /// Refuse the event at once with [`AuditError::Unavailable`]: the caller denies the
    /// request it was about to allow, saying why.
    FailClosed,
    /// Wait up to this long for room in a full queue (a burst, or a disk sync that takes
    /// a moment while events keep arriving), then refuse like
    /// [`FailClosed`](Self::FailClosed); a failing sink is refused at once.
    FailClosedAfter(Duration),
}

impl OverflowPolicy {
    /// Whether [`Auditor::record`] may wait before it accepts or refuses an event (so a
    /// caller that could not [`try_record`](Auditor::try_record) should call it).
    pub fn may_wait(self) -> bool {
        !matches!(self, Self::FailClosed)
    }
}

/// When the writer makes written events durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FsyncPolicy {
    /// After every write, before any of its events is acknowledged as durable.
    EveryEvent,
    /// At most this long after an event was written (group commit).
    Interval(Duration),
    /// Only when a file rotates, on [`Auditor::flush`] and on shutdown.
    OnRotation,
}

/// Why an event was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// Fail-closed auditing cannot take the event now (queue full, or the sink failing).
    #[error("audit log unavailable: {0}")]
    Unavailable(String),
    /// The auditor has shut down.
    #[error("audit log is shut down")]
    Closed,
    /// The sink could not be opened or recovered.
    #[error("audit sink: {0}")]
    Sink(String),
}

/// Counters of an auditor's pipeline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditStats {
    /// Events accepted into the queue.
    pub queued: u64,
    /// Events handed to the sink.
    pub written: u64,
    /// Events made durable (synced) by the sink.
    pub durable: u64,
    /// Failed sink writes or syncs (each retried until it succeeds).
    pub failed: u64,
}

// Channel slots are as large as the largest variant anyway, and events are by far the
// most common message: boxing them would only add an allocation to `record`.
#[allow(clippy::large_enum_variant)]
enum Message {
    Event(AuditEvent),
    Flush(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

struct Shared {
    overflow: OverflowPolicy,
    closed: AtomicBool,
    healthy: AtomicBool,
    last_error: Mutex<Option<String>>,
    queued: AtomicU64,
    written: AtomicU64,
    failed: AtomicU64,
    durable: watch::Sender<u64>,
}

/// Records audit events. Cheap to clone; all clones feed one writer.
#[derive(Clone)]
pub struct Auditor {
    tx: mpsc::Sender<Message>,
    shared: Arc<Shared>,
    writer: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor")
            .field("overflow", &self.shared.overflow)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Configures an [`Auditor`].
#[must_use]
pub struct AuditorBuilder {
    sink: Box<dyn AuditSink>,
    capacity: usize,
    overflow: OverflowPolicy,
    fsync: FsyncPolicy,
    retry_interval: Duration,
    batch_delay: Duration,
}

impl AuditorBuilder {
    /// Events the queue holds before `record` blocks or fails (default 16,384).
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// What happens when the queue is full or the sink fails (default: fail closed).
    pub fn overflow(mut self, policy: OverflowPolicy) -> Self {
        self.overflow = policy;
        self
    }

    /// When events are made durable (default: every 10 ms).
    pub fn fsync(mut self, policy: FsyncPolicy) -> Self {
        self.fsync = policy;
        self
    }

    /// How long the writer gathers events after a write that did not fill a batch
    /// (default 5 ms, half the default fsync interval): a busy server then writes, and
    /// wakes the writer, about once per interval instead of once per event. Flushes are answered at most this much later.
    /// Zero writes every event as soon as it arrives.
    pub fn batch_delay(mut self, delay: Duration) -> Self {
        self.batch_delay = delay;
        self
    }

    /// Pause between retries of a failed sink write (default 100 ms).
    pub fn retry_interval(mut self, interval: Duration) -> Self {
        self.retry_interval = interval;
        self
    }

    /// Recovers the sink (continuing an existing chain) and starts the writer thread.
    pub fn start(mut self) -> Result<Auditor, AuditError> {
        let recovered = self
            .sink
            .recover()
            .map_err(|e| AuditError::Sink(e.to_string()))?;
        let chain = match &recovered.last_line {
            Some(line) => Chain::resume(line).map_err(|e| {
                AuditError::Sink(format!(
                    "the existing log's last line cannot be continued: {e}"
                ))
            })?,
            None => Chain::start(),
        };
        let (tx, rx) = mpsc::channel(self.capacity);
        let shared = Arc::new(Shared {
            overflow: self.overflow,
            closed: AtomicBool::new(false),
            healthy: AtomicBool::new(true),
            last_error: Mutex::new(None),
            queued: AtomicU64::new(0),
            written: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            durable: watch::channel(0).0,
        });
        let writer = Writer {
            sink: self.sink,
            chain,
            fsync: self.fsync,
            retry_interval: self.retry_interval,
            batch_delay: self.batch_delay,
            shared: Arc::clone(&shared),
            max_batch: self.capacity.min(MAX_BATCH) as u64,
            buffer: Vec::with_capacity(64 * 1024),
            buffered: 0,
            unsynced: false,
            last_sync: Instant::now(),
        };
        let mut first = Vec::new();
        if recovered.discarded_bytes > 0 {
            first.push(
                AuditEvent::new(EventKind::AuditRecovered)
                    .field("discarded_bytes", recovered.discarded_bytes),
            );
        }
        let handle = std::thread::Builder::new()
            .name("zt-audit-writer".into())
            .spawn(move || writer.run(rx, first))
            .map_err(|e| AuditError::Sink(e.to_string()))?;
        Ok(Auditor {
            tx,
            shared,
            writer: Arc::new(Mutex::new(Some(handle))),
        })
    }
}

impl Auditor {
    /// Starts configuring an auditor writing to `sink`.
    pub fn builder(sink: impl AuditSink) -> AuditorBuilder {
        AuditorBuilder {
            sink: Box::new(sink),
            capacity: 16_384,
            overflow: OverflowPolicy::FailClosed,
            fsync: FsyncPolicy::Interval(Duration::from_millis(10)),
            retry_interval: Duration::from_millis(100),
            batch_delay: Duration::from_millis(5),
        }
    }

    /// Queues `event`. With [`OverflowPolicy::Block`] this waits for room; with
    /// [`OverflowPolicy::FailClosed`] it never waits and refuses the event when it cannot
    /// be recorded, so the caller can deny the request; with
    /// [`OverflowPolicy::FailClosedAfter`] it waits that long for room in a full queue.
    pub async fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        match self.shared.overflow {
            OverflowPolicy::FailClosed => self.try_record(event),
            OverflowPolicy::FailClosedAfter(wait) => {
                if self.shared.closed.load(Ordering::Acquire)
                    || !self.shared.healthy.load(Ordering::Acquire)
                {
                    // Closed, or the sink is failing: refused at once, with the reason.
                    return self.try_record(event);
                }
                match tokio::time::timeout(wait, self.tx.send(Message::Event(event))).await {
                    Ok(Ok(())) => {
                        self.shared.queued.fetch_add(1, Ordering::Relaxed);
                        Ok(())
                    }
                    Ok(Err(_)) => Err(AuditError::Closed),
                    Err(_) => Err(AuditError::Unavailable(format!(
                        "the audit queue stayed full for {} ms",
                        wait.as_millis()
                    ))),
                }
            }
            OverflowPolicy::Block => {
                if self.shared.closed.load(Ordering::Acquire) {
                    return Err(AuditError::Closed);
                }
                self.tx
                    .send(Message::Event(event))
                    .await
                    .map_err(|_| AuditError::Closed)?;
                self.shared.queued.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
        }
    }

    /// What [`record`](Self::record) does when the event cannot be queued at once.
    pub fn overflow_policy(&self) -> OverflowPolicy {
        self.shared.overflow
    }

    /// Queues `event` without waiting, whatever the policy: refuses it when the queue is
    /// full or the sink is failing.
    pub fn try_record(&self, event: AuditEvent) -> Result<(), AuditError> {
        let shared = &*self.shared;
        if shared.closed.load(Ordering::Acquire) {
            return Err(AuditError::Closed);
        }
        if !shared.healthy.load(Ordering::Acquire) {
            let error = shared
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            return Err(AuditError::Unavailable(format!(
                "the audit sink is failing ({})",
                error.as_deref().unwrap_or("unknown error")
            )));
        }
        match self.tx.try_send(Message::Event(event)) {
            Ok(()) => {
                shared.queued.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                Err(AuditError::Unavailable("the audit queue is full".into()))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(AuditError::Closed),
        }
    }

    /// Waits until every event queued before this call is written and synced.
    pub async fn flush(&self) -> Result<(), AuditError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Message::Flush(done))
            .await
            .map_err(|_| AuditError::Closed)?;
        wait.await.map_err(|_| AuditError::Closed)
    }

    /// Stops accepting events, writes and syncs everything queued, seals the log with an
    /// `audit.sealed` event and stops the writer.
    pub async fn shutdown(&self) -> Result<AuditStats, AuditError> {
        if self.shared.closed.swap(true, Ordering::AcqRel) {
            return Err(AuditError::Closed);
        }
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Message::Shutdown(done))
            .await
            .map_err(|_| AuditError::Closed)?;
        wait.await.map_err(|_| AuditError::Closed)?;
        let handle = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle
            && handle.join().is_err()
        {
            return Err(AuditError::Sink("the audit writer thread panicked".into()));
        }
        Ok(self.stats())
    }

    /// The pipeline's counters.
    pub fn stats(&self) -> AuditStats {
        let shared = &*self.shared;
        AuditStats {
            queued: shared.queued.load(Ordering::Relaxed),
            written: shared.written.load(Ordering::Relaxed),
            durable: *shared.durable.borrow(),
            failed: shared.failed.load(Ordering::Relaxed),
        }
    }

    /// Watches the number of events made durable, e.g. to acknowledge them.
    pub fn durable(&self) -> watch::Receiver<u64> {
        self.shared.durable.subscribe()
    }

    /// Whether events are currently being written (false while the sink fails).
    pub fn is_healthy(&self) -> bool {
        self.shared.healthy.load(Ordering::Acquire)
    }
}

/// Most events chained into one sink write.
const MAX_BATCH: usize = 4096;
/// Most bytes chained into one sink write (a file may overshoot its size limit by this).
pub(crate) const MAX_BATCH_BYTES: usize = 256 * 1024;

struct Writer {
    sink: Box<dyn AuditSink>,
    chain: Chain,
    fsync: FsyncPolicy,
    retry_interval: Duration,
    batch_delay: Duration,
    shared: Arc<Shared>,
    /// Most events per sink write: the queue capacity, at most [`MAX_BATCH`], so that
    /// backpressure starts after about twice the configured capacity.
    max_batch: u64,
    /// Chained lines not yet accepted by the sink.
    buffer: Vec<u8>,
    /// Events in `buffer`.
    buffered: u64,
    /// Whether written events await a sync.
    unsynced: bool,
    last_sync: Instant,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<Message>, first: Vec<AuditEvent>) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                self.fail(&error);
                return;
            }
        };
        for event in first {
            self.chain_event(&event);
        }
        loop {
            let next = match self.sync_deadline() {
                Some(deadline) => {
                    match runtime
                        .block_on(async { tokio::time::timeout(deadline, rx.recv()).await })
                    {
                        Ok(message) => message,
                        Err(_) => {
                            self.sync();
                            continue;
                        }
                    }
                }
                None => runtime.block_on(rx.recv()),
            };
            let Some(first) = next else {
                // Every auditor handle is gone: write what is left and stop.
                self.write();
                self.sync();
                return;
            };
            let mut replies = Vec::new();
            let mut shutdown = None;
            self.take(first, &mut replies, &mut shutdown);
            while self.buffered < self.max_batch
                && self.buffer.len() < MAX_BATCH_BYTES
                && shutdown.is_none()
            {
                match rx.try_recv() {
                    Ok(message) => self.take(message, &mut replies, &mut shutdown),
                    Err(_) => break,
                }
            }
            let batch_full =
                self.buffered >= self.max_batch || self.buffer.len() >= MAX_BATCH_BYTES;
            self.write();
            if self.sync_due() || !replies.is_empty() || shutdown.is_some() {
                self.sync();
            }
            if shutdown.is_none() {
                for reply in replies.drain(..) {
                    let _ = reply.send(());
                }
                if !batch_full && !self.batch_delay.is_zero() && rx.is_empty() {
                    // Let events gather in the queue: senders do not wake a writer
                    // that is not waiting.
                    std::thread::sleep(self.batch_delay);
                }
            }
            if let Some(reply) = shutdown {
                // Refuse new sends, then write every event already accepted (some may
                // have been queued behind the shutdown request), then seal.
                rx.close();
                // Only one shutdown is ever sent (`closed` guards it).
                let mut no_second_shutdown = None;
                while let Some(message) = runtime.block_on(rx.recv()) {
                    self.take(message, &mut replies, &mut no_second_shutdown);
                    if self.buffer.len() >= MAX_BATCH_BYTES {
                        self.write();
                    }
                }
                self.chain_event(&AuditEvent::new(EventKind::AuditSealed));
                self.write();
                self.sync();
                for reply in replies.drain(..) {
                    let _ = reply.send(());
                }
                let _ = reply.send(());
                return;
            }
        }
    }

    /// Whether the fsync policy asks for a sync now (checked after every write, so a
    /// busy queue cannot postpone it).
    fn sync_due(&self) -> bool {
        match self.fsync {
            FsyncPolicy::EveryEvent => true,
            FsyncPolicy::Interval(interval) => self.last_sync.elapsed() >= interval,
            FsyncPolicy::OnRotation => false,
        }
    }

    /// How long to wait for more events before a due sync.
    fn sync_deadline(&self) -> Option<Duration> {
        match self.fsync {
            FsyncPolicy::Interval(interval) if self.unsynced => {
                Some(interval.saturating_sub(self.last_sync.elapsed()))
            }
            FsyncPolicy::Interval(_) | FsyncPolicy::EveryEvent | FsyncPolicy::OnRotation => None,
        }
    }

    fn take(
        &mut self,
        message: Message,
        replies: &mut Vec<oneshot::Sender<()>>,
        shutdown: &mut Option<oneshot::Sender<()>>,
    ) {
        match message {
            Message::Event(event) => self.chain_event(&event),
            Message::Flush(reply) => replies.push(reply),
            Message::Shutdown(reply) => *shutdown = Some(reply),
        }
    }

    fn chain_event(&mut self, event: &AuditEvent) {
        match self.chain.append(event, &mut self.buffer) {
            Ok(()) => self.buffered += 1,
            Err(error) => {
                // Our event types always serialise; if one ever does not, say so loudly.
                self.shared.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(%error, id = %event.id, kind = event.kind.as_str(), "could not serialise an audit event");
            }
        }
    }

    /// Hands the buffer to the sink, retrying until it is accepted.
    fn write(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        while let Err(error) = self.sink.append(&self.buffer) {
            self.fail(&error);
            std::thread::sleep(self.retry_interval);
        }
        self.recovered();
        self.shared
            .written
            .fetch_add(self.buffered, Ordering::Relaxed);
        self.buffer.clear();
        self.buffered = 0;
        self.unsynced = true;
    }

    /// Syncs the sink, retrying until it succeeds, and publishes the durable count.
    fn sync(&mut self) {
        if !self.unsynced {
            return;
        }
        while let Err(error) = self.sink.sync() {
            self.fail(&error);
            std::thread::sleep(self.retry_interval);
        }
        self.recovered();
        self.unsynced = false;
        self.last_sync = Instant::now();
        self.shared
            .durable
            .send_replace(self.shared.written.load(Ordering::Relaxed));
    }

    fn fail(&self, error: &dyn std::fmt::Display) {
        let shared = &*self.shared;
        shared.failed.fetch_add(1, Ordering::Relaxed);
        *shared
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(error.to_string());
        if shared.healthy.swap(false, Ordering::AcqRel) {
            tracing::error!(%error, "audit sink failing; retrying (nothing is dropped)");
        }
    }

    fn recovered(&self) {
        if !self.shared.healthy.swap(true, Ordering::AcqRel) {
            tracing::info!("audit sink recovered");
        }
    }
}
