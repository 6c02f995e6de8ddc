//! The fleet at a glance: one tile per station, worst first.
//!
//! ISA-101: a tile is grey when its station is normal (running, idle, in setup); only
//! an abnormal condition gets a colour, and alarm colours are kept for alarms. The front
//! end maps [`Tile::condition`] to a colour; nothing else decides it.

use bonder_gateway::payload::{AlarmMsg, StatusMsg};
use serde::Serialize;
use std::collections::BTreeMap;

/// A station is shown as lost when its status (republished every 10 s) is this old.
pub const STALE_AFTER_MS: i64 = 30_000;
/// Shift yield below this is abnormal.
pub const LOW_YIELD_PCT: f64 = 98.0;

/// What is abnormal about a station (normal: `Normal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Emergency stop.
    Estop,
    /// An active alarm.
    Alarm,
    /// No status for [`STALE_AFTER_MS`], or the last will said offline.
    Offline,
    /// Paused by the operator.
    Paused,
    /// Yield below [`LOW_YIELD_PCT`].
    LowYield,
    Normal,
}

/// An active alarm on a tile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActiveAlarm {
    pub code: u16,
    pub name: String,
    pub text_en: String,
    pub text_zh: String,
    pub since_ms: i64,
}

/// One station's tile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tile {
    /// `site/area/line/station`.
    pub id: String,
    /// `site/area/line`.
    pub line: String,
    /// The station level of the id.
    pub name: String,
    /// As reported (`offline` when stale).
    pub state: String,
    pub condition: Condition,
    pub recipe: Option<String>,
    pub operator: Option<String>,
    pub wires_bonded: u64,
    pub wire_rate_per_min: f64,
    pub yield_pct: f64,
    pub alarm: Option<ActiveAlarm>,
    /// The station's SECS/GEM control state (`ONLINE-REMOTE` …); `None` when it has
    /// SECS/GEM off or is stale.
    pub gem_control: Option<String>,
    /// Whether its GEM host is communicating.
    pub gem_communicating: Option<bool>,
    /// Station time of the status shown (unix ms).
    pub status_ts_ms: i64,
    /// When the supervisor last heard from the station (unix ms).
    pub last_seen_ms: i64,
}

#[derive(Debug, Clone, Default)]
struct Live {
    status: Option<StatusMsg>,
    status_ts_ms: i64,
    alarms: BTreeMap<u16, ActiveAlarm>,
    last_seen_ms: i64,
}

/// Live state of every station heard from.
#[derive(Debug, Default)]
pub struct Fleet {
    stations: BTreeMap<String, Live>,
}

impl Fleet {
    /// A status arrived (at `now_ms`).
    pub fn apply_status(&mut self, station: &str, msg: StatusMsg, now_ms: i64) {
        let l = self.stations.entry(station.to_string()).or_default();
        l.status_ts_ms = crate::history::ts_ms(&msg.ts);
        if msg.alarm.is_none() {
            l.alarms.clear();
        }
        l.status = Some(msg);
        l.last_seen_ms = now_ms;
    }

    /// An alarm was raised or cleared.
    pub fn apply_alarm(&mut self, station: &str, a: &AlarmMsg, now_ms: i64) {
        let l = self.stations.entry(station.to_string()).or_default();
        if a.raised {
            l.alarms.insert(
                a.code,
                ActiveAlarm {
                    code: a.code,
                    name: a.name.clone(),
                    text_en: a.text_en.clone(),
                    text_zh: a.text_zh.clone(),
                    since_ms: crate::history::ts_ms(&a.ts),
                },
            );
        } else {
            l.alarms.remove(&a.code);
        }
        l.last_seen_ms = now_ms;
    }

    /// Anything else arrived from a station.
    pub fn seen(&mut self, station: &str, now_ms: i64) {
        self.stations
            .entry(station.to_string())
            .or_default()
            .last_seen_ms = now_ms;
    }

    /// Ids of stations heard from.
    pub fn ids(&self) -> Vec<String> {
        self.stations.keys().cloned().collect()
    }

    /// Stations without a fresh status at `now_ms`.
    pub fn stale(&self, now_ms: i64) -> Vec<String> {
        self.stations
            .iter()
            .filter(|(_, l)| now_ms - l.last_seen_ms > STALE_AFTER_MS)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// One tile.
    pub fn tile(&self, station: &str, now_ms: i64) -> Option<Tile> {
        let l = self.stations.get(station)?;
        let (line, name) = station.rsplit_once('/').unwrap_or(("", station));
        let st = l.status.clone();
        let stale = now_ms - l.last_seen_ms > STALE_AFTER_MS;
        let state = match &st {
            _ if stale => "offline".to_string(),
            Some(s) => s.state.clone(),
            None => "offline".to_string(),
        };
        let alarm = l.alarms.values().next_back().cloned().or_else(|| {
            let code = st.as_ref()?.alarm?;
            let a = bonder_core::AlarmCode::from_code(code)
                .unwrap_or(bonder_core::AlarmCode::Other(code));
            Some(ActiveAlarm {
                code,
                name: a.name().into(),
                text_en: a.text_en().into(),
                text_zh: a.text_zh().into(),
                since_ms: l.status_ts_ms,
            })
        });
        let yield_pct = st.as_ref().map_or(100.0, |s| s.yield_pct);
        let wires = st.as_ref().map_or(0, |s| s.wires_bonded);
        let condition = match state.as_str() {
            "estop" => Condition::Estop,
            "alarm" => Condition::Alarm,
            _ if alarm.is_some() && state != "offline" => Condition::Alarm,
            "offline" => Condition::Offline,
            "paused" => Condition::Paused,
            _ if wires > 0 && yield_pct < LOW_YIELD_PCT => Condition::LowYield,
            _ => Condition::Normal,
        };
        Some(Tile {
            id: station.to_string(),
            line: line.to_string(),
            name: name.to_string(),
            state,
            condition,
            recipe: st.as_ref().and_then(|s| s.recipe.clone()),
            operator: st.as_ref().and_then(|s| s.operator.clone()),
            wires_bonded: wires,
            wire_rate_per_min: st.as_ref().map_or(0.0, |s| s.wire_rate_per_min),
            yield_pct,
            alarm: if stale { None } else { alarm },
            gem_control: st
                .as_ref()
                .filter(|_| !stale)
                .and_then(|s| s.gem_control.clone()),
            gem_communicating: st
                .as_ref()
                .filter(|_| !stale)
                .and_then(|s| s.gem_communicating),
            status_ts_ms: l.status_ts_ms,
            last_seen_ms: l.last_seen_ms,
        })
    }

    /// Every tile, worst first: by condition, then lowest yield, then id.
    pub fn tiles(&self, now_ms: i64) -> Vec<Tile> {
        let mut v: Vec<Tile> = self
            .stations
            .keys()
            .filter_map(|k| self.tile(k, now_ms))
            .collect();
        v.sort_by(|a, b| {
            a.condition
                .cmp(&b.condition)
                .then(a.yield_pct.total_cmp(&b.yield_pct))
                .then(a.id.cmp(&b.id))
        });
        v
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use bonder_gateway::payload::V;

    fn status(state: &str, yield_pct: f64, alarm: Option<u16>) -> StatusMsg {
        StatusMsg {
            v: V,
            ts: "2026-11-23T08:00:00.000Z".into(),
            state: state.into(),
            recipe: Some("R@1".into()),
            operator: None,
            wires_bonded: 100,
            wire_rate_per_min: 600.0,
            yield_pct,
            alarm,
            ..StatusMsg::offline(time::OffsetDateTime::now_utc())
        }
    }

    /// The GEM control state reaches the tile from the status JSON (an addition to
    /// `{S}/status`), and goes when the station is stale or has SECS/GEM off.
    #[test]
    fn the_tile_shows_the_gem_control_state() {
        let json = r#"{"v":2,"ts":"2026-11-23T08:00:00.000Z","state":"running","recipe":"R@1",
            "operator":null,"wires_bonded":5,"wire_rate_per_min":600.0,"yield_pct":99.0,
            "alarm":null,"gem_control":"ONLINE-LOCAL","gem_communicating":true}"#;
        let msg: StatusMsg = serde_json::from_str(json).unwrap();
        let mut f = Fleet::default();
        f.apply_status("a/b/l1/wb-01", msg, 1000);
        f.apply_status("a/b/l1/wb-02", status("running", 99.0, None), 1000);
        let t = f.tiles(2000);
        let tile = |n: &str| t.iter().find(|x| x.name == n).unwrap().clone();
        assert_eq!(tile("wb-01").gem_control.as_deref(), Some("ONLINE-LOCAL"));
        assert_eq!(tile("wb-01").gem_communicating, Some(true));
        assert_eq!(tile("wb-02").gem_control, None, "GEM off: absent");
        let json = serde_json::to_value(tile("wb-01")).unwrap();
        assert_eq!(json["gem_control"], "ONLINE-LOCAL");
        let stale = f.tiles(1000 + STALE_AFTER_MS + 1);
        assert!(stale.iter().all(|x| x.gem_control.is_none()));
    }

    #[test]
    fn worst_first_and_stale_goes_offline() {
        let mut f = Fleet::default();
        f.apply_status("a/b/l1/wb-01", status("running", 99.5, None), 1000);
        f.apply_status("a/b/l1/wb-02", status("running", 97.0, None), 1000);
        f.apply_status("a/b/l1/wb-03", status("alarm", 99.9, Some(104)), 1000);
        f.apply_status("a/b/l1/wb-04", status("idle", 100.0, None), 1000);
        let t = f.tiles(2000);
        let ids: Vec<&str> = t.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(ids, ["wb-03", "wb-02", "wb-01", "wb-04"]);
        assert_eq!(t[0].condition, Condition::Alarm);
        assert_eq!(t[0].alarm.as_ref().unwrap().code, 104);
        assert_eq!(t[1].condition, Condition::LowYield);
        assert_eq!(t[2].condition, Condition::Normal);
        f.apply_status("a/b/l1/wb-01", status("running", 99.5, None), 40_000);
        let t = f.tiles(40_000);
        assert_eq!(t[0].name, "wb-02");
        assert_eq!(t[0].condition, Condition::Offline);
    }
}
