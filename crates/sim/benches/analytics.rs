//! The closed loop's cost per wire on simulated bonds: the regressors from the two bonds'
//! features (already extracted by the judge), the predicted shear and pull with their
//! uncertainty, and EWMA + CUSUM charts on six standardised signals (ball impedance drop,
//! deform, US energy, stitch impedance drop, predicted shear, predicted pull).

#![allow(clippy::expect_used)] // bench setup: a panic is the failure report

use bonder_core::drift::{Cusum, CusumChart, Ewma, EwmaChart};
use bonder_core::features::extract;
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
    let mut ewma: Vec<EwmaChart> = (0..6)
        .map(|_| {
            EwmaChart::new(Ewma {
                lambda: 0.1,
                l: 2.7,
            })
        })
        .collect();
    let mut cusum: Vec<CusumChart> = (0..6)
        .map(|_| CusumChart::new(Cusum { k: 0.5, h: 5.0 }))
        .collect();
    let mut g = c.benchmark_group("closed_loop");
    g.measurement_time(Duration::from_secs(5)).sample_size(20);
    g.throughput(Throughput::Elements(wires.len() as u64));
    g.bench_function("predict_and_chart_2000_wires", |b| {
        b.iter(|| {
            let mut signals = 0usize;
            for (fb, fs, ball, _) in &wires {
                let x = regressors(black_box(fb), black_box(fs), *ball);
                let (ps, pp) = (shear.predict(&x), pull.predict(&x));
                let z = [
                    (x[0] - 30.0) / 2.0,
                    (x[1] - 4.0) / 0.5,
                    (x[5] - 0.8) / 0.05,
                    (x[7] - 30.0) / 2.0,
                    (ps.gf - 21.0) / ps.sd_gf.max(1e-9),
                    (pp.gf - 7.3) / pp.sd_gf.max(1e-9),
                ];
                for (k, v) in z.into_iter().enumerate() {
                    signals += usize::from(ewma[k].push(v).is_some());
                    signals += usize::from(cusum[k].push(v).is_some());
                }
            }
            signals
        })
    });
    g.finish();
}

criterion_group!(benches, analytics);
criterion_main!(benches);
