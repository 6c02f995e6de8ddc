//! Drift statistics: EWMA and tabular CUSUM charts on standardised values, their average
//! run lengths (ARL) by a Markov-chain approximation (Brook & Evans 1972; Lucas &
//! Saccucci 1990 for the EWMA), and the standard normal distribution they rest on.
//!
//! The charts take standardised observations `z = (x − μ₀) / σ` (of a single feature, or
//! of a subgroup mean with σ = σₓ/√n). Their parameters are chosen from the ARL: in
//! control a false alarm every ARL₀ points, after a shift of δ σ a signal within ARL(δ)
//! points. Unit tests pin the published values (EWMA λ = 0.5, L = 3.071: ARL₀ ≈ 500;
//! CUSUM k = 0.5, h = 4: ARL₀ ≈ 168 two-sided, ARL(1 σ) ≈ 8.38).

/// The standard normal distribution function Φ(x).
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// The complementary error function, |relative error| < 1.2·10⁻⁷ everywhere (the
/// Chebyshev fit of Numerical Recipes, 2nd ed., §6.2).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// An EWMA chart on standardised values: `zₜ = λ xₜ + (1 − λ) zₜ₋₁`, signal when
/// |zₜ| > L σ_z with the asymptotic σ_z = √(λ / (2 − λ)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ewma {
    pub lambda: f64,
    pub l: f64,
}

impl Ewma {
    /// The control limit on z.
    pub fn limit(&self) -> f64 {
        self.l * (self.lambda / (2.0 - self.lambda)).sqrt()
    }

    /// The design with smoothing `lambda` whose in-control ARL is `arl0` (L found by
    /// bisection on the Markov-chain ARL).
    pub fn for_arl0(lambda: f64, arl0: f64) -> Ewma {
        let (mut lo, mut hi) = (1.0f64, 8.0f64);
        for _ in 0..40 {
            let l = 0.5 * (lo + hi);
            if (Ewma { lambda, l }).arl(0.0, 151) < arl0 {
                lo = l;
            } else {
                hi = l;
            }
        }
        Ewma {
            lambda,
            l: 0.5 * (lo + hi),
        }
    }

    /// The ARL for a mean shift of `shift` σ, starting at z = 0, with an `m`-state
    /// Markov chain over the in-control region (odd `m`; 201 is within 0.1 %).
    pub fn arl(&self, shift: f64, m: usize) -> f64 {
        let m = m | 1;
        let ucl = self.limit();
        let w = 2.0 * ucl / m as f64;
        let centre = |i: usize| -ucl + (i as f64 + 0.5) * w;
        let lam = self.lambda;
        // From state i to state j: the next z falls in j's cell.
        let p = |i: usize, j: usize| {
            let from = (1.0 - lam) * centre(i);
            let lo = (centre(j) - w / 2.0 - from) / lam - shift;
            let hi = (centre(j) + w / 2.0 - from) / lam - shift;
            normal_cdf(hi) - normal_cdf(lo)
        };
        let arl = solve_arl(m, p);
        arl[m / 2]
    }
}

/// A two-sided tabular CUSUM on standardised values: `S⁺ₜ = max(0, S⁺ₜ₋₁ + xₜ − k)`,
/// `S⁻ₜ = max(0, S⁻ₜ₋₁ − xₜ − k)`, signal when either exceeds h.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cusum {
    pub k: f64,
    pub h: f64,
}

impl Cusum {
    /// The ARL of the upper side alone for a shift of `shift` σ, from S = 0, with an
    /// `m`-state Markov chain (Brook & Evans: state 0 is S = 0, the others cells of width
    /// 2h / (2m − 1)).
    pub fn arl_upper(&self, shift: f64, m: usize) -> f64 {
        let w = 2.0 * self.h / (2.0 * m as f64 - 1.0);
        let k = self.k;
        let p = |i: usize, j: usize| {
            let from = i as f64 * w;
            if j == 0 {
                normal_cdf(w / 2.0 - from + k - shift)
            } else {
                let lo = (j as f64 - 0.5) * w - from + k - shift;
                let hi = (j as f64 + 0.5) * w - from + k - shift;
                normal_cdf(hi) - normal_cdf(lo)
            }
        };
        solve_arl(m, p)[0]
    }

    /// The two-sided ARL, `1 / (1/ARL⁺ + 1/ARL⁻)` (exact for k ≥ h/2 … and within a
    /// fraction of a per cent for the usual designs, as Montgomery tabulates it).
    pub fn arl(&self, shift: f64, m: usize) -> f64 {
        let up = self.arl_upper(shift, m);
        let down = self.arl_upper(-shift, m);
        1.0 / (1.0 / up + 1.0 / down)
    }
}

/// ARLs from every transient state: solves `(I − R) a = 1` by Gaussian elimination with
/// partial pivoting (R: transitions among the in-control states).
fn solve_arl(m: usize, p: impl Fn(usize, usize) -> f64) -> Vec<f64> {
    let mut a = vec![0.0; m * (m + 1)];
    let cols = m + 1;
    for i in 0..m {
        for j in 0..m {
            a[i * cols + j] = if i == j { 1.0 } else { 0.0 } - p(i, j);
        }
        a[i * cols + m] = 1.0;
    }
    for c in 0..m {
        let piv = (c..m)
            .max_by(|&x, &y| a[x * cols + c].abs().total_cmp(&a[y * cols + c].abs()))
            .unwrap_or(c);
        if piv != c {
            for j in 0..cols {
                a.swap(c * cols + j, piv * cols + j);
            }
        }
        let d = a[c * cols + c];
        if d == 0.0 {
            continue;
        }
        for r in c + 1..m {
            let f = a[r * cols + c] / d;
            if f != 0.0 {
                for j in c..cols {
                    a[r * cols + j] -= f * a[c * cols + j];
                }
            }
        }
    }
    let mut x = vec![0.0; m];
    for r in (0..m).rev() {
        let mut s = a[r * cols + m];
        for j in r + 1..m {
            s -= a[r * cols + j] * x[j];
        }
        let d = a[r * cols + r];
        x[r] = if d == 0.0 { f64::INFINITY } else { s / d };
    }
    x
}

/// Which way a chart signalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    /// `up` / `down` (the `{S}/health` contract's words).
    pub fn name(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}

/// A running EWMA chart on standardised values.
#[derive(Debug, Clone)]
pub struct EwmaChart {
    pub design: Ewma,
    z: f64,
}

impl EwmaChart {
    pub fn new(design: Ewma) -> Self {
        EwmaChart { design, z: 0.0 }
    }

    /// The statistic now.
    pub fn value(&self) -> f64 {
        self.z
    }

    /// Takes one standardised value; `Some` while out of control.
    pub fn push(&mut self, x: f64) -> Option<Direction> {
        let l = self.design.lambda;
        self.z = l * x + (1.0 - l) * self.z;
        let lim = self.design.limit();
        if self.z > lim {
            Some(Direction::Up)
        } else if self.z < -lim {
            Some(Direction::Down)
        } else {
            None
        }
    }

    pub fn reset(&mut self) {
        self.z = 0.0;
    }
}

/// A running two-sided tabular CUSUM on standardised values.
#[derive(Debug, Clone)]
pub struct CusumChart {
    pub design: Cusum,
    up: f64,
    down: f64,
}

impl CusumChart {
    pub fn new(design: Cusum) -> Self {
        CusumChart {
            design,
            up: 0.0,
            down: 0.0,
        }
    }

    /// (S⁺, S⁻) now.
    pub fn value(&self) -> (f64, f64) {
        (self.up, self.down)
    }

    /// Takes one standardised value; `Some` while out of control.
    pub fn push(&mut self, x: f64) -> Option<Direction> {
        let k = self.design.k;
        self.up = (self.up + x - k).max(0.0);
        self.down = (self.down - x - k).max(0.0);
        if self.up > self.design.h {
            Some(Direction::Up)
        } else if self.down > self.design.h {
            Some(Direction::Down)
        } else {
            None
        }
    }

    pub fn reset(&mut self) {
        self.up = 0.0;
        self.down = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within(v: f64, want: f64, rel: f64) -> bool {
        ((v - want) / want).abs() <= rel
    }

    #[test]
    fn the_normal_distribution() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        // Φ(1.96) = 0.975002, Φ(−3) = 0.001350, Φ(3.071) = 0.998934.
        assert!((normal_cdf(1.96) - 0.975_002).abs() < 1e-6);
        assert!((normal_cdf(-3.0) - 0.001_350).abs() < 1e-6);
        assert!((normal_cdf(3.071) - 0.998_933_6).abs() < 1e-6);
    }

    /// Lucas & Saccucci (1990), Table 3: λ = 0.5, L = 3.071 → ARL₀ = 500.
    #[test]
    fn ewma_arl_matches_the_published_table() {
        let e = Ewma {
            lambda: 0.5,
            l: 3.071,
        };
        let arl0 = e.arl(0.0, 201);
        println!(
            "EWMA λ=0.5 L=3.071: ARL0 {arl0:.1}, ARL(1σ) {:.2}",
            e.arl(1.0, 201)
        );
        assert!(within(arl0, 500.0, 0.01), "ARL0 {arl0}");
        // A 1σ shift is found within tens of points (printed: the design's trade-off
        // against the CUSUM's 8.38).
        let arl1 = e.arl(1.0, 201);
        assert!(arl1 > 8.0 && arl1 < 40.0, "ARL(1) {arl1}");
        // The chain converges: a finer one agrees.
        assert!(within(e.arl(0.0, 401), arl0, 0.002));
    }

    /// Montgomery, Introduction to SQC, Table 9.3 (two-sided tabular CUSUM): k = 0.5,
    /// h = 4 → ARL₀ = 168, ARL at a 1 σ shift = 8.38.
    #[test]
    fn cusum_arl_matches_the_published_table() {
        let c = Cusum { k: 0.5, h: 4.0 };
        let arl0 = c.arl(0.0, 200);
        let arl1 = c.arl(1.0, 200);
        println!("CUSUM k=0.5 h=4: ARL0 {arl0:.1}, ARL(1σ) {arl1:.2}");
        assert!(within(arl0, 168.0, 0.01), "ARL0 {arl0}");
        assert!(within(arl1, 8.38, 0.01), "ARL(1) {arl1}");
        // One-sided in control: twice the two-sided.
        assert!(within(c.arl_upper(0.0, 200), 336.0, 0.01));
    }

    #[test]
    fn the_charts_signal_a_shift_and_not_noise() {
        let mut e = EwmaChart::new(Ewma {
            lambda: 0.5,
            l: 3.071,
        });
        let mut c = CusumChart::new(Cusum { k: 0.5, h: 4.0 });
        // Zero noise: never.
        for _ in 0..1000 {
            assert_eq!(e.push(0.0), None);
            assert_eq!(c.push(0.0), None);
        }
        // A 1.5 σ step down: the CUSUM within 5 points (4 / (1.5 − 0.5) + 1).
        let n = (1..=10).find(|_| c.push(-1.5).is_some());
        assert_eq!(n, Some(5));
        assert_eq!(c.push(-1.5), Some(Direction::Down));
        // The EWMA: z → 2.5·(1 − 0.5ⁿ) > 3.071·√(1/3) = 1.773 at n = 2.
        let n = (1..=10).find(|_| e.push(2.5).is_some());
        assert_eq!(n, Some(2));
        c.reset();
        e.reset();
        assert_eq!(c.value(), (0.0, 0.0));
        assert_eq!(e.value(), 0.0);
    }
}
