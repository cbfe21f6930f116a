//! The cost of metrics per invocation: building one EMF line (the largest kind, an interceptor
//! cache miss that asked the identity provider, and a trigger rejection) and writing it to
//! `std::io::sink()` through the [`MetricsSink`] interface the handlers use.
//!
//! `cargo bench -p obo-core --bench metrics_line`

use std::hint::black_box;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use obo_core::ReasonCode;
use obo_core::clock::system_clock;
use obo_core::metrics::{Function, IdpReport, Metrics, MetricsSettings, MetricsSink, Record};

/// Writes to `std::io::sink()`: the line is built in full, the write costs nothing.
struct Discard;

impl MetricsSink for Discard {
    fn write_line(&self, line: &[u8]) {
        let _ = std::io::sink().write_all(black_box(line));
    }
}

fn bench(c: &mut Criterion) {
    let settings = MetricsSettings::default();
    let metrics =
        |function| Metrics::new(function, &settings, system_clock(), None).with_sink(Arc::new(Discard));
    let interceptor = metrics(Function::Interceptor);
    let trigger = metrics(Function::PreToken);
    let miss = Record {
        outcome: "forwarded",
        reason: None,
        target: Some("crm"),
        cache_miss: Some(true),
        idp: Some(IdpReport { status: "2xx", attempts: 1, latency: Duration::from_micros(48_250) }),
        shared: None,
        latency: Duration::from_micros(48_900),
        cold_start: false,
        request_id: Some("8476a536-e9f4-11e8-9739-2dfe598c3fcd"),
    };
    let rejected = Record {
        outcome: "rejected",
        reason: Some(ReasonCode::SubjectExpired.as_str()),
        latency: Duration::from_micros(310),
        ..Record::default()
    };
    let mut group = c.benchmark_group("metrics_line");
    group.bench_function("interceptor_miss", |b| b.iter(|| interceptor.record(black_box(&miss))));
    group.bench_function("trigger_rejected", |b| b.iter(|| trigger.record(black_box(&rejected))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
