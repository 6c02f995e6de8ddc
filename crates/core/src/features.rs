//! Features of a bond curve: what a process engineer reads off it.

use crate::bond::{BondKind, ChannelId, Curve};
use serde::{Deserialize, Serialize};

/// Fraction of the peak ultrasonic current above which a sample belongs to the bond
/// (ultrasonic-on) window.
const US_ON_FRACTION: f32 = 0.25;
/// Smallest peak ultrasonic current (mA) that counts as ultrasonics having been on.
const US_MIN_PEAK_MA: f32 = 2.0;

/// Features of one bond's curve.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Features {
    /// Highest bond force, gf.
    pub peak_force_gf: f32,
    /// Ultrasonic energy delivered, ∑ I²·|Z|·dt, mJ.
    pub us_energy_mj: f32,
    /// Z sink during the bond (ultrasonic-on window), µm; ≥ 0 for a bond that welds.
    pub deform_um: f32,
    /// Drop of the ultrasonic impedance from the start to the end of the bond, % of the
    /// start value. A weld that grows couples the capillary to the work: the impedance
    /// falls. No drop: nothing welded.
    pub impedance_drop_pct: f32,
    /// Stitch bonds: Z rise from the bond to the point where the wire broke (the tail
    /// length), µm. `None` for ball bonds or when no break was seen.
    pub tail_um: Option<f32>,
    /// Sample range `[start, end)` where ultrasonics were on.
    pub us_window: Option<(usize, usize)>,
}

fn mean(xs: impl Iterator<Item = f32>) -> Option<f32> {
    let (mut sum, mut n) = (0.0f32, 0u32);
    for x in xs {
        sum += x;
        n += 1;
    }
    (n > 0).then(|| sum / n as f32)
}

fn slice_mean(v: &[i16], from: usize, to: usize) -> Option<f32> {
    let to = to.min(v.len());
    let from = from.min(to);
    mean(v[from..to].iter().map(|&s| f32::from(s) * ChannelId::SCALE))
}

/// Computes the features of a curve. Missing channels give zero features; never panics.
pub fn extract(curve: &Curve, kind: BondKind) -> Features {
    let current = curve.raw(ChannelId::UsCurrent);
    let force = curve.raw(ChannelId::Force);
    let z = curve.raw(ChannelId::ZHeight);
    let imp = curve.raw(ChannelId::Impedance);
    let dt = curve.dt_s() as f32;

    let peak_force_gf = force
        .iter()
        .copied()
        .max()
        .map_or(0.0, |m| f32::from(m) * ChannelId::SCALE);

    let peak_current = current
        .iter()
        .copied()
        .max()
        .map_or(0.0, |m| f32::from(m) * 0.1);
    let us_window = if peak_current >= US_MIN_PEAK_MA {
        let thr = peak_current * US_ON_FRACTION;
        let on = |s: &i16| f32::from(*s) * ChannelId::SCALE >= thr;
        let start = current.iter().position(on);
        let end = current.iter().rposition(on).map(|e| e + 1);
        start.zip(end).filter(|(s, e)| e > s)
    } else {
        None
    };

    let mut energy_j = 0.0f32;
    for (i, &c) in current.iter().enumerate() {
        let amps = f32::from(c) * ChannelId::SCALE / 1000.0;
        let ohm = imp
            .get(i)
            .map_or(0.0, |&r| f32::from(r) * ChannelId::SCALE)
            .max(0.0);
        energy_j += amps * amps * ohm * dt;
    }

    let (mut deform_um, mut impedance_drop_pct, mut z_bond_end) = (0.0, 0.0, None);
    if let Some((s, e)) = us_window {
        let w = e - s;
        let edge = (w / 10).max(1);
        if let (Some(z0), Some(z1)) = (slice_mean(z, s, s + edge), slice_mean(z, e - edge, e)) {
            deform_um = z0 - z1;
            z_bond_end = Some(z1);
        }
        let early = (s + w / 10, s + w / 4);
        let late = (e - (w * 15 / 100).max(1), e);
        if let (Some(r0), Some(r1)) = (
            slice_mean(imp, early.0, early.1.max(early.0 + 1)),
            slice_mean(imp, late.0, late.1),
        ) {
            if r0 > 0.0 {
                impedance_drop_pct = (r0 - r1) / r0 * 100.0;
            }
        }
    }

    let tail_um = match (kind, us_window, z_bond_end) {
        (BondKind::Stitch, Some((_, e)), Some(z_end)) => {
            // The wire breaks where tension (negative force) peaks after the bond.
            let after = force.get(e..).unwrap_or(&[]);
            after
                .iter()
                .enumerate()
                .min_by_key(|(_, f)| **f)
                .filter(|(_, f)| f32::from(**f) * ChannelId::SCALE < -1.0)
                .and_then(|(i, _)| z.get(e + i))
                .map(|&zb| f32::from(zb) * ChannelId::SCALE - z_end)
        }
        _ => None,
    };

    Features {
        peak_force_gf,
        us_energy_mj: energy_j * 1000.0,
        deform_um,
        impedance_drop_pct,
        tail_um,
        us_window,
    }
}
