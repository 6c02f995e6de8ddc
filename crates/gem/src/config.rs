//! What the host configures and the station keeps across restarts: report definitions,
//! event links and enables, equipment constants, alarm enables, spooled streams; and the
//! equipment constant table with its ranges.

use crate::ids::ec;
use bonder_secs::Item;
use std::collections::{BTreeMap, BTreeSet};

/// A constant's value (the format is the table's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EcValue {
    U(u64),
    F(f64),
    Bool(bool),
}

/// The format an EC is sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcFormat {
    U1,
    U2,
    U4,
    F4,
    Boolean,
}

/// One equipment constant of the manual (§4).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EcInfo {
    pub id: u32,
    pub name: &'static str,
    pub format: EcFormat,
    pub units: &'static str,
    pub default: EcValue,
    /// Inclusive range (numbers only).
    pub min: f64,
    pub max: f64,
}

const fn ec(
    id: u32,
    name: &'static str,
    format: EcFormat,
    units: &'static str,
    default: EcValue,
    min: f64,
    max: f64,
) -> EcInfo {
    EcInfo {
        id,
        name,
        format,
        units,
        default,
        min,
        max,
    }
}

/// Every equipment constant.
pub const ECS: &[EcInfo] = &[
    ec(
        ec::ESTABLISH_COMMUNICATIONS_TIMEOUT,
        "EstablishCommunicationsTimeout",
        EcFormat::U2,
        "s",
        EcValue::U(10),
        1.0,
        120.0,
    ),
    ec(
        ec::TIME_FORMAT,
        "TimeFormat",
        EcFormat::U1,
        "",
        EcValue::U(1),
        0.0,
        1.0,
    ),
    ec(
        ec::CONFIG_SPOOL,
        "ConfigSpool",
        EcFormat::Boolean,
        "",
        EcValue::Bool(false),
        0.0,
        1.0,
    ),
    ec(
        ec::MAX_SPOOL_TRANSMIT,
        "MaxSpoolTransmit",
        EcFormat::U4,
        "messages",
        EcValue::U(0),
        0.0,
        1_000_000.0,
    ),
    ec(
        ec::OVERWRITE_SPOOL,
        "OverWriteSpool",
        EcFormat::Boolean,
        "",
        EcValue::Bool(false),
        0.0,
        1.0,
    ),
    ec(
        ec::MAX_SPOOL_MESSAGES,
        "MaxSpoolMessages",
        EcFormat::U4,
        "messages",
        EcValue::U(100_000),
        100.0,
        10_000_000.0,
    ),
    ec(
        ec::ONLINE_SUBSTATE,
        "OnlineSubState",
        EcFormat::U1,
        "",
        EcValue::U(5),
        4.0,
        5.0,
    ),
    ec(
        ec::INIT_CONTROL_STATE,
        "InitControlState",
        EcFormat::U1,
        "",
        EcValue::U(2),
        1.0,
        2.0,
    ),
    ec(
        ec::CAPILLARY_LIFE_LIMIT,
        "CapillaryLifeLimit",
        EcFormat::U4,
        "bonds",
        EcValue::U(1_000_000),
        10_000.0,
        5_000_000.0,
    ),
    ec(
        ec::YIELD_ALARM_PCT,
        "YieldAlarmPct",
        EcFormat::F4,
        "%",
        EcValue::F(98.0),
        50.0,
        100.0,
    ),
];

pub fn ec_info(id: u32) -> Option<&'static EcInfo> {
    ECS.iter().find(|e| e.id == id)
}

impl EcInfo {
    /// The value as an item in the table's format.
    pub fn item(&self, v: EcValue) -> Item {
        match (self.format, v) {
            (EcFormat::Boolean, EcValue::Bool(b)) => Item::boolean(b),
            (EcFormat::F4, EcValue::F(f)) => Item::f4(f as f32),
            (EcFormat::U1, EcValue::U(u)) => Item::u1(u as u8),
            (EcFormat::U2, EcValue::U(u)) => Item::u2(u as u16),
            (EcFormat::U4, EcValue::U(u)) => Item::u4(u as u32),
            // A stored value of another kind (never written by this code): the default.
            _ => self.item(self.default),
        }
    }

    /// A host's value for this constant: `None` when of the wrong format or out of
    /// range (EAC 3). Integers may come in any integer format; F4 also accepts F8 and
    /// integers; BOOLEAN also a one-byte B/U1.
    pub fn accept(&self, item: &Item) -> Option<EcValue> {
        let v = match self.format {
            EcFormat::Boolean => EcValue::Bool(item.as_bool()?),
            EcFormat::F4 => EcValue::F(item.as_f64()?),
            EcFormat::U1 | EcFormat::U2 | EcFormat::U4 => EcValue::U(item.as_u64()?),
        };
        let n = match v {
            EcValue::U(u) => u as f64,
            EcValue::F(f) => f,
            EcValue::Bool(_) => return Some(v),
        };
        if n.is_finite() && n >= self.min && n <= self.max {
            Some(v)
        } else {
            None
        }
    }
}

/// Everything the host configured (persisted by [`crate::GemStore`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HostConfig {
    /// RPTID → VIDs.
    pub reports: BTreeMap<u32, Vec<u32>>,
    /// CEID → RPTIDs, in link order.
    pub links: BTreeMap<u32, Vec<u32>>,
    /// Enabled CEIDs.
    pub enabled_events: BTreeSet<u32>,
    /// Constants the host changed (absent = default).
    pub constants: BTreeMap<u32, EcValue>,
    /// ALIDs the host disabled (every alarm is enabled by default).
    pub disabled_alarms: BTreeSet<u32>,
    /// Streams whose primaries are spooled (S2F43); default S5 and S6.
    pub spool_streams: BTreeSet<u8>,
}

impl Default for HostConfig {
    fn default() -> HostConfig {
        HostConfig {
            reports: BTreeMap::new(),
            links: BTreeMap::new(),
            enabled_events: BTreeSet::new(),
            constants: BTreeMap::new(),
            disabled_alarms: BTreeSet::new(),
            spool_streams: [5, 6].into_iter().collect(),
        }
    }
}

impl HostConfig {
    pub fn constant(&self, id: u32) -> EcValue {
        self.constants
            .get(&id)
            .copied()
            .or_else(|| ec_info(id).map(|e| e.default))
            .unwrap_or(EcValue::U(0))
    }

    pub fn constant_u(&self, id: u32) -> u64 {
        match self.constant(id) {
            EcValue::U(u) => u,
            EcValue::F(f) => f as u64,
            EcValue::Bool(b) => u64::from(b),
        }
    }

    pub fn constant_bool(&self, id: u32) -> bool {
        matches!(self.constant(id), EcValue::Bool(true))
    }

    pub fn constant_f(&self, id: u32) -> f64 {
        match self.constant(id) {
            EcValue::F(f) => f,
            EcValue::U(u) => u as f64,
            EcValue::Bool(b) => f64::from(u8::from(b)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_formats_are_checked() {
        let t = ec_info(ec::ESTABLISH_COMMUNICATIONS_TIMEOUT).unwrap();
        assert_eq!(t.accept(&Item::u1(30)), Some(EcValue::U(30)));
        assert_eq!(t.accept(&Item::I4(vec![30])), Some(EcValue::U(30)));
        assert_eq!(t.accept(&Item::u2(0)), None);
        assert_eq!(t.accept(&Item::u2(121)), None);
        assert_eq!(t.accept(&Item::ascii("30")), None);
        let y = ec_info(ec::YIELD_ALARM_PCT).unwrap();
        assert_eq!(y.accept(&Item::F8(vec![99.5])), Some(EcValue::F(99.5)));
        assert_eq!(y.accept(&Item::f4(f32::NAN)), None);
        assert_eq!(y.item(EcValue::F(98.0)), Item::f4(98.0));
        let s = ec_info(ec::CONFIG_SPOOL).unwrap();
        assert_eq!(s.accept(&Item::boolean(true)), Some(EcValue::Bool(true)));
        assert_eq!(
            HostConfig::default().constant_u(ec::MAX_SPOOL_MESSAGES),
            100_000
        );
    }
}
