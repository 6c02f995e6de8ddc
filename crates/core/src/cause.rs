//! Root cause: ranks the likely causes of a drift or a yield drop from the evidence across
//! signals, as a process engineer reads it:
//!
//! | cause | signature |
//! |---|---|
//! | `ultrasonic_output` | US energy down, and the weld with it (ball deform and impedance drop down), heater normal, no trend with touchdowns |
//! | `capillary_wear` | the weld (deform) falling as touchdowns rise since the last capillary change faster than the capillary's counted life allows, US energy not down (a weaker weld keeps the impedance, and so the energy, up) |
//! | `heater` | the heater reading off its set point, the weld following it |
//! | `material_lot` | a step in the stitch's weld aligned with a lot change |
//! | `contamination` | a burst of non-sticks on the pad, the energy not down |
//! | `unknown` | none of these stands out |
//!
//! Each cause gets a score from its signature; the weights are the scores normalised to
//! sum to 1 (with `unknown` holding a constant share, so weak evidence ranks `unknown`
//! first). Pure: the station's analytics assemble the [`Evidence`].

/// A cause of the `{S}/health` contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    UltrasonicOutput,
    CapillaryWear,
    Heater,
    MaterialLot,
    Contamination,
    Unknown,
}

impl Cause {
    pub const ALL: [Cause; 6] = [
        Cause::UltrasonicOutput,
        Cause::CapillaryWear,
        Cause::Heater,
        Cause::MaterialLot,
        Cause::Contamination,
        Cause::Unknown,
    ];

    /// The contract's name.
    pub fn name(self) -> &'static str {
        match self {
            Cause::UltrasonicOutput => "ultrasonic_output",
            Cause::CapillaryWear => "capillary_wear",
            Cause::Heater => "heater",
            Cause::MaterialLot => "material_lot",
            Cause::Contamination => "contamination",
            Cause::Unknown => "unknown",
        }
    }
}

/// What the signals say, each as a shift of the recent window against the baseline in
/// units of the baseline's standard error (z), or as stated.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Evidence {
    /// Ball US energy.
    pub us_energy_z: f64,
    /// Ball Z sink (deform).
    pub ball_deform_z: f64,
    /// Ball impedance drop.
    pub ball_impedance_drop_z: f64,
    /// Stitch Z sink.
    pub stitch_deform_z: f64,
    /// Stitch impedance drop.
    pub stitch_impedance_drop_z: f64,
    /// Heater reading off its set point.
    pub heater_z: f64,
    /// Correlation (−1…1) of the ball deform's subgroup means with the touchdowns since
    /// the last capillary change over the window.
    pub touchdown_correlation: f64,
    /// The weld falls with touchdowns faster than the capillary's counted life allows
    /// (its forecast leaves the window before that life): normal wear, which always
    /// correlates with touchdowns, is no evidence.
    pub wear_abnormal: bool,
    /// A lot change within the window, and the stitch's weld stepped at it.
    pub lot_step: bool,
    /// Non-sticks on the pad in the window over the baseline rate (1 = as usual).
    pub nsop_ratio: f64,
}

/// Scores above this count as evidence.
const SIGNIFICANT: f64 = 3.0;

fn over(z: f64) -> f64 {
    (z - SIGNIFICANT).max(0.0)
}

/// The causes ranked by weight (sum 1), the likeliest first.
pub fn rank(e: &Evidence) -> Vec<(Cause, f64)> {
    let weld_down = over(-e.ball_deform_z).max(over(-e.ball_impedance_drop_z));
    let energy_down = over(-e.us_energy_z);
    // A weaker weld keeps the transducer's impedance up, so the delivered energy
    // (∑ I²·|Z|) rises with it: only a fall of the energy points at the generator.
    let energy_not_down = e.us_energy_z > -SIGNIFICANT;
    let heater = over(e.heater_z.abs());
    let heater_normal = heater == 0.0;
    // 0 at r ≥ −0.5, 1 at r = −1; only when the wear is faster than the capillary's life.
    let trend = if e.wear_abnormal {
        (-e.touchdown_correlation - 0.5).max(0.0) * 2.0
    } else {
        0.0
    };
    let mut score = [0.0f64; 6];
    // Ultrasonic output: energy down; the weld with it; not the heater nor the capillary.
    score[0] = if heater_normal {
        energy_down * (1.0 + 0.2 * weld_down) * (1.0 - 0.7 * trend)
    } else {
        0.2 * energy_down
    };
    // Capillary: the weld falling with touchdowns, energy normal.
    score[1] = if energy_not_down && heater_normal {
        weld_down * trend * 2.0
    } else {
        0.0
    };
    // Heater: the reading off, weld following.
    score[2] = heater * (1.0 + 0.2 * weld_down);
    // Material lot: a step at a lot change in the stitch.
    let stitch_down = over(-e.stitch_deform_z).max(over(-e.stitch_impedance_drop_z));
    score[3] = if e.lot_step {
        (stitch_down + 1.0) * 3.0
    } else {
        0.0
    };
    // Contamination: non-sticks well above their rate with normal energy.
    score[4] = if energy_not_down && e.nsop_ratio > 3.0 {
        (e.nsop_ratio - 3.0) * 2.0
    } else {
        0.0
    };
    // Unknown keeps a constant share.
    score[5] = 1.0;
    let total: f64 = score.iter().sum();
    let mut out: Vec<(Cause, f64)> = Cause::ALL
        .into_iter()
        .zip(score)
        .map(|(c, s)| (c, s / total))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(e: Evidence) -> Cause {
        rank(&e)[0].0
    }

    #[test]
    fn each_signature_names_its_cause() {
        let us = Evidence {
            us_energy_z: -12.0,
            ball_deform_z: -6.0,
            ball_impedance_drop_z: -5.0,
            touchdown_correlation: -0.1,
            nsop_ratio: 1.0,
            ..Default::default()
        };
        assert_eq!(first(us), Cause::UltrasonicOutput);
        let cap = Evidence {
            us_energy_z: 0.5,
            ball_deform_z: -8.0,
            touchdown_correlation: -0.95,
            wear_abnormal: true,
            nsop_ratio: 1.0,
            ..Default::default()
        };
        assert_eq!(first(cap), Cause::CapillaryWear);
        let heat = Evidence {
            heater_z: -20.0,
            ball_deform_z: -5.0,
            us_energy_z: -4.0,
            nsop_ratio: 1.0,
            ..Default::default()
        };
        assert_eq!(first(heat), Cause::Heater);
        let lot = Evidence {
            lot_step: true,
            stitch_deform_z: -9.0,
            nsop_ratio: 1.0,
            ..Default::default()
        };
        assert_eq!(first(lot), Cause::MaterialLot);
        let dirt = Evidence {
            nsop_ratio: 40.0,
            ..Default::default()
        };
        assert_eq!(first(dirt), Cause::Contamination);
        let noise = Evidence {
            us_energy_z: 1.2,
            ball_deform_z: -2.0,
            nsop_ratio: 1.2,
            ..Default::default()
        };
        assert_eq!(first(noise), Cause::Unknown);
        let w: f64 = rank(&us).iter().map(|c| c.1).sum();
        assert!((w - 1.0).abs() < 1e-12);
    }
}
