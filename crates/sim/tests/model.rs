//! The bond model behaves like a process: its curves follow the recipe, and the
//! station's judge (bonder-core) reads defects from them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use bonder_core::bond::{BondKind, Defect, Verdict};
use bonder_core::features::extract;
use bonder_core::judge::Judge;
use bonder_core::recipe::{Recipe, parse_block};
use bondersim::model::BondModel;

fn values(r: &Recipe) -> bonder_core::recipe::BlockValues {
    parse_block(&r.to_block()).unwrap()
}

/// Mean ball deformation and ball diameter over `n` wires.
fn ball_stats(r: &Recipe, n: usize) -> (f32, f32) {
    let mut m = BondModel::new(3, 0.0);
    let v = values(r);
    let (mut d, mut b) = (0.0, 0.0);
    for i in 0..n {
        let w = m.next_wire(&v, i as u64 * 50_000, 50_000);
        d += extract(&w.ball.curve, BondKind::Ball).deform_um;
        b += w.ball.ball_diameter_um.unwrap();
    }
    (d / n as f32, b / n as f32)
}

#[test]
fn more_ultrasonic_power_more_deformation_and_a_bigger_ball() {
    let mut r = Recipe::default_au();
    let mut last = (0.0, 0.0);
    for pct in [30.0, 45.0, 60.0, 80.0] {
        r.ball.us_power_pct.0 = pct;
        let (d, b) = ball_stats(&r, 50);
        assert!(
            d > last.0 && b > last.1,
            "at {pct} %: deform {d} ball {b}, before {last:?}"
        );
        last = (d, b);
    }
}

#[test]
fn more_efo_energy_a_bigger_free_air_ball() {
    let mut r = Recipe::default_au();
    let (_, small) = ball_stats(&r, 30);
    r.efo.current_ma.0 = 60.0;
    let (_, big) = ball_stats(&r, 30);
    assert!(big > small * 1.1, "{small} -> {big}");
}

#[test]
fn too_little_ultrasonic_power_gives_nsop_curves() {
    let mut r = Recipe::default_au();
    r.ball.us_power_pct.0 = 4.0;
    let judge = Judge::new(&r);
    let mut m = BondModel::new(5, 0.0);
    let v = values(&r);
    for i in 0..50 {
        let w = m.next_wire(&v, i * 50_000, 50_000);
        assert_eq!(w.ball.ctrl_verdict, 0, "the model injected nothing");
        let j = judge.assess(&w.ball);
        assert_eq!(j.verdict, Verdict::Reject(Defect::Nsop), "{:?}", j.features);
    }
}

#[test]
fn the_verdict_comes_from_the_curve_not_the_controllers_byte() {
    let r = Recipe::default_au();
    let judge = Judge::new(&r);
    let mut m = BondModel::new(9, 0.0);
    let v = values(&r);
    let mut good = m.next_wire(&v, 0, 50_000).ball;
    good.ctrl_verdict = 0x65; // the controller claims NSOP
    assert_eq!(judge.assess(&good).verdict, Verdict::Ok);
    m.force_defect(Defect::Nsop);
    let mut nsop = m.next_wire(&v, 50_000, 50_000).ball;
    nsop.ctrl_verdict = 0; // the controller says nothing
    assert_eq!(judge.assess(&nsop).verdict, Verdict::Reject(Defect::Nsop));
}

#[test]
fn same_seed_same_bonds() {
    let v = values(&Recipe::default_cu());
    let mut a = BondModel::new(42, 0.05);
    let mut b = BondModel::new(42, 0.05);
    for i in 0..100 {
        let (wa, wb) = (
            a.next_wire(&v, i * 1000, 1000),
            b.next_wire(&v, i * 1000, 1000),
        );
        assert_eq!(wa.ball, wb.ball);
        assert_eq!(wa.stitch, wb.stitch);
        assert_eq!(wa.injected, wb.injected);
    }
}

/// Over 2 000 wires of each recipe with 5 % defects: every injected defect is found
/// (curve defects once the envelope is learned) and false rejects stay ≤ 0.5 %.
#[test]
fn judge_finds_injected_defects_with_few_false_rejects() {
    for recipe in [Recipe::default_au(), Recipe::default_cu()] {
        let mut judge = Judge::new(&recipe);
        let v = values(&recipe);
        let mut m = BondModel::new(11, 0.05);
        let (mut false_rejects, mut good, mut missed) = (0, 0, Vec::new());
        for i in 0..2000u64 {
            let w = m.next_wire(&v, i * 50_000, 50_000);
            for bond in [&w.ball, &w.stitch] {
                let learned = judge.envelope(bond.kind).is_some();
                let j = judge.judge(bond);
                let expected = match (w.injected, bond.kind) {
                    (
                        Some(d @ (Defect::Nsop | Defect::BallSize | Defect::Placement)),
                        BondKind::Ball,
                    ) => Some(d),
                    (Some(Defect::Curve), BondKind::Ball) if learned => Some(Defect::Curve),
                    (Some(Defect::Curve), BondKind::Ball) => continue,
                    (Some(d @ (Defect::Nsol | Defect::ShortTail)), BondKind::Stitch) => Some(d),
                    _ => None,
                };
                match expected {
                    Some(d) if j.verdict != Verdict::Reject(d) => missed.push((i, d, j.verdict)),
                    Some(_) => {}
                    None => {
                        good += 1;
                        if !j.verdict.is_ok() {
                            false_rejects += 1;
                        }
                    }
                }
            }
        }
        assert!(missed.is_empty(), "{}: missed {missed:?}", recipe.id());
        assert!(
            false_rejects * 200 <= good,
            "{}: {false_rejects} false rejects of {good}",
            recipe.id()
        );
    }
}
