//! The strength models on the station: fitted from the store's test results joined to
//! their bonds, refitted as new results arrive (after every import), every fitted
//! version kept in the store (`strength_models`), and scored honestly by 5-fold
//! cross-validation (`bonder-station strength fit` prints it).

use bonder_core::pull_test::TestKind;
use bonder_core::strength::{MIN_FIT, StrengthModel, score};
use bonder_store::{Store, StoreError};
use serde::Serialize;
use time::OffsetDateTime;

/// Ridge on the standardised regressors.
const LAMBDA: f64 = 1e-4;

/// New results needed before a model is refitted.
pub const REFIT_AFTER: usize = 10;

/// What a fit did for one test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FitReport {
    pub test: &'static str,
    /// The stored version, if a model was fitted now.
    pub version: Option<i64>,
    /// Tested wires joined to their bonds.
    pub results: usize,
    pub r2_fit: Option<f64>,
    pub sigma_gf: Option<f64>,
    /// 5-fold cross-validated R² and mean absolute error, gf.
    pub cv_r2: Option<f64>,
    pub cv_mae_gf: Option<f64>,
    /// Why nothing was fitted.
    pub skipped: Option<String>,
}

/// Fits the tests that have at least `min_new` results beyond their newest model (`0`:
/// every test, now), keeps each new version in the store.
pub fn refit(store: &Store, min_new: usize) -> Result<Vec<FitReport>, StoreError> {
    let mut out = Vec::new();
    for test in [TestKind::Shear, TestKind::Pull] {
        let rows = store.strength_training(test)?;
        let last = store.latest_strength_model(test)?;
        let newer = rows
            .iter()
            .filter(|r| last.as_ref().is_none_or(|m| r.result_id > m.last_result_id))
            .count();
        let mut rep = FitReport {
            test: test.name(),
            version: None,
            results: rows.len(),
            r2_fit: None,
            sigma_gf: None,
            cv_r2: None,
            cv_mae_gf: None,
            skipped: None,
        };
        if min_new > 0 && newer < min_new {
            rep.skipped = Some(format!("{newer} new results (refit after {min_new})"));
            out.push(rep);
            continue;
        }
        let data: Vec<_> = rows.iter().map(|r| (r.x, r.gf)).collect();
        match StrengthModel::fit(test, &data, LAMBDA) {
            Ok(m) => {
                let last_id = rows.iter().map(|r| r.result_id).max().unwrap_or(0);
                rep.version =
                    Some(store.save_strength_model(&m, last_id, OffsetDateTime::now_utc())?);
                rep.r2_fit = Some(m.r2_fit);
                rep.sigma_gf = Some(m.sigma);
                if let Some((r2, mae)) = cross_validate(test, &data) {
                    rep.cv_r2 = Some(r2);
                    rep.cv_mae_gf = Some(mae);
                }
                tracing::info!(
                    test = test.name(),
                    version = rep.version,
                    results = rows.len(),
                    r2_fit = m.r2_fit,
                    "strength model fitted"
                );
            }
            Err(e) => rep.skipped = Some(e.to_string()),
        }
        out.push(rep);
    }
    Ok(out)
}

/// 5-fold cross-validation (folds by position): R² and MAE of the held-out predictions.
fn cross_validate(
    test: TestKind,
    data: &[([f64; bonder_core::strength::REGRESSORS], f64)],
) -> Option<(f64, f64)> {
    const K: usize = 5;
    if data.len() < K * MIN_FIT / (K - 1) + K {
        return None;
    }
    let mut pairs = Vec::with_capacity(data.len());
    for fold in 0..K {
        let train: Vec<_> = data
            .iter()
            .enumerate()
            .filter(|(i, _)| i % K != fold)
            .map(|(_, d)| *d)
            .collect();
        let m = StrengthModel::fit(test, &train, LAMBDA).ok()?;
        pairs.extend(
            data.iter()
                .enumerate()
                .filter(|(i, _)| i % K == fold)
                .map(|(_, (x, y))| (m.predict(x).gf, *y)),
        );
    }
    Some(score(&pairs))
}

/// The wire's predicted strength from the newest stored models, made when its stitch
/// arrives (the store's sink pairs it with its ball), for `bond_predictions`.
#[derive(Debug, Default)]
pub struct Predictor {
    models: std::sync::RwLock<[Option<bonder_store::StoredModel>; 2]>,
}

impl Predictor {
    /// Reads the newest models of the store (none yet: no predictions).
    pub fn reload(&self, store: &Store) -> Result<(), StoreError> {
        let shear = store.latest_strength_model(TestKind::Shear)?;
        let pull = store.latest_strength_model(TestKind::Pull)?;
        if let Ok(mut m) = self.models.write() {
            *m = [shear, pull];
        }
        Ok(())
    }

    /// The prediction for the wire of `ball` and `stitch` (when a model exists), keyed by
    /// the ball bond.
    pub fn predict(
        &self,
        ball: &bonder_runtime::JudgedBond,
        stitch: &bonder_runtime::JudgedBond,
    ) -> Option<bonder_store::BondPrediction> {
        let models = self.models.read().ok()?;
        if models.iter().all(Option::is_none) {
            return None;
        }
        let x = bonder_core::strength::regressors(
            &ball.judgement.features,
            &stitch.judgement.features,
            f64::from(ball.event.ball_diameter_um.unwrap_or(0.0)),
        );
        let predict = |m: &Option<bonder_store::StoredModel>| {
            m.as_ref().map(|m| {
                let p = m.model.predict(&x);
                (p.gf, p.sd_gf, m.id)
            })
        };
        Some(bonder_store::BondPrediction {
            seq: ball.seq,
            shear: predict(&models[0]),
            pull: predict(&models[1]),
        })
    }
}
