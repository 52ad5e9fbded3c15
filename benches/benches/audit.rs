//! Audit pipeline cost: `record` on the request path (target: median under 500 ns) and
//! sustained file-sink throughput with fsync every 10 ms (target: 100,000 events/s).
//! Run: `cargo bench --bench audit`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use zt_benches::DiscardSink;
use zt_core::audit::{
    Actor, AuditEvent, Auditor, Decision, EventKind, FileSink, FsyncPolicy, OverflowPolicy, Source,
    Target,
};

/// A realistic allowed HTTP request event (~600 bytes as a line).
fn event(n: u64) -> AuditEvent {
    let mut actor = Actor::default();
    actor.subject = Some("248289761001".into());
    actor.email = Some("jane.doe@example.com".into());
    actor.groups = vec!["engineering".into(), "oncall".into()];
    actor.issuer = Some("https://idp.example.com".into());
    actor.session_id = Some("3f1c0b6e9a2d4e7f".into());
    let mut source = Source::default();
    source.ip = Some(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)));
    source.user_agent = Some("Mozilla/5.0 (X11; Linux x86_64)".into());
    AuditEvent::new(EventKind::HttpRequest)
        .actor(actor)
        .source(source)
        .target(Target::Http {
            method: "GET".into(),
            host: "grafana.example.com".into(),
            path: format!("/d/{n}/overview"),
        })
        .decision(Decision::allow(["eng-dashboards-read"]))
        .latency(Duration::from_micros(87))
        .request_id(format!("req-{n}"))
}

fn bench_record(c: &mut Criterion, runtime: &Runtime) {
    const CHUNK: u64 = 8_192;
    let auditor = Auditor::builder(DiscardSink)
        .overflow(OverflowPolicy::FailClosed)
        .queue_capacity(CHUNK as usize * 2)
        .start()
        .unwrap();
    let mut group = c.benchmark_group("audit");
    group.bench_function("record", |b| {
        b.iter_custom(|iters| {
            let mut measured = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let chunk = left.min(CHUNK);
                let events: Vec<AuditEvent> = (0..chunk).map(event).collect();
                let start = Instant::now();
                for event in events {
                    auditor.try_record(event).unwrap();
                }
                measured += start.elapsed();
                runtime.block_on(auditor.flush()).unwrap(); // drain, untimed
                left -= chunk;
            }
            measured
        })
    });
    group.finish();
    runtime.block_on(auditor.shutdown()).unwrap();
}

fn bench_file_throughput(c: &mut Criterion, runtime: &Runtime) {
    const EVENTS: u64 = 100_000;
    let dir = std::env::temp_dir().join(format!("zt-audit-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut group = c.benchmark_group("audit");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(EVENTS));
    group.bench_function(BenchmarkId::new("file_sink_fsync_10ms", EVENTS), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for round in 0..iters {
                let path = dir.join(format!("audit-{round}.jsonl"));
                let _ = std::fs::remove_file(&path);
                let auditor = Auditor::builder(FileSink::open(&path).unwrap())
                    .overflow(OverflowPolicy::Block)
                    .fsync(FsyncPolicy::Interval(Duration::from_millis(10)))
                    .start()
                    .unwrap();
                let events: Vec<AuditEvent> = (0..EVENTS).map(event).collect();
                let start = Instant::now();
                runtime.block_on(async {
                    for event in events {
                        auditor.record(event).await.unwrap();
                    }
                    auditor.flush().await.unwrap();
                });
                total += start.elapsed();
                runtime.block_on(auditor.shutdown()).unwrap();
                std::fs::remove_file(&path).unwrap();
            }
            total
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    bench_record(c, &runtime);
    bench_file_throughput(c, &runtime);
}

criterion_group!(audit, benches);
criterion_main!(audit);
