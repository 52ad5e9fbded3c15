//! Policy decision cost: zt against Cedar (`cedar-policy`) and Rego (`regorus`) on the
//! same generated rules and requests (`zt_benches::policy_workload`), at 10, 100, 1,000
//! and 10,000 rules. Targets: zt's median at 10,000 rules under 1 µs and at most 2x its
//! 10-rule figure; zt at least 10x faster than Cedar and 50x faster than regorus at
//! 1,000 and 10,000 rules; compiling a 10,000-rule policy under 200 ms.
//!
//! Before measuring, every request of every size is decided by all three engines and
//! they must agree on the effect and the matching rules of the winning effect.
//!
//! Groups: `policy_decide/{zt,cedar,regorus}/<rules>` decide one request per iteration,
//! cycling through the mix (32 hits, 16 misses, 16 denies); `policy_decide_kind/zt-<kind>/<rules>`
//! decide only requests of one kind; `policy_compile/{zt,cedar,regorus}/10000` parse
//! (zt: and check and compile) the 10,000-rule policy.
//! Run: `cargo bench -p zt-benches --bench policy`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::str::FromStr;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use zt_benches::policy_workload::{
    Engines, Kind, Prepared, SEED, SIZES, Workload, check_agreement, rego_effect, rego_engine,
    rule_mix,
};
use zt_core::policy::Engine;

struct Case {
    rules: usize,
    workload: Workload,
    engines: Engines,
    prepared: Prepared,
}

fn setup() -> Vec<Case> {
    SIZES
        .iter()
        .map(|&rules| {
            let workload = Workload::generate(rules, SEED);
            let mut engines = Engines::build(&workload).unwrap_or_else(|e| panic!("{e}"));
            let prepared = Prepared::build(&workload).unwrap_or_else(|e| panic!("{e}"));
            let agreement = check_agreement(&workload, &mut engines, &prepared)
                .unwrap_or_else(|e| panic!("policy engines disagree: {e}"));
            let mut mix: Vec<_> = rule_mix(&workload).into_iter().collect();
            mix.sort_unstable();
            eprintln!(
                "policy: {rules} rules {mix:?}: zt, cedar and regorus agree on {} requests \
                 ({} allowed, {} denied by a rule ({} of them also match an allow rule), \
                 {} default denies)",
                agreement.requests,
                agreement.allowed,
                agreement.denied_by_rule,
                agreement.overridden_allows,
                agreement.default_denied
            );
            Case {
                rules,
                workload,
                engines,
                prepared,
            }
        })
        .collect()
}

/// Cheap settings for the slow engines at large sizes.
fn slow(rules: usize) -> bool {
    rules >= 1_000
}

fn bench_decide(c: &mut Criterion, cases: &mut [Case]) {
    let mut group = c.benchmark_group("policy_decide");
    group.warm_up_time(Duration::from_secs(1));

    for case in cases.iter() {
        group.sample_size(100);
        group.measurement_time(Duration::from_secs(3));
        let contexts = case.prepared.zt_contexts();
        let engine = &case.engines.zt;
        group.bench_function(BenchmarkId::new("zt", case.rules), |b| {
            let mut i = 0usize;
            b.iter(|| {
                let context = &contexts[i % contexts.len()];
                i = i.wrapping_add(1);
                black_box(engine.decide(black_box(context)).effect())
            })
        });
    }

    for case in cases.iter() {
        if slow(case.rules) {
            group.sample_size(10);
            group.sampling_mode(SamplingMode::Flat);
            group.measurement_time(Duration::from_secs(2));
        }
        let requests = &case.prepared.cedar;
        let engines = &case.engines;
        group.bench_function(BenchmarkId::new("cedar", case.rules), |b| {
            let mut i = 0usize;
            b.iter(|| {
                let request = &requests[i % requests.len()];
                i = i.wrapping_add(1);
                let response = engines.authorizer.is_authorized(
                    black_box(&request.request),
                    &engines.cedar,
                    &request.entities,
                );
                black_box(response.decision())
            })
        });
    }

    for case in cases.iter_mut() {
        if slow(case.rules) {
            group.sample_size(10);
            group.sampling_mode(SamplingMode::Flat);
            group.measurement_time(Duration::from_secs(3));
        } else {
            group.sample_size(50);
            group.sampling_mode(SamplingMode::Auto);
            group.measurement_time(Duration::from_secs(3));
        }
        let inputs = &case.prepared.rego;
        let engine = &mut case.engines.rego;
        group.bench_function(BenchmarkId::new("regorus", case.rules), |b| {
            let mut i = 0usize;
            b.iter(|| {
                let input = &inputs[i % inputs.len()];
                i = i.wrapping_add(1);
                black_box(rego_effect(engine, black_box(input)).unwrap())
            })
        });
    }
    group.finish();
}

fn bench_decide_kind(c: &mut Criterion, cases: &[Case]) {
    let mut group = c.benchmark_group("policy_decide_kind");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for case in cases {
        let contexts = case.prepared.zt_contexts();
        for kind in Kind::ALL {
            let of_kind: Vec<_> = contexts
                .iter()
                .zip(&case.prepared.kinds)
                .filter(|(_, k)| **k == kind)
                .map(|(context, _)| context)
                .collect();
            let engine = &case.engines.zt;
            group.bench_function(
                BenchmarkId::new(format!("zt-{}", kind.as_str()), case.rules),
                |b| {
                    let mut i = 0usize;
                    b.iter(|| {
                        let context = of_kind[i % of_kind.len()];
                        i = i.wrapping_add(1);
                        black_box(engine.decide(black_box(context)).effect())
                    })
                },
            );
        }
    }
    group.finish();
}

fn bench_compile(c: &mut Criterion, cases: &[Case]) {
    let Some(case) = cases.iter().find(|case| case.rules == 10_000) else {
        return;
    };
    let workload = &case.workload;
    let mut group = c.benchmark_group("policy_compile");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.bench_function(BenchmarkId::new("zt", case.rules), |b| {
        b.iter_with_large_drop(|| Engine::from_source(black_box(&workload.zt)).unwrap())
    });
    group.bench_function(BenchmarkId::new("cedar", case.rules), |b| {
        b.iter_with_large_drop(|| {
            cedar_policy::PolicySet::from_str(black_box(&workload.cedar)).unwrap()
        })
    });
    group.bench_function(BenchmarkId::new("regorus", case.rules), |b| {
        b.iter_with_large_drop(|| rego_engine(black_box(&workload.rego)).unwrap())
    });
    group.finish();
}

fn bench_policy(c: &mut Criterion) {
    let mut cases = setup();
    bench_decide(c, &mut cases);
    bench_decide_kind(c, &cases);
    bench_compile(c, &cases);
}

criterion_group!(benches, bench_policy);
criterion_main!(benches);
