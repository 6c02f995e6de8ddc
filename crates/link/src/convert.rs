//! Wire-level bond frames ↔ the domain's [`BondEvent`].

use crate::frame::{BondFrame, ChannelFrame};
use bonder_core::bond::{BondEvent, BondKind, ChannelId, Curve};

/// Why a bond frame cannot become a bond event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    #[error("unknown bond kind {0}")]
    BondKind(u8),
}

impl TryFrom<BondFrame> for BondEvent {
    type Error = ConvertError;

    /// Channels with an unknown id are ignored (forward compatible); scaled fields
    /// become engineering units.
    fn try_from(f: BondFrame) -> Result<Self, ConvertError> {
        let kind = BondKind::from_u8(f.bond_kind).ok_or(ConvertError::BondKind(f.bond_kind))?;
        let mut curve = Curve {
            sample_rate_hz: u32::from(f.sample_rate_per_100) * 100,
            ..Default::default()
        };
        for ch in f.channels {
            if let Some(id) = ChannelId::from_u8(ch.id) {
                curve.channels[id.index()] = ch.samples;
            }
        }
        Ok(BondEvent {
            time_us: f.time_us,
            unit_no: f.unit_no,
            wire_no: f.wire_no,
            kind,
            ctrl_verdict: f.ctrl_verdict,
            place_dx_um: f32::from(f.place_dx_0p1um) / 10.0,
            place_dy_um: f32::from(f.place_dy_0p1um) / 10.0,
            ball_diameter_um: (kind == BondKind::Ball && f.ball_diameter_0p1um > 0)
                .then(|| f32::from(f.ball_diameter_0p1um) / 10.0),
            curve,
        })
    }
}

fn scaled_i16(v: f32) -> i16 {
    (v * 10.0)
        .round()
        .clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
}

impl From<&BondEvent> for BondFrame {
    /// Channels that have samples are sent, in id order.
    fn from(b: &BondEvent) -> Self {
        BondFrame {
            time_us: b.time_us,
            unit_no: b.unit_no,
            wire_no: b.wire_no,
            bond_kind: b.kind.as_u8(),
            ctrl_verdict: b.ctrl_verdict,
            place_dx_0p1um: scaled_i16(b.place_dx_um),
            place_dy_0p1um: scaled_i16(b.place_dy_um),
            ball_diameter_0p1um: b
                .ball_diameter_um
                .map_or(0, |d| (d * 10.0).round().clamp(0.0, 65535.0) as u16),
            sample_rate_per_100: (b.curve.sample_rate_hz / 100).min(u32::from(u16::MAX)) as u16,
            channels: ChannelId::ALL
                .into_iter()
                .filter(|c| !b.curve.raw(*c).is_empty())
                .map(|c| ChannelFrame {
                    id: c as u8,
                    samples: b.curve.raw(c).to_vec(),
                })
                .collect(),
        }
    }
}
