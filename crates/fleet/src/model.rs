//! The fleet at a glance: one tile per station, worst first.
//!
//! ISA-101: a tile is grey when its station is normal (running, idle, in setup); only
//! an abnormal condition gets a colour, and alarm colours are kept for alarms. The front
//! end maps [`Tile::condition`] to a colour; nothing else decides it.

use bonder_gateway::payload::{AlarmMsg, HealthMsg, StatusMsg};
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
    /// Open process-health warnings by kind (`drift`, `capillary`, `yield_forecast`).
    excursions: BTreeMap<String, HealthMsg>,
    last_seen_ms: i64,
}

/// An open process-health warning of one station (`{S}/health`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpenExcursion {
    pub station: String,
    pub recipe: Option<String>,
    pub kind: String,
    pub feature: Option<String>,
    pub eta_wires: Option<u64>,
    /// (cause, weight), the likeliest first.
    pub causes: Vec<(String, f64)>,
    pub text_en: String,
    pub text_zh: String,
    pub since_ms: i64,
}

/// Stations degrading together with the same likeliest cause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Commonality {
    pub cause: String,
    pub stations: Vec<String>,
    /// The recipe they share, if they all run the same one (then a material lot of that
    /// recipe — wire spool, lead frame — is the suspect for `material_lot` and
    /// `contamination`).
    pub shared_recipe: Option<String>,
    /// The common cause points at a lot shared by the stations.
    pub points_at_lot: bool,
}

/// The fleet's excursions: every open warning, worst first, and their commonality.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Excursions {
    pub open: Vec<OpenExcursion>,
    pub common: Vec<Commonality>,
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

    /// A process-health warning was raised (or changed), or cleared (`kind` `cleared`,
    /// `feature` naming the kind that cleared).
    pub fn apply_health(&mut self, station: &str, h: &HealthMsg, now_ms: i64) {
        let l = self.stations.entry(station.to_string()).or_default();
        if h.kind == "cleared" {
            if let Some(k) = &h.feature {
                l.excursions.remove(k);
            }
        } else {
            l.excursions.insert(h.kind.clone(), h.clone());
        }
        l.last_seen_ms = now_ms;
    }

    /// Every open warning across the fleet and what they have in common: two or more
    /// stations whose likeliest cause is the same.
    pub fn excursions(&self) -> Excursions {
        let mut open: Vec<OpenExcursion> = self
            .stations
            .iter()
            .flat_map(|(id, l)| {
                let recipe = l.status.as_ref().and_then(|s| s.recipe.clone());
                l.excursions.values().map(move |h| OpenExcursion {
                    station: id.clone(),
                    recipe: recipe.clone(),
                    kind: h.kind.clone(),
                    feature: h.feature.clone(),
                    eta_wires: h.eta_wires,
                    causes: h
                        .causes
                        .iter()
                        .map(|c| (c.cause.clone(), c.weight))
                        .collect(),
                    text_en: h.text_en.clone(),
                    text_zh: h.text_zh.clone(),
                    since_ms: crate::history::ts_ms(&h.ts),
                })
            })
            .collect();
        // Drifts first, then the nearest forecasts.
        open.sort_by(|a, b| {
            (a.kind != "drift")
                .cmp(&(b.kind != "drift"))
                .then(a.eta_wires.unwrap_or(0).cmp(&b.eta_wires.unwrap_or(0)))
                .then(a.station.cmp(&b.station))
        });
        let mut by_cause: BTreeMap<String, Vec<&OpenExcursion>> = BTreeMap::new();
        for e in &open {
            if let Some((c, _)) = e.causes.first() {
                by_cause.entry(c.clone()).or_default().push(e);
            }
        }
        let common = by_cause
            .into_iter()
            .filter_map(|(cause, es)| {
                let mut stations: Vec<String> = es.iter().map(|e| e.station.clone()).collect();
                stations.dedup();
                if stations.len() < 2 || cause == "unknown" {
                    return None;
                }
                let first = es[0].recipe.clone();
                let shared_recipe = es
                    .iter()
                    .all(|e| e.recipe == first)
                    .then_some(first)
                    .flatten();
                let points_at_lot = shared_recipe.is_some()
                    && matches!(cause.as_str(), "material_lot" | "contamination");
                Some(Commonality {
                    cause,
                    stations,
                    shared_recipe,
                    points_at_lot,
                })
            })
            .collect();
        Excursions { open, common }
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

#[cfg(test)]
mod excursion_tests {
    use super::*;

    fn health(kind: &str, feature: Option<&str>, cause: &str) -> HealthMsg {
        serde_json::from_value(serde_json::json!({
            "v": 1, "ts": "2026-12-03T09:41:07.512Z", "kind": kind, "feature": feature,
            "direction": "down", "at_time_us": 1, "eta_wires": null,
            "causes": [{"cause": cause, "weight": 0.8}, {"cause": "unknown", "weight": 0.2}],
            "text_en": "e", "text_zh": "z"
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn status(recipe: &str) -> StatusMsg {
        serde_json::from_value(serde_json::json!({
            "v": 1, "ts": "2026-12-03T09:41:07.512Z", "state": "running", "recipe": recipe,
            "operator": null, "wires_bonded": 1, "wire_rate_per_min": 1.0, "uph": 1.0,
            "yield_pct": 99.0, "oee_pct": 80.0, "alarm": null, "capillary_touchdowns": 1,
            "heater_temp_c": 180.0
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn stations_on_one_recipe_naming_the_lot_together_point_at_the_lot() {
        let mut f = Fleet::default();
        for (id, recipe) in [
            ("a/b/l1/wb-1", "SOT23@1"),
            ("a/b/l1/wb-2", "SOT23@1"),
            ("a/b/l2/wb-3", "QFN@2"),
        ] {
            f.apply_status(id, status(recipe), 0);
        }
        f.apply_health(
            "a/b/l1/wb-1",
            &health("drift", Some("stitch_deform_um"), "material_lot"),
            0,
        );
        f.apply_health(
            "a/b/l1/wb-2",
            &health("drift", Some("stitch_impedance_drop_pct"), "material_lot"),
            0,
        );
        f.apply_health(
            "a/b/l2/wb-3",
            &health("yield_forecast", None, "ultrasonic_output"),
            0,
        );
        let e = f.excursions();
        assert_eq!(e.open.len(), 3);
        assert_eq!(e.open[2].kind, "yield_forecast", "drifts first");
        assert_eq!(e.common.len(), 1, "{e:?}");
        let c = &e.common[0];
        assert_eq!(c.cause, "material_lot");
        assert_eq!(c.stations, ["a/b/l1/wb-1", "a/b/l1/wb-2"]);
        assert_eq!(c.shared_recipe.as_deref(), Some("SOT23@1"));
        assert!(c.points_at_lot);
        // A clearing closes that station's warning; the commonality goes with it.
        f.apply_health(
            "a/b/l1/wb-2",
            &health("cleared", Some("drift"), "unknown"),
            0,
        );
        let e = f.excursions();
        assert_eq!(e.open.len(), 2);
        assert!(e.common.is_empty());
    }
}
