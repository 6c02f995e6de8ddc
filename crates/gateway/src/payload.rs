//! Payloads of `docs/spec/gateway-mqtt.md`, field for field. Every payload carries
//! `"v": 1`; times are RFC 3339 UTC with milliseconds; units are in the key names.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// Payload version this station writes and reads.
pub const V: u32 = 1;

/// The payload version of `{S}/bonds` and `{S}/status` that carry the store epoch.
pub const V2: u32 = 2;

/// RFC 3339 UTC with exactly three decimals: `2026-11-23T08:15:02.125Z`.
pub fn ts(t: OffsetDateTime) -> String {
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_default()
}

/// Parses an RFC 3339 time (any offset).
pub fn parse_ts(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// Rounds to one decimal (0.1 µm, 0.1 gf): what the controller resolves.
pub fn r1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Rounds to two decimals.
pub fn r2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// `{S}/status`, retained; also the last will with `state: "offline"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusMsg {
    pub v: u32,
    pub ts: String,
    /// idle, running, paused, alarm, setup, estop, offline.
    pub state: String,
    /// `name@version` or null.
    pub recipe: Option<String>,
    pub operator: Option<String>,
    pub wires_bonded: u64,
    pub wire_rate_per_min: f64,
    /// Over the shift.
    pub yield_pct: f64,
    pub alarm: Option<u16>,
    /// v 2: the store epoch (16 hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
    /// v 2: the hash of the station's newest audit row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_head: Option<String>,
    /// The production is the built-in simulator's (`--simulate`); absent otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub simulated: bool,
    /// Addition (issue 16): the station's SECS/GEM control state as E30 names it
    /// (`EQUIPMENT-OFFLINE`, `ATTEMPT-ONLINE`, `HOST-OFFLINE`, `ONLINE-LOCAL`,
    /// `ONLINE-REMOTE`); absent when SECS/GEM is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gem_control: Option<String>,
    /// Addition (issue 16): whether a GEM host is communicating; absent when SECS/GEM
    /// is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gem_communicating: Option<bool>,
}

impl StatusMsg {
    /// The last will: the station is gone.
    pub fn offline(now: OffsetDateTime) -> StatusMsg {
        StatusMsg {
            v: V,
            epoch: None,
            audit_head: None,
            simulated: false,
            gem_control: None,
            gem_communicating: None,
            ts: ts(now),
            state: "offline".into(),
            recipe: None,
            operator: None,
            wires_bonded: 0,
            wire_rate_per_min: 0.0,
            yield_pct: 0.0,
            alarm: None,
        }
    }
}

/// One bond in `{S}/bonds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BondMsg {
    /// The station's record number.
    pub seq: u64,
    pub ts: String,
    pub unit: u32,
    pub wire: u16,
    /// "ball" or "stitch".
    pub kind: String,
    /// "ok" or a defect name.
    pub verdict: String,
    pub dx_um: f64,
    pub dy_um: f64,
    /// Null for stitch bonds.
    pub ball_um: Option<f64>,
    pub peak_force_gf: f64,
    pub us_energy_mj: f64,
    pub deform_um: f64,
}

/// `{S}/bonds`: a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BondsMsg {
    pub v: u32,
    pub ts: String,
    /// v 2: the store epoch; readers key bonds by (station, epoch, seq).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
    pub first_seq: u64,
    pub last_seq: u64,
    pub bonds: Vec<BondMsg>,
}

/// One ranked cause of a `{S}/health` message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthCause {
    /// `ultrasonic_output`, `capillary_wear`, `heater`, `material_lot`, `contamination`,
    /// `unknown`.
    pub cause: String,
    pub weight: f64,
}

/// `{S}/health` (added to the contract by issue 18): a drift warning, a forecast, or
/// their clearing, with the ranked causes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthMsg {
    pub v: u32,
    pub ts: String,
    /// `drift`, `capillary`, `yield_forecast`, `cleared`.
    pub kind: String,
    /// The signal (`ball_deform_um`, `predicted_shear_gf` …); null for a forecast.
    pub feature: Option<String>,
    /// `up` or `down`; null when it has none.
    pub direction: Option<String>,
    /// Controller time of the newest bond the decision used, µs.
    pub at_time_us: u64,
    /// Forecasts: wires until the limit.
    pub eta_wires: Option<u64>,
    /// Sorted by weight, the likeliest first.
    pub causes: Vec<HealthCause>,
    pub text_en: String,
    pub text_zh: String,
}

/// `{S}/alarms`: each raise and clear.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmMsg {
    pub v: u32,
    pub ts: String,
    pub code: u16,
    pub name: String,
    pub raised: bool,
    pub text_en: String,
    pub text_zh: String,
}

impl AlarmMsg {
    /// The message for a controller alarm code.
    pub fn new(now: OffsetDateTime, code: u16, raised: bool) -> AlarmMsg {
        let a =
            bonder_core::AlarmCode::from_code(code).unwrap_or(bonder_core::AlarmCode::Other(code));
        AlarmMsg {
            v: V,
            ts: ts(now),
            code,
            name: a.name().into(),
            raised,
            text_en: a.text_en().into(),
            text_zh: a.text_zh().into(),
        }
    }
}

/// A step of a changeover in `{S}/changeovers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeoverStepMsg {
    pub name: String,
    pub started: String,
    pub ended: String,
    pub by: String,
}

/// First-article results of a changeover.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirstArticleMsg {
    pub passed: bool,
    pub pull_gf_min: f64,
    pub shear_gf_min: f64,
}

/// `{S}/changeovers`: when a changeover ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeoverMsg {
    pub v: u32,
    pub id: String,
    pub from_recipe: Option<String>,
    pub to_recipe: String,
    pub started: String,
    pub ended: String,
    pub minutes: f64,
    pub steps: Vec<ChangeoverStepMsg>,
    pub first_article: FirstArticleMsg,
}

/// `{S}/shift`: at shift end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShiftMsg {
    pub v: u32,
    pub shift_id: String,
    pub started: String,
    pub ended: String,
    pub operator: Option<String>,
    pub wires_bonded: u64,
    pub rejects: u64,
    pub yield_pct: f64,
    pub oee_pct: f64,
    pub uph: f64,
    pub alarms_count: u64,
    pub downtime_min: f64,
    pub notes: String,
}

/// `{S}/cmd/workorder`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkOrderCmd {
    pub v: u32,
    pub request_id: String,
    pub work_order: String,
    pub device: String,
    pub recipe: String,
    pub quantity: u64,
}

/// `{S}/cmd/result`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CmdResult {
    pub v: u32,
    pub request_id: Option<String>,
    pub ok: bool,
    pub error: Option<String>,
}

/// Suffix of the backfill request topic, `{S}/cmd/backfill` (an addition to the contract:
/// `docs/ARCHITECTURE.md`, "Backfill").
pub const CMD_BACKFILL: &str = "cmd/backfill";

/// `{S}/cmd/backfill`: a reader asks the station to publish again the bonds it stored with
/// `from_seq <= seq <= to_seq` on `{S}/bonds` (same seq: readers drop duplicates). The
/// station answers on `{S}/cmd/result` once they are handed to the broker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackfillCmd {
    pub v: u32,
    pub request_id: String,
    pub from_seq: u64,
    pub to_seq: u64,
}
