//! Statistical process control: individuals and moving-range (I-MR) charts, process
//! capability (Cp/Cpk from the within-subgroup sigma, Pp/Ppk from the overall sigma) and
//! the four Western Electric rules.
//!
//! Pure arithmetic on slices: no IO, no clock. One-sided specifications (a placement
//! offset has only an upper limit, a pull or shear strength only a lower one) give the
//! one-sided index only (`cp`/`pp` need both limits).

/// d2 for moving ranges of two consecutive points.
pub const D2_N2: f64 = 1.128;
/// D4 for moving ranges of two (upper control limit of the MR chart).
pub const D4_N2: f64 = 3.267;

/// Specification limits; either may be absent.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SpecLimits {
    pub lsl: Option<f64>,
    pub usl: Option<f64>,
}

/// Mean, within sigma (MR̄/d2) and overall sigma (sample standard deviation, n-1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    /// Average moving range of consecutive points.
    pub mr_bar: f64,
    /// Short-term sigma: MR̄ / d2.
    pub sigma_within: f64,
    /// Long-term sigma: sample standard deviation.
    pub sigma_overall: f64,
}

/// Summary of a series; `None` with fewer than two points.
pub fn summary(x: &[f64]) -> Option<Summary> {
    let n = x.len();
    if n < 2 {
        return None;
    }
    let nf = n as f64;
    let mean = x.iter().sum::<f64>() / nf;
    let ss = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>();
    let mr_bar = x.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>() / (nf - 1.0);
    Some(Summary {
        n,
        mean,
        mr_bar,
        sigma_within: mr_bar / D2_N2,
        sigma_overall: (ss / (nf - 1.0)).sqrt(),
    })
}

/// Process capability against specification limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capability {
    pub summary: Summary,
    pub cp: Option<f64>,
    pub cpk: Option<f64>,
    pub pp: Option<f64>,
    pub ppk: Option<f64>,
}

fn indices(mean: f64, sigma: f64, spec: SpecLimits) -> (Option<f64>, Option<f64>) {
    if sigma <= 0.0 || !sigma.is_finite() {
        return (None, None);
    }
    let upper = spec.usl.map(|u| (u - mean) / (3.0 * sigma));
    let lower = spec.lsl.map(|l| (mean - l) / (3.0 * sigma));
    let p = match (spec.lsl, spec.usl) {
        (Some(l), Some(u)) => Some((u - l) / (6.0 * sigma)),
        _ => None,
    };
    let pk = match (lower, upper) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    (p, pk)
}

/// Cp/Cpk (within sigma) and Pp/Ppk (overall sigma); `None` with fewer than two points.
pub fn capability(x: &[f64], spec: SpecLimits) -> Option<Capability> {
    let s = summary(x)?;
    let (cp, cpk) = indices(s.mean, s.sigma_within, spec);
    let (pp, ppk) = indices(s.mean, s.sigma_overall, spec);
    Some(Capability {
        summary: s,
        cp,
        cpk,
        pp,
        ppk,
    })
}

/// Control limits of an I-MR chart.
#[derive(Debug, Clone, PartialEq)]
pub struct ImrChart {
    /// The individuals.
    pub x: Vec<f64>,
    /// Moving ranges; `mr[i]` is `|x[i+1] - x[i]|`.
    pub mr: Vec<f64>,
    pub x_cl: f64,
    pub x_ucl: f64,
    pub x_lcl: f64,
    pub mr_cl: f64,
    pub mr_ucl: f64,
    pub sigma: f64,
    /// Western Electric violations on the individuals chart.
    pub violations: Vec<Violation>,
}

/// I-MR chart of a series; `None` with fewer than two points.
pub fn imr(x: &[f64]) -> Option<ImrChart> {
    let s = summary(x)?;
    let sigma = s.sigma_within;
    Some(ImrChart {
        x: x.to_vec(),
        mr: x.windows(2).map(|w| (w[1] - w[0]).abs()).collect(),
        x_cl: s.mean,
        x_ucl: s.mean + 3.0 * sigma,
        x_lcl: s.mean - 3.0 * sigma,
        mr_cl: s.mr_bar,
        mr_ucl: D4_N2 * s.mr_bar,
        sigma,
        violations: western_electric(x, s.mean, sigma),
    })
}

/// A Western Electric rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WeRule {
    /// One point beyond 3σ.
    Beyond3Sigma,
    /// Two of three consecutive points beyond 2σ on the same side.
    TwoOfThreeBeyond2Sigma,
    /// Four of five consecutive points beyond 1σ on the same side.
    FourOfFiveBeyond1Sigma,
    /// Eight consecutive points on the same side of the centre line.
    EightOnOneSide,
}

impl WeRule {
    /// Rule number (1–4).
    pub fn number(self) -> u8 {
        match self {
            WeRule::Beyond3Sigma => 1,
            WeRule::TwoOfThreeBeyond2Sigma => 2,
            WeRule::FourOfFiveBeyond1Sigma => 3,
            WeRule::EightOnOneSide => 4,
        }
    }
}

/// A rule broken at a point (the last point of the run that breaks it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Violation {
    pub index: usize,
    pub rule: WeRule,
}

/// Every rule violation, by point then rule. A run flags its last point.
pub fn western_electric(x: &[f64], center: f64, sigma: f64) -> Vec<Violation> {
    let mut out = Vec::new();
    if sigma <= 0.0 || !sigma.is_finite() {
        return out;
    }
    let z: Vec<f64> = x.iter().map(|v| (v - center) / sigma).collect();
    // `k` of the last `n` points at or beyond `limit` sigma on one side.
    let run = |i: usize, n: usize, k: usize, limit: f64| -> bool {
        if i + 1 < n {
            return false;
        }
        let w = &z[i + 1 - n..=i];
        let up = w.iter().filter(|&&v| v > limit).count();
        let down = w.iter().filter(|&&v| v < -limit).count();
        // The flagged point itself must be one of the run.
        (up >= k && z[i] > limit) || (down >= k && z[i] < -limit)
    };
    for i in 0..z.len() {
        if z[i].abs() > 3.0 {
            out.push(Violation {
                index: i,
                rule: WeRule::Beyond3Sigma,
            });
        }
        if run(i, 3, 2, 2.0) {
            out.push(Violation {
                index: i,
                rule: WeRule::TwoOfThreeBeyond2Sigma,
            });
        }
        if run(i, 5, 4, 1.0) {
            out.push(Violation {
                index: i,
                rule: WeRule::FourOfFiveBeyond1Sigma,
            });
        }
        if i + 1 >= 8 {
            let w = &z[i + 1 - 8..=i];
            if w.iter().all(|&v| v > 0.0) || w.iter().all(|&v| v < 0.0) {
                out.push(Violation {
                    index: i,
                    rule: WeRule::EightOnOneSide,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-4
    }

    /// By hand: x = 10, 12, 11, 13, 12; LSL 8, USL 16.
    /// mean = 58/5 = 11.6; moving ranges 2, 1, 2, 1 → MR̄ = 1.5, σ_within = 1.5/1.128;
    /// squared deviations 2.56 + 0.16 + 0.36 + 1.96 + 0.16 = 5.2 → s = √(5.2/4) = √1.3.
    /// Cp = 8/(6·1.5/1.128) = 9.024/9 = 1.002667; Cpk = 3.6·1.128/4.5 = 0.9024;
    /// Pp = 8/(6√1.3) = 1.169410; Ppk = 3.6/(3√1.3) = 1.052470.
    #[test]
    fn capability_matches_the_hand_computation() {
        let x = [10.0, 12.0, 11.0, 13.0, 12.0];
        let c = capability(
            &x,
            SpecLimits {
                lsl: Some(8.0),
                usl: Some(16.0),
            },
        )
        .unwrap();
        assert!(close(c.summary.mean, 11.6));
        assert!(close(c.summary.mr_bar, 1.5));
        assert!(close(c.summary.sigma_overall, 1.3f64.sqrt()));
        assert!(close(c.cp.unwrap(), 1.002667), "{c:?}");
        assert!(close(c.cpk.unwrap(), 0.9024), "{c:?}");
        assert!(close(c.pp.unwrap(), 1.169410), "{c:?}");
        assert!(close(c.ppk.unwrap(), 1.052470), "{c:?}");
        // One-sided: only the lower index.
        let c = capability(
            &x,
            SpecLimits {
                lsl: Some(8.0),
                usl: None,
            },
        )
        .unwrap();
        assert_eq!(c.cp, None);
        assert!(close(c.cpk.unwrap(), 0.9024));
        let chart = imr(&x).unwrap();
        assert!(close(chart.x_ucl, 11.6 + 3.0 * 1.5 / 1.128));
        assert!(close(chart.mr_ucl, 3.267 * 1.5));
        assert_eq!(chart.mr, vec![2.0, 1.0, 2.0, 1.0]);
        assert!(chart.violations.is_empty());
    }

    #[test]
    fn western_electric_rules() {
        // Centre 0, sigma 1.
        let v = western_electric(&[0.0, 3.5, 0.0], 0.0, 1.0);
        assert_eq!(
            v,
            vec![Violation {
                index: 1,
                rule: WeRule::Beyond3Sigma
            }]
        );
        let v = western_electric(&[2.5, 0.0, 2.2], 0.0, 1.0);
        assert_eq!(v[0].rule, WeRule::TwoOfThreeBeyond2Sigma);
        assert_eq!(v[0].index, 2);
        let v = western_electric(&[-1.5, -1.2, 0.0, -1.1, -1.3], 0.0, 1.0);
        assert_eq!(
            v,
            vec![Violation {
                index: 4,
                rule: WeRule::FourOfFiveBeyond1Sigma
            }]
        );
        let v = western_electric(&[0.1; 8], 0.0, 1.0);
        assert_eq!(
            v,
            vec![Violation {
                index: 7,
                rule: WeRule::EightOnOneSide
            }]
        );
        assert!(western_electric(&[0.1, -0.1, 0.1], 0.0, 0.0).is_empty());
    }
}
