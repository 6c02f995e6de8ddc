//! Tauri's build step, with an app manifest: each command gets an `allow-…` permission,
//! and `capabilities/main.json` grants the main window exactly the ones it uses (with an
//! app manifest, a command no capability grants is refused).

/// Every command of the app (keep in step with `generate_handler!` in `src/lib.rs`).
const COMMANDS: &[&str] = &[
    "login",
    "first_start",
    "first_admin",
    "logout",
    "session",
    "user_set",
    "user_list",
    "user_add",
    "user_role",
    "user_password",
    "user_enable",
    "i18n_strings",
    "set_lang",
    "gateway_get",
    "gateway_set",
    "signing_key_get",
    "signing_key_export",
    "fleet_tiles",
    "fleet_watch",
    "fleet_excursions",
    "station_detail",
    "backfill",
    "recipes_list",
    "recipe_diff",
    "recipe_import",
    "recipe_release",
    "recipe_send",
    "workorder_send",
    "commands_list",
    "report_shift",
    "report_changeover",
    "report_export",
    "spc_chart",
];

fn main() {
    let attrs = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attrs) {
        println!("cargo::error=tauri build: {e:#}");
    }
}
