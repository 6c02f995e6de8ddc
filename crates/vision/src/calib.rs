//! Pixel ↔ µm calibration (stored per recipe).

use serde::{Deserialize, Serialize};

/// How camera pixels map to the bond plane: a scale per axis and a rotation of the
/// camera's axes against the machine's (both y down, as the image).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Object-side size of a pixel along the image's x, µm.
    pub um_per_px_x: f64,
    /// … along the image's y, µm.
    pub um_per_px_y: f64,
    /// Rotation of the image axes against the machine axes, rad (0: aligned).
    #[serde(default)]
    pub angle_rad: f64,
}

impl Default for Calibration {
    fn default() -> Self {
        Calibration::uniform(1.0)
    }
}

impl Calibration {
    /// Square pixels, aligned axes.
    pub fn uniform(um_per_px: f64) -> Calibration {
        Calibration {
            um_per_px_x: um_per_px,
            um_per_px_y: um_per_px,
            angle_rad: 0.0,
        }
    }

    /// Calibration from two stage moves: moving the stage by `um_x` µm along the machine's
    /// x moved the pattern by `px_x` (dx, dy) pixels; `um_y` along y moved it by `px_y`.
    /// `None` when a move is too small to measure.
    pub fn from_stage_moves(
        px_x: [f64; 2],
        um_x: f64,
        px_y: [f64; 2],
        um_y: f64,
    ) -> Option<Calibration> {
        let lx = px_x[0].hypot(px_x[1]);
        let ly = px_y[0].hypot(px_y[1]);
        if lx < 1.0 || ly < 1.0 || um_x.abs() < 1e-9 || um_y.abs() < 1e-9 {
            return None;
        }
        let angle = px_x[1].atan2(px_x[0])
            - if um_x < 0.0 {
                std::f64::consts::PI
            } else {
                0.0
            };
        let angle =
            (angle + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI;
        Some(Calibration {
            um_per_px_x: um_x.abs() / lx,
            um_per_px_y: um_y.abs() / ly,
            angle_rad: angle,
        })
    }

    /// Calibration from a row of pads of known pitch (the device drawing's pad pitch),
    /// found in one frame: the pad centres, px, in any order, gaps (pads not found)
    /// allowed. The row's direction gives the rotation, the pitch in pixels the scale
    /// (square pixels assumed). `None` with fewer than three pads, when they are not on
    /// one line within a quarter pitch, or when the spacing is not a pitch multiple.
    pub fn from_pad_row(centres: &[[f64; 2]], pitch_um: f64) -> Option<Calibration> {
        if centres.len() < 3 || !(pitch_um.is_finite() && pitch_um > 0.0) {
            return None;
        }
        // The row's direction: principal axis of the centres.
        let n = centres.len() as f64;
        let mx = centres.iter().map(|c| c[0]).sum::<f64>() / n;
        let my = centres.iter().map(|c| c[1]).sum::<f64>() / n;
        let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
        for c in centres {
            let (dx, dy) = (c[0] - mx, c[1] - my);
            sxx += dx * dx;
            syy += dy * dy;
            sxy += dx * dy;
        }
        let mut angle = 0.5 * (2.0 * sxy).atan2(sxx - syy);
        // The image x axis is the machine x axis within ±45°: keep the angle there.
        if angle > std::f64::consts::FRAC_PI_2 {
            angle -= std::f64::consts::PI;
        } else if angle < -std::f64::consts::FRAC_PI_2 {
            angle += std::f64::consts::PI;
        }
        let (s, c) = angle.sin_cos();
        let mut along: Vec<f64> = centres
            .iter()
            .map(|p| (p[0] - mx) * c + (p[1] - my) * s)
            .collect();
        let across = centres
            .iter()
            .map(|p| (-(p[0] - mx) * s + (p[1] - my) * c).abs())
            .fold(0.0, f64::max);
        along.sort_by(f64::total_cmp);
        let gaps: Vec<f64> = along.windows(2).map(|w| w[1] - w[0]).collect();
        let first = gaps.iter().copied().fold(f64::INFINITY, f64::min);
        if first < 1.0 || across > first / 4.0 {
            return None;
        }
        // Each gap is a whole number of pitches (missing pads): least squares over them.
        let mut steps = 0.0;
        for g in &gaps {
            let k = (g / first).round();
            if (g / first - k).abs() > 0.15 {
                return None;
            }
            steps += k;
        }
        let pitch_px = (along[along.len() - 1] - along[0]) / steps;
        Some(Calibration {
            um_per_px_x: pitch_um / pitch_px,
            um_per_px_y: pitch_um / pitch_px,
            angle_rad: angle,
        })
    }

    /// Mean pixel size, µm (for diameters).
    pub fn um_per_px(&self) -> f64 {
        (self.um_per_px_x * self.um_per_px_y).abs().sqrt()
    }

    /// A displacement in pixels as µm on the machine's axes.
    pub fn px_to_um(&self, d: [f64; 2]) -> [f64; 2] {
        let (x, y) = (d[0] * self.um_per_px_x, d[1] * self.um_per_px_y);
        if self.angle_rad == 0.0 {
            return [x, y];
        }
        let (s, c) = (-self.angle_rad).sin_cos();
        [c * x - s * y, s * x + c * y]
    }

    /// A displacement in µm on the machine's axes as pixels.
    pub fn um_to_px(&self, d: [f64; 2]) -> [f64; 2] {
        let [x, y] = if self.angle_rad == 0.0 {
            d
        } else {
            let (s, c) = self.angle_rad.sin_cos();
            [c * d[0] - s * d[1], s * d[0] + c * d[1]]
        };
        [x / self.um_per_px_x, y / self.um_per_px_y]
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_pad_row_gives_scale_and_rotation() {
        // Pads 100 µm apart at 0.8 µm/px, rotated by 0.02 rad, one pad missing.
        let a: f64 = 0.02;
        let centres: Vec<[f64; 2]> = [0.0, 1.0, 3.0, 4.0, 5.0]
            .iter()
            .map(|i| {
                let d = i * 125.0;
                [100.0 + d * a.cos(), 300.0 + d * a.sin()]
            })
            .collect();
        let c = Calibration::from_pad_row(&centres, 100.0).unwrap();
        assert!((c.um_per_px() - 0.8).abs() < 1e-9, "{c:?}");
        assert!((c.angle_rad - a).abs() < 1e-9, "{c:?}");
        // Pads in the wrong order give the same.
        let mut rev = centres.clone();
        rev.reverse();
        assert_eq!(Calibration::from_pad_row(&rev, 100.0), Some(c));
        // Too few, not on a line, or not at a pitch multiple: refused.
        assert!(Calibration::from_pad_row(&centres[..2], 100.0).is_none());
        let mut bent = centres.clone();
        bent[2][1] += 60.0;
        assert!(Calibration::from_pad_row(&bent, 100.0).is_none());
        let mut odd = centres.clone();
        odd[4][0] -= 50.0;
        assert!(Calibration::from_pad_row(&odd, 100.0).is_none());
        assert!(Calibration::from_pad_row(&centres, 0.0).is_none());
    }

    #[test]
    fn round_trip_and_stage_moves() {
        let c = Calibration::from_stage_moves([124.0, 2.0], 100.0, [-2.0, 124.0], 100.0).unwrap();
        assert!((c.um_per_px_x - 100.0 / 124.0f64.hypot(2.0)).abs() < 1e-12);
        let um = c.px_to_um([124.0, 2.0]);
        assert!((um[0] - 100.0).abs() < 1e-9 && um[1].abs() < 1e-9, "{um:?}");
        let px = c.um_to_px(c.px_to_um([3.0, -7.0]));
        assert!((px[0] - 3.0).abs() < 1e-9 && (px[1] + 7.0).abs() < 1e-9);
        let u = Calibration::uniform(0.8);
        assert_eq!(u.px_to_um([10.0, 5.0]), [8.0, 4.0]);
    }
}
