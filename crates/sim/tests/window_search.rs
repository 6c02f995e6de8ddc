//! The process-window search against the simulator's truth (issue 19): Bayesian
//! optimisation and the central composite design baseline, on the bond model's test
//! bench (bonds through the controller's registers, the station's view of each wire:
//! verdict, ball diameter, pull and shear).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bonder_core::recipe::{Param, WireMaterial};
use bonder_core::window::{self, Method};
use bondersim::window::{
    Bench, Truth, bench_bounds, bench_search, built_in, limits_of, set, truth,
};

const FOUR: [Param; 4] = [
    Param::BallUsPower,
    Param::BallForce,
    Param::BallTime,
    Param::HeaterTemp,
];

/// Units bonded and tested per run (2 wires each: 8 test wires).
const UNITS_PER_RUN: u32 = 4;

/// A session on the bench, its figures printed: (worst centre error, IoU).
fn session(m: WireMaterial, method: Method, budget_units: u32, t: &Truth) -> (f64, f64) {
    let recipe = built_in(m, if m == WireMaterial::Au { 25.4 } else { 20.3 });
    let o = bench_search(
        &recipe,
        &FOUR,
        &bench_bounds(m),
        method,
        budget_units,
        UNITS_PER_RUN,
        1,
    )
    .expect("an estimate");
    let (err, iou) = o.accuracy(t);
    let worst = err.iter().copied().fold(0.0, f64::max);
    let r1 = |v: &[f64]| {
        v.iter()
            .map(|x| (x * 10.0).round() / 10.0)
            .collect::<Vec<_>>()
    };
    println!(
        "{m} {}: {} units, {} wires, {} runs ({} in spec), centre {:?} (truth {:?}), \
         centre error per parameter {:?} of the half-width, box {:?} (truth {:?}), IoU {iou:.2}",
        method.name(),
        o.units,
        o.wires,
        o.runs,
        o.in_spec_runs,
        r1(&o.centre),
        r1(&t.centre),
        err.iter()
            .map(|x| (x * 100.0).round() / 100.0)
            .collect::<Vec<_>>(),
        o.bbox.iter().map(|b| r1(b)).collect::<Vec<_>>(),
        t.bounds.iter().map(|b| r1(b)).collect::<Vec<_>>(),
    );
    (worst, iou)
}

/// The acceptance test. **Not met yet** (2026-12-08, after the GP fixes in
/// `bonder_core::window`: squashed margins with their noise carried through the
/// squash, length scales ≥ 0.1, a signal variance up to 1000): with 50 runs of 4 units,
/// seeds 1–3, Au's worst centre error is 0.24 / 1.54 / 1.61 of the true half-width
/// (IoU 0.44 / 0.10 / 0.06: the narrow power axis, the estimate on a low-force,
/// high-power hill beside the true one) and Cu's 0.59 / 0.80 / 0.62 (IoU 0.47 / 0.28
/// / 0.40: always too high in power — the truth's power face is where the pad's
/// crater probability passes 0.1 %, which a run's crater guard, 0 at a 10 % share of
/// 8 wires, cannot see). Run with `--ignored --nocapture`.
#[test]
#[ignore]
fn bayesian_search_finds_the_true_window_of_gold_and_copper() {
    let mut results = Vec::new();
    for (m, d) in [(WireMaterial::Au, 25.4), (WireMaterial::Cu, 20.3)] {
        let t = truth(&built_in(m, d), &FOUR, None);
        let b = bench_bounds(m);
        for (i, [lo, hi]) in t.bounds.iter().enumerate() {
            assert!(
                b.0[i][0] <= *lo && *hi <= b.0[i][1],
                "{m}: the bounds hold the true box"
            );
        }
        results.push((m, session(m, Method::Bo, 200, &t)));
    }
    for (m, (err, iou)) in results {
        assert!(
            err <= 0.3,
            "{m}: centre within 30 % of the half-width, got {err:.2}"
        );
        assert!(iou >= 0.7, "{m}: IoU {iou:.2}");
    }
}

/// The baseline's figures (a CCD over the bounds, then one over the window it found).
#[test]
#[ignore]
fn the_central_composite_design_baseline() {
    for (m, d) in [(WireMaterial::Au, 25.4), (WireMaterial::Cu, 20.3)] {
        let t = truth(&built_in(m, d), &FOUR, None);
        for rounds in [1u32, 2] {
            session(m, Method::Ccd, rounds * 28 * UNITS_PER_RUN, &t);
        }
    }
}

/// The truth is a window with edges in every parameter, copper's narrower than gold's
/// in force and heater; the built-in recipes are in spec but not centred; cratering is
/// not what bounds either box (the search's crater share is a guard); and what the bench
/// measures of 100 units agrees with the truth's margins.
#[test]
fn the_true_windows_and_what_the_bench_measures_of_them() {
    use bondersim::window::{margins, values};
    let mut widths = Vec::new();
    for (m, d) in [(WireMaterial::Au, 25.4), (WireMaterial::Cu, 20.3)] {
        let recipe = built_in(m, d);
        let t = truth(&recipe, &FOUR, None);
        println!("{m}: {}", t.to_json());
        let lim = limits_of(&recipe);
        let at = |x: &[f64]| {
            let mut r = recipe.clone();
            for (i, p) in FOUR.iter().enumerate() {
                set(&mut r, *p, x[i]);
            }
            r
        };
        // In spec at the recipe, positive margin at the centre, edges inside the ranges.
        assert!(
            margins(&values(&recipe), &lim).iter().all(|v| *v > 0.0),
            "{m}"
        );
        assert!(t.margin > 0.1, "{m}: {t:?}");
        for (i, p) in FOUR.iter().enumerate() {
            let [a, b] = t.bounds[i];
            assert!(a < t.centre[i] && t.centre[i] < b, "{m} {p}: {t:?}");
        }
        // The crater margin stays positive over the whole box (its corners).
        for k in 0..16usize {
            let x: Vec<f64> = (0..4).map(|i| t.bounds[i][k >> i & 1]).collect();
            let mm = margins(&values(&at(&x)), &lim);
            assert!(mm[4] > 0.05, "{m}: crater margin {mm:?} at {x:?}");
        }
        // The bench agrees with the truth at the centre (100 units: 200 wires).
        let truth_m = margins(&values(&at(&t.centre)), &lim);
        let measured = window::measured_margins(&Bench::new(3).run(&at(&t.centre), 100), &lim);
        for i in 0..4 {
            assert!(
                (measured[i] - truth_m[i]).abs() < 0.1,
                "{m} {}: measured {measured:?} truth {truth_m:?}",
                window::CHARACTERISTICS[i]
            );
        }
        widths.push(
            t.bounds
                .iter()
                .zip(&t.centre)
                .map(|([a, b], c)| (b - a) / c)
                .collect::<Vec<f64>>(),
        );
    }
    // Copper's window is narrower than gold's in force and in heater temperature.
    assert!(
        widths[1][1] < widths[0][1] && widths[1][3] < widths[0][3],
        "{widths:?}"
    );
}
