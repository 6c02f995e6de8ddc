//! The recipe library: browse, compare, import, send to stations; work orders.

use crate::error::{CmdError, CmdResult};
use crate::state::AppState;
use bonder_fleet::history::{CommandRow, RecipeRow};
use bonder_fleet::recipes::{self, FieldDiff};
use bonder_fleet::users;
use serde::Serialize;
use tauri::State;

/// Every recipe version in the library.
#[tauri::command]
pub fn recipes_list(state: State<'_, AppState>) -> CmdResult<Vec<RecipeRow>> {
    state.user()?;
    Ok(state.sv.db().recipes()?)
}

fn doc(state: &AppState, name: &str, version: u32) -> CmdResult<String> {
    state
        .sv
        .db()
        .recipe(name, version)?
        .ok_or_else(|| CmdError::new("not_found", format!("recipe {name}@{version}")))
}

/// The fields that differ between two versions (`all`: every field).
#[tauri::command]
pub fn recipe_diff(
    state: State<'_, AppState>,
    a_name: String,
    a_version: u32,
    b_name: String,
    b_version: u32,
    all: Option<bool>,
) -> CmdResult<Vec<FieldDiff>> {
    state.user()?;
    let a = doc(&state, &a_name, a_version)?;
    let b = doc(&state, &b_name, b_version)?;
    Ok(recipes::diff(&a, &b, all.unwrap_or(false))?)
}

/// Imports a recipe document (a file's text); returns `name@version`.
#[tauri::command]
pub fn recipe_import(state: State<'_, AppState>, doc: String) -> CmdResult<String> {
    let me = state.user_may(users::Permission::EditRecipe)?;
    let imported = recipes::import(&mut state.sv.db(), &doc, &format!("file ({})", me.user));
    let (name, version, new) = match imported {
        Ok(x) => x,
        Err(e) => {
            state.audit("refused", "recipe:import", Some(e.to_string()));
            return Err(e.into());
        }
    };
    if new {
        state.audit(
            "import",
            &format!("recipe:{name}@{version}"),
            Some("draft".into()),
        );
    }
    Ok(format!("{name}@{version}"))
}

/// Releases a draft version (engineers: `release_recipe`), the only way a version
/// becomes sendable: the `state` inside an imported document is ignored. Audited.
#[tauri::command]
pub fn recipe_release(state: State<'_, AppState>, name: String, version: u32) -> CmdResult<()> {
    let me = state.user()?;
    if let Err(e) = recipes::release(&mut state.sv.db(), &name, version, &me) {
        state.audit(
            "refused",
            &format!("recipe:{name}@{version}#release"),
            Some(e.to_string()),
        );
        return Err(e.into());
    }
    Ok(())
}

/// A command sent to one station.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    pub station: String,
    pub request_id: Option<String>,
    pub error: Option<String>,
}

/// Sends a released version to stations as `{S}/cmd/recipe` (engineers and above);
/// each station's answer comes on the fleet channel and in [`commands_list`].
#[tauri::command]
pub fn recipe_send(
    state: State<'_, AppState>,
    name: String,
    version: u32,
    stations: Vec<String>,
) -> CmdResult<Vec<Sent>> {
    let me = state.user_may(users::Permission::SendRecipe)?;
    let d = doc(&state, &name, version)?;
    let released = serde_json::from_str::<serde_json::Value>(&d)
        .ok()
        .is_some_and(|v| v["state"] == "released");
    if !released {
        return Err(CmdError::new(
            "not_released",
            format!("{name}@{version} is not released"),
        ));
    }
    if stations.is_empty() {
        return Err(CmdError::new("invalid", "no station chosen"));
    }
    Ok(stations
        .into_iter()
        .map(|s| match state.sv.send_recipe(&s, &d, &me) {
            Ok(id) => Sent {
                station: s,
                request_id: Some(id),
                error: None,
            },
            Err(e) => Sent {
                station: s,
                request_id: None,
                error: Some(e.to_string()),
            },
        })
        .collect())
}

/// Sends a work order (technicians and above).
#[tauri::command]
pub fn workorder_send(
    state: State<'_, AppState>,
    station: String,
    work_order: String,
    device: String,
    recipe: String,
    quantity: u64,
) -> CmdResult<String> {
    let me = state.user_may(users::Permission::SendWorkOrder)?;
    if work_order.trim().is_empty() || recipe.trim().is_empty() || quantity == 0 {
        return Err(CmdError::new(
            "invalid",
            "work order needs a number, a recipe and a quantity",
        ));
    }
    Ok(state
        .sv
        .send_work_order(&station, &work_order, &device, &recipe, quantity, &me)?)
}

/// The newest commands sent, with the stations' answers.
#[tauri::command]
pub fn commands_list(
    state: State<'_, AppState>,
    limit: Option<usize>,
) -> CmdResult<Vec<CommandRow>> {
    state.user()?;
    state.sv.flush();
    Ok(state.sv.db().commands(limit.unwrap_or(50).min(1000))?)
}
