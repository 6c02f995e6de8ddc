//! The process window: where in (US power, force, time, heater) a material's bonds are in
//! spec, and the simulator's truth about it (`bondersim --print-window`).
//!
//! The bond model's weld energy `E = power·time·√force` would make every parameter a
//! stand-in for the others (one iso-energy slab, no centre). Real bonds are not like
//! that, and neither are the simulator's ([`Levers`]):
//! * **force** couples the ultrasound into the ball: too little and the capillary slips,
//!   too much and it clamps the ball so it cannot scrub (a bell around the material's
//!   best force); more force also squashes the ball wider;
//! * **time** gives the weld its time to grow (a saturating term): short bonds stay
//!   partial whatever the power; long bonds fatigue the weld under continued scrub
//!   (over-bonding) and squash the ball further;
//! * **US power** softens the ball (wider) and, with force, loads the pad (cratering
//!   follows the amplitude and the force, not the time);
//! * **heater**: the weld needs heat (an activation term, little below ~100 °C), and a
//!   hot lead frame oxidises so the stitch no longer holds (copper frames sooner than
//!   gold-plated ones).
//!
//! Each term is the material's curve divided by its value at the material's reference
//! point (the built-in recipe of that material), so the built-in recipes bond exactly
//! as before; away from it the window has edges in every parameter, and a centre.
//!
//! **In spec, for a window** (deterministic, from the noiseless model): every
//! characteristic at Cpk ≥ 1 against its limit — shear and pull (each failure link) at
//! mean − 3σ of their scatter above the minimums, the ball diameter 3σ inside its limits
//! — and the pad's cratering probability ≤ 0.1 %. [`margins`] gives each as a share of
//! its limit (≥ 0 is in spec). The window's **box** is the largest-volume axis-aligned
//! box that lies wholly inside the region (the varied parameters together, the others
//! at the recipe's), its **centre** that box's centre ([`bonder_core::window`]).

use crate::model::Drift;
use crate::strength::{CV_HEEL, CV_LIFT, CV_NECK, CV_SHEAR, crater_limit, links};
use bonder_core::recipe::{BlockValues, BondSettings, Param, Recipe, WireMaterial};
use bonder_core::window::{self, Bounds};

/// The reference point and shape constants of a material's window terms.
#[derive(Debug, Clone, Copy)]
struct Shape {
    ball: BondSettings,
    stitch: BondSettings,
    heater_c: f64,
    /// Force of the best coupling, over the reference force (ball, stitch).
    best_force: [f64; 2],
    /// Weld growth time constant, ms (ball, stitch).
    tau_ms: [f64; 2],
    /// Over-bonding: the weld's fatigue time constant under continued scrub, ms.
    fatigue_ms: [f64; 2],
    /// How sharply the coupling falls away from the best force (the bell's power).
    sharpness: f64,
    /// Activation: no weld at or below this, °C; e-folding width, °C.
    activation_c: f64,
    activation_width_c: f64,
    /// Lead-frame oxidation: half the stitch weld lost at this temperature, °C; width.
    oxidation_c: f64,
    oxidation_width_c: f64,
}

fn shape(m: WireMaterial) -> Shape {
    let au = Recipe::default_au();
    let cu = Recipe::default_cu();
    match m {
        WireMaterial::Au | WireMaterial::Ag => Shape {
            ball: au.ball,
            stitch: au.stitch,
            heater_c: au.heater_temp_c.0,
            best_force: [1.25, 1.2],
            tau_ms: [3.0, 4.0],
            fatigue_ms: [12.0, 16.0],
            sharpness: 3.0,
            activation_c: 80.0,
            activation_width_c: 55.0,
            oxidation_c: 248.0,
            oxidation_width_c: 7.0,
        },
        WireMaterial::Cu | WireMaterial::PdCu => Shape {
            ball: cu.ball,
            stitch: cu.stitch,
            heater_c: cu.heater_temp_c.0,
            best_force: [1.15, 1.1],
            tau_ms: [3.5, 4.5],
            fatigue_ms: [9.0, 12.0],
            sharpness: 4.0,
            activation_c: 120.0,
            activation_width_c: 45.0,
            oxidation_c: 238.0,
            oxidation_width_c: 5.0,
        },
    }
}

/// What the recipe's window parameters do to a wire, each 1 at the material's
/// reference point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Levers {
    /// Ultrasonic coupling of the ball (force) × the ball's weld time term.
    pub ball_weld: f64,
    /// The same for the stitch.
    pub stitch_weld: f64,
    /// The heat the weld gets (both bonds).
    pub heat: f64,
    /// The lead frame's bondability at the heater temperature (stitch).
    pub oxidation: f64,
    /// The ball's squash (power, force, time).
    pub squash: f64,
    /// The pad's load over the weld energy's (cratering follows the power and force,
    /// not the time).
    pub pad_load: f64,
}

/// 1 at x = 1, falling either side: `(x·e^(1−x))^k`.
fn bell(x: f64, k: f64) -> f64 {
    (x.max(0.0) * (1.0 - x).exp()).powf(k)
}

fn ratio(f: impl Fn(f64) -> f64, x: f64, reference: f64) -> f64 {
    if x == reference {
        1.0
    } else {
        f(x) / f(reference)
    }
}

/// The window terms of a recipe block.
pub fn levers(r: &BlockValues) -> Levers {
    let s = shape(r.material);
    let coupling = |f: f64, reference: f64, best: f64| {
        ratio(|x| bell(x / (best * reference), s.sharpness), f, reference)
    };
    let growth = |t: f64, reference: f64, tau: f64, fatigue: f64| {
        ratio(
            |x| (1.0 - (-x.max(0.0) / tau).exp()) * (-x / fatigue).exp(),
            t,
            reference,
        )
    };
    let ball_weld = coupling(r.ball.force_gf.0, s.ball.force_gf.0, s.best_force[0])
        * growth(
            r.ball.time_ms.0,
            s.ball.time_ms.0,
            s.tau_ms[0],
            s.fatigue_ms[0],
        );
    let stitch_weld = coupling(r.stitch.force_gf.0, s.stitch.force_gf.0, s.best_force[1])
        * growth(
            r.stitch.time_ms.0,
            s.stitch.time_ms.0,
            s.tau_ms[1],
            s.fatigue_ms[1],
        );
    let heat = ratio(
        |t| 1.0 - (-(t - s.activation_c).max(0.0) / s.activation_width_c).exp(),
        r.heater_temp_c,
        s.heater_c,
    );
    let oxidation = ratio(
        |t| 1.0 / (1.0 + ((t - s.oxidation_c) / s.oxidation_width_c).exp()),
        r.heater_temp_c,
        s.heater_c,
    );
    let rel = |x: f64, reference: f64| if x == reference { 1.0 } else { x / reference };
    let squash = rel(r.ball.us_power_pct.0, s.ball.us_power_pct.0)
        .max(0.0)
        .powf(0.3)
        * rel(r.ball.force_gf.0, s.ball.force_gf.0).max(0.0).powf(0.5)
        * rel(r.ball.time_ms.0, s.ball.time_ms.0).max(0.0).powf(0.15);
    // The pad cracks under the ultrasonic amplitude and the force, not the time: the
    // crater index is (P/P₀)²·√(F/F₀) × the reference's energy ratio, i.e. the energy
    // ratio × (P/P₀)·(t₀/t).
    let pad_load = rel(r.ball.us_power_pct.0, s.ball.us_power_pct.0)
        * rel(s.ball.time_ms.0, r.ball.time_ms.0.max(1e-3));
    Levers {
        ball_weld,
        stitch_weld,
        heat,
        oxidation,
        squash,
        pad_load,
    }
}

pub use bonder_core::window::{
    Limits, WINDOW_PARAMS, WindowArgError, built_in, get, limits_of, parse_param, parse_params,
    parse_wire, recipe_range, set,
};

/// The characteristics a window is made of, in [`margins`]' order (the station's).
pub use bonder_core::window::CHARACTERISTICS;

/// The scatter of the bonded ball's diameter (1 σ, µm): the model's.
pub const BALL_SIGMA_UM: f64 = 0.5;

/// Each characteristic's margin as a share of its limit (≥ 0: in spec), for a new
/// capillary at the set heater temperature, noiseless.
pub fn margins(r: &BlockValues, lim: &Limits) -> [f64; 5] {
    let e = crate::model::expected(r, &Drift::default());
    let l = links(&e);
    let shear = l.shear * (1.0 - 3.0 * CV_SHEAR) / lim.shear_min_gf - 1.0;
    let lift_cv = (CV_SHEAR * CV_SHEAR + CV_LIFT * CV_LIFT).sqrt();
    let pull = [
        l.ball_lift * (1.0 - 3.0 * lift_cv),
        l.neck * (1.0 - 3.0 * CV_NECK),
        l.heel * (1.0 - 3.0 * CV_HEEL),
        l.stitch_lift * (1.0 - 3.0 * CV_LIFT),
    ]
    .into_iter()
    .fold(f64::INFINITY, f64::min)
        / lim.pull_min_gf
        - 1.0;
    let half = (lim.ball_um[1] - lim.ball_um[0]) / 2.0;
    let small = (e.ball_um - 3.0 * BALL_SIGMA_UM - lim.ball_um[0]) / half;
    let large = (lim.ball_um[1] - e.ball_um - 3.0 * BALL_SIGMA_UM) / half;
    let limit = crater_limit(e.material, 0.001);
    let crater = 1.0 - e.ball_energy_ratio / limit;
    [shear, pull, small, large, crater]
}

/// A test bench on the simulator's bond model: bonds `units` units of a candidate
/// recipe (through the controller's registers, so at their 0.1 steps), and gives each
/// wire as the station would know it — its verdict, the ball diameter of the stream and
/// the pull and shear a bench tester would find (every wire pulled, its ball sheared).
#[derive(Debug, Clone)]
pub struct Bench {
    model: crate::model::BondModel,
    time_us: u64,
    pub wires: u64,
}

impl Bench {
    pub fn new(seed: u64) -> Bench {
        Bench {
            model: crate::model::BondModel::new(seed, 0.0),
            time_us: 0,
            wires: 0,
        }
    }

    /// Bonds and tests `units` units of `r`.
    pub fn run(&mut self, r: &Recipe, units: u32) -> Vec<bonder_core::window::Sample> {
        let Ok(v) = bonder_core::recipe::parse_block(&r.to_block()) else {
            return Vec::new();
        };
        let n = units * u32::from(v.wires_per_unit.max(1));
        (0..n)
            .map(|_| {
                self.time_us += 100_000;
                self.wires += 1;
                let w = self.model.next_wire(&v, self.time_us, 100_000);
                let non_stick = w.ball.ctrl_verdict != 0 || w.stitch.ctrl_verdict != 0;
                let st = w.truth.strength;
                bonder_core::window::Sample {
                    non_stick,
                    ball_um: w.ball.ball_diameter_um.map(f64::from),
                    pull_gf: (!non_stick).then_some(st.pull_gf),
                    shear_gf: (!non_stick).then_some(st.shear_gf),
                    cratered: st.cratered,
                }
            })
            .collect()
    }
}

/// What a search on the [`Bench`] found (in engineering units).
#[derive(Debug, Clone, PartialEq)]
pub struct BenchOutcome {
    /// Units bonded and tested, and their wires.
    pub units: u32,
    pub wires: u64,
    pub runs: usize,
    /// Runs whose every margin was ≥ 0.
    pub in_spec_runs: usize,
    pub centre: Vec<f64>,
    /// `[lo, hi]` per parameter.
    pub bbox: Vec<[f64; 2]>,
    /// The estimate's smallest margin at its centre.
    pub margin: f64,
}

impl BenchOutcome {
    /// (worst centre error over the true half-width, per parameter; IoU with the truth).
    pub fn accuracy(&self, t: &Truth) -> (Vec<f64>, f64) {
        let err = self
            .centre
            .iter()
            .zip(&t.centre)
            .zip(&t.bounds)
            .map(|((c, tc), [lo, hi])| (c - tc).abs() / ((hi - lo) / 2.0))
            .collect();
        (err, window::iou(&self.bbox, &t.bounds))
    }
}

/// The engineer's bounds of the bench's tests and figures for a wire (the four
/// ball-side parameters, inside the recipe ranges, around the true window).
pub fn bench_bounds(m: WireMaterial) -> Bounds {
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

/// A whole session on the [`Bench`]: `params` of `recipe` varied within `bounds`,
/// `units_per_run` units per candidate until `budget_units` are used, then the
/// estimate (`None`: nothing could be estimated).
pub fn bench_search(
    recipe: &Recipe,
    params: &[Param],
    bounds: &Bounds,
    method: window::Method,
    budget_units: u32,
    units_per_run: u32,
    seed: u64,
) -> Option<BenchOutcome> {
    let lim = limits_of(recipe);
    let mut bench = Bench::new(seed);
    let mut runs: Vec<window::Run> = Vec::new();
    let budget_runs = (budget_units / units_per_run.max(1)) as usize;
    while runs.len() < budget_runs {
        let pts = window::next_points(method, bounds.dim(), &runs, seed);
        if pts.is_empty() {
            break;
        }
        for u in pts.into_iter().take(budget_runs - runs.len()) {
            let mut r = recipe.clone();
            for (p, v) in params.iter().zip(bounds.from_unit(&u)) {
                set(&mut r, *p, v);
            }
            let samples = bench.run(&r, units_per_run);
            runs.push(window::Run {
                at: u,
                margins: window::measured_margins(&samples, &lim).to_vec(),
            });
        }
    }
    let e = window::estimate(method, &runs)?;
    let ub = e.unit_box();
    let lo = bounds.from_unit(&ub.iter().map(|x| x[0]).collect::<Vec<_>>());
    let hi = bounds.from_unit(&ub.iter().map(|x| x[1]).collect::<Vec<_>>());
    Some(BenchOutcome {
        units: runs.len() as u32 * units_per_run,
        wires: bench.wires,
        runs: runs.len(),
        in_spec_runs: runs
            .iter()
            .filter(|r| r.margins.iter().all(|m| *m >= 0.0))
            .count(),
        centre: bounds.from_unit(&e.centre),
        bbox: lo.into_iter().zip(hi).map(|(a, b)| [a, b]).collect(),
        margin: e.margin,
    })
}

/// The truth of a window: its centre and box over `params` of `recipe`.
#[derive(Debug, Clone, PartialEq)]
pub struct Truth {
    pub params: Vec<Param>,
    pub centre: Vec<f64>,
    /// `[lo, hi]` per parameter.
    pub bounds: Vec<[f64; 2]>,
    /// The smallest margin at the centre.
    pub margin: f64,
}

impl Truth {
    /// The JSON of `--print-window`: `{"centre": {..}, "box": {..}, "margin"}` with the
    /// parameters' document keys (`ball.us_power_pct`).
    pub fn to_json(&self) -> serde_json::Value {
        let mut centre = serde_json::Map::new();
        let mut b = serde_json::Map::new();
        for (i, p) in self.params.iter().enumerate() {
            centre.insert(p.spec().key.into(), round4(self.centre[i]).into());
            b.insert(
                p.spec().key.into(),
                serde_json::json!([round4(self.bounds[i][0]), round4(self.bounds[i][1])]),
            );
        }
        serde_json::json!({"centre": centre, "box": b, "margin": round4(self.margin)})
    }
}

fn round4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

/// A recipe's block values as the controller would take them, unrounded (the window's
/// truth is continuous; the registers' 0.1 steps are the controller's business).
pub fn values(r: &Recipe) -> BlockValues {
    BlockValues {
        slot: r.slot,
        material: r.wire.material,
        wire_diameter_um: r.wire.diameter_um.0,
        heater_temp_c: r.heater_temp_c.0,
        efo_current_ma: r.efo.current_ma.0,
        efo_time_us: f64::from(r.efo.time_us.0),
        fab_target_um: r.efo.fab_target_um.0,
        ball: r.ball,
        stitch: r.stitch,
        loop_height_um: f64::from(r.loop_height_um.0),
        wires_per_unit: r.wires_per_unit,
        forming_gas_l_min: r.forming_gas_l_min.0,
    }
}

/// The true window of `recipe` over `params` (the others at the recipe's values),
/// searched within `bounds` (the recipe ranges when `None`).
pub fn truth(recipe: &Recipe, params: &[Param], bounds: Option<&Bounds>) -> Truth {
    let lim = limits_of(recipe);
    let default_bounds;
    let bounds = match bounds {
        Some(b) => b,
        None => {
            default_bounds = Bounds::new(params.iter().map(|&p| recipe_range(p)).collect());
            &default_bounds
        }
    };
    let eval = |x: &[f64]| -> [f64; 5] {
        let mut r = recipe.clone();
        for (i, &p) in params.iter().enumerate() {
            set(&mut r, p, x[i]);
        }
        margins(&values(&r), &lim)
    };
    let objective = |u: &[f64]| -> f64 {
        let m = eval(&bounds.from_unit(u));
        m.into_iter().fold(f64::INFINITY, f64::min)
    };
    let start = bounds.to_unit(&params.iter().map(|&p| get(recipe, p)).collect::<Vec<_>>());
    let (best, _) = window::maximise(&objective, params.len(), &[start]);
    let (u, half) = window::widest_centre(&best, &|v: &[f64]| objective(v) >= 0.0);
    let margin = objective(&u);
    let centre = bounds.from_unit(&u);
    let lo = bounds.from_unit(&u.iter().zip(&half).map(|(c, h)| c - h).collect::<Vec<_>>());
    let hi = bounds.from_unit(&u.iter().zip(&half).map(|(c, h)| c + h).collect::<Vec<_>>());
    Truth {
        params: params.to_vec(),
        centre,
        bounds: lo.into_iter().zip(hi).map(|(a, b)| [a, b]).collect(),
        margin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_levers_are_one_at_the_reference_and_bend_away_from_it() {
        for r in [Recipe::default_au(), Recipe::default_cu()] {
            let l = levers(&values(&r));
            assert_eq!(
                (
                    l.ball_weld,
                    l.stitch_weld,
                    l.heat,
                    l.oxidation,
                    l.squash,
                    l.pad_load
                ),
                (1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
                "{}",
                r.name
            );
            let mut hot = r.clone();
            set(&mut hot, Param::HeaterTemp, 270.0);
            assert!(levers(&values(&hot)).oxidation < 0.2, "{}", r.name);
            let mut heavy = r.clone();
            set(
                &mut heavy,
                Param::BallForce,
                get(&r, Param::BallForce) * 3.0,
            );
            assert!(levers(&values(&heavy)).ball_weld < 0.5, "{}", r.name);
        }
    }

    #[test]
    fn wires_and_params_parse_with_bilingual_errors() {
        assert_eq!(parse_wire("cu:20").unwrap().0, WireMaterial::Cu);
        assert_eq!(parse_wire("Au:25.4").unwrap().1, 25.4);
        let e = parse_wire("Zn:20").unwrap_err().to_string();
        assert!(
            e.contains("MATERIAL:DIAMETER_UM") && e.contains("材料"),
            "{e}"
        );
        assert_eq!(
            parse_param("ball_us_power_pct").unwrap(),
            Param::BallUsPower
        );
        assert_eq!(parse_param("heater_temp_c").unwrap(), Param::HeaterTemp);
        assert!(
            parse_param("loop_height_um")
                .unwrap_err()
                .to_string()
                .contains("工艺窗口")
        );
    }
}
