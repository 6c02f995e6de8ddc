//! The fleet: tiles pushed live over a channel, a station's last hour, backfill.

use crate::error::{CmdError, CmdResult};
use crate::state::AppState;
use bonder_fleet::charts;
use bonder_fleet::history::{AlarmRow, now_ms};
use bonder_fleet::reports::ChangeoverLine;
use bonder_fleet::{LinkState, ResultEvent, Tile};
use bonder_i18n::tr;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use tauri::State;
use tauri::ipc::Channel;

/// Tiles are pushed at most this often (changes in between are coalesced).
pub const PUSH_EVERY: Duration = Duration::from_millis(100);

/// What the fleet channel carries.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FleetUpdate {
    /// Every tile, worst first, and the gateway link.
    Tiles {
        tiles: Vec<Tile>,
        link: LinkState,
        sent_ms: i64,
    },
    /// A station answered a command.
    Result(ResultEvent),
}

/// Every tile now, worst first (signed-in users).
#[tauri::command]
pub fn fleet_tiles(state: State<'_, AppState>) -> CmdResult<Vec<Tile>> {
    state.user()?;
    Ok(state.sv.tiles())
}

/// Every open process-health warning of the fleet (`{S}/health`) and what they have in
/// common (signed-in users).
#[tauri::command]
pub fn fleet_excursions(state: State<'_, AppState>) -> CmdResult<bonder_fleet::Excursions> {
    state.user()?;
    Ok(state.sv.excursions())
}

/// Pushes the tiles on `on_update` now and whenever they change, and each command
/// answer, until the webview drops the channel (signed-in users; the front end
/// subscribes after signing in).
#[tauri::command]
pub fn fleet_watch(state: State<'_, AppState>, on_update: Channel<FleetUpdate>) -> CmdResult<()> {
    state.user()?;
    let sv = state.sv.clone();
    let mut changes = sv.changes();
    let mut results = sv.results();
    let mut link = sv.link_state();
    tauri::async_runtime::spawn(async move {
        loop {
            let update = FleetUpdate::Tiles {
                tiles: sv.tiles(),
                link: link.borrow_and_update().clone(),
                sent_ms: now_ms(),
            };
            if on_update.send(update).is_err() {
                return;
            }
            tokio::time::sleep(PUSH_EVERY).await;
            loop {
                tokio::select! {
                    r = changes.changed() => if r.is_err() { return } else { break },
                    r = link.changed() => if r.is_err() { return } else { break },
                    r = results.recv() => match r {
                        Ok(ev) => if on_update.send(FleetUpdate::Result(ev)).is_err() { return },
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(_) => return,
                    },
                }
            }
        }
    });
    Ok(())
}

/// A station's last hour.
#[derive(Debug, Clone, Serialize)]
pub struct StationDetail {
    pub tile: Option<Tile>,
    /// Minute buckets: (unix ms, yield %), minutes with wires only.
    pub yield_trend: Vec<(i64, f64)>,
    pub yield_svg: String,
    pub rejects: BTreeMap<String, u64>,
    pub rejects_svg: String,
    pub alarms: Vec<AlarmRow>,
    pub changeovers: Vec<ChangeoverLine>,
    pub wires: u64,
}

/// The last `minutes` (60 by default) of a station: yield trend, rejects by defect type,
/// alarms, and its changeovers of the last 7 days.
#[tauri::command]
pub fn station_detail(
    state: State<'_, AppState>,
    station: String,
    minutes: Option<i64>,
) -> CmdResult<StationDetail> {
    state.user()?;
    let lang = state.lang();
    let now = now_ms();
    let from = now - minutes.unwrap_or(60).clamp(1, 24 * 60) * 60_000;
    let db = state.sv.db();
    let buckets = db.minutes(&station, from, now + 60_000)?;
    let mut per_min: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    let mut rejects: BTreeMap<String, u64> = BTreeMap::new();
    for b in &buckets {
        let e = per_min.entry(b.bucket_ms).or_default();
        if b.kind == 1 {
            e.0 += b.n;
        }
        if b.verdict != "ok" {
            e.1 += b.n;
            *rejects.entry(b.verdict.clone()).or_default() += b.n;
        }
    }
    let yield_trend: Vec<(i64, f64)> = per_min
        .iter()
        .filter(|(_, (w, _))| *w > 0)
        .map(|(t, (w, r))| (*t, ((*w - (*r).min(*w)) as f64 / *w as f64) * 100.0))
        .collect();
    let xs: Vec<String> = yield_trend
        .iter()
        .map(|(t, _)| bonder_fleet::export::fmt_ms(*t))
        .collect();
    let ys: Vec<f64> = yield_trend.iter().map(|(_, y)| *y).collect();
    let lo = ys.iter().copied().fold(95.0_f64, f64::min).floor();
    let yield_svg = charts::trend_svg(
        &tr(lang, "sv-yield-trend"),
        &xs,
        &ys,
        lo,
        100.0,
        Some((98.0, "")),
    );
    let items: Vec<(String, u64)> = rejects
        .iter()
        .map(|(k, v)| (tr(lang, &format!("defect-{k}")), *v))
        .collect();
    let rejects_svg = charts::bars_svg(&tr(lang, "sv-rejects-by-type"), &items);
    let alarms = db.alarms(&station, from, now + 1)?;
    let co =
        bonder_fleet::reports::changeover_report(&db, &station, now - 7 * 86_400_000, now + 1)?;
    let mut changeovers = co.changeovers;
    changeovers.reverse();
    changeovers.truncate(10);
    Ok(StationDetail {
        tile: state.sv.tile(&station),
        yield_trend,
        yield_svg,
        rejects,
        rejects_svg,
        alarms,
        changeovers,
        wires: per_min.values().map(|(w, _)| w).sum(),
    })
}

/// Asks a station to publish its bonds `from_seq..=to_seq` again (engineers, supervisors
/// and admins, as the permission table says).
#[tauri::command]
pub fn backfill(
    state: State<'_, AppState>,
    station: String,
    from_seq: u64,
    to_seq: u64,
) -> CmdResult<String> {
    let me = state.user_may(bonder_fleet::users::Permission::RequestBackfill)?;
    if to_seq < from_seq {
        return Err(CmdError::new("invalid", "to_seq is below from_seq"));
    }
    Ok(state.sv.request_backfill(&station, from_seq, to_seq, &me)?)
}
