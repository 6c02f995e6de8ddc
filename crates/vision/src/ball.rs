//! Ball detection: edge points on rays + a robust least-squares circle.
//!
//! Under coaxial light a bonded ball shows a dark rim (its flanks send the light away)
//! against the bright pad. From a start point (the pad centre) rays go out; on each the
//! strongest dark→bright step within the search range is an edge point (to a fraction of
//! a pixel). An algebraic circle fit (Kåsa) with iterative rejection of outliers (the
//! wire stub, the pad's corner, noise) gives centre and radius; a second round of rays
//! from that centre, now crossing the rim square-on, gives the final fit.

use crate::image::ImageView;
use crate::template::parabola;
use serde::{Deserialize, Serialize};

/// What the ball finder looks for, px.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BallSearch {
    /// Nominal ball radius.
    pub radius: f64,
    /// Largest distance of the ball's centre from the start point.
    pub max_offset: f64,
    /// Rays per round.
    pub rays: usize,
}

/// A measured ball, px.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BallFit {
    pub centre: [f64; 2],
    pub radius: f64,
    /// RMS distance of the inlying edge points from the circle.
    pub rms: f64,
    /// Inlying edge points over rays cast (0..1).
    pub inliers: f32,
    /// Median rim step of the inliers relative to the brightness outside the ball (0..1).
    pub contrast: f32,
}

impl BallFit {
    pub fn diameter(&self) -> f64 {
        2.0 * self.radius
    }
}

/// Least relative step (over 2 px) an edge point needs.
const MIN_STEP: f32 = 0.06;

#[derive(Debug, Clone, Copy)]
struct EdgePoint {
    x: f64,
    y: f64,
    step: f32,
    outside: f32,
}

/// Finds the ball around `start`. `None` when there is no ball-like circle (too few
/// consistent edge points, or a radius far from the nominal).
pub fn find_ball(img: ImageView<'_>, start: [f64; 2], s: &BallSearch) -> Option<BallFit> {
    let r0 = s.radius.max(3.0);
    let rays = s.rays.clamp(16, 256);
    // Round 1: from the start point over every radius the ball can have there; while the
    // fit is poor (a ball far off the start point is seen from one side), again from the
    // fitted centre.
    let mut c = start;
    let mut lo = (0.55 * r0 - s.max_offset).max(0.35 * r0);
    let mut hi = 1.3 * r0 + s.max_offset;
    let mut fit1 = None;
    for _ in 0..3 {
        let pts = edge_points(img, c, lo, hi, rays);
        let f = robust_fit(&pts, rays, 2.0)?;
        if (f.centre[0] - start[0]).hypot(f.centre[1] - start[1]) > s.max_offset + 0.5 * r0 {
            return None;
        }
        let good = f.rms < 1.0 && f.inliers > 0.7;
        let moved = (f.centre[0] - c[0]).hypot(f.centre[1] - c[1]);
        c = f.centre;
        fit1 = Some(f);
        if good || moved < 1.0 {
            break;
        }
        lo = 0.35 * r0;
        hi = 1.6 * r0;
    }
    let fit1 = fit1?;
    if !(0.5 * r0..=1.8 * r0).contains(&fit1.radius) {
        return None;
    }
    // Round 2: from the fitted centre, a narrow band around the fitted radius.
    let pts = edge_points(
        img,
        fit1.centre,
        fit1.radius * 0.8,
        fit1.radius * 1.2 + 2.0,
        rays,
    );
    let fit = robust_fit(&pts, rays, 1.0)?;
    (0.5 * r0..=1.8 * r0).contains(&fit.radius).then_some(fit)
}

/// On each ray from `c`, the strongest rising step (dark inside → bright outside)
/// between radii `lo` and `hi`.
fn edge_points(img: ImageView<'_>, c: [f64; 2], lo: f64, hi: f64, rays: usize) -> Vec<EdgePoint> {
    const STEP: f64 = 0.5;
    let n = ((hi - lo) / STEP).ceil() as usize + 1;
    let mut prof = vec![0f32; n + 4];
    let mut out = Vec::with_capacity(rays);
    for k in 0..rays {
        let a = k as f64 * std::f64::consts::TAU / rays as f64;
        let (dx, dy) = (a.cos(), a.sin());
        // Sample with a 3-tap average across the ray (±1 px).
        let (tx, ty) = (-dy, dx);
        let mut ok = true;
        for (i, p) in prof.iter_mut().enumerate().take(n + 4) {
            let r = lo + (i as f64 - 2.0) * STEP;
            let (x, y) = (c[0] + dx * r, c[1] + dy * r);
            let s = |o: f64| img.sample((x + tx * o) as f32, (y + ty * o) as f32);
            match (s(-1.0), s(0.0), s(1.0)) {
                (Some(a), Some(b), Some(d)) => *p = (a + 2.0 * b + d) * 0.25,
                _ => {
                    ok = false;
                    break;
                }
            }
        }
        if !ok {
            continue;
        }
        // Derivative over 2 px (4 samples), strongest rise.
        let mut best = (0usize, 0f32);
        let d = |i: usize| prof[i + 2] - prof[i - 2];
        for i in 2..n + 2 {
            let v = d(i);
            if v > best.1 {
                best = (i, v);
            }
        }
        let (i, v) = best;
        if i < 3 || i > n || v <= 0.0 {
            continue;
        }
        let off = parabola(f64::from(d(i - 1)), f64::from(v), f64::from(d(i + 1)));
        let r = lo + (i as f64 - 2.0 + off) * STEP;
        // Brightness just outside the step, for a relative contrast.
        let outside = prof[(i + 4).min(n + 3)].max(1.0);
        out.push(EdgePoint {
            x: c[0] + dx * r,
            y: c[1] + dy * r,
            step: v / outside,
            outside,
        });
    }
    out
}

/// Kåsa fit of points: centre and radius.
fn kasa(pts: &[&EdgePoint]) -> Option<([f64; 2], f64)> {
    if pts.len() < 5 {
        return None;
    }
    // Centre the coordinates for conditioning.
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.x).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.y).sum::<f64>() / n;
    let (mut suu, mut svv, mut suv, mut suuu, mut svvv, mut suvv, mut svuu) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for p in pts {
        let (u, v) = (p.x - mx, p.y - my);
        suu += u * u;
        svv += v * v;
        suv += u * v;
        suuu += u * u * u;
        svvv += v * v * v;
        suvv += u * v * v;
        svuu += v * u * u;
    }
    // [suu suv; suv svv] [uc; vc] = ½ [suuu + suvv; svvv + svuu]
    let det = suu * svv - suv * suv;
    if det.abs() < 1e-9 {
        return None;
    }
    let b1 = 0.5 * (suuu + suvv);
    let b2 = 0.5 * (svvv + svuu);
    let uc = (b1 * svv - b2 * suv) / det;
    let vc = (suu * b2 - suv * b1) / det;
    let r2 = uc * uc + vc * vc + (suu + svv) / n;
    (r2 > 0.0).then(|| ([uc + mx, vc + my], r2.sqrt()))
}

/// Fit, drop points off the circle, fit again (three rounds; the band tightens to
/// `tol` px or 3 robust sigmas, whichever is larger).
fn robust_fit(pts: &[EdgePoint], rays: usize, tol: f64) -> Option<BallFit> {
    let strong: Vec<&EdgePoint> = pts.iter().filter(|p| p.step >= MIN_STEP).collect();
    if strong.len() < rays / 3 {
        return None;
    }
    let mut set = strong.clone();
    let (mut c, mut r) = kasa(&set)?;
    for round in 0..4 {
        let mut res: Vec<f64> = strong
            .iter()
            .map(|p| ((p.x - c[0]).hypot(p.y - c[1]) - r).abs())
            .collect();
        let mut sorted = res.clone();
        sorted.sort_by(f64::total_cmp);
        let mad = sorted[sorted.len() / 2] * 1.4826;
        let band = if round == 0 {
            (3.0 * mad).max(4.0 * tol)
        } else {
            (3.0 * mad).max(tol)
        };
        set = strong
            .iter()
            .zip(res.iter_mut())
            .filter(|(_, e)| **e <= band)
            .map(|(p, _)| *p)
            .collect();
        let (c2, r2) = kasa(&set)?;
        c = c2;
        r = r2;
    }
    let rms = (set
        .iter()
        .map(|p| ((p.x - c[0]).hypot(p.y - c[1]) - r).powi(2))
        .sum::<f64>()
        / set.len() as f64)
        .sqrt();
    let mut steps: Vec<f32> = set.iter().map(|p| p.step).collect();
    steps.sort_by(f32::total_cmp);
    let _ = set.iter().map(|p| p.outside).sum::<f32>();
    Some(BallFit {
        centre: c,
        radius: r,
        rms,
        inliers: set.len() as f32 / rays as f32,
        contrast: steps[steps.len() / 2],
    })
}
