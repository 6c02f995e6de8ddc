//! The station's verdict on a bond, from its curve and PR measurements: feature limits
//! first (non-stick, short tail, ball size, placement), then the curve envelope.
//!
//! The controller's own verdict byte is never used: a bond is `nsop` because its curve
//! shows no weld (no impedance drop, no Z sink), not because the controller said so.

use crate::bond::{BondEvent, BondKind, Defect, Verdict};
use crate::envelope::{Envelope, EnvelopeCheck, EnvelopeLearner};
use crate::features::{Features, extract};
use crate::recipe::Recipe;
use serde::{Deserialize, Serialize};

/// Below this impedance drop (% of start) nothing welded.
pub const NONSTICK_DROP_PCT: f32 = 6.0;
/// Below this Z sink (fraction of the wire diameter) nothing welded.
pub const NONSTICK_DEFORM_PER_WIRE: f32 = 0.06;
/// Once learned, a bond below this fraction of the good bonds' mean deformation or
/// impedance drop is a non-stick.
pub const NONSTICK_LEARNED_FRACTION: f32 = 0.4;
/// Before learning, a tail shorter than this many wire diameters is short.
pub const SHORT_TAIL_PER_WIRE: f32 = 3.0;
/// Once learned, a tail shorter than this fraction of the good bonds' mean is short.
pub const SHORT_TAIL_LEARNED_FRACTION: f32 = 0.6;
/// A curve with more than this fraction of samples outside its band in any channel is
/// judged `curve`.
pub const ENVELOPE_OUTSIDE_MAX: f32 = 0.03;

/// Verdict and the evidence for it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    pub verdict: Verdict,
    pub features: Features,
    /// Envelope comparison, when an envelope exists for the bond's kind.
    pub envelope: Option<EnvelopeCheck>,
}

#[derive(Debug, Clone, Default)]
struct KindState {
    learner: EnvelopeLearner,
    envelope: Option<Envelope>,
    /// Means of the learned bonds' features.
    deform_sum: f64,
    drop_sum: f64,
    tail_sum: f64,
    tail_n: u32,
    learned: Option<LearnedFeatures>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct LearnedFeatures {
    deform_um: f32,
    drop_pct: f32,
    tail_um: Option<f32>,
}

/// Judges bonds against one recipe; learns the envelope from its first good bonds.
#[derive(Debug, Clone)]
pub struct Judge {
    recipe: Recipe,
    kinds: [KindState; 2],
}

fn kind_index(k: BondKind) -> usize {
    match k {
        BondKind::Ball => 0,
        BondKind::Stitch => 1,
    }
}

impl Judge {
    /// A judge for a recipe, with nothing learned yet.
    pub fn new(recipe: &Recipe) -> Judge {
        Judge {
            recipe: recipe.clone(),
            kinds: Default::default(),
        }
    }

    /// The recipe this judge applies.
    pub fn recipe(&self) -> &Recipe {
        &self.recipe
    }

    /// Sets a kind's envelope explicitly (set in the recipe, or restored from the
    /// store); learning for that kind stops.
    pub fn set_envelope(&mut self, kind: BondKind, envelope: Envelope) {
        self.kinds[kind_index(kind)].envelope = Some(envelope);
    }

    /// The envelope of a kind, once learned or set.
    pub fn envelope(&self, kind: BondKind) -> Option<&Envelope> {
        self.kinds[kind_index(kind)].envelope.as_ref()
    }

    /// How many good bonds of a kind have been learned (stops at `learn_bonds`).
    pub fn learned_count(&self, kind: BondKind) -> u32 {
        self.kinds[kind_index(kind)].learner.count()
    }

    /// The verdict on a bond, without learning from it.
    pub fn assess(&self, bond: &BondEvent) -> Judgement {
        let f = extract(&bond.curve, bond.kind);
        let st = &self.kinds[kind_index(bond.kind)];
        let wire_um = self.recipe.wire.diameter_um.0 as f32;
        let limits = &self.recipe.limits;

        let mut deform_min = NONSTICK_DEFORM_PER_WIRE * wire_um;
        let mut drop_min = NONSTICK_DROP_PCT;
        let mut tail_min = SHORT_TAIL_PER_WIRE * wire_um;
        if let Some(l) = st.learned {
            deform_min = deform_min.max(NONSTICK_LEARNED_FRACTION * l.deform_um);
            drop_min = drop_min.max(NONSTICK_LEARNED_FRACTION * l.drop_pct);
            if let Some(t) = l.tail_um {
                tail_min = tail_min.max(SHORT_TAIL_LEARNED_FRACTION * t);
            }
        }
        let envelope = st.envelope.as_ref().map(|e| e.check(&bond.curve));

        let nonstick =
            f.us_window.is_none() || f.impedance_drop_pct < drop_min || f.deform_um < deform_min;
        let verdict = if nonstick {
            Verdict::Reject(match bond.kind {
                BondKind::Ball => Defect::Nsop,
                BondKind::Stitch => Defect::Nsol,
            })
        } else if bond.kind == BondKind::Stitch && f.tail_um.is_none_or(|t| t < tail_min) {
            Verdict::Reject(Defect::ShortTail)
        } else if bond.kind == BondKind::Ball
            && bond.ball_diameter_um.is_some_and(|d| {
                let d = f64::from(d);
                d < limits.ball_um[0].0 || d > limits.ball_um[1].0
            })
        {
            Verdict::Reject(Defect::BallSize)
        } else if f64::from(bond.place_dx_um.hypot(bond.place_dy_um)) > limits.placement_um.0 {
            Verdict::Reject(Defect::Placement)
        } else if envelope.is_some_and(|c| c.worst() > ENVELOPE_OUTSIDE_MAX) {
            Verdict::Reject(Defect::Curve)
        } else {
            Verdict::Ok
        };
        Judgement {
            verdict,
            features: f,
            envelope,
        }
    }

    /// Judges a bond; good bonds teach the envelope until `learn_bonds` are learned.
    pub fn judge(&mut self, bond: &BondEvent) -> Judgement {
        let j = self.assess(bond);
        if j.verdict.is_ok() {
            let learn_bonds = self.recipe.envelope.learn_bonds;
            let k_sigma = self.recipe.envelope.k_sigma as f32;
            let st = &mut self.kinds[kind_index(bond.kind)];
            if st.envelope.is_none() && st.learner.add(&bond.curve) {
                st.deform_sum += f64::from(j.features.deform_um);
                st.drop_sum += f64::from(j.features.impedance_drop_pct);
                if let Some(t) = j.features.tail_um {
                    st.tail_sum += f64::from(t);
                    st.tail_n += 1;
                }
                let n = st.learner.count();
                if n >= learn_bonds {
                    st.envelope = st.learner.envelope(k_sigma);
                    let nf = f64::from(n);
                    st.learned = Some(LearnedFeatures {
                        deform_um: (st.deform_sum / nf) as f32,
                        drop_pct: (st.drop_sum / nf) as f32,
                        tail_um: (st.tail_n > 0)
                            .then(|| (st.tail_sum / f64::from(st.tail_n)) as f32),
                    });
                }
            }
        }
        j
    }
}
