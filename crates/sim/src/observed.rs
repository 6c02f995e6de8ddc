//! Simulated wires as the station sees them, without the link: each wire of the bond
//! model (under its scenarios) with the station's feature extraction, the heater reading
//! (its drift and the controller's ±1.5 °C swing over 10 minutes of production), the
//! capillary's touchdowns, the injected defect as the judge's verdict, and predicted
//! strength from models fitted on a tested sample (one wire in 50, pull and shear) of the
//! first wires — as the bench tester feeds the station. For the full-length early-warning
//! tests and the screenshots' Process health page: the monitor sees millions of wires in
//! seconds instead of hours.

use crate::model::{BondModel, Wire};
use crate::scenario::Scenario;
use bonder_core::bond::Defect;
use bonder_core::features::extract;
use bonder_core::health::WireObs;
use bonder_core::pull_test::TestKind;
use bonder_core::recipe::{BlockValues, Recipe, parse_block};
use bonder_core::strength::{REGRESSORS, StrengthModel, regressors};

/// The observed run.
#[derive(Debug)]
pub struct Observed {
    pub model: BondModel,
    values: BlockValues,
    train_wires: u64,
    train: [Vec<([f64; REGRESSORS], f64)>; 2],
    models: [Option<StrengthModel>; 2],
    wire: u64,
}

impl Observed {
    /// Wires of `recipe` under `scenarios`, a capillary of `life` touchdowns, strength
    /// models from the first `train_wires`. `None` if the recipe's block does not parse.
    pub fn new(
        recipe: &Recipe,
        scenarios: Vec<Scenario>,
        life: u64,
        seed: u64,
        train_wires: u64,
    ) -> Option<Observed> {
        let values = parse_block(&recipe.to_block()).ok()?;
        let mut model = BondModel::new(seed, 0.002);
        model.drift.capillary_life = life;
        model.scenarios = scenarios;
        Some(Observed {
            model,
            values,
            train_wires,
            train: [Vec::new(), Vec::new()],
            models: [None, None],
            wire: 0,
        })
    }

    /// Whether both strength models are fitted.
    pub fn fitted(&self) -> bool {
        self.models.iter().all(Option::is_some)
    }

    /// The next wire: what the station's monitor takes, and the simulator's wire (its
    /// truth).
    pub fn next_wire(&mut self) -> (WireObs, Wire) {
        let i = self.wire;
        self.wire += 1;
        let swing = 1.5 * (i as f64 * std::f64::consts::TAU / 12_000.0).sin();
        let m = &mut self.model;
        m.drift.heater_offset_c = m.effects().heater_c + swing;
        let heater = m.drift.heater_offset_c;
        let touchdowns = m.drift.touchdowns;
        let w = m.next_wire(&self.values, i * 50_000, 50_000);
        let b = extract(&w.ball.curve, w.ball.kind);
        let s = extract(&w.stitch.curve, w.stitch.kind);
        let x = regressors(&b, &s, f64::from(w.ball.ball_diameter_um.unwrap_or(0.0)));
        if i < self.train_wires && i % 50 == 0 && w.injected.is_none() {
            self.train[0].push((x, w.truth.strength.shear_gf));
            self.train[1].push((x, w.truth.strength.pull_gf));
        }
        if i == self.train_wires {
            self.models = [
                StrengthModel::fit(TestKind::Shear, &self.train[0], 1e-4).ok(),
                StrengthModel::fit(TestKind::Pull, &self.train[1], 1e-4).ok(),
            ];
        }
        let predict = |k: usize| {
            self.models[k].as_ref().map(|md| {
                let p = md.predict(&x);
                (p.gf, p.sd_gf)
            })
        };
        let obs = WireObs {
            time_us: i * 50_000,
            curve: bonder_core::health::curve(&b, &s),
            heater_offset_c: Some(heater),
            touchdowns,
            non_stick: w.injected == Some(Defect::Nsop),
            rejected: w.injected.is_some(),
            shear: predict(0),
            pull: predict(1),
        };
        (obs, w)
    }
}
