//! Editing, deleting, reordering or truncating any line of an audit log is detected by
//! verification, across rotated files, and a restart after a torn line keeps the chain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use zt_core::audit::{
    AuditEvent, Auditor, Decision, EventKind, FileSink, FsyncPolicy, OverflowPolicy, ProblemKind,
    Target, verify_files,
};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zt-audit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("audit.jsonl")
}

fn event(i: usize) -> AuditEvent {
    AuditEvent::new(EventKind::HttpRequest)
        .target(Target::Http {
            method: "GET".into(),
            host: "app.example".into(),
            path: format!("/item/{i}"),
        })
        .decision(if i.is_multiple_of(3) {
            Decision::deny("no allow rule matched")
        } else {
            Decision::allow(["r1"])
        })
        .field("n", i)
}

async fn write_log(path: &Path, events: usize, max_file_bytes: u64) {
    let sink = FileSink::open(path).unwrap().max_file_bytes(max_file_bytes);
    let auditor = Auditor::builder(sink)
        .overflow(OverflowPolicy::Block)
        .fsync(FsyncPolicy::EveryEvent)
        .start()
        .unwrap();
    for i in 0..events {
        auditor.record(event(i)).await.unwrap();
        if i % 10 == 9 {
            auditor.flush().await.unwrap();
        }
    }
    auditor.shutdown().await.unwrap();
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(
        path,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
}

fn problem_at(path: &Path) -> (usize, ProblemKind) {
    let report = verify_files(&[path]).unwrap();
    let problem = report.problem.expect("tampering must be detected");
    (problem.at.line, problem.kind)
}

#[tokio::test]
async fn an_untouched_log_verifies_and_is_sealed() {
    let path = scratch("intact");
    write_log(&path, 40, u64::MAX).await;
    let report = verify_files(&[&path]).unwrap();
    assert!(report.is_intact(), "{:?}", report.problem);
    assert_eq!(report.events, 41); // 40 events and the seal
    assert_eq!(report.last_seq, Some(41));
    assert!(report.sealed);
    assert!(report.torn_tail.is_none());
}

#[tokio::test]
async fn editing_any_line_is_detected_at_that_line() {
    let path = scratch("edit");
    write_log(&path, 20, u64::MAX).await;
    let original = lines(&path);
    for index in 0..original.len() {
        let mut edited = original.clone();
        // A subtle edit: flip one decision, or the seal's kind, keeping valid JSON.
        edited[index] = if edited[index].contains("\"deny\"") {
            edited[index].replace("\"deny\"", "\"allow\"")
        } else if edited[index].contains("\"allow\"") {
            edited[index].replace("\"allow\"", "\"deny\"")
        } else {
            edited[index].replace("audit.sealed", "audit.sealeD")
        };
        assert_ne!(edited[index], original[index]);
        write_lines(&path, &edited);
        assert_eq!(
            problem_at(&path),
            (index + 1, ProblemKind::Edited),
            "line {}",
            index + 1
        );
    }
}

#[tokio::test]
async fn deleting_or_reordering_lines_is_detected() {
    let path = scratch("delete");
    write_log(&path, 20, u64::MAX).await;
    let original = lines(&path);

    let mut without_first = original.clone();
    without_first.remove(0);
    write_lines(&path, &without_first);
    assert_eq!(problem_at(&path), (1, ProblemKind::StartsMidChain));

    for index in 1..original.len() - 1 {
        let mut deleted = original.clone();
        deleted.remove(index);
        write_lines(&path, &deleted);
        assert_eq!(
            problem_at(&path),
            (index + 1, ProblemKind::BrokenLink),
            "deleted line {}",
            index + 1
        );

        let mut swapped = original.clone();
        swapped.swap(index, index + 1);
        write_lines(&path, &swapped);
        assert_eq!(
            problem_at(&path),
            (index + 1, ProblemKind::BrokenLink),
            "swapped line {}",
            index + 1
        );
    }

    // Cutting the end off leaves a valid prefix, but without the seal.
    let mut truncated = original.clone();
    truncated.truncate(original.len() - 3);
    write_lines(&path, &truncated);
    let report = verify_files(&[&path]).unwrap();
    assert!(report.is_intact());
    assert!(
        !report.sealed,
        "a log cut at a line boundary is reported as unsealed"
    );

    // Duplicating a line (replay) breaks the chain too.
    let mut duplicated = original.clone();
    duplicated.insert(5, original[4].clone());
    write_lines(&path, &duplicated);
    assert_eq!(problem_at(&path), (6, ProblemKind::BrokenLink));
}

#[tokio::test]
async fn a_torn_last_line_is_reported_and_a_restart_continues_the_chain() {
    let path = scratch("torn");
    write_log(&path, 10, u64::MAX).await;
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(bytes.len() - 20);
    std::fs::write(&path, &bytes).unwrap();
    let report = verify_files(&[&path]).unwrap();
    assert!(report.is_intact());
    assert_eq!(report.torn_tail.map(|at| at.line), Some(11));
    assert_eq!(report.events, 10);

    // The next writer discards the torn bytes, says so, and continues the chain.
    write_log(&path, 5, u64::MAX).await;
    let report = verify_files(&[&path]).unwrap();
    assert!(report.is_intact(), "{:?}", report.problem);
    assert!(report.torn_tail.is_none());
    assert_eq!(report.events, 10 + 1 + 5 + 1); // old, audit.recovered, new, seal
    let recovered = &lines(&path)[10];
    assert!(
        recovered.contains("\"audit.recovered\"") && recovered.contains("discarded_bytes"),
        "{recovered}"
    );
}

#[tokio::test]
async fn the_chain_runs_across_rotated_files() {
    let path = scratch("rotate");
    write_log(&path, 60, 4096).await;
    let files = FileSink::files(&path).unwrap();
    assert!(files.len() > 3, "expected rotation, got {files:?}");
    let report = verify_files(&files).unwrap();
    assert!(report.is_intact(), "{:?}", report.problem);
    assert_eq!(report.events, 61);

    // A restart continues the chain of the newest file.
    write_log(&path, 5, 4096).await;
    let files = FileSink::files(&path).unwrap();
    assert!(verify_files(&files).unwrap().is_intact());

    // A missing first file, a missing middle file, or files out of order are detected.
    assert_eq!(
        verify_files(&files[1..]).unwrap().problem.unwrap().kind,
        ProblemKind::StartsMidChain
    );
    let mut gap = files.clone();
    gap.remove(1);
    assert_eq!(
        verify_files(&gap).unwrap().problem.unwrap().kind,
        ProblemKind::BrokenLink
    );
    let mut shuffled = files.clone();
    shuffled.swap(0, 1);
    assert!(!verify_files(&shuffled).unwrap().is_intact());
}
