//! When events cannot be written (full disk, unwritable file, a failing sink), fail-closed
//! auditing refuses new events and says why, blocking auditing applies backpressure, and
//! neither loses an event it accepted. Many producers still make one unbroken chain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use zt_core::audit::{
    AuditError, AuditEvent, AuditSink, Auditor, EventKind, FileSink, FsyncPolicy, MemorySink,
    OverflowPolicy, verify_lines,
};

fn event(n: u64) -> AuditEvent {
    AuditEvent::new(EventKind::HttpRequest).field("n", n)
}

/// A sink that fails while `broken` is set, over a memory sink: a stand-in for a disk that
/// fills up and is then freed.
struct Flaky {
    inner: MemorySink,
    broken: Arc<AtomicBool>,
    sync_broken: Arc<AtomicBool>,
}

impl Flaky {
    fn new(inner: MemorySink, broken: &Arc<AtomicBool>) -> Self {
        Self {
            inner,
            broken: Arc::clone(broken),
            sync_broken: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl AuditSink for Flaky {
    fn append(&mut self, lines: &[u8]) -> io::Result<()> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "No space left on device",
            ));
        }
        self.inner.append(lines)
    }

    fn sync(&mut self) -> io::Result<()> {
        if self.sync_broken.load(Ordering::SeqCst) {
            return Err(io::Error::other("Input/output error"));
        }
        self.inner.sync()
    }
}

async fn wait_until(mut condition: impl FnMut() -> bool) {
    for _ in 0..200 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached in 2 s");
}

#[tokio::test]
async fn a_full_disk_makes_fail_closed_auditing_refuse_with_the_reason() {
    // /dev/full answers every write with ENOSPC, as a full file system does.
    let auditor = Auditor::builder(FileSink::open("/dev/full").unwrap())
        .overflow(OverflowPolicy::FailClosed)
        .retry_interval(Duration::from_millis(20))
        .start()
        .unwrap();
    auditor.record(event(0)).await.unwrap();
    wait_until(|| !auditor.is_healthy()).await;
    let refused = auditor.record(event(1)).await.unwrap_err();
    let AuditError::Unavailable(reason) = &refused else {
        panic!("{refused:?}")
    };
    assert!(reason.contains("No space left on device"), "{reason}");
    let stats = auditor.stats();
    assert_eq!(
        (stats.queued, stats.written),
        (1, 0),
        "the accepted event is held, not dropped"
    );
    assert!(stats.failed >= 1);
}

#[tokio::test]
async fn an_unwritable_log_file_is_refused_at_start() {
    let dir = std::env::temp_dir();
    assert!(
        FileSink::open(&dir).is_err(),
        "a directory is not a log file"
    );
    let missing_parent = dir
        .join(format!("zt-no-such-dir-{}", std::process::id()))
        .join("audit.jsonl");
    assert!(FileSink::open(missing_parent).is_err());
}

#[tokio::test]
async fn fail_closed_refuses_while_failing_and_loses_nothing_once_healed() {
    let (memory, log) = MemorySink::new();
    let broken = Arc::new(AtomicBool::new(false));
    let auditor = Auditor::builder(Flaky::new(memory, &broken))
        .overflow(OverflowPolicy::FailClosed)
        .fsync(FsyncPolicy::EveryEvent)
        .retry_interval(Duration::from_millis(20))
        .start()
        .unwrap();
    for n in 0..10 {
        auditor.record(event(n)).await.unwrap();
    }
    auditor.flush().await.unwrap();

    // The disk fills: the next event is accepted (the writer has not failed yet), then
    // the writer fails on it and fail-closed auditing refuses everything after.
    broken.store(true, Ordering::SeqCst);
    auditor.record(event(10)).await.unwrap();
    let mut accepted = 11;
    wait_until(|| !auditor.is_healthy()).await;
    for n in 11..20 {
        assert!(matches!(
            auditor.record(event(n)).await,
            Err(AuditError::Unavailable(_))
        ));
    }

    broken.store(false, Ordering::SeqCst);
    wait_until(|| auditor.is_healthy()).await;
    auditor.record(event(99)).await.unwrap();
    accepted += 1;
    let stats = auditor.shutdown().await.unwrap();
    assert_eq!(stats.queued, accepted);
    assert_eq!(
        stats.written,
        accepted + 1,
        "every accepted event, and the seal"
    );

    let report = verify_lines("memory", log.contents().as_slice()).unwrap();
    assert!(report.is_intact() && report.sealed, "{report:?}");
    let numbers: Vec<u64> = log
        .lines()
        .iter()
        .filter_map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["fields"]["n"].as_u64()
        })
        .collect();
    let expected: Vec<u64> = (0..11).chain([99]).collect();
    assert_eq!(
        numbers, expected,
        "in order, none lost, none refused ones written"
    );
}

#[tokio::test]
async fn blocking_auditing_applies_backpressure_and_loses_nothing() {
    let (memory, log) = MemorySink::new();
    let broken = Arc::new(AtomicBool::new(true));
    let auditor = Auditor::builder(Flaky::new(memory, &broken))
        .overflow(OverflowPolicy::Block)
        .queue_capacity(4)
        .retry_interval(Duration::from_millis(20))
        .start()
        .unwrap();

    // The writer holds one batch while failing; the queue fills; then `record` waits.
    let mut n = 0;
    let blocked = loop {
        match tokio::time::timeout(Duration::from_millis(300), auditor.record(event(n))).await {
            Ok(result) => {
                result.unwrap();
                n += 1;
                assert!(
                    n < 100,
                    "record never applied backpressure: {:?} healthy={}",
                    auditor.stats(),
                    auditor.is_healthy()
                );
            }
            Err(_) => break n,
        }
    };
    assert!(!auditor.is_healthy());

    // The disk is freed: the blocked producer proceeds and everything is written.
    let producer = {
        let auditor = auditor.clone();
        tokio::spawn(async move { auditor.record(event(blocked)).await })
    };
    broken.store(false, Ordering::SeqCst);
    producer.await.unwrap().unwrap();
    let stats = auditor.shutdown().await.unwrap();
    assert_eq!(stats.written, blocked + 1 + 1);
    let report = verify_lines("memory", log.contents().as_slice()).unwrap();
    assert!(report.is_intact() && report.sealed);
    assert_eq!(report.events, blocked + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_producers_make_one_unbroken_chain() {
    let (memory, log) = MemorySink::new();
    let auditor = Auditor::builder(memory)
        .overflow(OverflowPolicy::Block)
        .queue_capacity(256)
        .start()
        .unwrap();
    let producers: Vec<_> = (0..8u64)
        .map(|producer| {
            let auditor = auditor.clone();
            tokio::spawn(async move {
                for n in 0..2_000u64 {
                    auditor
                        .record(event(producer * 1_000_000 + n))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for producer in producers {
        producer.await.unwrap();
    }
    let stats = auditor.shutdown().await.unwrap();
    assert_eq!(
        (stats.queued, stats.written, stats.durable),
        (16_000, 16_001, 16_001)
    );

    let report = verify_lines("memory", log.contents().as_slice()).unwrap();
    assert!(report.is_intact() && report.sealed, "{report:?}");
    assert_eq!(report.events, 16_001);
    let mut seen: Vec<u64> = log
        .lines()
        .iter()
        .filter_map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["fields"]["n"].as_u64()
        })
        .collect();
    // Each producer's events keep their own order within the one chain.
    for producer in 0..8u64 {
        let own: Vec<u64> = seen
            .iter()
            .copied()
            .filter(|n| n / 1_000_000 == producer)
            .collect();
        assert!(own.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(own.len(), 2_000);
    }
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 16_000);
}

#[tokio::test]
async fn records_after_shutdown_are_refused() {
    let (memory, _log) = MemorySink::new();
    let auditor = Auditor::builder(memory).start().unwrap();
    auditor.shutdown().await.unwrap();
    assert_eq!(auditor.record(event(0)).await, Err(AuditError::Closed));
    assert_eq!(auditor.shutdown().await, Err(AuditError::Closed));
}

#[tokio::test]
async fn nothing_is_durable_until_a_sync_succeeds() {
    let (memory, _log) = MemorySink::new();
    let sink = Flaky::new(memory, &Arc::new(AtomicBool::new(false)));
    let sync_broken = Arc::clone(&sink.sync_broken);
    sync_broken.store(true, Ordering::SeqCst);
    let auditor = Auditor::builder(sink)
        .fsync(FsyncPolicy::EveryEvent)
        .retry_interval(Duration::from_millis(20))
        .start()
        .unwrap();
    auditor.record(event(1)).await.unwrap();
    wait_until(|| !auditor.is_healthy()).await;
    let stats = auditor.stats();
    assert_eq!(
        (stats.written, stats.durable),
        (1, 0),
        "written but not acknowledged as durable"
    );
    sync_broken.store(false, Ordering::SeqCst);
    wait_until(|| auditor.stats().durable == 1).await;
    assert!(auditor.is_healthy());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_accepted_while_shutting_down_are_written_not_lost() {
    let (memory, log) = MemorySink::new();
    let auditor = Auditor::builder(memory)
        .overflow(OverflowPolicy::Block)
        .start()
        .unwrap();
    let producers: Vec<_> = (0..4u64)
        .map(|producer| {
            let auditor = auditor.clone();
            tokio::spawn(async move {
                let mut accepted = Vec::new();
                for n in 0..100_000u64 {
                    let id = producer * 1_000_000 + n;
                    match auditor.record(event(id)).await {
                        Ok(()) => accepted.push(id),
                        Err(AuditError::Closed) => break,
                        Err(other) => panic!("{other:?}"),
                    }
                }
                accepted
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    auditor.shutdown().await.unwrap();
    let mut accepted = Vec::new();
    for producer in producers {
        accepted.extend(producer.await.unwrap());
    }
    let report = verify_lines("memory", log.contents().as_slice()).unwrap();
    assert!(report.is_intact() && report.sealed, "{report:?}");
    let mut written: Vec<u64> = log
        .lines()
        .iter()
        .filter_map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["fields"]["n"].as_u64()
        })
        .collect();
    written.sort_unstable();
    accepted.sort_unstable();
    assert!(
        accepted.len() > 100,
        "producers were running during the shutdown"
    );
    assert_eq!(
        written, accepted,
        "every event `record` accepted is in the log, before the seal"
    );
}

/// A healthy sink that takes a while per write, as a disk does while it syncs.
struct Slow(MemorySink);

impl AuditSink for Slow {
    fn append(&mut self, lines: &[u8]) -> io::Result<()> {
        std::thread::sleep(Duration::from_millis(100));
        self.0.append(lines)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.0.sync()
    }
}

/// Records 20 events at once into a one-event queue in front of a slow sink; returns how
/// many were refused.
async fn refused_by_a_slow_sink(policy: OverflowPolicy) -> usize {
    let auditor = Auditor::builder(Slow(MemorySink::default()))
        .queue_capacity(1)
        .batch_delay(Duration::ZERO)
        .overflow(policy)
        .start()
        .unwrap();
    let records: Vec<_> = (0..20)
        .map(|n| {
            let auditor = auditor.clone();
            tokio::spawn(async move { auditor.record(event(n)).await })
        })
        .collect();
    let mut refused = 0;
    for record in records {
        match record.await.unwrap() {
            Ok(()) => {}
            Err(AuditError::Unavailable(_)) => refused += 1,
            Err(other) => panic!("{other:?}"),
        }
    }
    auditor.shutdown().await.unwrap();
    refused
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_in_front_of_a_healthy_sink_is_waited_for_a_bounded_time() {
    // Fail closed at once: a burst bigger than the queue is partly refused.
    assert!(refused_by_a_slow_sink(OverflowPolicy::FailClosed).await > 0);
    // Waiting up to 10 s: the burst drains through the slow sink, nothing is refused.
    let patient = OverflowPolicy::FailClosedAfter(Duration::from_secs(10));
    assert_eq!(refused_by_a_slow_sink(patient).await, 0);
    // Waiting only 10 ms is not enough for 100 ms writes: refused, not held forever.
    let impatient = OverflowPolicy::FailClosedAfter(Duration::from_millis(10));
    assert!(refused_by_a_slow_sink(impatient).await > 0);
}

#[tokio::test]
async fn waiting_for_room_never_waits_for_a_failing_sink() {
    let auditor = Auditor::builder(FileSink::open("/dev/full").unwrap())
        .overflow(OverflowPolicy::FailClosedAfter(Duration::from_secs(30)))
        .retry_interval(Duration::from_millis(20))
        .start()
        .unwrap();
    auditor.record(event(0)).await.unwrap();
    wait_until(|| !auditor.is_healthy()).await;
    let started = std::time::Instant::now();
    let refused = auditor.record(event(1)).await.unwrap_err();
    assert!(matches!(refused, AuditError::Unavailable(_)), "{refused:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
}
