//! Process health: the early warning of the data closed loop. Every wire's curve
//! features, predicted strength, the heater reading and the capillary's touchdowns go in;
//! out come warnings — `drift` (alarm 910), `capillary` (911), `yield_forecast` (912) —
//! each with the likely causes ranked ([`crate::cause::rank`]) and, for forecasts, how
//! many wires (or touchdowns) are left.
//!
//! How it decides:
//! * **Subgroups** of 50 wires; the first 40 after start are the baseline (mean μ₀ and
//!   standard deviation σ₀ of the subgroup means of each signal).
//! * **Drift charts**: an EWMA per signal on `z = (x̄ − μ₀) / σ`, designed from its ARL
//!   ([`crate::drift::Ewma::for_arl0`]: λ = 0.1, in-control ARL 10⁷ subgroups, so a
//!   chart of 7 signals sees a false alarm far less than once a week at 20 wires/s).
//!   `σ = max(σ₀, d·|μ₀| / limit)` with `d` the signal's *practical tolerance*: a shift
//!   smaller than `d` does not matter to the product, and normal capillary wear (the
//!   weld signals fall ≈ 10 % over a capillary's life and come back at its change) must
//!   not warn. The US energy (which wear does not lower) is watched to 3 %, the heater
//!   reading to 3 °C, the weld signals to 15 %, the non-stick share to 2 points.
//!   A multivariate statistic (MEWMA, Lowry et al. 1992) on the five curve signals
//!   catches a change of their pattern that no single chart shows.
//! * **Forecasts** from trends of 1 000-wire blocks of the predicted strength: the
//!   yield forecast (912) fits the predicted shear and pull against the wire count and
//!   finds where the share predicted below the recipe's minimum takes the yield under the
//!   limit; the capillary forecast (911) fits them against the touchdowns of the current
//!   capillary and warns when its bonds are forecast to leave the window before the
//!   capillary's counted life. A straight line is optimistic for a convex wear curve, so
//!   the fit uses the newest blocks only and the lower tail (`mean − 3σ` of the
//!   prediction) rather than the mean.
//!
//! Pure: the station feeds it ([`Monitor::push`]) and acts on what it returns.

use crate::cause::{Cause, Evidence, rank};
use crate::drift::{Direction, Ewma, EwmaChart, normal_cdf};
use crate::forecast::Trend;

/// Wires per subgroup.
pub const SUBGROUP: usize = 50;
/// Wires per forecast block.
pub const BLOCK: usize = 1000;

/// The signals the monitor charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    BallUsEnergy,
    BallDeform,
    BallImpedanceDrop,
    StitchDeform,
    StitchImpedanceDrop,
    Heater,
    NonStick,
    PredictedShear,
    PredictedPull,
    /// The multivariate statistic over the five curve signals.
    Pattern,
    Yield,
}

impl Signal {
    /// The `{S}/health` contract's `feature` word.
    pub fn name(self) -> &'static str {
        match self {
            Signal::BallUsEnergy => "ball_us_energy_mj",
            Signal::BallDeform => "ball_deform_um",
            Signal::BallImpedanceDrop => "ball_impedance_drop_pct",
            Signal::StitchDeform => "stitch_deform_um",
            Signal::StitchImpedanceDrop => "stitch_impedance_drop_pct",
            Signal::Heater => "heater_offset_c",
            Signal::NonStick => "nsop_share",
            Signal::PredictedShear => "predicted_shear_gf",
            Signal::PredictedPull => "predicted_pull_gf",
            Signal::Pattern => "multivariate",
            Signal::Yield => "yield",
        }
    }
}

/// The univariate charts, in order of [`Monitor`]'s arrays.
const CHARTED: [Signal; 9] = [
    Signal::BallUsEnergy,
    Signal::BallDeform,
    Signal::BallImpedanceDrop,
    Signal::StitchDeform,
    Signal::StitchImpedanceDrop,
    Signal::Heater,
    Signal::NonStick,
    Signal::PredictedShear,
    Signal::PredictedPull,
];
const N: usize = CHARTED.len();
/// The curve signals of the multivariate statistic (the first five).
pub const CURVE: usize = 5;

/// A wire's curve signals in [`WireObs::curve`] order, from its ball's and its stitch's
/// features.
pub fn curve(ball: &crate::features::Features, stitch: &crate::features::Features) -> [f64; CURVE] {
    [
        f64::from(ball.us_energy_mj),
        f64::from(ball.deform_um),
        f64::from(ball.impedance_drop_pct),
        f64::from(stitch.deform_um),
        f64::from(stitch.impedance_drop_pct),
    ]
}

/// A practical tolerance: relative to the baseline mean, or absolute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tolerance {
    Relative(f64),
    Absolute(f64),
}

/// What the monitor is tuned to.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthConfig {
    /// Subgroups of the baseline.
    pub baseline_subgroups: usize,
    /// The EWMA design of every chart.
    pub ewma: Ewma,
    /// Practical tolerance per charted signal (order of [`CHARTED`]).
    pub tolerance: [Tolerance; N],
    /// Subgroups a chart must stay out of its limits before a drift is raised, and back
    /// inside before it clears (hysteresis: 100 subgroups, 5 000 wires).
    pub confirm: u32,
    pub clear_after: u32,
    /// The station's yield limit, %.
    pub yield_limit_pct: f64,
    /// The recipe's minimum shear and pull, gf.
    pub shear_min_gf: f64,
    pub pull_min_gf: f64,
    /// The capillary's counted life, touchdowns.
    pub capillary_life: u64,
    /// A yield forecast within this many wires raises 912.
    pub horizon_wires: u64,
    /// Blocks a trend is fitted on (the newest).
    pub trend_blocks: usize,
}

impl HealthConfig {
    /// The station's defaults for a recipe's limits and capillary life.
    pub fn new(shear_min_gf: f64, pull_min_gf: f64, capillary_life: u64) -> HealthConfig {
        use Tolerance::{Absolute, Relative};
        HealthConfig {
            baseline_subgroups: 40,
            ewma: Ewma::for_arl0(0.1, 1e7),
            tolerance: [
                Relative(0.03),
                Relative(0.15),
                Relative(0.15),
                Relative(0.15),
                Relative(0.15),
                Absolute(3.0),
                Absolute(0.02),
                Relative(0.15),
                Relative(0.15),
            ],
            confirm: 3,
            clear_after: 100,
            yield_limit_pct: 98.0,
            shear_min_gf,
            pull_min_gf,
            capillary_life,
            horizon_wires: 600_000,
            trend_blocks: 100,
        }
    }
}

/// One wire as the station saw it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WireObs {
    /// Controller time of its ball bond, µs.
    pub time_us: u64,
    /// Ball: US energy (mJ), Z sink (µm), impedance drop (%); stitch: Z sink, impedance
    /// drop.
    pub curve: [f64; CURVE],
    /// The heater reading minus its set point, °C (`None`: no reading yet).
    pub heater_offset_c: Option<f64>,
    /// Touchdowns of the current capillary.
    pub touchdowns: u64,
    /// The ball did not stick (the station's verdict).
    pub non_stick: bool,
    /// The station rejected the wire.
    pub rejected: bool,
    /// Predicted (gf, sd) of shear and pull, when models exist.
    pub shear: Option<(f64, f64)>,
    pub pull: Option<(f64, f64)>,
}

/// The kinds of the `{S}/health` contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Drift,
    Capillary,
    YieldForecast,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Drift => "drift",
            Kind::Capillary => "capillary",
            Kind::YieldForecast => "yield_forecast",
        }
    }

    /// The station alarm that stands for it.
    pub fn alarm(self) -> u16 {
        match self {
            Kind::Drift => 910,
            Kind::Capillary => 911,
            Kind::YieldForecast => 912,
        }
    }
}

/// A warning raised.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    pub kind: Kind,
    pub signal: Signal,
    pub direction: Direction,
    /// Controller time of the newest wire the decision used.
    pub at_time_us: u64,
    /// Forecasts: wires (yield) or touchdowns (capillary) left.
    pub eta: Option<u64>,
    /// Wires seen when it was raised.
    pub at_wire: u64,
    pub causes: Vec<(Cause, f64)>,
}

impl Warning {
    /// Its forecast in wires (a capillary forecast counts touchdowns, two per wire).
    pub fn eta_wires(&self) -> Option<u64> {
        self.eta.map(|e| {
            if self.kind == Kind::Capillary {
                e / 2
            } else {
                e
            }
        })
    }
}

/// What a push decided.
#[derive(Debug, Clone, PartialEq)]
pub enum HealthEvent {
    Raised(Warning),
    Cleared { kind: Kind, at_time_us: u64 },
}

/// Running sums of one subgroup.
#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    n: [f64; N],
    sum: [f64; N],
    sumsq: [f64; N],
    sd_sum: [f64; 2],
    rejected: f64,
    wires: f64,
}

impl Acc {
    fn add(&mut self, i: usize, x: f64) {
        self.n[i] += 1.0;
        self.sum[i] += x;
        self.sumsq[i] += x * x;
    }
    fn mean(&self, i: usize) -> Option<f64> {
        (self.n[i] > 0.0).then(|| self.sum[i] / self.n[i])
    }
    fn var(&self, i: usize) -> f64 {
        if self.n[i] < 2.0 {
            return 0.0;
        }
        let m = self.sum[i] / self.n[i];
        ((self.sumsq[i] - self.n[i] * m * m) / (self.n[i] - 1.0)).max(0.0)
    }
}

/// A block of 1 000 wires for the forecasts.
#[derive(Debug, Clone, Copy)]
struct Block {
    wire: f64,
    touchdowns: f64,
    /// Mean predicted shear, pull and their mean sd.
    strength: [Option<(f64, f64)>; 2],
    reject_share: f64,
}

/// Running correlation of two series.
#[derive(Debug, Clone, Copy, Default)]
struct Corr {
    n: f64,
    sx: f64,
    sy: f64,
    sxx: f64,
    syy: f64,
    sxy: f64,
}

impl Corr {
    fn add(&mut self, x: f64, y: f64) {
        self.n += 1.0;
        self.sx += x;
        self.sy += y;
        self.sxx += x * x;
        self.syy += y * y;
        self.sxy += x * y;
    }
    fn r(&self) -> f64 {
        if self.n < 3.0 {
            return 0.0;
        }
        let vx = self.sxx - self.sx * self.sx / self.n;
        let vy = self.syy - self.sy * self.sy / self.n;
        let c = self.sxy - self.sx * self.sy / self.n;
        if vx <= 0.0 || vy <= 0.0 {
            0.0
        } else {
            c / (vx * vy).sqrt()
        }
    }
}

/// The multivariate EWMA: `w = λ z + (1 − λ) w`, `T² = wᵀ (λ/(2−λ) R)⁻¹ w`.
#[derive(Debug, Clone)]
struct Mewma {
    lambda: f64,
    w: [f64; CURVE],
    inv: [[f64; CURVE]; CURVE],
    h: f64,
}

impl Mewma {
    fn t2(&self) -> f64 {
        let mut s = 0.0;
        for i in 0..CURVE {
            for j in 0..CURVE {
                s += self.w[i] * self.inv[i][j] * self.w[j];
            }
        }
        s
    }
}

/// The warning state of one kind.
#[derive(Debug, Clone, Default)]
struct Active {
    raised: Option<Warning>,
    out: u32,
    inside: u32,
}

/// The process monitor of one station.
#[derive(Debug, Clone)]
pub struct Monitor {
    cfg: HealthConfig,
    wires: u64,
    acc: Acc,
    block: Acc,
    block_td: f64,
    /// Baseline subgroup means per signal.
    /// Baseline subgroup means per signal (until its baseline is learned), and how many
    /// subgroups the first baseline has seen.
    base: [Vec<f64>; N],
    base_subgroups: usize,
    base_curve: Vec<[f64; CURVE]>,
    mu: [Option<f64>; N],
    sigma0: [f64; N],
    scale: [f64; N],
    charts: Vec<EwmaChart>,
    mewma: Option<Mewma>,
    /// Recent subgroup means (evidence window).
    recent: std::collections::VecDeque<[Option<f64>; N]>,
    blocks: std::collections::VecDeque<Block>,
    /// Blocks of the current capillary.
    capillary: Vec<Block>,
    td_corr: Corr,
    last_td: u64,
    last_time_us: u64,
    lot_changed_at: Option<u64>,
    active: [Active; 3],
    pub capillary_eta: Option<u64>,
    pub yield_eta: Option<u64>,
    /// The newest capillary forecast leaves the window before the counted life.
    wear_abnormal: bool,
}

/// Blocks a forecast needs (30 000 wires of the current capillary).
const MIN_TREND_BLOCKS: usize = 30;

/// Subgroups of evidence (the newest).
const EVIDENCE: usize = 20;

impl Monitor {
    pub fn new(cfg: HealthConfig) -> Monitor {
        let charts = vec![EwmaChart::new(cfg.ewma); N];
        Monitor {
            cfg,
            wires: 0,
            acc: Acc::default(),
            block: Acc::default(),
            block_td: 0.0,
            base: Default::default(),
            base_subgroups: 0,
            base_curve: Vec::new(),
            mu: [None; N],
            sigma0: [0.0; N],
            scale: [1.0; N],
            charts,
            mewma: None,
            recent: std::collections::VecDeque::with_capacity(EVIDENCE + 1),
            blocks: std::collections::VecDeque::new(),
            capillary: Vec::new(),
            td_corr: Corr::default(),
            last_td: 0,
            last_time_us: 0,
            lot_changed_at: None,
            active: Default::default(),
            capillary_eta: None,
            yield_eta: None,
            wear_abnormal: false,
        }
    }

    pub fn config(&self) -> &HealthConfig {
        &self.cfg
    }

    /// Wires seen.
    pub fn wires(&self) -> u64 {
        self.wires
    }

    /// Wires the baseline needs.
    pub fn baseline_wires(&self) -> u64 {
        (self.cfg.baseline_subgroups * SUBGROUP) as u64
    }

    /// Whether the newest capillary forecast leaves the window before its counted life.
    pub fn capillary_forecast_due(&self) -> bool {
        self.wear_abnormal
    }

    /// Whether the baseline is learned.
    pub fn baselined(&self) -> bool {
        self.mewma.is_some()
    }

    /// Each chart's statistic and limit now, as `(signal, ewma z, limit)`.
    pub fn charts(&self) -> Vec<(Signal, f64, f64)> {
        let lim = self.cfg.ewma.limit();
        CHARTED
            .iter()
            .zip(&self.charts)
            .map(|(s, c)| (*s, c.value(), lim))
            .collect()
    }

    /// The warnings standing now.
    pub fn active(&self) -> Vec<Warning> {
        self.active
            .iter()
            .filter_map(|a| a.raised.clone())
            .collect()
    }

    /// A lead-frame lot was scanned in (a new magazine of another lot).
    pub fn lot_scan(&mut self) {
        self.lot_changed_at = Some(self.wires);
    }

    /// Takes one wire; what it raised or cleared.
    pub fn push(&mut self, w: &WireObs) -> Vec<HealthEvent> {
        let mut out = Vec::new();
        self.wires += 1;
        self.last_time_us = w.time_us;
        if w.touchdowns + 2 * (BLOCK as u64) < self.last_td {
            self.capillary_changed(&mut out);
        }
        self.last_td = w.touchdowns;
        let mut values = [None; N];
        if !w.non_stick {
            for (v, x) in values.iter_mut().zip(w.curve) {
                *v = Some(x);
            }
        }
        values[5] = w.heater_offset_c;
        values[6] = Some(if w.non_stick { 1.0 } else { 0.0 });
        values[7] = w.shear.map(|s| s.0);
        values[8] = w.pull.map(|p| p.0);
        for a in [&mut self.acc, &mut self.block] {
            for (i, v) in values.iter().enumerate() {
                if let Some(x) = v {
                    a.add(i, *x);
                }
            }
            a.wires += 1.0;
            a.rejected += f64::from(u8::from(w.rejected));
        }
        if let Some(s) = w.shear {
            self.block.sd_sum[0] += s.1;
        }
        if let Some(p) = w.pull {
            self.block.sd_sum[1] += p.1;
        }
        self.block_td = w.touchdowns as f64;
        if self.acc.wires as usize >= SUBGROUP {
            let acc = std::mem::take(&mut self.acc);
            self.subgroup(&acc, &mut out);
        }
        if self.block.wires as usize >= BLOCK {
            let b = std::mem::take(&mut self.block);
            self.close_block(&b, &mut out);
        }
        out
    }

    /// A new capillary: its own trend from now; a standing capillary forecast is
    /// answered by the change.
    fn capillary_changed(&mut self, out: &mut Vec<HealthEvent>) {
        self.capillary.clear();
        self.td_corr = Corr::default();
        self.capillary_eta = None;
        self.wear_abnormal = false;
        let a = &mut self.active[1];
        a.out = 0;
        a.inside = 0;
        if a.raised.take().is_some() {
            out.push(HealthEvent::Cleared {
                kind: Kind::Capillary,
                at_time_us: self.last_time_us,
            });
        }
    }

    fn subgroup(&mut self, acc: &Acc, out: &mut Vec<HealthEvent>) {
        let means: [Option<f64>; N] = std::array::from_fn(|i| acc.mean(i));
        if self.mewma.is_none() {
            for (b, m) in self.base.iter_mut().zip(means) {
                b.extend(m);
            }
            self.base_subgroups += 1;
            if let Some(c) = curve_of(&means) {
                self.base_curve.push(c);
            }
            if self.base_subgroups >= self.cfg.baseline_subgroups {
                self.learn_baseline();
            }
            return;
        }
        self.recent.push_back(means);
        if self.recent.len() > EVIDENCE {
            self.recent.pop_front();
        }
        if let Some(d) = means[1] {
            self.td_corr.add(self.last_td as f64, d);
        }
        let mut drift: Option<(Signal, Direction, f64)> = None;
        let lim = self.cfg.ewma.limit();
        let mut z_curve = [0.0; CURVE];
        for i in 0..N {
            let Some(x) = means[i] else { continue };
            let Some(mu) = self.mu[i] else {
                self.late_baseline(i, x);
                continue;
            };
            let z = (x - mu) / self.scale[i];
            if i < CURVE {
                z_curve[i] = z;
            }
            let sig = self.charts[i].push(z);
            if let Some(dir) = sig {
                let excess = self.charts[i].value().abs() / lim;
                if drift.is_none_or(|d| excess > d.2) {
                    drift = Some((CHARTED[i], dir, excess));
                }
            }
        }
        if let Some(m) = &mut self.mewma {
            for (w, z) in m.w.iter_mut().zip(z_curve) {
                *w = m.lambda * z + (1.0 - m.lambda) * *w;
            }
            if drift.is_none() && m.t2() > m.h {
                let biggest = (0..CURVE)
                    .max_by(|&a, &b| m.w[a].abs().total_cmp(&m.w[b].abs()))
                    .unwrap_or(0);
                let dir = if m.w[biggest] < 0.0 {
                    Direction::Down
                } else {
                    Direction::Up
                };
                drift = Some((Signal::Pattern, dir, 1.0));
            }
        }
        let wire = self.wires;
        let t = self.last_time_us;
        match drift {
            Some((signal, direction, _)) => {
                let a = &mut self.active[0];
                a.inside = 0;
                a.out += 1;
                if a.raised.is_none() && a.out >= self.cfg.confirm {
                    let causes = self.causes();
                    let w = Warning {
                        kind: Kind::Drift,
                        signal,
                        direction,
                        at_time_us: t,
                        eta: None,
                        at_wire: wire,
                        causes,
                    };
                    self.active[0].raised = Some(w.clone());
                    out.push(HealthEvent::Raised(w));
                }
            }
            None => {
                let clear_after = self.cfg.clear_after;
                let a = &mut self.active[0];
                a.out = 0;
                a.inside += 1;
                if a.raised.is_some() && a.inside >= clear_after {
                    a.raised = None;
                    out.push(HealthEvent::Cleared {
                        kind: Kind::Drift,
                        at_time_us: t,
                    });
                }
            }
        }
    }

    fn learn_baseline(&mut self) {
        for i in 0..N {
            let xs = std::mem::take(&mut self.base[i]);
            if xs.len() >= self.cfg.baseline_subgroups / 2 {
                self.set_baseline(i, &xs);
            }
        }
        // The curve signals' correlation for the MEWMA.
        let n = self.base_curve.len();
        let mut r = [[0.0; CURVE]; CURVE];
        if n >= 3 {
            let mean: [f64; CURVE] = std::array::from_fn(|i| {
                self.base_curve.iter().map(|c| c[i]).sum::<f64>() / n as f64
            });
            for i in 0..CURVE {
                for j in 0..CURVE {
                    let c: f64 = self
                        .base_curve
                        .iter()
                        .map(|v| (v[i] - mean[i]) * (v[j] - mean[j]))
                        .sum::<f64>()
                        / (n - 1) as f64;
                    let (si, sj) = (self.sigma0[i].max(1e-12), self.sigma0[j].max(1e-12));
                    r[i][j] = c / (si * sj);
                }
            }
        } else {
            for (i, row) in r.iter_mut().enumerate() {
                row[i] = 1.0;
            }
        }
        // Shrink towards independence a little: a 40-subgroup estimate is noisy.
        for (i, row) in r.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = if i == j {
                    1.0
                } else {
                    0.8 * v.clamp(-1.0, 1.0)
                };
            }
        }
        let lambda = self.cfg.ewma.lambda;
        let f = lambda / (2.0 - lambda);
        let cov: [[f64; CURVE]; CURVE] =
            std::array::from_fn(|i| std::array::from_fn(|j| f * r[i][j]));
        let inv = invert(cov).unwrap_or_else(|| {
            std::array::from_fn(|i| std::array::from_fn(|j| if i == j { 1.0 / f } else { 0.0 }))
        });
        // The scales floor each signal at its tolerance, so in control the statistic
        // stays far below the χ² of unit-variance signals; the limit is the larger of that
        // χ² and a sustained shift of one tolerance in every signal (uncorrelated), so
        // normal wear (each signal well inside its tolerance) does not add up to a
        // warning.
        self.mewma = Some(Mewma {
            lambda,
            w: [0.0; CURVE],
            inv,
            h: chi2_quantile(CURVE as f64, 1e-7).max(CURVE as f64 / f),
        });
        self.base_curve.clear();
    }

    /// A signal without a baseline after the first (a model fitted later, the first
    /// heater reading) learns its own from its first subgroups.
    fn late_baseline(&mut self, i: usize, x: f64) {
        self.base[i].push(x);
        if self.base[i].len() >= self.cfg.baseline_subgroups {
            let xs = std::mem::take(&mut self.base[i]);
            self.set_baseline(i, &xs);
        }
    }

    fn set_baseline(&mut self, i: usize, xs: &[f64]) {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        // The heater reading is held to its set point, not to where it was at start.
        let mu = if CHARTED[i] == Signal::Heater {
            0.0
        } else {
            mean
        };
        let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
        let tol = match self.cfg.tolerance[i] {
            Tolerance::Relative(d) => d * mu.abs(),
            Tolerance::Absolute(d) => d,
        };
        self.mu[i] = Some(mu);
        self.sigma0[i] = sd;
        // A shift of the tolerance is just at the EWMA's limit.
        self.scale[i] = sd.max(tol / self.cfg.ewma.limit()).max(1e-9);
    }

    /// The evidence for the causes from the newest subgroups.
    fn evidence(&self) -> Evidence {
        let k = self.recent.len().max(1) as f64;
        let z = |i: usize| -> f64 {
            let (Some(mu), s0) = (self.mu[i], self.sigma0[i]) else {
                return 0.0;
            };
            let xs: Vec<f64> = self.recent.iter().filter_map(|m| m[i]).collect();
            if xs.is_empty() {
                return 0.0;
            }
            let m = xs.iter().sum::<f64>() / xs.len() as f64;
            (m - mu) / (s0.max(1e-9) / k.sqrt())
        };
        let heater = {
            let xs: Vec<f64> = self.recent.iter().filter_map(|m| m[5]).collect();
            if xs.is_empty() {
                0.0
            } else {
                // The reading is good to 0.5 °C.
                xs.iter().sum::<f64>() / xs.len() as f64 / 0.5
            }
        };
        // Non-sticks as counts: observed in the window over expected at the baseline's
        // rate, the expectation floored at one (a single non-stick is no burst).
        let nsop_base = self.mu[6].unwrap_or(0.0);
        let nsop_count: f64 = self
            .recent
            .iter()
            .filter_map(|m| m[6])
            .map(|share| share * SUBGROUP as f64)
            .sum();
        let window = (self.recent.len() * SUBGROUP) as u64;
        Evidence {
            us_energy_z: z(0),
            ball_deform_z: z(1),
            ball_impedance_drop_z: z(2),
            stitch_deform_z: z(3),
            stitch_impedance_drop_z: z(4),
            heater_z: heater,
            touchdown_correlation: self.td_corr.r(),
            wear_abnormal: self.wear_abnormal,
            lot_step: self
                .lot_changed_at
                .is_some_and(|at| self.wires.saturating_sub(at) <= 20 * window),
            nsop_ratio: nsop_count / (nsop_base * window as f64).max(1.0),
        }
    }

    fn causes(&self) -> Vec<(Cause, f64)> {
        rank(&self.evidence())
    }

    fn close_block(&mut self, b: &Acc, out: &mut Vec<HealthEvent>) {
        let strength = [7usize, 8].map(|i| {
            // A wire's strength spreads by the model's uncertainty and by how the
            // predictions themselves spread within the block.
            b.mean(i).map(|m| {
                let sd = b.sd_sum[i - 7] / b.n[i].max(1.0);
                (m, (sd * sd + b.var(i)).sqrt())
            })
        });
        let block = Block {
            wire: self.wires as f64,
            touchdowns: self.block_td,
            strength,
            reject_share: b.rejected / b.wires.max(1.0),
        };
        self.blocks.push_back(block);
        if self.blocks.len() > self.cfg.trend_blocks {
            self.blocks.pop_front();
        }
        self.capillary.push(block);
        if !self.baselined() {
            return;
        }
        let t = self.last_time_us;
        // Both forecasts fit the newest blocks of the current capillary: its change is a
        // step (a fresh capillary deforms more, and its heel pulls differently), not a
        // trend. The yield forecast against the wire count.
        let rejects =
            self.blocks.iter().map(|b| b.reject_share).sum::<f64>() / self.blocks.len() as f64;
        let recent: Vec<Block> = {
            let n = self.capillary.len();
            self.capillary[n.saturating_sub(self.cfg.trend_blocks)..].to_vec()
        };
        self.yield_eta = self.forecast(&recent, |b| b.wire, rejects);
        // Due within the horizon — and before the capillary's counted life ends: its
        // change (two touchdowns per wire) takes the wear, and the trend with it, back.
        let capillary_wires_left = self.cfg.capillary_life.saturating_sub(self.last_td) / 2;
        let yield_due = self
            .yield_eta
            .is_some_and(|eta| eta <= self.cfg.horizon_wires.min(capillary_wires_left));
        self.decide(2, yield_due, Signal::Yield, self.yield_eta, t, out);
        // The capillary forecast against its touchdowns.
        let eta_td = self.forecast(&recent, |b| b.touchdowns, rejects);
        let left = self.cfg.capillary_life.saturating_sub(self.last_td);
        self.capillary_eta = Some(eta_td.map_or(left, |e| e.min(left)));
        let cap_due = eta_td.is_some_and(|e| e < left);
        self.wear_abnormal = cap_due;
        let cap_eta = if cap_due { eta_td } else { None };
        self.decide(1, cap_due, Signal::PredictedShear, cap_eta, t, out);
    }

    /// How far along `x` until the predicted strength takes the yield under the limit
    /// (the smaller of shear and pull); `None` if no trend says so.
    fn forecast(&self, blocks: &[Block], x: impl Fn(&Block) -> f64, rejects: f64) -> Option<u64> {
        let allowed = (1.0 - self.cfg.yield_limit_pct / 100.0 - rejects).max(1e-4);
        let z = -normal_quantile(allowed); // the share below min + z·σ is `allowed`
        let mut best: Option<f64> = None;
        for (k, min) in [(0usize, self.cfg.shear_min_gf), (1, self.cfg.pull_min_gf)] {
            let pts: Vec<(f64, f64)> = blocks
                .iter()
                .filter_map(|b| b.strength[k].map(|s| (x(b), s.0)))
                .collect();
            if pts.len() < MIN_TREND_BLOCKS {
                continue;
            }
            let sd = blocks
                .iter()
                .filter_map(|b| b.strength[k].map(|s| s.1))
                .sum::<f64>()
                / pts.len() as f64;
            let Some(trend) = Trend::fit(&pts) else {
                continue;
            };
            if let Some(eta) = trend.until_below(min + z * sd, 4.0) {
                best = Some(best.map_or(eta, |b: f64| b.min(eta)));
            }
        }
        best.map(|e| e.round() as u64)
    }

    fn decide(
        &mut self,
        k: usize,
        due: bool,
        signal: Signal,
        eta: Option<u64>,
        t: u64,
        out: &mut Vec<HealthEvent>,
    ) {
        let kind = [Kind::Drift, Kind::Capillary, Kind::YieldForecast][k];
        let confirm = self.cfg.confirm;
        let clear_after = self.cfg.clear_after.div_ceil(4).max(2);
        let causes = if due && self.active[k].raised.is_none() {
            Some(self.causes())
        } else {
            None
        };
        let wire = self.wires;
        let a = &mut self.active[k];
        if due {
            a.inside = 0;
            a.out += 1;
            if let Some(w) = &mut a.raised {
                w.eta = eta;
            } else if a.out >= confirm {
                let w = Warning {
                    kind,
                    signal,
                    direction: Direction::Down,
                    at_time_us: t,
                    eta,
                    at_wire: wire,
                    causes: causes.unwrap_or_default(),
                };
                a.raised = Some(w.clone());
                out.push(HealthEvent::Raised(w));
            }
        } else {
            a.out = 0;
            a.inside = a.inside.saturating_add(1);
            if a.raised.is_some() && a.inside >= clear_after {
                a.raised = None;
                a.inside = 0;
                out.push(HealthEvent::Cleared {
                    kind,
                    at_time_us: t,
                });
            }
        }
    }
}

fn curve_of(m: &[Option<f64>; N]) -> Option<[f64; CURVE]> {
    let mut c = [0.0; CURVE];
    for (v, x) in c.iter_mut().zip(m) {
        *v = (*x)?;
    }
    Some(c)
}

/// Φ⁻¹(p) by bisection on [`normal_cdf`] (good to 10⁻⁹; called once per block).
pub fn normal_quantile(p: f64) -> f64 {
    let (mut lo, mut hi) = (-12.0f64, 12.0f64);
    for _ in 0..80 {
        let mid = 0.5 * (lo + hi);
        if normal_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The upper `alpha` quantile of χ² with `k` degrees of freedom (Wilson–Hilferty).
pub fn chi2_quantile(k: f64, alpha: f64) -> f64 {
    let z = -normal_quantile(alpha);
    let a = 2.0 / (9.0 * k);
    k * (1.0 - a + z * a.sqrt()).powi(3)
}

/// The inverse of a small symmetric matrix (Gauss–Jordan, partial pivoting).
fn invert<const M: usize>(a: [[f64; M]; M]) -> Option<[[f64; M]; M]> {
    let mut m = a;
    let mut inv: [[f64; M]; M] =
        std::array::from_fn(|i| std::array::from_fn(|j| f64::from(u8::from(i == j))));
    for c in 0..M {
        let p = (c..M).max_by(|&x, &y| m[x][c].abs().total_cmp(&m[y][c].abs()))?;
        if m[p][c].abs() < 1e-12 {
            return None;
        }
        m.swap(c, p);
        inv.swap(c, p);
        let d = m[c][c];
        for j in 0..M {
            m[c][j] /= d;
            inv[c][j] /= d;
        }
        for r in 0..M {
            if r != c {
                let f = m[r][c];
                for j in 0..M {
                    m[r][j] -= f * m[c][j];
                    inv[r][j] -= f * inv[c][j];
                }
            }
        }
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic normal source (Box–Muller on a xorshift).
    struct Noise(u64);
    impl Noise {
        fn uniform(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        fn normal(&mut self) -> f64 {
            let (u, v) = (self.uniform(), self.uniform());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        }
    }

    /// Wire `i` of a process whose US output falls `us_per_wire` (relative) after
    /// `start`, whose weld wears with touchdowns, with a strength model's predictions.
    fn wire(n: &mut Noise, i: u64, us_loss: f64, wear: f64, heater: f64) -> WireObs {
        let us = 1.0 - us_loss;
        let weld = us.powf(0.6) * (1.0 - wear) * (1.0 + 0.004 * heater.min(0.0) * 2.0);
        let shear = 22.0 * weld + 0.8 * n.normal();
        WireObs {
            time_us: i * 50_000,
            curve: [
                1.67 * us * (1.0 + 0.02 * n.normal()) * (1.0 + 0.2 * wear),
                5.5 * weld * (1.0 + 0.03 * n.normal()),
                17.5 * weld * (1.0 + 0.03 * n.normal()),
                5.7 * weld * (1.0 + 0.03 * n.normal()),
                22.0 * weld * (1.0 + 0.03 * n.normal()),
            ],
            heater_offset_c: Some(heater + 0.3 * n.normal()),
            touchdowns: 2 * (i % 500_000),
            non_stick: false,
            rejected: false,
            shear: Some((shear, 0.9)),
            pull: Some((7.0 * weld + 0.3 * n.normal(), 0.4)),
        }
    }

    fn cfg() -> HealthConfig {
        HealthConfig::new(12.0, 3.0, 1_000_000)
    }

    #[test]
    fn the_quantiles() {
        assert!((normal_quantile(0.975) - 1.959_964).abs() < 1e-5);
        assert!((normal_quantile(0.02) + 2.053_749).abs() < 1e-5);
        // χ²₅ upper 1 %: 15.086 (Wilson–Hilferty within 0.5 %).
        assert!((chi2_quantile(5.0, 0.01) - 15.086).abs() < 0.08);
        // The chart design: ARL₀ of 10⁷ at λ = 0.1.
        let e = Ewma::for_arl0(0.1, 1e7);
        let arl = e.arl(0.0, 201);
        assert!((arl / 1e7 - 1.0).abs() < 0.02, "{e:?}: {arl}");
    }

    #[test]
    fn normal_wear_over_capillaries_raises_nothing() {
        let mut m = Monitor::new(cfg());
        let mut n = Noise(7);
        // Three capillaries' lives (the weld falls 10 % over each, then comes back).
        for i in 0..1_500_000u64 {
            let wear = 0.1 * (i % 500_000) as f64 / 500_000.0;
            let ev = m.push(&wire(&mut n, i, 0.0, wear, 0.0));
            assert!(ev.is_empty(), "wire {i}: {ev:?}");
        }
        assert!(m.baselined());
        assert!(m.active().is_empty());
    }

    #[test]
    fn a_failing_generator_is_found_early_and_named() {
        let mut m = Monitor::new(cfg());
        let mut n = Noise(11);
        let mut first = None;
        for i in 0..400_000u64 {
            let loss = 0.05 * (i.saturating_sub(50_000)) as f64 / 100_000.0;
            for ev in m.push(&wire(&mut n, i, loss, 0.0, 0.0)) {
                if let HealthEvent::Raised(w) = ev {
                    first.get_or_insert(w);
                }
            }
            if first.is_some() {
                break;
            }
        }
        let w = first.unwrap_or_else(|| panic!("no warning"));
        println!("{w:?}");
        assert_eq!(w.kind, Kind::Drift);
        assert_eq!(w.signal, Signal::BallUsEnergy);
        assert_eq!(w.direction, Direction::Down);
        assert_eq!(w.causes[0].0, Cause::UltrasonicOutput, "{:?}", w.causes);
        // 3 % of US energy is 60 000 wires of this drift after its start.
        assert!((90_000..160_000).contains(&w.at_wire), "{}", w.at_wire);
    }

    #[test]
    fn a_heater_drift_is_named_and_a_falling_strength_forecast() {
        // A capillary rated far beyond the run: the yield forecast is not cut short by
        // the capillary's counted life (that rule has its own test: the stable runs).
        let mut m = Monitor::new(HealthConfig::new(12.0, 3.0, 10_000_000));
        let mut n = Noise(3);
        let mut raised = Vec::new();
        for i in 0..700_000u64 {
            let heater = -4.0 * (i.saturating_sub(50_000)) as f64 / 100_000.0;
            for ev in m.push(&wire(&mut n, i % 400_000, 0.0, 0.0, heater)) {
                if let HealthEvent::Raised(w) = ev {
                    raised.push(w);
                }
            }
        }
        let drift = raised.iter().find(|w| w.kind == Kind::Drift);
        let drift = drift.unwrap_or_else(|| panic!("{raised:?}"));
        assert_eq!(drift.signal, Signal::Heater, "{drift:?}");
        assert_eq!(drift.causes[0].0, Cause::Heater);
        let fc = raised.iter().find(|w| w.kind == Kind::YieldForecast);
        let fc = fc.unwrap_or_else(|| panic!("{raised:?}"));
        assert!(fc.eta.is_some_and(|e| e <= 600_000), "{fc:?}");
        assert!(fc.at_wire > drift.at_wire);
    }

    #[test]
    #[allow(clippy::needless_range_loop)] // a matrix product reads best with indices
    fn the_inverse() {
        let a = [[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]];
        let inv = invert(a).unwrap_or_else(|| panic!("singular"));
        for i in 0..3 {
            for j in 0..3 {
                let s: f64 = (0..3).map(|k| a[i][k] * inv[k][j]).sum();
                assert!((s - f64::from(u8::from(i == j))).abs() < 1e-12);
            }
        }
        assert!(invert([[1.0, 2.0], [2.0, 4.0]]).is_none());
    }
}
