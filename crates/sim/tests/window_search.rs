//! The process-window search against the simulator's truth (issue 19): Bayesian
//! optimisation and the central composite design baseline, on the bond model's test
//! bench (bonds through the controller's registers, the station's view of each wire:
//! verdict, ball diameter, pull and shear).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bonder_core::recipe::{Param, Recipe, WireMaterial};
use bonder_core::window::{self, Bounds, Method, Run};
use bondersim::window::{Bench, Truth, built_in, limits_of, set, truth};

const FOUR: [Param; 4] = [
    Param::BallUsPower,
    Param::BallForce,
    Param::BallTime,
    Param::HeaterTemp,
];

/// Units bonded and tested per run (2 wires each: 8 test wires).
const UNITS_PER_RUN: u32 = 4;

/// The engineer's bounds for a wire (inside the recipe ranges).
fn bounds(m: WireMaterial) -> Bounds {
    match m {
        WireMaterial::Au => Bounds::new(vec![
            [30.0, 100.0],
            [15.0, 70.0],
            [4.0, 25.0],
            [150.0, 260.0],
        ]),
        _ => Bounds::new(vec![
            [40.0, 100.0],
            [12.0, 50.0],
            [4.0, 22.0],
            [160.0, 250.0],
        ]),
    }
}

struct Outcome {
    units: u32,
    wires: u64,
    centre: Vec<f64>,
    bbox: Vec<[f64; 2]>,
}

/// A session: runs until `budget_units` are used, then the estimate.
fn search(recipe: &Recipe, method: Method, budget_units: u32, seed: u64) -> Outcome {
    let b = bounds(recipe.wire.material);
    let lim = limits_of(recipe);
    let mut bench = Bench::new(seed);
    let mut runs: Vec<Run> = Vec::new();
    let budget_runs = (budget_units / UNITS_PER_RUN) as usize;
    while runs.len() < budget_runs {
        let pts = window::next_points(method, b.dim(), &runs, seed);
        if pts.is_empty() {
            break;
        }
        for u in pts.into_iter().take(budget_runs - runs.len()) {
            let mut r = recipe.clone();
            for (i, p) in FOUR.iter().enumerate() {
                set(&mut r, *p, b.from_unit(&u)[i]);
            }
            let samples = bench.run(&r, UNITS_PER_RUN);
            runs.push(Run {
                at: u,
                margins: window::measured_margins(&samples, &lim).to_vec(),
            });
        }
    }
    let e = window::estimate(method, &runs).expect("an estimate");
    let inside = runs
        .iter()
        .filter(|r| r.margins.iter().all(|m| *m >= 0.0))
        .count();
    println!(
        "  {} runs, {inside} of them in spec, estimate margin {:.2}, half {:?}",
        runs.len(),
        e.margin,
        e.half
    );
    let lo = b.from_unit(&e.unit_box().iter().map(|x| x[0]).collect::<Vec<_>>());
    let hi = b.from_unit(&e.unit_box().iter().map(|x| x[1]).collect::<Vec<_>>());
    Outcome {
        units: runs.len() as u32 * UNITS_PER_RUN,
        wires: bench.wires,
        centre: b.from_unit(&e.centre),
        bbox: lo.into_iter().zip(hi).map(|(a, b)| [a, b]).collect(),
    }
}

/// (worst centre error over the true half-width, IoU).
fn accuracy(o: &Outcome, t: &Truth) -> (f64, f64) {
    let err = o
        .centre
        .iter()
        .zip(&t.centre)
        .zip(&t.bounds)
        .map(|((c, tc), [lo, hi])| (c - tc).abs() / ((hi - lo) / 2.0))
        .fold(0.0, f64::max);
    (err, window::iou(&o.bbox, &t.bounds))
}

fn report(name: &str, o: &Outcome, t: &Truth) -> (f64, f64) {
    let (err, iou) = accuracy(o, t);
    println!(
        "{name}: {} units, {} wires, centre {:?} (truth {:?}), worst centre error {:.2} of the half-width, IoU {iou:.2}",
        o.units,
        o.wires,
        o.centre
            .iter()
            .map(|v| (v * 10.0).round() / 10.0)
            .collect::<Vec<_>>(),
        t.centre
            .iter()
            .map(|v| (v * 10.0).round() / 10.0)
            .collect::<Vec<_>>(),
        err
    );
    (err, iou)
}

/// The acceptance test. **Not met yet** (2026-12-03): with 50 runs of 4 units
/// Au's centre comes within 0.27 of the true half-width but its box overlaps the truth
/// with IoU 0.41 only; see the note. Run with `--ignored --nocapture`.
#[test]
#[ignore]
fn bayesian_search_finds_the_true_window_of_gold_and_copper() {
    for (m, d) in [(WireMaterial::Au, 25.4), (WireMaterial::Cu, 20.3)] {
        let recipe = built_in(m, d);
        let t = truth(&recipe, &FOUR, None);
        let b = bounds(m);
        for (i, [lo, hi]) in t.bounds.iter().enumerate() {
            assert!(
                b.0[i][0] <= *lo && *hi <= b.0[i][1],
                "{m}: the bounds hold the true box"
            );
        }
        let o = search(&recipe, Method::Bo, 200, 1);
        let (err, iou) = report(&format!("{m} BO"), &o, &t);
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
        let recipe = built_in(m, d);
        let t = truth(&recipe, &FOUR, None);
        for rounds in [1u32, 2] {
            let o = search(&recipe, Method::Ccd, rounds * 28 * UNITS_PER_RUN, 1);
            report(&format!("{m} CCD ×{rounds}"), &o, &t);
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
