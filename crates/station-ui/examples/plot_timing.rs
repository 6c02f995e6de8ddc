//! Where the curve panel's time goes: frame only, band, faded bonds, bond.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use bonder_core::bond::Curve;
use bonder_core::envelope::EnvelopeLearner;
use bonder_station_ui::plot::{BandSummary, CurveSummary, PlotInput, render};
use std::time::Instant;

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

fn main() {
    let n = 1000;
    let bond = CurveSummary::new(&curve(n, 0));
    let faded: Vec<_> = (1..=20).map(|k| CurveSummary::new(&curve(n, k))).collect();
    let refs: Vec<_> = faded.iter().collect();
    let mut learner = EnvelopeLearner::default();
    for k in 0..10 {
        learner.add(&curve(n, k));
    }
    let band = BandSummary::new(&learner.envelope(4.0).unwrap_or_default());
    let cases: [(&str, PlotInput<'_>); 4] = [
        (
            "frame only",
            PlotInput {
                bond: None,
                bond_abnormal: false,
                faded: &[],
                band: None,
                view: Some(0..n),
                compact: false,
            },
        ),
        (
            "+ band",
            PlotInput {
                bond: None,
                bond_abnormal: false,
                faded: &[],
                band: Some(&band),
                view: Some(0..n),
                compact: false,
            },
        ),
        (
            "+ 20 faded",
            PlotInput {
                bond: None,
                bond_abnormal: false,
                faded: &refs,
                band: Some(&band),
                view: Some(0..n),
                compact: false,
            },
        ),
        (
            "+ bond",
            PlotInput {
                bond: Some(&bond),
                bond_abnormal: false,
                faded: &refs,
                band: Some(&band),
                view: None,
                compact: false,
            },
        ),
    ];
    for (name, input) in &cases {
        for _ in 0..20 {
            render(input, 1280, 800).unwrap();
        }
        let t = Instant::now();
        let k = 100;
        for _ in 0..k {
            render(input, 1280, 800).unwrap();
        }
        println!(
            "{name:>12}: {:.2} ms",
            t.elapsed().as_secs_f64() * 1e3 / k as f64
        );
    }
}
