//! Bonds committed per second through the writer (target ≥ 100 000/s on 2 cores):
//! summaries only, and bonds that all carry a curve (4 × 300 samples, cloned from a
//! pool as `BondRecord::from_judged` clones the event's) with the default keep policy
//! (every reject and 1 in 100 good bonds keep theirs; 1 % rejects).
//!
//! `cargo bench -p bonder-store --bench writer` (well under a minute).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use bonder_core::{Curve, Verdict};
use bonder_store::{Store, WriterConfig, WriterHandle};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::time::{Duration, Instant};

const BONDS: u64 = 100_000;

fn verdict(seq: u64) -> Verdict {
    if seq % 100 == 37 {
        common::reject_for(seq)
    } else {
        Verdict::Ok
    }
}

/// Sends `BONDS` bonds (with curves from `curves` when not empty) and waits for their
/// commit, `iters` times.
fn run(
    writer: &WriterHandle,
    rt: &tokio::runtime::Runtime,
    seq: &mut u64,
    iters: u64,
    curves: &[Curve],
) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        for _ in 0..BONDS {
            *seq += 1;
            let mut b = common::bond(*seq, verdict(*seq), Some(1), false);
            if !curves.is_empty() {
                let i = usize::try_from(*seq).unwrap() % curves.len();
                b.curve = Some(curves[i].clone());
            }
            writer.send(b).unwrap();
        }
        rt.block_on(writer.flush()).unwrap();
    }
    start.elapsed()
}

fn writer(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("bench.db")).unwrap();
    let writer = store.spawn_writer(WriterConfig::default()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut seq = 0u64;
    let pool: Vec<Curve> = (1..=64).map(common::curve).collect();
    let mut g = c.benchmark_group("writer");
    g.throughput(Throughput::Elements(BONDS))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    g.bench_function("bond_summaries", |b| {
        b.iter_custom(|iters| run(&writer, &rt, &mut seq, iters, &[]));
    });
    g.bench_function("bonds_with_curves_default_policy", |b| {
        b.iter_custom(|iters| run(&writer, &rt, &mut seq, iters, &pool));
    });
    g.finish();
}

criterion_group!(benches, writer);
criterion_main!(benches);
