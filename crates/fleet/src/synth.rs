//! Synthetic station traffic (payloads of the gateway contract) for the load scenario,
//! screenshots and tests: statuses, bond batches, alarms, changeovers.

use bonder_gateway::payload::{
    AlarmMsg, BondMsg, BondsMsg, ChangeoverMsg, ChangeoverStepMsg, FirstArticleMsg, StatusMsg, V,
    ts,
};
use time::OffsetDateTime;

/// A small deterministic generator (xorshift), so runs repeat.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// Uniform in [0, 1).
    pub fn f(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Roughly normal (sum of uniforms), mean 0, sd 1.
    pub fn n(&mut self) -> f64 {
        (0..12).map(|_| self.f()).sum::<f64>() - 6.0
    }
}

/// A status.
pub fn status(
    state: &str,
    recipe: &str,
    operator: Option<&str>,
    wires: u64,
    rate: f64,
    yield_pct: f64,
    alarm: Option<u16>,
) -> StatusMsg {
    StatusMsg {
        v: V,
        ts: ts(OffsetDateTime::now_utc()),
        state: state.into(),
        recipe: Some(recipe.into()),
        operator: operator.map(str::to_string),
        wires_bonded: wires,
        wire_rate_per_min: rate,
        yield_pct,
        alarm,
    }
}

/// A batch of `wires` wires (ball + stitch each) from `first_seq`, with a reject rate.
pub fn bonds(rng: &mut Rng, first_seq: u64, wires: u64, reject_rate: f64) -> BondsMsg {
    let now = ts(OffsetDateTime::now_utc());
    let defects = [
        "nsop",
        "nsol",
        "short_tail",
        "ball_size",
        "placement",
        "curve",
    ];
    let mut v = Vec::with_capacity(wires as usize * 2);
    let mut seq = first_seq;
    for w in 0..wires {
        for kind in ["ball", "stitch"] {
            let verdict = if rng.f() < reject_rate / 2.0 {
                defects[(rng.f() * 6.0) as usize % 6]
            } else {
                "ok"
            };
            v.push(BondMsg {
                seq,
                ts: now.clone(),
                unit: (seq / 4) as u32,
                wire: (w % 2 + 1) as u16,
                kind: kind.into(),
                verdict: verdict.into(),
                dx_um: (rng.n() * 0.6 * 10.0).round() / 10.0,
                dy_um: (rng.n() * 0.6 * 10.0).round() / 10.0,
                ball_um: (kind == "ball").then(|| ((38.0 + rng.n() * 0.7) * 10.0).round() / 10.0),
                peak_force_gf: 24.0,
                us_energy_mj: 1.2,
                deform_um: 3.0,
            });
            seq += 1;
        }
    }
    BondsMsg {
        v: V,
        ts: now,
        first_seq,
        last_seq: seq - 1,
        bonds: v,
    }
}

/// An alarm raise or clear.
pub fn alarm(code: u16, raised: bool) -> AlarmMsg {
    AlarmMsg::new(OffsetDateTime::now_utc(), code, raised)
}

/// A changeover that ended `ago_min` minutes ago, steps with the given minutes.
pub fn changeover(
    id: &str,
    from: &str,
    to: &str,
    ago_min: f64,
    steps: &[(&str, f64)],
    pull: f64,
    shear: f64,
) -> ChangeoverMsg {
    let end = OffsetDateTime::now_utc() - time::Duration::seconds_f64(ago_min * 60.0);
    let total: f64 = steps.iter().map(|(_, m)| m).sum();
    let mut t = end - time::Duration::seconds_f64(total * 60.0);
    let started = t;
    let steps = steps
        .iter()
        .map(|(name, m)| {
            let s = t;
            t += time::Duration::seconds_f64(m * 60.0);
            ChangeoverStepMsg {
                name: (*name).into(),
                started: ts(s),
                ended: ts(t),
                by: "T-17".into(),
            }
        })
        .collect();
    ChangeoverMsg {
        v: V,
        id: id.into(),
        from_recipe: Some(from.into()),
        to_recipe: to.into(),
        started: ts(started),
        ended: ts(end),
        minutes: total,
        steps,
        first_article: FirstArticleMsg {
            passed: pull >= 2.5 && shear >= 9.0,
            pull_gf_min: pull,
            shear_gf_min: shear,
        },
    }
}

/// Changeover step names (the station's guided changeover).
pub const STEPS: [&str; 9] = [
    "select",
    "setup",
    "materials",
    "kit",
    "download",
    "settle",
    "pr_teach",
    "first_article",
    "sign_off",
];
