//! A process-window search session's pure parts (issue 19): the plan the engineer
//! chose (stored with the session, so a restart continues the same search), one test
//! wire as the station knows it, the statistics of a run, and the predicted process
//! capability (Cpk) at the recommended centre.
//!
//! The maths of the search itself is [`crate::window`]; the station drives the machine.

use crate::bond::{Defect, Verdict};
use crate::recipe::{Param, Recipe};
use crate::window::{self, Bounds, Estimate, Limits, Method, Sample};
use serde_json::{Value, json};

/// What the engineer chose.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub method: Method,
    pub params: Vec<Param>,
    pub bounds: Bounds,
    /// Test units the search may use (whole runs: `units_per_run` each).
    pub budget_units: u32,
    pub units_per_run: u32,
    /// Seed of the initial design (a resumed session must use the same one).
    pub seed: u64,
}

impl Plan {
    /// Runs the budget allows.
    pub fn budget_runs(&self) -> usize {
        (self.budget_units / self.units_per_run.max(1)) as usize
    }

    /// The stored form (`window_sessions.plan`).
    pub fn to_json(&self) -> Value {
        json!({
            "method": self.method.name(),
            "params": self.params.iter().map(|p| p.spec().key).collect::<Vec<_>>(),
            "bounds": self.bounds.0,
            "budget_units": self.budget_units,
            "units_per_run": self.units_per_run,
            "seed": self.seed,
        })
    }

    /// Reads the stored form back.
    pub fn from_json(v: &Value) -> Option<Plan> {
        let params = v["params"]
            .as_array()?
            .iter()
            .map(|p| window::parse_param(p.as_str()?).ok())
            .collect::<Option<Vec<_>>>()?;
        let bounds = v["bounds"]
            .as_array()?
            .iter()
            .map(|b| Some([b[0].as_f64()?, b[1].as_f64()?]))
            .collect::<Option<Vec<_>>>()?;
        if bounds.len() != params.len() {
            return None;
        }
        Some(Plan {
            method: Method::from_name(v["method"].as_str()?)?,
            params,
            bounds: Bounds::new(bounds),
            budget_units: u32::try_from(v["budget_units"].as_u64()?).ok()?,
            units_per_run: u32::try_from(v["units_per_run"].as_u64()?).ok()?,
            seed: v["seed"].as_u64()?,
        })
    }

    /// The candidate recipe of a point of the unit cube: `start` with the varied
    /// parameters set, each rounded to its register step (what the controller takes).
    pub fn candidate(&self, start: &Recipe, at: &[f64]) -> Recipe {
        let mut r = start.clone();
        for (p, v) in self.params.iter().zip(self.bounds.from_unit(at)) {
            window::set(&mut r, *p, round_to_step(*p, v));
        }
        r
    }
}

/// `v` at the register resolution of `p` (0.1 for the window parameters).
pub fn round_to_step(p: Param, v: f64) -> f64 {
    let scale = p.spec().counts_per_unit;
    (v * scale).round() / scale
}

/// One test wire from the station's own records: its ball and stitch verdicts, the
/// ball diameter PR measured, and its strength — a bench test where one was entered
/// (pull or shear, with the failure mode), else the station's predicted strength.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WireSeen {
    pub ball: Option<Verdict>,
    pub stitch: Option<Verdict>,
    pub ball_um: Option<f64>,
    pub pull_gf: Option<f64>,
    pub shear_gf: Option<f64>,
    /// A test found the pad cratered.
    pub cratered: bool,
}

impl WireSeen {
    /// The search's view of it.
    pub fn sample(&self) -> Sample {
        let stuck = |v: Option<Verdict>, d: Defect| v != Some(Verdict::Reject(d));
        Sample {
            non_stick: !(stuck(self.ball, Defect::Nsop) && stuck(self.stitch, Defect::Nsol)),
            ball_um: self.ball_um,
            pull_gf: self.pull_gf,
            shear_gf: self.shear_gf,
            cratered: self.cratered,
        }
    }
}

/// Mean, standard deviation and count of a characteristic in one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    pub mean: f64,
    pub sd: f64,
    pub n: usize,
}

/// The run's shear, pull and ball-diameter statistics (what its margins were made of).
pub fn run_stats(samples: &[Sample]) -> [Option<Stat>; 3] {
    let stat = |v: Vec<f64>| -> Option<Stat> {
        if v.len() < 2 {
            return None;
        }
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        Some(Stat {
            mean,
            sd,
            n: v.len(),
        })
    };
    let strength = |f: fn(&Sample) -> Option<f64>| {
        samples
            .iter()
            .filter_map(|s| if s.non_stick { Some(0.0) } else { f(s) })
            .collect::<Vec<_>>()
    };
    [
        stat(strength(|s| s.shear_gf)),
        stat(strength(|s| s.pull_gf)),
        stat(
            samples
                .iter()
                .filter(|s| !s.non_stick)
                .filter_map(|s| s.ball_um)
                .collect(),
        ),
    ]
}

/// Predicted Cpk at the estimate's centre of shear, pull and ball diameter: the
/// modelled margin there gives the mean (a margin `m` is `(mean − 3σ − LSL)/LSL`), the
/// scatter is the pooled standard deviation of the runs inside the estimated box (all
/// runs when none is): `Cpk = 1 + m · scale / 3σ`. `None` where no run measured it.
pub fn predicted_cpk(
    e: &Estimate,
    runs: &[(Vec<f64>, [Option<Stat>; 3])],
    lim: &Limits,
) -> [Option<f64>; 3] {
    let ub = e.unit_box();
    let inside = |at: &[f64]| {
        at.iter()
            .zip(&ub)
            .all(|(x, [lo, hi])| *lo <= *x && *x <= *hi)
    };
    let pooled = |k: usize, only_inside: bool| -> Option<f64> {
        let (mut ss, mut df) = (0.0, 0.0);
        for (at, st) in runs {
            if only_inside && !inside(at) {
                continue;
            }
            if let Some(s) = st[k] {
                ss += s.sd * s.sd * (s.n as f64 - 1.0);
                df += s.n as f64 - 1.0;
            }
        }
        (df > 0.0).then(|| (ss / df).sqrt())
    };
    let sd = |k: usize| pooled(k, true).or_else(|| pooled(k, false));
    let m = |i: usize| e.at_centre.get(i).map(|x| x.0);
    let half = (lim.ball_um[1] - lim.ball_um[0]) / 2.0;
    let cpk = |margin: Option<f64>, scale: f64, s: Option<f64>| -> Option<f64> {
        let (margin, s) = (margin?, s?);
        (s > 0.0).then(|| 1.0 + margin * scale / (3.0 * s))
    };
    let ball_margin = match (m(2), m(3)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        _ => None,
    };
    [
        cpk(m(0), lim.shear_min_gf, sd(0)),
        cpk(m(1), lim.pull_min_gf, sd(1)),
        cpk(ball_margin, half, sd(2)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            method: Method::Bo,
            params: vec![Param::BallUsPower, Param::HeaterTemp],
            bounds: Bounds::new(vec![[30.0, 100.0], [150.0, 260.0]]),
            budget_units: 120,
            units_per_run: 4,
            seed: 7,
        }
    }

    #[test]
    fn a_plan_survives_its_stored_form_and_makes_register_exact_candidates() {
        let p = plan();
        assert_eq!(Plan::from_json(&p.to_json()), Some(p.clone()));
        assert_eq!(p.budget_runs(), 30);
        let mut broken = p.to_json();
        broken["method"] = "simplex".into();
        assert_eq!(Plan::from_json(&broken), None);
        let c = p.candidate(&Recipe::default_au(), &[0.123_456, 1.0]);
        assert_eq!(c.ball.us_power_pct.0, 38.6);
        assert_eq!(c.heater_temp_c.0, 260.0);
        assert_eq!(c.ball.force_gf, Recipe::default_au().ball.force_gf);
    }

    #[test]
    fn a_wire_that_did_not_stick_is_a_non_stick_sample() {
        let ok = WireSeen {
            ball: Some(Verdict::Ok),
            stitch: Some(Verdict::Ok),
            ball_um: Some(48.0),
            ..WireSeen::default()
        };
        assert!(!ok.sample().non_stick);
        // A ball-size reject is measured, not a non-stick.
        let big = WireSeen {
            ball: Some(Verdict::Reject(Defect::BallSize)),
            ..ok
        };
        assert!(!big.sample().non_stick);
        let nsol = WireSeen {
            stitch: Some(Verdict::Reject(Defect::Nsol)),
            ..ok
        };
        assert!(nsol.sample().non_stick);
    }

    #[test]
    fn predicted_cpk_follows_the_margin_and_the_scatter() {
        let lim = Limits {
            pull_min_gf: 3.0,
            shear_min_gf: 12.0,
            ball_um: [44.0, 52.0],
        };
        let e = Estimate {
            centre: vec![0.5],
            half: vec![0.2],
            margin: 0.2,
            // Shear margin 0.25 of 12 gf = 3 gf above mean − 3σ.
            at_centre: vec![(0.25, 0.0), (0.5, 0.0), (0.5, 0.0), (0.6, 0.0), (1.0, 0.0)],
        };
        let s = |sd: f64| {
            Some(Stat {
                mean: 0.0,
                sd,
                n: 5,
            })
        };
        let runs = vec![
            (vec![0.5], [s(1.0), s(0.5), s(0.5)]),
            // Outside the box: not pooled.
            (vec![0.95], [s(9.0), s(9.0), s(9.0)]),
        ];
        let c = predicted_cpk(&e, &runs, &lim);
        assert!((c[0].unwrap_or(0.0) - 2.0).abs() < 1e-9, "{c:?}");
        assert!((c[1].unwrap_or(0.0) - 2.0).abs() < 1e-9, "{c:?}");
        // Ball: the smaller margin (0.5 of the 4 µm half-span = 2 µm), σ 0.5 µm.
        assert!(
            (c[2].unwrap_or(0.0) - (1.0 + 2.0 / 1.5)).abs() < 1e-9,
            "{c:?}"
        );
        assert_eq!(predicted_cpk(&e, &[], &lim), [None, None, None]);
    }
}
