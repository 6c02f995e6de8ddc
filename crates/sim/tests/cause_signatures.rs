//! Root-cause signatures against the simulator's physics: for each excursion scenario the
//! bond model makes wires; the evidence (shifts of the station's curve features, the
//! heater reading, the trend with touchdowns, a lot change, the non-stick rate) is
//! assembled from a baseline window and a window inside the excursion, and
//! `bonder_core::cause::rank` must name the scenario's cause first. A stable run names
//! `unknown`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use bonder_core::bond::Defect;
use bonder_core::cause::{Cause, Evidence, rank};
use bonder_core::features::extract;
use bonder_core::recipe::{Recipe, parse_block};
use bondersim::model::BondModel;

#[derive(Default, Clone)]
struct Window {
    us: Vec<f64>,
    bdef: Vec<f64>,
    bimp: Vec<f64>,
    sdef: Vec<f64>,
    simp: Vec<f64>,
    heater: Vec<f64>,
    touchdowns: Vec<f64>,
    nsop: usize,
    lots: Vec<String>,
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn sd(v: &[f64]) -> f64 {
    let m = mean(v);
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len().max(2) - 1) as f64).sqrt()
}

/// Means of subgroups of 50 (as the station charts them).
fn groups(v: &[f64]) -> Vec<f64> {
    v.chunks_exact(50).map(mean).collect()
}

fn corr(a: &[f64], b: &[f64]) -> f64 {
    let (ma, mb) = (mean(a), mean(b));
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let den = (a.iter().map(|x| (x - ma).powi(2)).sum::<f64>()
        * b.iter().map(|y| (y - mb).powi(2)).sum::<f64>())
    .sqrt();
    if den > 0.0 { cov / den } else { 0.0 }
}

/// Wires `from..to` of a run under `scenario` (the heater follows its drift).
fn run(scenario: Option<&str>, life: u64, windows: &[(u64, u64)]) -> Vec<Window> {
    let r = Recipe::default_au();
    let v = parse_block(&r.to_block()).unwrap();
    let mut m = BondModel::new(5, 0.0);
    m.drift.capillary_life = life;
    m.scenarios = scenario.iter().map(|s| s.parse().unwrap()).collect();
    let end = windows.iter().map(|w| w.1).max().unwrap();
    let mut out = vec![Window::default(); windows.len()];
    for i in 0..end {
        m.drift.heater_offset_c = m.effects().heater_c;
        let inside: Vec<usize> = windows
            .iter()
            .enumerate()
            .filter(|(_, w)| (w.0..w.1).contains(&i))
            .map(|(k, _)| k)
            .collect();
        let td = m.drift.touchdowns as f64;
        let heater = m.drift.heater_offset_c;
        let w = m.next_wire(&v, i * 50_000, 50_000);
        if inside.is_empty() {
            continue;
        }
        let (b, s) = (
            extract(&w.ball.curve, w.ball.kind),
            extract(&w.stitch.curve, w.stitch.kind),
        );
        for k in inside {
            let o = &mut out[k];
            if w.injected == Some(Defect::Nsop) {
                o.nsop += 1;
                continue;
            }
            o.us.push(f64::from(b.us_energy_mj));
            o.bdef.push(f64::from(b.deform_um));
            o.bimp.push(f64::from(b.impedance_drop_pct));
            o.sdef.push(f64::from(s.deform_um));
            o.simp.push(f64::from(s.impedance_drop_pct));
            o.heater.push(heater);
            o.touchdowns.push(td);
            o.lots.push(w.truth.lot.clone());
        }
    }
    out
}

/// Evidence of the window `now` against `base`, for a capillary of `life` touchdowns.
fn evidence(base: &Window, now: &Window, life: u64) -> Evidence {
    let z = |b: &[f64], n: &[f64]| (mean(n) - mean(b)) / (sd(b) / (n.len() as f64).sqrt());
    let n = now.us.len() + now.nsop;
    let nb = base.us.len() + base.nsop;
    Evidence {
        us_energy_z: z(&base.us, &now.us),
        ball_deform_z: z(&base.bdef, &now.bdef),
        ball_impedance_drop_z: z(&base.bimp, &now.bimp),
        stitch_deform_z: z(&base.sdef, &now.sdef),
        stitch_impedance_drop_z: z(&base.simp, &now.simp),
        // The heater reading is good to 0.5 °C.
        heater_z: mean(&now.heater) / 0.5,
        touchdown_correlation: corr(&groups(&now.bdef), &groups(&now.touchdowns)),
        // Normal wear takes ≈ 9 % of the deform over a capillary's life: abnormal when the
        // deform fell half as much again for the touchdowns since.
        wear_abnormal: {
            let fell = 1.0 - mean(&now.bdef) / mean(&base.bdef);
            let normal = 0.09 * mean(&now.touchdowns) / life as f64;
            fell > 1.5 * normal + 0.005
        },
        lot_step: now.lots.first() != now.lots.last() || now.lots.first() != base.lots.first(),
        nsop_ratio: (now.nsop as f64 / n as f64) / ((base.nsop as f64 + 1.0) / nb as f64),
    }
}

#[test]
fn each_excursion_is_ranked_to_its_cause_and_a_stable_run_to_none() {
    let cases = [
        (
            Some("us-drift:start=3000,pct_per_100k=20"),
            10_000_000,
            Cause::UltrasonicOutput,
        ),
        (
            Some("capillary-wear:factor=3"),
            60_000,
            Cause::CapillaryWear,
        ),
        (
            Some("heater-drift:start=3000,c_per_100k=-60"),
            10_000_000,
            Cause::Heater,
        ),
        (
            Some("lot-change:at=7000,bondability=0.8"),
            10_000_000,
            Cause::MaterialLot,
        ),
        (
            Some("pad-contamination:at=6000,wires=3000,severity=0.05"),
            10_000_000,
            Cause::Contamination,
        ),
        (None, 10_000_000, Cause::Unknown),
    ];
    for (scenario, life, want) in cases {
        let w = run(scenario, life, &[(0, 3000), (6000, 9000)]);
        let e = evidence(&w[0], &w[1], life);
        let ranked = rank(&e);
        println!(
            "{:>50}: {} ({:.2}), then {} ({:.2})",
            scenario.unwrap_or("stable"),
            ranked[0].0.name(),
            ranked[0].1,
            ranked[1].0.name(),
            ranked[1].1
        );
        assert_eq!(ranked[0].0, want, "{scenario:?}: {e:#?} → {ranked:?}");
    }
}
