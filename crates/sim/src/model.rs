//! The bond model: what a ball bonder's bond head sees while it makes a wire.
//!
//! A wire is a ball bond (1st bond, on the die pad) then a stitch bond (2nd bond, on the
//! lead). Each bond is sampled at [`SAMPLE_RATE_HZ`] on four channels: ultrasonic
//! current, bond force, Z height (relative to contact) and ultrasonic impedance.
//!
//! The physics is simple but follows the recipe the way a real process does:
//! * the free air ball (FAB) grows with the EFO energy: `d = C(material)·(I·t)^(1/3)`;
//! * the weld grows during the ultrasonic time with an energy index
//!   `E = power·time·√force`: the final weld fraction is `W = 1 − exp(−E/E0(material))`;
//! * as the weld grows the capillary sinks (`deformation = W·D_max`) and the transducer's
//!   impedance falls (`Z = Z_free·(1 − 0.5·w(t))`): no weld, no sink, no drop (NSOP/NSOL);
//! * the bonded ball's diameter is `0.93·FAB + 0.6·deformation`;
//! * slow drifts: capillary wear over touchdowns (less deformation), heater temperature
//!   (weld a little better when hotter), thermal placement drift (random walk);
//! * noise on every channel, and injected defects at a configurable rate;
//! * every wire's true pull and shear strength and failure mode ([`crate::strength`]),
//!   under the active excursion scenarios ([`crate::scenario`]); the capillary is changed
//!   at its life limit, as an operator following the station's counter would.

use crate::scenario::{Effects, Scenario, effects};
use crate::strength::{Strength, WeldState, strength};
use bonder_core::bond::{BondEvent, BondKind, Curve, Defect};
use bonder_core::recipe::{BlockValues, Recipe, WireMaterial};
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// Curve sample rate.
pub const SAMPLE_RATE_HZ: u32 = 20_000;
const DT_MS: f64 = 1000.0 / SAMPLE_RATE_HZ as f64;
/// Samples of the approach (search) before contact.
const APPROACH: usize = 20;
/// Height at which the search starts, µm above contact.
const SEARCH_UM: f64 = 25.0;
/// Ultrasonic current per % of power, mA.
const MA_PER_PCT: f64 = 1.5;
/// Nominal tail length, in wire diameters.
pub const TAIL_PER_WIRE: f64 = 6.0;

/// Defect mix when a defect is injected at random: (defect, weight).
const DEFECT_MIX: [(Defect, f64); 6] = [
    (Defect::Nsop, 0.30),
    (Defect::Nsol, 0.20),
    (Defect::ShortTail, 0.15),
    (Defect::BallSize, 0.15),
    (Defect::Placement, 0.15),
    (Defect::Curve, 0.05),
];

/// Material constants.
struct Material {
    /// FAB diameter per (mA·µs)^(1/3).
    fab_c: f64,
    /// Energy index for 63 % of the ball weld.
    e0_ball: f64,
    /// Energy index for 63 % of the stitch weld.
    e0_stitch: f64,
    /// Transducer impedance before the weld, Ω.
    z_free_ohm: f64,
    /// Tensile break load of 1 µm² of wire, gf (used for the tail break).
    break_gf_per_um2: f64,
}

fn material(m: WireMaterial) -> Material {
    match m {
        WireMaterial::Au => Material {
            fab_c: 1.664,
            e0_ball: 45.0,
            e0_stitch: 80.0,
            z_free_ohm: 22.0,
            break_gf_per_um2: 0.02,
        },
        WireMaterial::Cu => Material {
            fab_c: 1.243,
            e0_ball: 70.0,
            e0_stitch: 120.0,
            z_free_ohm: 26.0,
            break_gf_per_um2: 0.03,
        },
        WireMaterial::PdCu => Material {
            fab_c: 1.243,
            e0_ball: 75.0,
            e0_stitch: 110.0,
            z_free_ohm: 26.0,
            break_gf_per_um2: 0.03,
        },
        WireMaterial::Ag => Material {
            fab_c: 1.55,
            e0_ball: 50.0,
            e0_stitch: 90.0,
            z_free_ohm: 23.0,
            break_gf_per_um2: 0.022,
        },
    }
}

/// Slowly changing machine conditions.
#[derive(Debug, Clone)]
pub struct Drift {
    /// Bonds made with the mounted capillary.
    pub touchdowns: u64,
    /// Capillary life for the wear model.
    pub capillary_life: u64,
    /// Offset of the actual heater temperature from its set point, °C.
    pub heater_offset_c: f64,
    /// Thermal placement drift, µm.
    pub place_x_um: f64,
    pub place_y_um: f64,
}

impl Default for Drift {
    fn default() -> Self {
        Drift {
            touchdowns: 0,
            capillary_life: 1_000_000,
            heater_offset_c: 0.0,
            place_x_um: 0.0,
            place_y_um: 0.0,
        }
    }
}

/// Deterministic bond generator (same seed and calls, same bonds).
#[derive(Debug, Clone)]
pub struct BondModel {
    rng: ChaCha8Rng,
    /// Probability that a wire carries a defect.
    pub defect_rate: f64,
    /// Defects forced onto the next wires (test hook), consumed first.
    forced: std::collections::VecDeque<Defect>,
    pub drift: Drift,
    /// Excursions acting on the process.
    pub scenarios: Vec<Scenario>,
    /// Spec limits for the truth's `in_spec` (none: the built-in recipe's of the
    /// material).
    pub limits: Option<TruthLimits>,
    /// Wires made since start.
    pub wires: u64,
    /// Capillaries changed since start.
    pub capillary_changes: u64,
    /// A separate stream for the strength model, so the curves of a seed stay what they
    /// were before it existed.
    strength_rng: ChaCha8Rng,
    unit_no: u32,
    wire_no: u16,
}

/// What a wire must meet to be in spec (the recipe's limits).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TruthLimits {
    pub pull_min_gf: f64,
    pub shear_min_gf: f64,
    pub ball_um: [f64; 2],
}

impl TruthLimits {
    /// The built-in recipe's limits for a material.
    pub fn built_in(m: WireMaterial) -> TruthLimits {
        let r = match m {
            WireMaterial::Au | WireMaterial::Ag => Recipe::default_au(),
            WireMaterial::Cu | WireMaterial::PdCu => Recipe::default_cu(),
        };
        TruthLimits {
            pull_min_gf: r.limits.pull_min_gf.0,
            shear_min_gf: r.limits.shear_min_gf.0,
            ball_um: [r.limits.ball_um[0].0, r.limits.ball_um[1].0],
        }
    }
}

/// The truth about one wire (the simulator's `--truth` line).
#[derive(Debug, Clone, PartialEq)]
pub struct WireTruth {
    pub strength: Strength,
    pub in_spec: bool,
    /// Causes acting on it (scenario causes).
    pub causes: Vec<&'static str>,
    /// The lead-frame lot's label.
    pub lot: String,
    /// The capillary was changed after this wire (its touchdown count starts again).
    pub capillary_changed: bool,
}

/// What the model made for one wire.
#[derive(Debug, Clone)]
pub struct Wire {
    pub ball: BondEvent,
    pub stitch: BondEvent,
    /// The injected defect, if any (ground truth for tests; the station must find it in
    /// the curves).
    pub injected: Option<Defect>,
    pub truth: WireTruth,
}

struct BondPlan {
    kind: BondKind,
    us_pct: f64,
    force_gf: f64,
    time_ms: f64,
    /// Final weld fraction 0..1.
    weld: f64,
    /// Deformation when fully welded, µm.
    d_max_um: f64,
    impact_um: f64,
    z_free_ohm: f64,
    /// Stitch: Z at which the wire breaks, µm above the bond; `None`: no tension (NSOL).
    tail_um: Option<f64>,
    break_gf: f64,
    /// Ultrasonic current glitch (curve defect).
    glitch: bool,
}

/// The deterministic part of a wire: its welds under the recipe, the machine's drift and
/// the scenarios' effects.
struct Welds {
    /// Touchdowns over the capillary's life (× the wear rate).
    worn: f64,
    fab: f64,
    /// The ball's weld energy index (power × time × √force, at the actual output).
    e_ball: f64,
    /// Weld fractions as made (before any injected defect).
    ball: f64,
    stitch: f64,
    d_max_ball: f64,
    /// The pad's load over the weld energy's (see [`crate::window::Levers`]).
    pad_load: f64,
}

fn welds(r: &BlockValues, d: &Drift, fx: &Effects) -> Welds {
    let mat = material(r.material);
    let lev = crate::window::levers(r);
    // Wear: 10 % less weld over a capillary's life, fast beyond it.
    let worn = d.touchdowns as f64 / d.capillary_life.max(1) as f64 * fx.wear_rate;
    let wear = (1.0 - 0.1 * worn.min(1.0) - 0.35 * (worn - 1.0).max(0.0).powf(1.5)).max(0.2);
    // Heater: a little better hotter; markedly worse well below the set point.
    let o = d.heater_offset_c;
    let heat = (1.0 + 0.004 * o - 0.008 * (-o - 5.0).max(0.0)).clamp(0.3, 1.1);
    let us = fx.us_output;
    let fab = mat.fab_c * (r.efo_current_ma * r.efo_time_us).max(0.0).cbrt();
    let e_ball =
        us * r.ball.us_power_pct.0 / 100.0 * r.ball.time_ms.0 * r.ball.force_gf.0.max(0.0).sqrt();
    let ball =
        ((1.0 - (-e_ball * lev.ball_weld / mat.e0_ball).exp()) * wear * heat * lev.heat * fx.pad)
            .clamp(0.0, 1.0);
    let e_st = us * r.stitch.us_power_pct.0 / 100.0
        * r.stitch.time_ms.0
        * r.stitch.force_gf.0.max(0.0).sqrt();
    let stitch = ((1.0 - (-e_st * lev.stitch_weld / mat.e0_stitch).exp())
        * wear
        * heat
        * lev.heat
        * lev.oxidation
        * fx.bondability)
        .clamp(0.0, 1.0);
    Welds {
        worn,
        fab,
        e_ball,
        ball,
        stitch,
        d_max_ball: 0.25 * fab * lev.squash,
        pad_load: lev.pad_load,
    }
}

/// The noiseless state of a wire of `r` (no scenario, no defect): what the window's
/// truth is judged on.
pub fn expected(r: &BlockValues, d: &Drift) -> WeldState {
    let fx = effects(&[], 0);
    let mat = material(r.material);
    let w = welds(r, d, &fx);
    let area = std::f64::consts::PI * r.wire_diameter_um * r.wire_diameter_um / 4.0;
    WeldState {
        material: r.material,
        wire_break_gf: mat.break_gf_per_um2 * area,
        ball_um: 0.93 * w.fab + 0.6 * w.ball * w.d_max_ball,
        ball_weld: w.ball,
        stitch_weld: w.stitch,
        ball_energy_ratio: w.e_ball / mat.e0_ball * w.pad_load,
        wear: w.worn,
    }
}

impl BondModel {
    /// A model with a seed and a defect rate per wire.
    pub fn new(seed: u64, defect_rate: f64) -> BondModel {
        BondModel {
            rng: ChaCha8Rng::seed_from_u64(seed),
            defect_rate,
            forced: Default::default(),
            drift: Drift::default(),
            scenarios: Vec::new(),
            limits: None,
            wires: 0,
            capillary_changes: 0,
            strength_rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5354_5245_4e47_5448),
            unit_no: 1,
            wire_no: 0,
        }
    }

    /// What the scenarios do to the next wire.
    pub fn effects(&self) -> Effects {
        effects(&self.scenarios, self.wires)
    }

    /// Forces a defect on the next wire(s), before random ones.
    pub fn force_defect(&mut self, d: Defect) {
        self.forced.push_back(d);
    }

    /// A random number generator derived from the model's (for the machine's own noise).
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    fn pick_defect(&mut self) -> Option<Defect> {
        if let Some(d) = self.forced.pop_front() {
            return Some(d);
        }
        if self.defect_rate <= 0.0 || !self.rng.random_bool(self.defect_rate.min(1.0)) {
            return None;
        }
        let total: f64 = DEFECT_MIX.iter().map(|(_, w)| w).sum();
        let mut x = self.rng.random_range(0.0..total);
        for (d, w) in DEFECT_MIX {
            if x < w {
                return Some(d);
            }
            x -= w;
        }
        Some(Defect::Nsop)
    }

    fn gauss(&mut self, sigma: f64) -> f64 {
        Normal::new(0.0, sigma.max(1e-12)).map_or(0.0, |n| n.sample(&mut self.rng))
    }

    /// The next wire of the active recipe; `time_us` is the controller clock at the ball
    /// bond, `cycle_us` the time from ball to ball.
    pub fn next_wire(&mut self, r: &BlockValues, time_us: u64, cycle_us: u64) -> Wire {
        self.wire_no += 1;
        if self.wire_no > r.wires_per_unit.max(1) {
            self.wire_no = 1;
            self.unit_no = self.unit_no.wrapping_add(1);
        }
        let fx = self.effects();
        let mut injected = self.pick_defect();
        // Contamination on the pad: a share of the balls do not stick, energy normal.
        if fx.nsop > 0.0 && injected.is_none() && self.strength_rng.random_bool(fx.nsop.min(1.0)) {
            injected = Some(Defect::Nsop);
        }
        let mat = material(r.material);
        let d = &mut self.drift;
        d.touchdowns += 2;
        // Thermal placement drift: a bounded random walk.
        let (wx, wy) = (self.gauss(0.01), self.gauss(0.01));
        let d = &mut self.drift;
        d.place_x_um = (d.place_x_um * 0.999 + wx).clamp(-1.2, 1.2);
        d.place_y_um = (d.place_y_um * 0.999 + wy).clamp(-1.2, 1.2);
        let welds = welds(r, &self.drift, &fx);
        let (worn, fab, e_ball) = (welds.worn, welds.fab, welds.e_ball);
        let us = fx.us_output;
        let mut w_ball = welds.ball;
        let mut w_stitch_extra = 1.0;
        match injected {
            Some(Defect::Nsop) => w_ball = self.rng.random_range(0.0..0.03),
            Some(Defect::Nsol) => w_stitch_extra = 0.0,
            _ => {}
        }
        let d_max_ball = welds.d_max_ball;
        let ball_fab = match injected {
            Some(Defect::BallSize) => {
                if self.rng.random_bool(0.5) {
                    fab * self.rng.random_range(1.2..1.3)
                } else {
                    fab * self.rng.random_range(0.75..0.82)
                }
            }
            _ => fab,
        };
        let ball_um = 0.93 * ball_fab + 0.6 * w_ball * d_max_ball + self.gauss(0.5);
        let ball = self.bond(
            BondPlan {
                kind: BondKind::Ball,
                us_pct: us * r.ball.us_power_pct.0,
                force_gf: r.ball.force_gf.0,
                time_ms: r.ball.time_ms.0,
                weld: w_ball,
                d_max_um: d_max_ball,
                impact_um: 0.15 * fab,
                z_free_ohm: mat.z_free_ohm,
                tail_um: None,
                break_gf: 0.0,
                glitch: injected == Some(Defect::Curve),
            },
            time_us,
            injected,
            Some(ball_um),
        );

        // Stitch bond.
        let wire = r.wire_diameter_um;
        let w_st = if w_stitch_extra == 0.0 {
            self.rng.random_range(0.0..0.03)
        } else {
            welds.stitch
        };
        let tail = match injected {
            Some(Defect::Nsol) => None,
            Some(Defect::ShortTail) => Some(wire * self.rng.random_range(1.0..2.5)),
            _ => Some(wire * TAIL_PER_WIRE * (1.0 + self.gauss(0.03))),
        };
        let area = std::f64::consts::PI * wire * wire / 4.0;
        let stitch_time = time_us + cycle_us * 2 / 5;
        let stitch = self.bond(
            BondPlan {
                kind: BondKind::Stitch,
                us_pct: us * r.stitch.us_power_pct.0,
                force_gf: r.stitch.force_gf.0,
                time_ms: r.stitch.time_ms.0,
                weld: w_st,
                d_max_um: 0.4 * wire,
                impact_um: 0.1 * wire,
                z_free_ohm: mat.z_free_ohm * 0.9,
                tail_um: tail,
                break_gf: mat.break_gf_per_um2 * area,
                glitch: false,
            },
            stitch_time,
            injected,
            None,
        );
        // The truth: how strong this wire is, and whether it is in spec.
        let weld = WeldState {
            material: r.material,
            wire_break_gf: mat.break_gf_per_um2 * area,
            ball_um,
            ball_weld: w_ball,
            stitch_weld: w_st,
            ball_energy_ratio: e_ball / mat.e0_ball * welds.pad_load,
            wear: worn,
        };
        let srng = &mut self.strength_rng;
        let mut normal = || Normal::new(0.0, 1.0).map_or(0.0, |n| n.sample(&mut *srng));
        let n: [f64; 5] = std::array::from_fn(|_| normal());
        let mut k = n.into_iter();
        let u: f64 = self.strength_rng.random();
        let st = strength(&weld, || k.next().unwrap_or(0.0), u);
        let lim = self
            .limits
            .unwrap_or_else(|| TruthLimits::built_in(r.material));
        let in_spec = injected.is_none()
            && !st.cratered
            && st.pull_gf >= lim.pull_min_gf
            && st.shear_gf >= lim.shear_min_gf
            && (lim.ball_um[0]..=lim.ball_um[1]).contains(&ball_um);
        self.wires += 1;
        // The operator changes the capillary at its life limit.
        let capillary_changed = self.drift.touchdowns >= self.drift.capillary_life.max(2);
        if capillary_changed {
            self.drift.touchdowns = 0;
            self.capillary_changes += 1;
        }
        Wire {
            ball,
            stitch,
            injected,
            truth: WireTruth {
                strength: st,
                in_spec,
                causes: fx.causes,
                lot: fx.lot,
                capillary_changed,
            },
        }
    }

    fn bond(
        &mut self,
        p: BondPlan,
        time_us: u64,
        injected: Option<Defect>,
        ball_um: Option<f64>,
    ) -> BondEvent {
        let us_n = ((p.time_ms / DT_MS).round() as usize).max(2);
        let impact_n = 3;
        let release_n = 10;
        let tail_n = if p.kind == BondKind::Stitch { 40 } else { 0 };
        let n = APPROACH + impact_n + us_n + release_n + tail_n;
        let mut cur = vec![0f64; n];
        let mut force = vec![0f64; n];
        let mut z = vec![0f64; n];
        let mut imp = vec![0f64; n];
        let contact = APPROACH + self.rng.random_range(0..2usize);
        let deform = p.weld * p.d_max_um;
        let tau = (us_n as f64 / 3.0).max(1.0);
        let i_set = p.us_pct * MA_PER_PCT;
        let us_start = contact + impact_n;
        let us_end = (us_start + us_n).min(n);
        for i in 0..n {
            if i < contact {
                z[i] = SEARCH_UM * (1.0 - i as f64 / contact as f64);
                continue;
            }
            let k = i - contact;
            // Impact: force rises with overshoot, the FAB squashes.
            let f_rise = ((k as f64 + 1.0) / impact_n as f64).min(1.0);
            let overshoot = 1.0 + 0.15 * (-(k as f64) / 3.0).exp();
            force[i] = p.force_gf * f_rise * overshoot;
            z[i] = -p.impact_um * f_rise;
            if i >= us_start && i < us_end {
                let t = (i - us_start) as f64;
                let w = p.weld * (1.0 - (-t / tau).exp());
                let ramp = ((t + 1.0) / 8.0).min(1.0);
                let mut c = i_set * ramp;
                if p.glitch && t > us_n as f64 * 0.35 && t < us_n as f64 * 0.65 {
                    c *= 0.55;
                }
                cur[i] = c;
                imp[i] = if c > 0.0 {
                    p.z_free_ohm * (1.0 - 0.5 * w)
                } else {
                    0.0
                };
                z[i] = -p.impact_um
                    - if p.weld > 0.0 {
                        deform * w / p.weld
                    } else {
                        0.0
                    };
            } else if i >= us_end {
                let j = i - us_end;
                let z_bond = -p.impact_um - deform;
                if j < release_n {
                    // Force released, capillary starts to lift.
                    let f = 1.0 - (j as f64 + 1.0) / release_n as f64;
                    force[i] = p.force_gf * f;
                    z[i] = z_bond + 0.3 * j as f64;
                } else {
                    // Stitch tail: rise with the clamp open, then the clamp closes and the
                    // wire breaks at the heel under tension.
                    let j = j - release_n;
                    let z_lift = z_bond + 0.3 * release_n as f64;
                    let nominal = p.tail_um.unwrap_or(0.0).max(p.d_max_um * 15.0);
                    let rise = (nominal * 1.3) / tail_n as f64;
                    z[i] = z_lift + rise * j as f64;
                    force[i] = 0.0;
                    if let Some(tail) = p.tail_um {
                        let above = z[i] - z_bond;
                        let until_break = tail - above;
                        if until_break <= 0.0 && until_break > -2.5 * rise {
                            // Tension peak in the sample(s) where the tail length is reached.
                            force[i] = -p.break_gf * (1.0 + until_break / (2.5 * rise)).max(0.2);
                        }
                    }
                }
            }
        }
        // Noise.
        let sig = [0.8, 0.3, 0.12, 0.25];
        for (vals, s) in [
            (&mut cur, sig[0]),
            (&mut force, sig[1]),
            (&mut z, sig[2]),
            (&mut imp, sig[3]),
        ] {
            for v in vals.iter_mut() {
                *v += Normal::new(0.0, s).map_or(0.0, |d| d.sample(&mut self.rng));
            }
        }
        for v in cur.iter_mut().chain(imp.iter_mut()) {
            *v = v.max(0.0);
        }
        let raw = |v: &[f64]| {
            v.iter()
                .map(|x| (x * 10.0).round().clamp(-32768.0, 32767.0) as i16)
                .collect::<Vec<i16>>()
        };
        let (dx, dy) = match (p.kind, injected) {
            (BondKind::Ball, Some(Defect::Placement)) => {
                let a = self.rng.random_range(0.0..std::f64::consts::TAU);
                let m = self.rng.random_range(6.0..9.0);
                (m * a.cos(), m * a.sin())
            }
            _ => (
                self.drift.place_x_um + self.gauss(0.5),
                self.drift.place_y_um + self.gauss(0.5),
            ),
        };
        let ctrl_verdict = match (p.kind, injected) {
            (BondKind::Ball, Some(Defect::Nsop)) => 0x65,
            (BondKind::Stitch, Some(Defect::Nsol)) => 0x66,
            (BondKind::Stitch, Some(Defect::ShortTail)) => 0x67,
            _ => 0,
        };
        BondEvent {
            time_us,
            unit_no: self.unit_no,
            wire_no: self.wire_no,
            kind: p.kind,
            ctrl_verdict,
            place_dx_um: dx as f32,
            place_dy_um: dy as f32,
            ball_diameter_um: ball_um.map(|b| b as f32),
            curve: Curve {
                sample_rate_hz: SAMPLE_RATE_HZ,
                channels: [raw(&cur), raw(&force), raw(&z), raw(&imp)],
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bonder_core::recipe::parse_block;

    fn values(r: &Recipe) -> BlockValues {
        parse_block(&r.to_block()).unwrap_or_else(|e| panic!("{e:?}"))
    }

    /// Wires in spec per 1 000, for `n` wires of `r` under `scenarios`.
    fn run(r: &Recipe, scenarios: &[&str], n: u64, life: u64) -> (Vec<f64>, BondModel) {
        let v = values(r);
        let mut m = BondModel::new(7, 0.0);
        m.drift.capillary_life = life;
        m.scenarios = scenarios
            .iter()
            .map(|s| s.parse().unwrap_or_else(|e| panic!("{e}")))
            .collect();
        let mut per_k = Vec::new();
        let mut ok = 0u32;
        for i in 0..n {
            let w = m.next_wire(&v, i * 50_000, 50_000);
            ok += u32::from(w.truth.in_spec);
            if (i + 1) % 1000 == 0 {
                per_k.push(f64::from(ok) / 10.0);
                ok = 0;
            }
        }
        (per_k, m)
    }

    #[test]
    fn without_a_scenario_the_process_stays_in_spec_through_capillary_changes() {
        for r in [Recipe::default_au(), Recipe::default_cu()] {
            // 60 000 wires (120 000 touchdowns) with a capillary life of 40 000: three
            // changes.
            let (y, m) = run(&r, &[], 60_000, 40_000);
            assert_eq!(m.capillary_changes, 3, "{}", r.name);
            let worst = y.iter().copied().fold(f64::INFINITY, f64::min);
            assert!(
                worst >= 99.5,
                "{}: worst yield per 1000 wires {worst} %",
                r.name
            );
        }
    }

    #[test]
    fn an_ultrasonic_drift_takes_the_yield_down_and_the_truth_names_it() {
        let r = Recipe::default_au();
        let (y, _) = run(
            &r,
            &["us-drift:start=5000,pct_per_100k=100"],
            60_000,
            10_000_000,
        );
        // In spec before it starts; below 98 % well into it (−50 % output at 55 000).
        assert!(y[..5].iter().all(|&v| v >= 99.5), "{y:?}");
        let fell = y.iter().position(|&v| v < 98.0);
        println!("Au, us-drift 100 %/100k from 5 000: yield below 98 % from wire {fell:?}000");
        assert!(fell.is_some_and(|k| k > 10), "{y:?}");
        let mut m = BondModel::new(1, 0.0);
        m.scenarios = vec![
            "us-drift:start=0,pct_per_100k=1"
                .parse()
                .unwrap_or_else(|e| panic!("{e}")),
        ];
        let w = m.next_wire(&values(&r), 0, 50_000);
        assert_eq!(w.truth.causes, ["ultrasonic_output"]);
    }

    #[test]
    fn a_bad_lead_frame_lot_lifts_stitches_from_its_first_wire() {
        let r = Recipe::default_au();
        let (y, m) = run(
            &r,
            &["lot-change:at=10000,bondability=0.35"],
            20_000,
            10_000_000,
        );
        assert!(y[..10].iter().all(|&v| v >= 99.5), "{y:?}");
        assert!(y[10..].iter().all(|&v| v < 90.0), "{y:?}");
        let mut m = m;
        let w = m.next_wire(&values(&r), 0, 50_000);
        assert_eq!(w.truth.lot, "LF-0002");
        assert_eq!(
            w.truth.strength.mode,
            crate::strength::FailureMode::StitchLift
        );
    }
}
