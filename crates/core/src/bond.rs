//! A bond as the station sees it: what the controller reported, and the curve samples.

use serde::{Deserialize, Serialize};
use std::fmt;

/// First or second bond of a wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BondKind {
    /// 1st bond, on the die pad.
    Ball,
    /// 2nd bond, on the lead.
    Stitch,
}

impl BondKind {
    /// The stream's `bond_kind` byte.
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(Self::Ball),
            2 => Some(Self::Stitch),
            _ => None,
        }
    }
    /// The stream's `bond_kind` byte.
    pub fn as_u8(self) -> u8 {
        match self {
            Self::Ball => 1,
            Self::Stitch => 2,
        }
    }
    /// Name on the gateway (`"ball"` / `"stitch"`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Ball => "ball",
            Self::Stitch => "stitch",
        }
    }
}

/// A curve channel. Every channel's samples are in 0.1 of its unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelId {
    /// Ultrasonic transducer current, mA.
    UsCurrent = 1,
    /// Bond force, gf.
    Force = 2,
    /// Z height relative to contact, µm.
    ZHeight = 3,
    /// Ultrasonic impedance, Ω.
    Impedance = 4,
}

impl ChannelId {
    /// Every channel in id order.
    pub const ALL: [ChannelId; 4] = [Self::UsCurrent, Self::Force, Self::ZHeight, Self::Impedance];

    /// The channel for a stream `channel_id`.
    pub fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|c| *c as u8 == v)
    }
    /// Position in [`ChannelId::ALL`].
    pub fn index(self) -> usize {
        self as usize - 1
    }
    /// Engineering units per sample count (all channels are 0.1 units).
    pub const SCALE: f32 = 0.1;
    /// Fluent key stem and short name.
    pub fn name(self) -> &'static str {
        match self {
            Self::UsCurrent => "us_current",
            Self::Force => "force",
            Self::ZHeight => "z_height",
            Self::Impedance => "impedance",
        }
    }
    /// Unit symbol.
    pub fn unit(self) -> &'static str {
        match self {
            Self::UsCurrent => "mA",
            Self::Force => "gf",
            Self::ZHeight => "µm",
            Self::Impedance => "Ω",
        }
    }
}

/// The sampled curves of one bond. Samples are raw counts (0.1 unit); channels absent
/// from the stream are empty.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Curve {
    /// Samples per second.
    pub sample_rate_hz: u32,
    /// Raw samples per channel, indexed by [`ChannelId::index`].
    pub channels: [Vec<i16>; 4],
}

impl Curve {
    /// Raw samples of one channel (empty when the channel was not sent).
    pub fn raw(&self, ch: ChannelId) -> &[i16] {
        &self.channels[ch.index()]
    }
    /// Samples of one channel in engineering units.
    pub fn values(&self, ch: ChannelId) -> impl ExactSizeIterator<Item = f32> + '_ {
        self.raw(ch)
            .iter()
            .map(|&s| f32::from(s) * ChannelId::SCALE)
    }
    /// Samples per channel (the longest channel).
    pub fn len(&self) -> usize {
        self.channels.iter().map(Vec::len).max().unwrap_or(0)
    }
    /// Whether no channel has samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Seconds per sample (0 when the rate is unknown).
    pub fn dt_s(&self) -> f64 {
        if self.sample_rate_hz == 0 {
            0.0
        } else {
            1.0 / f64::from(self.sample_rate_hz)
        }
    }
}

/// One bond event from the controller's stream, in engineering units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BondEvent {
    /// Controller clock at bond start, µs.
    pub time_us: u64,
    pub unit_no: u32,
    pub wire_no: u16,
    pub kind: BondKind,
    /// The controller's own verdict: 0 ok, else the alarm code's low byte. Recorded,
    /// never used for the station's verdict.
    pub ctrl_verdict: u8,
    /// Placement offset from PR, µm.
    pub place_dx_um: f32,
    pub place_dy_um: f32,
    /// Ball diameter from PR, µm (`None` for stitch bonds).
    pub ball_diameter_um: Option<f32>,
    pub curve: Curve,
}

/// What is wrong with a bond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Defect {
    /// Non-stick on pad (ball bond did not weld).
    Nsop,
    /// Non-stick on lead (stitch bond did not weld).
    Nsol,
    ShortTail,
    BallSize,
    Placement,
    /// Features in limits but the curve left its envelope.
    Curve,
}

impl Defect {
    /// Every defect, most severe first.
    pub const ALL: [Defect; 6] = [
        Self::Nsop,
        Self::Nsol,
        Self::ShortTail,
        Self::BallSize,
        Self::Placement,
        Self::Curve,
    ];

    /// Name on the gateway (`verdict`) and Fluent key stem (`defect-<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Nsop => "nsop",
            Self::Nsol => "nsol",
            Self::ShortTail => "short_tail",
            Self::BallSize => "ball_size",
            Self::Placement => "placement",
            Self::Curve => "curve",
        }
    }
    /// Position in [`Defect::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
    /// The defect for a gateway name.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name() == s)
    }
}

/// The station's verdict on a bond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    Reject(Defect),
}

impl Verdict {
    /// `"ok"` or the defect's name, as the gateway carries it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Reject(d) => d.name(),
        }
    }
    /// Whether the bond is good.
    pub fn is_ok(self) -> bool {
        self == Self::Ok
    }
    /// The verdict for a gateway name.
    pub fn from_name(s: &str) -> Option<Self> {
        if s == "ok" {
            Some(Self::Ok)
        } else {
            Defect::from_name(s).map(Self::Reject)
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
