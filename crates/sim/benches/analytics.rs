//! The closed loop's cost per wire on simulated bonds, as the station's sink pays it: the
//! regressors from the two bonds' features (already extracted by the judge), the
//! predicted shear and pull with their uncertainty, and the process-health
//! [`Monitor`] (subgroups, nine EWMA charts, the MEWMA, blocks, forecasts, causes).
//!
//! `cargo bench -p bondersim --bench analytics`

#![allow(clippy::expect_used)] // bench setup: a panic is the failure report

use bonder_core::features::extract;
use bonder_core::health::{HealthConfig, Monitor, WireObs};
use bonder_core::pull_test::TestKind;
use bonder_core::recipe::{Recipe, parse_block};
use bonder_core::strength::{StrengthModel, regressors};
use bondersim::model::BondModel;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

fn analytics(c: &mut Criterion) {
    let recipe = Recipe::default_au();
    let values = parse_block(&recipe.to_block()).expect("built-in recipe");
    let mut model = BondModel::new(1, 0.0);
    let wires: Vec<_> = (0..2000u64)
        .map(|i| {
            let w = model.next_wire(&values, i * 50_000, 50_000);
            let (fb, fs) = (
                extract(&w.ball.curve, w.ball.kind),
                extract(&w.stitch.curve, w.stitch.kind),
            );
            let ball = f64::from(w.ball.ball_diameter_um.unwrap_or(0.0));
            (fb, fs, ball, w.truth.strength)
        })
        .collect();
    let fit = |t: TestKind| {
        let data: Vec<_> = wires
            .iter()
            .map(|(b, s, d, st)| {
                let y = if t == TestKind::Shear {
                    st.shear_gf
                } else {
                    st.pull_gf
                };
                (regressors(b, s, *d), y)
            })
            .collect();
        StrengthModel::fit(t, &data, 1e-3).expect("fit")
    };
    let (shear, pull) = (fit(TestKind::Shear), fit(TestKind::Pull));
    let mut monitor = Monitor::new(HealthConfig::new(12.0, 3.0, 1_000_000));
    let mut wire_no = 0u64;
    let mut obs =
        |fb: &bonder_core::features::Features, fs: &bonder_core::features::Features, ball: f64| {
            let x = regressors(fb, fs, ball);
            let (ps, pp) = (shear.predict(&x), pull.predict(&x));
            wire_no += 1;
            WireObs {
                time_us: wire_no * 50_000,
                curve: bonder_core::health::curve(fb, fs),
                heater_offset_c: Some(0.3),
                touchdowns: 2 * wire_no,
                non_stick: false,
                rejected: false,
                shear: Some((ps.gf, ps.sd_gf)),
                pull: Some((pp.gf, pp.sd_gf)),
            }
        };
    // Past its baseline, as in production.
    for _ in 0..3 {
        for (fb, fs, ball, _) in &wires {
            let o = obs(fb, fs, *ball);
            monitor.push(&o);
        }
    }
    assert!(monitor.baselined());
    let mut g = c.benchmark_group("closed_loop");
    g.measurement_time(Duration::from_secs(5)).sample_size(20);
    g.throughput(Throughput::Elements(wires.len() as u64));
    g.bench_function("predict_and_monitor_2000_wires", |b| {
        b.iter(|| {
            let mut events = 0usize;
            for (fb, fs, ball, _) in &wires {
                let o = obs(black_box(fb), black_box(fs), *ball);
                events += monitor.push(&o).len();
            }
            events
        })
    });
    g.finish();
}

criterion_group!(benches, analytics);
criterion_main!(benches);
