//! Forecasts by trend: when a falling signal will cross its limit — the yield below the
//! station's yield limit, the capillary's bonds out of the window (the predicted shear
//! below its minimum plus a margin) — from a least-squares line through subgroup means,
//! with the line's own uncertainty.

/// A straight line fitted through points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trend {
    pub intercept: f64,
    /// Change of y per unit of x.
    pub slope: f64,
    /// Standard error of the slope.
    pub slope_se: f64,
    /// The last x of the data.
    pub x_last: f64,
    /// Points used.
    pub n: usize,
}

impl Trend {
    /// Least squares through `(x, y)`; `None` with fewer than 3 points or no spread in x.
    pub fn fit(points: &[(f64, f64)]) -> Option<Trend> {
        let n = points.len();
        if n < 3 {
            return None;
        }
        let nf = n as f64;
        let mx = points.iter().map(|p| p.0).sum::<f64>() / nf;
        let my = points.iter().map(|p| p.1).sum::<f64>() / nf;
        let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
        if sxx <= 0.0 {
            return None;
        }
        let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let slope = sxy / sxx;
        let intercept = my - slope * mx;
        let ss_res: f64 = points
            .iter()
            .map(|p| (p.1 - intercept - slope * p.0).powi(2))
            .sum();
        let s2 = ss_res / (nf - 2.0).max(1.0);
        Some(Trend {
            intercept,
            slope,
            slope_se: (s2 / sxx).sqrt(),
            x_last: points.iter().map(|p| p.0).fold(f64::MIN, f64::max),
            n,
        })
    }

    /// The line at `x`.
    pub fn at(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }

    /// How far beyond the last point the line falls to `limit` (in units of x): `None`
    /// if it does not fall (or not significantly: slope within `z` standard errors of 0),
    /// `Some(0)` if it is already below.
    pub fn until_below(&self, limit: f64, z: f64) -> Option<f64> {
        if self.at(self.x_last) <= limit {
            return Some(0.0);
        }
        if self.slope >= 0.0 || -self.slope < z * self.slope_se {
            return None;
        }
        let x = (limit - self.intercept) / self.slope;
        Some((x - self.x_last).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_falling_line_is_extrapolated_to_its_limit() {
        // y = 20 − 0.01 x with a small wobble, x = 0 … 990.
        let pts: Vec<(f64, f64)> = (0..100)
            .map(|i| {
                let x = f64::from(i) * 10.0;
                (x, 20.0 - 0.01 * x + 0.05 * (f64::from(i) * 1.7).sin())
            })
            .collect();
        let t = Trend::fit(&pts).unwrap_or_else(|| panic!("fit"));
        assert!((t.slope + 0.01).abs() < 1e-3, "{t:?}");
        // 12 is reached at x = 800: already below at the end (y(990) ≈ 10.1).
        assert_eq!(t.until_below(12.0, 3.0), Some(0.0));
        // 5 at x = 1500: 510 beyond the last point.
        let eta = t.until_below(5.0, 3.0).unwrap_or_default();
        assert!((eta - 510.0).abs() < 15.0, "{eta}");
        // A flat noisy line forecasts nothing.
        let flat: Vec<(f64, f64)> = (0..100)
            .map(|i| (f64::from(i), 20.0 + (f64::from(i) * 2.3).sin()))
            .collect();
        assert_eq!(
            Trend::fit(&flat).and_then(|t| t.until_below(5.0, 3.0)),
            None
        );
        assert!(Trend::fit(&pts[..2]).is_none());
    }
}
