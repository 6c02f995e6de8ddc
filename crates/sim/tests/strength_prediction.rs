//! Predicted strength against the simulator's truth: a 2³ factorial with a centre point
//! in (ball US power, force, time) around the built-in recipe — the kind of data set the
//! published anchor used (R² 0.896 for shear from machine signals) — bonded by the bond
//! model; the station's own curve features of every wire; the model fitted on half the
//! wires and scored on the other half (held out). Prints R² and MAE for shear and pull.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use bonder_core::features::extract;
use bonder_core::pull_test::TestKind;
use bonder_core::recipe::{Recipe, parse_block};
use bonder_core::strength::{REGRESSORS, StrengthModel, regressors, score};
use bondersim::model::BondModel;

fn design(material: &str) -> Vec<([f64; REGRESSORS], f64, f64)> {
    let base = if material == "Au" {
        Recipe::default_au()
    } else {
        Recipe::default_cu()
    };
    let (us, f, t) = (
        base.ball.us_power_pct.0,
        base.ball.force_gf.0,
        base.ball.time_ms.0,
    );
    let mut points = vec![(us, f, t)];
    for a in [-1.0, 1.0] {
        for b in [-1.0, 1.0] {
            for c in [-1.0, 1.0] {
                points.push((
                    us * (1.0 + 0.2 * a),
                    f * (1.0 + 0.15 * b),
                    t * (1.0 + 0.2 * c),
                ));
            }
        }
    }
    let mut model = BondModel::new(11, 0.0);
    let mut out = Vec::new();
    let mut time = 0u64;
    for (us, f, t) in points {
        let mut r = base.clone();
        r.ball.us_power_pct.0 = us;
        r.ball.force_gf.0 = f;
        r.ball.time_ms.0 = t;
        let v = parse_block(&r.to_block()).unwrap_or_else(|e| panic!("{e:?}"));
        for _ in 0..400 {
            let w = model.next_wire(&v, time, 50_000);
            time += 50_000;
            let fb = extract(&w.ball.curve, w.ball.kind);
            let fs = extract(&w.stitch.curve, w.stitch.kind);
            let x = regressors(&fb, &fs, f64::from(w.ball.ball_diameter_um.unwrap_or(0.0)));
            out.push((x, w.truth.strength.shear_gf, w.truth.strength.pull_gf));
        }
    }
    out
}

#[test]
fn shear_is_predicted_from_the_curves_with_r2_at_least_0_9_on_held_out_wires() {
    for material in ["Au", "Cu"] {
        let data = design(material);
        for test in [TestKind::Shear, TestKind::Pull] {
            let y = |d: &([f64; REGRESSORS], f64, f64)| {
                if test == TestKind::Shear { d.1 } else { d.2 }
            };
            let train: Vec<_> = data.iter().step_by(2).map(|d| (d.0, y(d))).collect();
            let model = StrengthModel::fit(test, &train, 1e-4).unwrap();
            let held: Vec<(f64, f64)> = data
                .iter()
                .skip(1)
                .step_by(2)
                .map(|d| (model.predict(&d.0).gf, y(d)))
                .collect();
            let (r2, mae) = score(&held);
            println!(
                "figures: {material} {}: R² {r2:.3}, MAE {mae:.2} gf on {} held-out wires \
                 (fitted on {}; residual σ {:.2} gf)",
                test.name(),
                held.len(),
                train.len(),
                model.sigma
            );
            if test == TestKind::Shear {
                assert!(r2 >= 0.9, "{material} shear R² {r2}");
            }
        }
    }
}
