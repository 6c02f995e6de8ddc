//! Predicted strength (virtual metrology): a wire's pull and shear strength from its
//! bonds' curve features, fitted on the wires a bench tester measured.
//!
//! The model is a ridge regression on standardised regressors chosen from the bond's
//! physics: the ball's weld shows in its impedance drop and Z sink, and the shear force
//! is the weld's strength times the welded area, so the products of the weld signals with
//! the ball's area are regressors too; the pull adds the stitch's weld signals and its
//! tail. A prediction carries its standard uncertainty (residual scatter and the
//! estimate's own, `σ·√(1 + xᵀ(XᵀX + λI)⁻¹x)`). Pure: the station fits it from its store
//! and keeps each fitted version there.

use crate::features::Features;
use crate::pull_test::TestKind;

/// Regressors of one wire.
pub const REGRESSORS: usize = 10;

/// The names of the regressors, in order (for the model's record).
pub const REGRESSOR_NAMES: [&str; REGRESSORS] = [
    "ball_impedance_drop_pct",
    "ball_deform_um",
    "ball_diameter_um",
    "ball_area_x_impedance_drop",
    "ball_area_x_deform",
    "ball_us_energy_mj",
    "ball_peak_force_gf",
    "stitch_impedance_drop_pct",
    "stitch_deform_um",
    "stitch_tail_um",
];

/// The regressors of a wire from its ball and stitch features and the ball's diameter.
pub fn regressors(ball: &Features, stitch: &Features, ball_um: f64) -> [f64; REGRESSORS] {
    let area = std::f64::consts::PI * ball_um * ball_um / 4.0 / 1000.0;
    let imp = f64::from(ball.impedance_drop_pct);
    let def = f64::from(ball.deform_um);
    [
        imp,
        def,
        ball_um,
        area * imp,
        area * def,
        f64::from(ball.us_energy_mj),
        f64::from(ball.peak_force_gf),
        f64::from(stitch.impedance_drop_pct),
        f64::from(stitch.deform_um),
        f64::from(stitch.tail_um.unwrap_or(0.0)),
    ]
}

/// A predicted strength.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    pub gf: f64,
    /// Standard uncertainty, gf.
    pub sd_gf: f64,
}

/// A fitted model for one test (pull or shear).
#[derive(Debug, Clone, PartialEq)]
pub struct StrengthModel {
    pub test: TestKind,
    /// Wires it was fitted on.
    pub n: usize,
    mean: [f64; REGRESSORS],
    scale: [f64; REGRESSORS],
    intercept: f64,
    coef: [f64; REGRESSORS],
    /// (ZᵀZ + λI)⁻¹ of the standardised regressors, row-major.
    cov: Vec<f64>,
    /// Residual standard deviation, gf.
    pub sigma: f64,
    /// R² on the fitting data.
    pub r2_fit: f64,
}

/// Why a model could not be fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FitError {
    #[error(
        "{have} tested wires, at least {need} needed / 测试数据不足：{have} 条，至少需要 {need} 条"
    )]
    TooFew { have: usize, need: usize },
    #[error("the regressors are degenerate / 回归量退化")]
    Singular,
}

/// The fewest tested wires a model is fitted on.
pub const MIN_FIT: usize = 3 * REGRESSORS;

impl StrengthModel {
    /// Fits on `(regressors, measured gf)` with ridge `lambda` (on standardised
    /// regressors; 1e-3 is a light touch).
    pub fn fit(
        test: TestKind,
        data: &[([f64; REGRESSORS], f64)],
        lambda: f64,
    ) -> Result<StrengthModel, FitError> {
        let n = data.len();
        if n < MIN_FIT {
            return Err(FitError::TooFew {
                have: n,
                need: MIN_FIT,
            });
        }
        let nf = n as f64;
        let mut mean = [0.0; REGRESSORS];
        for (x, _) in data {
            for k in 0..REGRESSORS {
                mean[k] += x[k] / nf;
            }
        }
        let mut scale = [0.0; REGRESSORS];
        for (x, _) in data {
            for k in 0..REGRESSORS {
                scale[k] += (x[k] - mean[k]).powi(2) / nf;
            }
        }
        for s in &mut scale {
            *s = if *s > 1e-18 { s.sqrt() } else { 1.0 };
        }
        let y_mean = data.iter().map(|(_, y)| y).sum::<f64>() / nf;
        let z = |x: &[f64; REGRESSORS]| -> [f64; REGRESSORS] {
            std::array::from_fn(|k| (x[k] - mean[k]) / scale[k])
        };
        // Normal equations (ZᵀZ + λ n I) β = Zᵀ(y − ȳ).
        let p = REGRESSORS;
        let mut a = vec![0.0; p * p];
        let mut b = vec![0.0; p];
        for (x, y) in data {
            let zx = z(x);
            for i in 0..p {
                b[i] += zx[i] * (y - y_mean);
                for j in 0..p {
                    a[i * p + j] += zx[i] * zx[j];
                }
            }
        }
        for i in 0..p {
            a[i * p + i] += lambda * nf;
        }
        let cov = invert(&a, p).ok_or(FitError::Singular)?;
        let mut coef = [0.0; REGRESSORS];
        for i in 0..p {
            coef[i] = (0..p).map(|j| cov[i * p + j] * b[j]).sum();
        }
        let mut m = StrengthModel {
            test,
            n,
            mean,
            scale,
            intercept: y_mean,
            coef,
            cov,
            sigma: 0.0,
            r2_fit: 0.0,
        };
        let (mut ss_res, mut ss_tot) = (0.0, 0.0);
        for (x, y) in data {
            ss_res += (y - m.mean_of(x)).powi(2);
            ss_tot += (y - y_mean).powi(2);
        }
        let dof = (n - p - 1).max(1) as f64;
        m.sigma = (ss_res / dof).sqrt();
        m.r2_fit = if ss_tot > 0.0 {
            1.0 - ss_res / ss_tot
        } else {
            0.0
        };
        Ok(m)
    }

    fn mean_of(&self, x: &[f64; REGRESSORS]) -> f64 {
        self.intercept
            + (0..REGRESSORS)
                .map(|k| self.coef[k] * (x[k] - self.mean[k]) / self.scale[k])
                .sum::<f64>()
    }

    /// The predicted strength of a wire, with its uncertainty.
    pub fn predict(&self, x: &[f64; REGRESSORS]) -> Prediction {
        let p = REGRESSORS;
        let zx: [f64; REGRESSORS] = std::array::from_fn(|k| (x[k] - self.mean[k]) / self.scale[k]);
        let mut q = 0.0;
        for i in 0..p {
            for j in 0..p {
                q += zx[i] * self.cov[i * p + j] * zx[j];
            }
        }
        Prediction {
            gf: self.mean_of(x).max(0.0),
            sd_gf: self.sigma * (1.0 + 1.0 / self.n as f64 + q.max(0.0)).sqrt(),
        }
    }

    /// The model as JSON (the store keeps each fitted version).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "v": 1,
            "test": self.test.name(),
            "n": self.n,
            "regressors": REGRESSOR_NAMES,
            "mean": self.mean,
            "scale": self.scale,
            "intercept": self.intercept,
            "coef": self.coef,
            "cov": self.cov,
            "sigma": self.sigma,
            "r2_fit": self.r2_fit,
        })
    }

    /// A model from [`StrengthModel::to_json`]; `None` if it is not one.
    pub fn from_json(v: &serde_json::Value) -> Option<StrengthModel> {
        let arr = |k: &str| -> Option<[f64; REGRESSORS]> {
            let a = v.get(k)?.as_array()?;
            if a.len() != REGRESSORS {
                return None;
            }
            let mut out = [0.0; REGRESSORS];
            for (o, x) in out.iter_mut().zip(a) {
                *o = x.as_f64()?;
            }
            Some(out)
        };
        let cov: Vec<f64> = v
            .get("cov")?
            .as_array()?
            .iter()
            .map(serde_json::Value::as_f64)
            .collect::<Option<_>>()?;
        if v.get("v")?.as_u64()? != 1 || cov.len() != REGRESSORS * REGRESSORS {
            return None;
        }
        Some(StrengthModel {
            test: TestKind::from_name(v.get("test")?.as_str()?)?,
            n: usize::try_from(v.get("n")?.as_u64()?).ok()?,
            mean: arr("mean")?,
            scale: arr("scale")?,
            intercept: v.get("intercept")?.as_f64()?,
            coef: arr("coef")?,
            cov,
            sigma: v.get("sigma")?.as_f64()?,
            r2_fit: v.get("r2_fit")?.as_f64()?,
        })
    }
}

/// R² and mean absolute error of predictions against measurements.
pub fn score(pairs: &[(f64, f64)]) -> (f64, f64) {
    let n = pairs.len().max(1) as f64;
    let mean = pairs.iter().map(|p| p.1).sum::<f64>() / n;
    let ss_res: f64 = pairs.iter().map(|(p, y)| (y - p).powi(2)).sum();
    let ss_tot: f64 = pairs.iter().map(|(_, y)| (y - mean).powi(2)).sum();
    let mae = pairs.iter().map(|(p, y)| (y - p).abs()).sum::<f64>() / n;
    (
        if ss_tot > 0.0 {
            1.0 - ss_res / ss_tot
        } else {
            0.0
        },
        mae,
    )
}

/// Inverse of a `p`×`p` matrix by Gauss–Jordan with partial pivoting.
fn invert(a: &[f64], p: usize) -> Option<Vec<f64>> {
    let w = 2 * p;
    let mut m = vec![0.0; p * w];
    for i in 0..p {
        m[i * w..i * w + p].copy_from_slice(&a[i * p..i * p + p]);
        m[i * w + p + i] = 1.0;
    }
    for c in 0..p {
        let piv = (c..p).max_by(|&x, &y| m[x * w + c].abs().total_cmp(&m[y * w + c].abs()))?;
        if m[piv * w + c].abs() < 1e-12 {
            return None;
        }
        if piv != c {
            for j in 0..w {
                m.swap(c * w + j, piv * w + j);
            }
        }
        let d = m[c * w + c];
        for j in 0..w {
            m[c * w + j] /= d;
        }
        for r in 0..p {
            if r != c {
                let f = m[r * w + c];
                if f != 0.0 {
                    for j in 0..w {
                        m[r * w + j] -= f * m[c * w + j];
                    }
                }
            }
        }
    }
    Some(
        (0..p)
            .flat_map(|i| m[i * w + p..i * w + w].to_vec())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_linear_truth_is_recovered_with_its_scatter() {
        // y = 30 + 2·x0 − x3, noise-free but for a small deterministic wobble.
        let mut data = Vec::new();
        for i in 0..200 {
            let t = f64::from(i);
            let x: [f64; REGRESSORS] =
                std::array::from_fn(|k| ((t + 1.0) * (k as f64 + 1.3)).sin() * (k as f64 + 1.0));
            let wobble = 0.01 * (t * 7.7).sin();
            data.push((x, 30.0 + 2.0 * x[0] - x[3] + wobble));
        }
        let m = StrengthModel::fit(TestKind::Shear, &data, 1e-9).unwrap_or_else(|e| panic!("{e}"));
        assert!(m.r2_fit > 0.9999, "{}", m.r2_fit);
        let x = data[17].0;
        let p = m.predict(&x);
        assert!((p.gf - (30.0 + 2.0 * x[0] - x[3])).abs() < 0.01, "{p:?}");
        assert!(p.sd_gf > 0.0 && p.sd_gf < 0.05, "{p:?}");
        let back = StrengthModel::from_json(&m.to_json()).unwrap_or_else(|| panic!("round trip"));
        assert!((back.predict(&x).gf - p.gf).abs() < 1e-9 && back.n == m.n);
        let pairs: Vec<(f64, f64)> = data.iter().map(|(x, y)| (m.predict(x).gf, *y)).collect();
        let (r2, mae) = score(&pairs);
        assert!(r2 > 0.9999 && mae < 0.01, "{r2} {mae}");
        assert_eq!(
            StrengthModel::fit(TestKind::Pull, &data[..5], 1e-3).err(),
            Some(FitError::TooFew {
                have: 5,
                need: MIN_FIT
            })
        );
    }
}
