//! The strength of a made wire: what a bench tester would measure if it pulled the wire
//! (pull, gf) or sheared its ball (shear, gf), and how it would fail — the simulator's
//! ground truth for the station's predicted strength.
//!
//! From the physics the bond model already has:
//! * **shear** = shear strength of the weld × welded area (weld fraction × the bonded
//!   ball's area); the weld fraction carries the weld energy (US power × time × √force,
//!   the effective ultrasonic output), the heater, the capillary's wear, the material
//!   and the pad's cleanliness;
//! * **pull** = the weakest link of the wire: the ball's weld lifting (∝ shear), the neck
//!   above the ball (the heat-affected zone, a share of the wire's break load), the heel
//!   of the stitch (weaker as the capillary wears), or the stitch's weld lifting (∝ its
//!   weld fraction to the power 1.5, and the lead frame's bondability);
//! * **cratering**: weld energy far above the window cracks the pad (a reject however
//!   strong the wire).
//!
//! Each term carries its own scatter. In spec = no defect, no crater, pull ≥ the recipe's
//! `pull_min_gf` and shear ≥ `shear_min_gf`.

use bonder_core::recipe::WireMaterial;

/// How a tested wire failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureMode {
    /// The ball lifted off the pad.
    BallLift,
    /// The wire broke at the neck above the ball.
    NeckBreak,
    /// The wire broke at the heel of the stitch.
    HeelBreak,
    /// The stitch lifted off the lead.
    StitchLift,
    /// The pad under the ball cracked.
    Cratering,
}

impl FailureMode {
    pub const ALL: [FailureMode; 5] = [
        FailureMode::BallLift,
        FailureMode::NeckBreak,
        FailureMode::HeelBreak,
        FailureMode::StitchLift,
        FailureMode::Cratering,
    ];

    /// The name in the truth file and the pull tester's files.
    pub fn name(self) -> &'static str {
        match self {
            FailureMode::BallLift => "ball_lift",
            FailureMode::NeckBreak => "neck_break",
            FailureMode::HeelBreak => "heel_break",
            FailureMode::StitchLift => "stitch_lift",
            FailureMode::Cratering => "cratering",
        }
    }

    pub fn from_name(s: &str) -> Option<FailureMode> {
        FailureMode::ALL.into_iter().find(|m| m.name() == s)
    }
}

/// What decides a wire's strength (from the bond model).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeldState {
    pub material: WireMaterial,
    /// The wire's tensile break load, gf (the bond model's, which the tail break uses).
    pub wire_break_gf: f64,
    /// Bonded ball diameter, µm.
    pub ball_um: f64,
    /// Ball weld fraction 0..1 (as made).
    pub ball_weld: f64,
    /// Stitch weld fraction 0..1 (as made, the lead's bondability included).
    pub stitch_weld: f64,
    /// Ball weld energy over the material's E0 (1 ≈ 63 % weld).
    pub ball_energy_ratio: f64,
    /// Capillary wear: touchdowns over the capillary's life (× the wear rate).
    pub wear: f64,
}

/// A wire's strength as a tester would find it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Strength {
    pub pull_gf: f64,
    pub shear_gf: f64,
    /// The failure mode of a pull test (cratering if the pad cracked).
    pub mode: FailureMode,
    pub cratered: bool,
}

/// Material constants of the strength model.
struct Consts {
    /// Shear strength of a welded µm², gf.
    tau_gf_per_um2: f64,
    /// Neck strength over the wire's break load (heat-affected zone).
    neck: f64,
    /// Weld-energy ratio at which half the pads crater.
    crater_ratio: f64,
}

fn consts(m: WireMaterial) -> Consts {
    match m {
        WireMaterial::Au => Consts {
            tau_gf_per_um2: 0.020,
            neck: 0.72,
            crater_ratio: 2.0,
        },
        WireMaterial::Cu => Consts {
            tau_gf_per_um2: 0.036,
            neck: 0.80,
            crater_ratio: 1.6,
        },
        WireMaterial::PdCu => Consts {
            tau_gf_per_um2: 0.034,
            neck: 0.80,
            crater_ratio: 1.65,
        },
        WireMaterial::Ag => Consts {
            tau_gf_per_um2: 0.022,
            neck: 0.75,
            crater_ratio: 1.6,
        },
    }
}

/// Relative scatter of each term (1 σ).
pub const CV_SHEAR: f64 = 0.06;
pub const CV_NECK: f64 = 0.04;
pub const CV_HEEL: f64 = 0.06;
pub const CV_LIFT: f64 = 0.08;
/// Width of the cratering logistic in the weld-energy ratio.
const CRATER_WIDTH: f64 = 0.06;

/// The mean of each term of a wire's strength (no scatter), gf.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Links {
    pub shear: f64,
    pub ball_lift: f64,
    pub neck: f64,
    pub heel: f64,
    pub stitch_lift: f64,
}

/// The strength terms of a wire without their scatter.
pub fn links(s: &WeldState) -> Links {
    let c = consts(s.material);
    let ball_area = std::f64::consts::PI * s.ball_um * s.ball_um / 4.0;
    let break_gf = s.wire_break_gf;
    let shear = c.tau_gf_per_um2 * s.ball_weld.clamp(0.0, 1.0) * ball_area;
    let heel_wear = 1.0 - 0.12 * s.wear.min(1.0) - 0.4 * (s.wear - 1.0).max(0.0);
    Links {
        shear,
        ball_lift: 0.55 * shear,
        neck: c.neck * break_gf,
        heel: 0.95 * break_gf * heel_wear.max(0.1),
        stitch_lift: 1.8 * break_gf * s.stitch_weld.clamp(0.0, 1.0).powf(1.5),
    }
}

/// The weld-energy ratio at which a share `p` of the pads crater.
pub fn crater_limit(m: WireMaterial, p: f64) -> f64 {
    consts(m).crater_ratio + CRATER_WIDTH * (p / (1.0 - p)).ln()
}

/// The strength of a wire; `noise` gives standard normal deviates (one per term).
pub fn strength(s: &WeldState, mut noise: impl FnMut() -> f64, uniform: f64) -> Strength {
    let c = consts(s.material);
    // The heel: a worn capillary's edge nicks it (in `links`).
    let l = links(s);
    let mut scatter = |cv: f64| (1.0 + cv * noise()).max(0.05);
    let shear = l.shear * scatter(CV_SHEAR);
    let ball_lift = 0.55 * shear * scatter(CV_LIFT);
    let neck = l.neck * scatter(CV_NECK);
    let heel = l.heel * scatter(CV_HEEL);
    let stitch_lift = l.stitch_lift * scatter(CV_LIFT);
    let (mut pull, mut mode) = (ball_lift, FailureMode::BallLift);
    for (v, m) in [
        (neck, FailureMode::NeckBreak),
        (heel, FailureMode::HeelBreak),
        (stitch_lift, FailureMode::StitchLift),
    ] {
        if v < pull {
            (pull, mode) = (v, m);
        }
    }
    // Cratering: a logistic in the weld energy around the material's limit.
    let p_crater = 1.0 / (1.0 + (-(s.ball_energy_ratio - c.crater_ratio) / CRATER_WIDTH).exp());
    let cratered = uniform < p_crater;
    if cratered {
        mode = FailureMode::Cratering;
    }
    Strength {
        pull_gf: pull,
        shear_gf: shear,
        mode,
        cratered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nominal(material: WireMaterial) -> WeldState {
        match material {
            WireMaterial::Au => WeldState {
                material,
                wire_break_gf: 10.13,
                ball_um: 48.7,
                ball_weld: 0.58,
                stitch_weld: 0.71,
                ball_energy_ratio: 0.875,
                wear: 0.3,
            },
            _ => WeldState {
                material,
                wire_break_gf: 9.71,
                ball_um: 37.7,
                ball_weld: 0.40,
                stitch_weld: 0.62,
                ball_energy_ratio: 0.50,
                wear: 0.3,
            },
        }
    }

    #[test]
    fn a_nominal_wire_breaks_at_the_neck_well_above_the_minimums() {
        // Au: pull ≥ 3 gf, shear ≥ 12 gf; Cu: 2.5 and 9.
        for (m, pull_min, shear_min) in
            [(WireMaterial::Au, 3.0, 12.0), (WireMaterial::Cu, 2.5, 9.0)]
        {
            let s = strength(&nominal(m), || 0.0, 0.5);
            assert_eq!(s.mode, FailureMode::NeckBreak, "{m:?}: {s:?}");
            assert!(!s.cratered);
            assert!(s.pull_gf > 2.0 * pull_min, "{m:?}: {s:?}");
            assert!(s.shear_gf > 1.4 * shear_min, "{m:?}: {s:?}");
        }
    }

    #[test]
    fn the_failure_follows_the_physics() {
        let au = nominal(WireMaterial::Au);
        // A weak ball weld: the ball lifts, the shear falls with the weld.
        let weak = strength(
            &WeldState {
                ball_weld: 0.2,
                ..au
            },
            || 0.0,
            0.5,
        );
        assert_eq!(weak.mode, FailureMode::BallLift);
        assert!(weak.shear_gf < 0.4 * strength(&au, || 0.0, 0.5).shear_gf);
        // A poorly bondable lead: the stitch lifts.
        let lot = strength(
            &WeldState {
                stitch_weld: 0.3,
                ..au
            },
            || 0.0,
            0.5,
        );
        assert_eq!(lot.mode, FailureMode::StitchLift);
        // A capillary far past its life: the heel breaks.
        let worn = strength(&WeldState { wear: 2.0, ..au }, || 0.0, 0.5);
        assert_eq!(worn.mode, FailureMode::HeelBreak);
        // Far too much energy: the pad cracks (not at the nominal energy).
        let hot = strength(
            &WeldState {
                ball_energy_ratio: 2.3,
                ..au
            },
            || 0.0,
            0.5,
        );
        assert!(hot.cratered && hot.mode == FailureMode::Cratering);
        // Copper craters at a lower energy ratio than gold.
        let cu = WeldState {
            ball_energy_ratio: 1.75,
            ..nominal(WireMaterial::Cu)
        };
        assert!(strength(&cu, || 0.0, 0.5).cratered);
        assert!(
            !strength(
                &WeldState {
                    ball_energy_ratio: 1.75,
                    ..au
                },
                || 0.0,
                0.5
            )
            .cratered
        );
        for m in FailureMode::ALL {
            assert_eq!(FailureMode::from_name(m.name()), Some(m));
        }
    }
}
