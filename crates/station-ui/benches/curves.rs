//! Curve panel render time at 1280×800: 4 channels × 1 000 samples with the band and 20
//! faded bonds, and the same with 1 000 000 samples in view (decimation keeps it flat).

use bonder_core::bond::Curve;
use bonder_core::envelope::EnvelopeLearner;
use bonder_station_ui::plot::{BandSummary, CurveSummary, PlotInput, render};
use criterion::{Criterion, criterion_group, criterion_main};
use std::time::Duration;

/// A bond-like curve of `n` samples; `k` varies it a little.
fn curve(n: usize, k: usize) -> Curve {
    let ch = |scale: f64, phase: f64| -> Vec<i16> {
        (0..n)
            .map(|i| {
                let x = i as f64 / n as f64;
                let ramp = if (0.1..0.8).contains(&x) { 1.0 } else { 0.0 };
                let wobble = ((i * 31 + k * 17) % 23) as f64 / 23.0 - 0.5;
                (scale * (ramp + 0.02 * wobble + 0.1 * (x * 40.0 + phase).sin())) as i16
            })
            .collect()
    };
    Curve {
        sample_rate_hz: 20_000,
        channels: [
            ch(1000.0, 0.0),
            ch(900.0, 1.0),
            ch(2000.0, 2.0),
            ch(200.0, 3.0),
        ],
    }
}

fn inputs(n: usize) -> (CurveSummary, Vec<CurveSummary>, BandSummary) {
    let bond = CurveSummary::new(&curve(n, 0));
    let faded: Vec<_> = (1..=20).map(|k| CurveSummary::new(&curve(n, k))).collect();
    let mut learner = EnvelopeLearner::default();
    for k in 0..10 {
        learner.add(&curve(n, k));
    }
    let band = BandSummary::new(&learner.envelope(4.0).unwrap_or_default());
    (bond, faded, band)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("curve_panel_1280x800");
    group.measurement_time(Duration::from_secs(4));
    group.warm_up_time(Duration::from_secs(1));
    group.sample_size(30);
    for n in [1_000usize, 1_000_000] {
        let (bond, faded, band) = inputs(n);
        let faded_refs: Vec<_> = faded.iter().collect();
        let input = PlotInput {
            bond: Some(&bond),
            bond_abnormal: false,
            faded: &faded_refs,
            band: Some(&band),
            view: None,
            compact: false,
        };
        group.bench_function(format!("4ch_x_{n}_samples_band_20_faded"), |b| {
            b.iter(|| render(&input, 1280, 800))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
