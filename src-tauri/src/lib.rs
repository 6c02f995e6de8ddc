//! The supervisor app: a thin Tauri shell over `bonder-fleet`. Commands live in
//! [`commands`] (one module per domain) and only adapt the core's functions; the front
//! end (`ui/supervisor/`, plain HTML/CSS/JS, no build step) is embedded by `cargo build`.

pub mod commands;
pub mod error;
pub mod state;

pub use error::CmdError;
pub use state::AppState;

use std::path::PathBuf;
use tauri::Runtime;

/// Registers the state and every command on a builder (the app and the tests).
pub fn setup<R: Runtime>(builder: tauri::Builder<R>, state: AppState) -> tauri::Builder<R> {
    // Tiles of stations that went quiet turn offline without a message.
    let sv = state.sv.clone();
    tauri::async_runtime::spawn(async move {
        let mut t = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            t.tick().await;
            sv.tick();
        }
    });
    if let Some(g) = state.initial_gateway.clone() {
        if let Err(e) = state.connect(g) {
            tracing::warn!("gateway: {e} (fix it in the settings)");
        }
    }
    builder
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            commands::auth::login,
            commands::auth::first_start,
            commands::auth::first_admin,
            commands::auth::logout,
            commands::auth::session,
            commands::auth::user_set,
            commands::auth::user_list,
            commands::auth::user_add,
            commands::auth::user_role,
            commands::auth::user_password,
            commands::auth::user_enable,
            commands::settings::i18n_strings,
            commands::settings::set_lang,
            commands::settings::gateway_get,
            commands::settings::gateway_set,
            commands::settings::signing_key_get,
            commands::settings::signing_key_export,
            commands::fleet::fleet_tiles,
            commands::fleet::fleet_excursions,
            commands::fleet::fleet_watch,
            commands::fleet::station_detail,
            commands::fleet::backfill,
            commands::recipes::recipes_list,
            commands::recipes::recipe_diff,
            commands::recipes::recipe_import,
            commands::recipes::recipe_release,
            commands::recipes::recipe_send,
            commands::recipes::workorder_send,
            commands::recipes::commands_list,
            commands::reports::report_shift,
            commands::reports::report_changeover,
            commands::reports::report_export,
            commands::spc::spc_chart,
        ])
}

/// Command line: `--db FILE`, `--gateway URL`, `--client-id ID`, `--lang en-US|zh-CN`;
/// each may also come from the environment (`BONDER_SUPERVISOR_DB`, `…_GATEWAY`,
/// `…_CLIENT_ID`, `…_LANG`), which is how the WebDriver tests start the app.
#[derive(Debug, Default)]
struct Args {
    db: Option<PathBuf>,
    gateway: Option<String>,
    client_id: Option<String>,
    lang: Option<String>,
}

fn args() -> anyhow::Result<Args> {
    let env = |k: &str| std::env::var(format!("BONDER_SUPERVISOR_{k}")).ok();
    let mut a = Args {
        db: env("DB").map(PathBuf::from),
        gateway: env("GATEWAY"),
        client_id: env("CLIENT_ID"),
        lang: env("LANG"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || {
            it.next()
                .ok_or_else(|| anyhow::anyhow!("{k} needs a value"))
        };
        match k.as_str() {
            "--db" => a.db = Some(v()?.into()),
            "--gateway" => a.gateway = Some(v()?),
            "--client-id" => a.client_id = Some(v()?),
            "--lang" => a.lang = Some(v()?),
            other => anyhow::bail!(
                "unknown argument {other:?} (flags: --db FILE, --gateway URL, --client-id ID, --lang en-US|zh-CN)"
            ),
        }
    }
    Ok(a)
}

/// Runs the app.
pub fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BONDER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let a = args()?;
    let db = match a.db {
        Some(p) => p,
        None => {
            let dirs = directories::ProjectDirs::from("", "", "bonder-supervisor")
                .ok_or_else(|| anyhow::anyhow!("no home directory for the data"))?;
            bonder_credentials::private_files::private_dir(dirs.data_dir())?;
            dirs.data_dir().join("supervisor.sqlite")
        }
    };
    let state = AppState::open(&db, a.gateway, a.client_id, a.lang.as_deref())?;
    tracing::info!(db = %db.display(), "supervisor starting");
    setup(tauri::Builder::default(), state)
        .run(tauri::generate_context!())
        .map_err(|e| anyhow::anyhow!("tauri: {e}"))
}
