//! The process-window search's maths (pure): the search space, a maximiser and the
//! largest centred box inside a region, a Gaussian-process surrogate, Bayesian
//! optimisation's acquisition, and the industry's baseline (a central composite design
//! with a quadratic response surface).
//!
//! Everything works in the unit cube of the space ([`Bounds::to_unit`]); a window is
//! the region where every modelled margin is ≥ 0, its centre the point with the most
//! room in every parameter at once — the centre of the largest-volume axis-aligned box
//! that lies wholly inside the region — and its box that box. (The point of the largest
//! smallest margin is not used as the centre: where one margin alone binds, every point
//! along it is as good, and the centre would wander.)

use crate::recipe::{Param, Recipe, WireMaterial};
use crate::units::{Celsius, GramForce, Micrometres, Millis, Percent};

/// The search space: one `[lo, hi]` per parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Bounds(pub Vec<[f64; 2]>);

impl Bounds {
    pub fn new(b: Vec<[f64; 2]>) -> Bounds {
        Bounds(b)
    }

    pub fn dim(&self) -> usize {
        self.0.len()
    }

    pub fn to_unit(&self, x: &[f64]) -> Vec<f64> {
        x.iter()
            .zip(&self.0)
            .map(|(v, [lo, hi])| ((v - lo) / (hi - lo)).clamp(0.0, 1.0))
            .collect()
    }

    pub fn from_unit(&self, u: &[f64]) -> Vec<f64> {
        u.iter()
            .zip(&self.0)
            .map(|(v, [lo, hi])| lo + v.clamp(0.0, 1.0) * (hi - lo))
            .collect()
    }
}

/// Maximises `f` over the unit cube: the best of a coarse grid and the `starts`, then a
/// compass search from the best few. Returns the point and its value.
pub fn maximise(f: &dyn Fn(&[f64]) -> f64, dim: usize, starts: &[Vec<f64>]) -> (Vec<f64>, f64) {
    let per_axis = match dim {
        0..=2 => 15,
        3 => 9,
        4 => 7,
        5 => 5,
        _ => 3,
    };
    let mut seeds: Vec<(Vec<f64>, f64)> = grid(dim, per_axis)
        .into_iter()
        .chain(starts.iter().cloned())
        .map(|u| {
            let v = f(&u);
            (u, v)
        })
        .filter(|(_, v)| v.is_finite())
        .collect();
    seeds.sort_by(|a, b| b.1.total_cmp(&a.1));
    seeds.truncate(4);
    let mut best = (vec![0.5; dim], f64::NEG_INFINITY);
    for (u, v) in seeds {
        let r = compass(f, u, v, 0.5 / per_axis as f64, 1e-4);
        if r.1 > best.1 {
            best = r;
        }
    }
    best
}

/// `n` points per axis over the unit cube (cell centres).
fn grid(dim: usize, n: usize) -> Vec<Vec<f64>> {
    let total = n.pow(dim as u32);
    (0..total)
        .map(|mut k| {
            (0..dim)
                .map(|_| {
                    let i = k % n;
                    k /= n;
                    (i as f64 + 0.5) / n as f64
                })
                .collect()
        })
        .collect()
}

/// Compass (pattern) search within the unit cube.
fn compass(
    f: &dyn Fn(&[f64]) -> f64,
    mut u: Vec<f64>,
    mut v: f64,
    mut step: f64,
    tol: f64,
) -> (Vec<f64>, f64) {
    while step > tol {
        let mut moved = false;
        for i in 0..u.len() {
            for s in [step, -step] {
                let mut t = u.clone();
                t[i] = (t[i] + s).clamp(0.0, 1.0);
                let tv = f(&t);
                if tv > v {
                    (u, v) = (t, tv);
                    moved = true;
                }
            }
        }
        if !moved {
            step /= 2.0;
        }
    }
    (u, v)
}

/// The points of a box (`centre` ± `half`) checked for lying inside a region: 3 per
/// axis (corners, edge and face centres, the centre).
fn box_points(centre: &[f64], half: &[f64]) -> Vec<Vec<f64>> {
    grid(centre.len(), 3)
        .into_iter()
        .map(|g| {
            g.iter()
                .zip(centre.iter().zip(half))
                .map(|(k, (c, h))| c + (k * 3.0 - 1.5).round() * h)
                .collect()
        })
        .collect()
}

/// Whether every point of [`box_points`] lies inside the cube and the region. The
/// corners are asked first (where a box leaves a convex-ish region first), and one
/// buffer serves every point: the box search asks this millions of times.
fn box_inside(centre: &[f64], half: &[f64], inside: &dyn Fn(&[f64]) -> bool) -> bool {
    let d = centre.len();
    if centre
        .iter()
        .zip(half)
        .any(|(c, h)| c - h < -1e-9 || c + h > 1.0 + 1e-9)
    {
        return false;
    }
    let mut p = centre.to_vec();
    for m in 0..(1usize << d) {
        for i in 0..d {
            p[i] = centre[i] + if m >> i & 1 == 1 { half[i] } else { -half[i] };
        }
        if !inside(&p) {
            return false;
        }
    }
    let total = 3usize.pow(d as u32);
    for mut k in 0..total {
        let mut corner = true;
        for i in 0..d {
            let s = (k % 3) as f64 - 1.0;
            k /= 3;
            corner &= s != 0.0;
            p[i] = centre[i] + s * half[i];
        }
        if !corner && !inside(&p) {
            return false;
        }
    }
    true
}

/// Half-widths of the largest-volume box centred on `centre` (unit coordinates) that lies
/// inside the region `inside` and the unit cube: grown axis by axis in rounds (each
/// axis as far as it goes by a shrinking step), then traded between axes while the volume
/// grows. Empty (zeros) when the centre itself is outside.
pub fn centred_box(centre: &[f64], inside: &dyn Fn(&[f64]) -> bool) -> Vec<f64> {
    centred_box_to(centre, inside, 1e-4)
}

fn centred_box_to(centre: &[f64], inside: &dyn Fn(&[f64]) -> bool, tol: f64) -> Vec<f64> {
    let d = centre.len();
    let mut half = vec![0.0; d];
    if !inside(centre) {
        return half;
    }
    let room: Vec<f64> = centre.iter().map(|c| c.min(1.0 - c)).collect();
    // Round-robin growth: every axis grows by the same share of its room each round, so
    // no axis takes all the room first.
    let mut step = 0.25;
    while step > tol {
        let mut grew = false;
        for i in 0..d {
            let mut t = half.clone();
            t[i] = (t[i] + step * room[i].max(1e-9)).min(room[i]);
            if t[i] > half[i] && box_inside(centre, &t, inside) {
                half = t;
                grew = true;
            }
        }
        if !grew {
            step /= 2.0;
        }
    }
    // Trades: shrink one axis a little, grow another more, when the volume gains.
    let volume = |h: &[f64]| h.iter().map(|v| v.max(1e-12).ln()).sum::<f64>();
    let mut trade = 0.1;
    let mut rounds = 0;
    while trade > tol.max(1e-3) && rounds < 200 {
        rounds += 1;
        let mut gained = false;
        for i in 0..d {
            for j in 0..d {
                if i == j || half[i] <= 0.0 {
                    continue;
                }
                let mut t = half.clone();
                t[i] *= 1.0 - trade;
                // Grow j as far as it goes.
                let mut g = trade * 2.0;
                while g > 1e-3 && room[j] > 0.0 {
                    let mut u = t.clone();
                    u[j] = (u[j] + g * u[j].max(0.01 * room[j])).min(room[j]);
                    if box_inside(centre, &u, inside) {
                        t = u;
                    } else {
                        g /= 2.0;
                    }
                    if t[j] >= room[j] {
                        break;
                    }
                }
                if volume(&t) > volume(&half) + 1e-4 {
                    half = t;
                    gained = true;
                }
            }
        }
        if !gained {
            trade /= 2.0;
        }
    }
    half
}

/// The window's centre: the point whose centred box ([`centred_box`]) has the largest
/// volume — the most room in every parameter at once — found by a compass search from
/// `start` (e.g. the point of largest smallest margin). Returns the centre and the box's
/// half-widths.
pub fn widest_centre(start: &[f64], inside: &dyn Fn(&[f64]) -> bool) -> (Vec<f64>, Vec<f64>) {
    let log_volume = |c: &[f64]| {
        let h = centred_box_to(c, inside, 2e-3);
        if h.iter().any(|v| *v <= 0.0) {
            f64::NEG_INFINITY
        } else {
            h.iter().map(|v| v.ln()).sum::<f64>()
        }
    };
    // The volume has more than one hill where the window bends: compass searches from
    // the best three of `start` and a 4-per-axis grid.
    let mut seeds: Vec<(Vec<f64>, f64)> = std::iter::once(start.to_vec())
        .chain(grid(start.len(), 4))
        .map(|c| {
            let v = log_volume(&c);
            (c, v)
        })
        .filter(|(_, v)| v.is_finite())
        .collect();
    seeds.sort_by(|a, b| b.1.total_cmp(&a.1));
    seeds.truncate(3);
    let mut best = (start.to_vec(), f64::NEG_INFINITY);
    for (mut c, mut v) in seeds {
        let mut step = 0.04;
        while step > 2e-3 {
            let mut moved = false;
            for i in 0..c.len() {
                for s in [step, -step] {
                    let mut t = c.clone();
                    t[i] = (t[i] + s).clamp(0.0, 1.0);
                    let tv = log_volume(&t);
                    if tv > v + 1e-9 {
                        (c, v) = (t, tv);
                        moved = true;
                    }
                }
            }
            if !moved {
                step /= 2.0;
            }
        }
        if v > best.1 {
            best = (c, v);
        }
    }
    let c = best.0;
    let h = centred_box(&c, inside);
    (c, h)
}

/// The intersection over union of two boxes (`[lo, hi]` per axis).
pub fn iou(a: &[[f64; 2]], b: &[[f64; 2]]) -> f64 {
    let vol = |x: &[[f64; 2]]| x.iter().map(|[l, h]| (h - l).max(0.0)).product::<f64>();
    let inter: f64 = a
        .iter()
        .zip(b)
        .map(|([al, ah], [bl, bh])| (ah.min(*bh) - al.max(*bl)).max(0.0))
        .product();
    let union = vol(a) + vol(b) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_centre_and_box_of_an_ellipse() {
        // Region: ((x-0.6)/0.3)² + ((y-0.4)/0.1)² ≤ 1; margin = 1 - that.
        let m = |u: &[f64]| 1.0 - ((u[0] - 0.6) / 0.3).powi(2) - ((u[1] - 0.4) / 0.1).powi(2);
        let (c, v) = maximise(&m, 2, &[]);
        assert!(
            (c[0] - 0.6).abs() < 1e-3 && (c[1] - 0.4).abs() < 1e-3,
            "{c:?}"
        );
        assert!((v - 1.0).abs() < 1e-6);
        let h = centred_box(&c, &|u: &[f64]| m(u) >= 0.0);
        // The largest box in an ellipse has half-widths a/√2, b/√2.
        let want = [0.3 / 2f64.sqrt(), 0.1 / 2f64.sqrt()];
        for i in 0..2 {
            assert!(
                (h[i] - want[i]).abs() < 0.01 * want[i] + 1e-3,
                "{h:?} vs {want:?}"
            );
        }
        let b = |h: &[f64]| vec![[c[0] - h[0], c[0] + h[0]], [c[1] - h[1], c[1] + h[1]]];
        assert!((iou(&b(&h), &b(&want)) - 1.0).abs() < 0.03);
        assert_eq!(iou(&[[0.0, 1.0]], &[[2.0, 3.0]]), 0.0);
        assert!((iou(&[[0.0, 2.0]], &[[1.0, 3.0]]) - 1.0 / 3.0).abs() < 1e-12);
    }
}

/// A Gaussian-process regression of one margin over the unit cube: a Matérn 5/2 kernel
/// with one length scale per axis, a constant mean (the data's), its hyperparameters
/// (length scales, signal and noise variance) fitted by maximising the log marginal
/// likelihood. Written here rather than taken from a crate: a few dozen points in ≤ 7
/// dimensions need a 60-line Cholesky, not a linear-algebra stack (`egobox` brings
/// `ndarray`, `linfa` and an optimiser stack to build on 2 cores for this).
#[derive(Debug, Clone)]
pub struct Gp {
    x: Vec<Vec<f64>>,
    /// (y − mean) / scale, solved: α = K⁻¹ y.
    alpha: Vec<f64>,
    /// Cholesky factor of K (lower, row-major n×n).
    chol: Vec<f64>,
    mean: f64,
    scale: f64,
    /// log length scales, log signal variance, log noise variance.
    theta: Vec<f64>,
}

fn matern52(a: &[f64], b: &[f64], log_len: &[f64]) -> f64 {
    let r2: f64 = a
        .iter()
        .zip(b)
        .zip(log_len)
        .map(|((x, y), l)| ((x - y) / l.exp()).powi(2))
        .sum();
    let r = (5.0 * r2).sqrt();
    (1.0 + r + r * r / 3.0) * (-r).exp()
}

/// Cholesky in place of a symmetric positive-definite row-major matrix; `None` if it is
/// not.
fn cholesky(mut a: Vec<f64>, n: usize) -> Option<Vec<f64>> {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if d <= 0.0 || !d.is_finite() {
            return None;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
        for k in j + 1..n {
            a[j * n + k] = 0.0;
        }
    }
    Some(a)
}

/// Solves L z = b (forward).
fn forward(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut z = vec![0.0; n];
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * n + k] * z[k];
        }
        z[i] = s / l[i * n + i];
    }
    z
}

/// Solves Lᵀ x = z (backward).
fn backward(l: &[f64], n: usize, z: &[f64]) -> Vec<f64> {
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let mut s = z[i];
        for k in i + 1..n {
            s -= l[k * n + i] * x[k];
        }
        x[i] = s / l[i * n + i];
    }
    x
}

impl Gp {
    /// Fits a GP to `y` at `x` (unit coordinates). `None` with fewer than two points.
    pub fn fit(x: &[Vec<f64>], y: &[f64]) -> Option<Gp> {
        Gp::fit_with_noise(x, y, &vec![1.0; y.len()])
    }

    /// [`Gp::fit`] with each point's noise standard deviation a known multiple
    /// `noise_scale[i]` of one fitted noise level (heteroscedastic, shape known): a
    /// margin's scatter is about the same everywhere in the margin's own units, but a
    /// [`squash`]ed margin's is that times the squash's slope — almost none on a
    /// plateau, all of it near the zero.
    pub fn fit_with_noise(x: &[Vec<f64>], y: &[f64], noise_scale: &[f64]) -> Option<Gp> {
        let n = x.len();
        if n < 2 || y.len() != n || noise_scale.len() != n {
            return None;
        }
        let w2: Vec<f64> = noise_scale.iter().map(|w| w * w).collect();
        let d = x[0].len();
        let mean = y.iter().sum::<f64>() / n as f64;
        let var = y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
        let scale = var.sqrt().max(1e-6);
        let ys: Vec<f64> = y.iter().map(|v| (v - mean) / scale).collect();
        // θ: d log length scales, log signal variance, log noise variance.
        // Length scales from MIN_LENGTH_SCALE: a few dozen points in 4 dimensions are
        // ~0.3 apart, and a margin's cliff (the stitch's oxidation, a few °C wide) once
        // pulled a length scale to 0.07, where the GP is a nearest-neighbour interpolant
        // that falls back to its constant mean between the runs — and a window made of
        // the mean broke into pieces. Noise from MIN_NOISE_VAR (of the standardised
        // margin): a run of 8 test wires is never exact, and a zero-noise fit threads
        // every run's scatter.
        let bounds: Vec<[f64; 2]> = (0..d)
            .map(|_| [MIN_LENGTH_SCALE.ln(), 4.0f64.ln()])
            .chain([
                [0.1f64.ln(), MAX_SIGNAL_VAR.ln()],
                [MIN_NOISE_VAR.ln(), 0.5f64.ln()],
            ])
            .collect();
        let nll = |t: &[f64]| -> f64 {
            Self::build(x, &ys, &w2, t).map_or(f64::INFINITY, |(_, alpha, chol)| {
                let fit: f64 = ys.iter().zip(&alpha).map(|(a, b)| a * b).sum();
                let logdet: f64 = (0..n).map(|i| chol[i * n + i].ln()).sum();
                0.5 * fit + logdet
            })
        };
        let clamp = |t: &mut Vec<f64>| {
            for (v, [lo, hi]) in t.iter_mut().zip(&bounds) {
                *v = v.clamp(*lo, *hi);
            }
        };
        // Compass search in log space from two starts.
        let mut best: Option<(Vec<f64>, f64)> = None;
        for start_len in [0.3f64, 1.0] {
            let mut t: Vec<f64> = (0..d)
                .map(|_| start_len.ln())
                .chain([0.0, 0.01f64.max(MIN_NOISE_VAR).ln()])
                .collect();
            clamp(&mut t);
            let mut v = nll(&t);
            let mut step = 1.0;
            while step > 0.02 {
                let mut moved = false;
                for i in 0..t.len() {
                    for s in [step, -step] {
                        let mut u = t.clone();
                        u[i] += s;
                        clamp(&mut u);
                        let uv = nll(&u);
                        if uv < v {
                            (t, v) = (u, uv);
                            moved = true;
                        }
                    }
                }
                if !moved {
                    step /= 2.0;
                }
            }
            if best.as_ref().is_none_or(|b| v < b.1) {
                best = Some((t, v));
            }
        }
        let (theta, _) = best?;
        let (_, alpha, chol) = Self::build(x, &ys, &w2, &theta)?;
        Some(Gp {
            x: x.to_vec(),
            alpha,
            chol,
            mean,
            scale,
            theta,
        })
    }

    fn build(
        x: &[Vec<f64>],
        ys: &[f64],
        w2: &[f64],
        t: &[f64],
    ) -> Option<(usize, Vec<f64>, Vec<f64>)> {
        let n = x.len();
        let d = x[0].len();
        let (len, sig, noise) = (&t[..d], t[d].exp(), t[d + 1].exp());
        let mut k = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                let v = sig * matern52(&x[i], &x[j], len);
                k[i * n + j] = v;
                k[j * n + i] = v;
            }
            k[i * n + i] += noise * w2[i] + 1e-9;
        }
        let chol = cholesky(k, n)?;
        let alpha = backward(&chol, n, &forward(&chol, n, ys));
        Some((n, alpha, chol))
    }

    /// The posterior mean and standard deviation (of the latent margin) at `u`.
    pub fn predict(&self, u: &[f64]) -> (f64, f64) {
        let n = self.x.len();
        let d = u.len();
        let (len, sig) = (&self.theta[..d], self.theta[d].exp());
        let ks: Vec<f64> = self.x.iter().map(|xi| sig * matern52(u, xi, len)).collect();
        let m: f64 = ks.iter().zip(&self.alpha).map(|(a, b)| a * b).sum();
        let v = forward(&self.chol, n, &ks);
        let var = (sig - v.iter().map(|a| a * a).sum::<f64>()).max(1e-12);
        (self.mean + self.scale * m, self.scale * var.sqrt())
    }

    /// The posterior mean alone (no variance: the O(n²) solve is skipped), at `u`.
    pub fn mean_at(&self, u: &[f64]) -> f64 {
        let d = u.len();
        let (len, sig) = (&self.theta[..d], self.theta[d].exp());
        let m: f64 = self
            .x
            .iter()
            .zip(&self.alpha)
            .map(|(xi, a)| sig * matern52(u, xi, len) * a)
            .sum();
        self.mean + self.scale * m
    }

    /// The fitted hyperparameters: log length scales (one per axis), log signal
    /// variance, log noise variance (of the standardised margin).
    pub fn theta(&self) -> &[f64] {
        &self.theta
    }

    /// The fitted noise standard deviation, in the margin's units (of a point whose
    /// noise scale is 1: with [`gp_margins`], of a run at the margin's zero).
    pub fn noise_sd(&self) -> f64 {
        self.scale * (self.theta[self.theta.len() - 1].exp()).sqrt()
    }
}

/// A full quadratic response surface (the central composite design's model), fitted by
/// least squares: 1, xᵢ, xᵢxⱼ (i ≤ j).
#[derive(Debug, Clone)]
pub struct Quadratic {
    coef: Vec<f64>,
}

fn quad_terms(u: &[f64]) -> Vec<f64> {
    let mut t = vec![1.0];
    t.extend_from_slice(u);
    for i in 0..u.len() {
        for j in i..u.len() {
            t.push(u[i] * u[j]);
        }
    }
    t
}

impl Quadratic {
    /// `None` when the design cannot support the model (too few or degenerate points).
    pub fn fit(x: &[Vec<f64>], y: &[f64]) -> Option<Quadratic> {
        let rows: Vec<Vec<f64>> = x.iter().map(|u| quad_terms(u)).collect();
        let p = rows.first()?.len();
        if rows.len() < p {
            return None;
        }
        // Normal equations with a whisper of ridge, by Cholesky.
        let mut a = vec![0.0; p * p];
        let mut b = vec![0.0; p];
        for (r, yv) in rows.iter().zip(y) {
            for i in 0..p {
                b[i] += r[i] * yv;
                for j in 0..p {
                    a[i * p + j] += r[i] * r[j];
                }
            }
        }
        for i in 0..p {
            a[i * p + i] += 1e-9;
        }
        let l = cholesky(a, p)?;
        Some(Quadratic {
            coef: backward(&l, p, &forward(&l, p, &b)),
        })
    }

    pub fn predict(&self, u: &[f64]) -> f64 {
        quad_terms(u)
            .iter()
            .zip(&self.coef)
            .map(|(a, b)| a * b)
            .sum()
    }
}

/// A central composite design in the unit cube around `centre` with `half` the
/// half-range of its axial points: 2ᵏ factorial points at ±half/α (α = (2ᵏ)^¼, the
/// rotatable design), 2k axial points at ±half, and `centre_points` replicates of the
/// centre; clipped to the cube.
pub fn ccd(centre: &[f64], half: &[f64], centre_points: usize) -> Vec<Vec<f64>> {
    let k = centre.len();
    let alpha = ((1usize << k) as f64).powf(0.25);
    let clip = |v: Vec<f64>| v.into_iter().map(|x| x.clamp(0.0, 1.0)).collect::<Vec<_>>();
    let mut pts = Vec::new();
    for m in 0..(1usize << k) {
        pts.push(clip(
            (0..k)
                .map(|i| {
                    let s = if m >> i & 1 == 1 { 1.0 } else { -1.0 };
                    centre[i] + s * half[i] / alpha
                })
                .collect(),
        ));
    }
    for i in 0..k {
        for s in [-1.0, 1.0] {
            let mut p = centre.to_vec();
            p[i] += s * half[i];
            pts.push(clip(p));
        }
    }
    for _ in 0..centre_points {
        pts.push(centre.to_vec());
    }
    pts
}

/// A Latin hypercube of `n` points (deterministic for a seed): the initial design of the
/// Bayesian search.
pub fn latin_hypercube(n: usize, dim: usize, seed: u64) -> Vec<Vec<f64>> {
    // SplitMix64: no RNG crate in the core.
    let mut s = seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut cols: Vec<Vec<f64>> = (0..dim)
        .map(|_| {
            let mut perm: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                let j = (next() % (i as u64 + 1)) as usize;
                perm.swap(i, j);
            }
            perm.into_iter()
                .map(|k| (k as f64 + (next() >> 11) as f64 / (1u64 << 53) as f64) / n as f64)
                .collect()
        })
        .collect();
    (0..n)
        .map(|i| cols.iter_mut().map(|c| c[i]).collect())
        .collect()
}

/// How a window is searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Bayesian optimisation: a Latin-hypercube start, then batches chosen on Gaussian
    /// processes of every margin (one point by expected improvement of the smallest
    /// margin, the others where the window's edge is least known).
    Bo,
    /// The industry's baseline: a rotatable central composite design over the bounds
    /// with a quadratic response surface per margin, then a second one over the window
    /// the first found.
    Ccd,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Bo => "bo",
            Method::Ccd => "ccd",
        }
    }

    pub fn from_name(s: &str) -> Option<Method> {
        match s {
            "bo" => Some(Method::Bo),
            "ccd" => Some(Method::Ccd),
            _ => None,
        }
    }
}

/// One measured run: where (unit coordinates) and the margins found there (one per
/// characteristic, ≥ 0 in spec).
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub at: Vec<f64>,
    pub margins: Vec<f64>,
}

/// A window estimate in unit coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub centre: Vec<f64>,
    pub half: Vec<f64>,
    /// The smallest modelled margin at the centre.
    pub margin: f64,
    /// Each characteristic's modelled margin and its standard deviation at the centre.
    pub at_centre: Vec<(f64, f64)>,
}

impl Estimate {
    /// The box as `[lo, hi]` per axis (unit coordinates).
    pub fn unit_box(&self) -> Vec<[f64; 2]> {
        self.centre
            .iter()
            .zip(&self.half)
            .map(|(c, h)| [c - h, c + h])
            .collect()
    }
}

/// The surrogate of every margin: GPs (BO) or quadratics (CCD).
enum Surrogate {
    Gp(Vec<Gp>),
    Quad(Vec<Quadratic>),
}

impl Surrogate {
    fn fit(method: Method, runs: &[Run]) -> Option<Surrogate> {
        let x: Vec<Vec<f64>> = runs.iter().map(|r| r.at.clone()).collect();
        let k = runs.first()?.margins.len();
        // Only the zero of a margin makes the window: far above it a margin's plateau
        // (a neck that breaks at its own load whatever the weld) and far below it its
        // cliff would only bend the surrogate, so they are clipped (the quadratic) or
        // squashed (the GPs, see [`squash`]).
        let ys = |i: usize| {
            runs.iter()
                .map(|r| r.margins[i].clamp(-MARGIN_CLIP, MARGIN_CLIP))
                .collect::<Vec<f64>>()
        };
        match method {
            Method::Bo => gp_margins(runs).map(Surrogate::Gp),
            Method::Ccd => (0..k)
                .map(|i| Quadratic::fit(&x, &ys(i)))
                .collect::<Option<Vec<_>>>()
                .map(Surrogate::Quad),
        }
    }

    fn predict(&self, u: &[f64]) -> Vec<(f64, f64)> {
        match self {
            Surrogate::Gp(g) => g.iter().map(|g| g.predict(u)).collect(),
            Surrogate::Quad(q) => q.iter().map(|q| (q.predict(u), 0.0)).collect(),
        }
    }

    /// The smallest modelled margin (the means: no variance is computed).
    fn smallest(&self, u: &[f64]) -> f64 {
        match self {
            Surrogate::Gp(g) => g.iter().map(|g| g.mean_at(u)).fold(f64::INFINITY, f64::min),
            Surrogate::Quad(q) => q.iter().map(|q| q.predict(u)).fold(f64::INFINITY, f64::min),
        }
    }

    fn estimate(&self, runs: &[Run]) -> Estimate {
        let dim = centre_dim(runs);
        // The box search asks "inside?" millions of times: it asks a lattice of the
        // smallest margin, interpolated, not the surrogate itself.
        let lattice = Lattice::new(dim, &|u: &[f64]| self.smallest(u));
        let f = |u: &[f64]| lattice.at(u);
        let starts: Vec<Vec<f64>> = runs.iter().map(|r| r.at.clone()).collect();
        let (best, _) = maximise(&f, dim, &starts);
        let (centre, half) = widest_centre(&best, &|u: &[f64]| f(u) >= 0.0);
        // In the margins' own units (the GPs model them squashed).
        let own = |(m, sd): (f64, f64)| match self {
            Surrogate::Gp(_) => {
                let r = (m / MARGIN_CLIP).clamp(-0.999, 0.999);
                (unsquash(m), sd / (1.0 - r * r))
            }
            Surrogate::Quad(_) => (m, sd),
        };
        let at_centre: Vec<(f64, f64)> = self.predict(&centre).into_iter().map(own).collect();
        let margin = at_centre
            .iter()
            .map(|(m, _)| *m)
            .fold(f64::INFINITY, f64::min);
        Estimate {
            centre,
            half,
            margin,
            at_centre,
        }
    }
}

/// A margin as the GPs model it: `c·tanh(m/c)` with `c` = [`MARGIN_CLIP`] — the margin
/// itself near its zero (slope 1, the same zero), squeezed smoothly into ±c far from it.
/// A hard clip at ±c (what the quadratic gets) makes flat plateaus joined by kinks,
/// which a stationary GP can only follow with short length scales; and it throws away
/// how a margin still rises or falls away from its zero (how shear keeps falling with
/// the heater where it is large), so that parameter's length scale runs to its bound
/// and the window's faces in it are guessed. The squash keeps the order and the slope.
pub fn squash(m: f64) -> f64 {
    MARGIN_CLIP * (m / MARGIN_CLIP).tanh()
}

/// The slope of [`squash`] at `m`: `1 − tanh²(m/c)`.
pub fn squash_slope(m: f64) -> f64 {
    1.0 - (m / MARGIN_CLIP).tanh().powi(2)
}

/// The inverse of [`squash`] (a modelled margin back in its own units).
pub fn unsquash(s: f64) -> f64 {
    let r = (s / MARGIN_CLIP).clamp(-0.999_999, 0.999_999);
    MARGIN_CLIP * r.atanh()
}

/// The GPs of the Bayesian search: one per characteristic, on the [`squash`]ed margins
/// of the runs (`None` with fewer than two runs).
pub fn gp_margins(runs: &[Run]) -> Option<Vec<Gp>> {
    let x: Vec<Vec<f64>> = runs.iter().map(|r| r.at.clone()).collect();
    let k = runs.first()?.margins.len();
    (0..k)
        .map(|i| {
            let y: Vec<f64> = runs.iter().map(|r| squash(r.margins[i])).collect();
            // The squash's slope at each run: the share of the run's scatter its squashed
            // margin keeps. With one noise level for all, the plateau's runs (squashed
            // flat, hardly any scatter left) would tell the fit there is no noise, and the
            // GP would thread the scatter of the runs at the window's faces.
            let w: Vec<f64> = runs
                .iter()
                .map(|r| squash_slope(r.margins[i]).max(1e-3))
                .collect();
            Gp::fit_with_noise(&x, &y, &w)
        })
        .collect()
}

/// A function tabulated on a regular lattice over the unit cube, multilinearly
/// interpolated.
struct Lattice {
    dim: usize,
    /// Cells per axis.
    n: usize,
    values: Vec<f64>,
}

impl Lattice {
    fn new(dim: usize, f: &dyn Fn(&[f64]) -> f64) -> Lattice {
        let n: usize = match dim {
            0..=2 => 64,
            3 => 32,
            4 => 16,
            5 => 9,
            6 => 6,
            _ => 4,
        };
        let per = n + 1;
        let total = per.pow(dim as u32);
        let values = (0..total)
            .map(|mut k| {
                let u: Vec<f64> = (0..dim)
                    .map(|_| {
                        let i = k % per;
                        k /= per;
                        i as f64 / n as f64
                    })
                    .collect();
                f(&u)
            })
            .collect();
        Lattice { dim, n, values }
    }

    fn at(&self, u: &[f64]) -> f64 {
        let per = self.n + 1;
        let mut base = 0usize;
        let mut stride = 1usize;
        let mut frac = [0.0f64; 8];
        let mut strides = [0usize; 8];
        for (i, v) in u.iter().enumerate().take(self.dim.min(8)) {
            let x = v.clamp(0.0, 1.0) * self.n as f64;
            let c = (x.floor() as usize).min(self.n - 1);
            frac[i] = x - c as f64;
            base += c * stride;
            strides[i] = stride;
            stride *= per;
        }
        let mut sum = 0.0;
        for corner in 0..(1usize << self.dim) {
            let mut w = 1.0;
            let mut idx = base;
            for i in 0..self.dim {
                if corner >> i & 1 == 1 {
                    w *= frac[i];
                    idx += strides[i];
                } else {
                    w *= 1.0 - frac[i];
                }
            }
            if w > 0.0 {
                sum += w * self.values[idx];
            }
        }
        sum
    }
}

fn centre_dim(runs: &[Run]) -> usize {
    runs.first().map_or(0, |r| r.at.len())
}

/// The window the runs so far show, by the method's surrogate (`None` before the
/// surrogate can be fitted).
pub fn estimate(method: Method, runs: &[Run]) -> Option<Estimate> {
    let runs = match method {
        Method::Bo => runs,
        Method::Ccd => ccd_runs(runs, centre_dim(runs)),
    };
    Some(Surrogate::fit(method, runs)?.estimate(runs))
}

/// Runs of the initial design of a search in `dim` parameters.
pub fn initial_runs(method: Method, dim: usize) -> usize {
    match method {
        Method::Bo => 2 * dim + 2,
        Method::Ccd => (1 << dim) + 2 * dim + CCD_CENTRE_POINTS,
    }
}

/// Margins are modelled within ± this (clipped for the quadratic, [`squash`]ed for the
/// GPs).
pub const MARGIN_CLIP: f64 = 0.6;

/// The shortest length scale a margin's GP may take (unit coordinates).
pub const MIN_LENGTH_SCALE: f64 = 0.1;

/// The least noise variance of a margin's GP (of the standardised margin).
pub const MIN_NOISE_VAR: f64 = 1e-3;

/// The largest signal variance of a margin's GP (of the standardised margin). A margin
/// that changes over the whole range (shear with the heater) is a long length scale
/// with a large variance; shear's fits sat at the former bound (10), which forced them
/// to shorter length scales elsewhere or to drop the heater (length scale at its bound).
pub const MAX_SIGNAL_VAR: f64 = 1000.0;

/// Centre replicates of each central composite design.
pub const CCD_CENTRE_POINTS: usize = 4;

/// How optimistic the exploring box is, in standard deviations.
pub const OPTIMISM: f64 = 1.5;

/// Points of a Bayesian batch.
pub const BO_BATCH: usize = 3;

/// The next points to measure (unit coordinates), given the runs so far; `seed` makes
/// the initial design. BO: the initial Latin hypercube until it is measured, then a
/// batch of [`BO_BATCH`] points where the window's edge is least known (the largest
/// straddle `1.96σ − |μ|` of the smallest margin), apart from each other, among the
/// centre, corners and faces of two boxes: the widest box of the window as the means
/// give it, and that of the window as it might be (every margin at μ + [`OPTIMISM`]·σ),
/// which draws the search to where the window could still grow. CCD: the design over the bounds, then one over
/// 1.5 × the box the last one found.
pub fn next_points(method: Method, dim: usize, runs: &[Run], seed: u64) -> Vec<Vec<f64>> {
    let first = initial_runs(method, dim);
    match method {
        Method::Bo if runs.len() < first => latin_hypercube(first, dim, seed).split_off(runs.len()),
        Method::Bo => bo_batch(runs, dim),
        Method::Ccd if runs.is_empty() => ccd(&vec![0.5; dim], &vec![0.5; dim], CCD_CENTRE_POINTS),
        Method::Ccd => {
            // The next design over the window the last one found, modelled on its own.
            let Some(e) = estimate(Method::Ccd, runs) else {
                return Vec::new();
            };
            let half: Vec<f64> = e.half.iter().map(|h| (1.5 * h).max(0.05)).collect();
            ccd(&e.centre, &half, CCD_CENTRE_POINTS)
        }
    }
}

/// The runs a CCD estimate is made from: the last design's.
pub fn ccd_runs(runs: &[Run], dim: usize) -> &[Run] {
    let per = initial_runs(Method::Ccd, dim);
    let start = (runs.len().saturating_sub(1) / per) * per;
    &runs[start.min(runs.len())..]
}

fn bo_batch(runs: &[Run], dim: usize) -> Vec<Vec<f64>> {
    let Some(s) = Surrogate::fit(Method::Bo, runs) else {
        return latin_hypercube(BO_BATCH, dim, runs.len() as u64);
    };
    let e = s.estimate(runs);
    let mut batch: Vec<Vec<f64>> = Vec::new();
    // The window as it might be (every margin at μ + 1.5σ): its widest box shows where
    // the window could still grow; its corners and faces, with those of the box the
    // means give, are the candidates.
    let optimistic = Lattice::new(dim, &|u: &[f64]| {
        s.predict(u)
            .into_iter()
            .map(|(m, sd)| m + OPTIMISM * sd)
            .fold(f64::INFINITY, f64::min)
    });
    let (oc, oh) = widest_centre(&e.centre, &|u: &[f64]| optimistic.at(u) >= 0.0);
    let mut edge: Vec<Vec<f64>> = vec![oc.clone()];
    for (c, h) in [(&oc, &oh), (&e.centre, &e.half)] {
        for p in box_points(c, h) {
            if &p != c {
                edge.push(p.into_iter().map(|v| v.clamp(0.0, 1.0)).collect());
            }
        }
    }
    let straddle = |u: &[f64]| {
        let p = s.predict(u);
        let (m, sd) = p
            .iter()
            .copied()
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .unwrap_or((0.0, 0.0));
        1.96 * sd - m.abs()
    };
    let mut scored: Vec<(f64, Vec<f64>)> = edge.into_iter().map(|p| (straddle(&p), p)).collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (_, p) in scored {
        if batch.len() >= BO_BATCH {
            break;
        }
        let far = batch.iter().chain(runs.iter().map(|r| &r.at)).all(|q| {
            q.iter()
                .zip(&p)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                .sqrt()
                > 0.04
        });
        if far {
            batch.push(p);
        }
    }
    if batch.is_empty() {
        batch.push(oc);
    }
    batch
}

#[cfg(test)]
mod surrogates {
    use super::*;

    #[test]
    fn a_gp_learns_a_smooth_margin_and_knows_where_it_does_not_know() {
        let f = |u: &[f64]| (3.0 * u[0]).sin() + 0.5 * u[1] * u[1];
        let x = latin_hypercube(30, 2, 7);
        let y: Vec<f64> = x.iter().map(|u| f(u)).collect();
        let gp = Gp::fit(&x, &y).unwrap();
        for u in latin_hypercube(20, 2, 99) {
            let (m, sd) = gp.predict(&u);
            assert!((m - f(&u)).abs() < 0.05, "{u:?}: {m} vs {}", f(&u));
            assert!(sd < 0.1);
        }
        // Far from the data (one corner only seen): less sure.
        let near = Gp::fit(&x[..5], &y[..5]).unwrap();
        let seen = near.predict(&x[0]).1;
        assert!(near.predict(&[1.0, 1.0]).1 > seen, "{seen}");
    }

    #[test]
    fn a_central_composite_design_fits_a_quadratic_exactly() {
        let q = |u: &[f64]| 1.0 + u[0] - 2.0 * u[1] + 3.0 * u[0] * u[1] - u[2] * u[2];
        let pts = ccd(&[0.5; 3], &[0.4; 3], 3);
        assert_eq!(pts.len(), 8 + 6 + 3);
        let y: Vec<f64> = pts.iter().map(|u| q(u)).collect();
        let fit = Quadratic::fit(&pts, &y).unwrap();
        for u in latin_hypercube(10, 3, 1) {
            assert!((fit.predict(&u) - q(&u)).abs() < 1e-6);
        }
        // The Latin hypercube has one point in each of n slices of every axis.
        let lhs = latin_hypercube(12, 3, 5);
        for axis in 0..3 {
            let mut cells: Vec<usize> = lhs.iter().map(|p| (p[axis] * 12.0) as usize).collect();
            cells.sort_unstable();
            assert_eq!(cells, (0..12).collect::<Vec<_>>());
        }
    }
}

#[cfg(test)]
mod boxes {
    #[test]
    fn the_largest_box_in_a_four_dimensional_ellipsoid() {
        let a = [0.1, 0.15, 0.2, 0.25];
        let m = |u: &[f64]| {
            1.0 - u
                .iter()
                .zip(a)
                .map(|(v, a)| ((v - 0.5) / a).powi(2))
                .sum::<f64>()
        };
        let (c, _) = super::maximise(&m, 4, &[]);
        let (w, h) = super::widest_centre(&c, &|u: &[f64]| m(u) >= 0.0);
        // Half-widths a/√d, centred.
        for i in 0..4 {
            assert!((w[i] - 0.5).abs() < 0.01, "{w:?}");
            assert!((h[i] - a[i] / 2.0).abs() < 0.03 * a[i], "{h:?}");
        }
    }
}

/// The characteristics a window is judged on, in [`measured_margins`]' order.
pub const CHARACTERISTICS: [&str; 5] = ["shear", "pull", "ball_small", "ball_large", "crater"];

/// The limits a run is judged against (the recipe's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub pull_min_gf: f64,
    pub shear_min_gf: f64,
    pub ball_um: [f64; 2],
}

/// What the station knows of one test wire of a run: its verdict (stuck or not), the
/// ball diameter it measured, and the bench's pull and shear results.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sample {
    /// The ball or the stitch did not stick (NSOP/NSOL): nothing to test, strength 0.
    pub non_stick: bool,
    pub ball_um: Option<f64>,
    pub pull_gf: Option<f64>,
    pub shear_gf: Option<f64>,
    /// The pad under the ball cracked (a test's failure mode).
    pub cratered: bool,
}

/// Crater share of a run's tests at which its crater guard reaches 0.
pub const CRATER_GUARD_SHARE: f64 = 0.1;

fn mean_sd(v: &[f64]) -> Option<(f64, f64)> {
    if v.len() < 2 {
        return None;
    }
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    Some((m, var.sqrt()))
}

/// A run's margins from its test wires, each as a share of its limit (≥ 0: in spec):
/// shear and pull at mean − 3 s over their minimums (a wire that did not stick counts
/// as 0 gf), the ball diameter at mean ∓ 3 s inside its limits over half their span, and
/// a crater guard `1 − share / 10 %`. A characteristic without two measurements is −1.
pub fn measured_margins(samples: &[Sample], lim: &Limits) -> [f64; 5] {
    let strength = |f: fn(&Sample) -> Option<f64>| -> Vec<f64> {
        samples
            .iter()
            .filter_map(|s| if s.non_stick { Some(0.0) } else { f(s) })
            .collect()
    };
    let lower =
        |v: Vec<f64>, min: f64| mean_sd(&v).map_or(-1.0, |(m, s)| (m - 3.0 * s - min) / min);
    let shear = lower(strength(|s| s.shear_gf), lim.shear_min_gf);
    let pull = lower(strength(|s| s.pull_gf), lim.pull_min_gf);
    let balls: Vec<f64> = samples
        .iter()
        .filter(|s| !s.non_stick)
        .filter_map(|s| s.ball_um)
        .collect();
    let half = (lim.ball_um[1] - lim.ball_um[0]) / 2.0;
    let (small, large) = mean_sd(&balls).map_or((-1.0, -1.0), |(m, s)| {
        (
            (m - 3.0 * s - lim.ball_um[0]) / half,
            (lim.ball_um[1] - m - 3.0 * s) / half,
        )
    });
    let tested = samples
        .iter()
        .filter(|s| s.pull_gf.is_some() || s.shear_gf.is_some())
        .count();
    let craters = samples.iter().filter(|s| s.cratered).count();
    let crater = if tested == 0 {
        -1.0
    } else {
        1.0 - craters as f64 / tested as f64 / CRATER_GUARD_SHARE
    };
    [shear, pull, small, large, crater]
}

#[cfg(test)]
mod measured {
    use super::*;

    #[test]
    fn margins_from_test_wires() {
        let lim = Limits {
            pull_min_gf: 3.0,
            shear_min_gf: 12.0,
            ball_um: [44.0, 52.0],
        };
        let wire = |pull: f64, shear: f64, ball: f64| Sample {
            ball_um: Some(ball),
            pull_gf: Some(pull),
            shear_gf: Some(shear),
            ..Sample::default()
        };
        let good = [
            wire(7.0, 20.0, 48.0),
            wire(7.2, 21.0, 48.5),
            wire(6.8, 19.0, 47.5),
        ];
        let m = measured_margins(&good, &lim);
        // Shear: mean 20, s 1 → (20 − 3 − 12)/12.
        assert!((m[0] - 5.0 / 12.0).abs() < 1e-9, "{m:?}");
        assert!(m[2] > 0.0 && m[3] > 0.0 && m[4] == 1.0, "{m:?}");
        // A wire that did not stick counts as 0 gf: the run fails shear and pull.
        let mut bad = good.to_vec();
        bad.push(Sample {
            non_stick: true,
            ..Sample::default()
        });
        let b = measured_margins(&bad, &lim);
        assert!(b[0] < 0.0 && b[1] < 0.0, "{b:?}");
        // Craters: one in three tests is past the guard.
        let mut cr = good;
        cr[0].cratered = true;
        assert!(measured_margins(&cr, &lim)[4] < 0.0);
        assert_eq!(measured_margins(&[], &lim), [-1.0; 5]);
    }
}

// ---- The parameters of a window search and the recipe they live in. ----

/// The limits of a recipe.
pub fn limits_of(r: &Recipe) -> Limits {
    Limits {
        pull_min_gf: r.limits.pull_min_gf.0,
        shear_min_gf: r.limits.shear_min_gf.0,
        ball_um: [r.limits.ball_um[0].0, r.limits.ball_um[1].0],
    }
}

/// The parameters a window can be searched over (the four ball-side ones and
/// the stitch's).
pub const WINDOW_PARAMS: [Param; 7] = [
    Param::BallUsPower,
    Param::BallForce,
    Param::BallTime,
    Param::HeaterTemp,
    Param::StitchUsPower,
    Param::StitchForce,
    Param::StitchTime,
];

/// Sets one window parameter of a recipe.
pub fn set(r: &mut Recipe, p: Param, v: f64) {
    match p {
        Param::BallUsPower => r.ball.us_power_pct = Percent(v),
        Param::BallForce => r.ball.force_gf = GramForce(v),
        Param::BallTime => r.ball.time_ms = Millis(v),
        Param::HeaterTemp => r.heater_temp_c = Celsius(v),
        Param::StitchUsPower => r.stitch.us_power_pct = Percent(v),
        Param::StitchForce => r.stitch.force_gf = GramForce(v),
        Param::StitchTime => r.stitch.time_ms = Millis(v),
        _ => {}
    }
}

/// Reads one window parameter of a recipe.
pub fn get(r: &Recipe, p: Param) -> f64 {
    match p {
        Param::BallUsPower => r.ball.us_power_pct.0,
        Param::BallForce => r.ball.force_gf.0,
        Param::BallTime => r.ball.time_ms.0,
        Param::HeaterTemp => r.heater_temp_c.0,
        Param::StitchUsPower => r.stitch.us_power_pct.0,
        Param::StitchForce => r.stitch.force_gf.0,
        Param::StitchTime => r.stitch.time_ms.0,
        _ => f64::NAN,
    }
}

/// The starting recipe for a wire: the built-in recipe of the material (its diameter
/// replaced when another is asked for).
pub fn built_in(material: WireMaterial, diameter_um: f64) -> Recipe {
    let mut r = if material.needs_forming_gas() {
        Recipe::default_cu()
    } else {
        Recipe::default_au()
    };
    r.wire.material = material;
    if (r.wire.diameter_um.0 - diameter_um).abs() > 1.0 {
        r.wire.diameter_um = Micrometres(diameter_um);
    }
    r
}

/// A wire, `MATERIAL:DIAMETER_UM` (`Au:25.4`, `cu:20`).
#[derive(Debug, thiserror::Error)]
pub enum WindowArgError {
    #[error("{0:?}: a wire is MATERIAL:DIAMETER_UM, e.g. Au:25.4 or Cu:20 (材料:直径µm)")]
    Wire(String),
    #[error("{0:?} is not a window parameter (not one of {1}) (不是工艺窗口参数)")]
    Param(String, String),
}

pub fn parse_wire(s: &str) -> Result<(WireMaterial, f64), WindowArgError> {
    let bad = || WindowArgError::Wire(s.to_string());
    let (m, d) = s.split_once(':').ok_or_else(bad)?;
    let material = WireMaterial::ALL
        .into_iter()
        .find(|x| x.to_string().eq_ignore_ascii_case(m.trim()))
        .ok_or_else(bad)?;
    let d: f64 = d.trim().parse().map_err(|_| bad())?;
    let [lo, hi] = recipe_range(Param::WireDiameter);
    if !(lo..=hi).contains(&d) {
        return Err(bad());
    }
    Ok((material, d))
}

/// A window parameter by its document key, `.` or `_` alike (`ball_us_power_pct`).
pub fn parse_param(s: &str) -> Result<Param, WindowArgError> {
    let norm = |k: &str| k.replace('.', "_");
    WINDOW_PARAMS
        .into_iter()
        .find(|p| norm(p.spec().key) == norm(s.trim()))
        .ok_or_else(|| {
            WindowArgError::Param(
                s.to_string(),
                WINDOW_PARAMS.map(|p| p.spec().key).join(", "),
            )
        })
}

pub fn parse_params(v: &[String]) -> Result<Vec<Param>, WindowArgError> {
    v.iter().map(|s| parse_param(s)).collect()
}

/// The search space of a parameter: the recipe's allowed range.
pub fn recipe_range(p: Param) -> [f64; 2] {
    [p.spec().min(), p.spec().max()]
}

/// The bounds a search gets when the engineer names none: power, force and time from
/// half to 2.5 × the starting recipe's value, temperatures from 50 °C below to 80 °C
/// above it, each cut to the recipe range.
pub fn default_bounds(start: &Recipe, params: &[Param]) -> Bounds {
    Bounds::new(
        params
            .iter()
            .map(|p| {
                let v = get(start, *p);
                let [lo, hi] = recipe_range(*p);
                let [a, b] = match p {
                    Param::HeaterTemp => [v - 50.0, v + 80.0],
                    _ => [v * 0.5, v * 2.5],
                };
                [a.max(lo), b.min(hi)]
            })
            .collect(),
    )
}

/// Why bounds were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BoundsError {
    #[error(
        "{key}: bounds {lo}..{hi} leave the recipe range {min}..{max} / {key} 的范围 {lo}..{hi} 超出配方允许范围 {min}..{max}"
    )]
    OutsideRange {
        key: &'static str,
        lo: f64,
        hi: f64,
        min: f64,
        max: f64,
    },
    #[error("{key}: bounds {lo}..{hi} are empty / {key} 的范围 {lo}..{hi} 为空")]
    Empty { key: &'static str, lo: f64, hi: f64 },
    #[error("{0:?}: bounds are PARAM=LO:HI, e.g. ball_force_gf=15:70 / 范围格式为 参数=下限:上限")]
    Syntax(String),
}

/// Checks bounds against the recipe ranges (never outside them) and that none is empty.
pub fn check_bounds(params: &[Param], b: &Bounds) -> Result<(), BoundsError> {
    for (p, [lo, hi]) in params.iter().zip(&b.0) {
        let [min, max] = recipe_range(*p);
        let key = p.spec().key;
        if lo >= hi || lo.is_nan() || hi.is_nan() {
            return Err(BoundsError::Empty {
                key,
                lo: *lo,
                hi: *hi,
            });
        }
        if *lo < min - 1e-9 || *hi > max + 1e-9 {
            return Err(BoundsError::OutsideRange {
                key,
                lo: *lo,
                hi: *hi,
                min,
                max,
            });
        }
    }
    Ok(())
}

/// One `PARAM=LO:HI` of the command line.
pub fn parse_bound(s: &str) -> Result<(Param, [f64; 2]), BoundsError> {
    let bad = || BoundsError::Syntax(s.to_string());
    let (k, r) = s.split_once('=').ok_or_else(bad)?;
    let p = parse_param(k).map_err(|_| bad())?;
    let (a, b) = r.split_once(':').ok_or_else(bad)?;
    let lo: f64 = a.trim().parse().map_err(|_| bad())?;
    let hi: f64 = b.trim().parse().map_err(|_| bad())?;
    Ok((p, [lo, hi]))
}

#[cfg(test)]
mod bounds_of_a_session {
    use super::*;

    #[test]
    fn default_bounds_hold_the_built_in_recipes_and_stay_in_range() {
        let p = [
            Param::BallUsPower,
            Param::BallForce,
            Param::BallTime,
            Param::HeaterTemp,
        ];
        for r in [Recipe::default_au(), Recipe::default_cu()] {
            let b = default_bounds(&r, &p);
            assert!(check_bounds(&p, &b).is_ok(), "{b:?}");
            for (i, q) in p.iter().enumerate() {
                let v = get(&r, *q);
                assert!(b.0[i][0] < v && v < b.0[i][1], "{q}: {b:?}");
            }
        }
        let (q, lohi) = parse_bound("ball.force_gf=15:70").unwrap_or((Param::LoopHeight, [0.0; 2]));
        assert_eq!((q, lohi), (Param::BallForce, [15.0, 70.0]));
        assert!(parse_bound("ball_force_gf=15").is_err());
        let wide = Bounds::new(vec![[0.0, 101.0]]);
        let e = check_bounds(&[Param::BallUsPower], &wide).unwrap_err();
        assert!(e.to_string().contains("ball.us_power_pct"), "{e}");
        assert!(check_bounds(&[Param::BallUsPower], &Bounds::new(vec![[50.0, 50.0]])).is_err());
    }
}
