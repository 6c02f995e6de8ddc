//! Shift, line and changeover reports; export to CSV, XLSX and print-ready HTML.

use crate::error::{CmdError, CmdResult};
use crate::state::AppState;
use bonder_fleet::export::{self, Table};
use bonder_fleet::history::now_ms;
use bonder_fleet::reports::{self, ChangeoverReport, ShiftReport};
use bonder_i18n::tr;
use serde::Serialize;
use tauri::State;

/// Default ideal wire rate (the simulator's 10 wires/s).
pub const IDEAL_WIRES_PER_MIN: f64 = 600.0;

/// Shift (or line: `scope` = `site/area/line/`) report over `[from_ms, to_ms)`.
#[tauri::command]
pub fn report_shift(
    state: State<'_, AppState>,
    scope: String,
    from_ms: i64,
    to_ms: i64,
    ideal_wires_per_min: Option<f64>,
) -> CmdResult<ShiftReport> {
    state.user()?;
    state.sv.flush();
    Ok(reports::shift_report(
        &state.sv.db(),
        &scope,
        from_ms,
        to_ms,
        now_ms(),
        ideal_wires_per_min.unwrap_or(IDEAL_WIRES_PER_MIN),
    )?)
}

/// Changeover report over `[from_ms, to_ms)`.
#[tauri::command]
pub fn report_changeover(
    state: State<'_, AppState>,
    scope: String,
    from_ms: i64,
    to_ms: i64,
) -> CmdResult<ChangeoverReport> {
    state.user()?;
    state.sv.flush();
    Ok(reports::changeover_report(
        &state.sv.db(),
        &scope,
        from_ms,
        to_ms,
    )?)
}

/// Where an export went; `html` carries the print-ready page.
#[derive(Debug, Clone, Serialize)]
pub struct Exported {
    pub path: String,
    pub html: Option<String>,
}

/// Exports a report (`kind`: shift | changeover; `format`: csv | xlsx | html) into the
/// exports folder beside the history; HTML also comes back for printing.
#[tauri::command]
pub fn report_export(
    state: State<'_, AppState>,
    kind: String,
    format: String,
    scope: String,
    from_ms: i64,
    to_ms: i64,
    ideal_wires_per_min: Option<f64>,
) -> CmdResult<Exported> {
    state.user()?;
    let lang = state.lang();
    state.sv.flush();
    let table: Table = {
        let db = state.sv.db();
        match kind.as_str() {
            "shift" => export::shift_table(
                &reports::shift_report(
                    &db,
                    &scope,
                    from_ms,
                    to_ms,
                    now_ms(),
                    ideal_wires_per_min.unwrap_or(IDEAL_WIRES_PER_MIN),
                )?,
                lang,
            ),
            "changeover" => export::changeover_table(
                &reports::changeover_report(&db, &scope, from_ms, to_ms)?,
                lang,
            ),
            other => {
                return Err(CmdError::new(
                    "invalid",
                    format!("unknown report {other:?}"),
                ));
            }
        }
    };
    std::fs::create_dir_all(&state.exports_dir)
        .map_err(|e| CmdError::new("export", e.to_string()))?;
    let stem = format!(
        "{kind}-{}",
        export::fmt_ms(from_ms).replace([' ', ':'], "-")
    );
    let (path, html) = match format.as_str() {
        "csv" => {
            let p = state.exports_dir.join(format!("{stem}.csv"));
            std::fs::write(&p, export::csv(&table)?)
                .map_err(|e| CmdError::new("export", e.to_string()))?;
            (p, None)
        }
        "xlsx" => {
            let p = state.exports_dir.join(format!("{stem}.xlsx"));
            std::fs::write(&p, export::xlsx(std::slice::from_ref(&table))?)
                .map_err(|e| CmdError::new("export", e.to_string()))?;
            (p, None)
        }
        "html" => {
            let title = tr(lang, "sv-app-title");
            let h = export::html(&title, std::slice::from_ref(&table), &[], lang);
            let p = state.exports_dir.join(format!("{stem}.html"));
            std::fs::write(&p, &h).map_err(|e| CmdError::new("export", e.to_string()))?;
            (p, Some(h))
        }
        other => {
            return Err(CmdError::new(
                "invalid",
                format!("unknown format {other:?}"),
            ));
        }
    };
    state.audit(
        "export",
        &format!("report:{kind}"),
        Some(format!("{} ({scope})", path.display())),
    );
    Ok(Exported {
        path: path.display().to_string(),
        html,
    })
}
