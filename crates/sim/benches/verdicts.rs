//! Verdicts per second: feature extraction + envelope check + limits, on simulated bonds
//! (4 channels, ~300–400 samples each), with the envelope learned.

#![allow(clippy::expect_used)] // bench setup: a panic is the failure report

use bonder_core::judge::Judge;
use bonder_core::recipe::{Recipe, parse_block};
use bondersim::model::BondModel;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

fn verdicts(c: &mut Criterion) {
    let recipe = Recipe::default_au();
    let values = parse_block(&recipe.to_block()).expect("built-in recipe");
    let mut model = BondModel::new(1, 0.01);
    let bonds: Vec<_> = (0..1000u64)
        .flat_map(|i| {
            let w = model.next_wire(&values, i * 50_000, 50_000);
            [w.ball, w.stitch]
        })
        .collect();
    let mut judge = Judge::new(&recipe);
    for b in &bonds {
        judge.judge(b);
    }
    assert!(
        judge.envelope(bonder_core::BondKind::Ball).is_some(),
        "envelope learned"
    );
    let mut g = c.benchmark_group("judge");
    g.measurement_time(Duration::from_secs(5)).sample_size(20);
    g.throughput(Throughput::Elements(bonds.len() as u64));
    g.bench_function("assess_2000_bonds_with_envelope", |b| {
        b.iter(|| {
            let mut ok = 0usize;
            for bond in &bonds {
                ok += usize::from(judge.assess(black_box(bond)).verdict.is_ok());
            }
            ok
        })
    });
    g.finish();
}

criterion_group!(benches, verdicts);
criterion_main!(benches);
