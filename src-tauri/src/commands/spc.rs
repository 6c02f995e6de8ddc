//! SPC charts and capability of a station's measurements.

use crate::error::CmdResult;
use crate::state::AppState;
use bonder_fleet::charts::{self, ImrLabels};
use bonder_fleet::history::now_ms;
use bonder_fleet::spc::{self, Measure, SpcResult};
use bonder_i18n::tr;
use serde::Serialize;
use tauri::State;

/// Capability numbers and the I-MR chart as SVG.
#[derive(Debug, Clone, Serialize)]
pub struct SpcView {
    pub result: SpcResult,
    pub svg: Option<String>,
}

/// I-MR chart and Cp/Cpk/Pp/Ppk of a measure over the last `points` values (default
/// 100) in `[from_ms, to_ms)` (default: the last 7 days), against the spec limits of the
/// station's recipe (or `recipe` = `name@version`).
#[tauri::command]
pub fn spc_chart(
    state: State<'_, AppState>,
    station: String,
    measure: Measure,
    points: Option<usize>,
    from_ms: Option<i64>,
    to_ms: Option<i64>,
    recipe: Option<String>,
) -> CmdResult<SpcView> {
    state.user()?;
    let lang = state.lang();
    state.sv.flush();
    let now = now_ms();
    let recipe_id = recipe.or_else(|| state.sv.tile(&station).and_then(|t| t.recipe));
    let db = state.sv.db();
    let r = spc::recipe_for(&db, recipe_id.as_deref())?;
    let x = spc::series(
        &db,
        &station,
        measure,
        from_ms.unwrap_or(now - 7 * 86_400_000),
        to_ms.unwrap_or(now + 1),
        points.unwrap_or(100).clamp(2, 5000),
    )?;
    let lim = spc::spec_of(&r, measure);
    let result = spc::analyse(&station, measure, &r.id(), &x, lim);
    let svg = spc::chart_of(&result).map(|c| {
        charts::imr_svg(
            &c,
            lim.lsl,
            lim.usl,
            &ImrLabels {
                title: format!("{} · {} · {}", tr(lang, measure.key()), station, r.id()),
                individuals: tr(lang, "sv-spc-individuals"),
                moving_range: tr(lang, "sv-spc-moving-range"),
                lsl: tr(lang, "sv-spc-lsl"),
                usl: tr(lang, "sv-spc-usl"),
            },
        )
    });
    Ok(SpcView { result, svg })
}
