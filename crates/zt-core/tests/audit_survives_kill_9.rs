//! A writer process under load is SIGKILLed: every event it had acknowledged as durable
//! (per its fsync policy) is in the file, the chain verifies with at most a torn last
//! line, and the next writer continues the chain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zt_core::audit::{
    AuditEvent, Auditor, EventKind, FileSink, FsyncPolicy, OverflowPolicy, verify_files,
};

const CHILD_ENV: &str = "ZT_AUDIT_KILL9_LOG";
const POLICY_ENV: &str = "ZT_AUDIT_KILL9_FSYNC";
/// Durable events to wait for before the kill.
const KILL_AFTER: u64 = 20_000;

/// Runs in the child process only (started by the tests below with `--ignored`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child process of the kill -9 tests; they run it"]
async fn child_writes_until_killed() {
    let path = PathBuf::from(std::env::var(CHILD_ENV).expect("run by the kill -9 tests"));
    let fsync = match std::env::var(POLICY_ENV).as_deref() {
        Ok("every") => FsyncPolicy::EveryEvent,
        _ => FsyncPolicy::Interval(Duration::from_millis(10)),
    };
    let auditor = Auditor::builder(FileSink::open(&path).unwrap())
        .overflow(OverflowPolicy::Block)
        .fsync(fsync)
        .start()
        .unwrap();
    for producer in 0..4 {
        let auditor = auditor.clone();
        tokio::spawn(async move {
            for n in 0u64.. {
                let event = AuditEvent::new(EventKind::HttpRequest)
                    .field("producer", producer)
                    .field("n", n);
                auditor.record(event).await.unwrap();
            }
        });
    }
    // Acknowledge durability the way a service would: only what the writer reports synced.
    let mut durable = auditor.durable();
    loop {
        durable.changed().await.unwrap();
        let count = *durable.borrow_and_update();
        println!("durable {count}");
    }
}

fn kill_mid_write(policy: &str) {
    let dir = std::env::temp_dir().join(format!("zt-audit-kill9-{policy}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("audit.jsonl");

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_writes_until_killed",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .env(POLICY_ENV, policy)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let started = Instant::now();
    let mut acknowledged = 0;
    for line in stdout.lines() {
        let line = line.unwrap();
        if let Some(count) = line.strip_prefix("durable ") {
            acknowledged = count.parse().unwrap();
            if acknowledged >= KILL_AFTER {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "child too slow: {acknowledged} durable"
        );
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(acknowledged >= KILL_AFTER, "child exited early");

    let report = verify_files(&[&path]).unwrap();
    assert!(report.is_intact(), "{policy}: {:?}", report.problem);
    assert!(!report.sealed);
    assert!(
        report.events >= acknowledged,
        "{policy}: {} events in the file, {acknowledged} acknowledged as durable",
        report.events
    );
    eprintln!(
        "{policy}: {acknowledged} acknowledged, {} in the file, torn last line: {:?}",
        report.events, report.torn_tail
    );

    // A new writer continues the chain (discarding a torn line, if any, with a note).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let auditor = Auditor::builder(FileSink::open(&path).unwrap())
            .start()
            .unwrap();
        auditor
            .record(AuditEvent::new(EventKind::PolicyReload))
            .await
            .unwrap();
        auditor.shutdown().await.unwrap();
    });
    let after = verify_files(&[&path]).unwrap();
    assert!(
        after.is_intact() && after.sealed && after.torn_tail.is_none(),
        "{after:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn acknowledged_events_survive_kill_9_with_fsync_every_event() {
    kill_mid_write("every");
}

#[test]
fn acknowledged_events_survive_kill_9_with_fsync_every_10ms() {
    kill_mid_write("interval");
}
